"""The doer (spoken) role of one account, created through that account's provider."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from federation import documents
from federation.config import Account, FederationConfig
from iam.providers import child_options


@dataclass(frozen=True)
class DoerRoleArgs:
    account: Account
    config: FederationConfig
    provider: aws.Provider
    assumer_arn: pulumi.Input[str]


class DoerRole(pulumi.ComponentResource):
    """Role trusted by the assumer only, with the configured managed policies attached."""

    role: aws.iam.Role

    def __init__(self, name: str, args: DoerRoleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iam-federation:iam:DoerRole", name, None, opts)
        settings = args.config.roles.doer
        self.role = aws.iam.Role(
            f"{name}-role",
            name=settings.name,
            path=settings.path,
            max_session_duration=settings.max_session_duration,
            permissions_boundary=settings.permissions_boundary_arn,
            assume_role_policy=pulumi.Output.from_input(args.assumer_arn).apply(
                lambda arn: json.dumps(documents.doer_trust(arn))
            ),
            description=f"Doer role of account {args.account.name}; trusted by the assumer role only.",
            opts=child_options(self, args.provider),
        )
        # Keyed by the configured policy key, so reordering or adding a policy touches only that attachment.
        for key, policy_arn in sorted(settings.managed_policy_arns.items()):
            aws.iam.RolePolicyAttachment(
                f"{name}-{key}",
                aws.iam.RolePolicyAttachmentArgs(role=self.role.name, policy_arn=policy_arn),
                opts=child_options(self, args.provider),
            )
        # When state-mgmt trusts only the assumer (the article's chain), the doer needs no way to it.
        if args.config.state_backend.state_mgmt_trusts_doers:
            aws.iam.RolePolicy(
                f"{name}-state-access",
                role=self.role.name,
                name="assume-state-mgmt",
                policy=json.dumps(documents.doer_state_access(args.config)),
                opts=child_options(self, args.provider),
            )
        self.register_outputs({"role_arn": self.role.arn, "role_name": self.role.name})
