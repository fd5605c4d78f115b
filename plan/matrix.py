"""The access matrix: every principal against every target, expected (from config) and actual (from the evaluator).

Expected verdicts are derived from the stack config alone, by the rules of the design, never from the program's
output. Actual verdicts come from the evaluator run on the documents the program registered.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from typing import Any

from federation.config import FederationConfig
from plan.evaluator import Document, Principal, Request, Verdict, evaluate
from plan.model import IamModel, RoleModel

ADMIN: Document = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Admin", "Effect": "Allow", "Action": "*", "Resource": "*"}],
}
# AWS managed policies whose effect we model exactly; any other ARN is modelled as full admin (the worst case).
KNOWN_MANAGED: dict[str, Document] = {
    "arn:aws:iam::aws:policy/AdministratorAccess": ADMIN,
    "arn:aws:iam::aws:policy/PowerUserAccess": {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PowerUser",
                "Effect": "Allow",
                "NotAction": ["iam:*", "organizations:*", "account:*"],
                "Resource": "*",
            }
        ],
    },
}
SSO_SUFFIX = "a1b2c3d4e5f60718"  # 16 characters, as Identity Center makes them
OUTSIDER_ORG = "o-outsider000"


@dataclass(frozen=True)
class Target:
    key: str
    action: str
    resource: str
    owner: str
    kind: str  # "role" | "object" | "item" | "insecure"
    context: tuple[tuple[str, str], ...] = ()


@dataclass
class Cell:
    principal: str
    target: str
    expected: bool
    actual: bool
    decided_by: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.expected == self.actual


@dataclass
class Matrix:
    principals: list[str]
    targets: list[str]
    cells: list[Cell]
    notes: list[str]

    def cell(self, principal: str, target: str) -> Cell:
        for cell in self.cells:
            if cell.principal == principal and cell.target == target:
                return cell
        raise KeyError((principal, target))

    @property
    def mismatches(self) -> list[Cell]:
        return [c for c in self.cells if not c.ok]

    def as_dict(self) -> dict[str, Any]:
        return {
            "principals": self.principals,
            "targets": self.targets,
            "notes": self.notes,
            "cells": [
                {
                    "principal": c.principal,
                    "target": c.target,
                    "expected": "allow" if c.expected else "deny",
                    "actual": "allow" if c.actual else "deny",
                    "ok": c.ok,
                    "decided_by": c.decided_by,
                }
                for c in self.cells
            ],
        }


@dataclass(frozen=True)
class Actor:
    """A principal of the matrix, with the role it speaks for (``kind``) used by the expected rules."""

    principal: Principal
    kind: str  # ec2 | assumer | sso | doer | state-mgmt | extra | outsider
    account_name: str | None = None


def _free_account(config: FederationConfig, seed: str) -> str:
    used = {a.id for a in config.all_accounts} | {config.sso_account_id}
    candidate = zlib.crc32(seed.encode()) % 10**12
    while f"{candidate:012d}" in used:
        candidate = (candidate + 1) % 10**12
    return f"{candidate:012d}"


def _sso_arn(account: str, permission_set: str, region: str | None = None) -> str:
    path = "aws-reserved/sso.amazonaws.com/" + (f"{region}/" if region else "")
    return f"arn:aws:iam::{account}:role/{path}AWSReservedSSO_{permission_set}_{SSO_SUFFIX}"


def _role_policies(role: RoleModel) -> tuple[tuple[str, Document], ...]:
    managed = [(arn.rsplit("/", 1)[-1], KNOWN_MANAGED.get(arn, ADMIN)) for arn in role.managed_arns]
    return tuple([*managed, *sorted(role.inline.items())])


def actors(config: FederationConfig, model: IamModel) -> list[Actor]:
    """Everyone who might knock: the intended callers and the ones who must be turned away."""
    org = config.organization_id
    roles = model.roles
    admin = (("AdministratorAccess", ADMIN),)
    result = [
        Actor(Principal("ec2-service", "ec2.amazonaws.com", service=True), "ec2"),
        Actor(
            Principal("ci-runner(assumer)", roles["assumer-role"].arn, org, _role_policies(roles["assumer-role"])),
            "assumer",
        ),
    ]
    sets = config.sso.permission_sets
    for ps in sets:
        result.append(Actor(Principal(f"sso:{ps}", _sso_arn(config.sso_account_id, ps), org, admin), "sso"))
    if sets:
        ps = sets[0]
        result.append(
            Actor(
                Principal(f"sso:{ps}(regional path)", _sso_arn(config.sso_account_id, ps, "eu-west-1"), org, admin),
                "sso",
            )
        )
        if len(ps) <= 30:
            lookalike = f"{ps}_x"
            result.append(
                Actor(Principal(f"sso:{lookalike}", _sso_arn(config.sso_account_id, lookalike), org, admin), "outsider")
            )
        if config.accounts:
            app = config.accounts[0]
            result.append(Actor(Principal(f"sso:{ps}@{app.name}", _sso_arn(app.id, ps), org, admin), "outsider"))
    unconfigured = next(p for p in ("AWSReadOnlyAccess", "UnconfiguredPermissionSet") if p not in sets)
    result.append(
        Actor(Principal(f"sso:{unconfigured}", _sso_arn(config.sso_account_id, unconfigured), org, admin), "outsider")
    )
    for arn in config.ci.extra_trusted_principal_arns:
        result.append(Actor(Principal(f"extra:{arn.rsplit('/', 1)[-1]}", arn, org, admin), "extra"))
    for account in config.all_accounts:
        role = roles[f"doer-{account.name}-role"]
        result.append(
            Actor(Principal(f"doer:{account.name}", role.arn, org, _role_policies(role)), "doer", account.name)
        )
    state_mgmt = roles["state-backend-state-mgmt-role"]
    result.append(Actor(Principal("state-mgmt", state_mgmt.arn, org, _role_policies(state_mgmt)), "state-mgmt"))
    member = config.accounts[0].id if config.accounts else config.shared_account.id
    result.append(Actor(Principal("org-member-admin", f"arn:aws:iam::{member}:role/ops-admin", org, admin), "outsider"))
    outside = _free_account(config, "outsider")
    result.append(
        Actor(Principal("outsider-admin", f"arn:aws:iam::{outside}:role/attacker", OUTSIDER_ORG, admin), "outsider")
    )
    doer = config.roles.doer
    namesake = f"arn:aws:iam::{outside}:role{doer.path}{doer.name}"
    result.append(Actor(Principal("outsider-doer-namesake", namesake, OUTSIDER_ORG, admin), "outsider"))
    return result


def targets(config: FederationConfig, model: IamModel) -> list[Target]:
    org = (("aws:ResourceOrgID", config.organization_id),)
    roles = model.roles
    shared = config.shared_account.id
    result = [Target("assume:assumer", "sts:AssumeRole", roles["assumer-role"].arn, shared, "role", org)]
    for account in config.all_accounts:
        role = roles[f"doer-{account.name}-role"]
        result.append(Target(f"assume:doer:{account.name}", "sts:AssumeRole", role.arn, account.id, "role", org))
    result.append(
        Target("assume:state-mgmt", "sts:AssumeRole", roles["state-backend-state-mgmt-role"].arn, shared, "role", org)
    )
    key = f"{config.accounts[0].name if config.accounts else config.shared_account.name}/terraform.tfstate"
    objects = f"arn:aws:s3:::{model.bucket_name}/"
    for suffix in ("", ".tflock"):
        for action in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject"):
            result.append(
                Target(f"{action} {key}{suffix}", action, objects + key + suffix, model.bucket_account, "object")
            )
    for action in ("dynamodb:PutItem", "dynamodb:DeleteItem"):
        result.append(Target(f"{action} lock", action, model.table_arn, model.table_account, "item"))
    result.append(
        Target(
            f"s3:GetObject {key} over http",
            "s3:GetObject",
            objects + key,
            model.bucket_account,
            "insecure",
            (("aws:SecureTransport", "false"),),
        )
    )
    return result


def expected(config: FederationConfig, actor: Actor, target: Target) -> bool:
    """The design's promise, from config alone: who may reach what."""
    if target.kind == "role":
        to = target.key.removeprefix("assume:")
        if actor.kind in ("ec2", "sso", "extra"):
            return to == "assumer"
        if actor.kind == "assumer":
            return to == "state-mgmt" or to.startswith("doer:")
        if actor.kind == "doer":
            return to == "state-mgmt" and config.state_backend.state_mgmt_trusts_doers
        return False
    if target.kind in ("object", "item"):
        return actor.kind == "state-mgmt"
    return False  # plain-http requests: nobody


