"""Escalation analysis: who reaches what in any number of steps, and the shortest way there.

The graph's nodes are the world's principals (plan.world); an edge is a request the evaluator allows that makes the
caller someone else: assuming a role (trust policy, caller's policies, SCPs and the request's tags and org ids),
taking a role over by rewriting its trust, creating a role under a name some document trusts (with or without
writing its policies), passing the runners' role to an instance. What a node reaches is every asset it may touch
in one request; what a source reaches is what every node it can become reaches. Reconfiguring the bucket or the
table needs no edge: those calls are assets of the trust root, so being able to make one is already a finding.

The promise is from config: a principal that is not the trust root reaches at most its own account's state (and
the state the config makes readable). Any other reach is a finding with its shortest path; a finding the config
took on knowingly (accepted risks) or that the issue names as the trust root's (passing the runners' role when no
guard is configured) is reported as a named risk instead of a failure.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from federation import documents
from federation.config import RISKS, FederationConfig
from plan.matrix import PLAN_READS, READ_ONLY, Matrix
from plan.world import PLAN, Node, Target, World, arn_like, plan_scope

RUNNER_RISK = "runner-role-pass"
RUNNER_TAKEOVER_RISK = "runner-instance-takeover"
ROOT_USER_RISK = "shared-root-user"
RUNNER_SECRETS_RISK = "runner-secret-read"
PLAN_PERMISSION_SET_RISK = "runners-account-plan-permission-set"
# Sessions tagged with an account (StateAccount): legacy state (isolate_accounts = false) lets them reach any.
STATE_SESSIONS = ("state-mgmt", "state-reader")
NAMED_RISKS = {
    **RISKS,
    RUNNER_RISK: "anyone in the shared account who may pass the runners' role to EC2 launches an instance with the "
    "runners' profile (into the runners' own subnets, in the worst case) and becomes the assumer; the "
    "organization guard closes it (PassRunnerRoleOnlyToLaunchers)",
    RUNNER_TAKEOVER_RISK: "any principal of the runners' account (the shared account) other than the platform roles "
    "that may make any write call on a runner or what it boots from (instances, volumes, snapshots, images, launch "
    "templates, groups, SSM documents, parameters, maintenance windows, automation, ECR images, S3 objects) runs "
    "code as the assumer, without any IAM power; the organization guard's perimeter (RunnersAccountPlatformOnly) "
    "closes it: nobody but the platform roles acts in that account",
    RUNNER_SECRETS_RISK: "any principal of the runners' account (the shared account) other than the platform roles "
    "that may read what the runners are launched with (launch template versions, launch configurations, spot "
    "requests, instance user data, console output, SSM parameters: plan.runner_secrets) holds their registration "
    "tokens, registers a runner of its own, is sent the apply job and so becomes the assumer; the organization "
    "guard's perimeter (RunnersAccountPlatformOnly) closes it",
    ROOT_USER_RISK: "the shared account's root user (or an sts:AssumeRoot session from the management account or its "
    "delegated administrator) may always rewrite the state bucket's and lock table's policies; only the "
    "organization guard (ProtectStateBackendPolicies) binds it. The plan does not model the root user",
}


@dataclass(frozen=True)
class Hop:
    node: str  # where this hop lands
    via: str  # the request (target key) that made it
    previous: str  # the node that made it


@dataclass
class Reach:
    source: str
    hops: dict[str, Hop | None]  # reached node -> how it was first reached (None for the source)
    assets: dict[str, str]  # asset target key -> the nearest reached node that may touch it

    def path(self, node: str) -> list[Hop]:
        result: list[Hop] = []
        hop = self.hops[node]
        while hop is not None:
            result.append(hop)
            hop = self.hops[hop.previous]
        return list(reversed(result))

    def describe(self, reached: str) -> str:
        """source -[request]-> node -[request]-> ... ending at a node or an asset."""
        node = self.assets.get(reached, reached)
        text = self.source
        for hop in self.path(node):
            text += f" -[{hop.via}]-> {hop.node}"
        if reached in self.assets:
            text += f" -[{reached}]"
        return text


@dataclass
class Finding:
    source: str
    reached: str  # a node or an asset target key
    path: str
    risk: str | None  # a named risk, or None: a failure

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "reached": self.reached, "path": self.path, "risk": self.risk}


@dataclass
class Escalation:
    reaches: dict[str, Reach]
    findings: list[Finding]
    risks: dict[str, str] = field(default_factory=dict)

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.risk is None]

    def who_reaches(self, asset: str) -> list[str]:
        return [source for source, reach in self.reaches.items() if asset in reach.assets or asset in reach.hops]


def edges(matrix: Matrix) -> dict[str, list[tuple[str, str]]]:
    """node -> [(node it may become, the request that makes it so)], from the evaluated cells."""
    result: dict[str, list[tuple[str, str]]] = {key: [] for key in matrix.world.nodes}
    for cell in matrix.cells:
        if not cell.actual:
            continue
        for node in matrix.world.targets[cell.target].leads_to:
            if node != cell.principal:
                result[cell.principal].append((node, cell.target))
    return result


def assets(matrix: Matrix) -> dict[str, list[str]]:
    """node -> the assets it may touch in one request (targets the promise judges by owner)."""
    result: dict[str, list[str]] = {key: [] for key in matrix.world.nodes}
    for cell in matrix.cells:
        if cell.actual and matrix.world.targets[cell.target].owner is not None:
            result[cell.principal].append(cell.target)
    return result


def reach(source: str, graph: dict[str, list[tuple[str, str]]], touches: dict[str, list[str]]) -> Reach:
    """Breadth first, so every node and asset is reached by a shortest path."""
    hops: dict[str, Hop | None] = {source: None}
    found: dict[str, str] = {}
    queue = deque([source])
    while queue:
        node = queue.popleft()
        for asset in touches[node]:
            found.setdefault(asset, node)
        for following, via in graph[node]:
            if following not in hops:
                hops[following] = Hop(following, via, node)
                queue.append(following)
    return Reach(source, hops, found)


def _allowed_to(config: FederationConfig, source: Node, owner: str | None, target: Target | None) -> bool:
    """Does the promise let this source reach something owned by ``owner``?"""
    if owner is None or owner == source.owner:
        return True
    if plan_scope(source.owner) is not None:
        return _plan_allows(config, source, owner, target)
    if owner == PLAN + source.owner:
        return True  # an account's own plan doer and state-reader session are within its reach
    if target is not None and target.kind in READ_ONLY and config.state_backend.isolate_accounts:
        return target.readable
    return False


def _plan_allows(config: FederationConfig, source: Node, owner: str, target: Target | None) -> bool:
    """A plan identity's promise: other plan identities of its scope, and reads of its scope's state. No write."""
    scope = plan_scope(source.owner)
    reached = plan_scope(owner)
    if reached is not None:
        return scope == "*" or reached == scope
    if target is None or target.kind not in PLAN_READS:
        return False  # a doer, the assumer, state-mgmt, a guard, a write, a lock: never
    if scope == "*" or target.subject == scope:
        return True
    return target.kind in READ_ONLY and config.state_backend.isolate_accounts and target.readable


def _risk(config: FederationConfig, matrix: Matrix, reach_: Reach, reached: str) -> str | None:
    """The named risk a finding's path passes through, or None (a failure). A risk covers only the paths through
    what it names: the extra principal, passing the runners' role, changing a runner, a legacy state session."""
    source = matrix.world.nodes[reach_.source]
    node = reach_.assets.get(reached, reached)
    path = reach_.path(node)
    through = {source.key, *(hop.node for hop in path)}
    extra = any(matrix.world.nodes[key].kind == "extra" for key in through)
    if (
        extra
        and source.account.id in config.extra_principal_accounts
        and "extra-principal-account-admins" in (config.risks)
    ):
        return "extra-principal-account-admins"
    world = matrix.world
    # Runner hops the trust root makes once reached (the shared doer passing the runners' role) are its own.
    runner_hops = [
        (i, hop)
        for i, hop in enumerate(path)
        if world.targets[hop.via].kind in RUNNER_HOP_RISKS and not world.nodes[hop.previous].root
    ]
    if runner_hops:
        # A runner risk covers a path only when its runner hop is made by a non-platform principal of the runners'
        # account that started there (issue #16, second red team): a platform role allowed a runner write, or a
        # hop made by someone who came in from another account, is a failure of the documents, not that risk.
        named = [_runner_hop_risk(config, world, source, path[:i], hop) for i, hop in runner_hops]
        return named[0] if all(named) else None
    # With the legacy layout every state session reaches every account's state: the accepted risk.
    to_state_session = (
        source.kind in STATE_SESSIONS
        or (reached in world.targets and world.targets[reached].kind in ("assume-state", "assume-reader"))
        or any(world.nodes[h.node].kind in STATE_SESSIONS for h in reach_.path(node))
    )
    if to_state_session and "shared-state-sessions" in config.risks:
        return "shared-state-sessions"
    writes = reached in matrix.world.targets and matrix.world.targets[reached].kind == "write"
    if writes and matrix.world.nodes[node].kind == "plan-doer" and "plan-doer-unverified-policy" in config.risks:
        return "plan-doer-unverified-policy"
    return None


