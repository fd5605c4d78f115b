"""Property-based tests: hostile config values always give a clear ConfigError naming the key, never a traceback
from somewhere else, and the program registers nothing."""

from __future__ import annotations

import json
import re
from typing import Any

import pulumi
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from federation.config import ConfigError
from federation.load import load_config
from plan.runner import to_pulumi_config
from tests.conftest import example_section, registered_types, run_section, with_changes

NASTY = st.sampled_from(
    [
        "",
        " ",
        "*",
        "'",
        '"',
        "/",
        "../etc",
        "a b",
        "é",
        "名前",
        "dev\n",
        "dev;rm",
        "${x}",
        "AWS:",
        "-dev",
        "dev-",
        "x" * 300,
    ]
)
NOT_TWELVE_DIGITS = st.one_of(
    NASTY,
    st.text(min_size=0, max_size=20).filter(lambda s: re.fullmatch(r"\d{12}", s) is None),
    st.from_regex(r"\d{1,11}|\d{13,20}", fullmatch=True),
    st.from_regex(r"\d{11}[a-z]", fullmatch=True),
)
WRONG_TYPES = st.one_of(
    st.integers(), st.floats(allow_nan=False), st.booleans(), st.lists(st.integers(), min_size=1, max_size=3)
)
BAD_NAMES = st.one_of(
    NASTY, st.text(min_size=1, max_size=40).filter(lambda s: re.fullmatch(r"[a-z][a-z0-9-]{0,30}[a-z0-9]", s) is None)
)

LINE = re.compile(r"^iam-federation:\S")


def problems(section: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(to_pulumi_config(section))
    assert caught.value.problems, "a ConfigError must say what is wrong"
    for line in caught.value.problems:
        assert LINE.match(line), line
        assert "Traceback" not in line
    return caught.value.problems


fast = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@fast
@given(bad=NOT_TWELVE_DIGITS)
def test_bad_account_ids(bad: str) -> None:
    found = problems(with_changes(example_section(), accounts=[{"name": "dev", "id": bad}]))
    assert any(p.startswith("iam-federation:accounts[0].id") for p in found), found


@fast
@given(bad=BAD_NAMES)
def test_bad_account_names(bad: str) -> None:
    found = problems(with_changes(example_section(), accounts=[{"name": bad, "id": "222222222222"}]))
    assert any(p.startswith("iam-federation:accounts[0].name") for p in found), found


@fast
@given(
    value=WRONG_TYPES, key=st.sampled_from(["accounts", "shared_account", "roles", "sso", "ci", "providers", "tags"])
)
def test_wrong_types(value: Any, key: str) -> None:
    found = problems(with_changes(example_section(), **{key: value}))
    assert any(p.startswith(f"iam-federation:{key}") for p in found), found


@fast
@given(key=st.from_regex(r"[a-z][a-z_]{2,20}", fullmatch=True))
def test_unknown_top_level_keys(key: str) -> None:
    known = {"organization_id", "region", "shared_account", "accounts", "roles", "sso", "ci", "providers"}
    assume(key not in known | {"state_backend", "tags", "limits"})
    found = problems(with_changes(example_section(), **{key: "x"}))
    assert any(p.startswith(f"iam-federation:{key}: unknown key (check the spelling)") for p in found), found


@fast
@given(
    names=st.lists(st.sampled_from(["dev", "stage", "prod", "qa"]), min_size=2, max_size=6),
    ids=st.lists(st.sampled_from(["222222222222", "333333333333", "111111111111"]), min_size=2, max_size=6),
)
def test_duplicates_and_the_shared_account(names: list[str], ids: list[str]) -> None:
    accounts = [{"name": n, "id": i} for n, i in zip(names, ids, strict=False)]
    clash = len({a["name"] for a in accounts}) < len(accounts) or len({a["id"] for a in accounts}) < len(accounts)
    assume(clash or any(a["id"] == "111111111111" for a in accounts))
    found = problems(with_changes(example_section(), accounts=accounts))
    assert any("duplicate" in p or "is the shared account" in p for p in found), found


@fast
@given(bad=st.one_of(NASTY, st.text(max_size=80)))
def test_bad_principal_and_policy_arns(bad: str) -> None:
    assume(not re.fullmatch(r"arn:aws(-[a-z]+)*:iam::\d{12}:(role|user)/[\w+=,.@/-]+", bad))
    found = problems(with_changes(example_section(), ci={"extra_trusted_principal_arns": [bad]}))
    assert any(p.startswith("iam-federation:ci.extra_trusted_principal_arns[0]") for p in found), found


def test_huge_lists_are_refused_with_the_key() -> None:
    accounts = [{"name": f"a{i:05d}", "id": f"{200000000000 + i}"} for i in range(5001)]
    found = problems(with_changes(example_section(), accounts=accounts, stack={"max_accounts": 2000}))
    assert any(p.startswith("iam-federation:accounts") and "at most 5000" in p for p in found), found
    found = problems(with_changes(example_section(), sso={"permission_sets": [f"Set{i}" for i in range(21)]}))
    assert any(p.startswith("iam-federation:sso.permission_sets") for p in found), found


def test_empty_account_list_is_a_valid_shared_only_setup() -> None:
    config = load_config(to_pulumi_config(with_changes(example_section(), accounts=[])))
    assert config.all_accounts == [config.shared_account]


@pytest.mark.parametrize(
    "change",
    [
        {"accounts": [{"name": "../../x", "id": "2"}]},
        {"shared_account": "111111111111"},
        {"roles": {"doer": {"path": "/a//b/"}}},
        {"tags": {"aws:reserved": "x"}},
        {"accounts": json.loads('[{"name": "dev", "id": "222222222222", "id2": 1}]')},
    ],
)
def test_hostile_config_registers_nothing(change: dict[str, Any]) -> None:
    with registered_types() as seen, pytest.raises(pulumi.RunError) as caught:
        run_section(with_changes(example_section(), **change))
    assert str(caught.value).startswith("invalid stack configuration:")
    assert seen == ["pulumi:pulumi:Stack"]
