"""Optional hardening: a customer managed key for the state, and server access logging."""

from __future__ import annotations

import json

import pytest

from plan.runner import ProgramRun, Registration
from policy.rules import RULES
from tests.conftest import doc, example_section, run_section, statements, with_changes
from tests.test_policy_lint import findings
from tests.test_policy_pack import validation_args, violations

SHARED = "111111111111"
KEY_ADMIN = "arn:aws:iam::111111111111:role/security-admin"


def one(run: ProgramRun, name: str) -> Registration:
    (reg,) = [r for r in run.registrations if r.name == name]
    return reg


@pytest.fixture(scope="module")
def kms_run() -> ProgramRun:
    backend = {"kms": {"enabled": True, "key_admin_arns": [KEY_ADMIN]}, "access_logging": {"target_bucket": "org-logs"}}
    return run_section(with_changes(example_section(), state_backend=backend))


def test_key_is_rotated_guarded_and_aliased(kms_run: ProgramRun) -> None:
    key = one(kms_run, "state-backend-key")
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == 30
    assert key.protect and key.retain_on_delete
    alias = one(kms_run, "state-backend-key-alias")
    assert alias.inputs == {"name": "alias/terraform-state-111111111111", "targetKeyId": key.state["keyId"]}


def test_key_policy_lets_only_admins_manage_and_state_mgmt_use(kms_run: ProgramRun) -> None:
    policy = statements(doc(one(kms_run, "state-backend-key").inputs["policy"]))
    admins = [
        f"arn:aws:iam::{SHARED}:role/OrganizationAccountAccessRole",
        f"arn:aws:iam::{SHARED}:role/infrastructure-doer-role",
    ]
    # Only the roles Pulumi runs as may disable, delete, re-grant or re-policy the key: one such call loses all state.
    assert policy["KeyAdministration"]["Principal"] == {"AWS": admins}
    assert not [a for a in policy["KeyAdministration"]["Action"] if a in ("kms:Decrypt", "kms:*", "kms:Encrypt")]
    assert policy["KeyAudit"]["Principal"] == {"AWS": [KEY_ADMIN]}
    assert set(policy["KeyAudit"]["Action"]) == {
        "kms:Describe*",
        "kms:Get*",
        "kms:List*",
        "kms:EnableKeyRotation",
        "kms:TagResource",
    }
    assert policy["StateMgmtUse"]["Principal"] == {"AWS": f"arn:aws:iam::{SHARED}:role/state-mgmt-role"}
    assert policy["StateMgmtUse"]["Action"] == ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    assert policy["StateMgmtUse"]["Condition"] == {
        "StringEquals": {"kms:ViaService": ["s3.us-east-1.amazonaws.com", "dynamodb.us-east-1.amazonaws.com"]}
    }
    via = policy["DynamoDbOnBehalfOfAdmins"]["Condition"]["StringEquals"]
    assert via == {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com", "kms:CallerAccount": SHARED}
    # The account principal only with aws:PrincipalArn narrowing it to named roles: never the whole account.
    for sid, statement in policy.items():
        if ":root" in json.dumps(statement["Principal"]):
            assert statement["Principal"] == {"AWS": f"arn:aws:iam::{SHARED}:root"}, sid
            assert set(statement["Condition"]) == {"ArnEquals"}, sid
    assert policy["KeyAdministrationByArn"]["Condition"] == {"ArnEquals": {"aws:PrincipalArn": sorted(admins)}}
    assert policy["KeyAdministrationByArn"]["Action"] == policy["KeyAdministration"]["Action"]


def test_bucket_table_and_state_mgmt_use_the_key(kms_run: ProgramRun) -> None:
    key_arn = one(kms_run, "state-backend-key").state["arn"]
    (rule,) = one(kms_run, "state-backend-encryption").inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn}
    assert rule["bucketKeyEnabled"] is True
    table = one(kms_run, "state-backend-lock-table")
    assert table.inputs["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": key_arn}
    access = statements(doc(one(kms_run, "state-backend-state-mgmt-access").inputs["policy"]))
    assert access["StateKey"]["Resource"] == key_arn
    bucket_policy = statements(doc(one(kms_run, "state-backend-policy").inputs["policy"]))
    wrong = bucket_policy["DenyWrongEncryptionHeader"]["Condition"]["StringNotEquals"]
    assert wrong == {"s3:x-amz-server-side-encryption": "aws:kms"}


def test_access_logging_targets_the_configured_bucket(kms_run: ProgramRun) -> None:
    logging = one(kms_run, "state-backend-access-logging")
    assert logging.inputs == {
        "bucket": "terraform-state-111111111111",
        "targetBucket": "org-logs",
        "targetPrefix": "terraform-state/",
    }


def test_defaults_create_neither(example_run: ProgramRun) -> None:
    names = {r.name for r in example_run.registrations}
    assert not names & {"state-backend-key", "state-backend-key-alias", "state-backend-access-logging"}


def test_hardened_stack_passes_the_policy_pack_and_the_linter(kms_run: ProgramRun) -> None:
    for rule in RULES:
        for reg in kms_run.resources:
            if reg.custom:
                assert violations(rule, validation_args(kms_run, reg)) == [], (rule, reg.name)
    key_policy = one(kms_run, "state-backend-key").inputs["policy"]
    # In a key policy "Resource": "*" means "this key"; parliament reads it as every resource (known false positive).
    issues = [issue for issue, _ in findings(key_policy)]
    assert issues == ["RESOURCE_STAR"] * len(doc(key_policy)["Statement"])


def test_key_admin_arns_are_validated() -> None:
    from federation.config import ConfigError
    from tests.conftest import config_of

    with pytest.raises(ConfigError) as caught:
        config_of(with_changes(example_section(), state_backend={"kms": {"enabled": True, "key_admin_arns": ["me"]}}))
    assert "iam-federation:state_backend.kms.key_admin_arns[0] = 'me'" in caught.value.problems[0]