# The runner hops (target kinds) and the risk each is when the guard is off and its caller may be named by it.
RUNNER_HOP_RISKS = {
    "pass-role": RUNNER_RISK,
    "runner-takeover": RUNNER_TAKEOVER_RISK,
    "runner-secret-read": RUNNER_SECRETS_RISK,
}
# A plan identity of the runners' account reading the runners' secrets: only the config's accepted risk names it.
PLAN_SECRET_RISKS = {"sso-plan": PLAN_PERMISSION_SET_RISK, "plan-doer": "runners-account-plan-doer"}


def _runner_hop_risk(config: FederationConfig, world: World, source: Node, before: list[Hop], hop: Hop) -> str | None:
    """The risk that names one runner hop, or None: its caller and every node before it are of the runners' account
    (the shared account), and the caller is none of the platform roles the guard's perimeter lets act there."""
    shared = config.shared_account.id
    caller = world.nodes[hop.previous]
    on_the_way = [source, *(world.nodes[h.node] for h in before)]
    kind = world.targets[hop.via].kind
    if kind == "runner-secret-read" and caller.kind in PLAN_SECRET_RISKS and caller.account.id == shared:
        # Reached by the plan path alone (a pull request's token, a read-only permission set): what the risk says.
        risk = PLAN_SECRET_RISKS[caller.kind]
        by_plan = all(plan_scope(node.owner) is not None for node in on_the_way)
        return risk if by_plan and risk in config.risks else None
    if any(node.account.id != shared for node in on_the_way):
        return None
    platform = documents.runners_account_platform_arns(config)
    if any(arn_like(pattern, caller.principal.arn) for pattern in platform):
        return None
    if config.organization_guard.enabled:
        return None
    return RUNNER_HOP_RISKS[kind]


def analyse(config: FederationConfig, matrix: Matrix) -> Escalation:
    world = matrix.world
    graph, touches = edges(matrix), assets(matrix)
    reaches = {key: reach(key, graph, touches) for key in world.nodes}
    findings: list[Finding] = []
    for key, node in world.nodes.items():
        if node.root or not node.source:
            continue
        found = reaches[key]
        for other in found.hops:
            if not _allowed_to(config, node, world.nodes[other].owner, None):
                findings.append(Finding(key, other, found.describe(other), _risk(config, matrix, found, other)))
        for asset in found.assets:
            target = world.targets[asset]
            if not _allowed_to(config, node, target.owner, target):
                findings.append(Finding(key, asset, found.describe(asset), _risk(config, matrix, found, asset)))
    taken = {risk: NAMED_RISKS[risk] for risk in config.risks}
    taken.update({f.risk: NAMED_RISKS[f.risk] for f in findings if f.risk})
    if not config.organization_guard.enabled:
        taken[ROOT_USER_RISK] = NAMED_RISKS[ROOT_USER_RISK]
    return Escalation(reaches, findings, taken)
