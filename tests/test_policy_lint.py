"""Every generated policy passes parliament, an offline IAM policy linter, with no findings.

Trust policies are the one exception, with one known false positive: parliament has no trust-policy mode and
calls every trust statement MALFORMED for lacking a Resource, which a trust policy must not have.
"""

from __future__ import annotations

import json

import pytest
from parliament import analyze_policy_string

from federation.documents import all_documents
from plan.runner import ProgramRun
from tests.conftest import config_of, example_section, with_changes

TRUST_FALSE_POSITIVE = ("MALFORMED", "Statement contains neither Resource nor NotResource")


# parliament's is_valid_account_id (parliament/statement.py) accepts 12 digits or "*" only, and stops analysing a
# statement with a malformed resource; IAM takes ? wildcards in every ARN segment, and twelve ? pin the account
# segment where "*" could cross ":" (iam.policies.any_account_role_arn). parliament lints the "*" form instead.
ANY_ACCOUNT = "arn:aws:iam::" + "?" * 12 + ":"


def findings(document: str, community: bool = False) -> list[tuple[str, str]]:
    linted = document.replace(ANY_ACCOUNT, "arn:aws:iam::*:")
    policy = analyze_policy_string(linted, ignore_private_auditors=True, include_community_auditors=community)
    return [(f.issue, str(f.detail)) for f in policy.findings]


def registered_documents(run: ProgramRun) -> dict[tuple[str, str], str]:
    return {
        (reg.name, key): reg.inputs[key]
        for reg in run.registrations
        for key in ("policy", "assumeRolePolicy")
        if isinstance(reg.inputs.get(key), str)
    }


def test_identity_and_resource_policies_have_no_findings(example_run: ProgramRun) -> None:
    documents = {k: v for k, v in registered_documents(example_run).items() if k[1] == "policy"}
    assert len(documents) == 8  # assumer, state-mgmt, 4 doers' state access, bucket policy, lock table policy
    assert {key: findings(doc) for key, doc in documents.items() if findings(doc)} == {}


def test_trust_policies_have_only_the_known_false_positive(example_run: ProgramRun) -> None:
    trusts = {k: v for k, v in registered_documents(example_run).items() if k[1] == "assumeRolePolicy"}
    assert len(trusts) == 6
    for key, document in trusts.items():
        statements = len(json.loads(document)["Statement"])
        assert findings(document) == [TRUST_FALSE_POSITIVE] * statements, key


def test_community_auditors_flag_only_the_deliberate_credential_hand_out(example_run: ProgramRun) -> None:
    # parliament's community CREDENTIALS_EXPOSURE auditor flags sts:AssumeRole, which returns credentials: handing
    # out credentials is what the assumer and the doers' state access exist for, and nothing else is flagged.
    for (name, key), document in registered_documents(example_run).items():
        if key != "policy":
            continue
        grants_assume = "sts:AssumeRole" in document and '"Allow"' in document
        expected = [("CREDENTIALS_EXPOSURE", "")] if grants_assume else []
        assert findings(document, community=True) == expected, name


def test_the_linter_does_catch_a_bad_policy() -> None:
    bad = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObjekt", "Resource": "*"}]}
    assert any(issue == "UNKNOWN_ACTION" for issue, _ in findings(json.dumps(bad)))


@pytest.mark.parametrize(
    "change",
    [
        {},
        {"state_backend": {"state_mgmt_trusts_doers": False}},
        {"ci": {"extra_trusted_principal_arns": ["arn:aws:iam::111111111111:role/r"]}},
        {
            "ci": {"runner_vpc_ids": ["vpc-0a1b2c3d4e5f67890"]},
            "management_account_id": "999999999999",
            "organization_guard": {"enabled": True, "target_ids": ["r-ab12"]},
        },
    ],
)
def test_documents_of_other_configs_lint_clean(change: dict[str, object]) -> None:
    for name, document in all_documents(config_of(with_changes(example_section(), **change))).items():
        expected = [] if "trust" not in name else [TRUST_FALSE_POSITIVE] * len(document["Statement"])
        assert findings(json.dumps(document)) == expected, name
