"""AWS size limits of every generated document, checked from config alone before anything is registered.

Every document is built by the same pure functions the components use, from ARNs derived from config, so the
sizes here are the sizes AWS will see. None of them lists accounts: their size is the same at 1 or 1,000 accounts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from federation.config import (
    BUCKET_POLICY_MAX,
    DYNAMODB_RESOURCE_POLICY_MAX,
    INLINE_POLICIES_PER_ROLE_MAX,
    KMS_KEY_POLICY_MAX,
    NAMESPACE,
    FederationConfig,
)
from federation.documents import all_documents
from iam.policies import PolicyDocument


def iam_size(document: PolicyDocument) -> int:
    """Characters as IAM counts them: JSON without the whitespace between tokens."""
    return len(json.dumps(document, separators=(",", ":")))


@dataclass(frozen=True)
class Measured:
    what: str
    size: int
    limit: int
    grows_with: str  # the config keys that make it grow, named in the error

    @property
    def fits(self) -> bool:
        return self.size <= self.limit


def measure(config: FederationConfig) -> list[Measured]:
    docs = all_documents(config)
    trust_max = config.limits.trust_policy_max_chars
    measured = [
        Measured(
            "assumer trust policy",
            iam_size(docs["assumer trust policy"]),
            trust_max,
            "sso.permission_sets, ci.extra_trusted_principal_arns",
        ),
        Measured("doer trust policy", iam_size(docs["doer trust policy"]), trust_max, "roles.assumer"),
        Measured("state-mgmt trust policy", iam_size(docs["state-mgmt trust policy"]), trust_max, "roles"),
        Measured(
            "assumer inline policies", iam_size(docs["assumer inline policy"]), INLINE_POLICIES_PER_ROLE_MAX, "roles"
        ),
        Measured(
            "state-mgmt inline policies",
            iam_size(docs["state-mgmt inline policy"]),
            INLINE_POLICIES_PER_ROLE_MAX,
            "state_backend",
        ),
        Measured("bucket policy", iam_size(docs["bucket policy"]), BUCKET_POLICY_MAX, "state_backend"),
        # DynamoDB counts whitespace in resource policies.
        Measured(
            "lock table policy",
            len(json.dumps(docs["lock table policy"])),
            DYNAMODB_RESOURCE_POLICY_MAX,
            "state_backend",
        ),
    ]
    if "state key policy" in docs:
        measured.append(
            Measured(
                "state key policy",
                iam_size(docs["state key policy"]),
                KMS_KEY_POLICY_MAX,
                "state_backend.kms.key_admin_arns",
            )
        )
    measured.append(
        Measured(
            "doer inline policies",
            iam_size(docs["doer inline policy"]),
            INLINE_POLICIES_PER_ROLE_MAX,
            "roles.state_mgmt",
        )
    )
    return measured


def limit_problems(config: FederationConfig) -> list[str]:
    """One line per document over its limit, naming the config keys that make it grow."""
    return [
        f"{NAMESPACE}:{m.grows_with}: the {m.what} would be {m.size:,} characters, over its limit of {m.limit:,}"
        + (" (limits.trust_policy_max_chars; raise it only after raising the IAM quota)" if "trust" in m.what else "")
        for m in measure(config)
        if not m.fits
    ]
