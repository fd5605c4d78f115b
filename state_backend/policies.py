"""Pure policy documents of the central state backend: plain values in, plain dicts out, no Pulumi."""

from __future__ import annotations

from typing import Any

from iam.policies import (
    ASSUME_ACTIONS,
    SOURCE_IDENTITY_KEY,
    VERSION,
    PolicyDocument,
    any_account_role_arn,
    assumer_statement,
)

# What Terraform's S3 backend needs on state objects, its .tflock files (use_lockfile) included.
STATE_OBJECT_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
# What its DynamoDB locking needs on lock items.
LOCK_ITEM_ACTIONS = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
KEY_USE_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
# The state reader's whole power (the plan path): read state and lock digests, list keys, decrypt through the stores.
# Terraform's plan takes no lock on this path (-lock=false), so it never writes a lock either (docs/plan-path.md).
STATE_READ_ACTIONS = ["s3:GetObject"]
LOCK_READ_ACTIONS = ["dynamodb:GetItem"]
KEY_READ_ACTIONS = ["kms:Decrypt", "kms:DescribeKey"]
STATE_READER_ACTIONS = frozenset(["s3:ListBucket", *STATE_READ_ACTIONS, *LOCK_READ_ACTIONS, *KEY_READ_ACTIONS])
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
# The session tag that scopes a state-mgmt session to one account's state. A doer may only pass its own account id
# (the trust policy compares it with aws:PrincipalAccount); the assumer, part of the trust root, may pass any.
STATE_ACCOUNT_TAG = "StateAccount"
STATE_ACCOUNT = "${aws:PrincipalTag/" + STATE_ACCOUNT_TAG + "}"
# Every item action of the lock table: data (incl. PartiQL, Query, Scan, batch, condition checks) and the two ways to
# copy the items out (export, point-in-time restore). Only state-mgmt may use them.
GUARDED_ITEM_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:PartiQLSelect",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
    "dynamodb:ExportTableToPointInTime",
    "dynamodb:RestoreTableToPointInTime",
]
# Everything that changes how the lock table is kept: only the roles Pulumi runs as may.
GUARDED_TABLE_CONFIG_ACTIONS = [
    "dynamodb:DeleteTable",
    "dynamodb:UpdateTable",
    "dynamodb:PutResourcePolicy",
    "dynamodb:DeleteResourcePolicy",
    "dynamodb:UpdateContinuousBackups",
    "dynamodb:UpdateTimeToLive",
    "dynamodb:CreateTableReplica",
    "dynamodb:DeleteTableReplica",
    "dynamodb:EnableKinesisStreamingDestination",
    "dynamodb:DisableKinesisStreamingDestination",
    "dynamodb:UpdateKinesisStreamingDestination",
    "dynamodb:TagResource",
    "dynamodb:UntagResource",
    # Copies of the items outside the table's policy: on-demand and AWS Backup backups, global tables.
    "dynamodb:CreateBackup",
    "dynamodb:StartAwsBackupJob",
    "dynamodb:UpdateContributorInsights",
    "dynamodb:CreateGlobalTable",
    "dynamodb:UpdateGlobalTable",
    "dynamodb:UpdateGlobalTableSettings",
]
# Every object action (s3:* on the object ARNs): reading, writing, deleting versions, restoring, replicating into the
# bucket, multipart uploads, retention bypass. Only state-mgmt may use them.
GUARDED_OBJECT_ACTIONS = ["s3:*"]
# Listing keys tells which accounts and stacks exist: only state-mgmt lists, and only its own prefix.
GUARDED_LISTING_ACTIONS = ["s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"]
# Every bucket setting a guard or the data depends on: policy, versioning, lifecycle, replication, encryption, public
# access block, ownership, logging, inventory and notification targets (both leak keys). Only Pulumi's roles may.
GUARDED_BUCKET_CONFIG_ACTIONS = [
    "s3:PutBucket*",
    "s3:DeleteBucket*",
    "s3:PutLifecycleConfiguration",
    "s3:PutReplicationConfiguration",
    "s3:PutEncryptionConfiguration",
    "s3:PutInventoryConfiguration",
    "s3:PutAnalyticsConfiguration",
    "s3:PutMetricsConfiguration",
    "s3:PutIntelligentTieringConfiguration",
    "s3:PutAccelerateConfiguration",
    # S3 Metadata tables journal every key into a table the caller chooses.
    "s3:CreateBucketMetadataTableConfiguration",
    "s3:DeleteBucketMetadataTableConfiguration",
]


def bucket_arn(bucket: str, partition: str = "aws") -> str:
    return f"arn:{partition}:s3:::{bucket}"


def table_arn(region: str, account_id: str, table: str, partition: str = "aws") -> str:
    return f"arn:{partition}:dynamodb:{region}:{account_id}:table/{table}"


