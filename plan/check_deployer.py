"""Check "the deployer keeps control": every call the provider makes to create, read, update and delete the state
backend, as the principal Pulumi runs as, judged against the resource policies the program registers.

A guard that denies one of these calls to the deployer locks Pulumi out of its own backend: the first deploy, a
`pulumi refresh`, an import or an in-place update (a change of tags) fails with 403, and nobody can fix it with
Pulumi. The calls are kept as data, one table per resource type, each row naming the provider source file it comes
from (hashicorp/terraform-provider-aws, which pulumi-aws runs) and the IAM action AWS authorizes the call as.

Modes (providers.mode): `bootstrap` runs as the shared account's bootstrap role, `doer` as the shared account's doer;
both are checked whatever the config says today, since a stack is bootstrapped once and then switched. `plan` runs
`pulumi preview` as the shared account's plan doer: only read calls (`preview --refresh`), and without
PLAN_MODE_WITHHELD.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from federation import names
from federation.config import FederationConfig
from plan.checks import Finding, PlanInput
from plan.evaluator import ContextValue, Document, Principal, Request, evaluate
from plan.model import IamModel, RoleModel
from plan.runner import ProgramRun, Registration
from plan.world import ADMIN, FULL_AWS_ACCESS, managed

CHECK = "deployer-keeps-control"
Phase = Literal["create", "read", "update", "delete"]
# What a call acts on: the bucket, the table or the key (each under its resource policy).
Target = Literal["bucket", "table", "key", "iam"]
PROVIDER = "hashicorp/terraform-provider-aws"
# How S3, DynamoDB and KMS authorize each API call: each API reference's "Permissions" section and the Service
# Authorization Reference ("Actions, resources, and condition keys for Amazon S3 / DynamoDB / KMS").
ACTION_SOURCE = "Service Authorization Reference (S3, DynamoDB, KMS) and each API's Permissions section"


@dataclass(frozen=True)
class Call:
    phase: Phase
    api: str  # the API operation the provider calls
    action: str  # the IAM action AWS authorizes it as
    on: Target
    context: tuple[tuple[str, ContextValue], ...] = ()


def _calls(*rows: tuple[Phase, str, str, Target]) -> tuple[Call, ...]:
    return tuple(Call(phase, api, action, on) for phase, api, action, on in rows)


# resource type -> (provider source file, the calls). Creating a bucket, table or key happens before its policy exists
# (CreateBucket, CreateTable, CreateKey are not judged by it); everything after is.
CALLS: dict[str, tuple[str, tuple[Call, ...]]] = {
    "aws:s3/bucket:Bucket": (
        "internal/service/s3/bucket.go",
        _calls(
            # resourceBucketCreate waits for the bucket (findBucket: HeadBucket) and tags it.
            ("create", "HeadBucket", "s3:ListBucket", "bucket"),
            ("create", "PutBucketTagging", "s3:PutBucketTagging", "bucket"),
            # resourceBucketRead: HeadBucket, then every bucket setting it reports.
            ("read", "HeadBucket", "s3:ListBucket", "bucket"),
            ("read", "GetBucketPolicy", "s3:GetBucketPolicy", "bucket"),
            ("read", "GetBucketAcl", "s3:GetBucketAcl", "bucket"),
            ("read", "GetBucketCors", "s3:GetBucketCORS", "bucket"),
            ("read", "GetBucketWebsite", "s3:GetBucketWebsite", "bucket"),
            ("read", "GetBucketVersioning", "s3:GetBucketVersioning", "bucket"),
            ("read", "GetBucketAccelerateConfiguration", "s3:GetAccelerateConfiguration", "bucket"),
            ("read", "GetBucketRequestPayment", "s3:GetBucketRequestPayment", "bucket"),
            ("read", "GetBucketLogging", "s3:GetBucketLogging", "bucket"),
            ("read", "GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration", "bucket"),
            ("read", "GetBucketReplication", "s3:GetReplicationConfiguration", "bucket"),
            ("read", "GetBucketEncryption", "s3:GetEncryptionConfiguration", "bucket"),
            ("read", "GetObjectLockConfiguration", "s3:GetBucketObjectLockConfiguration", "bucket"),
            ("read", "GetBucketLocation", "s3:GetBucketLocation", "bucket"),
            ("read", "GetBucketTagging", "s3:GetBucketTagging", "bucket"),
            # resourceBucketUpdate: a change of tags (the in-place update every stack sees), then a read.
            ("update", "PutBucketTagging", "s3:PutBucketTagging", "bucket"),
            ("update", "DeleteBucketTagging", "s3:PutBucketTagging", "bucket"),
            ("delete", "DeleteBucket", "s3:DeleteBucket", "bucket"),
        ),
    ),
    "aws:s3/bucketPolicy:BucketPolicy": (
        "internal/service/s3/bucket_policy.go",
        _calls(
            ("create", "PutBucketPolicy", "s3:PutBucketPolicy", "bucket"),
            ("read", "GetBucketPolicy", "s3:GetBucketPolicy", "bucket"),
            ("update", "PutBucketPolicy", "s3:PutBucketPolicy", "bucket"),
            ("delete", "DeleteBucketPolicy", "s3:DeleteBucketPolicy", "bucket"),
        ),
    ),
    "aws:s3/bucketVersioning:BucketVersioning": (
        "internal/service/s3/bucket_versioning.go",
        _calls(
            ("create", "PutBucketVersioning", "s3:PutBucketVersioning", "bucket"),
            ("read", "GetBucketVersioning", "s3:GetBucketVersioning", "bucket"),
            ("update", "PutBucketVersioning", "s3:PutBucketVersioning", "bucket"),
            # Delete suspends versioning (an enabled bucket cannot go back to unversioned).
            ("delete", "PutBucketVersioning", "s3:PutBucketVersioning", "bucket"),
        ),
    ),
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "internal/service/s3/bucket_server_side_encryption_configuration.go",
        _calls(
            ("create", "PutBucketEncryption", "s3:PutEncryptionConfiguration", "bucket"),
            ("read", "GetBucketEncryption", "s3:GetEncryptionConfiguration", "bucket"),
            ("update", "PutBucketEncryption", "s3:PutEncryptionConfiguration", "bucket"),
            ("delete", "DeleteBucketEncryption", "s3:PutEncryptionConfiguration", "bucket"),
        ),
    ),
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": (
        "internal/service/s3/bucket_public_access_block.go",
        _calls(
            ("create", "PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock", "bucket"),
            ("read", "GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock", "bucket"),
            ("update", "PutPublicAccessBlock", "s3:PutBucketPublicAccessBlock", "bucket"),
            ("delete", "DeletePublicAccessBlock", "s3:PutBucketPublicAccessBlock", "bucket"),
        ),
    ),
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": (
        "internal/service/s3/bucket_ownership_controls.go",
        _calls(
            ("create", "PutBucketOwnershipControls", "s3:PutBucketOwnershipControls", "bucket"),
            ("read", "GetBucketOwnershipControls", "s3:GetBucketOwnershipControls", "bucket"),
            ("update", "PutBucketOwnershipControls", "s3:PutBucketOwnershipControls", "bucket"),
            ("delete", "DeleteBucketOwnershipControls", "s3:PutBucketOwnershipControls", "bucket"),
        ),
    ),
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": (
        "internal/service/s3/bucket_lifecycle_configuration.go",
        _calls(
            ("create", "PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration", "bucket"),
            ("read", "GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration", "bucket"),
            ("update", "PutBucketLifecycleConfiguration", "s3:PutLifecycleConfiguration", "bucket"),
            ("delete", "DeleteBucketLifecycle", "s3:PutLifecycleConfiguration", "bucket"),
        ),
    ),
    "aws:s3/bucketLogging:BucketLogging": (
        "internal/service/s3/bucket_logging.go",
        _calls(
            ("create", "PutBucketLogging", "s3:PutBucketLogging", "bucket"),
            ("read", "GetBucketLogging", "s3:GetBucketLogging", "bucket"),
            ("update", "PutBucketLogging", "s3:PutBucketLogging", "bucket"),
            ("delete", "PutBucketLogging", "s3:PutBucketLogging", "bucket"),
        ),
    ),
    "aws:dynamodb/table:Table": (
        "internal/service/dynamodb/table.go",
        _calls(
            # resourceTableCreate: CreateTable (before the table's policy exists), waits, turns on PITR.
            ("create", "DescribeTable", "dynamodb:DescribeTable", "table"),
            ("create", "UpdateContinuousBackups", "dynamodb:UpdateContinuousBackups", "table"),
            # resourceTableRead; tags through the provider's transparent tagging (ListTagsOfResource).
            ("read", "DescribeTable", "dynamodb:DescribeTable", "table"),
            ("read", "DescribeContinuousBackups", "dynamodb:DescribeContinuousBackups", "table"),
            ("read", "DescribeTimeToLive", "dynamodb:DescribeTimeToLive", "table"),
            ("read", "ListTagsOfResource", "dynamodb:ListTagsOfResource", "table"),
            ("update", "UpdateTable", "dynamodb:UpdateTable", "table"),
            ("update", "UpdateContinuousBackups", "dynamodb:UpdateContinuousBackups", "table"),
            ("update", "UpdateTimeToLive", "dynamodb:UpdateTimeToLive", "table"),
            ("update", "TagResource", "dynamodb:TagResource", "table"),
            ("update", "UntagResource", "dynamodb:UntagResource", "table"),
            ("delete", "DeleteTable", "dynamodb:DeleteTable", "table"),
        ),
    ),
    "aws:dynamodb/resourcePolicy:ResourcePolicy": (
        "internal/service/dynamodb/resource_policy.go",
        _calls(
            ("create", "PutResourcePolicy", "dynamodb:PutResourcePolicy", "table"),
            ("create", "GetResourcePolicy", "dynamodb:GetResourcePolicy", "table"),
            ("read", "GetResourcePolicy", "dynamodb:GetResourcePolicy", "table"),
            ("update", "PutResourcePolicy", "dynamodb:PutResourcePolicy", "table"),
            ("delete", "DeleteResourcePolicy", "dynamodb:DeleteResourcePolicy", "table"),
        ),
    ),
    "aws:kms/key:Key": (
        "internal/service/kms/key.go",
        _calls(
            # KMS's lockout safety check: CreateKey and PutKeyPolicy fail unless the caller could put the policy again
            # (KMS API Reference, CreateKey / PutKeyPolicy, BypassPolicyLockoutSafetyCheck).
            ("create", "CreateKey (lockout safety check)", "kms:PutKeyPolicy", "key"),
            ("create", "EnableKeyRotation", "kms:EnableKeyRotation", "key"),
            # resourceKeyRead / findKey.
            ("read", "DescribeKey", "kms:DescribeKey", "key"),
            ("read", "GetKeyPolicy", "kms:GetKeyPolicy", "key"),
            ("read", "GetKeyRotationStatus", "kms:GetKeyRotationStatus", "key"),
            ("read", "ListResourceTags", "kms:ListResourceTags", "key"),
            ("update", "PutKeyPolicy", "kms:PutKeyPolicy", "key"),
            ("update", "UpdateKeyDescription", "kms:UpdateKeyDescription", "key"),
            ("update", "EnableKeyRotation", "kms:EnableKeyRotation", "key"),
            ("update", "TagResource", "kms:TagResource", "key"),
            ("update", "UntagResource", "kms:UntagResource", "key"),
            ("delete", "ScheduleKeyDeletion", "kms:ScheduleKeyDeletion", "key"),
        ),
    ),
    "aws:kms/alias:Alias": (
        "internal/service/kms/alias.go",
        # An alias call is authorized on the alias (IAM only) and on the key it targets (the key policy).
        _calls(
            ("create", "CreateAlias", "kms:CreateAlias", "key"),
            ("update", "UpdateAlias", "kms:UpdateAlias", "key"),
            ("delete", "DeleteAlias", "kms:DeleteAlias", "key"),
        ),
    ),
}
# IAM resources of the shared account: no resource policy decides their calls, but the organization guard's SCP does
# (it keeps the federation's roles to the roles that deploy them); judged when the program registers an SCP. The call
# acts on the role (or instance profile, or OIDC provider) the registration names.
IAM_CALLS: dict[str, tuple[str, tuple[Call, ...]]] = {
    "aws:iam/role:Role": (
        "internal/service/iam/role.go",
        _calls(
            ("create", "CreateRole", "iam:CreateRole", "iam"),
            ("create", "TagRole", "iam:TagRole", "iam"),
            ("read", "GetRole", "iam:GetRole", "iam"),
            ("read", "ListRolePolicies", "iam:ListRolePolicies", "iam"),
            ("read", "ListAttachedRolePolicies", "iam:ListAttachedRolePolicies", "iam"),
            ("update", "UpdateAssumeRolePolicy", "iam:UpdateAssumeRolePolicy", "iam"),
            ("update", "UpdateRole", "iam:UpdateRole", "iam"),
            ("update", "TagRole", "iam:TagRole", "iam"),
            ("update", "UntagRole", "iam:UntagRole", "iam"),
            ("delete", "ListInstanceProfilesForRole", "iam:ListInstanceProfilesForRole", "iam"),
            ("delete", "DeleteRole", "iam:DeleteRole", "iam"),
        ),
    ),
    "aws:iam/rolePolicy:RolePolicy": (
        "internal/service/iam/role_policy.go",
        _calls(
            ("create", "PutRolePolicy", "iam:PutRolePolicy", "iam"),
            ("read", "GetRolePolicy", "iam:GetRolePolicy", "iam"),
            ("update", "PutRolePolicy", "iam:PutRolePolicy", "iam"),
            ("delete", "DeleteRolePolicy", "iam:DeleteRolePolicy", "iam"),
        ),
    ),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": (
        "internal/service/iam/role_policy_attachment.go",
        _calls(
            ("create", "AttachRolePolicy", "iam:AttachRolePolicy", "iam"),
            ("read", "ListAttachedRolePolicies", "iam:ListAttachedRolePolicies", "iam"),
            ("delete", "DetachRolePolicy", "iam:DetachRolePolicy", "iam"),
        ),
    ),
    "aws:iam/instanceProfile:InstanceProfile": (
        "internal/service/iam/instance_profile.go",
        _calls(
            ("create", "CreateInstanceProfile", "iam:CreateInstanceProfile", "iam"),
            ("create", "AddRoleToInstanceProfile", "iam:AddRoleToInstanceProfile", "iam"),
            ("read", "GetInstanceProfile", "iam:GetInstanceProfile", "iam"),
            ("update", "TagInstanceProfile", "iam:TagInstanceProfile", "iam"),
            ("delete", "RemoveRoleFromInstanceProfile", "iam:RemoveRoleFromInstanceProfile", "iam"),
            ("delete", "DeleteInstanceProfile", "iam:DeleteInstanceProfile", "iam"),
        ),
    ),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": (
        "internal/service/iam/openid_connect_provider.go",
        _calls(
            ("create", "CreateOpenIDConnectProvider", "iam:CreateOpenIDConnectProvider", "iam"),
            ("read", "GetOpenIDConnectProvider", "iam:GetOpenIDConnectProvider", "iam"),
            ("update", "UpdateOpenIDConnectProviderThumbprint", "iam:UpdateOpenIDConnectProviderThumbprint", "iam"),
            ("update", "TagOpenIDConnectProvider", "iam:TagOpenIDConnectProvider", "iam"),
            ("delete", "DeleteOpenIDConnectProvider", "iam:DeleteOpenIDConnectProvider", "iam"),
        ),
    ),
}

# The lock table encrypted with the state key: DynamoDB asks KMS on the caller's behalf when the table is created or
# its encryption changes (DynamoDB Developer Guide, "How Amazon DynamoDB uses AWS KMS": kms:CreateGrant,
# kms:DescribeKey through dynamodb.<region>.amazonaws.com).
TABLE_KEY_CALLS = ("kms:DescribeKey", "kms:CreateGrant")

# Read calls plan mode's identity is refused by design, with the reason. HeadBucket needs s3:ListBucket, which lists
# every account's state keys, and a pull request's token reaches the plan doer: `pulumi preview` in plan mode does not
# refresh (the engine calls Read only for a refresh or a `get`), and `preview --refresh` there fails on the bucket.
PLAN_MODE_WITHHELD: dict[tuple[str, str], str] = {
    ("aws:s3/bucket:Bucket", "HeadBucket"): "s3:ListBucket would list every account's state keys to a pull request",
}


@dataclass(frozen=True)
class Deployer:
    mode: str
    principal: Principal
    reads_only: bool = False


def _identity(role: RoleModel) -> tuple[tuple[str, Document], ...]:
    return (*role.inline.items(), *((arn.rsplit("/", 1)[-1], managed(arn)) for arn in role.managed_arns))


def deployers(config: FederationConfig, model: IamModel) -> list[Deployer]:
    """The principals Pulumi runs as in the shared account, one per provider mode."""
    shared = config.shared_account
    scps = ((FULL_AWS_ACCESS, *model.scps),) if model.scps else None

    def principal(key: str, arn: str, policies: tuple[tuple[str, Document], ...]) -> Principal:
        return Principal(key, arn, config.organization_id, policies, scps=scps)

    # The bootstrap role is AWS Organizations' (OrganizationAccountAccessRole: AdministratorAccess), not ours.
    bootstrap_arn = names.bootstrap_role_arn(config, shared.id)
    result = [Deployer("bootstrap", principal("bootstrap", bootstrap_arn, (("AdministratorAccess", ADMIN),)))]
    doer = model.roles[f"doer-{shared.name}-role"]
    result.append(Deployer("doer", principal("doer", doer.arn, _identity(doer))))
    plan_doer = model.roles.get(f"plan-doer-{shared.name}-role")
    if plan_doer is not None:
        result.append(Deployer("plan", principal("plan", plan_doer.arn, _identity(plan_doer)), reads_only=True))
    return result


def _targets(model: IamModel) -> dict[Target, tuple[str, Document | None]]:
    return {
        "bucket": (f"arn:aws:s3:::{model.bucket_name}", model.bucket_policy),
        "table": (model.table_arn, model.table_policy),
        "key": (model.key_arn or "", model.key_policy),
    }


def _table_of(registration_type: str) -> tuple[str, tuple[Call, ...]]:
    return CALLS[registration_type] if registration_type in CALLS else IAM_CALLS[registration_type]


def _iam_arn(registration: Registration, account: str) -> str:
    """What an IAM call acts on: the resource's own ARN, or, for a role's policy or attachment, the role's."""
    if registration.type in ("aws:iam/rolePolicy:RolePolicy", "aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        # The role is named by name; its path does not change what the guard matches here (role names are unique).
        return str(registration.state.get("roleArn") or f"arn:aws:iam::{account}:role/{registration.inputs['role']}")
    return str(registration.state.get("arn") or f"arn:aws:iam::{account}:{registration.name}")


def _calls_of(registration_type: str, model: IamModel, region: str, account: str) -> list[Call]:
    calls = list(_table_of(registration_type)[1])
    if registration_type == "aws:dynamodb/table:Table" and model.key_arn:
        via = (("kms:ViaService", f"dynamodb.{region}.amazonaws.com"), ("kms:CallerAccount", account))
        for phase in ("create", "update"):
            calls += [Call(phase, f"CreateTable/UpdateTable SSE: {a}", a, "key", via) for a in TABLE_KEY_CALLS]
    return calls


def lockouts(config: FederationConfig, model: IamModel, run: ProgramRun) -> list[Finding]:
    """Every provider call in the shared account (the backend's, and under an SCP the IAM resources') that a registered
    resource policy or SCP denies to a deployer."""
    shared = config.shared_account.id
    targets = _targets(model)
    findings: list[Finding] = []
    # IAM calls are judged only under an SCP: without one nothing but the deployer's own policies decides them.
    judged = {*CALLS, *(IAM_CALLS if model.scps else ())}
    registered = [r for r in run.registrations if r.type in judged and r.custom and run.account_of(r) == shared]
    for deployer in deployers(config, model):
        for registration in registered:
            source_file = _table_of(registration.type)[0]
            for call in _calls_of(registration.type, model, config.region, shared):
                if deployer.reads_only and (
                    call.phase != "read" or (registration.type, call.api) in PLAN_MODE_WITHHELD
                ):
                    continue
                resource, policy = (_iam_arn(registration, shared), None) if call.on == "iam" else targets[call.on]
                if policy is None and call.on != "iam":
                    continue  # no resource policy on it: only the deployer's own policies decide (not this check)
                request = Request(call.action, resource, shared, policy, call.context)
                verdict = evaluate(deployer.principal, request)
                if verdict.allowed:
                    continue
                denied_by = [r for r in verdict.decided_by if r.startswith("resource:Deny")]
                if not denied_by and model.scps:
                    # The evaluator names the Allow it found; what overrode it is the registered SCP.
                    denied_by = ["the organization guard's SCP (no resource policy denies it)"]
                denied_by = denied_by or verdict.decided_by
                findings.append(
                    Finding(
                        check=CHECK,
                        resource=registration.name,
                        what=(
                            f"{call.phase} calls {call.api} ({call.action} on {resource}) as "
                            f"{deployer.principal.arn} (providers.mode {deployer.mode})"
                        ),
                        rule=(
                            "a lockout: a registered policy denies the provider a call it makes, so "
                            f"{call.phase} fails with 403 (decided by {', '.join(denied_by) or 'no Allow'})"
                        ),
                        source=f"{PROVIDER} {source_file}; {ACTION_SOURCE}",
                    )
                )
    return findings


def check(plan: PlanInput) -> list[Finding]:
    # The shared (or complete) stack's run holds the backend; member stacks register none of it.
    return lockouts(plan.selection.organization, plan.model, plan.runs[0])
