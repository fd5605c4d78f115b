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
    """The role this account's provider ends in: the bootstrap role on a first run, the doer role afterwards.

    Every provider assumes a role in its own account because the assumer itself may do nothing but assume roles.
    providers.mode doer with accounts[].bootstrap: the bootstrap role of that account only (reached through the shared
    account's doer, see provider_assume_roles); providers.mode plan ignores the flag (plan identities reach plan doers
    only).
    """
    if settings.mode == "bootstrap" or (settings.mode == "doer" and account.bootstrap):
        return names.role_arn(account.id, "/", settings.bootstrap_role_name)
    if isinstance(doer_path, str) and isinstance(doer_name, str):
        return names.role_arn(account.id, doer_path, doer_name)
    return pulumi.Output.concat("arn:aws:iam::", account.id, ":role", doer_path, doer_name)


def provider_assume_roles(
    settings: ProviderSettings,
    account: Account,
    doer_path: pulumi.Input[str],
    doer_name: pulumi.Input[str],
    *,
    source_identity: pulumi.Input[str | None] = None,
    via: pulumi.Input[str] | None = None,
) -> list[aws.ProviderAssumeRoleArgs]:
    """The provider's role chain, in order (pulumi-aws `assumeRoles`: each role assumed with the previous session).

    via: the shared account's doer, the first hop of a bootstrap account's chain in doer mode. The run has the
    assumer's credentials, which may assume doers only; the shared doer (administrator of the shared account, part of
    the trust root) may assume the new account's bootstrap role once that role's trust admits it. No second hop for
    the shared account itself: its bootstrap role is assumed with the run's credentials.
    """
    target = aws.ProviderAssumeRoleArgs(
        role_arn=provider_role_arn(settings, account, doer_path, doer_name),
        session_name=settings.session_name,
        # A bootstrap role requires no source identity; a doer that requires one gets it on the first hop.
        source_identity=None if settings.mode == "doer" and account.bootstrap and via is not None else source_identity,
    )
    if settings.mode == "doer" and account.bootstrap and via is not None:
        first = aws.ProviderAssumeRoleArgs(
            role_arn=via, session_name=settings.session_name, source_identity=source_identity
        )
        return [first, target]
    return [target]


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
    shared_doer_arn: pulumi.Input[str] | None = None,
) -> aws.Provider:
    """The provider of one account. allowed_account_ids stops a run whose credentials land in another account.

    source_identity: set when the doers require one (sessions.require_source_identity) and the provider assumes them.
    shared_doer_arn: the first hop of this account's chain when it is bootstrapped in doer mode (None for the shared
    account itself).
    """
    return aws.Provider(
        provider_name(account),
        aws.ProviderArgs(
            region=region,
            allowed_account_ids=[account.id],
            assume_roles=provider_assume_roles(
                settings, account, doer_path, doer_name, source_identity=source_identity, via=shared_doer_arn
            ),
            default_tags=aws.ProviderDefaultTagsArgs(tags={**tags, **MANAGED_BY_TAG}),
        ),
    )


def management_assume_roles(
    *,
    account_id: str,
    mode: str,
    role_name: str | None,
    plan_role_name: str | None,
    session_name: str,
    shared_doer_arn: pulumi.Input[str],
    source_identity: pulumi.Input[str | None] = None,
) -> list[aws.ProviderAssumeRoleArgs] | None:
    """How the guard's provider gets into the management account, in each providers.mode (docs/security.md).

    bootstrap: the run has the management account's credentials; role_name, if set, is assumed with them.
    doer: the run has the assumer's credentials, which allowed_account_ids refuses there and whose policy allows
    doers only; the chain goes through the shared account's doer (trust root) to role_name, which the management
    account's administrators create trusting that doer: the assumer's own policy stays as it is.
    plan: the plan assumer assumes plan_role_name (read-only), which its policy allows by exact ARN.
    """
    if mode == "doer":
        assert role_name is not None  # the config requires it (organization_guard.role_name)
        return [
            aws.ProviderAssumeRoleArgs(
                role_arn=shared_doer_arn, session_name=session_name, source_identity=source_identity
            ),
            aws.ProviderAssumeRoleArgs(role_arn=names.role_arn(account_id, "/", role_name), session_name=session_name),
        ]
    if mode == "plan":
        assert plan_role_name is not None  # the config requires it (organization_guard.plan_role_name)
        return [
            aws.ProviderAssumeRoleArgs(
                role_arn=names.role_arn(account_id, "/", plan_role_name), session_name=session_name
            )
        ]
    if role_name:
        return [
            aws.ProviderAssumeRoleArgs(role_arn=names.role_arn(account_id, "/", role_name), session_name=session_name)
        ]
    return None


def management_provider(
    *,
    account_id: str,
    region: str,
    tags: dict[str, str],
    assume_roles: list[aws.ProviderAssumeRoleArgs] | None,
) -> aws.Provider:
    """The provider of the organization's management (or delegated administrator) account, for the guard's SCP.

    Without assume_roles it uses the run's own credentials, which allowed_account_ids still pins to that account.
    """
    return aws.Provider(
        "aws-management",
        aws.ProviderArgs(
            region=region,
            allowed_account_ids=[account_id],
            assume_roles=assume_roles,
            default_tags=aws.ProviderDefaultTagsArgs(tags={**tags, **MANAGED_BY_TAG}),
        ),
    )


def child_options(parent: pulumi.Resource, provider: aws.Provider, **extra: object) -> pulumi.ResourceOptions:
    """Options of a component's child: parented to the component, on an explicit provider, never the default."""
    return pulumi.ResourceOptions(parent=parent, provider=provider, **extra)  # type: ignore[arg-type]
