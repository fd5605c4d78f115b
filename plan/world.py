"""The organization as the plan sees it: accounts, the principals that knock, and what they knock on.

Everything here is derived from two sources kept apart: the *promise* (who is the trust root, what each account may
reach) comes from the stack config alone; the *documents* the principals and targets carry come from what the
program registered (plan.model). The world is built over a chosen set of accounts: every account (all pairs) or
a few representatives of each class (plan.classes), which is what keeps the plan linear in the organization.
"""

from __future__ import annotations

import functools
import json
import re
import zlib
from dataclasses import dataclass
from typing import Literal

from federation.config import READ_ONLY_MANAGED_POLICIES, FederationConfig, OidcTrust
from federation.documents import plan_permission_set_inline
from federation.names import oidc_provider_arns
from iam.policies import issuer_host
from plan.evaluator import ContextValue, Document, Principal
from plan.model import IamModel, RoleModel
from plan.runner_secrets import SECRET_GROUPS, secret_actions
from plan.runner_writes import RUNNER_ASSETS, write_actions
from state_backend.policies import STATE_ACCOUNT_TAG

AccountKind = Literal["shared", "application", "unmanaged", "management", "outsider"]
ROOT = "root"  # the owner of what only the trust root may reach
# Owners of the plan path: "plan:*" for what reaches every account's plan side (the plan assumer, read-only SSO),
# "plan:<account id>" for one account's (its plan doer, a state-reader session tagged for it). The promise of a plan
# identity is reads: it reaches other plan identities within its scope and reads of state, never a write.
PLAN = "plan:"
PLAN_ANY = PLAN + "*"

ADMIN: Document = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Admin", "Effect": "Allow", "Action": "*", "Resource": "*"}],
}
POWER_USER: Document = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "PowerUser", "Effect": "Allow", "NotAction": ["iam:*", "organizations:*", "account:*"], "Resource": "*"}
    ],
}
ROLE_CREATOR: Document = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "CreateRoleOnly", "Effect": "Allow", "Action": "iam:CreateRole", "Resource": "*"}],
}
# What a read-only permission set must add to reach the plan assumer (docs/plan-path.md), at its widest.
ASSUME_ANY_ROLE: Document = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Sid": "AssumeRoles",
            "Effect": "Allow",
            "Action": ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"],
            "Resource": "*",
        }
    ],
}
LAUNCHER: Document = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Launch", "Effect": "Allow", "Action": ["ec2:RunInstances", "iam:PassRole"], "Resource": "*"}
    ],
}
# What AWS puts beside every custom SCP unless removed: without it, a deny-list SCP would deny everything.
FULL_AWS_ACCESS: Document = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
# AWS managed policies whose effect we model exactly; any other ARN is modelled as full admin (the worst case),
# except the read-only policies the plan path allows, which are read from their published documents (managed()).
KNOWN_MANAGED: dict[str, Document] = {
    "arn:aws:iam::aws:policy/AdministratorAccess": ADMIN,
    "arn:aws:iam::aws:policy/PowerUserAccess": POWER_USER,
}
# The services the world's requests name (checked when targets are built). A published managed policy is reduced to
# its actions of these services: every verdict stays the same, and an evaluation matches dozens of patterns, not the
# 3,000 of ReadOnlyAccess.
TARGET_SERVICES = frozenset(
    {"sts", "s3", "dynamodb", "kms", "iam", "ec2", "ssm", "ecr", "autoscaling", "ec2-instance-connect"}
)
READ_ONLY_ACCESS = "arn:aws:iam::aws:policy/ReadOnlyAccess"


@functools.cache
def published_policy(arn: str) -> Document:
    """An AWS managed policy's document as moto ships it (moto 5.2.5: AWS's version of 2026-09-24), reduced to the
    services of TARGET_SERVICES. Statements with NotAction are kept whole (they cannot be reduced safely)."""
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    published = json.loads(aws_managed_policies_data)
    path, name = arn.split(":policy", 1)[1].rsplit("/", 1)
    entry = published[name]
    if entry["Path"] != path + "/":
        raise KeyError(f"{arn}: moto ships {name} under path {entry['Path']}")
    statements = []
    for statement in entry["Document"]["Statement"]:
        if "NotAction" not in statement:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            kept = [a for a in actions if a == "*" or a.split(":", 1)[0].lower() in TARGET_SERVICES]
            if not kept:
                continue
            statement = {**statement, "Action": kept}
        statements.append(statement)
    return {"Version": "2012-10-17", "Statement": statements}


def managed(arn: str) -> Document:
    """The document a managed policy ARN is modelled with."""
    if arn in KNOWN_MANAGED:
        return KNOWN_MANAGED[arn]
    if arn in READ_ONLY_MANAGED_POLICIES:
        return published_policy(arn)
    return ADMIN


SSO_SUFFIX = "a1b2c3d4e5f60718"  # 16 characters, as Identity Center makes them
OUTSIDER_ORG = "o-outsider000"
RUNNER_VPC = "vpc-0runners00000000"
# IAM refuses these paths to customers, so nobody can create a role that matches an SSO or service-linked pattern.
RESERVED_PATHS = ("/aws-reserved/", "/aws-service-role/")
# Who a session says it is (its source identity); the value is the caller's to choose, AWS checks only its presence.
SOURCE_IDENTITY = "jane.doe"


def carries_source_identity(principal: Principal) -> bool:
    """Whether the session's requests carry a source identity (set when it was created, or set in this request)."""
    return any(key == "aws:SourceIdentity" for key, _ in principal.context)


def arn_like(pattern: str, value: str) -> bool:
    """IAM's ArnLike, as the guard's ArnNotLike uses it on role ARNs: StringLike over the whole ARN."""
    return _like(pattern, value)


