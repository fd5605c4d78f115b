"""One explicit AWS provider per account, pinned to that account."""

from __future__ import annotations

import pulumi
import pulumi_aws as aws

from federation import names
from federation.config import Account, ProviderSettings

MANAGED_BY_TAG = {"ManagedBy": "pulumi/iam-federation"}


def provider_role_arn(
    settings: ProviderSettings, account: Account, doer_path: pulumi.Input[str], doer_name: pulumi.Input[str]
) -> pulumi.Input[str]:
    """The role this account's provider assumes: the bootstrap role on the first run, the doer role afterwards.

    Every provider assumes a role in its own account because the assumer itself may do nothing but assume roles.
    """
    if settings.mode == "bootstrap":
        return names.role_arn(account.id, "/", settings.bootstrap_role_name)
    if isinstance(doer_path, str) and isinstance(doer_name, str):
        return names.role_arn(account.id, doer_path, doer_name)
    return pulumi.Output.concat("arn:aws:iam::", account.id, ":role", doer_path, doer_name)


def provider_name(account: Account) -> str:
    # Keyed by the account's name: the provider's URN must never change, or every child would be replaced.
    return f"aws-{account.name}"


def account_provider(
    *,
    account: Account,
    region: str,
    settings: ProviderSettings,
    tags: dict[str, str],
    doer_path: pulumi.Input[str],
    doer_name: pulumi.Input[str],
    source_identity: pulumi.Input[str | None] = None,
) -> aws.Provider:
    """The provider of one account. allowed_account_ids stops a run whose credentials land in another account.

    source_identity: set when the doers require one (sessions.require_source_identity) and the provider assumes them.
    """
    return aws.Provider(
        provider_name(account),
        aws.ProviderArgs(
            region=region,
            allowed_account_ids=[account.id],
            assume_roles=[
                aws.ProviderAssumeRoleArgs(
                    role_arn=provider_role_arn(settings, account, doer_path, doer_name),
                    session_name=settings.session_name,
                    source_identity=source_identity,
                )
            ],
            default_tags=aws.ProviderDefaultTagsArgs(tags={**tags, **MANAGED_BY_TAG}),
        ),
    )


def management_provider(
    *, account_id: str, role_name: str | None, region: str, session_name: str, tags: dict[str, str]
) -> aws.Provider:
    """The provider of the organization's management (or delegated administrator) account, for the guard's SCP.

    Without role_name it uses the run's own credentials, which allowed_account_ids still pins to that account.
    """
    assume = (
        [aws.ProviderAssumeRoleArgs(role_arn=names.role_arn(account_id, "/", role_name), session_name=session_name)]
        if role_name
        else None
    )
    return aws.Provider(
        "aws-management",
        aws.ProviderArgs(
            region=region,
            allowed_account_ids=[account_id],
            assume_roles=assume,
            default_tags=aws.ProviderDefaultTagsArgs(tags={**tags, **MANAGED_BY_TAG}),
        ),
    )


def child_options(parent: pulumi.Resource, provider: aws.Provider, **extra: object) -> pulumi.ResourceOptions:
    """Options of a component's child: parented to the component, on an explicit provider, never the default."""
    return pulumi.ResourceOptions(parent=parent, provider=provider, **extra)  # type: ignore[arg-type]
