"""The check "the deployer keeps control": provider calls as Pulumi's principals, judged by the registered policies."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from federation.config import ConfigError
from plan.check_deployer import CALLS, IAM_CALLS, PLAN_MODE_WITHHELD, deployers, lockouts
from plan.checks import CHECKS
from plan.evaluator import Request, evaluate
from plan.model import IamModel, iam_model
from plan.runner import ProgramRun
from state_backend.policies import TABLE_POLICY_ACTIONS, TABLE_POLICY_WILDCARD
from tests.conftest import config_of, example_section, run_section, with_changes
from tests.test_plan_path import PLAN_PATH, plan_section

SHARED_ID = "111111111111"
# The bucket policy's listing guard as landed before the allow-list (state_backend/policies.py, 28660cc): it denied
# s3:ListBucket to everyone but state-mgmt, the deployers included.
PRE_FIX_LISTING_GUARD: dict[str, Any] = {
    "Sid": "DenyListingExceptStateMgmt",
    "Effect": "Deny",
    "Principal": "*",
    "Action": ["s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"],
    "Resource": f"arn:aws:s3:::terraform-state-{SHARED_ID}",
    "Condition": {
        "ArnNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::{SHARED_ID}:role/infrastructure-state-mgmt-role"}
    },
}


@pytest.fixture(scope="module")
def kms_section() -> dict[str, Any]:
    # providers.mode plan needs a plan doer in the shared account (the runners'), built only when accepted as a risk.
    return plan_section(
        state_backend={"kms": {"enabled": True}},
        plan_path={**PLAN_PATH, "runners_account_doer": True},
        accepted_risks=["runners-account-plan-doer", "runners-account-plan-permission-set"],
    )


@pytest.fixture(scope="module")
def kms_run(kms_section: dict[str, Any]) -> ProgramRun:
    return run_section(kms_section)


def test_registered_in_the_plan() -> None:
    assert "deployer-keeps-control" in [name for name, _ in CHECKS]


@pytest.mark.parametrize("changes", [{}, {"state_backend": {"kms": {"enabled": True}}}])
def test_no_lockout_on_the_example(example_run: ProgramRun, changes: dict[str, Any]) -> None:
    section = with_changes(example_section(), **changes)
    run = run_section(section) if changes else example_run
    assert lockouts(config_of(section), iam_model(run), run) == []


def test_without_a_plan_doer_in_the_runners_account_plan_mode_is_refused() -> None:
    section = plan_section()
    assert [d.mode for d in deployers(config_of(section), iam_model(run_section(section)))] == ["bootstrap", "doer"]
    with pytest.raises(ConfigError, match=r"providers.mode = 'plan': the shared account \(the runners'\) has no plan"):
        config_of(with_changes(section, providers={"mode": "plan"}))


def test_no_lockout_with_the_plan_path_and_a_key(kms_section: dict[str, Any], kms_run: ProgramRun) -> None:
    config = config_of(kms_section)
    model = iam_model(kms_run)
    assert [d.mode for d in deployers(config, model)] == ["bootstrap", "doer", "plan"]
    assert lockouts(config, model, kms_run) == []


def test_every_backend_resource_type_has_a_call_table(kms_run: ProgramRun) -> None:
    backend = {r.type for r in kms_run.resources if r.custom and r.name.startswith("state-backend-")}
    under_policy = {t for t in backend if t.startswith(("aws:s3/", "aws:dynamodb/", "aws:kms/"))}
    assert under_policy and under_policy <= set(CALLS)
    for source, calls in CALLS.values():
        assert source.startswith("internal/service/") and source.endswith(".go")
        assert {c.phase for c in calls} >= {"create", "update", "delete"} or {c.phase for c in calls} >= {"read"}


def test_the_pre_fix_bucket_policy_locks_pulumi_out_of_heading_the_bucket(example_run: ProgramRun) -> None:
    """Issue #15 item 5: HeadBucket (s3:ListBucket) denied to the deployers fails refresh, import and tag updates."""
    model = iam_model(example_run)
    assert model.bucket_policy is not None
    model.bucket_policy["Statement"].append(PRE_FIX_LISTING_GUARD)
    findings = lockouts(config_of(example_section()), model, example_run)
    assert findings
    assert {f.resource for f in findings} == {"state-backend-bucket"}
    heads = [f for f in findings if "HeadBucket (s3:ListBucket" in f.what]
    assert {("bootstrap" in f.what, "doer" in f.what) for f in heads} == {(True, False), (False, True)}
    assert {f.what.split(" calls ")[0] for f in heads} == {"create", "read"}
    assert all("resource:Deny:DenyListingExceptStateMgmt" in f.rule for f in findings)
    assert all(f.source.startswith("hashicorp/terraform-provider-aws internal/service/s3/bucket.go") for f in findings)


