"""AWS limits: checked at config time, and no document grows with the number of accounts (1,000 here)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from federation.config import ConfigError
from federation.documents import all_documents
from federation.limits import iam_size, measure
from federation.load import load_config
from plan.runner import ProgramRun, to_pulumi_config
from tests.conftest import example_section, run_section, with_changes


def accounts(n: int) -> list[dict[str, str]]:
    return [{"name": f"acct-{i:04d}", "id": f"{500000000000 + i:012d}"} for i in range(n)]


def loaded(section: dict[str, Any]) -> Any:
    return load_config(to_pulumi_config(section))


def test_iam_size_ignores_whitespace() -> None:
    document = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject"}]}
    assert iam_size(document) == len(json.dumps(document).replace(" ", ""))


def test_example_documents_fit_with_room() -> None:
    for m in measure(loaded(example_section())):
        assert m.fits, m
        assert m.size < m.limit * 0.75, m


@pytest.mark.parametrize("trust_doers", [True, False])
def test_no_document_grows_from_10_to_1000_accounts(trust_doers: bool) -> None:
    base = with_changes(example_section(), state_backend={"state_mgmt_trusts_doers": trust_doers})
    small = all_documents(loaded(with_changes(base, accounts=accounts(10))))
    large = all_documents(loaded(with_changes(base, accounts=accounts(1000), stack={"max_accounts": 2000})))
    assert small == large
    assert {name: iam_size(d) for name, d in small.items()} == {name: iam_size(d) for name, d in large.items()}


def test_too_many_permission_sets_overflow_the_trust_policy_with_a_named_key() -> None:
    sets = [f"PermissionSet{i:02d}" for i in range(12)]
    section = with_changes(example_section(), sso={"permission_sets": sets})
    with pytest.raises(ConfigError) as caught:
        loaded(section)
    (problem,) = caught.value.problems
    assert problem.startswith(
        "iam-federation:sso.permission_sets, ci.extra_trusted_principal_arns, ci.oidc: the assumer trust"
    )
    assert "over its limit of 2,048" in problem and "limits.trust_policy_max_chars" in problem


def test_a_raised_trust_quota_lets_the_same_config_through() -> None:
    sets = [f"PermissionSet{i:02d}" for i in range(12)]
    section = with_changes(example_section(), sso={"permission_sets": sets}, limits={"trust_policy_max_chars": 4096})
    config = loaded(section)
    size = next(m.size for m in measure(config) if m.what == "assumer trust policy")
    assert 2048 < size <= 4096


def test_trust_quota_cannot_be_set_beyond_what_aws_allows() -> None:
    with pytest.raises(ConfigError) as caught:
        loaded(with_changes(example_section(), limits={"trust_policy_max_chars": 10000}))
    assert "iam-federation:limits.trust_policy_max_chars = 10000" in caught.value.problems[0]


def test_session_name_and_duration_limits() -> None:
    with pytest.raises(ConfigError) as caught:
        loaded(
            with_changes(
                example_section(),
                providers={"session_name": "x"},
                roles={"assumer": {"max_session_duration": 50000}},
            )
        )
    problems = "\n".join(caught.value.problems)
    assert "iam-federation:providers.session_name = 'x': must be a role session name" in problems
    assert "iam-federation:roles.assumer.max_session_duration = 50000" in problems


def test_more_than_ten_managed_policies_is_refused() -> None:
    policies = {f"p{i}": f"arn:aws:iam::111111111111:policy/p{i}" for i in range(11)}
    with pytest.raises(ConfigError) as caught:
        loaded(with_changes(example_section(), roles={"doer": {"managed_policy_arns": policies}}))
    assert "managed_policy_arns has 11 entries; IAM allows 10 per role" in caught.value.problems[0]


@pytest.fixture(scope="module")
def thousand_accounts_run() -> ProgramRun:
    return run_section(with_changes(example_section(), accounts=accounts(1000), stack={"max_accounts": 2000}))


def test_program_at_1000_accounts_registers_the_same_shared_documents(
    thousand_accounts_run: ProgramRun, example_run: ProgramRun
) -> None:
    def shared_documents(run: ProgramRun) -> dict[str, Any]:
        return {
            r.name: r.inputs.get("assumeRolePolicy") or r.inputs.get("policy")
            for r in run.registrations
            if r.name.startswith(("assumer-", "state-backend-"))
            and ("assumeRolePolicy" in r.inputs or "policy" in r.inputs)
        }

    assert shared_documents(thousand_accounts_run) == shared_documents(example_run)
    assert len(thousand_accounts_run.by_type("pulumi:providers:aws")) == 1001
    assert len(thousand_accounts_run.by_type("aws:iam/role:Role")) == 1001 + 2
    doer_trusts = {
        r.inputs["assumeRolePolicy"] for r in thousand_accounts_run.by_type("aws:iam/role:Role") if "doer" in r.name
    }
    assert len(doer_trusts) == 1  # every doer gets the same small trust policy
