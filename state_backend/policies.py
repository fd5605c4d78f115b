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


def bucket_arn(bucket: str, partition: str = "aws") -> str:
    return f"arn:{partition}:s3:::{bucket}"


def table_arn(region: str, account_id: str, table: str, partition: str = "aws") -> str:
    return f"arn:{partition}:dynamodb:{region}:{account_id}:table/{table}"


# ---- The state bucket's policy ---------------------------------------------------------------------------------
# What Terraform's S3 backend asks of the bucket itself: ListObjectsV2 (s3:ListBucket) with the workspace prefix
# (hashicorp/terraform internal/backend/remote-state/s3/backend_state.go Workspaces); every other request it makes
# (GetObject, HeadObject, PutObject and its multipart upload, DeleteObject: client.go) is on objects.
STATE_BUCKET_ACTIONS = ["s3:ListBucket"]
# What the shared plan doer (plan mode) may read of the bucket: its settings (the reads of terraform-provider-aws
# internal/service/s3/bucket.go resourceBucketRead and the bucket_* resources). s3:Get* on the bucket ARN reads
# settings only (object reads are on the objects' ARNs). Not s3:ListBucket: HeadBucket needs it, but it lists every
# account's state keys, and a pull request's token reaches the plan doer (plan/check_deployer.py withholds it).
BUCKET_SETTINGS_READ_ACTIONS = ["s3:Get*"]


def state_bucket_policy(
    *,
    bucket: str,
    state_mgmt_arn: str,
    deployer_arns: list[str],
    sse_algorithm: str,
    state_reader_arn: str | None = None,
    plan_doer_arn: str | None = None,
    partition: str = "aws",
) -> PolicyDocument:
    """Bucket policy, as an allow-list of principals: TLS only; every S3 action on the bucket and its objects denied
    to everyone but the named roles, each then narrowed to what it is for.

    deployer_arns: the roles Pulumi runs as in the shared account (the bootstrap role and the shared doer). They may
    do everything to the bucket itself, which is how Pulumi creates, reads (HeadBucket needs s3:ListBucket), updates
    and deletes it and its settings, and nothing to its objects. state-mgmt alone reads and writes objects, and on the
    bucket only lists keys. state_reader_arn (the plan path): reads objects and lists keys, nothing else.
    plan_doer_arn (plan mode's identity in the shared account): reads the bucket's settings, never an object.
    """
    bucket_resource = bucket_arn(bucket, partition)
    objects = f"{bucket_resource}/*"
    state_roles = sorted({state_mgmt_arn, *([state_reader_arn] if state_reader_arn else [])})
    named = sorted({*state_roles, *deployer_arns, *([plan_doer_arn] if plan_doer_arn else [])})

    def only(sid: str, allowed: list[str], resource: str | list[str], who: str | list[str]) -> dict[str, Any]:
        # NotAction: any S3 action added later is denied to the role too (S3 bucket policies take NotAction).
        return {
            "Sid": sid,
            "Effect": "Deny",
            "Principal": "*",
            "NotAction": allowed,
            "Resource": resource,
            "Condition": {"ArnEquals": {"aws:PrincipalArn": who}},
        }

    narrowed = [only("StateMgmtListsOnlyOnTheBucket", STATE_BUCKET_ACTIONS, bucket_resource, state_mgmt_arn)]
    if state_reader_arn:
        narrowed.append(
            only(
                "StateReaderReadsOnly",
                [*STATE_READ_ACTIONS, "s3:ListBucket"],
                [bucket_resource, objects],
                state_reader_arn,
            )
        )
    if plan_doer_arn:
        narrowed.append(only("PlanDoerReadsSettingsOnly", BUCKET_SETTINGS_READ_ACTIONS, bucket_resource, plan_doer_arn))
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
                # An allow-list, not a list of actions: whatever S3 adds (s3:PauseReplication, tagging, metadata
                # tables, ...) is denied to everyone else. One PutBucketPolicy, PutBucketVersioning or
                # PutLifecycleConfiguration of a principal with S3 power but no IAM power would otherwise lift every
                # other guard or expire the current state.
                "Sid": "DenyBucketExceptNamedRoles",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_resource, objects],
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": named}},
            },
            {
                # An admin of the shared account (its doer, an SSO admin) would otherwise read and rewrite every
                # account's state directly; the chain through state-mgmt, scoped to one account, is the only door.
                "Sid": "DenyStateObjectsExceptStateRoles",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": objects,
                "Condition": {"ArnNotEquals": {"aws:PrincipalArn": state_roles}},
            },
            *narrowed,
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


