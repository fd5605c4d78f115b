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
    # The launcher's other way, a write call on a runner (RunInstances on its image), is an edge too.
    assert "assumer(runner)" in escalation.reaches["launcher@shared"].hops
    # Without IAM power: any write call on a runner or what it boots from, and run as the assumer.
    assert "power-user@shared -[take-over-runner:instance]-> assumer(runner) -[assume:doer@prod]-> doer@prod" in (
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
    assert "state-read-outputs:shared" in reach.assets  # readable_state: [shared/outputs/]
    assert "state-read:shared" not in reach.assets  # never the shared account's state whole
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
    # An instance launched with the runners' profile into their subnets is a runner: still an edge, and a named risk.
    assert matrix.allowed("launcher@shared", "pass-to-ec2:assumer")
    assert "assumer(foreign instance)" in escalation.reaches["launcher@shared"].hops
    assert {f.risk for f in escalation.findings if f.source == "launcher@shared"} <= {RUNNER_RISK, RUNNER_TAKEOVER_RISK}


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
        # An SCP dropped: the launcher changes a runner again; with a guard configured that is a failure.
        (_drop_scp, "launcher@shared", "doer@prod", "launcher@shared -[pass-to-ec2:assumer]-> assumer(foreign"),
        # A trust widened: another account's admin becomes prod's doer, then reaches prod's state.
        (_widen_doer_trust, "admin@stage", "state-write:prod", "admin@stage -[assume:doer@prod]-> doer@prod"),
        # A guard removed from state-mgmt's trust: a doer tags another account.
        (_drop_tag_condition, "doer@dev", "state-write:prod", "doer@dev -[assume:state-mgmt[prod]]-> state-mgmt[prod]"),
    ],
    ids=["scp-dropped", "trust-widened", "tag-condition-dropped"],
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


def test_a_dropped_bucket_guard_fails_without_the_organization_guard(
    example: tuple[FederationConfig, IamModel],
) -> None:
    """With the guard the perimeter denies the shared account's power user everything; without it, the bucket
    policy is what stops one call that changes the lifecycle (and that is a failure, not the runner risk)."""
    config, model = example
    changed = model.copy()
    _drop_bucket_guard(changed)
    _, escalation = _analysed(config, changed)
    found = [f for f in escalation.failures if f.source == "power-user@shared" and f.reached == "bucket-lifecycle"]
    assert found and found[0].path == "power-user@shared -[bucket-lifecycle]"


def test_an_accepted_risk_covers_only_the_paths_through_its_principal() -> None:
    """issue #16 item 5: with 'extra-principal-account-admins' accepted, a finding of dev that does not pass the
    extra principal (state-mgmt's tag condition dropped) still fails; the path through the extra principal is the
    named risk. Failed on the code before the fix (every finding sourced in dev became the risk)."""
    changes: dict[str, Any] = {
        "ci": {"instance_profile_name": "infrastructure-assumer", "extra_trusted_principal_arns": [EXTRA_CI]},
        "accepted_risks": ["extra-principal-account-admins"],
    }
    section = with_changes(example_section(), **changes)
    config, model = config_of(section), iam_model(run_section(section))
    _, escalation = _analysed(config, model)
    assert escalation.failures == []
    through = [f for f in escalation.findings if f.source == "admin@dev" and f.reached == "doer@prod"]
    assert through and through[0].risk == "extra-principal-account-admins"
    assert "-[take-over:extra:ci-runner]-> extra:ci-runner" in through[0].path
    changed = model.copy()
    _drop_tag_condition(changed)
    _, mutated = _analysed(config, changed)
    found = [f for f in mutated.failures if f.source == "doer@dev" and f.reached == "state-write:prod"]
    assert found, [f.path for f in mutated.findings if f.source == "doer@dev"][:5]
    assert found[0].path == "doer@dev -[assume:state-mgmt[prod]]-> state-mgmt[prod] -[state-write:prod]"


EXTRA_CI = "arn:aws:iam::222222222222:role/ci-runner"


def _state_mgmt_updates_documents(model: IamModel) -> None:
    role = model.roles["state-backend-state-mgmt-role"]
    role.inline["ssm"] = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "ssm:UpdateDocument", "Resource": "*"}],
    }


def test_a_runner_risk_covers_only_a_hop_made_by_a_non_platform_principal_that_started_in_the_runners_account(
    example: tuple[FederationConfig, IamModel],
) -> None:
    """Second red team, item 2: with no guard and state-mgmt allowed ssm:UpdateDocument, dev's admin becomes its doer,
    then state-mgmt for dev, rewrites a runner's SSM document and is the assumer. That take-over hop is made by a
    platform role reached from another account: a failure, not 'runner-instance-takeover'. Failed on the code
    before the fix (printed as that risk, 0 failures)."""
    config, model = example
    changed = model.copy()
    _state_mgmt_updates_documents(changed)
    _, escalation = _analysed(config, changed)
    found = [f for f in escalation.findings if f.source == "admin@dev" and f.reached == "doer@prod"]
    assert found and found[0].risk is None, [(f.path, f.risk) for f in found]
    assert found[0].path == (
        "admin@dev -[take-over:doer@dev]-> doer@dev -[assume:state-mgmt[dev]]-> state-mgmt[dev] "
        "-[take-over-runner:ssm]-> assumer(runner) -[assume:doer@prod]-> doer@prod"
    )
    # The shared account's own power user taking a runner over is still the named risk, not a failure.
    power = [f for f in escalation.findings if f.source == "power-user@shared" and f.reached == "doer@prod"]
    assert power and power[0].risk == RUNNER_TAKEOVER_RISK
