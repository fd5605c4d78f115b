"""The federation wired from a validated config: providers, assumer, doers, state backend, outputs.

A complete stack holds everything; a shared stack holds the assumer, the shared account's doer and the backend;
a member stack holds the doers of its accounts and reads the rest from the shared stack's outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from federation import documents, names, snippets
from federation.config import (
    Account,
    AnyConfig,
    DoerPolicies,
    FederationConfig,
    MemberConfig,
    PlanDoerPolicies,
    ProviderSettings,
)
from iam.assumer import AssumerRole, AssumerRoleArgs
from iam.doer import DoerRole, DoerRoleArgs, SharedFacts
from iam.guard import OrganizationGuard, OrganizationGuardArgs
from iam.plan import PlanAssumerRole, PlanAssumerRoleArgs, PlanDoerRole, PlanDoerRoleArgs, PlanFacts
from iam.providers import account_provider, management_assume_roles, management_provider
from state_backend.backend import StateBackend, StateBackendArgs

SHARED_STACK_REFERENCE = "shared-stack"


@dataclass(frozen=True)
class Topology:
    providers: dict[str, aws.Provider]
    doers: dict[str, DoerRole]
    outputs: dict[str, Any]
    plan_doers: dict[str, PlanDoerRole] = field(default_factory=dict)


def _providers(
    accounts: list[Account],
    *,
    region: str,
    settings: ProviderSettings,
    tags: dict[str, str],
    shared: SharedFacts,
    plan_doer: tuple[pulumi.Input[str], pulumi.Input[str]] | None = None,
    shared_account_id: str | None = None,
) -> dict[str, aws.Provider]:
    # providers.mode = plan: `pulumi preview` with the plan identity, which may assume plan doers only.
    path, name = plan_doer if settings.mode == "plan" and plan_doer else (shared.doer_path, shared.doer_name)
    via = _shared_doer_arn(shared)
    return {
        account.name: account_provider(
            account=account,
            region=region,
            settings=settings,
            tags=tags,
            doer_path=path,
            doer_name=name,
            source_identity=_provider_source_identity(settings, shared.require_source_identity),
            # A bootstrapped account is reached through the shared doer; the shared account itself directly.
            shared_doer_arn=None if account.id == shared_account_id else via,
        )
        for account in accounts
    }


def _shared_doer_arn(shared: SharedFacts) -> pulumi.Input[str]:
    """The shared account's doer, from the assumer's ARN (same account) and the doers' path and name."""
    values = [shared.assumer_arn, shared.doer_path, shared.doer_name]
    if all(isinstance(v, str) for v in values):
        return names.role_arn(str(values[0]).split(":")[4], str(values[1]), str(values[2]))
    return pulumi.Output.all(*values).apply(lambda v: names.role_arn(str(v[0]).split(":")[4], str(v[1]), str(v[2])))


def _provider_source_identity(settings: ProviderSettings, required: pulumi.Input[bool]) -> pulumi.Input[str | None]:
    """What Pulumi's own sessions of the doers set as source identity when the doers require one.

    A fixed value (providers.session_name): a provider's settings are kept in the stack's state, so a per-person value
    would show as a change on every run by someone else. Who ran Pulumi is the session that assumed the doer.
    """
    if settings.mode != "doer":
        return None
    if isinstance(required, pulumi.Output):
        return required.apply(lambda value: settings.session_name if value else None)
    return settings.session_name if required is True else None


def _doer_roles(
    accounts: list[Account], providers: dict[str, aws.Provider], policies: DoerPolicies, shared: SharedFacts
) -> dict[str, DoerRole]:
    return {
        account.name: DoerRole(
            f"doer-{account.name}",
            DoerRoleArgs(account=account, policies=policies, provider=providers[account.name], shared=shared),
        )
        for account in accounts
    }


def _plan_doer_roles(
    accounts: list[Account],
    providers: dict[str, aws.Provider],
    policies: PlanDoerPolicies,
    plan: PlanFacts,
    runners: tuple[str, tuple[str, str]] | None = None,
) -> dict[str, PlanDoerRole]:
    """runners: the account the CI runners live in (the shared account) and the tag that marks them."""
    return {
        account.name: PlanDoerRole(
            f"plan-doer-{account.name}",
            PlanDoerRoleArgs(
                account=account,
                policies=policies,
                provider=providers[account.name],
                plan=plan,
                runner_tag=runners[1] if runners and runners[0] == account.id else None,
            ),
        )
        for account in accounts
    }


def _doer_arns(doers: Mapping[str, DoerRole | PlanDoerRole]) -> dict[str, pulumi.Output[str]]:
    return {name: doer.role.arn for name, doer in sorted(doers.items())}


