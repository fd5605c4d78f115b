"""CrossGuard rules: the invariants of iam-federation, enforced at `pulumi preview --policy-pack policy`.

Self-contained on purpose: a policy pack runs in its own environment and must not import the program it judges.
Each rule is a plain function ``(args, report_violation)``; ``__main__.py`` wraps them into a PolicyPack, which
starts a server when constructed, so tests call the functions here directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from pulumi_policy import EnforcementLevel, ResourceValidationArgs, ResourceValidationPolicy

ReportViolation = Callable[..., None]

BUCKET = "aws:s3/bucket:Bucket"
TABLE = "aws:dynamodb/table:Table"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
BUCKET_POLICY = "aws:s3/bucketPolicy:BucketPolicy"
TABLE_POLICY = "aws:dynamodb/resourcePolicy:ResourcePolicy"
# Narrowing keys that make a "*" principal acceptable (CKV_AWS_60's intent).
NARROWING_KEYS = {
    "aws:principalorgid",
    "aws:principalarn",
    "aws:sourceaccount",
    "aws:sourcearn",
    "aws:principalaccount",
}
# Actions that let a role change IAM or hand itself more power (CKV_AWS_107..111, 286..290).
ESCALATION_PREFIXES = ("iam:", "organizations:", "sts:assumeroot", "kms:putkeypolicy", "kms:creategrant")


class _Args(Protocol):
    resource_type: str
    props: Any
    name: str

    @property
    def opts(self) -> Any: ...


def _statements(document: Any) -> list[dict[str, Any]]:
    parsed = json.loads(document) if isinstance(document, str) else document
    if not isinstance(parsed, dict):
        return []
    statements = parsed.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_keys(statement: dict[str, Any]) -> set[str]:
    return {key.lower() for block in statement.get("Condition", {}).values() for key in block}


def _policy_text(args: _Args) -> Any:
    if args.resource_type == ROLE:
        return args.props.get("assumeRolePolicy")
    return args.props.get("policy")


def state_bucket_no_force_destroy(args: _Args, report_violation: ReportViolation) -> None:
    if args.resource_type == BUCKET and args.props.get("forceDestroy"):
        report_violation("The state bucket must not set forceDestroy: deleting it must never delete state.")


def state_stores_protected(args: _Args, report_violation: ReportViolation) -> None:
    if args.resource_type in (BUCKET, TABLE) and not args.opts.protect:
        report_violation(f"{args.name} holds Terraform state or locks and must be protected (protect=True).")


def state_bucket_versioning(args: _Args, report_violation: ReportViolation) -> None:
    if args.resource_type == "aws:s3/bucketVersioning:BucketVersioning":
        status = (args.props.get("versioningConfiguration") or {}).get("status")
        if status != "Enabled":
            report_violation(f"State bucket versioning must be Enabled (CKV_AWS_21), not {status!r}.")


def state_bucket_encryption(args: _Args, report_violation: ReportViolation) -> None:
    if args.resource_type != "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration":
        return
    for rule in args.props.get("rules") or []:
        default = rule.get("applyServerSideEncryptionByDefault") or {}
        algorithm = default.get("sseAlgorithm")
        if algorithm not in ("AES256", "aws:kms", "aws:kms:dsse"):
            report_violation(
                f"State bucket default encryption must be AES256 or aws:kms (CKV_AWS_19), not {algorithm!r}."
            )
        if algorithm and algorithm.startswith("aws:kms") and not default.get("kmsMasterKeyId"):
            report_violation("aws:kms default encryption must name the customer managed key (CKV_AWS_145).")


def state_bucket_public_access_block(args: _Args, report_violation: ReportViolation) -> None:
    if args.resource_type != "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock":
        return
    for key in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        if args.props.get(key) is not True:
            report_violation(f"Public access block {key} must be true (CKV_AWS_53..56).")


def state_bucket_owner_enforced(args: _Args, report_violation: ReportViolation) -> None:
    if args.resource_type == "aws:s3/bucketOwnershipControls:BucketOwnershipControls":
        ownership = (args.props.get("rule") or {}).get("objectOwnership")
        if ownership != "BucketOwnerEnforced":
            report_violation(f"Object ownership must be BucketOwnerEnforced (ACLs off), not {ownership!r}.")


def state_bucket_noncurrent_lifecycle(args: _Args, report_violation: ReportViolation) -> None:
    if args.resource_type == "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration":
        rules = [r for r in args.props.get("rules") or [] if r.get("status") == "Enabled"]
        if not any(r.get("noncurrentVersionExpiration") for r in rules):
            report_violation("The state bucket needs an enabled noncurrent-version expiration rule (CKV2_AWS_61).")


def bucket_policy_denies_insecure_transport(args: _Args, report_violation: ReportViolation) -> None:
    if args.resource_type != BUCKET_POLICY:
        return
    for statement in _statements(args.props.get("policy")):
        secure = statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport")
        if statement.get("Effect") == "Deny" and "s3:*" in _as_list(statement.get("Action")) and secure == "false":
            return
    report_violation("The bucket policy must deny s3:* when aws:SecureTransport is false (Security Hub S3.5).")


def lock_table_hardened(args: _Args, report_violation: ReportViolation) -> None:
    if args.resource_type != TABLE:
        return
    if not (args.props.get("pointInTimeRecovery") or {}).get("enabled"):
        report_violation("The lock table needs point-in-time recovery (CKV_AWS_28).")
    if not (args.props.get("serverSideEncryption") or {}).get("enabled"):
        report_violation("The lock table needs server-side encryption with a KMS key (CKV_AWS_119).")
    if args.props.get("deletionProtectionEnabled") is not True:
        report_violation("The lock table needs deletion protection (Security Hub DynamoDB.6).")


def no_unnarrowed_star_principal(args: _Args, report_violation: ReportViolation) -> None:
    if args.resource_type not in (ROLE, BUCKET_POLICY, TABLE_POLICY):
        return
    for statement in _statements(_policy_text(args)):
        if statement.get("Effect") != "Allow":
            continue
        principal = statement.get("Principal")
        aws = principal.get("AWS") if isinstance(principal, dict) else principal
        if "*" in _as_list(aws) and not (_condition_keys(statement) & NARROWING_KEYS):
            report_violation(
                f"Statement {statement.get('Sid', '?')} allows principal '*' without an organization or principal "
                "condition (CKV_AWS_60)."
            )


def _actions(statement: dict[str, Any]) -> Iterable[str]:
    return [str(a).lower() for a in _as_list(statement.get("Action", []))]


def no_admin_or_escalation_in_inline_policies(args: _Args, report_violation: ReportViolation) -> None:
    """The program's inline policies (assumer, state-mgmt, doers' state access) stay narrow; the doer's admin power
    comes only from its configured managed policies."""
    if args.resource_type != ROLE_POLICY:
        return
    for statement in _statements(args.props.get("policy")):
        if statement.get("Effect") != "Allow":
            continue
        sid = statement.get("Sid", "?")
        if "NotAction" in statement or "NotResource" in statement:
            report_violation(f"Statement {sid}: NotAction/NotResource in an inline policy grants more than it names.")
        actions = list(_actions(statement))
        if any(a in ("*", "*:*") or a.endswith(":*") for a in actions):
            report_violation(f"Statement {sid} grants a wildcard action (CKV_AWS_1, CKV_AWS_62).")
        escalating = [a for a in actions if a.startswith(ESCALATION_PREFIXES)]
        if escalating:
            report_violation(
                f"Statement {sid} grants IAM or key-policy changes {escalating} (CKV_AWS_107..111, 286..290)."
            )
        if "*" in _as_list(statement.get("Resource")) and any(not a.startswith(("sts:", "s3:list")) for a in actions):
            report_violation(f"Statement {sid} grants {actions} on every resource (CKV_AWS_111).")


def explicit_provider(args: _Args, report_violation: ReportViolation) -> None:
    provider = getattr(args, "provider", None)
    urn = getattr(provider, "urn", "") or ""
    if args.resource_type.startswith("aws:") and (not urn or "::default" in urn):
        report_violation(f"{args.name} uses the default AWS provider; pass the account's explicit provider.")


RULES: dict[str, tuple[str, Callable[[Any, ReportViolation], None]]] = {
    "state-bucket-no-force-destroy": ("The state bucket never sets forceDestroy.", state_bucket_no_force_destroy),
    "state-stores-protected": ("The state bucket and lock table are protected.", state_stores_protected),
    "state-bucket-versioning": ("The state bucket is versioned.", state_bucket_versioning),
    "state-bucket-encryption": ("The state bucket encrypts by default.", state_bucket_encryption),
    "state-bucket-public-access-block": ("All four public access blocks are on.", state_bucket_public_access_block),
    "state-bucket-owner-enforced": ("Bucket owner enforced; ACLs off.", state_bucket_owner_enforced),
    "state-bucket-noncurrent-lifecycle": ("Old state versions expire.", state_bucket_noncurrent_lifecycle),
    "bucket-policy-denies-insecure-transport": (
        "Only TLS requests reach the bucket.",
        bucket_policy_denies_insecure_transport,
    ),
    "lock-table-hardened": ("PITR, encryption and deletion protection on the lock table.", lock_table_hardened),
    "no-unnarrowed-star-principal": ("No '*' principal without a narrowing condition.", no_unnarrowed_star_principal),
    "no-admin-or-escalation-in-inline-policies": (
        "Inline policies grant no wildcard, IAM or key-policy actions.",
        no_admin_or_escalation_in_inline_policies,
    ),
    "explicit-provider": ("Every AWS resource uses an explicit provider.", explicit_provider),
}


def policies() -> list[ResourceValidationPolicy]:
    return [
        ResourceValidationPolicy(
            name=name,
            description=description,
            validate=validate,
            enforcement_level=EnforcementLevel.MANDATORY,
        )
        for name, (description, validate) in RULES.items()
    ]


__all__ = ["RULES", "ResourceValidationArgs", "policies"]
