"""The access matrix: every principal against every target, expected (from config) and actual (from the evaluator).

Expected verdicts are derived from the stack config alone, by the rules of the design, never from the program's
output. Actual verdicts come from the evaluator run on the documents the program registered. The matrix is
evaluated on the representatives of each account class (plan.classes); each cell stands for every pair of accounts
its class holds, which keeps the plan linear in the number of accounts.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from federation import documents
from federation.config import FederationConfig
from iam.policies import WEB_IDENTITY_ACTION
from plan.classes import AccountClass, ClassMap, account_classes, representative_accounts
from plan.evaluator import Memo, Request, Verdict, evaluate
from plan.model import IamModel
from plan.world import (
    Account,
    Node,
    Target,
    World,
    arn_like,
    carries_source_identity,
    organization_accounts,
    permission_set_of,
    plan_scope,
    plan_subject_admits,
)

# Targets that are steps of an escalation rather than assets: judged by where they lead (plan.escalation).
STEP_KINDS = ("take-over", "create", "pass-role", "runner-takeover", "runner-secret-read")
STATE_DATA = ("state-read", "state-write", "state-delete", "state-lock-file", "state-list", "lock-read", "lock-write")
READ_ONLY = ("state-read", "state-list")
# What the state reader (the plan path) may do with an account's state: read it, list it, read its lock digest.
PLAN_READS = ("state-read", "state-list", "lock-read")


@dataclass
class Cell:
    principal: str
    target: str
    expected: bool | None  # None: not judged on its own (an escalation step)
    actual: bool
    # Naming the deciding statements costs a third of an evaluation: done when someone reads them.
    explain: Callable[[], list[str]] | None = field(default=None, repr=False, compare=False)

    @functools.cached_property
    def decided_by(self) -> list[str]:
        """The statements that matched, as resource-policy:Effect:Sid and identity[policy]:Effect:Sid."""
        return self.explain() if self.explain is not None else []

    @property
    def ok(self) -> bool:
        return self.expected is None or self.expected == self.actual


@dataclass
class Matrix:
    world: World
    classes: list[AccountClass]
    cells: list[Cell]
    notes: list[str]

    @property
    def principals(self) -> list[str]:
        return list(self.world.nodes)

    @property
    def targets(self) -> list[str]:
        return list(self.world.targets)

    def cell(self, principal: str, target: str) -> Cell:
        for cell in self.cells:
            if cell.principal == principal and cell.target == target:
                return cell
        raise KeyError((principal, target))

    def allowed(self, principal: str, target: str) -> bool:
        cell = self._index.get((principal, target))
        return cell is not None and cell.actual

    @functools.cached_property
    def _index(self) -> dict[tuple[str, str], Cell]:
        return {(c.principal, c.target): c for c in self.cells}

    @functools.cached_property
    def class_map(self) -> ClassMap:
        return ClassMap.of(self.classes)

    @property
    def judged(self) -> list[Cell]:
        return [c for c in self.cells if c.expected is not None]

    @property
    def mismatches(self) -> list[Cell]:
        return [c for c in self.cells if not c.ok]

    def stands_for(self, cell: Cell) -> int:
        """How many cells of the whole organization this representative cell decides."""
        return _members(self, self.world.nodes[cell.principal].subject, self.world.targets[cell.target].subject)

    def as_dict(self) -> dict[str, Any]:
        return {
            "classes": [
                {
                    "class": c.key,
                    "members": [a.name for a in c.members],
                    "representatives": [a.name for a in c.representatives],
                }
                for c in self.classes
            ],
            "notes": self.notes,
        }


def _members(matrix: Matrix, first: str, second: str) -> int:
    """Pairs of accounts (a, b) whose representatives are (first, second), by class sizes and equality."""
    class_of = matrix.class_map.class_of
    cls_a, cls_b = class_of.get(first), class_of.get(second)
    if cls_a is None or cls_b is None:
        return 1

    def weight(cls: AccountClass, account: str) -> int:
        # A small class is its own representatives; a large one is counted once, on its first representative.
        if len(cls.members) <= len(cls.representatives):
            return 1
        return len(cls.members) if account == cls.representatives[0].id else 0

    if cls_a is cls_b and len(cls_a.members) > len(cls_a.representatives):
        reps = [a.id for a in cls_a.representatives]
        size = len(cls_a.members)
        if first != reps[0]:
            return 0  # the other representatives repeat what the first one decides
        return size if second == first else size * (size - 1) if second == reps[1] else 0
    return weight(cls_a, first) * weight(cls_b, second)


def request_for(target: Target, action: str) -> Request:
    return Request(action, target.resource, target.owner_account, target.policy, target.context)


def actions(node: Node, target: Target) -> tuple[str, ...]:
    """What the request asks for: a web identity token can only ask for AssumeRoleWithWebIdentity; a session that
    sets or carries a source identity needs sts:SetSourceIdentity on the role it assumes as well."""
    if node.principal.federated is not None:
        return (WEB_IDENTITY_ACTION,)
    if target.kind.startswith("assume") and carries_source_identity(node.principal):
        return (*target.actions, "sts:SetSourceIdentity")
    return target.actions


def verdict(node: Node, target: Target, explain: bool = True, memo: Memo | None = None) -> Verdict:
    """Every action of the target must be allowed (AssumeRole with session tags needs sts:TagSession as well), or
    one of them for a target of any_action (a write call on a runner asset)."""
    reasons: list[str] = []
    if target.any_action:
        for action in target.actions:
            result = evaluate(node.principal, request_for(target, action), explain, memo)
            if result.allowed:
                return Verdict(True, [f"{action}: {reason}" for reason in result.decided_by])
        return Verdict(False, [f"none of {len(target.actions)} actions (one of each kind the policies tell apart)"])
    for action in actions(node, target):
        result = evaluate(node.principal, request_for(target, action), explain, memo)
        reasons += result.decided_by
        if not result.allowed:
            return Verdict(False, reasons)
    return Verdict(True, reasons)


def applies(node: Node, target: Target) -> bool:
    if node.service:
        return target.kind == "assume"  # a service principal only assumes roles
    if node.principal.federated is not None:
        return target.kind in ("assume", "assume-state", "assume-plan", "assume-reader")  # so does a web identity token
    if target.same_account_only:
        return node.account.id == target.owner_account  # IAM calls act in the caller's own account
    return True


def expected(config: FederationConfig, world: World, node: Node, target: Target) -> bool | None:
    """The design's promise for one request, from config alone."""
    kind = target.kind
    if kind in STEP_KINDS or target.key.startswith("assume:bootstrap@"):
        return None
    if perimeter_denies(config, node, target):
        return False  # the runners' account is platform-only: nobody else acts there
    vpc_bound = bool(config.ci.runner_vpc_ids)
    # The runners' role works on any instance in the runners' VPCs; copied off one, only when not bound to them.
    assumer = node.kind in ("assumer", "assumer-foreign") or (node.kind == "assumer-copied" and not vpc_bound)
    isolate = config.state_backend.isolate_accounts
    # With sessions.require_source_identity, doers and state-mgmt admit only sessions that say who started them.
    said_who = not config.sessions.require_source_identity or carries_source_identity(node.principal)
    if kind == "assume":
        if target.key == "assume:assumer":
            return node.kind in ("ec2", "sso", "extra", "oidc")  # oidc: a token of a configured apply subject
        return assumer and said_who  # a doer: the assumer's sessions only
    if kind == "assume-state":
        doer = doer_named(config, node) and config.state_backend.state_mgmt_trusts_doers
        return said_who and (assumer or (doer and (not isolate or node.account.id == target.subject)))
    if kind in ("assume-plan", "assume-reader", "write"):
        return plan_expected(config, node, target)
    if kind in STATE_DATA:
        if node.kind == "state-reader":
            # Reads only, of the account its session is tagged with (and the readable prefixes); never a lock.
            own = not isolate or node.about == target.subject
            # Tagged with the runners' account (however the tag got there), its readable prefixes only.
            runners = isolate and node.about == config.shared_account.id
            readable = kind in READ_ONLY and target.readable
            return kind in PLAN_READS and ((own and not runners) or readable)
        if kind == "state-list" and node.key in deployers(world):
            # Pulumi reads the bucket with HeadBucket, which S3 authorizes as s3:ListBucket: the bucket policy lets
            # the deployers (the trust root) list keys, or refresh and any in-place bucket update would fail with 403.
            return True
        if node.kind != "state-mgmt":
            return False
        return not isolate or node.about == target.subject or (kind in READ_ONLY and target.readable)
    if kind == "guard":
        return node.key in deployers(world)
    if kind == "key-use":
        return node.kind in ("state-mgmt", "state-reader")
    if kind == "key-admin":
        return node.key in deployers(world)
    return False  # plain http, whole-table reads, direct key use, destroying a version: nobody


