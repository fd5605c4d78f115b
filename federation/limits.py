"""AWS size limits of every generated document, checked from config alone before anything is registered.

Every document is built by the same pure functions the components use, from ARNs derived from config, so the
sizes here are the sizes AWS will see. None of them lists accounts: their size is the same at 1 or 1,000 accounts.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from federation.config import (
    BUCKET_POLICY_MAX,
    DYNAMODB_RESOURCE_POLICY_MAX,
    INLINE_POLICIES_PER_ROLE_MAX,
    KMS_KEY_POLICY_MAX,
    NAMESPACE,
    SCP_MAX,
    FederationConfig,
)
from federation.documents import all_documents
from iam.policies import PolicyDocument


def iam_size(document: PolicyDocument) -> int:
    """Characters as IAM counts them: JSON without the whitespace between tokens."""
    return len(minified(document))


def minified(document: PolicyDocument) -> str:
    """A document without whitespace: the form the organization guard's SCP is registered in, so what is measured
    here is exactly what Organizations receives."""
    return json.dumps(document, separators=(",", ":"))


def registered(document: PolicyDocument) -> str:
    """A document as the components register it (json.dumps, with its whitespace)."""
    return json.dumps(document)


def sent_bytes(document: PolicyDocument) -> int:
    """Bytes as S3, DynamoDB and KMS count a resource policy: the document as sent, whitespace included
    (S3 User Guide, Bucket policies: 20 KB; DynamoDB Developer Guide, Resource-based policy considerations: "DynamoDB
    counts whitespaces"; KMS Developer Guide, quotas: key policy document size 32 KB)."""
    return len(registered(document).encode("utf-8"))


def scp_size(document: PolicyDocument) -> int:
    """Characters as Organizations counts an SCP: as sent, whitespace included (Organizations User Guide, Quotas:
    "Maximum size of a policy document"); the guard sends it minified."""
    return len(minified(document))


@dataclass(frozen=True)
class Measured:
    what: str
    size: int
    limit: int
    grows_with: str  # the config keys that make it grow, named in the error
    unit: str = "characters"  # how the service counts: characters, or bytes as sent

    @property
    def fits(self) -> bool:
        return self.size <= self.limit


# document name -> (what the error calls it, how AWS counts, the limit or None for the trust quota, keys it grows with)
_LIMITS: dict[str, tuple[str, Callable[[PolicyDocument], int], int | None, str]] = {
    "assumer trust policy": (
        "assumer trust policy",
        iam_size,
        None,
        "sso.permission_sets, ci.extra_trusted_principal_arns, ci.oidc",
    ),
    "doer trust policy": ("doer trust policy", iam_size, None, "roles.assumer"),
    "state-mgmt trust policy": ("state-mgmt trust policy", iam_size, None, "roles"),
    "assumer inline policy": ("assumer inline policies", iam_size, INLINE_POLICIES_PER_ROLE_MAX, "roles"),
    "state-mgmt inline policy": ("state-mgmt inline policies", iam_size, INLINE_POLICIES_PER_ROLE_MAX, "state_backend"),
    "doer inline policy": ("doer inline policies", iam_size, INLINE_POLICIES_PER_ROLE_MAX, "roles.state_mgmt"),
    "bucket policy": ("bucket policy", sent_bytes, BUCKET_POLICY_MAX, "state_backend"),
    "lock table policy": ("lock table policy", sent_bytes, DYNAMODB_RESOURCE_POLICY_MAX, "state_backend"),
    "state key policy": ("state key policy", sent_bytes, KMS_KEY_POLICY_MAX, "state_backend.kms.key_admin_arns"),
    "organization guard": (
        "organization guard SCP",
        scp_size,
        SCP_MAX,
        "organization_guard.runner_launcher_arns, roles",
    ),
    "plan assumer trust policy": ("plan assumer trust policy", iam_size, None, "plan_path.permission_sets"),
    "plan assumer inline policy": (
        "plan assumer inline policies",
        iam_size,
        INLINE_POLICIES_PER_ROLE_MAX,
        "plan_path",
    ),
    "plan doer trust policy": ("plan doer trust policy", iam_size, None, "plan_path.assumer"),
    "plan doer inline policy": ("plan doer inline policies", iam_size, INLINE_POLICIES_PER_ROLE_MAX, "plan_path"),
    "state-reader trust policy": ("state-reader trust policy", iam_size, None, "plan_path"),
    "state-reader inline policy": (
        "state-reader inline policies",
        iam_size,
        INLINE_POLICIES_PER_ROLE_MAX,
        "state_backend",
    ),
}


def measure(config: FederationConfig) -> list[Measured]:
    """Every generated document against its limit; trust policies against the configured quota."""
    trust_max = config.limits.trust_policy_max_chars
    return [
        Measured(
            what,
            size(document),
            trust_max if limit is None else limit,
            grows_with,
            "bytes as sent" if size is sent_bytes else "characters",
        )
        for name, document in all_documents(config).items()
        for what, size, limit, grows_with in [_LIMITS[name]]
    ]


def limit_problems(config: FederationConfig) -> list[str]:
    """One line per document over its limit, naming the config keys that make it grow."""
    return [
        f"{NAMESPACE}:{m.grows_with}: the {m.what} would be {m.size:,} {m.unit}, over its limit of {m.limit:,}"
        + (" (limits.trust_policy_max_chars; raise it only after raising the IAM quota)" if "trust" in m.what else "")
        for m in measure(config)
        if not m.fits
    ]
