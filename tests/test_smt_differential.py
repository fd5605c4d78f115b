"""The SMT encoding as a concrete evaluator against principalmapper on random requests: the same verdict wherever
principalmapper is faithful. principalmapper reads every ARN pattern as one glob (a * crossing ":"), so it is
compared with the encoding's "glob" reading; it models role sessions, not account roots or anonymous callers."""

from __future__ import annotations

import random
from typing import Any

import pytest

from plan.evaluator import Principal, Request, evaluate
from plan.model import iam_model
from plan.smt.encode import IAM
from plan.smt.query import Concrete, concrete_query
from plan.smt.solve import parse_answer
from plan.smt.worker import solve
from tests.conftest import config_of, example_section, run_section

SHARED, DEV, OUTSIDE = "111111111111", "222222222222", "999999999999"
ORG, OTHER_ORG = "o-a1b2c3d4e5", "o-outsider000"
ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
ALLOW_ALL = {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}
SSO = f"arn:aws:iam::{SHARED}:role/aws-reserved/sso.amazonaws.com"
ROLES = [
    f"arn:aws:iam::{SHARED}:role/infrastructure-assumer-role",
    f"arn:aws:iam::{DEV}:role/infrastructure-doer-role",
    f"arn:aws:iam::{SHARED}:role/infrastructure-doer-role",
    f"arn:aws:iam::{OUTSIDE}:role/infrastructure-doer-role",
    f"arn:aws:iam::{DEV}:role/x:role/infrastructure-doer-role",
    f"arn:aws:iam::{DEV}:role/ci/infrastructure-doer-role",
    f"arn:aws:iam::{SHARED}:role/state-mgmt-role",
    f"{SSO}/AWSReservedSSO_AWSAdministratorAccess_a1b2c3d4e5f60718",
    f"{SSO}/eu-west-1/AWSReservedSSO_AWSAdministratorAccess_0123456789abcdef",
    f"{SSO}/AWSReservedSSO_AWSAdministratorAccess_X_a1b2c3d4e5f60718",
    f"{SSO}/AWSReservedSSO_AWSReadOnlyAccess_a1b2c3d4e5f60718",
    f"arn:aws:iam::{DEV}:role/admin",
]
ACTIONS = ["sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity", "sts:AssumeRoleWithSAML", "s3:GetObject"]
BUCKET_ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:ListBucket", "s3:PutBucketPolicy", "s3:DeleteBucket"]


def _request(rng: random.Random) -> Concrete:
    arn = rng.choice(ROLES)
    context: dict[str, str | tuple[str, ...]] = {"aws:PrincipalArn": arn, "aws:PrincipalAccount": arn.split(":")[4]}
    if rng.random() < 0.8:
        context["aws:PrincipalOrgID"] = rng.choice([ORG, ORG, OTHER_ORG])
    tag = rng.choice([None, arn.split(":")[4], DEV, SHARED, "*"])
    if tag is not None:
        context["aws:RequestTag/StateAccount"] = tag
        context["aws:TagKeys"] = rng.choice([("StateAccount",), ("StateAccount", "Other")])
    if rng.random() < 0.3:
        context["aws:PrincipalTag/StateAccount"] = rng.choice([arn.split(":")[4], DEV])
    if rng.random() < 0.5:
        context["sts:SourceIdentity"] = "jane"
    return Concrete(IAM, arn, rng.choice(ACTIONS), "", context)


def _smt(document: dict[str, Any], effect: str, example: Concrete) -> bool:
    return parse_answer(solve(concrete_query(document, effect, "glob", example))).status == "sat"


# What Principal itself sets (from its ARN and org); its session tags (aws:PrincipalTag/...) stay in the context.
_SET_BY_PRINCIPAL = ("aws:PrincipalArn", "aws:PrincipalAccount", "aws:PrincipalOrgID")


def _principal(example: Concrete) -> Principal:
    context = tuple((k, v) for k, v in example.context.items() if k not in _SET_BY_PRINCIPAL)
    org = example.context.get("aws:PrincipalOrgID")
    return Principal(
        "p", example.principal, org if isinstance(org, str) else None, (("admin", ADMIN),), context=context
    )


def _context(example: Concrete) -> tuple[tuple[str, str | tuple[str, ...]], ...]:
    return tuple((k, v) for k, v in example.context.items() if k not in _SET_BY_PRINCIPAL)


@pytest.fixture(scope="module")
def model() -> Any:
    section = example_section()
    config_of(section)
    return iam_model(run_section(section))


def test_trust_verdicts_agree_with_principalmapper(model: Any) -> None:
    rng = random.Random(18)
    trusts = [model.roles[n] for n in ("doer-dev-role", "state-backend-state-mgmt-role", "assumer-role")]
    verdicts: list[bool] = []
    for _ in range(400):
        example = _request(rng)
        role = rng.choice(trusts)
        example.resource = role.arn
        expected = _smt(role.trust, "Allow", example)
        request = Request(example.action, role.arn, role.account, role.trust, _context(example))
        assert evaluate(_principal(example), request, explain=False).allowed == expected, (role.name, example.line())
        verdicts.append(expected)
    assert 5 < sum(verdicts) < 395  # both verdicts are exercised


def test_assumer_and_bucket_verdicts_agree_with_principalmapper(model: Any) -> None:
    rng = random.Random(1018)
    assumer = model.roles["assumer-role"]
    (permissions,) = assumer.inline.values()
    bucket = f"arn:aws:s3:::{model.bucket_name}"
    guard = {**model.bucket_policy, "Statement": [*model.bucket_policy["Statement"], ALLOW_ALL]}
    allowed, denied_count = 0, 0
    for _ in range(200):
        example = _request(rng)
        example.resource = rng.choice(ROLES)
        example.context["aws:ResourceOrgID"] = rng.choice([ORG, OTHER_ORG])
        holder = Principal("assumer", assumer.arn, ORG, (("perms", permissions),), context=_context(example))
        owner = example.resource.split(":")[4]
        verdict = evaluate(holder, Request(example.action, example.resource, owner, None, _context(example)))
        assert verdict.allowed == _smt(permissions, "Allow", example), example.line()
        allowed += verdict.allowed
        example = _request(rng)
        example.action = rng.choice(BUCKET_ACTIONS)
        example.resource = rng.choice([bucket, f"{bucket}/{DEV}/terraform.tfstate"])
        example.context["aws:SecureTransport"] = rng.choice(["true", "true", "false"])
        principal = Principal("p", example.principal, None, (("admin", ADMIN),), context=_context(example))
        denied = not evaluate(
            principal, Request(example.action, example.resource, SHARED, guard, _context(example))
        ).allowed
        assert denied == _smt(model.bucket_policy, "Deny", example), example.line()
        denied_count += denied
    assert 5 < allowed < 195 and 5 < denied_count < 195