# ---- The lock table's resource policy -------------------------------------------------------------------------
# What DynamoDB accepts in a *table* resource-based policy, as data: every row of AWS's page whose "Resource-based
# policy support" is Yes, as the IAM action it authorizes. Any other name (CreateGlobalTable, StartAwsBackupJob, a
# stream action, ...) makes PutResourcePolicy refuse the whole document ("Invalid policy document: The following
# action names are invalid"); moto stores any name, so only this list catches it offline.
TABLE_POLICY_ACTIONS_SOURCE = (
    "AWS DynamoDB Developer Guide, 'DynamoDB API operations supported by resource-based policies' "
    "(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/rbac-iam-actions.html)"
)
# The rule (what DynamoDB accepts, with its source) is plan/aws_rules.py DYNAMODB_RESOURCE_POLICY_ACTIONS; this is the
# program's choice within it (tests/test_accepts.py asserts the subset), without the stream actions its statements
# never target.
# action -> the page's table it comes from. The page names API operations; they are the IAM actions of the same name,
# except PartiQL's three APIs (ExecuteStatement, BatchExecuteStatement, ExecuteTransaction), which are authorized by
# the four PartiQL* actions ('IAM security policies with PartiQL for DynamoDB', ql-iam.html), and the Transact*
# APIs, which are authorized per item as GetItem/PutItem/UpdateItem/DeleteItem (no IAM action of their own).
TABLE_POLICY_ACTIONS: dict[str, str] = {
    "dynamodb:DeleteItem": "Data plane",
    "dynamodb:GetItem": "Data plane",
    "dynamodb:PutItem": "Data plane",
    "dynamodb:Query": "Data plane",
    "dynamodb:Scan": "Data plane",
    "dynamodb:UpdateItem": "Data plane",
    "dynamodb:BatchGetItem": "Data plane",
    "dynamodb:BatchWriteItem": "Data plane",
    "dynamodb:PartiQLSelect": "PartiQL (ql-iam.html)",
    "dynamodb:PartiQLInsert": "PartiQL (ql-iam.html)",
    "dynamodb:PartiQLUpdate": "PartiQL (ql-iam.html)",
    "dynamodb:PartiQLDelete": "PartiQL (ql-iam.html)",
    "dynamodb:DeleteTable": "Control plane",
    "dynamodb:DescribeTable": "Control plane",
    "dynamodb:UpdateTable": "Control plane",
    "dynamodb:DescribeTableReplicaAutoScaling": "Global tables 2019.11.21",
    "dynamodb:UpdateTableReplicaAutoScaling": "Global tables 2019.11.21",
    "dynamodb:ListTagsOfResource": "Tags",
    "dynamodb:TagResource": "Tags",
    "dynamodb:UntagResource": "Tags",
    "dynamodb:CreateBackup": "Backup and Restore",
    "dynamodb:DescribeContinuousBackups": "Continuous Backup/Restore (PITR)",
    "dynamodb:RestoreTableToPointInTime": "Continuous Backup/Restore (PITR)",
    "dynamodb:UpdateContinuousBackups": "Continuous Backup/Restore (PITR)",
    "dynamodb:DescribeContributorInsights": "Contributor Insights",
    "dynamodb:UpdateContributorInsights": "Contributor Insights",
    "dynamodb:ExportTableToPointInTime": "Export",
    "dynamodb:DescribeKinesisStreamingDestination": "Kinesis Data Streams",
    "dynamodb:DisableKinesisStreamingDestination": "Kinesis Data Streams",
    "dynamodb:EnableKinesisStreamingDestination": "Kinesis Data Streams",
    "dynamodb:UpdateKinesisStreamingDestination": "Kinesis Data Streams",
    "dynamodb:GetResourcePolicy": "Resource-based policy",
    "dynamodb:PutResourcePolicy": "Resource-based policy",
    "dynamodb:DeleteResourcePolicy": "Resource-based policy",
    "dynamodb:DescribeTimeToLive": "Time-to-Live",
    "dynamodb:UpdateTimeToLive": "Time-to-Live",
}
# The one wildcard the table policy uses. AWS's own example grants "dynamodb:*" on a table and its indexes
# ('DynamoDB resource-based policy examples', rbac-examples.html, "access to perform all actions"), and
# terraform-provider-aws's acceptance test of aws_dynamodb_resource_policy attaches "dynamodb:*" on the table ARN and
# "<table ARN>/*" (internal/service/dynamodb/testdata/tmpl/resource_policy_basic.gtpl). NotAction in a table policy
# is documented nowhere we found, so the policy does not use it: each named role is narrowed by the accepted names.
TABLE_POLICY_WILDCARD = "dynamodb:*"
# Reading or writing items, one at a time, in batches, by query, scan or PartiQL.
TABLE_ITEM_ACTIONS = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLSelect",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
]
# Copies of every item outside the table's policy: an on-demand backup, an export to S3, a restored table.
TABLE_COPY_ACTIONS = [
    "dynamodb:CreateBackup",
    "dynamodb:ExportTableToPointInTime",
    "dynamodb:RestoreTableToPointInTime",
]
# What `pulumi refresh` / `preview --refresh` reads of the table and its policy (terraform-provider-aws
# internal/service/dynamodb/table.go resourceTableRead, resource_policy.go findResourcePolicyByARN).
TABLE_READ_ACTIONS = [
    "dynamodb:DescribeTable",
    "dynamodb:DescribeContinuousBackups",
    "dynamodb:DescribeTimeToLive",
    "dynamodb:ListTagsOfResource",
    "dynamodb:GetResourcePolicy",
    "dynamodb:DescribeKinesisStreamingDestination",
    "dynamodb:DescribeContributorInsights",
    "dynamodb:DescribeTableReplicaAutoScaling",
]


