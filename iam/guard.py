"""The optional organization guard: an SCP that keeps the federation's roles to the roles that deploy them."""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from federation import documents, limits
from federation.config import FederationConfig
from iam.providers import child_options


@dataclass(frozen=True)
class OrganizationGuardArgs:
    config: FederationConfig
    # A provider in the management account (or a delegated policy administrator): only they write SCPs.
    provider: aws.Provider


class OrganizationGuard(pulumi.ComponentResource):
    """One service control policy, attached to each configured root, OU or account."""

    def __init__(self, name: str, args: OrganizationGuardArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iam-federation:iam:OrganizationGuard", name, None, opts)
        config = args.config
        self.policy: aws.organizations.Policy = aws.organizations.Policy(
            f"{name}-scp",
            name="iam-federation-guard",
            type="SERVICE_CONTROL_POLICY",
            description="Only the federation's deployers change its roles; only launchers pass the runners' role.",
            # Minified: Organizations counts the SCP's characters as sent (5,120 at most), and limits.py measures
            # exactly this string.
            content=limits.minified(documents.organization_guard(config)),
            opts=child_options(self, args.provider),
        )
        # Keyed by the target id: adding a target adds one attachment and touches no other.
        for target in sorted(config.organization_guard.target_ids):
            aws.organizations.PolicyAttachment(
                f"{name}-{target}",
                policy_id=self.policy.id,
                target_id=target,
                opts=child_options(self, args.provider),
            )
        self.register_outputs({"policy_id": self.policy.id})
