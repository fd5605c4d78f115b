"""What the second red team found in the runners' account perimeter (issue #16, docs/security.md), each path proved
with the evaluator on the documents the program registers, before (allowed) and after (denied) the fix."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import pytest

from federation.config import FederationConfig
from plan.evaluator import Request, evaluate
from plan.matrix import access_matrix
from plan.model import IamModel, iam_model
from tests.conftest import config_of, example_section, run_section, with_changes

SHARED = "111111111111"
ORG = "o-a1b2c3d4e5"
HARDENED = {
    "management_account_id": "999999999999",
    "organization_guard": {"enabled": True, "target_ids": ["r-ab12"]},
    "plan_path": {"enabled": True, "permission_sets": ["AWSReadOnlyAccess"]},
}


@pytest.fixture(scope="module")
def hardened() -> tuple[FederationConfig, IamModel]:
    section = with_changes(example_section(), **HARDENED)
    return config_of(section), iam_model(run_section(section))


def _grant_organization(actions: list[str], resource: str) -> dict[str, Any]:
    """A runner asset's resource policy granting the whole organization (a common shape for shared images).

    Principal "*" rather than {"AWS": "*"} (the same to AWS): principalmapper reads only the former as naming the
    caller itself, which in its own account needs no identity policy (IAM User Guide, "Policy evaluation logic")."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": actions,
                "Resource": resource,
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": ORG}},
            }
        ],
    }


RUNNER_ASSET_WRITES = [
    ("s3:PutObject", "arn:aws:s3:::runner-boot-assets/bootstrap.sh"),
    ("ecr:PutImage", f"arn:aws:ecr:eu-west-1:{SHARED}:repository/runner-image"),
]
UNTRUSTED_ROLES = ["state-mgmt[dev]", "state-reader[dev]", "plan-assumer", "assumer(runner)"]


@pytest.mark.parametrize("who", UNTRUSTED_ROLES)
@pytest.mark.parametrize(("action", "resource"), RUNNER_ASSET_WRITES, ids=[a for a, _ in RUNNER_ASSET_WRITES])
def test_roles_untrusted_people_hold_write_no_runner_asset(
    hardened: tuple[FederationConfig, IamModel], who: str, action: str, resource: str
) -> None:
    config, model = hardened
    principal = access_matrix(config, model).world.nodes[who].principal
    assert principal.account == SHARED and principal.scps
    request = Request(action, resource, SHARED, _grant_organization([action], resource))
    # Without the guard the asset's own policy lets them write (the red team's path); with it, not.
    assert evaluate(replace(principal, scps=None), request).allowed, who
    assert not evaluate(principal, request).allowed, who


def test_the_backend_roles_still_reach_the_backend_and_nothing_else(
    hardened: tuple[FederationConfig, IamModel],
) -> None:
    config, model = hardened
    matrix = access_matrix(config, model)
    assert matrix.mismatches == []
    assert matrix.allowed("state-mgmt[dev]", "state-write:dev")
    assert matrix.allowed("assumer(runner)", "assume:doer@prod")
    guard = next(
        s for scp in model.scps for s in scp["Statement"] if s["Sid"] == "RunnersAccountBackendRolesOnBackendOnly"
    )
    roles = guard["Condition"]["ArnLike"]["aws:PrincipalArn"]
    assert roles == [f"arn:aws:iam::{SHARED}:role/state-mgmt-role", f"arn:aws:iam::{SHARED}:role/state-reader-role"]
    bucket, table = f"arn:aws:s3:::terraform-state-{SHARED}", f"table/terraform-state-lock-{SHARED}"
    table = f"arn:aws:dynamodb:us-east-1:{SHARED}:{table}"
    assert guard["NotResource"] == [table, f"{table}/*", bucket, f"{bucket}/*"]
    # The assumer and plan assumer are assume-only: off the statement that lets a role act in the account.
    acting = next(s for scp in model.scps for s in scp["Statement"] if s["Sid"] == "RunnersAccountPlatformOnly")
    exempt = acting["Condition"]["ArnNotLike"]["aws:PrincipalArn"]
    assert not [arn for arn in exempt if "assumer" in arn]