def test_a_table_policy_without_the_deployers_is_a_lockout_named_by_statement(example_run: ProgramRun) -> None:
    model = iam_model(example_run)
    assert model.table_policy is not None
    everyone = next(s for s in model.table_policy["Statement"] if s["Sid"] == "DenyTableExceptNamedRoles")
    everyone["Condition"]["ArnNotEquals"]["aws:PrincipalArn"] = [
        arn
        for arn in everyone["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
        if ":role/infrastructure-doer" not in arn
    ]
    findings = lockouts(config_of(example_section()), model, example_run)
    assert findings and all("providers.mode doer" in f.what for f in findings)
    assert {f.resource for f in findings} == {"state-backend-lock-table", "state-backend-lock-table-policy"}
    assert any("PutResourcePolicy" in f.what for f in findings)
    assert all("resource:Deny:DenyTableExceptNamedRoles" in f.rule for f in findings)


def drop(model: IamModel, sid: str) -> None:
    assert model.key_policy is not None
    model.key_policy["Statement"] = [s for s in model.key_policy["Statement"] if s["Sid"] != sid]


def test_the_key_stays_manageable_by_arn_alone(kms_section: dict[str, Any], kms_run: ProgramRun) -> None:
    """KeyAdministration names the roles by unique id once stored; with it gone (both roles re-created), the
    statement by ARN keeps every call of the key's and the alias's allowed; without either, it is a lockout."""
    config = config_of(kms_section)
    model = iam_model(kms_run)
    drop(model, "KeyAdministration")
    assert lockouts(config, model, kms_run) == []
    drop(model, "KeyAdministrationByArn")
    findings = lockouts(config, model, kms_run)
    # The table too: DynamoDB asks KMS for kms:DescribeKey on the deployer's behalf; only the admin statements give it.
    assert {f.resource for f in findings} == {
        "state-backend-key",
        "state-backend-key-alias",
        "state-backend-lock-table",
    }
    assert any("CreateKey (lockout safety check) (kms:PutKeyPolicy" in f.what for f in findings)
    assert any("ScheduleKeyDeletion" in f.what and "bootstrap" in f.what for f in findings)


def test_plan_mode_checks_reads_only_and_the_withheld_read_is_denied(
    kms_section: dict[str, Any], kms_run: ProgramRun
) -> None:
    config = config_of(kms_section)
    model = iam_model(kms_run)
    (plan,) = [d for d in deployers(config, model) if d.mode == "plan"]
    assert plan.reads_only and plan.principal.arn.endswith(":role/infrastructure-plan-doer-role")
    # What the plan doer is refused by design is refused in fact: it never lists the state keys.
    assert set(PLAN_MODE_WITHHELD) == {("aws:s3/bucket:Bucket", "HeadBucket")}
    bucket = f"arn:aws:s3:::{model.bucket_name}"
    assert not evaluate(plan.principal, Request("s3:ListBucket", bucket, SHARED_ID, model.bucket_policy)).allowed
    # A settings read it needs is allowed, and without the narrowing statement for it a read fails the check.
    assert evaluate(plan.principal, Request("s3:GetBucketPolicy", bucket, SHARED_ID, model.bucket_policy)).allowed
    assert model.key_policy is not None
    drop(model, "PlanDoerReadsSettings")
    findings = lockouts(config, model, kms_run)
    assert findings and all("providers.mode plan" in f.what and "read calls" in f.what for f in findings)
    assert {f.resource for f in findings} == {"state-backend-key"}


def test_every_action_the_registered_table_policy_names_is_accepted_by_dynamodb(kms_run: ProgramRun) -> None:
    """What the program sends in PutResourcePolicy (plan path and key on: every optional statement present)."""
    (registration,) = kms_run.by_type("aws:dynamodb/resourcePolicy:ResourcePolicy")
    document = json.loads(registration.inputs["policy"])
    named = set()
    for statement in document["Statement"]:
        assert "NotAction" not in statement, statement["Sid"]
        actions = statement["Action"]
        named |= set(actions if isinstance(actions, list) else [actions])
    assert named - set(TABLE_POLICY_ACTIONS) == {TABLE_POLICY_WILDCARD}
    assert {s["Sid"] for s in document["Statement"]} >= {"StateReaderGetItemOnly", "PlanDoerReadsSettingsOnly"}


GUARD = {
    "management_account_id": "999999999999",
    "organization_guard": {"enabled": True, "target_ids": ["r-ab12"]},
}


def test_under_the_guard_the_deployers_keep_every_iam_call_and_a_guard_that_binds_them_is_caught() -> None:
    """The organization guard's SCP decides the IAM calls the provider makes in the shared account (roles, their
    policies and attachments, the instance profile, OIDC providers): the deployers must keep every one of them."""
    section = with_changes(example_section(), **GUARD)
    run = run_section(section)
    config, model = config_of(section), iam_model(run)
    assert model.scps and lockouts(config, model, run) == []
    # Judged on the registered IAM resources of the shared account, not only the backend's.
    assert any(r.type in IAM_CALLS and run.account_of(r) == SHARED_ID for r in run.registrations)
    # A guard that forgets to exempt the deployers from its role protection locks Pulumi out of its own roles.
    bound = copy.deepcopy(model)
    for scp in bound.scps:
        for statement in scp["Statement"]:
            condition = statement.get("Condition", {})
            for operator in [op for op in condition if op.startswith("ArnNotLike") or op.startswith("ArnNotEquals")]:
                condition[operator] = {key: ["arn:aws:iam::*:role/nobody"] for key in condition[operator]}
    findings = lockouts(config, bound, run)
    assert any("iam:UpdateAssumeRolePolicy" in f.what and f.resource == "doer-shared-role" for f in findings)
    assert any("iam:DeleteRolePolicy" in f.what for f in findings)
    iam = [f for f in findings if " (iam:" in f.what]
    assert iam and all("the organization guard's SCP" in f.rule for f in iam)