def state_bucket_policy(
    *,
    bucket: str,
    state_mgmt_arn: str,
    deployer_arns: list[str],
    sse_algorithm: str,
    state_reader_arn: str | None = None,
    partition: str = "aws",
) -> PolicyDocument:
    """Bucket policy: TLS only; only state-mgmt touches or lists state; only Pulumi's roles change the bucket.

    deployer_arns: the roles Pulumi runs as in the shared account (the bootstrap role and the shared doer).
    state_reader_arn (the plan path): passes the object and listing guards too, and is then denied everything but
    reading objects and listing keys, so state-mgmt stays the only writer whatever the reader's own policy says.
    """
    bucket_resource = bucket_arn(bucket, partition)
    objects = f"{bucket_resource}/*"
    state_roles: str | list[str] = [state_mgmt_arn, state_reader_arn] if state_reader_arn else state_mgmt_arn
    only_state_mgmt = {"ArnNotEquals": {"aws:PrincipalArn": state_roles}}
    reader_reads_only: list[dict[str, Any]] = []
    if state_reader_arn:
        reader_reads_only.append(
            {
                "Sid": "StateReaderReadsOnly",
                "Effect": "Deny",
                "Principal": "*",
                # NotAction: any object or bucket action S3 adds later is denied to the reader too.
                "NotAction": [*STATE_READ_ACTIONS, "s3:ListBucket"],
                "Resource": [bucket_resource, objects],
                "Condition": {"ArnEquals": {"aws:PrincipalArn": state_reader_arn}},
            }
        )
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
                # account's state directly; the chain through state-mgmt, scoped to one account, is the only door.
                "Sid": "DenyStateObjectsExceptStateMgmt",
                "Effect": "Deny",
                "Principal": "*",
                "Action": GUARDED_OBJECT_ACTIONS,
                "Resource": objects,
                "Condition": only_state_mgmt,
            },
            *reader_reads_only,
            {
                "Sid": "DenyListingExceptStateMgmt",
                "Effect": "Deny",
                "Principal": "*",
                "Action": GUARDED_LISTING_ACTIONS,
                "Resource": bucket_resource,
                "Condition": only_state_mgmt,
            },
            {
                # Without this, one PutBucketPolicy, PutBucketVersioning or PutLifecycleConfiguration call of a
                # principal with S3 power but no IAM power would lift every other guard or expire the current state.
                "Sid": "DenyBucketConfigExceptDeployers",
                "Effect": "Deny",
                "Principal": "*",
                "Action": GUARDED_BUCKET_CONFIG_ACTIONS,
                "Resource": bucket_resource,
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": sorted(deployer_arns)}},
            },
            {
                # A customer-provided key (SSE-C) would hold the state to ransom: only the holder of the key reads it.
                "Sid": "DenyCustomerProvidedKeys",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": objects,
                "Condition": {"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}},
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


def lock_table_policy(
    *, table_arn: str, state_mgmt_arn: str, deployer_arns: list[str], state_reader_arn: str | None = None
) -> PolicyDocument:
    """Resource policy of the lock table: only state-mgmt touches items, only Pulumi's roles change the table.

    state_reader_arn (the plan path): may read single items (the state digests Terraform checks), nothing else.
    """
    state_roles: str | list[str] = [state_mgmt_arn, state_reader_arn] if state_reader_arn else state_mgmt_arn
    reader_reads_only: list[dict[str, Any]] = []
    if state_reader_arn:
        reader_reads_only.append(
            {
                "Sid": "StateReaderReadsOnly",
                "Effect": "Deny",
                "Principal": "*",
                # Listed rather than NotAction: the item actions are what the guard above names, minus GetItem.
                "Action": [a for a in GUARDED_ITEM_ACTIONS if a not in LOCK_READ_ACTIONS],
                "Resource": table_arn,
                "Condition": {"ArnEquals": {"aws:PrincipalArn": state_reader_arn}},
            }
        )
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "DenyLockItemsExceptStateMgmt",
                "Effect": "Deny",
                "Principal": "*",
                "Action": GUARDED_ITEM_ACTIONS,
                "Resource": table_arn,
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": state_roles}},
            },
            *reader_reads_only,
            {
                "Sid": "DenyTableConfigExceptDeployers",
                "Effect": "Deny",
                "Principal": "*",
                "Action": GUARDED_TABLE_CONFIG_ACTIONS,
                "Resource": table_arn,
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": sorted(deployer_arns)}},
            },
        ],
    }


