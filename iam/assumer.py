"""The assumer (spoke) role in the shared account, and the CI runners' instance profile."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from federation import documents
from federation.config import FederationConfig
from iam.providers import child_options


@dataclass(frozen=True)
class AssumerRoleArgs:
    config: FederationConfig
    provider: aws.Provider


class AssumerRole(pulumi.ComponentResource):
    """Role + inline policy + instance profile, and the OIDC providers of the CI trusts that name none.

    The role may assume the doers and state-mgmt, and nothing else.
    """

    def __init__(self, name: str, args: AssumerRoleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iam-federation:iam:AssumerRole", name, None, opts)
        settings = args.config.roles.assumer
        # No thumbprints: for GitHub, GitLab and other issuers IAM verifies the JWKS endpoint against its own trusted
        # CAs, or fetches the thumbprint itself (pulumi-aws 7.x OpenIdConnectProvider.thumbprint_lists docs).
        self.oidc_providers: dict[str, aws.iam.OpenIdConnectProvider] = {
            trust.name: aws.iam.OpenIdConnectProvider(
                f"{name}-oidc-{trust.name}",
                url=trust.issuer,
                client_id_lists=[trust.aud],
                opts=child_options(self, args.provider),
            )
            for trust in args.config.ci.oidc
            if not trust.provider_arn
        }
        self.role: aws.iam.Role = aws.iam.Role(
            f"{name}-role",
            name=settings.name,
            path=settings.path,
            max_session_duration=settings.max_session_duration,
            assume_role_policy=json.dumps(documents.assumer_trust(args.config)),
            description="Spoke role of the CI runners and SSO break-glass; assumes doers and state-mgmt only.",
            # The trust names the providers by ARN (known from config), and IAM refuses a Federated principal that
            # does not exist yet: create them first.
            opts=child_options(self, args.provider, depends_on=list(self.oidc_providers.values())),
        )
        self.policy = aws.iam.RolePolicy(
            f"{name}-assume-only",
            role=self.role.name,
            name="assume-doers-and-state-mgmt",
            policy=json.dumps(documents.assumer_permissions(args.config)),
            opts=child_options(self, args.provider),
        )
        self.instance_profile: aws.iam.InstanceProfile = aws.iam.InstanceProfile(
            f"{name}-instance-profile",
            name=args.config.ci.instance_profile_name,
            path=settings.path,
            role=self.role.name,
            opts=child_options(self, args.provider),
        )
        self.register_outputs(
            {
                "role_arn": self.role.arn,
                "role_name": self.role.name,
                "instance_profile_name": self.instance_profile.name,
            }
        )