def _request(target: Target, model: IamModel) -> Request:
    if target.kind == "role":
        role = next(r for r in model.roles.values() if r.arn == target.resource)
        policy: Document | None = role.trust
    elif target.kind == "item":
        policy = model.table_policy
    else:
        policy = model.bucket_policy
    return Request(target.action, target.resource, target.owner, policy, target.context)


def access_matrix(config: FederationConfig, model: IamModel) -> Matrix:
    everyone = actors(config, model)
    all_targets = targets(config, model)
    cells: list[Cell] = []
    for actor in everyone:
        for target in all_targets:
            if actor.kind == "ec2" and target.kind != "role":
                continue  # a service principal only assumes roles
            verdict: Verdict = evaluate(actor.principal, _request(target, model))
            cells.append(
                Cell(
                    actor.principal.key,
                    target.key,
                    expected(config, actor, target),
                    verdict.allowed,
                    verdict.decided_by,
                )
            )
    notes = [
        "Principals outside this program (SSO roles, other accounts) are modelled with AdministratorAccess: "
        "the worst case for our trust and resource policies.",
        "Doer managed policies other than AdministratorAccess and PowerUserAccess are modelled as full admin.",
    ]
    return Matrix([a.principal.key for a in everyone], [t.key for t in all_targets], cells, notes)
