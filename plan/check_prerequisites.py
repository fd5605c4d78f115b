"""The engine's prerequisites: every provider can get its credentials before the run creates anything.

pulumi-aws (terraform-provider-aws underneath) configures each provider before any of its resources is created, and
validates the credentials it gets then (``skip_credentials_validation`` defaults to false): it calls
sts:AssumeRole for each role of ``assumeRoles`` in order, then checks the account against ``allowed_account_ids``.
So a provider that assumes a role this same run creates, or a role its credentials may not assume, fails `preview`
and `up` before anything happens. This check replays each provider's chain from the credentials the run has in its
providers.mode (bootstrap: the management account's, outside this model; doer: the assumer; plan: the plan assumer),
judging each hop with the evaluator on the documents the program registers, and, with `make plan BASE=`, whether
each role the chain needs exists in the deployed base.

With a base it also refuses a delete that runs as the role it deletes (self_deletions): in doer mode a removed
account's doer, or every doer on `pulumi destroy`, is deleted through the provider that assumes it.

Roles the program does not register (an account's bootstrap role, the management account's guard roles) cannot be
judged here: their existence and trust are assumptions this module states (see notes()).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from federation.config import AnyConfig, FederationConfig
from plan.checks import Finding, PlanInput
from plan.diff import Base, BaseResource, Change, changes_of, stack_of
from plan.evaluator import ContextValue, Principal, Request, evaluate
from plan.model import RoleModel
from plan.runner import PROVIDER_TYPE, ProgramRun, Registration
from plan.world import ADMIN, managed

CHECK = "engine-prerequisites"
CONFIGURE = (
    "pulumi-aws configures a provider before its resources (terraform-provider-aws internal/conns/config.go via "
    "aws-sdk-go-base: assume_role chain, then allowed_account_ids; skip_credentials_validation false)"
)
EVALUATOR = "plan/evaluator.py (principalmapper 1.1.5) on the registered identity policy and trust"
ASSUMER_ROLE = "assumer-role"
PLAN_ASSUMER_ROLE = "plan-assumer-role"


@dataclass(frozen=True)
class Hop:
    role_arn: str
    source_identity: str | None


def _chain(inputs: dict[str, Any]) -> list[Hop]:
    raw: Any = inputs.get("assumeRoles")
    values = json.loads(raw) if isinstance(raw, str) else (raw or [])
    return [Hop(str(v["roleArn"]), v.get("sourceIdentity") or None) for v in values]


def chain_of(provider: Registration) -> list[Hop]:
    """A provider's assumeRoles as the SDK sends them (a JSON text for a provider's nested inputs)."""
    return _chain(provider.inputs)


def _allowed_in(inputs: dict[str, Any]) -> str:
    raw: Any = inputs.get("allowedAccountIds")
    values = json.loads(raw) if isinstance(raw, str) else (raw or [])
    return str(values[0]) if values else ""


def _allowed_account(provider: Registration) -> str:
    return _allowed_in(provider.inputs)


def _account_of(arn: str) -> str:
    return arn.split(":")[4]


def _principal(role: RoleModel, org_id: str, said_who: str | None) -> Principal:
    policies = tuple(role.inline.items()) + tuple((arn.rsplit("/", 1)[-1], managed(arn)) for arn in role.managed_arns)
    context: tuple[tuple[str, ContextValue], ...] = (
        (("aws:SourceIdentity", said_who), ("sts:SourceIdentity", said_who)) if said_who else ()
    )
    return Principal(f"role:{role.arn}", role.arn, org_id, policies, None, False, context)


def _bootstrap_principal(arn: str, org_id: str) -> Principal:
    # AWS Organizations creates OrganizationAccountAccessRole with AdministratorAccess (AWS Organizations User
    # Guide, "Accessing member accounts"); another bootstrap_role_name is assumed to be an administrator too.
    return Principal(f"role:{arn}", arn, org_id, (("AdministratorAccess", ADMIN),))


@dataclass
class _Context:
    plan: PlanInput
    base: Base | None
    roles_by_arn: dict[str, tuple[str, RoleModel]]
    verdicts: dict[tuple[str, ...], bool]
    # The stack each registered role belongs to: a base is one stack's export (or a plan's state.json of several);
    # a role of a stack the base does not hold (a member's shared stack) is taken as deployed.
    stack_of_role: dict[str, str]

    def missing(self, arn: str) -> bool:
        if self.base is None:
            return False
        return self.stack_of_role.get(arn) in self.base.stacks and arn not in self.base.role_arns


def _config_key(config: AnyConfig, account_id: str) -> str:
    if isinstance(config, FederationConfig) and config.shared_account.id == account_id:
        return "shared_account"
    for i, account in enumerate(config.accounts):
        if account.id == account_id:
            return f"accounts[{i}]"
    return f"the account {account_id}"


def _run_identity(config: AnyConfig, ctx: _Context) -> tuple[str, RoleModel] | None:
    """The role whose credentials a run in this providers.mode has (None: management credentials, bootstrap)."""
    logical = {"doer": ASSUMER_ROLE, "plan": PLAN_ASSUMER_ROLE}.get(config.providers.mode)
    if logical is None:
        return None
    role = ctx.plan.model.roles.get(logical)
    return (logical, role) if role else None


def _missing_fix(config: AnyConfig, provider: Registration, arn: str, logical: str) -> str:
    mode = config.providers.mode
    account = _account_of(arn)
    key = _config_key(config, account)
    if mode == "plan":
        return (
            "the plan identity reaches deployed plan doers only: this change can be previewed on the plan path "
            "after its first `up` (plan it offline with `make plan BASE=`)"
        )
    if logical.startswith("doer-") and key != "shared_account" and _account_of(arn) == _allowed_account(provider):
        return (
            f"set {key}.bootstrap: true for the first `up` (its provider then reaches "
            f"{config.providers.bootstrap_role_name} through the shared account's doer; a management administrator "
            "first adds the shared doer to that role's trust, `make plan` prints the statement), remove it after"
        )
    return (
        "the shared account's doer is not deployed (first deployment, or roles.doer name or path changed): run this "
        "`up` with providers.mode: bootstrap and management-account credentials, then switch back to doer "
        "(README, 'Day two')"
    )


def _denied_fix(config: AnyConfig, arn: str) -> str:
    if not arn.endswith(f":role/{config.providers.bootstrap_role_name}"):
        return ""
    return (
        f"; {_config_key(config, _account_of(arn))}.bootstrap: the assumer may assume doers and state-mgmt only: "
        "for the shared account run this `up` with providers.mode: bootstrap and management-account credentials"
    )


def _allowed(ctx: _Context, principal: Principal, arn: str, target: RoleModel | None, org_id: str) -> bool:
    trust = json.dumps(target.trust, sort_keys=True) if target else ""
    # Identical documents across accounts: one evaluation per (who, which kind of role, same account or not).
    tail = arn.split(":role", 1)[1]
    key = (principal.key, tail, trust, str(principal.account == _account_of(arn)), str(principal.context))
    if key not in ctx.verdicts:
        request = Request(
            "sts:AssumeRole",
            arn,
            _account_of(arn),
            target.trust if target else None,
            (("aws:ResourceOrgID", org_id),),
        )
        ctx.verdicts[key] = evaluate(principal, request, explain=False).allowed
    return ctx.verdicts[key]


def _provider_findings(
    ctx: _Context, config: AnyConfig, run: ProgramRun, provider: Registration, org_id: str
) -> list[Finding]:
    findings: list[Finding] = []
    chain = chain_of(provider)
    allowed = _allowed_account(provider)
    identity = _run_identity(config, ctx)
    mode = config.providers.mode
    if not chain:
        if identity and allowed != identity[1].account:
            findings.append(
                Finding(
                    CHECK,
                    provider.urn,
                    f"no assumeRoles: the run's own credentials ({identity[0]}, account {identity[1].account}, in "
                    f"providers.mode {mode}), allowedAccountIds = [{allowed}]",
                    "the provider refuses credentials of another account than allowed_account_ids"
                    + (
                        "; set organization_guard.role_name (doer) / plan_role_name (plan) (docs/security.md)"
                        if provider.name == "aws-management"
                        else ""
                    ),
                    CONFIGURE,
                )
            )
        return findings
    if _account_of(chain[-1].role_arn) != allowed:
        findings.append(
            Finding(
                CHECK,
                provider.urn,
                f"assumeRoles ends in {chain[-1].role_arn}, allowedAccountIds = [{allowed}]",
                "the provider refuses credentials of another account than allowed_account_ids",
                CONFIGURE,
            )
        )
    principal = _principal(identity[1], org_id, None) if identity else None
    said_who: str | None = None
    for hop in chain:
        said_who = said_who or hop.source_identity
        registered = ctx.roles_by_arn.get(hop.role_arn)
        target = registered[1] if registered else None
        if registered and ctx.base is not None and ctx.missing(hop.role_arn):
            findings.append(
                Finding(
                    CHECK,
                    provider.urn,
                    f"assumeRoles: {hop.role_arn} ({registered[0]})",
                    f"not in the base {ctx.base.source}: this run would create it, after configuring the provider "
                    f"that needs it; {_missing_fix(config, provider, hop.role_arn, registered[0])}",
                    CONFIGURE,
                )
            )
        if principal is not None:
            if said_who:
                principal = Principal(
                    principal.key + "+si",
                    principal.arn,
                    principal.org_id,
                    principal.identity_policies,
                    principal.boundary,
                    False,
                    (("aws:SourceIdentity", said_who), ("sts:SourceIdentity", said_who)),
                )
            if not _allowed(ctx, principal, hop.role_arn, target, org_id):
                findings.append(
                    Finding(
                        CHECK,
                        provider.urn,
                        f"assumeRoles: {principal.arn} -> sts:AssumeRole {hop.role_arn}",
                        "denied: the caller's policy"
                        + (" or the role's trust" if target else " (the role is not the program's: its trust unseen)")
                        + " does not allow this hop, so the provider cannot be configured"
                        + _denied_fix(config, hop.role_arn),
                        EVALUATOR,
                    )
                )
                break
        if target is not None:
            principal = _principal(target, org_id, said_who)
        elif hop.role_arn.endswith(f":role/{config.providers.bootstrap_role_name}"):
            principal = _bootstrap_principal(hop.role_arn, org_id)
        else:
            principal = None  # a role outside the program (the management account's): its policies unseen
    return findings


# The engine deletes a resource through the provider its state names (pulumi/pulumi pkg/resource/deploy: deletes run
# last, in reverse dependency order: a role's policies and attachments, then the role, then a removed provider),
# configured from the program's inputs when the program still registers that provider, else from the base's.
DELETES_AS = (
    "pulumi/pulumi pkg/resource/deploy (a delete runs through the resource's provider, a removed provider configured "
    "from its state); terraform-provider-aws internal/service/iam/role.go (DeleteRole after the role's policies)"
)
SELF_TYPES = {
    "aws:iam/role:Role": ("delete", "replace"),
    "aws:iam/rolePolicy:RolePolicy": ("delete",),
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": ("delete",),
}


def _role_of(resource: BaseResource) -> str:
    """The role name a role, role policy or attachment of the base belongs to."""
    if resource.type == "aws:iam/role:Role":
        return str(resource.outputs.get("name") or resource.inputs.get("name") or "")
    return str(resource.inputs.get("role") or "")


def _self_fix(provider_name: str, account: str, shared_id: str, destroy: bool) -> str:
    if account == shared_id or destroy:
        return (
            "run this `up` (or `pulumi destroy`) in providers.mode: bootstrap with management-account credentials "
            "(every provider then assumes its account's bootstrap role, not a role it deletes; README, 'Day two')"
        )
    name = provider_name.removeprefix("aws-")
    return (
        f"first `up` with accounts entry {name!r} still listed and bootstrap: true (its provider then reaches the "
        "bootstrap role through the shared account's doer, not the doer it deletes; the bootstrap role must trust "
        "the shared doer: `make plan` prints the statement), then remove the entry; or run this `up` in "
        "providers.mode: bootstrap with management-account credentials"
    )


def self_deletions(plan: PlanInput, base: Base, changes: list[Change]) -> list[Finding]:
    """A delete (or a role's replacement) of a role that the deleting provider's own chain assumes, or of that role's
    policies and attachments: once its permissions go, the rest is AccessDenied and the role is left half-deleted."""
    registered = {r.urn: r for run in plan.runs for r in run.by_type(PROVIDER_TYPE)}
    shared_id = plan.selection.organization.shared_account.id
    destroy = not any(c.action != "delete" for c in changes)
    findings: list[Finding] = []
    for change in changes:
        old = base.resources.get(change.urn)
        if old is None or change.action not in SELF_TYPES.get(change.type, ()):
            continue
        provider = registered.get(old.provider)
        inputs = (
            provider.inputs
            if provider
            else (base.resources[old.provider].inputs if old.provider in base.resources else {})
        )
        account = _allowed_in(inputs)
        role = _role_of(old)
        for hop in _chain(inputs):
            if _account_of(hop.role_arn) != account or hop.role_arn.rsplit("/", 1)[-1] != role or not role:
                continue
            if change.type == "aws:iam/role:Role" and str(old.outputs.get("arn", hop.role_arn)) != hop.role_arn:
                continue
            provider_name = old.provider.rsplit("::", 1)[-1]
            findings.append(
                Finding(
                    CHECK,
                    change.urn,
                    f"{change.action} through {provider_name}, whose assumeRoles assume {hop.role_arn}",
                    "the provider deletes the role it runs as: once its policies are detached or deleted the "
                    "remaining deletes are AccessDenied and the role is left half-deleted; "
                    + _self_fix(provider_name, account, shared_id, destroy),
                    DELETES_AS,
                )
            )
            break
    return findings


def check(plan: PlanInput) -> list[Finding]:
    base = plan.extras.get("base")
    ctx = _Context(
        plan,
        base if isinstance(base, Base) else None,
        {role.arn: (logical, role) for logical, role in plan.model.roles.items()},
        {},
        {str(r.state["arn"]): stack_of(r.urn) for run in plan.runs for r in run.by_type("aws:iam/role:Role")},
    )
    org_id = plan.selection.organization.organization_id
    findings: list[Finding] = []
    for stack, run in zip(plan.selection.stacks, plan.runs, strict=True):
        for provider in run.by_type(PROVIDER_TYPE):
            findings += _provider_findings(ctx, stack.config, run, provider, org_id)
    changes = changes_of(plan)
    if ctx.base is not None and changes is not None:
        findings += self_deletions(plan, ctx.base, changes)
    return findings


def bootstrap_trust_statement(shared_account_id: str, shared_doer_arn: str) -> dict[str, Any]:
    """What a management administrator adds to a new account's bootstrap role's trust before its first `up`."""
    return {
        "Sid": "IamFederationBootstrap",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:aws:iam::{shared_account_id}:root"},
        "Action": ["sts:AssumeRole", "sts:SetSourceIdentity"],
        "Condition": {"ArnEquals": {"aws:PrincipalArn": shared_doer_arn}},
    }


def notes(plan: PlanInput) -> list[str]:
    """What the check assumed, and what the user does next about bootstrap flags (printed, never failing)."""
    base = plan.extras.get("base")
    base = base if isinstance(base, Base) else None
    organization = plan.selection.organization
    shared = organization.shared_account
    doer = organization.roles.doer
    shared_doer = f"arn:aws:iam::{shared.id}:role{doer.path}{doer.name}"
    lines: list[str] = []
    used: set[str] = set()
    registered = {role.arn for role in plan.model.roles.values()}
    for run in plan.runs:
        for provider in run.by_type(PROVIDER_TYPE):
            used |= {hop.role_arn for hop in chain_of(provider) if hop.role_arn in registered}
    if base is None and used:
        lines.append(
            f"Engine prerequisites without BASE: assumed already deployed: the {len(used)} role(s) this program "
            "creates that its providers assume (the doers or plan doers); for a new account, or a changed "
            "roles.doer name or path, that is false: run `make plan BASE=<pulumi stack export>`"
        )
    for stack in plan.selection.stacks:
        config = stack.config
        if config.providers.mode != "doer":
            continue
        accounts = [("shared_account", shared)] if isinstance(config, FederationConfig) else []
        accounts += [(f"accounts[{i}]", a) for i, a in enumerate(config.accounts)]
        for key, account in accounts:
            if not account.bootstrap:
                continue
            arn = f"arn:aws:iam::{account.id}:role{doer.path}{doer.name}"
            statement = json.dumps(bootstrap_trust_statement(shared.id, shared_doer), separators=(",", ":"))
            if base is not None and arn in base.role_arns:
                lines.append(
                    f"{stack.name}: {key}.bootstrap: true: its doer is deployed (in the base): remove the flag; its "
                    "provider then assumes the doer (an in-place update of the provider, no resource replaced), and "
                    "take the bootstrap statement out of the bootstrap role's trust. To remove the account instead: "
                    "`up` with the flag (the bootstrap role's trust must hold "
                    f"{statement}), then remove the entry: its deletes run as the bootstrap role, not as its doer"
                )
                continue
            lines.append(
                f"{stack.name}: {key}.bootstrap: true: before the first `up`, a management administrator adds to "
                f"arn:aws:iam::{account.id}:role/{config.providers.bootstrap_role_name}'s trust: {statement}; "
                "after it, remove the flag and the statement"
            )
    return lines
