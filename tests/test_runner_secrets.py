"""Reads of the runners' secrets (second red team, item 1): a principal of the runners' account allowed any read call
whose answer holds a runner's launch data, user data, console output or parameters (plan.runner_secrets) reaches the
assumer, unless a guard denies it; plan permission sets in that account's Identity Center without the guard are
refused unless the risk is accepted. Judged by the evaluator on the registered documents."""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from federation.config import ConfigError, FederationConfig
from plan.escalation import PLAN_PERMISSION_SET_RISK, analyse
from plan.evaluator import Principal, Request, evaluate
from plan.matrix import access_matrix
from plan.model import IamModel, iam_model
from plan.runner_secrets import SECRET_GROUPS, SecretRead
from plan.world import FULL_AWS_ACCESS, READ_ONLY_ACCESS, published_policy
from tests.conftest import config_of, example_section, run_section, with_changes

SHARED = "111111111111"
PLAN = {"enabled": True, "permission_sets": ["AWSReadOnlyAccess"]}
GUARD = {
    "management_account_id": "999999999999",
    "organization_guard": {"enabled": True, "target_ids": ["r-ab12"]},
}
READS = [(group.key, read) for group in SECRET_GROUPS for read in group.reads]
READER = "sso-plan:AWSReadOnlyAccess"


def _section(**changes: Any) -> dict[str, Any]:
    return with_changes(example_section(), plan_path=PLAN, **changes)


@pytest.fixture(scope="module")
def unguarded() -> tuple[FederationConfig, IamModel]:
    section = _section(accepted_risks=[PLAN_PERMISSION_SET_RISK])
    return config_of(section), iam_model(run_section(section))


@pytest.fixture(scope="module")
def guarded() -> tuple[FederationConfig, IamModel]:
    section = _section(**GUARD)
    return config_of(section), iam_model(run_section(section))


def _member(shape: Any, path: str) -> Any:
    for part in path.split("."):
        shape = shape.member if shape.type_name == "list" else shape
        shape = shape.members[part.removesuffix("[]")]
    return shape


@pytest.mark.parametrize(("group", "read"), READS, ids=[r.action for _, r in READS])
def test_each_listed_read_returns_the_secret_and_read_only_access_grants_it(group: str, read: SecretRead) -> None:
    """The list's source, checked: botocore's model of the operation answers with the named member, and AWS's
    ReadOnlyAccess (the plan permission set's policy) allows the call."""
    service, operation = read.operation.split("/")
    model = botocore.session.get_session().get_service_model(service).operation_model(operation)
    assert _member(model.output_shape, read.returns).type_name == "string"
    assert service == read.action.split(":")[0] and operation == read.action.split(":")[1]
    (secret_group,) = [g for g in SECRET_GROUPS if g.key == group]
    resource = secret_group.arn.format(region="us-east-1", account=SHARED)
    read_only = (("ro", published_policy(READ_ONLY_ACCESS)),)
    reader = Principal("ro", f"arn:aws:iam::{SHARED}:role/ro", "o-a1b2c3d4e5", read_only)
    assert evaluate(reader, Request(read.action, resource, SHARED, None)).allowed


@pytest.mark.parametrize(("group", "read"), READS, ids=[r.action for _, r in READS])
def test_the_guard_denies_each_read_to_a_non_platform_principal_of_the_runners_account(
    guarded: tuple[FederationConfig, IamModel], group: str, read: SecretRead
) -> None:
    config, model = guarded
    target = access_matrix(config, model).world.targets[f"read-runner-secret:{group}"]
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": read.action, "Resource": "*"}]}
    arn = f"arn:aws:iam::{SHARED}:role/ops"
    alone = Principal("ops", arn, "o-a1b2c3d4e5", (("only", policy),))
    request = Request(read.action, target.resource, SHARED, None, target.context)
    assert evaluate(alone, request).allowed
    bound = Principal("ops", arn, "o-a1b2c3d4e5", (("only", policy),), scps=((FULL_AWS_ACCESS, *model.scps),))
    assert not evaluate(bound, request).allowed


def test_plan_permission_sets_in_the_runners_account_without_the_guard_are_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        config_of(_section(accepted_risks=[]))
    (line,) = [p for p in caught.value.problems if "plan_path.permission_sets" in p]
    assert line.startswith("iam-federation:plan_path.permission_sets = ['AWSReadOnlyAccess']: ")
    assert "'runners-account-plan-permission-set'" in line
    assert PLAN_PERMISSION_SET_RISK in config_of(_section(accepted_risks=[PLAN_PERMISSION_SET_RISK])).risks
    # With the guard, or with Identity Center in the management account, there is nothing to accept.
    assert config_of(_section(**GUARD)).risks == []
    elsewhere = _section(management_account_id="999999999999", sso={"account_id": "999999999999"})
    assert not config_of(elsewhere).runners_account_plan_sets


def test_without_the_guard_the_read_only_permission_set_reads_runner_secrets_and_is_the_named_risk(
    unguarded: tuple[FederationConfig, IamModel],
) -> None:
    config, model = unguarded
    matrix = access_matrix(config, model)
    escalation = analyse(config, matrix)
    assert matrix.mismatches == [] and escalation.failures == []
    for group in SECRET_GROUPS:
        assert matrix.allowed(READER, f"read-runner-secret:{group.key}"), group.key
    found = [f for f in escalation.findings if f.source == READER and f.reached == "doer@prod"]
    assert found and found[0].risk == PLAN_PERMISSION_SET_RISK
    assert found[0].path.startswith(f"{READER} -[read-runner-secret:launch-data]-> assumer(runner)")
    # Not accepted (the config refuses that; the model is asked directly): the same path fails the plan.
    refused = config.model_copy(update={"accepted_risks": []})
    failed = [f for f in analyse(refused, matrix).failures if f.source == READER and f.reached == "doer@prod"]
    assert failed and failed[0].path == found[0].path


def test_with_the_guard_no_plan_identity_reads_a_runner_secret(guarded: tuple[FederationConfig, IamModel]) -> None:
    config, model = guarded
    matrix = access_matrix(config, model)
    escalation = analyse(config, matrix)
    assert matrix.mismatches == [] and escalation.failures == [] and escalation.findings == []
    readers = {c.principal for c in matrix.cells if c.target.startswith("read-runner-secret:") and c.actual}
    assert READER not in readers and "power-user@shared" not in readers
    assert "doer@shared" in readers  # a deployer of the runners' account: the trust root


def _drop_perimeter(model: IamModel) -> None:
    for scp in model.scps:
        scp["Statement"] = [s for s in scp["Statement"] if not s["Sid"].startswith("RunnersAccount")]


def test_a_dropped_perimeter_lets_the_read_only_permission_set_become_the_assumer(
    guarded: tuple[FederationConfig, IamModel],
) -> None:
    config, model = guarded
    changed = model.copy()
    _drop_perimeter(changed)
    escalation = analyse(config, access_matrix(config, changed))
    found = [f for f in escalation.failures if f.source == READER and f.reached == "doer@prod"]
    assert found and found[0].risk is None
    assert found[0].path.startswith(f"{READER} -[read-runner-secret:")