def _like(pattern: str, value: str) -> bool:
    """IAM's StringLike: * any run of characters, ? one character, everything else literal and case-sensitive."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value) is not None


def plan_subject_admits(config: FederationConfig, principal: Principal) -> bool:
    """Whether a web identity token is one the config makes a plan identity: with the plan path on, a trust's
    plan_subjects admit its sub (StringLike, as the plan assumer's trust matches it) and its aud is the trust's.
    A `ref:*` plan subject admits the default branch's apply token and any other ref: by config, plan identities."""
    if not config.plan_path.enabled or principal.federated is None:
        return False
    claims = dict(principal.context)
    for trust in config.ci.oidc:
        host = issuer_host(trust.issuer)
        sub, aud = claims.get(f"{host}:sub"), claims.get(f"{host}:aud")
        if isinstance(sub, str) and aud == trust.aud and any(_like(p, sub) for p in trust.plan_subjects):
            return True
    return False


def _outside(subject: str, patterns: list[str]) -> str | None:
    """The subject, or a variant of it, that none of the patterns admits (None when none is found)."""
    for _ in range(4):
        if not any(_like(p, subject) for p in patterns):
            return subject
        subject += "-x"
    return None


def _token_subjects(trust: OidcTrust) -> dict[str, str]:
    """Subjects of the tokens the plan tries, by what they are: a configured apply subject, the same ref of a
    look-alike repository, another ref of the configured repository, a plan subject. Only those that exist."""
    apply = list(trust.apply_subjects)
    result: dict[str, str] = {}
    if apply:
        subject = apply[0]  # apply subjects are exact (config.py refuses wildcards in them)
        result["apply"] = subject
        if trust.provider in ("github", "gitlab"):
            prefix, rest = subject.split(":", 1)
            repository, ref = rest.split(":", 1)
            other = _outside(f"{prefix}:{repository}-x:{ref}", apply)
            if other:
                result["other repository"] = other
        other_ref = _outside(subject + "-x", apply)
        if other_ref:
            result["other ref"] = other_ref
    if trust.plan_subjects:
        instance = trust.plan_subjects[0].replace("*", "feature").replace("?", "x")
        plan = _outside(instance, apply)
        if plan == instance:  # a plan subject the apply subjects also admit is an apply token, tried above
            result["plan"] = plan
    return result


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    kind: AccountKind
    org: str

    @property
    def label(self) -> str:
        return self.name


@dataclass(frozen=True)
class Node:
    """A principal of the graph: who it is (for the evaluator) and whose promise covers it (from config)."""

    key: str
    kind: str
    account: Account
    principal: Principal
    # The account whose own state bounds what this node may reach, or ROOT for the trust root.
    owner: str
    # The account the node is *about* when it differs from where it lives (a state-mgmt session tagged for it).
    about: str | None = None
    service: bool = False
    # Whether anyone starts out as this node; a created role or a foreign instance is only ever reached.
    source: bool = True

    @property
    def subject(self) -> str:
        """The account that makes this node one of a class (the one swapped when classes are expanded)."""
        return self.about or self.account.id

    @property
    def root(self) -> bool:
        return self.owner == ROOT


@dataclass(frozen=True)
class Target:
    """One request a principal may make: an asset of the promise, or a step of an escalation."""

    key: str
    kind: str
    subject: str  # the account the target is about
    actions: tuple[str, ...]  # every one must be allowed (AssumeRole with tags needs sts:TagSession too)
    resource: str
    owner_account: str  # the account that owns the resource (for cross-account rules)
    policy: Document | None
    context: tuple[tuple[str, ContextValue], ...] = ()
    leads_to: tuple[str, ...] = ()  # the nodes a principal becomes when this is allowed
    # The account whose own reach covers this asset, or ROOT; None for escalation steps (judged by where they lead).
    owner: str | None = None
    same_account_only: bool = False  # IAM calls act in the caller's own account only
    # The request is made when any one of the actions is allowed (a write call on a runner asset), not every one.
    any_action: bool = False
    # State under a prefix of state_backend.readable_state (readable by every account), not the account's own.
    readable: bool = False


def _template(key: str, name: str) -> str:
    """The key with its subject account's name as "{}" (admin@{}, state-mgmt[{}], state-read:{}).

    A key that does not end with its account's name (an extra principal, named by its role) stays as it is: its
    account is named in a document, so it is a class of its own and never renamed.
    """
    for ending in (name, name + "]"):
        if name and key.endswith(ending) and key[: len(key) - len(ending)][-1:] in ("@", ":", "["):
            return key[: len(key) - len(ending)] + "{}" + ending[len(name) :]
    return key


def free_account(config: FederationConfig, seed: str) -> str:
    """An account id no configured account uses, stable for a seed."""
    used = {a.id for a in config.all_accounts} | {config.sso_account_id}
    if config.management_account_id:
        used.add(config.management_account_id)
    candidate = zlib.crc32(seed.encode()) % 10**12
    while f"{candidate:012d}" in used:
        candidate = (candidate + 1) % 10**12
    return f"{candidate:012d}"


def organization_accounts(config: FederationConfig) -> list[Account]:
    """Every account of the promise: the configured ones, plus one unmanaged, the management account and an outsider."""
    org = config.organization_id
    shared = config.shared_account
    result = [Account(shared.id, shared.name, "shared", org)]
    result += [Account(a.id, a.name, "application", org) for a in config.accounts]
    result.append(Account(free_account(config, "unmanaged"), "unmanaged", "unmanaged", org))
    result.append(
        Account(config.management_account_id or free_account(config, "management"), "management", "management", org)
    )
    result.append(Account(free_account(config, "outsider"), "outsider", "outsider", OUTSIDER_ORG))
    return result


def role_policies(role: RoleModel) -> tuple[tuple[str, Document], ...]:
    attached = [(arn.rsplit("/", 1)[-1], managed(arn)) for arn in role.managed_arns]
    return tuple([*attached, *sorted(role.inline.items())])


_SSO_ROLE = re.compile(r"AWSReservedSSO_(.+)_[A-Za-z0-9]{16}$")


def permission_set_of(node: Node) -> str | None:
    """The permission set of an SSO role node, from its ARN (None for any other node)."""
    match = _SSO_ROLE.search(node.principal.arn)
    return match.group(1) if match else None


def plan_scope(owner: str) -> str | None:
    """For a plan owner, the account it covers ("*": every account); None for any other owner."""
    return owner[len(PLAN) :] if owner.startswith(PLAN) else None


def _sso_arn(account: str, permission_set: str, region: str | None = None) -> str:
    path = "aws-reserved/sso.amazonaws.com/" + (f"{region}/" if region else "")
    return f"arn:aws:iam::{account}:role/{path}AWSReservedSSO_{permission_set}_{SSO_SUFFIX}"


def _arn(account: str, path: str, name: str) -> str:
    return f"arn:aws:iam::{account}:role{path}{name}"


class World:
    """Nodes and targets over a set of accounts, built from the config (promise) and the model (documents)."""

    def __init__(self, config: FederationConfig, model: IamModel, accounts: list[Account]) -> None:
        self.config = config
        self.model = model
        self.accounts = accounts
        self.by_id = {a.id: a for a in accounts}
        self.shared = next(a for a in accounts if a.kind == "shared")
        self.management = next(a for a in accounts if a.kind == "management")
        self._roles_by_arn = {role.arn: role for role in model.roles.values()}
        self.nodes: dict[str, Node] = {}
        self.targets: dict[str, Target] = {}
        # key -> the key with its subject account's name as "{}": how a class's representative stands for a member.
        self.template: dict[str, str] = {}
        self._build()

    # ---- who is who, from config ------------------------------------------------------------------------------
    def _owner(self, account: Account, root_here: bool = False) -> str:
        if root_here or account.kind == "management":
            return ROOT
        return account.id

    def _scps(self, account: Account) -> tuple[tuple[Document, ...], ...] | None:
        # SCPs bind every member account of the organization, never the management account or another organization.
        if not self.model.scps or account.kind in ("management", "outsider"):
            return None
        return ((FULL_AWS_ACCESS, *self.model.scps),)

    def _principal(
        self,
        key: str,
        arn: str,
        account: Account,
        policies: tuple[tuple[str, Document], ...],
        context: tuple[tuple[str, ContextValue], ...] = (),
        boundary: Document | None = None,
    ) -> Principal:
        return Principal(key, arn, account.org, policies, boundary, False, context, self._scps(account))

    def _add(self, node: Node) -> None:
        assert node.key not in self.nodes, node.key
        self.nodes[node.key] = node
        self.template[node.key] = _template(
            node.key, self.by_id[node.subject].name if node.subject in self.by_id else ""
        )

    def _role_node(
        self,
        key: str,
        kind: str,
        role: RoleModel,
        owner: str,
        about: str | None = None,
        context: tuple[tuple[str, ContextValue], ...] = (),
        source: bool = True,
    ) -> Node:
        account = self.by_id[role.account]
        boundary = None  # a configured boundary ARN's document is not known offline: modelled as absent (worst case)
        principal = self._principal(key, role.arn, account, role_policies(role), context, boundary)
        return Node(key, kind, account, principal, owner, about, source=source)

    def _build(self) -> None:
        config, model = self.config, self.model
        roles = model.roles
        org_accounts = [a for a in self.accounts if a.kind != "outsider"]
        # The outsider too: a session tagged with its id would write under a prefix nobody in the organization owns.
        state_subjects = [a for a in self.accounts if a.kind != "management"]

        # The trust root: the CI runners and the break-glass path (the assumer's sessions), as the config names them.
        assumer = roles["assumer-role"]
        self._add(
            Node(
                "ec2-service",
                "ec2",
                self.shared,
                Principal("ec2-service", "ec2.amazonaws.com", service=True),
                ROOT,
                service=True,
            )
        )
        runner_vpc = config.ci.runner_vpc_ids[0] if config.ci.runner_vpc_ids else RUNNER_VPC
        instance_arn = f"arn:aws:ec2:{config.region}:{self.shared.id}:instance"
        # Instance credentials carry the instance and its VPC wherever they are used; aws:SourceVpc is set only for
        # requests through a VPC endpoint (the runners call STS through one).
        on_runner = (("aws:ec2InstanceSourceVPC", runner_vpc), ("aws:SourceVpc", runner_vpc))
        self._add(self._role_node("assumer", "assumer", assumer, ROOT))
        self._add(
            self._role_node(
                "assumer(runner)",
                "assumer",
                assumer,
                ROOT,
                context=(("ec2:SourceInstanceARN", f"{instance_arn}/i-0runner"), *on_runner),
            )
        )
        # The same role on an instance someone else launched with the runners' profile, in the worst case into the
        # runners' own subnets: indistinguishable from a runner, which only the organization guard prevents.
        self._add(
            self._role_node(
                "assumer(foreign instance)",
                "assumer-foreign",
                assumer,
                self.shared.id,
                source=False,
                context=(("ec2:SourceInstanceARN", f"{instance_arn}/i-0foreign"), *on_runner),
            )
        )
        # A runner's credentials copied off it and used from anywhere else: what ci.runner_vpc_ids stops.
        self._add(
            self._role_node(
                "assumer(copied credentials)",
                "assumer-copied",
                assumer,
                self.shared.id,
                source=False,
                context=(
                    ("ec2:SourceInstanceARN", f"{instance_arn}/i-0runner"),
                    ("aws:ec2InstanceSourceVPC", runner_vpc),
                ),
            )
        )
        sso_account = self.by_id.get(config.sso_account_id) or Account(
            config.sso_account_id, "sso", "unmanaged", config.organization_id
        )
        # Other SSO roles of the SSO account are administrators there: of the trust root when that is the shared
        # account (its IAM admins) or the management account, of their own account otherwise.
        sso_other_owner = self._owner(sso_account, sso_account.kind == "shared")
        admin = (("AdministratorAccess", ADMIN),)
        for ps in config.sso.permission_sets:
            arn = _sso_arn(sso_account.id, ps)
            self._add(
                Node(f"sso:{ps}", "sso", sso_account, self._principal(f"sso:{ps}", arn, sso_account, admin), ROOT)
            )
        if config.sso.permission_sets:
            ps = config.sso.permission_sets[0]
            key = f"sso:{ps}(regional path)"
            arn = _sso_arn(sso_account.id, ps, "eu-west-1")
            self._add(Node(key, "sso", sso_account, self._principal(key, arn, sso_account, admin), ROOT))
            if len(ps) <= 30:
                key = f"sso:{ps}_x"
                arn = _sso_arn(sso_account.id, f"{ps}_x")
                self._add(
                    Node(key, "sso-other", sso_account, self._principal(key, arn, sso_account, admin), sso_other_owner)
                )
        plan_sets = config.plan_path.permission_sets if config.plan_path.enabled else []
        self._plan_sso_nodes(sso_account, sso_other_owner, plan_sets)
        unconfigured = next(
            p
            for p in ("AWSReadOnlyAccess", "UnconfiguredPermissionSet")
            if p not in config.sso.permission_sets and p not in plan_sets
        )
        key = f"sso:{unconfigured}"
        arn = _sso_arn(sso_account.id, unconfigured)
        self._add(Node(key, "sso-other", sso_account, self._principal(key, arn, sso_account, admin), sso_other_owner))
        for arn in config.ci.extra_trusted_principal_arns:
            account = self.by_id.get(arn.split(":")[4]) or Account(
                arn.split(":")[4], "extra", "unmanaged", config.organization_id
            )
            key = f"extra:{arn.rsplit('/', 1)[-1]}"
            self._add(Node(key, "extra", account, self._principal(key, arn, account, admin), ROOT))
        # An assumer session that says who started it (a source identity, set when assuming or carried along).
        said_who = tuple((key, SOURCE_IDENTITY) for key in ("aws:SourceIdentity", "sts:SourceIdentity"))
        self._add(self._role_node("assumer(source identity)", "assumer", assumer, ROOT, context=said_who))
        self._web_identity_tokens()

        # The program's roles in every managed account, and the role AWS Organizations puts there.
        bootstrap_name = config.providers.bootstrap_role_name
        management_root = f"arn:aws:iam::{self.management.id}:root"
        bootstrap_trust = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": management_root}, "Action": "sts:AssumeRole"}],
        }
        self.bootstrap_roles: dict[str, RoleModel] = {}
        for account in self.accounts:
            if account.kind not in ("shared", "application"):
                continue
            role = roles[f"doer-{account.name}-role"]
            self._add(
                self._role_node(f"doer@{account.name}", "doer", role, ROOT if account.kind == "shared" else account.id)
            )
            bootstrap = RoleModel(_arn(account.id, "/", bootstrap_name), account.id, bootstrap_name, bootstrap_trust)
            bootstrap.managed_arns.append("arn:aws:iam::aws:policy/AdministratorAccess")
            self.bootstrap_roles[account.id] = bootstrap
            self._add(
                self._role_node(
                    f"bootstrap@{account.name}",
                    "bootstrap",
                    bootstrap,
                    ROOT if account.kind == "shared" else account.id,
                )
            )
        state_mgmt = roles["state-backend-state-mgmt-role"]
        for subject in state_subjects:
            tag = ((f"aws:PrincipalTag/{STATE_ACCOUNT_TAG}", subject.id),)
            self._add(
                self._role_node(f"state-mgmt[{subject.name}]", "state-mgmt", state_mgmt, subject.id, subject.id, tag)
            )
        if config.plan_path.enabled:
            self._plan_role_nodes(state_subjects)

        # Modelled principals of every account class: an admin, a power user without IAM power, an identity that may
        # only create roles, and (where the runners' instance profile lives) a launcher that may pass roles to EC2.
        for account in self.accounts:
            arn = f"arn:aws:iam::{account.id}:role"
            # The shared account's IAM administrators and the management account are the trust root.
            admin_root = account.kind in ("shared", "management")
            kinds = [
                ("admin", ADMIN, admin_root),
                ("power-user", POWER_USER, False),
                ("role-creator", ROLE_CREATOR, False),
            ]
            if account.kind == "shared":
                kinds.append(("launcher", LAUNCHER, False))
            if account.kind == "outsider":
                kinds = [("admin", ADMIN, False)]
            for kind, document, is_root in kinds:
                key = f"{kind}@{account.name}"
                principal = self._principal(key, f"{arn}/{kind}", account, ((kind, document),))
                self._add(Node(key, kind, account, principal, self._owner(account, is_root)))
            # (Not where the SSO roles are trusted: that role is the configured sso: node itself.)
            if account.kind == "application" and config.sso.permission_sets and account.id != config.sso_account_id:
                ps = config.sso.permission_sets[0]
                key = f"sso:{ps}@{account.name}"
                self._add(
                    Node(
                        key,
                        "sso-other",
                        account,
                        self._principal(key, _sso_arn(account.id, ps), account, admin),
                        account.id,
                    )
                )
            plan_elsewhere = account.kind == "application" and account.id != config.sso_account_id
            if plan_elsewhere and plan_sets and plan_sets[0] not in config.sso.permission_sets:
                # The plan permission set's role in another account: an administrator there, for all we know.
                key = f"sso-plan:{plan_sets[0]}@{account.name}"
                arn = _sso_arn(account.id, plan_sets[0])
                self._add(Node(key, "sso-other", account, self._principal(key, arn, account, admin), account.id))
        # Configured key admins may look after the key; modelled with every KMS action (the worst case for the key
        # policy), they are not the trust root.
        kms_all: Document = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "kms:*", "Resource": "*"}],
        }
        for arn in config.state_backend.kms.key_admin_arns if self.model.key_arn else []:
            holder = self.by_id.get(arn.split(":")[4])
            if holder is None:
                continue
            key = f"key-admin:{arn.rsplit('/', 1)[-1]}"
            self._add(Node(key, "key-admin", holder, self._principal(key, arn, holder, (("kms", kms_all),)), holder.id))
        outsider = next(a for a in self.accounts if a.kind == "outsider")
        doer, plan_doer = config.roles.doer, config.plan_path.doer
        namesakes = [("doer-namesake@outsider", doer.path, doer.name)]
        if config.plan_path.enabled:
            namesakes.append(("plan-doer-namesake@outsider", plan_doer.path, plan_doer.name))
        for key, path, name in namesakes:
            self._add(
                Node(
                    key,
                    "outsider",
                    outsider,
                    self._principal(key, _arn(outsider.id, path, name), outsider, admin),
                    outsider.id,
                )
            )

        # Roles a principal could create under a name some document trusts: one node per name and account, with and
        # without policies (whether its creator may also write its policies decides which one it gets).
        self.created: dict[tuple[str, str, bool], str] = {}
        existing = {(r.account, r.arn.split(":role", 1)[1]) for r in self._all_roles()}
        for path, name, pattern in protected_role_names(self._all_documents()):
            for account in org_accounts:
                if (account.id, path + name) in existing or not _account_matches(pattern, account.id):
                    continue
                for powered in (True, False):
                    key = f"new-role{'' if powered else '(bare)'}:{name}@{account.name}"
                    policies = admin if powered else ()
                    owner = self._owner(account, account.kind == "shared" and powered)
                    arn = _arn(account.id, path, name)
                    self._add(
                        Node(key, "created", account, self._principal(key, arn, account, policies), owner, source=False)
                    )
                    self.created[(account.id, path + name, powered)] = key

        self._targets(state_subjects, org_accounts)

    def _plan_sso_nodes(self, sso_account: Account, other_owner: str, plan_sets: list[str]) -> None:
        """The read-only permission sets of the plan path, modelled with ReadOnlyAccess (what the config says they
        are) plus the sts:AssumeRole they need to reach the plan assumer, on every role (the worst such a grant can
        be); one also under a regional path, and a namesake with a suffix, modelled as an administrator."""
        config = self.config
        # In the management account every OrganizationAccountAccessRole trusts the account root: there the set is
        # modelled with exactly the generated grant (documents.plan_permission_set_inline), which the docs tell the
        # user to paste. Elsewhere with the widest grant, to show the trust policies alone keep it out.
        grant = plan_permission_set_inline(config) if sso_account.id == self.management.id else ASSUME_ANY_ROLE
        read_only = (("ReadOnlyAccess", published_policy(READ_ONLY_ACCESS)), ("assume-roles", grant))
        admin = (("AdministratorAccess", ADMIN),)
        # A set trusted by both paths is an apply set (an administrator): its sso: node already stands for it.
        plan_only = [ps for ps in plan_sets if ps not in config.sso.permission_sets]
        for ps in plan_only:
            key = f"sso-plan:{ps}"
            principal = self._principal(key, _sso_arn(sso_account.id, ps), sso_account, read_only)
            self._add(Node(key, "sso-plan", sso_account, principal, PLAN_ANY))
        if plan_only:
            ps = plan_only[0]
            key = f"sso-plan:{ps}(regional path)"
            principal = self._principal(key, _sso_arn(sso_account.id, ps, "eu-west-1"), sso_account, read_only)
            self._add(Node(key, "sso-plan", sso_account, principal, PLAN_ANY))
            if len(ps) <= 30:
                key = f"sso-plan:{ps}_x"
                principal = self._principal(key, _sso_arn(sso_account.id, f"{ps}_x"), sso_account, admin)
                self._add(Node(key, "sso-other", sso_account, principal, other_owner))

    def _plan_role_nodes(self, state_subjects: list[Account]) -> None:
        """The plan assumer, every account's plan doer, and a state-reader session tagged for every account."""
        roles = self.model.roles
        self._add(self._role_node("plan-assumer", "plan-assumer", roles["plan-assumer-role"], PLAN_ANY))
        for account in self.accounts:
            role = roles.get(f"plan-doer-{account.name}-role")
            # A member stack without the plan path builds no plan doer: its accounts have none to reach.
            if role is not None and account.kind in ("shared", "application"):
                self._add(self._role_node(f"plan-doer@{account.name}", "plan-doer", role, PLAN + account.id))
        reader = roles["state-backend-state-reader-role"]
        for subject in state_subjects:
            tag = ((f"aws:PrincipalTag/{STATE_ACCOUNT_TAG}", subject.id),)
            key = f"state-reader[{subject.name}]"
            self._add(self._role_node(key, "state-reader", reader, PLAN + subject.id, subject.id, tag))

    def _web_identity_tokens(self) -> None:
        """Tokens of each CI trust's issuer: one of a configured apply subject (the trust root: it may become the
        assumer), and ones that must not: a look-alike repository, another ref, the wrong audience, a plan subject."""
        outsider = next(a for a in self.accounts if a.kind == "outsider")
        arns = oidc_provider_arns(self.config)
        for trust in self.config.ci.oidc:
            host = issuer_host(trust.issuer)
            subjects = _token_subjects(trust)
            tokens = [(what, subject, trust.aud) for what, subject in subjects.items()]
            if "apply" in subjects:
                # GitHub's token carries https://github.com/<owner> unless the job asks for another audience.
                owner = subjects["apply"].split(":")[1].split("/")[0].split("@")[0]
                wrong = f"https://github.com/{owner}" if trust.provider == "github" else f"{trust.aud}-other"
                tokens.append(("wrong audience", subjects["apply"], wrong if wrong != trust.aud else f"{wrong}-other"))
            for what, subject, audience in tokens:
                key = f"oidc:{trust.name}({what})"
                claims = ((f"{host}:sub", subject), (f"{host}:aud", audience))
                principal = Principal(key, arns[trust.name], context=claims, federated=arns[trust.name])
                if what == "apply":
                    self._add(Node(key, "oidc", self.shared, principal, ROOT))
                elif what == "plan" or plan_subject_admits(self.config, principal):
                    # A pull request's token: a plan identity when the plan path trusts it, nobody otherwise.
                    owner = PLAN_ANY if self.config.plan_path.enabled else outsider.id
                    self._add(Node(key, "oidc-plan", outsider, principal, owner))
                else:
                    self._add(Node(key, "oidc-other", outsider, principal, outsider.id))

    def _all_roles(self) -> list[RoleModel]:
        return [*self.model.roles.values(), *self.bootstrap_roles.values()]

    def _all_documents(self) -> list[Document]:
        documents: list[Document] = []
        for role in self.model.roles.values():
            documents.append(role.trust)
            documents += list(role.inline.values())
        for extra in (self.model.bucket_policy, self.model.table_policy, self.model.key_policy, *self.model.scps):
            if extra:
                documents.append(extra)
        return documents

    # ---- what they knock on -----------------------------------------------------------------------------------
    def _state_target(
        self,
        key: str,
        kind: str,
        subject_id: str,
        action: str,
        resource: str,
        context: tuple[tuple[str, ContextValue], ...],
        readable: bool,
    ) -> None:
        """An object or listing of the state bucket, within the subject account's own reach."""
        model = self.model
        self._add_target(
            Target(
                key,
                kind,
                subject_id,
                (action,),
                resource,
                model.bucket_account,
                model.bucket_policy,
                context,
                (),
                subject_id,
                readable=readable,
            )
        )

    def _add_target(self, target: Target) -> None:
        assert target.key not in self.targets, target.key
        # Managed policies are reduced to these services (published_policy): a request of another would be misjudged.
        assert all(action.split(":", 1)[0] in TARGET_SERVICES for action in target.actions), target.actions
        self.targets[target.key] = target
        self.template[target.key] = _template(target.key, self.by_id[target.subject].name)

    def _targets(self, state_subjects: list[Account], org_accounts: list[Account]) -> None:
        config, model = self.config, self.model
        org = (("aws:ResourceOrgID", config.organization_id),)
        shared = self.shared.id
        assumer = model.roles["assumer-role"]
        self._add_target(
            Target(
                "assume:assumer",
                "assume",
                shared,
                ("sts:AssumeRole",),
                assumer.arn,
                shared,
                assumer.trust,
                org,
                ("assumer",),
                ROOT,
            )
        )
        for node in list(self.nodes.values()):
            if node.kind in ("doer", "bootstrap"):
                role = self._role_of(node)
                self._add_target(
                    Target(
                        f"assume:{node.key}",
                        "assume",
                        node.account.id,
                        ("sts:AssumeRole",),
                        role.arn,
                        node.account.id,
                        role.trust,
                        org,
                        (node.key,),
                        node.owner if node.kind == "doer" else None,
                    )
                )
        state_mgmt = model.roles["state-backend-state-mgmt-role"]
        for subject in state_subjects:
            tags = (
                (f"aws:RequestTag/{STATE_ACCOUNT_TAG}", subject.id),
                ("aws:TagKeys", (STATE_ACCOUNT_TAG,)),
                *org,
            )
            self._add_target(
                Target(
                    f"assume:state-mgmt[{subject.name}]",
                    "assume-state",
                    subject.id,
                    ("sts:AssumeRole", "sts:TagSession"),
                    state_mgmt.arn,
                    shared,
                    state_mgmt.trust,
                    tags,
                    (f"state-mgmt[{subject.name}]",),
                    subject.id,
                )
            )

        if config.plan_path.enabled:
            self._plan_targets(state_subjects)

        # State data of every account: objects, listing, lock items.
        bucket = model.bucket_name
        objects = f"arn:aws:s3:::{bucket}/"
        for subject in state_subjects:
            key = f"{subject.id}/network/terraform.tfstate"
            data = [
                ("state-read", "s3:GetObject", objects + key, ()),
                ("state-write", "s3:PutObject", objects + key, ()),
                ("state-delete", "s3:DeleteObject", objects + key, ()),
                ("state-destroy", "s3:DeleteObjectVersion", objects + key, ()),
                ("state-lock-file", "s3:PutObject", objects + key + ".tflock", ()),
                ("state-list", "s3:ListBucket", f"arn:aws:s3:::{bucket}", (("s3:prefix", f"{subject.id}/"),)),
            ]
            # state_backend.list_keys = bucket: every state session lists every key name (never a content).
            names_listed = config.state_backend.list_keys == "bucket"

            for kind, action, resource, context in data:
                readable_ = names_listed and kind == "state-list"
                self._state_target(f"{kind}:{subject.name}", kind, subject.id, action, resource, context, readable_)
            for prefix in [p for p in config.readable_prefixes if p.split("/", 1)[0] == subject.id]:
                # The readable outputs: other accounts may read and list these, and nothing else of the account.
                name = prefix.split("/", 1)[1].rstrip("/").replace("/", "-")
                readable = [
                    ("state-read", "s3:GetObject", objects + prefix + "terraform.tfstate", ()),
                    ("state-list", "s3:ListBucket", f"arn:aws:s3:::{bucket}", (("s3:prefix", prefix),)),
                ]
                for kind, action, resource, context in readable:
                    outputs_key = f"{kind}-{name}:{subject.name}"
                    self._state_target(outputs_key, kind, subject.id, action, resource, context, readable=True)
            lock = (("dynamodb:LeadingKeys", (f"{bucket}/{key}",)),)
            for kind, action in (("lock-read", "dynamodb:GetItem"), ("lock-write", "dynamodb:PutItem")):
                self._add_target(
                    Target(
                        f"{kind}:{subject.name}",
                        kind,
                        subject.id,
                        (action,),
                        model.table_arn,
                        model.table_account,
                        model.table_policy,
                        lock,
                        (),
                        subject.id,
                    )
                )
            self._add_target(
                Target(
                    f"state-read-http:{subject.name}",
                    "insecure",
                    subject.id,
                    ("s3:GetObject",),
                    objects + key,
                    model.bucket_account,
                    model.bucket_policy,
                    (("aws:SecureTransport", "false"),),
                    (),
                    ROOT,
                )
            )

        # The guards themselves: one call of any of these by the wrong principal lifts a guard or loses state.
        bucket_arn = f"arn:aws:s3:::{bucket}"
        guards = [
            ("bucket-policy", "s3:PutBucketPolicy", bucket_arn, model.bucket_policy, model.bucket_account),
            ("bucket-policy-delete", "s3:DeleteBucketPolicy", bucket_arn, model.bucket_policy, model.bucket_account),
            ("bucket-versioning", "s3:PutBucketVersioning", bucket_arn, model.bucket_policy, model.bucket_account),
            ("bucket-lifecycle", "s3:PutLifecycleConfiguration", bucket_arn, model.bucket_policy, model.bucket_account),
            (
                "bucket-replication",
                "s3:PutReplicationConfiguration",
                bucket_arn,
                model.bucket_policy,
                model.bucket_account,
            ),
            (
                "bucket-encryption",
                "s3:PutEncryptionConfiguration",
                bucket_arn,
                model.bucket_policy,
                model.bucket_account,
            ),
            (
                "bucket-public-access",
                "s3:PutBucketPublicAccessBlock",
                bucket_arn,
                model.bucket_policy,
                model.bucket_account,
            ),
            ("table-policy", "dynamodb:PutResourcePolicy", model.table_arn, model.table_policy, model.table_account),
            (
                "table-policy-delete",
                "dynamodb:DeleteResourcePolicy",
                model.table_arn,
                model.table_policy,
                model.table_account,
            ),
            ("table-update", "dynamodb:UpdateTable", model.table_arn, model.table_policy, model.table_account),
            ("table-delete", "dynamodb:DeleteTable", model.table_arn, model.table_policy, model.table_account),
            (
                "table-backups",
                "dynamodb:UpdateContinuousBackups",
                model.table_arn,
                model.table_policy,
                model.table_account,
            ),
        ]
        for kind, action, resource, policy, owner in guards:
            self._add_target(Target(kind, "guard", shared, (action,), resource, owner, policy, (), (), ROOT))
        for kind, action in (
            ("lock-scan", "dynamodb:Scan"),
            ("lock-partiql", "dynamodb:PartiQLSelect"),
            ("lock-export", "dynamodb:ExportTableToPointInTime"),
        ):
            self._add_target(
                Target(
                    kind,
                    "lock-all",
                    shared,
                    (action,),
                    model.table_arn,
                    model.table_account,
                    model.table_policy,
                    (),
                    (),
                    ROOT,
                )
            )
        if model.key_arn:
            via = (("kms:ViaService", f"s3.{config.region}.amazonaws.com"),)
            # The key cannot be split per account (S3 asks KMS on behalf of any state-mgmt session): S3 scopes first,
            # so use through S3 is not judged by reach (owner None), only by who may ask at all.
            self._add_target(
                Target(
                    "key-use",
                    "key-use",
                    shared,
                    ("kms:Decrypt",),
                    model.key_arn,
                    shared,
                    model.key_policy,
                    via,
                    (),
                    None,
                )
            )
            self._add_target(
                Target(
                    "key-use-direct",
                    "key-use-direct",
                    shared,
                    ("kms:Decrypt",),
                    model.key_arn,
                    shared,
                    model.key_policy,
                    (),
                    (),
                    ROOT,
                )
            )
            destructive = (
                ("key-delete", "kms:ScheduleKeyDeletion"),
                ("key-disable", "kms:DisableKey"),
                ("key-policy", "kms:PutKeyPolicy"),
                ("key-grant", "kms:CreateGrant"),
            )
            for kind, action in destructive:
                self._add_target(
                    Target(kind, "key-admin", shared, (action,), model.key_arn, shared, model.key_policy, (), (), ROOT)
                )

        # Escalation steps: taking over a role by editing its trust, creating a trusted name, passing a role to EC2.
        takeovers: list[tuple[str, RoleModel, tuple[str, ...]]] = [
            (node.key, self._role_of(node), (node.key,))
            for node in self.nodes.values()
            if node.kind in ("doer", "bootstrap")
        ]
        takeovers.append(("assumer", assumer, ("assumer",)))
        # Whoever rewrites state-mgmt's trust may then tag its sessions with any account.
        sessions = tuple(key for key, node in self.nodes.items() if node.kind == "state-mgmt")
        takeovers.append(("state-mgmt", state_mgmt, sessions))
        # A trusted CI principal outside the trust root's accounts: whoever may edit roles there may become it.
        # (An account the config does not list has no modelled principals: the config's refusal covers it.)
        extras = [
            n
            for n in self.nodes.values()
            if n.kind == "extra" and ":role/" in n.principal.arn and n.account.id in self.by_id
        ]
        for node in extras:
            extra_role = RoleModel(node.principal.arn, node.account.id, node.principal.arn.rsplit("/", 1)[-1], {})
            takeovers.append((node.key, extra_role, (node.key,)))
        if config.plan_path.enabled:
            takeovers += [
                (node.key, self._role_of(node), (node.key,)) for node in self.nodes.values() if node.kind == "plan-doer"
            ]
            takeovers.append(("plan-assumer", model.roles["plan-assumer-role"], ("plan-assumer",)))
            readers = tuple(key for key, node in self.nodes.items() if node.kind == "state-reader")
            takeovers.append(("state-reader", model.roles["state-backend-state-reader-role"], readers))
        for name, role, leads in takeovers:
            self._add_target(
                Target(
                    f"take-over:{name}",
                    "take-over",
                    role.account,
                    ("iam:UpdateAssumeRolePolicy",),
                    role.arn,
                    role.account,
                    None,
                    (),
                    leads,
                    None,
                    True,
                )
            )
        for (account_id, path_name, powered), node_key in self.created.items():
            if not powered:
                continue
            account = self.by_id[account_id]
            arn = f"arn:aws:iam::{account_id}:role{path_name}"
            name = path_name.rsplit("/", 1)[-1]
            bare = self.created[(account_id, path_name, False)]
            self._add_target(
                Target(
                    f"create:{name}@{account.name}",
                    "create",
                    account_id,
                    ("iam:CreateRole",),
                    arn,
                    account_id,
                    None,
                    (),
                    (bare,),
                    None,
                    True,
                )
            )
            # Creating it and writing its policies: the new role is as powerful as its creator cares to make it.
            self._add_target(
                Target(
                    f"create-with-policy:{name}@{account.name}",
                    "create",
                    account_id,
                    ("iam:CreateRole", "iam:PutRolePolicy"),
                    arn,
                    account_id,
                    None,
                    (),
                    (node_key,),
                    None,
                    True,
                )
            )
        for arn, _profiles in self.model.instance_profiles.items():
            role = self._roles_by_arn[arn]
            if role is not assumer:
                continue
            self._add_target(
                Target(
                    "pass-to-ec2:assumer",
                    "pass-role",
                    role.account,
                    ("iam:PassRole", "ec2:RunInstances"),
                    role.arn,
                    role.account,
                    None,
                    (("iam:PassedToService", "ec2.amazonaws.com"),),
                    ("assumer(foreign instance)",),
                    None,
                    True,
                )
            )
        # After passing the role: a launcher's shortest way is named as what it is (passing the runners' role).
        self._runner_takeover()
        self._runner_secret_reads()

    def _runner_takeover(self) -> None:
        """Any write call on a runner or what it boots from runs one's code as the assumer: no IAM power needed.

        One target per runner asset (plan.runner_writes), allowed when any one of its write actions is. Actions
        that every document of the world matches alike get the same verdict, so one of each such group is asked.
        """
        config = self.config
        if not self.model.instance_profiles.get(self.model.roles["assumer-role"].arn):
            return
        patterns = _action_patterns(self.nodes.values())
        tag = ((f"aws:ResourceTag/{config.ci.runner_tag_key}", config.ci.runner_tag_value),)
        for asset in RUNNER_ASSETS:
            self._add_target(
                Target(
                    f"take-over-runner:{asset.key}",
                    "runner-takeover",
                    self.shared.id,
                    _distinct_actions(write_actions(asset), patterns),
                    asset.arn.format(region=config.region, account=self.shared.id),
                    self.shared.id,
                    None,
                    tag,
                    ("assumer(runner)",),
                    None,
                    True,
                    any_action=True,
                )
            )

    def _runner_secret_reads(self) -> None:
        """A read call that returns a runner's secrets (plan.runner_secrets) hands over a registration token: whoever
        holds one registers a runner, is sent the apply job and so is the assumer. One target per group of reads
        authorized on the same kind of resource, allowed when any one of them is."""
        config = self.config
        if not self.model.instance_profiles.get(self.model.roles["assumer-role"].arn):
            return
        tag = ((f"aws:ResourceTag/{config.ci.runner_tag_key}", config.ci.runner_tag_value),)
        for group in SECRET_GROUPS:
            self._add_target(
                Target(
                    f"read-runner-secret:{group.key}",
                    "runner-secret-read",
                    self.shared.id,
                    secret_actions(group),
                    group.arn.format(region=config.region, account=self.shared.id),
                    self.shared.id,
                    None,
                    tag if group.tagged else (),
                    ("assumer(runner)",),
                    None,
                    True,
                    any_action=True,
                )
            )

    def _plan_targets(self, state_subjects: list[Account]) -> None:
        """Assuming the plan roles, and a write in every managed account (what no plan identity may make)."""
        org = (("aws:ResourceOrgID", self.config.organization_id),)
        shared = self.shared.id
        plan_assumer = self.model.roles["plan-assumer-role"]
        assume = ("sts:AssumeRole",)
        self._add_target(
            Target(
                "assume:plan-assumer",
                "assume-plan",
                shared,
                assume,
                plan_assumer.arn,
                shared,
                plan_assumer.trust,
                org,
                ("plan-assumer",),
                PLAN_ANY,
            )
        )
        for node in list(self.nodes.values()):
            if node.kind == "plan-doer":
                role = self._role_of(node)
                account_id = node.account.id
                self._add_target(
                    Target(
                        f"assume:{node.key}",
                        "assume-plan",
                        account_id,
                        assume,
                        role.arn,
                        account_id,
                        role.trust,
                        org,
                        (node.key,),
                        node.owner,
                    )
                )
        reader = self.model.roles["state-backend-state-reader-role"]
        for subject in state_subjects:
            tags = ((f"aws:RequestTag/{STATE_ACCOUNT_TAG}", subject.id), ("aws:TagKeys", (STATE_ACCOUNT_TAG,)), *org)
            self._add_target(
                Target(
                    f"assume:state-reader[{subject.name}]",
                    "assume-reader",
                    subject.id,
                    ("sts:AssumeRole", "sts:TagSession"),
                    reader.arn,
                    shared,
                    reader.trust,
                    tags,
                    (f"state-reader[{subject.name}]",),
                    PLAN + subject.id,
                )
            )
        # A write to a workload: EC2 has no resource policies, so only the account's own principals may make one.
        for account in self.accounts:
            if account.kind in ("shared", "application"):
                instances = f"arn:aws:ec2:{self.config.region}:{account.id}:instance/*"
                self._add_target(
                    Target(
                        f"write:{account.name}",
                        "write",
                        account.id,
                        ("ec2:TerminateInstances",),
                        instances,
                        account.id,
                        None,
                        (),
                        (),
                        account.id,
                        True,
                    )
                )

    def _role_of(self, node: Node) -> RoleModel:
        if node.kind == "bootstrap":
            return self.bootstrap_roles[node.account.id]
        if node.kind == "state-mgmt":
            return self.model.roles["state-backend-state-mgmt-role"]
        if node.kind == "state-reader":
            return self.model.roles["state-backend-state-reader-role"]
        for role in self.model.roles.values():
            if role.arn == node.principal.arn:
                return role
        raise KeyError(node.key)