def state_mgmt_trust_policy(
    *,
    assumer_arn: str,
    trust_doers: bool,
    isolate_accounts: bool,
    doer_path: str,
    doer_name: str,
    organization_id: str,
    require_source_identity: bool = False,
    partition: str = "aws",
) -> PolicyDocument:
    """Trust of state-mgmt: the assumer, and (Terragrunt's iam_role chain) the doer role of organization accounts.

    With isolate_accounts, a doer must tag its session StateAccount = its own account id, and nothing else: the tag
    is what state-mgmt's permissions are scoped by, so a doer (hence its account's admin) reaches its own state only.
    With require_source_identity, every session must set or carry a source identity (who started it).
    """
    statements = [assumer_statement(assumer_arn, require_source_identity)]
    if isolate_accounts:
        # The assumer may work on any account's state, but only through the one tag key the permissions read.
        statements[0]["Condition"]["ForAllValues:StringEquals"] = {"aws:TagKeys": [STATE_ACCOUNT_TAG]}
    if trust_doers:
        # Matching by role name within the organization keeps this document the same size at 1 or 1,000 accounts.
        condition: dict[str, Any] = {
            "StringEquals": {"aws:PrincipalOrgID": organization_id},
            "ArnLike": {"aws:PrincipalArn": any_account_role_arn(doer_path, doer_name, partition)},
        }
        if isolate_accounts:
            own_account = "${aws:PrincipalAccount}"
            condition["StringEquals"][f"aws:RequestTag/{STATE_ACCOUNT_TAG}"] = own_account
            condition["ForAllValues:StringEquals"] = {"aws:TagKeys": [STATE_ACCOUNT_TAG]}
            # A tag already on the caller (a transitive session tag, or a tag on the doer role itself) must say the
            # same account: otherwise it would be carried into the state-mgmt session in place of the request's.
            condition["StringEqualsIfExists"] = {f"aws:PrincipalTag/{STATE_ACCOUNT_TAG}": own_account}
        if require_source_identity:
            condition["Null"] = {SOURCE_IDENTITY_KEY: "false"}
        statements.append(
            {
                "Sid": "DoersInOrganization",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": ASSUME_ACTIONS,
                "Condition": condition,
            }
        )
    return {"Version": VERSION, "Statement": statements}