def _account_facts(
    accounts: list[Account],
    region: str,
    doers: dict[str, DoerRole],
    plan_doers: dict[str, PlanDoerRole] | None = None,
) -> pulumi.Output[list[snippets.AccountFacts]]:
    """The accounts as the snippets see them, with each doer's (and plan doer's) ARN as AWS reports it."""
    arns = pulumi.Output.all(*(doers[a.name].role.arn for a in accounts))
    plan = plan_doers or {}
    plan_arns = pulumi.Output.all(*(plan[a.name].role.arn if a.name in plan else None for a in accounts))
    return pulumi.Output.all(arns, plan_arns).apply(
        lambda values: [
            snippets.AccountFacts(a.name, a.id, region, arn, plan_arn)
            for a, arn, plan_arn in zip(accounts, values[0], values[1], strict=True)
        ]
    )


def _account_hcl(facts: pulumi.Output[list[snippets.AccountFacts]]) -> pulumi.Output[dict[str, str]]:
    # One <account>/account.hcl per account of this stack: the Terragrunt files a stack owns.
    return facts.apply(lambda accounts: {a.name: snippets.account_hcl(a) for a in accounts})


def build_shared_topology(config: FederationConfig) -> Topology:
    """A complete or shared stack."""
    doer = config.roles.doer
    facts = SharedFacts(
        doer_name=doer.name,
        doer_path=doer.path,
        assumer_arn=names.assumer_arn(config),
        state_mgmt_arn=names.state_mgmt_arn(config),
        state_mgmt_trusts_doers=config.state_backend.state_mgmt_trusts_doers,
        require_source_identity=config.sessions.require_source_identity,
    )
    providers = _providers(
        config.all_accounts,
        region=config.region,
        settings=config.providers,
        tags=config.tags,
        shared=facts,
        plan_doer=(config.plan_path.doer.path, config.plan_path.doer.name),
        shared_account_id=config.shared_account.id,
    )
    shared_provider = providers[config.shared_account.name]
    assumer = AssumerRole("assumer", AssumerRoleArgs(config=config, provider=shared_provider))
    doers = _doer_roles(config.all_accounts, providers, doer, facts)
    backend = StateBackend(
        "state-backend",
        StateBackendArgs(
            config=config,
            provider=shared_provider,
            shared_doer_arn=doers[config.shared_account.name].role.arn,
        ),
    )
    if config.organization_guard.enabled:
        assert config.management_account_id is not None  # the model requires it when the guard is on
        guard = config.organization_guard
        guard_provider = management_provider(
            account_id=config.management_account_id,
            region=config.region,
            tags=config.tags,
            assume_roles=management_assume_roles(
                account_id=config.management_account_id,
                mode=config.providers.mode,
                role_name=guard.role_name,
                plan_role_name=guard.plan_role_name,
                session_name=config.providers.session_name,
                shared_doer_arn=names.doer_arns(config)[config.shared_account.name],
                source_identity=_provider_source_identity(config.providers, facts.require_source_identity),
            ),
        )
        OrganizationGuard("organization-guard", OrganizationGuardArgs(config=config, provider=guard_provider))
    plan_doers: dict[str, PlanDoerRole] = {}
    plan_outputs: dict[str, Any] = {}
    if config.plan_path.enabled:
        plan = config.plan_path
        plan_assumer = PlanAssumerRole(
            "plan-assumer",
            PlanAssumerRoleArgs(
                config=config,
                provider=shared_provider,
                extra_trust_statements=documents.oidc_plan_statements(config),
                trusted_providers=list(assumer.oidc_providers.values()),
            ),
        )
        plan_facts = PlanFacts(
            plan_doer_name=plan.doer.name,
            plan_doer_path=plan.doer.path,
            plan_assumer_arn=names.plan_assumer_arn(config),
            state_reader_arn=names.state_reader_arn(config),
            state_reader_trusts_plan_doers=config.state_backend.state_mgmt_trusts_doers,
        )
        runners = (config.shared_account.id, documents.runner_tag(config))
        plan_doers = _plan_doer_roles(config.all_accounts, providers, plan.doer, plan_facts, runners)
        assert backend.state_reader_role is not None  # the backend builds it whenever the plan path is on
        plan_outputs = {
            "plan_assumer_role_arn": plan_assumer.role.arn,
            "plan_doer_role_arns": _doer_arns(plan_doers),
            "state_reader_role_arn": backend.state_reader_role.arn,
            # What member stacks read to build their accounts' plan doers.
            "plan_doer_role_name": plan.doer.name,
            "plan_doer_role_path": plan.doer.path,
        }
    accounts = _account_facts(config.all_accounts, config.region, doers, plan_doers)
    outputs: dict[str, Any] = {
        "assumer_role_arn": assumer.role.arn,
        "instance_profile_name": assumer.instance_profile.name,
        "doer_role_arns": _doer_arns(doers),
        "state_mgmt_role_arn": backend.state_mgmt_role.arn,
        "state_bucket_name": backend.bucket.bucket,
        "lock_table_name": backend.table.name,
        "aws_config_snippet": accounts.apply(lambda facts: snippets.aws_config_snippet(config, facts)),
        "terragrunt_root_hcl": snippets.root_hcl(snippets.state_backend_facts(config)),
        "terragrunt_account_hcl": _account_hcl(accounts),
        "terragrunt_iam_role_arns": names.doer_arns(config),
        # What member stacks read through their StackReference.
        "organization_id": config.organization_id,
        "doer_role_name": doer.name,
        "doer_role_path": doer.path,
        "state_mgmt_trusts_doers": config.state_backend.state_mgmt_trusts_doers,
        **plan_outputs,
        "require_source_identity": config.sessions.require_source_identity,
        # The CI trusts' IAM OIDC providers by trust name, for whoever wires another role to the same tokens.
        "oidc_provider_arns": names.oidc_provider_arns(config),
    }
    return Topology(providers=providers, doers=doers, outputs=outputs, plan_doers=plan_doers)