def perimeter_denies(config: FederationConfig, node: Node, target: Target) -> bool:
    """With the organization guard, a principal of the runners' account (the shared account) that is not a platform
    role may do nothing there; the assumer, the plan assumer and a break-glass principal (trusted SSO role, extra CI
    principal) may only assume roles; state-mgmt and the state reader may act on the backend only.
    From config alone: the same ARN lists the guard is built from, matched as ArnLike matches."""
    if not config.organization_guard.enabled or node.service or node.principal.federated is not None:
        return False
    if node.account.id != config.shared_account.id:
        return False
    arn = node.principal.arn
    if any(arn_like(pattern, arn) for pattern in documents.runners_account_platform_arns(config)):
        return False
    if any(arn_like(pattern, arn) for pattern in documents.runners_account_backend_role_arns(config)):
        # state-mgmt and the state reader: the backend only, and no role.
        backend = documents.runners_account_backend_resources(config)
        return target.kind.startswith("assume") or not any(arn_like(p, target.resource) for p in backend)
    if target.kind.startswith("assume"):
        break_glass = [
            *documents.runners_account_assume_only_arns(config),
            *documents.runners_account_break_glass_arns(config),
        ]
        return not any(arn_like(pattern, arn) for pattern in break_glass)
    return True


def plan_expected(config: FederationConfig, node: Node, target: Target) -> bool | None:
    """The plan path's promise: read-only permission sets reach the plan assumer, it reaches every plan doer and the
    state reader, a plan doer its own account's state reader; no plan identity writes in any account."""
    if target.kind == "write":
        if plan_scope(node.owner) is None:
            return None  # who else may write in an account is that account's business, not the plan path's
        # A plan doer with a policy the plan cannot read is modelled as an administrator of its account (a risk taken).
        return node.kind == "plan-doer" and "plan-doer-unverified-policy" in config.risks
    if target.key == "assume:plan-assumer":
        if node.kind == "oidc-plan" or plan_subject_admits(config, node.principal):
            return True  # a token a configured plan subject admits (a pull request; with `ref:*` any ref, main too)
        return node.kind in ("sso", "sso-plan") and permission_set_of(node) in config.plan_path.permission_sets
    if target.kind == "assume-plan":
        return node.kind == "plan-assumer"  # a plan doer: the plan assumer's sessions only
    trusted = plan_doer_named(config, node) and config.state_backend.state_mgmt_trusts_doers
    own = not config.state_backend.isolate_accounts or node.account.id == target.subject
    # The plan assumer tags the state reader with any account but the runners' (their modules' state holds secrets).
    runners = target.subject == config.shared_account.id and config.state_backend.isolate_accounts
    return (node.kind == "plan-assumer" and not runners) or (trusted and own)