TAG = "aws:RequestTag/StateAccount"
READER_DENIES = ("RunnersAccountReadablePrefixesOnly", "RunnersAccountListReadablePrefixesOnly")


def _without(document: dict[str, Any], *keys: str) -> dict[str, Any]:
    """The document as it was before the fix: the new condition keys and statements gone (the red team's view)."""
    result = copy.deepcopy(document)
    result["Statement"] = [s for s in result["Statement"] if s.get("Sid") not in READER_DENIES]
    for statement in result["Statement"]:
        for operator in list(statement.get("Condition", {})):
            block = statement["Condition"][operator]
            for key in keys:
                block.pop(key, None)
            if not block:
                del statement["Condition"][operator]
    return result


NEW_KEYS = ("aws:TagKeys", TAG, "aws:PrincipalTag/StateAccount")


def _tagged_chain(config: FederationConfig, model: IamModel, before: bool) -> tuple[bool, bool, bool]:
    """SSO plan role -> plan assumer (passing StateAccount=<shared> as a transitive tag) -> state reader (no request
    tag: the carried tag stays) -> GetObject of the runners' account's state. Each hop's verdict."""
    world = access_matrix(config, model).world
    fix = (lambda d: _without(d, *NEW_KEYS)) if before else (lambda d: d)
    sso = world.nodes["sso-plan:AWSReadOnlyAccess"].principal
    sso = replace(
        sso, identity_policies=tuple((n, fix(d)) if n == "assume-roles" else (n, d) for n, d in sso.identity_policies)
    )
    if before:  # the landed inline grant included sts:TagSession
        sso = replace(sso, identity_policies=(*sso.identity_policies, ("tag", _allow("sts:TagSession"))))
    assumer = world.targets["assume:plan-assumer"]
    tagging = (("aws:RequestTag/StateAccount", SHARED), ("aws:TagKeys", ("StateAccount",)), *assumer.context)
    first = all(
        evaluate(sso, Request(action, assumer.resource, SHARED, fix(assumer.policy), tagging)).allowed
        for action in ("sts:AssumeRole", "sts:TagSession")
    )
    plan_assumer = world.nodes["plan-assumer"].principal
    carried = replace(
        plan_assumer,
        identity_policies=tuple((n, fix(d)) for n, d in plan_assumer.identity_policies),
        context=(("aws:PrincipalTag/StateAccount", SHARED),),
    )
    reader_target = world.targets["assume:state-reader[dev]"]
    untagged = tuple(
        (k, v) for k, v in reader_target.context if not k.startswith("aws:RequestTag") and k != "aws:TagKeys"
    )
    second = evaluate(
        carried, Request("sts:AssumeRole", reader_target.resource, SHARED, fix(reader_target.policy), untagged)
    ).allowed
    reader = world.nodes["state-reader[shared]"].principal
    reader = replace(reader, identity_policies=tuple((n, fix(d)) for n, d in reader.identity_policies))
    state = world.targets["state-read:shared"]
    third = evaluate(reader, Request("s3:GetObject", state.resource, SHARED, state.policy)).allowed
    return first, second, third


def _allow(action: str) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}


def test_a_transitive_state_tag_no_longer_reaches_the_runners_account_state(
    hardened: tuple[FederationConfig, IamModel],
) -> None:
    config, model = hardened
    assert _tagged_chain(config, model, before=True) == (True, True, True)  # the red team's chain, every hop
    assert _tagged_chain(config, model, before=False) == (False, False, False)  # every hop refused on its own
    # What the plan path needs still works: a reader session tagged with the runners' account reads its outputs.
    world = access_matrix(config, model).world
    reader = world.nodes["state-reader[shared]"].principal
    outputs = world.targets["state-read-outputs:shared"]
    assert evaluate(reader, Request("s3:GetObject", outputs.resource, SHARED, outputs.policy)).allowed