def state_mgmt_permissions_policy(
    *,
    bucket: str,
    bucket_account: str,
    table_arn: str,
    region: str,
    isolate_accounts: bool,
    readable_account_ids: list[str],
    kms_key_arn: str | None = None,
    partition: str = "aws",
) -> PolicyDocument:
    """What state-mgmt may do: list, read, write and delete state objects and lock items. Nothing else.

    With isolate_accounts, only those of the account its session is tagged with, plus read-only access to the
    accounts whose state the config makes readable (their outputs, for dependency blocks and terraform_remote_state).
    """
    bucket_resource = bucket_arn(bucket, partition)
    prefix = f"{STATE_ACCOUNT}/" if isolate_accounts else ""
    # Bucket names are global: were the bucket ever deleted, a bucket of that name elsewhere must get no state.
    owner = {"StringEquals": {"aws:ResourceAccount": bucket_account}}
    listing: dict[str, Any] = {"Sid": "ListStatePrefix", "Effect": "Allow", "Action": "s3:ListBucket"}
    listing["Resource"] = bucket_resource
    listing["Condition"] = {**owner, "StringLike": {"s3:prefix": [f"{prefix}*"]}} if isolate_accounts else owner
    lock_items: dict[str, Any] = {"Sid": "LockItems", "Effect": "Allow", "Action": LOCK_ITEM_ACTIONS}
    lock_items["Resource"] = table_arn
    if isolate_accounts:
        # Terraform's lock ids are "<bucket>/<state key>" (and "<bucket>/<state key>-md5"). ForAllValues holds when
        # the key is absent, so the Null condition keeps the statement to requests that name their items.
        lock_items["Condition"] = {
            "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"{bucket}/{prefix}*"]},
            "Null": {"dynamodb:LeadingKeys": "false"},
        }
    statements: list[dict[str, Any]] = [
        listing,
        {
            "Sid": "StateObjects",
            "Effect": "Allow",
            "Action": STATE_OBJECT_ACTIONS,
            "Resource": f"{bucket_resource}/{prefix}*",
            "Condition": owner,
        },
        lock_items,
    ]
    if isolate_accounts and readable_account_ids:
        readable = sorted(set(readable_account_ids))
        statements += [
            {
                "Sid": "ListReadableState",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": bucket_resource,
                "Condition": {**owner, "StringLike": {"s3:prefix": [f"{account}/*" for account in readable]}},
            },
            {
                "Sid": "ReadReadableState",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": [f"{bucket_resource}/{account}/*" for account in readable],
                "Condition": owner,
            },
        ]
    if kms_key_arn:
        statements.append(
            {
                "Sid": "StateKey",
                "Effect": "Allow",
                "Action": KEY_USE_ACTIONS,
                "Resource": kms_key_arn,
                # Only through the two stores: the key never decrypts a ciphertext handed to KMS directly.
                "Condition": {"StringEquals": {"kms:ViaService": via_services(region)}},
            }
        )
    return {"Version": VERSION, "Statement": statements}


def via_services(region: str) -> list[str]:
    return [f"s3.{region}.amazonaws.com", f"dynamodb.{region}.amazonaws.com"]


# What the configured key admins may do: look after the key, never disable, delete, re-grant or re-policy it (one such
# call would make every account's state unreadable).
KEY_AUDIT_ACTIONS = ["kms:Describe*", "kms:Get*", "kms:List*", "kms:EnableKeyRotation", "kms:TagResource"]


def state_key_policy(
    *,
    admin_arns: list[str],
    auditor_arns: list[str],
    state_mgmt_arn: str,
    account_id: str,
    region: str,
    state_reader_arn: str | None = None,
) -> PolicyDocument:
    """Key policy of the state key: only the deployers manage it, only state-mgmt uses it for data.

    No statement delegates to the account root, so an administrator of the shared account gets no use of the key
    through IAM alone. The roles Pulumi runs as are the admins, which the lockout safety check requires; configured
    key admins (auditor_arns) get the non-destructive actions only. The state reader (plan path) may decrypt through
    the two stores, never encrypt.
    """
    extra: list[dict[str, Any]] = []
    if auditor_arns:
        extra.append(
            {
                "Sid": "KeyAudit",
                "Effect": "Allow",
                "Principal": {"AWS": auditor_arns},
                "Action": KEY_AUDIT_ACTIONS,
                "Resource": "*",
            }
        )
    if state_reader_arn:
        extra.append(
            {
                "Sid": "StateReaderDecrypt",
                "Effect": "Allow",
                "Principal": {"AWS": state_reader_arn},
                "Action": KEY_READ_ACTIONS,
                "Resource": "*",
                "Condition": {"StringEquals": {"kms:ViaService": via_services(region)}},
            }
        )
    return {
        "Version": VERSION,
        "Statement": [
            *extra,
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
                "Condition": {"StringEquals": {"kms:ViaService": via_services(region)}},
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


def state_reader_trust_policy(
    *,
    plan_assumer_arn: str,
    trust_plan_doers: bool,
    isolate_accounts: bool,
    plan_doer_path: str,
    plan_doer_name: str,
    organization_id: str,
    partition: str = "aws",
    require_source_identity: bool = False,
) -> PolicyDocument:
    """Trust of the state reader: state-mgmt's trust with the plan assumer and the plan doers in their places.

    Built from state-mgmt's so the two never drift apart: with isolate_accounts a plan doer must tag its session
    StateAccount = its own account id, and the plan assumer may tag any account, with that one tag key only.
    """
    document = state_mgmt_trust_policy(
        assumer_arn=plan_assumer_arn,
        trust_doers=trust_plan_doers,
        isolate_accounts=isolate_accounts,
        doer_path=plan_doer_path,
        doer_name=plan_doer_name,
        organization_id=organization_id,
        partition=partition,
        require_source_identity=require_source_identity,
    )
    sids = {"Assumer": "PlanAssumer", "DoersInOrganization": "PlanDoersInOrganization"}
    for statement in document["Statement"]:
        statement["Sid"] = sids[statement["Sid"]]  # a statement state-mgmt's trust gains must be named here first
    return document


def state_reader_permissions_policy(
    *,
    bucket: str,
    bucket_account: str,
    table_arn: str,
    region: str,
    isolate_accounts: bool,
    readable_account_ids: list[str],
    kms_key_arn: str | None = None,
    partition: str = "aws",
) -> PolicyDocument:
    """What the state reader may do: state-mgmt's statements, scoped the same way, narrowed to reads.

    Derived from state-mgmt's so the account scoping (StateAccount prefix, LockID prefix, readable_state) is the same
    by construction. Raises ValueError when state-mgmt's policy grants anything this does not know how to narrow.
    """
    document = state_mgmt_permissions_policy(
        bucket=bucket,
        bucket_account=bucket_account,
        table_arn=table_arn,
        region=region,
        isolate_accounts=isolate_accounts,
        readable_account_ids=readable_account_ids,
        kms_key_arn=kms_key_arn,
        partition=partition,
    )
    narrowed = {
        "StateObjects": ("ReadStateObjects", STATE_READ_ACTIONS),
        "LockItems": ("ReadLockItems", LOCK_READ_ACTIONS),
        "StateKey": ("StateKeyDecrypt", KEY_READ_ACTIONS),
    }
    for statement in document["Statement"]:
        if statement["Sid"] in narrowed:
            sid, actions = narrowed[statement["Sid"]]
            statement["Sid"], statement["Action"] = sid, list(actions)
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        if statement["Effect"] != "Allow" or not set(actions) <= STATE_READER_ACTIONS:
            raise ValueError(
                f"state-mgmt statement {statement['Sid']} has no read-only counterpart for the state reader"
            )
    return document
