"""The escalation analysis: reach in any number of steps, each edge kind, and mutations it must catch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from federation.config import FederationConfig
from plan.escalation import ROOT_USER_RISK, RUNNER_RISK, RUNNER_TAKEOVER_RISK, Escalation, analyse
from plan.matrix import Matrix, access_matrix
from plan.model import IamModel, iam_model
from tests.conftest import config_of, example_section, run_section, with_changes

HARDENED = {
    "management_account_id": "999999999999",
    "organization_guard": {"enabled": True, "target_ids": ["r-ab12"]},
}
VPC = {"instance_profile_name": "infrastructure-assumer", "runner_vpc_ids": ["vpc-0a1b2c3d4e5f67890"]}


def _analysed(config: FederationConfig, model: IamModel) -> tuple[Matrix, Escalation]:
    matrix = access_matrix(config, model)
    return matrix, analyse(config, matrix)


@pytest.fixture(scope="module")
def example() -> tuple[FederationConfig, IamModel]:
    section = example_section()
    return config_of(section), iam_model(run_section(section))


@pytest.fixture(scope="module")
def example_analysed(example: tuple[FederationConfig, IamModel]) -> tuple[Matrix, Escalation]:
    return _analysed(*example)


@pytest.fixture(scope="module")
def guarded() -> tuple[FederationConfig, IamModel]:
    section = with_changes(example_section(), **HARDENED)
    return config_of(section), iam_model(run_section(section))


def _paths(escalation: Escalation, source: str) -> list[str]:
    return [f.path for f in escalation.findings if f.source == source]


def test_the_example_keeps_the_promise_and_names_the_runner_risks(example_analysed: tuple[Matrix, Escalation]) -> None:
    _, escalation = example_analysed
    assert escalation.failures == []
    assert {f.source for f in escalation.findings} == {"launcher@shared", "power-user@shared"}
    assert {f.risk for f in escalation.findings} == {RUNNER_RISK, RUNNER_TAKEOVER_RISK}
    assert "launcher@shared -[pass-to-ec2:assumer]-> assumer(foreign instance) -[assume:doer@prod]-> doer@prod" in (
        _paths(escalation, "launcher@shared")
    )
    # Without IAM power: stop a runner, rewrite its user data, start it, and run as the assumer.
    assert "power-user@shared -[take-over-runner]-> assumer(runner) -[assume:doer@prod]-> doer@prod" in (
        _paths(escalation, "power-user@shared")
    )
    assert set(escalation.risks) == {RUNNER_RISK, RUNNER_TAKEOVER_RISK, ROOT_USER_RISK}


def test_an_application_admin_reaches_its_own_state_and_nothing_else(
    example_analysed: tuple[Matrix, Escalation],
) -> None:
    _, escalation = example_analysed
    reach = escalation.reaches["admin@dev"]
    # Take-over edge: AdministratorAccess in dev may rewrite dev's doer trust (no organization guard here).
    assert reach.describe("doer@dev") == "admin@dev -[take-over:doer@dev]-> doer@dev"
    assert reach.describe("state-write:dev").endswith("-[assume:state-mgmt[dev]]-> state-mgmt[dev] -[state-write:dev]")
    assert "state-mgmt[prod]" not in reach.hops and "doer@prod" not in reach.hops
    assert not {a for a in reach.assets if a.endswith(":prod") or a.endswith(":stage")}
    assert "state-read:shared" in reach.assets  # readable_state: [shared]
    assert "state-write:shared" not in reach.assets


def test_an_unmanaged_admin_creates_a_doer_namesake_that_reaches_only_its_own_prefix(
    example_analysed: tuple[Matrix, Escalation],
) -> None:
    _, escalation = example_analysed
    reach = escalation.reaches["admin@unmanaged"]
    created = "new-role:infrastructure-doer-role@unmanaged"
    assert reach.describe(created) == (
        f"admin@unmanaged -[create-with-policy:infrastructure-doer-role@unmanaged]-> {created}"
    )
    assert "state-mgmt[unmanaged]" in reach.hops
    assert {h for h in reach.hops if h.startswith("state-mgmt[")} == {"state-mgmt[unmanaged]"}
    # A role creator without policy rights gets a bare role: no identity permission to cross accounts with.
    bare = escalation.reaches["role-creator@unmanaged"]
    assert "new-role(bare):infrastructure-doer-role@unmanaged" in bare.hops
    assert not [h for h in bare.hops if h.startswith("state-mgmt[")]


def test_the_organization_guard_denies_take_over_creation_and_passing(
    guarded: tuple[FederationConfig, IamModel],
) -> None:
    matrix, escalation = _analysed(*guarded)
    assert matrix.mismatches == [] and escalation.failures == [] and escalation.findings == []
    take_over = matrix.cell("admin@dev", "take-over:doer@dev")
    assert not take_over.actual
    create = matrix.cell("admin@unmanaged", "create-with-policy:infrastructure-doer-role@unmanaged")
    assert not create.actual
    assert not matrix.cell("launcher@shared", "pass-to-ec2:assumer").actual
    assert "doer@dev" not in escalation.reaches["admin@dev"].hops
    # The deployers stay exempt: the shared doer still manages the assumer, the bootstrap role still everything.
    assert matrix.cell("doer@shared", "take-over:assumer").actual


def test_the_runner_vpc_binding_stops_copied_credentials_but_not_a_launch_into_the_runners_vpc() -> None:
    section = with_changes(example_section(), ci=VPC)
    matrix, escalation = _analysed(config_of(section), iam_model(run_section(section)))
    assert escalation.failures == []
    assert not [c for c in matrix.cells if c.principal == "assumer(copied credentials)" and c.actual]
    # An instance launched with the runners' profile into their subnets is a runner: still the named risk.
    assert {f.risk for f in escalation.findings if f.source == "launcher@shared"} == {RUNNER_RISK}


def _drop_scp(model: IamModel) -> None:
    model.scps.clear()


def _widen_doer_trust(model: IamModel) -> None:
    model.roles["doer-prod-role"].trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "sts:AssumeRole",
                "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}},
            }
        ],
    }


def _drop_tag_condition(model: IamModel) -> None:
    trust = model.roles["state-backend-state-mgmt-role"].trust
    doers = next(s for s in trust["Statement"] if s["Sid"] == "DoersInOrganization")
    del doers["Condition"]["StringEquals"]["aws:RequestTag/StateAccount"]


def _drop_bucket_guard(model: IamModel) -> None:
    assert model.bucket_policy is not None
    model.bucket_policy["Statement"] = [
        s for s in model.bucket_policy["Statement"] if s["Sid"] != "DenyBucketExceptNamedRoles"
    ]


@pytest.mark.parametrize(
    ("mutate", "source", "reached", "path_start"),
    [
        # An SCP dropped: the launcher passes the runners' role again; with a guard configured that is a failure.
        (_drop_scp, "launcher@shared", "doer@prod", "launcher@shared -[pass-to-ec2:assumer]-> assumer(foreign"),
        # A trust widened: another account's admin becomes prod's doer, then reaches prod's state.
        (_widen_doer_trust, "admin@stage", "state-write:prod", "admin@stage -[assume:doer@prod]-> doer@prod"),
        # A guard removed from state-mgmt's trust: a doer tags another account.
        (_drop_tag_condition, "doer@dev", "state-write:prod", "doer@dev -[assume:state-mgmt[prod]]-> state-mgmt[prod]"),
        # A bucket guard removed: one call of a principal without IAM power changes the lifecycle.
        (_drop_bucket_guard, "power-user@shared", "bucket-lifecycle", "power-user@shared -[bucket-lifecycle]"),
    ],
    ids=["scp-dropped", "trust-widened", "tag-condition-dropped", "bucket-guard-dropped"],
)
def test_a_mutation_fails_the_escalation_with_its_shortest_path(
    guarded: tuple[FederationConfig, IamModel],
    mutate: Callable[[IamModel], None],
    source: str,
    reached: str,
    path_start: str,
) -> None:
    config, model = guarded
    changed = model.copy()
    mutate(changed)
    _, escalation = _analysed(config, changed)
    found = [f for f in escalation.failures if f.source == source and f.reached == reached]
    assert found, [f.path for f in escalation.failures][:5]
    assert found[0].risk is None
    assert found[0].path.startswith(path_start)


def test_an_accepted_legacy_layout_is_a_named_risk_not_a_failure() -> None:
    changes: dict[str, Any] = {
        "state_backend": {"isolate_accounts": False},
        "accepted_risks": ["shared-state-sessions"],
    }
    section = with_changes(example_section(), **changes)
    matrix, escalation = _analysed(config_of(section), iam_model(run_section(section)))
    assert matrix.mismatches == []
    assert escalation.failures == []
    widened = [f for f in escalation.findings if f.source == "doer@dev" and f.reached == "state-write:prod"]
    assert widened and widened[0].risk == "shared-state-sessions"
    assert "shared-state-sessions" in escalation.risks
