"""Pure policy documents of the central state backend: plain values in, plain dicts out, no Pulumi."""

from __future__ import annotations

from iam.policies import ASSUME_ACTIONS, VERSION, PolicyDocument, any_account_role_arn, assumer_statement

# What Terraform's S3 backend needs on state objects, its .tflock files (use_lockfile) included.
STATE_OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
# What its DynamoDB locking needs on lock items.
LOCK_ITEM_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
KEY_USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
KEY_ADMIN_ACTIONS = [
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
]
# Item data actions that only state-mgmt may use on the lock table.
GUARDED_ITEM_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:PutItem",
    "dynamodb:DeleteItem",
    "dynamodb:UpdateItem",
    "dynamodb:BatchGetItem",
    "dynamodb:BatchWriteItem",
]
# Object data actions that only state-mgmt may use, whatever an identity policy in the shared account says.
GUARDED_OBJECT_ACTIONS = ["s3:GetObject*", "s3:PutObject*", "s3:DeleteObject*", "s3:RestoreObject"]


def bucket_arn(bucket: str, partition: str = "aws") -> str:
    return f"arn:{partition}:s3:::{bucket}"


def table_arn(region: str, account_id: str, table: str, partition: str = "aws") -> str:
    return f"arn:{partition}:dynamodb:{region}:{account_id}:table/{table}"


def state_bucket_policy(
    *, bucket: str, state_mgmt_arn: str, sse_algorithm: str, partition: str = "aws"
) -> PolicyDocument:
    """Bucket policy: TLS only, only state-mgmt touches state objects, no upload with another encryption."""
    bucket_resource = bucket_arn(bucket, partition)
    objects = f"{bucket_resource}/*"
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_resource, objects],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
            {
                # An admin of the shared account (its doer, an SSO admin) would otherwise read and rewrite every
                # account's state directly; the chain through state-mgmt is the only door.
                "Sid": "DenyStateObjectsExceptStateMgmt",
                "Effect": "Deny",
                "Principal": "*",
                "Action": GUARDED_OBJECT_ACTIONS,
                "Resource": objects,
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": state_mgmt_arn}},
            },
            {
                # Default encryption covers uploads without the header; this stops one that asks for another key type.
                "Sid": "DenyWrongEncryptionHeader",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": objects,
                "Condition": {
                    "Null": {"s3:x-amz-server-side-encryption": "false"},
                    "StringNotEquals": {"s3:x-amz-server-side-encryption": sse_algorithm},
                },
            },
        ],
    }


def lock_table_policy(*, table_arn: str, state_mgmt_arn: str) -> PolicyDocument:
    """Resource policy of the lock table: only state-mgmt reads or writes lock items, as for state objects."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "DenyLockItemsExceptStateMgmt",
                "Effect": "Deny",
                "Principal": "*",
                "Action": GUARDED_ITEM_ACTIONS,
                "Resource": table_arn,
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": state_mgmt_arn}},
            }
        ],
    }


def state_mgmt_trust_policy(
    *,
    assumer_arn: str,
    trust_doers: bool,
    doer_path: str,
    doer_name: str,
    organization_id: str,
    partition: str = "aws",
) -> PolicyDocument:
    """Trust of state-mgmt: the assumer, and (Terragrunt's iam_role chain) the doer role of any organization account."""
    statements = [assumer_statement(assumer_arn)]
    if trust_doers:
        # Matching by role name within the organization keeps this document the same size at 1 or 1,000 accounts.
        statements.append(
            {
                "Sid": "DoersInOrganization",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ASSUME_ACTIONS,
                "Condition": {
                    "StringEquals": {"aws:PrincipalOrgID": organization_id},
                    "ArnLike": {"aws:PrincipalArn": any_account_role_arn(doer_path, doer_name, partition)},
                },
            }
        )
    return {"Version": VERSION, "Statement": statements}


def state_mgmt_permissions_policy(
    *, bucket: str, table_arn: str, kms_key_arn: str | None = None, partition: str = "aws"
) -> PolicyDocument:
    """What state-mgmt may do: list the bucket, read/write/delete state objects and lock items. Nothing else."""
    bucket_resource = bucket_arn(bucket, partition)
    statements = [
        {"Sid": "ListStateBucket", "Effect": "Allow", "Action": "s3:ListBucket", "Resource": bucket_resource},
        {"Sid": "StateObjects", "Effect": "Allow", "Action": STATE_OBJECT_ACTIONS, "Resource": f"{bucket_resource}/*"},
        {"Sid": "LockItems", "Effect": "Allow", "Action": LOCK_ITEM_ACTIONS, "Resource": table_arn},
    ]
    if kms_key_arn:
        statements.append({"Sid": "StateKey", "Effect": "Allow", "Action": KEY_USE_ACTIONS, "Resource": kms_key_arn})
    return {"Version": VERSION, "Statement": statements}


def state_key_policy(*, admin_arns: list[str], state_mgmt_arn: str, account_id: str, region: str) -> PolicyDocument:
    """Key policy of the state key: only the key admins manage it, only state-mgmt uses it for data.

    No statement delegates to the account root, so an administrator of the shared account gets no use of the key
    through IAM alone. The roles Pulumi runs as are admins, which the lockout safety check requires.
    """
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "KeyAdministration",
                "Effect": "Allow",
                "Principal": {"AWS": admin_arns},
                "Action": KEY_ADMIN_ACTIONS,
                "Resource": "*",
            },
            {
                "Sid": "StateMgmtUse",
                "Effect": "Allow",
                "Principal": {"AWS": state_mgmt_arn},
                "Action": KEY_USE_ACTIONS,
                "Resource": "*",
            },
            {
                # DynamoDB encrypts the table with the key on behalf of whoever creates or updates it.
                "Sid": "DynamoDbOnBehalfOfAdmins",
                "Effect": "Allow",
                "Principal": {"AWS": admin_arns},
                "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:CreateGrant"],
                "Resource": "*",
                "Condition": {
                    "StringEquals": {
                        "kms:ViaService": f"dynamodb.{region}.amazonaws.com",
                        "kms:CallerAccount": account_id,
                    }
                },
            },
        ],
    }
