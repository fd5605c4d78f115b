"""readable_state by key prefix: never an account's state whole; the plan path reads no state of the runners'
account (the shared account) beyond its readable prefixes."""

from __future__ import annotations

import pytest

from federation.config import ConfigError
from plan.escalation import analyse
from plan.matrix import access_matrix
from plan.model import iam_model
from tests.conftest import config_of, example_section, run_section, with_changes


@pytest.mark.parametrize("value", ["shared", "shared/", "dev/outputs"], ids=["whole", "whole-slash", "no-slash"])
def test_an_accounts_whole_state_is_refused(value: str) -> None:
    section = with_changes(example_section(), state_backend={"readable_state": [value]})
    with pytest.raises(ConfigError) as caught:
        config_of(section)
    (line,) = caught.value.problems
    assert line.startswith(f"iam-federation:state_backend.readable_state[0] = {value!r}: must be <account name>/")


def test_a_prefix_of_an_unknown_account_is_refused() -> None:
    section = with_changes(example_section(), state_backend={"readable_state": ["nope/outputs/"]})
    with pytest.raises(ConfigError) as caught:
        config_of(section)
    assert "'nope' is not an account of this stack" in caught.value.problems[0]


def test_the_plan_path_reads_the_outputs_and_no_other_state_of_the_runners_account() -> None:
    # With the guard: without it the read-only set reads the runners' secrets and is the assumer (a named risk,
    # tests/test_runner_secrets.py), which reaches every state.
    guard = {"management_account_id": "999999999999", "organization_guard": {"enabled": True, "target_ids": ["r-ab12"]}}
    plan = {"enabled": True, "permission_sets": ["AWSReadOnlyAccess"]}
    section = with_changes(example_section(), plan_path=plan, **guard)
    config = config_of(section)
    matrix = access_matrix(config, iam_model(run_section(section)))
    escalation = analyse(config, matrix)
    assert matrix.mismatches == [] and escalation.failures == []
    for source in ("sso-plan:AWSReadOnlyAccess", "plan-assumer", "plan-doer@dev"):
        reach = escalation.reaches[source]
        assert "state-read-outputs:shared" in reach.assets, source
        assert "state-read:shared" not in reach.assets and "state-list:shared" not in reach.assets, source
        assert "state-reader[shared]" not in reach.hops, source
    denied = matrix.cell("plan-assumer", "assume:state-reader[shared]")
    assert not denied.actual
    # An application account's state session reads the outputs prefix of shared, never the rest of it.
    assert matrix.allowed("state-mgmt[dev]", "state-read-outputs:shared")
    assert not matrix.allowed("state-mgmt[dev]", "state-read:shared")
