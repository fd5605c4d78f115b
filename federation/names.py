"""ARNs derived from config alone, so policies, outputs and snippets all quote the same strings."""

from __future__ import annotations

from federation.config import FederationConfig
from iam.policies import oidc_provider_arn, role_arn

__all__ = [
    "assumer_arn",
    "bootstrap_role_arn",
    "deployer_arns",
    "doer_arns",
    "guard_reader_arn",
    "oidc_provider_arns",
    "plan_assumer_arn",
    "plan_doer_arns",
    "role_arn",
    "state_mgmt_arn",
    "state_reader_arn",
    "state_reader_arn_if_enabled",
]


def assumer_arn(config: FederationConfig) -> str:
    settings = config.roles.assumer
    return role_arn(config.shared_account.id, settings.path, settings.name)


def doer_arns(config: FederationConfig) -> dict[str, str]:
    """The doer role ARN of every account, by account name, the shared account first."""
    doer = config.roles.doer
    return {account.name: role_arn(account.id, doer.path, doer.name) for account in config.all_accounts}


def state_mgmt_arn(config: FederationConfig) -> str:
    settings = config.roles.state_mgmt
    return role_arn(config.shared_account.id, settings.path, settings.name)


def bootstrap_role_arn(config: FederationConfig, account_id: str) -> str:
    return role_arn(account_id, "/", config.providers.bootstrap_role_name)


def deployer_arns(config: FederationConfig) -> list[str]:
    """The roles Pulumi runs as in the shared account: the bootstrap role (first run) and the shared doer (after).

    Only they may change the state bucket's and lock table's settings; both stay listed whatever providers.mode says,
    so switching the mode never locks Pulumi out of its own backend.
    """
    shared = config.shared_account
    return [bootstrap_role_arn(config, shared.id), doer_arns(config)[shared.name]]


def account_ids(config: FederationConfig, names: list[str]) -> list[str]:
    ids = {account.name: account.id for account in config.all_accounts}
    return [ids[name] for name in names]


def plan_assumer_arn(config: FederationConfig) -> str:
    settings = config.plan_path.assumer
    return role_arn(config.shared_account.id, settings.path, settings.name)


def plan_doer_arns(config: FederationConfig) -> dict[str, str]:
    """The plan doer role ARN of every account, by account name, the shared account first."""
    doer = config.plan_path.doer
    return {account.name: role_arn(account.id, doer.path, doer.name) for account in config.all_accounts}


def state_reader_arn(config: FederationConfig) -> str:
    settings = config.plan_path.state_reader
    return role_arn(config.shared_account.id, settings.path, settings.name)


def state_reader_arn_if_enabled(config: FederationConfig) -> str | None:
    """The state reader the backend's guards must let read, or None when the plan path is off."""
    return state_reader_arn(config) if config.plan_path.enabled else None


def oidc_provider_arns(config: FederationConfig) -> dict[str, str]:
    """The IAM OIDC provider of every CI trust, by trust name: the configured one, or the one created in the shared
    account (IAM names it after the issuer's host and path, so its ARN is known before it exists)."""
    return {
        trust.name: trust.provider_arn or oidc_provider_arn(config.shared_account.id, trust.issuer)
        for trust in config.ci.oidc
    }


def guard_reader_arn(config: FederationConfig) -> str | None:
    """The read-only role in the management account that `pulumi preview` on the plan path reads the guard through."""
    guard = config.organization_guard
    if not (guard.enabled and guard.plan_role_name and config.management_account_id):
        return None
    return role_arn(config.management_account_id, "/", guard.plan_role_name)