def _but(actions: list[str]) -> list[str]:
    """Every action a table policy may name, except these (a deny that narrows a named role to them)."""
    return [a for a in TABLE_POLICY_ACTIONS if a not in actions]


def table_resources(table_arn: str, everything_under: bool = False) -> list[str]:
    """The table and its indexes (where Query and Scan also read items); everything_under: "<table>/*", indexes and
    streams, the shape terraform-provider-aws's acceptance test attaches with "dynamodb:*"."""
    return [table_arn, f"{table_arn}/*" if everything_under else f"{table_arn}/index/*"]


def lock_table_policy(
    *,
    table_arn: str,
    state_mgmt_arn: str,
    deployer_arns: list[str],
    state_reader_arn: str | None = None,
    plan_doer_arn: str | None = None,
) -> PolicyDocument:
    """Resource policy of the lock table, as an allow-list of principals.

    Everything on the table is denied to every principal but the named roles (state-mgmt, the state reader, the
    deployers, the shared plan doer), so a DynamoDB API added later is denied too. Each named role is then narrowed:
    state-mgmt to items, the state reader to GetItem, the deployers to everything but items and copies of them, the
    plan doer (plan mode: `pulumi preview --refresh`) to reading the table's settings.
    """
    resources = table_resources(table_arn)
    named = sorted({state_mgmt_arn, *deployer_arns, *(a for a in (state_reader_arn, plan_doer_arn) if a)})

    def narrow(sid: str, actions: list[str], who: str | list[str]) -> dict[str, Any]:
        return {
            "Sid": sid,
            "Effect": "Deny",
            "Principal": "*",
            "Action": actions,
            "Resource": resources,
            "Condition": {"ArnEquals": {"aws:PrincipalArn": who}},
        }

    statements: list[dict[str, Any]] = [
        {
            "Sid": "DenyTableExceptNamedRoles",
            "Effect": "Deny",
            "Principal": "*",
            "Action": TABLE_POLICY_WILDCARD,
            "Resource": table_resources(table_arn, everything_under=True),
            "Condition": {"ArnNotEquals": {"aws:PrincipalArn": named}},
        },
        # Pulumi keeps the table, never its items: an admin of the shared account who is a deployer still reads no
        # lock item and copies none out.
        narrow("DeployersNoItems", [*TABLE_ITEM_ACTIONS, *TABLE_COPY_ACTIONS], sorted(deployer_arns)),
        narrow("StateMgmtItemsOnly", _but(TABLE_ITEM_ACTIONS), state_mgmt_arn),
    ]
    if state_reader_arn:
        # The plan path reads the state digests Terraform checks, nothing else.
        statements.append(narrow("StateReaderGetItemOnly", _but(LOCK_READ_ACTIONS), state_reader_arn))
    if plan_doer_arn:
        statements.append(narrow("PlanDoerReadsSettingsOnly", _but(TABLE_READ_ACTIONS), plan_doer_arn))
    return {"Version": VERSION, "Statement": statements}


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
        # The assumer may work on any account's state, but only through the one tag key the permissions read, set
        # now: a StateAccount tag carried in (a transitive session tag an earlier hop set, which the session would
        # keep in place of one it never sets) is refused, and so is a session that sets none (second red team).
        assumer_condition = statements[0]["Condition"]
        assumer_condition["ForAllValues:StringEquals"] = {"aws:TagKeys": [STATE_ACCOUNT_TAG]}
        assumer_condition["Null"] = {
            **assumer_condition.get("Null", {}),
            f"aws:RequestTag/{STATE_ACCOUNT_TAG}": "false",
            f"aws:PrincipalTag/{STATE_ACCOUNT_TAG}": "true",
        }
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
    readable_prefixes: list[str],
    kms_key_arn: str | None = None,
    partition: str = "aws",
    list_all_keys: bool = False,
) -> PolicyDocument:
    """What state-mgmt may do: list, read, write and delete state objects and lock items. Nothing else.

    With isolate_accounts, only those of the account its session is tagged with, plus read-only access to the
    key prefixes the config makes readable (<account id>/<path>/: outputs, for dependency blocks and
    terraform_remote_state), never an account's whole state.
    """
    bucket_resource = bucket_arn(bucket, partition)
    prefix = f"{STATE_ACCOUNT}/" if isolate_accounts else ""
    # Bucket names are global: were the bucket ever deleted, a bucket of that name elsewhere must get no state.
    owner = {"StringEquals": {"aws:ResourceAccount": bucket_account}}
    listing: dict[str, Any] = {"Sid": "ListStatePrefix", "Effect": "Allow", "Action": "s3:ListBucket"}
    listing["Resource"] = bucket_resource
    # list_all_keys: S3 tells a missing key (404, which Terraform's first read of a new unit needs) from a forbidden
    # one (403) only for callers allowed s3:ListBucket; key names are listed then, never contents (state_backend
    # .list_keys).
    scoped = isolate_accounts and not list_all_keys
    listing["Condition"] = {**owner, "StringLike": {"s3:prefix": [f"{prefix}*"]}} if scoped else owner
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
    if isolate_accounts and readable_prefixes:
        readable = sorted(set(readable_prefixes))
        statements += [
            {
                "Sid": "ListReadableState",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": bucket_resource,
                "Condition": {**owner, "StringLike": {"s3:prefix": [f"{prefix}*" for prefix in readable]}},
            },
            {
                "Sid": "ReadReadableState",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": [f"{bucket_resource}/{prefix}*" for prefix in readable],
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
# What `pulumi refresh` / `preview --refresh` reads of the key (terraform-provider-aws internal/service/kms/key.go
# resourceKeyRead: DescribeKey, GetKeyPolicy, GetKeyRotationStatus, ListResourceTags).
KEY_SETTINGS_READ_ACTIONS = ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"]
KEY_POLICY_SOURCES = (
    "AWS KMS Developer Guide, 'Default key policy' (https://docs.aws.amazon.com/kms/latest/developerguide/"
    "key-policy-default.html) and 'PutKeyPolicy: BypassPolicyLockoutSafetyCheck' "
    "(https://docs.aws.amazon.com/kms/latest/APIReference/API_PutKeyPolicy.html)"
)


def state_key_policy(
    *,
    admin_arns: list[str],
    auditor_arns: list[str],
    state_mgmt_arn: str,
    account_id: str,
    region: str,
    state_reader_arn: str | None = None,
    plan_doer_arn: str | None = None,
    partition: str = "aws",
) -> PolicyDocument:
    """Key policy of the state key: only the deployers manage it, only state-mgmt uses it for data.

    No statement lets an administrator of the shared account use the key through IAM alone. The roles Pulumi runs
    as are the admins, which KMS's lockout safety check requires (the caller of CreateKey/PutKeyPolicy must be able
    to put the policy again). KMS keeps a role named in Principal as its unique id: re-create both admin roles and
    that statement names nobody. KeyAdministrationByArn names them by ARN instead (the account as principal,
    narrowed by aws:PrincipalArn, as the trusts of iam/policies.py do), so roles re-created under the same names
    manage the key again. Configured key admins (auditor_arns) get the non-destructive actions only. The state reader
    (plan path) may decrypt through the two stores, never encrypt; the shared plan doer reads the key's settings.
    """
    account_root = f"arn:{partition}:iam::{account_id}:root"
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
    if plan_doer_arn:
        extra.append(
            {
                "Sid": "PlanDoerReadsSettings",
                "Effect": "Allow",
                "Principal": {"AWS": account_root},
                "Action": KEY_SETTINGS_READ_ACTIONS,
                "Resource": "*",
                "Condition": {"ArnEquals": {"aws:PrincipalArn": plan_doer_arn}},
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
                # Survives re-creating the admin roles: matched by ARN at request time, not by a stored unique id.
                # The account principal delegates to IAM, and the condition keeps that to the deployers' ARNs.
                "Sid": "KeyAdministrationByArn",
                "Effect": "Allow",
                "Principal": {"AWS": account_root},
                "Action": KEY_ADMIN_ACTIONS,
                "Resource": "*",
                "Condition": {"ArnEquals": {"aws:PrincipalArn": sorted(admin_arns)}},
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
    readable_prefixes: list[str],
    kms_key_arn: str | None = None,
    partition: str = "aws",
    list_all_keys: bool = False,
    runners_account_id: str | None = None,
) -> PolicyDocument:
    """What the state reader may do: state-mgmt's statements, scoped the same way, narrowed to reads.

    runners_account_id (with isolate_accounts): a session tagged with the runners' account (the shared account)
    reads nothing but the readable prefixes, however the tag got there (the plan assumer never sets it; a
    transitive tag or a tag on a caller's role must not stand in for it): its modules' state holds the runners'
    secrets.

    Derived from state-mgmt's so the account scoping (StateAccount prefix, LockID prefix, readable_state) is the same
    by construction. Raises ValueError when state-mgmt's policy grants anything this does not know how to narrow.
    """
    document = state_mgmt_permissions_policy(
        bucket=bucket,
        bucket_account=bucket_account,
        table_arn=table_arn,
        region=region,
        isolate_accounts=isolate_accounts,
        readable_prefixes=readable_prefixes,
        kms_key_arn=kms_key_arn,
        partition=partition,
        list_all_keys=list_all_keys,
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
    if isolate_accounts and runners_account_id:
        bucket_resource = bucket_arn(bucket, partition)
        prefixes = sorted(set(readable_prefixes))
        readable = [f"{bucket_resource}/{prefix}*" for prefix in prefixes]
        where: dict[str, Any] = {"NotResource": readable} if readable else {"Resource": "*"}
        runners = {"StringEquals": {f"aws:PrincipalTag/{STATE_ACCOUNT_TAG}": runners_account_id}}
        document["Statement"].append(
            {
                "Sid": "RunnersAccountReadablePrefixesOnly",
                "Effect": "Deny",
                "Action": sorted({*STATE_READ_ACTIONS, *LOCK_READ_ACTIONS}),
                **where,
                "Condition": runners,
            }
        )
        # Key names too: a listing outside the readable prefixes (or with no prefix) is refused.
        listing: dict[str, Any] = {**runners}
        if prefixes:
            listing["StringNotLikeIfExists"] = {"s3:prefix": [f"{prefix}*" for prefix in prefixes]}
        document["Statement"].append(
            {
                "Sid": "RunnersAccountListReadablePrefixesOnly",
                "Effect": "Deny",
                "Action": "s3:ListBucket",
                "Resource": bucket_resource,
                "Condition": listing,
            }
        )
    return document
