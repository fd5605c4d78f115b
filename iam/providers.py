"""One explicit AWS provider per account, pinned to that account."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from federation import names
from federation.config import Account, FederationConfig
from iam.policies import role_arn

MANAGED_BY_TAG = {"ManagedBy": "pulumi/iam-federation"}


def provider_role_arn(config: FederationConfig, account: Account) -> str:
    """The role this account's provider assumes: the bootstrap role on the first run, the doer role afterwards.

    Every provider assumes a role in its own account because the assumer itself may do nothing but assume roles.
    """
    if config.providers.mode == "bootstrap":
        return names.bootstrap_role_arn(config, account.id)
    return role_arn(account.id, config.roles.doer.path, config.roles.doer.name)


def provider_name(account: Account) -> str:
    # Keyed by the account's name: the provider's URN must never change, or every child would be replaced.
    return f"aws-{account.name}"


def account_provider(config: FederationConfig, account: Account) -> aws.Provider:
    """The provider of one account. allowed_account_ids stops a run whose credentials land in another account."""
    return aws.Provider(
        provider_name(account),
        aws.ProviderArgs(
            region=config.region,
            allowed_account_ids=[account.id],
            assume_roles=[
                aws.ProviderAssumeRoleArgs(
                    role_arn=provider_role_arn(config, account),
                    session_name=config.providers.session_name,
                )
            ],
            default_tags=aws.ProviderDefaultTagsArgs(tags={**config.tags, **MANAGED_BY_TAG}),
        ),
    )


def account_providers(config: FederationConfig) -> dict[str, aws.Provider]:
    """Providers for the shared account and every application account, by account name."""
    return {account.name: account_provider(config, account) for account in config.all_accounts}


def child_options(parent: pulumi.Resource, provider: aws.Provider, **extra: object) -> pulumi.ResourceOptions:
    """Options of a component's child: parented to the component, on an explicit provider, never the default."""
    return pulumi.ResourceOptions(parent=parent, provider=provider, **extra)  # type: ignore[arg-type]
