"""plan/smt: every property proved on the fixture, and each hold-out mutation caught with a counterexample that the
evaluator (principalmapper) confirms. Each query runs cvc5 in its own process (a few tenths of a second each)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from federation.config import FederationConfig
from plan.model import IamModel, iam_model
from plan.smt.check import Decided, decide
from plan.smt.properties import Property, properties
from tests.conftest import config_of, example_section, run_section, with_changes

Mutation = Callable[[IamModel], None]


def _setup(section: dict[str, Any]) -> tuple[FederationConfig, IamModel]:
    return config_of(section), iam_model(run_section(section))


def _plan_path() -> dict[str, Any]:
    section = example_section()
    plan_path = dict(section["iam-federation:plan_path"])
    return with_changes(section, plan_path={**plan_path, "enabled": True})


def _decide(config: FederationConfig, model: IamModel, about: str = "") -> list[Decided]:
    chosen: list[Property] = [p for p in properties(config, model) if about in p.name]
    assert chosen, about
    return decide(chosen, timeout=60)


def test_every_property_is_proved_on_the_fixture() -> None:
    config, model = _setup(_plan_path())
    results = _decide(config, model)
    assert {r.status for r in results} == {"proved"}, [(r.prop.name, r.reading, r.status) for r in results]
    names = {r.prop.name for r in results}
    for expected in ("doer trust", "state-mgmt trust", "assumer trust", "assumer reaches", "state reader trust"):
        assert any(n.startswith(expected) for n in names), expected
    assert any(n.startswith("bucket policy denies") for n in names)
    assert any(n.startswith("lock table policy denies") for n in names)
    # One class for the application accounts' doers: documents equal up to their own account id are proved once.
    doers = [r.prop for r in results if r.prop.name.startswith("doer trust") and r.prop.mode == "admits-only"]
    assert sum(len(p.members) for p in doers) == len(config.all_accounts)
    assert len(doers) < len(config.all_accounts)


def test_require_source_identity_binds_the_state_reader_too() -> None:
    # Failed before state_reader_trust_policy took require_source_identity: a plan assumer session without a
    # source identity was admitted by the reader.
    section = with_changes(
        _plan_path(),
        sessions={"require_source_identity": True},
        state_backend={**example_section()["iam-federation:state_backend"], "state_mgmt_trusts_doers": False},
    )
    config, model = _setup(section)
    results = _decide(config, model, "state reader trust")
    assert [r.status for r in results] == ["proved"] * len(results)


def _statement(document: dict[str, Any], sid: str) -> dict[str, Any]:
    (found,) = [s for s in document["Statement"] if s.get("Sid") == sid]
    return found


def _role(model: IamModel, suffix: str) -> Any:
    return next(r for name, r in model.roles.items() if name.endswith(suffix))


def _widen_doer_trust(model: IamModel) -> None:
    for role in model.roles.values():
        if role.name == "infrastructure-doer-role":
            # Principal "*" alone changes nothing while ArnEquals aws:PrincipalArn stays (the SMT layer proves
            # that too): widened means the condition goes with it.
            statement = _statement(role.trust, "Assumer")
            statement["Principal"] = {"AWS": "*"}
            statement.pop("Condition")


def _drop_tag_condition(model: IamModel) -> None:
    condition = _statement(_role(model, "state-mgmt-role").trust, "DoersInOrganization")["Condition"]
    del condition["StringEquals"]["aws:RequestTag/StateAccount"]
    del condition["StringEqualsIfExists"]


def _tag_condition_if_exists(model: IamModel) -> None:
    condition = _statement(_role(model, "state-mgmt-role").trust, "DoersInOrganization")["Condition"]
    tag = condition["StringEquals"].pop("aws:RequestTag/StateAccount")
    condition["StringEqualsIfExists"]["aws:RequestTag/StateAccount"] = tag
    del condition["StringEqualsIfExists"]["aws:PrincipalTag/StateAccount"]


def _suffix_star(model: IamModel) -> None:
    condition = _statement(model.roles["assumer-role"].trust, "SsoPermissionSets")["Condition"]
    patterns = condition["ArnLike"]["aws:PrincipalArn"]
    condition["ArnLike"]["aws:PrincipalArn"] = [p.replace("?" * 16, "*") for p in patterns]


def _not_resource(model: IamModel) -> None:
    statement = _statement(model.roles["assumer-role"].inline["assume-doers-and-state-mgmt"], "AssumeStateMgmt")
    statement["NotResource"] = statement.pop("Resource")


def _star_account(model: IamModel) -> None:
    statement = _statement(
        model.roles["assumer-role"].inline["assume-doers-and-state-mgmt"], "AssumeDoersInOrganization"
    )
    statement["Resource"] = statement["Resource"].replace("?" * 12, "*")


def _bucket_guard_dropped(model: IamModel) -> None:
    assert model.bucket_policy is not None
    model.bucket_policy["Statement"] = [
        s for s in model.bucket_policy["Statement"] if not str(s["Sid"]).startswith("DenyStateObjectsExcept")
    ]


@pytest.mark.parametrize(
    ("mutate", "about"),
    [
        (_widen_doer_trust, "doer trust"),
        (_drop_tag_condition, "state-mgmt trust"),
        (_tag_condition_if_exists, "state-mgmt trust"),
        (_suffix_star, "assumer trust"),
        (_not_resource, "assumer reaches"),
        (_star_account, "assumer reaches"),
        (_bucket_guard_dropped, "bucket policy"),
    ],
)
def test_each_mutation_yields_a_counterexample_the_evaluator_confirms(mutate: Mutation, about: str) -> None:
    config, model = _setup(example_section())
    model = copy.deepcopy(model)
    mutate(model)
    results = _decide(config, model, about)
    found = [r for r in results if r.status == "counterexample"]
    assert found, [(r.prop.name, r.reading, r.status, r.reason) for r in results]
    assert all(r.example is not None and r.example.action for r in found)
    assert any(r.confirmed for r in found), [(r.reading, r.example and r.example.line(), r.confirmed) for r in found]


def _guard_section() -> dict[str, Any]:
    return with_changes(
        example_section(),
        management_account_id="999999999999",
        organization_guard={"enabled": True, "target_ids": ["r-ab12"]},
    )


def test_the_organization_guard_is_proved_under_both_readings() -> None:
    config, model = _setup(_guard_section())
    results = _decide(config, model, "organization guard")
    assert sorted(r.reading for r in results) == ["glob", "segment"]
    assert {r.status for r in results} == {"proved"}


def test_a_star_account_in_the_guards_deployers_is_caught_under_the_glob_reading() -> None:
    # What the SCP said before any_account_role_arn wrote twelve ?: a role at a path with ":" passed as a deployer.
    config, model = _setup(_guard_section())
    model = copy.deepcopy(model)
    for statement in model.scps[0]["Statement"]:
        for values in statement.get("Condition", {}).get("ArnNotLike", {}).values():
            values[:] = [v.replace("?" * 12, "*") for v in values]
    results = {r.reading: r for r in _decide(config, model, "organization guard")}
    assert results["segment"].status == "proved"
    found = results["glob"]
    assert found.status == "counterexample" and found.example is not None
    assert ":role/" in found.example.context["aws:PrincipalArn"].split(":role/", 1)[1]
    assert found.confirmed


def _oidc_section() -> dict[str, Any]:
    trust = {
        "name": "github",
        "provider": "github",
        "apply_subjects": ["repo:acme@1234567/infra@890123456:ref:refs/heads/main"],
        "plan_subjects": ["repo:acme@1234567/infra@890123456:pull_request"],
    }
    section = _plan_path()
    return with_changes(section, ci={**section["iam-federation:ci"], "oidc": [trust]})


def test_oidc_trusts_admit_exactly_their_subjects_and_audience() -> None:
    config, model = _setup(_oidc_section())
    results = _decide(config, model, "assumer trust")
    assert {r.prop.name.split(" admits")[0] for r in results} == {"assumer trust", "plan assumer trust"}
    assert {r.status for r in results} == {"proved"}
    assert any("AssumeRoleWithWebIdentity" in str(r.prop.document) for r in results)


def test_a_widened_oidc_subject_yields_a_token_the_evaluator_admits() -> None:
    config, model = _setup(_oidc_section())
    model = copy.deepcopy(model)
    (statement,) = [s for s in model.roles["assumer-role"].trust["Statement"] if "Federated" in s["Principal"]]
    like = statement["Condition"]["StringLike"]
    (key,) = like
    like[key] = ["repo:acme@1234567/*"]
    found = [r for r in _decide(config, model, "assumer trust") if r.status == "counterexample"]
    assert found and all(r.prop.mode == "admits-only" for r in found)
    (result,) = found
    assert result.example is not None and result.example.action == "sts:AssumeRoleWithWebIdentity"
    subject = result.example.context[key]
    assert (
        isinstance(subject, str)
        and subject.startswith("repo:acme@1234567/")
        and subject != "repo:acme@1234567/infra@890123456:ref:refs/heads/main"
    )
    assert result.confirmed


def _kms_section() -> dict[str, Any]:
    backend = example_section()["iam-federation:state_backend"]
    kms = {"enabled": True, "key_admin_arns": ["arn:aws:iam::111111111111:role/key-admin"]}
    return with_changes(example_section(), state_backend={**backend, "kms": kms})


def test_the_key_policy_is_proved_and_a_key_admin_given_deletion_is_caught() -> None:
    config, model = _setup(_kms_section())
    (proved,) = _decide(config, model, "key policy")
    assert proved.status == "proved"
    model = copy.deepcopy(model)
    assert model.key_policy is not None
    audit = _statement(model.key_policy, "KeyAudit")
    audit["Action"] = [*audit["Action"], "kms:ScheduleKeyDeletion"]
    (found,) = _decide(config, model, "key policy")
    assert found.status == "counterexample" and found.example is not None
    assert (found.example.principal, found.example.action) == (
        "arn:aws:iam::111111111111:role/key-admin",
        "kms:ScheduleKeyDeletion",
    )
    assert found.confirmed


def test_a_plan_doer_guard_without_its_role_deny_is_caught() -> None:
    config, model = _setup(_plan_path())
    results = _decide(config, model, "plan doer's guard")
    assert results and {r.status for r in results} == {"proved"}
    model = copy.deepcopy(model)
    for role in model.roles.values():
        if role.name == "infrastructure-plan-doer-role":
            (guard,) = role.inline.values()
            guard["Statement"] = [s for s in guard["Statement"] if s.get("Sid") != "NoOtherRoles"]
    found = [r for r in _decide(config, model, "plan doer's guard") if r.status == "counterexample"]
    assert found and all(r.example is not None and r.example.action.startswith("sts:") for r in found)
    assert all(
        r.example is not None and r.example.resource != "arn:aws:iam::111111111111:role/state-reader-role"
        for r in found
    )
    assert all(r.confirmed for r in found)


def test_every_property_is_proved_on_a_hardened_config() -> None:
    # Every optional document at once: the VPC binding (a policy variable in a negated Deny), an extra principal,
    # the guard, the key (with the reader's decrypt), readable_state and the plan path.
    backend = example_section()["iam-federation:state_backend"]
    ci = example_section()["iam-federation:ci"]
    section = with_changes(
        _plan_path(),
        ci={
            **ci,
            "runner_vpc_ids": ["vpc-0a1b2c3d4e5f67890"],
            "extra_trusted_principal_arns": ["arn:aws:iam::111111111111:role/r"],
        },
        management_account_id="999999999999",
        organization_guard={"enabled": True, "target_ids": ["r-ab12"]},
        state_backend={**backend, "kms": {"enabled": True}, "readable_state": ["shared/outputs/"]},
    )
    config, model = _setup(section)
    results = _decide(config, model)
    assert {r.status for r in results} == {"proved"}, [
        (r.prop.name, r.reading, r.status) for r in results if r.status != "proved"
    ]
    assert len({r.prop.name for r in results}) >= 14


def test_the_plan_check_fails_on_a_counterexample_and_leaves_the_summary() -> None:
    from pathlib import Path

    from plan.__main__ import run_selection
    from plan.checks import CHECKS, PlanInput
    from plan.stacks import select_stacks

    selection = select_stacks(Path(__file__).parent / "fixtures", "shared")
    runs = run_selection(selection)
    (smt,) = [check for name, check in CHECKS if name == "smt"]
    clean = PlanInput(selection=selection, runs=runs, model=iam_model(*runs))
    assert smt(clean) == []
    assert "properties proved" in clean.extras["notes"]["smt"] and "0 counterexample(s)" in clean.extras["notes"]["smt"]
    model = copy.deepcopy(iam_model(*runs))
    _star_account(model)
    mutated = PlanInput(selection=selection, runs=runs, model=model)
    findings = smt(mutated)
    assert [f.check for f in findings] == ["smt"]
    (finding,) = findings
    assert finding.resource == "assumer" and "glob reading; the evaluator agrees" in finding.what
    assert ":role/infrastructure-doer-role" in finding.what and finding.rule.startswith("assumer reaches only")
    assert "1 counterexample(s)" in mutated.extras["notes"]["smt"]