def plan_doer_named(config: FederationConfig, node: Node) -> bool:
    """A role with the plan doer's path and name in an organization account: the state reader trusts it by name."""
    doer = config.plan_path.doer
    in_org = node.account.org == config.organization_id
    powered = node.kind == "plan-doer" or (node.kind == "created" and bool(node.principal.identity_policies))
    return in_org and powered and node.principal.arn.endswith(f":role{doer.path}{doer.name}")


def doer_named(config: FederationConfig, node: Node) -> bool:
    """A role with the doer's path and name in an organization account: state-mgmt trusts it by that name alone.

    An account this stack does not manage may create one; with isolation it reaches that account's own (empty)
    state prefix only, which the promise allows. The organization guard stops the creation itself.
    """
    doer = config.roles.doer
    in_org = node.account.org == config.organization_id
    # A role created without policies has no identity permission to assume anything in another account.
    powered = node.kind == "doer" or (node.kind == "created" and bool(node.principal.identity_policies))
    return in_org and powered and node.principal.arn.endswith(f":role{doer.path}{doer.name}")


def deployers(world: World) -> set[str]:
    """The nodes Pulumi runs as in the shared account (bootstrap role, shared doer): they alone change the backend."""
    name = world.shared.name
    return {f"doer@{name}", f"bootstrap@{name}"}


def evaluate_world(config: FederationConfig, world: World) -> list[Cell]:
    cells = []
    memo: Memo = {}  # the world's documents do not change while it is evaluated
    for node in world.nodes.values():
        for target in world.targets.values():
            if not applies(node, target):
                continue
            allowed = verdict(node, target, explain=False, memo=memo).allowed
            why = functools.partial(_explain, node, target)
            cells.append(Cell(node.key, target.key, expected(config, world, node, target), allowed, why))
    return cells


def _explain(node: Node, target: Target) -> list[str]:
    return verdict(node, target, explain=True).decided_by


NOTES = [
    "Principals outside this program (SSO roles, admins of other accounts) are modelled with AdministratorAccess, "
    "power users with PowerUserAccess, role creators with iam:CreateRole only: the worst case for our policies.",
    "Doer managed policies other than AdministratorAccess and PowerUserAccess are modelled as full admin; a "
    "permissions boundary named by ARN is modelled as absent (its document is not known offline).",
]


def access_matrix(config: FederationConfig, model: IamModel, by_class: bool = True) -> Matrix:
    """The matrix over class representatives (by_class) or over every account (the all-pairs proof of the classes)."""
    accounts = organization_accounts(config)
    classes = account_classes(accounts, model) if by_class else [AccountClass(a.name, (a,)) for a in accounts]
    world = World(config, model, representative_accounts(classes))
    return Matrix(world, classes, evaluate_world(config, world), list(NOTES))


def all_accounts(matrix: Matrix) -> list[Account]:
    return [a for c in matrix.classes for a in c.members]


def _subject(world: World, key: str) -> str:
    return world.nodes[key].subject if key in world.nodes else world.targets[key].subject


def representative(matrix: Matrix, full: World, first: str, second: str) -> tuple[str, str]:
    """The keys in this matrix's world that decide for (first, second) of a world over every account.

    first is a principal; second a principal or a target. Their subject accounts map to representatives that keep
    whether they are one account, two of one class, or of two classes (plan.classes.ClassMap.pair).
    """
    rep_a, rep_b = matrix.class_map.pair(_subject(full, first), _subject(full, second))

    def rename(key: str, account: str) -> str:
        name = matrix.world.by_id[account].name if account in matrix.world.by_id else ""
        return full.template[key].format(name)

    return rename(first, rep_a), rename(second, rep_b)
