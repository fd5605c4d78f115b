"""Classes of accounts: the plan on a few representatives equals the plan on every pair of accounts.

The proof obligation of the class-based plan: at a size where both run, every cell of the all-pairs matrix has the
verdict (and the expected value) of the representative cell that stands for it, and every reach of the all-pairs
escalation analysis is the reach of its representatives, both ways.
"""

from __future__ import annotations

from typing import Any

import pytest

from federation.config import FederationConfig
from plan.classes import account_classes
from plan.escalation import Escalation, analyse
from plan.matrix import Matrix, access_matrix, representative
from plan.model import IamModel, iam_model
from plan.world import organization_accounts
from tests.conftest import config_of, example_section, run_section, with_changes

PLAIN = [f"app{i}" for i in range(1, 7)]


def _section() -> dict[str, Any]:
    accounts = [{"name": name, "id": f"{200000000000 + i}"} for i, name in enumerate([*PLAIN, "outputs", "ci"], 1)]
    return with_changes(
        example_section(),
        accounts=accounts,
        # Named by id in the state-mgmt policy (readable) and in the assumer's trust (an extra CI principal): both
        # single their account out of the class of plain application accounts.
        state_backend={"readable_state": ["shared/outputs/", "outputs/outputs/"]},
        ci={"extra_trusted_principal_arns": ["arn:aws:iam::200000000008:role/ci-runner"]},
        accepted_risks=["extra-principal-account-admins", "runners-account-plan-permission-set"],
        # With the plan path on, the proof covers its roles too: a plan doer per account, the tagged reader sessions.
        plan_path={"enabled": True, "permission_sets": ["AWSReadOnlyAccess"]},
    )


@pytest.fixture(scope="module")
def setup() -> tuple[FederationConfig, IamModel]:
    section = _section()
    return config_of(section), iam_model(run_section(section))


@pytest.fixture(scope="module")
def both(setup: tuple[FederationConfig, IamModel]) -> tuple[Matrix, Matrix]:
    config, model = setup
    return access_matrix(config, model, by_class=True), access_matrix(config, model, by_class=False)


def test_classes_are_derived_from_the_documents(setup: tuple[FederationConfig, IamModel]) -> None:
    config, model = setup
    classes = {c.key: [a.name for a in c.members] for c in account_classes(organization_accounts(config), model)}
    plain = [members for members in classes.values() if len(members) > 1]
    assert plain == [PLAIN]
    assert classes["outputs"] == ["outputs"] and classes["ci"] == ["ci"]
    assert classes["shared"] == ["shared"]


def test_a_wildcard_account_pattern_splits_a_class(setup: tuple[FederationConfig, IamModel]) -> None:
    config, model = setup
    changed = model.copy()
    # A pattern matching app1..app4's ids (200000000001-4) but not app5/app6's.
    changed.roles["assumer-role"].inline["extra"] = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::x",
                "Condition": {"StringLike": {"aws:ResourceAccount": "20000000000[1-4]"}},
            }
        ],
    }
    changed.roles["doer-app1-role"].trust["Statement"][0]["Condition"]["ArnEquals"]["aws:PrincipalArn"] = (
        "arn:aws:iam::2000000000??:role/x"
    )
    classes = [sorted(a.name for a in c.members) for c in account_classes(organization_accounts(config), changed)]
    # app1's own trust differs now; the ?? pattern matches every app id, so it does not split the others.
    assert ["app1"] in classes
    assert ["app2", "app3", "app4", "app5", "app6"] in classes


def test_the_class_matrix_equals_the_all_pairs_matrix_cell_for_cell(both: tuple[Matrix, Matrix]) -> None:
    by_class, full = both
    assert len(by_class.world.nodes) < len(full.world.nodes)  # the classes really saved work
    assert len(by_class.cells) < len(full.cells)
    compared = 0
    for cell in full.cells:
        principal, target = representative(by_class, full.world, cell.principal, cell.target)
        rep = by_class.cell(principal, target)
        assert (rep.actual, rep.expected) == (cell.actual, cell.expected), (
            cell.principal,
            cell.target,
            principal,
            target,
        )
        compared += 1
    assert compared == len(full.cells)
    # And the counts agree: the representative cells stand for exactly the cells of the organization.
    assert sum(by_class.stands_for(c) for c in by_class.cells) == len(full.cells)


def _reach_pairs(escalation: Escalation) -> set[tuple[str, str]]:
    return {
        (source, reached) for source, reach in escalation.reaches.items() for reached in (*reach.hops, *reach.assets)
    }


def test_the_class_escalation_equals_the_all_pairs_escalation(
    setup: tuple[FederationConfig, IamModel], both: tuple[Matrix, Matrix]
) -> None:
    config, _ = setup
    by_class, full = both
    rep_escalation, full_escalation = analyse(config, by_class), analyse(config, full)
    rep_pairs = _reach_pairs(rep_escalation)
    full_pairs = _reach_pairs(full_escalation)
    every = [*full.world.nodes, *full.world.targets]
    expanded = set()
    for source in full.world.nodes:
        for other in every:
            if representative(by_class, full.world, source, other) in rep_pairs:
                expanded.add((source, other))
    assert expanded == full_pairs
    # Findings are judged the same way: no failure, only the named risks this config takes on.
    risks = {
        "runner-role-pass",
        "runner-instance-takeover",
        "extra-principal-account-admins",
        "runners-account-plan-permission-set",  # the read-only set of the shared account reads runner secrets
    }
    assert {f.risk for f in full_escalation.findings} == {f.risk for f in rep_escalation.findings} == risks
    ci_admin = [f for f in rep_escalation.findings if f.source == "admin@ci" and f.reached == "assumer"]
    # The CI principal's account admin rewrites that role's trust and becomes it: the accepted risk, by name.
    assert ci_admin[0].path == "admin@ci -[take-over:extra:ci-runner]-> extra:ci-runner -[assume:assumer]-> assumer"