def build_member_topology(config: MemberConfig) -> Topology:
    """A member stack: its accounts' doers, with everything shared read from the shared stack."""
    assert config.stack.shared_stack is not None  # the model guarantees it for members
    shared = pulumi.StackReference(SHARED_STACK_REFERENCE, stack_name=config.stack.shared_stack)
    facts = SharedFacts(
        doer_name=shared.require_output("doer_role_name"),
        doer_path=shared.require_output("doer_role_path"),
        assumer_arn=shared.require_output("assumer_role_arn"),
        state_mgmt_arn=shared.require_output("state_mgmt_role_arn"),
        state_mgmt_trusts_doers=shared.require_output("state_mgmt_trusts_doers"),
        # get_output: a shared stack deployed before this key existed requires none.
        require_source_identity=pulumi.Output.from_input(shared.get_output("require_source_identity")).apply(bool),
    )
    plan_doer = (
        (shared.require_output("plan_doer_role_path"), shared.require_output("plan_doer_role_name"))
        if config.providers.mode == "plan"
        else None
    )
    providers = _providers(
        config.accounts,
        region=config.region,
        settings=config.providers,
        tags=config.tags,
        shared=facts,
        plan_doer=plan_doer,
    )
    doers = _doer_roles(config.accounts, providers, config.roles.doer, facts)
    plan_doers: dict[str, PlanDoerRole] = {}
    if config.plan_path.enabled:
        # The shared stack must have the plan path on too: its outputs name the plan roles (checked by the plan).
        plan_facts = PlanFacts(
            plan_doer_name=shared.require_output("plan_doer_role_name"),
            plan_doer_path=shared.require_output("plan_doer_role_path"),
            plan_assumer_arn=shared.require_output("plan_assumer_role_arn"),
            state_reader_arn=shared.require_output("state_reader_role_arn"),
            state_reader_trusts_plan_doers=shared.require_output("state_mgmt_trusts_doers"),
        )
        plan_doers = _plan_doer_roles(config.accounts, providers, config.plan_path.doer, plan_facts)
    arns = _doer_arns(doers)
    accounts = _account_facts(config.accounts, config.region, doers, plan_doers)
    outputs: dict[str, Any] = {
        "doer_role_arns": arns,
        "terragrunt_iam_role_arns": arns,
        # To append to the shared stack's aws_config_snippet, which holds the assumer profile these start from.
        "aws_config_snippet": accounts.apply(_member_profiles if plan_doers else snippets.doer_profiles),
        "terragrunt_account_hcl": _account_hcl(accounts),
    }
    if plan_doers:
        outputs["plan_doer_role_arns"] = _doer_arns(plan_doers)
    return Topology(providers=providers, doers=doers, outputs=outputs, plan_doers=plan_doers)


def _member_profiles(accounts: list[snippets.AccountFacts]) -> str:
    return snippets.doer_profiles(accounts) + "\n" + snippets.plan_doer_profiles(accounts)


def build_topology(config: AnyConfig) -> Topology:
    if isinstance(config, MemberConfig):
        return build_member_topology(config)
    return build_shared_topology(config)
