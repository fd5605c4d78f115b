"""The organization guard's config refused where it would not bind what it promises (second red team, issue #16):
allow-list entries that are patterns, outside the runners' account or roles AWS creates; targets that miss the
shared account; the shared account as the management account; readable_state with '.' or '..' segments."""

from __future__ import annotations

from typing import Any

import pytest

from federation import documents
from federation.config import ConfigError
from tests.conftest import config_of, example_section, with_changes

SHARED = "111111111111"
GUARD = {"enabled": True, "target_ids": ["r-ab12"]}


def _guarded(**guard: Any) -> dict[str, Any]:
    return with_changes(example_section(), management_account_id="999999999999", organization_guard={**GUARD, **guard})


def _refused(section: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        config_of(section)
    (line,) = caught.value.problems
    return line


EXACT = "must be an exact IAM role or user ARN of the shared account"
BAD_ARNS = [
    (f"arn:aws:iam::{SHARED}:role/aws-reserved/sso.amazonaws.com/*", EXACT),
    (f"arn:aws:iam::{SHARED}:role/launcher-?", EXACT),
    ("arn:aws:iam::*:role/launcher", EXACT),
    ("arn:aws:iam::222222222222:role/launcher", "not a role of the shared account (111111111111)"),
    (
        f"arn:aws:iam::{SHARED}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Admin_0123456789abcdef",
        "a role AWS creates",
    ),
    (f"arn:aws:iam::{SHARED}:role/aws-service-role/ssm.amazonaws.com/AWSServiceRoleForAmazonSSM", "a role AWS creates"),
]


@pytest.mark.parametrize("key", ["platform_arns", "runner_launcher_arns"])
@pytest.mark.parametrize(("arn", "why"), BAD_ARNS, ids=[f"{i}" for i in range(len(BAD_ARNS))])
def test_an_allow_list_entry_exempts_exactly_one_platform_role(key: str, arn: str, why: str) -> None:
    line = _refused(_guarded(**{key: [f"arn:aws:iam::{SHARED}:role/ok", arn]}))
    assert line.startswith(f"iam-federation:organization_guard.{key}[1] = {arn!r}: {why}"), line


def test_an_exact_role_of_the_shared_account_is_accepted_and_exempted() -> None:
    arn = f"arn:aws:iam::{SHARED}:role/runner-fleet-launcher"
    config = config_of(_guarded(runner_launcher_arns=[arn], platform_arns=[f"arn:aws:iam::{SHARED}:role/ct"]))
    assert {arn, f"arn:aws:iam::{SHARED}:role/ct"} <= set(documents.runners_account_platform_arns(config))


def test_account_targets_must_include_the_shared_account() -> None:
    line = _refused(_guarded(target_ids=["222222222222", "333333333333"]))
    assert line.startswith("iam-federation:organization_guard.target_ids = ['222222222222', '333333333333']: ")
    assert SHARED in line
    # The shared account among them, or an OU or the root (assumed to hold it: docs/security.md), plans.
    for targets in ([SHARED, "222222222222"], ["ou-ab12-abcdefgh", "222222222222"], ["r-ab12"]):
        assert config_of(_guarded(target_ids=targets)).organization_guard.target_ids == targets


def test_the_guard_refuses_the_shared_account_as_management_account() -> None:
    section = with_changes(_guarded(), management_account_id=SHARED)
    line = _refused(section)
    assert line.startswith(f"iam-federation:management_account_id = {SHARED!r}: the shared account itself"), line


@pytest.mark.parametrize("value", ["shared/../", "shared/./outputs/", "shared/outputs/../", "dev/a/./b/"])
def test_readable_state_refuses_dot_segments(value: str) -> None:
    line = _refused(with_changes(example_section(), state_backend={"readable_state": [value]}))
    assert line.startswith(f"iam-federation:state_backend.readable_state[0] = {value!r}: must have no '.' or '..'")


def test_readable_state_accepts_dots_inside_a_segment() -> None:
    section = with_changes(example_section(), state_backend={"readable_state": ["shared/outputs.v2/"]})
    assert config_of(section).readable_prefixes == [f"{SHARED}/outputs.v2/"]