_ROLE_ARN = re.compile(r"^arn:aws:iam::([0-9*?]+):role(/(?:.*/)?)([^/]+)$")


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    return []


def protected_role_names(documents: list[Document]) -> list[tuple[str, str, str]]:
    """(path, name, account pattern) of every role ARN or pattern a document names: the names worth creating.

    Wildcards in the name are filled with 'x', the way an attacker would pick a name that matches.
    """
    found: dict[tuple[str, str], str] = {}
    for document in documents:
        # A role ARN as a Principal is bound to the role's unique id when the policy is written: a role created
        # later under that name does not match it. Names in conditions and resources do.
        statements = document.get("Statement", [])
        outside = [{k: v for k, v in st.items() if k not in ("Principal", "NotPrincipal")} for st in statements]
        for text in _strings(outside):
            match = _ROLE_ARN.match(text)
            if not match:
                continue
            account, path, name = match.groups()
            if path.startswith(RESERVED_PATHS) or "*" in path or "?" in path:
                continue
            found.setdefault((path, re.sub(r"[*?]", "x", name)), account)
    return [(path, name, account) for (path, name), account in sorted(found.items())]


def _account_matches(pattern: str, account_id: str) -> bool:
    return re.fullmatch(pattern.replace("*", ".*").replace("?", "."), account_id) is not None


def _action_patterns(nodes: object) -> tuple[str, ...]:
    """Every Action and NotAction pattern of the principals' identity policies, boundaries and SCPs."""
    found: set[str] = set()

    def add(document: Document | None) -> None:
        for statement in (document or {}).get("Statement", []):
            for element in ("Action", "NotAction"):
                value = statement.get(element, [])
                found.update([value] if isinstance(value, str) else value)

    for node in nodes:  # type: ignore[attr-defined]
        principal = node.principal
        for _, document in principal.identity_policies:
            add(document)
        add(principal.boundary)
        for level in principal.scps or ():
            for document in level:
                add(document)
    return tuple(sorted(found))


def _distinct_actions(actions: tuple[str, ...], patterns: tuple[str, ...]) -> tuple[str, ...]:
    """One action of each group the patterns cannot tell apart (IAM action matching: case-insensitive, * and ?)."""
    compiled = [re.compile(_action_regex(p), re.IGNORECASE) for p in patterns]
    chosen: dict[tuple[bool, ...], str] = {}
    for action in actions:
        signature = tuple(c.fullmatch(action) is not None for c in compiled)
        chosen.setdefault(signature, action)
    return tuple(chosen.values())


def _action_regex(pattern: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
