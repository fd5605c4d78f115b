"""Terraform can use what it gets: the S3 backend's requests from the generated root.hcl, judged (plan.check_terraform).

Each test runs the real program under mocks, reads root.hcl and account.hcl from its outputs as a user pastes them,
and judges Terraform's requests with the evaluator against the registered documents. Mutations of the documents
or of root.hcl show the check fails when Terraform would.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from federation import snippets
from plan import check_terraform
from plan.check_terraform import Judgement, judge
from plan.checks import CHECKS, PlanInput
from plan.model import iam_model
from plan.runner import ProgramRun, to_pulumi_config
from plan.stacks import Selection, StackFile
from plan.terragrunt import parse_hcl
from tests.conftest import EXAMPLE_STACK, config_of, example_section, run_section, with_changes

SHARED_ID = "111111111111"
BUCKET = f"terraform-state-{SHARED_ID}"
ALIAS_ARN = f"arn:aws:kms:us-east-1:{SHARED_ID}:alias/{BUCKET}"
PLAN_PATH = {"enabled": True, "permission_sets": ["AWSReadOnlyAccess"]}


def section_with(**changes: dict[str, Any]) -> dict[str, Any]:
    """The example section with some keys of its objects changed (state_backend={...} merges into the example's)."""
    section = example_section()
    for key, value in changes.items():
        section = with_changes(section, **{key: {**section.get(f"iam-federation:{key}", {}), **value}})
    return section


def plan_of(section: dict[str, Any], run: ProgramRun | None = None) -> PlanInput:
    run = run or run_section(section)
    stack = StackFile(EXAMPLE_STACK, "shared", config_of(section), to_pulumi_config(section))
    return PlanInput(Selection("shared", stack, [], []), [run], iam_model(run))


def requests(judgement: Judgement, chain: str = "") -> set[tuple[str, str]]:
    return {(j.step.request.action, j.step.request.resource) for j in judgement.judged if chain in j.where}


def contexts(judgement: Judgement, operation: str) -> list[dict[str, Any]]:
    return [dict(j.step.request.context) for j in judgement.judged if j.step.label.startswith(operation)]


def test_the_check_is_registered() -> None:
    assert "terraform-backend" in dict(CHECKS)


# --- issue #15 item 4: with the state key, every state write was denied ------------------------------------------


KMS = {"kms": {"enabled": True}}


def test_with_kms_root_hcl_names_the_registered_keys_alias() -> None:
    section = section_with(state_backend=KMS)
    run = run_section(section)
    config = parse_hcl(run.outputs["terragrunt_root_hcl"])["remote_state"][0]["config"]
    assert (config["encrypt"], config["kms_key_id"]) == (True, ALIAS_ARN)
    # The alias the program registers, on the key it registers, in the account and region the ARN names.
    (alias,) = run.by_type("aws:kms/alias:Alias")
    (key,) = run.by_type("aws:kms/key:Key")
    assert alias.inputs["name"] == ALIAS_ARN.split(":", 5)[5]
    assert alias.inputs["targetKeyId"] == key.state["keyId"]
    assert run.account_of(alias) == ALIAS_ARN.split(":")[4] and key.state["arn"].split(":")[3] == "us-east-1"
    # The backend's own validation accepts the alias ARN (validate.go).
    assert any(pattern.fullmatch(ALIAS_ARN) for _, pattern in check_terraform.KMS_KEY_ID_FORMS)


def test_without_kms_root_hcl_has_no_kms_key_id() -> None:
    config = parse_hcl(run_section(example_section()).outputs["terragrunt_root_hcl"])["remote_state"][0]["config"]
    assert "kms_key_id" not in config and config["encrypt"] is True


def test_kms_state_writes_pass_after_the_fix_and_fail_without_kms_key_id() -> None:
    section = section_with(state_backend=KMS)
    judgement = judge(plan_of(section))
    assert judgement.findings == []
    # The writes carry aws:kms and the alias; S3 then asks KMS for a data key as state-mgmt, through S3.
    (put, *_) = contexts(judgement, "write state (default")
    assert put["s3:x-amz-server-side-encryption"] == "aws:kms"
    assert put["s3:x-amz-server-side-encryption-aws-kms-key-id"] == ALIAS_ARN
    key_requests = [j for j in judgement.judged if j.step.request.action == "kms:GenerateDataKey"]
    assert key_requests and all(j.allowed for j in key_requests)
    assert {dict(j.step.request.context)["kms:ViaService"] for j in key_requests} == {"s3.us-east-1.amazonaws.com"}

    # What the code before the fix generated: encrypt = true and no kms_key_id.
    run = run_section(section)
    run.outputs["terragrunt_root_hcl"] = re.sub(r"(?m)^\s*kms_key_id\s*=.*\n", "", run.outputs["terragrunt_root_hcl"])
    before = judge(plan_of(section, run))
    writes = [f for f in before.findings if "s3:PutObject" in f.what]
    assert writes and len(writes) == len(before.findings)
    assert all("s3:x-amz-server-side-encryption=AES256" in f.what for f in writes)
    assert all("resource:Deny:DenyWrongEncryptionHeader" in f.rule for f in writes)
    # Both the state and its .tflock, in the shared account and an application account.
    assert {f.what.split(" (")[0] for f in writes} == {"write state", "write lock file"}
    assert {f.resource.rsplit(" / ", 1)[1] for f in writes} == {f"shared ({SHARED_ID})", "dev (222222222222)"}


# --- what the backend asks for, from root.hcl ----------------------------------------------------------------------


def test_lockfile_requests_from_the_backends_source() -> None:
    judgement = judge(plan_of(example_section()))
    assert judgement.findings == []
    state = f"arn:aws:s3:::{BUCKET}/222222222222/dev/network/terraform.tfstate"
    made = requests(judgement, "dev (")
    assert {
        ("s3:ListBucket", f"arn:aws:s3:::{BUCKET}"),
        ("s3:GetObject", state),
        ("s3:PutObject", state),
        ("s3:PutObject", state + ".tflock"),
        ("s3:GetObject", state + ".tflock"),
        ("s3:DeleteObject", state + ".tflock"),
    } <= made
    # A workspace other than default lives under workspace_key_prefix, itself under the account's prefix.
    assert (
        "s3:PutObject",
        f"arn:aws:s3:::{BUCKET}/222222222222/workspaces/ci/222222222222/dev/network/terraform.tfstate",
    ) in made
    assert not any(action.startswith("dynamodb:") for action, _ in made)  # lockfile only: no table
    lock = contexts(judgement, "write lock file")[0]
    assert lock["s3:if-none-match"] == "*" and lock["s3:x-amz-server-side-encryption"] == "AES256"
    listing = contexts(judgement, "list workspaces")[0]
    assert listing["s3:prefix"] in ("111111111111/workspaces/", "222222222222/workspaces/")
    # Terragrunt's iam_role chain: the doer's session assumes state-mgmt, tagged with its own account.
    (assume,) = [
        j
        for j in judgement.judged
        if "dev (" in j.where and j.step.label.startswith("backend") and j.step.request.action == "sts:TagSession"
    ]
    assert assume.step.principal.arn == "arn:aws:iam::222222222222:role/infrastructure-doer-role"
    assert dict(assume.step.request.context)["aws:RequestTag/StateAccount"] == "222222222222"
    assert "Terragrunt iam_role" in assume.where


def test_dynamodb_lock_items_and_the_digest_item() -> None:
    judgement = judge(plan_of(section_with(state_backend={"terragrunt_lock": "both"})))
    assert judgement.findings == []
    lock_id = f"{BUCKET}/222222222222/dev/network/terraform.tfstate"
    by_item = {
        (j.step.request.action, dict(j.step.request.context)["dynamodb:LeadingKeys"][0])
        for j in judgement.judged
        if j.step.request.action.startswith("dynamodb:") and "dev (" in j.where
    }
    assert {
        ("dynamodb:PutItem", lock_id),
        ("dynamodb:GetItem", lock_id),
        ("dynamodb:DeleteItem", lock_id),
        ("dynamodb:GetItem", lock_id + "-md5"),
        ("dynamodb:PutItem", lock_id + "-md5"),
    } <= by_item


def test_the_articles_chain_assumes_state_mgmt_from_the_assumer() -> None:
    judgement = judge(plan_of(section_with(state_backend={"state_mgmt_trusts_doers": False})))
    assert judgement.findings == []
    assumes = [j for j in judgement.judged if j.step.request.action == "sts:AssumeRole"]
    assert assumes and all("article's chain" in j.where for j in assumes)
    assert {j.step.principal.arn for j in assumes} == {f"arn:aws:iam::{SHARED_ID}:role/infrastructure-assumer-role"}


def test_values_come_from_root_hcl_not_the_config() -> None:
    # Terraform's default workspace prefix is env:, outside every account's prefix: listing it is denied.
    section = example_section()
    run = run_section(section)
    root = run.outputs["terragrunt_root_hcl"]
    run.outputs["terragrunt_root_hcl"] = re.sub(r"(?m)^\s*workspace_key_prefix\s*=.*\n", "", root)
    findings = judge(plan_of(section, run)).findings
    listing = [f for f in findings if f.what.startswith("list workspaces")]
    assert listing and all("s3:prefix=env:/" in f.what for f in listing)
    assert all("implicit deny" in f.rule or "Deny" in f.rule for f in listing)


# --- mutations of the registered documents -------------------------------------------------------------------------


def _state_mgmt_policy(plan: PlanInput) -> dict[str, Any]:
    policy: dict[str, Any] = plan.model.roles["state-backend-state-mgmt-role"].inline["terraform-state-access"]
    return policy


def _statement(policy: dict[str, Any], sid: str) -> dict[str, Any]:
    (found,) = [s for s in policy["Statement"] if s.get("Sid") == sid]
    return found


def test_narrowing_state_objects_to_the_state_file_denies_the_lock_file() -> None:
    plan = plan_of(example_section())
    statement = _statement(_state_mgmt_policy(plan), "StateObjects")
    statement["Resource"] = statement["Resource"] + "/terraform.tfstate"  # .../${StateAccount}/*/terraform.tfstate
    findings = judge(plan).findings
    assert findings
    assert all(".tflock" in f.what for f in findings)
    assert {f.what.split(" (")[0] for f in findings} == {"write lock file", "read lock file", "delete lock file"}


def test_without_delete_object_the_lock_is_never_released() -> None:
    plan = plan_of(example_section())
    statement = _statement(_state_mgmt_policy(plan), "StateObjects")
    statement["Action"] = [a for a in statement["Action"] if a != "s3:DeleteObject"]
    findings = judge(plan).findings
    deletes = [f for f in findings if f.what.startswith("delete lock file")]
    assert deletes and "implicit deny" in deletes[0].rule
    assert "client.go RemoteClient.unlockWithFile" in deletes[0].source


def test_a_trust_without_the_doers_fails_the_iam_role_chain() -> None:
    plan = plan_of(example_section())
    trust = plan.model.roles["state-backend-state-mgmt-role"].trust
    trust["Statement"] = [s for s in trust["Statement"] if s.get("Sid") != "DoersInOrganization"]
    findings = judge(plan).findings
    assert findings and all(f.what.startswith("backend assumes assume_role.role_arn") for f in findings)


# --- the plan path: reads only, -lock=false --------------------------------------------------------------------------


def test_the_plan_path_reads_and_its_reader_is_denied_every_write() -> None:
    section = section_with(plan_path=PLAN_PATH, state_backend={"kms": {"enabled": True}, "terragrunt_lock": "both"})
    judgement = judge(plan_of(section))
    assert judgement.findings == []
    plan_path = [j for j in judgement.judged if j.where.startswith("plan path")]
    reader = f"arn:aws:iam::{SHARED_ID}:role/state-reader-role"
    made = [j for j in plan_path if j.step.made and j.step.principal.arn == reader]
    assert {j.step.request.action for j in made} == {"s3:ListBucket", "s3:GetObject", "kms:Decrypt", "dynamodb:GetItem"}
    assert all(j.allowed for j in made)
    # The lock and state writes plan would make without -lock=false: judged, and every one denied.
    writes = [j for j in plan_path if not j.step.made]
    assert {j.step.request.action for j in writes} == set(check_terraform.WRITE_ACTIONS)
    assert not any(j.allowed for j in writes)


def test_the_plan_path_without_lock_false_takes_a_lock_its_reader_may_not_write() -> None:
    section = section_with(plan_path=PLAN_PATH)
    run = run_section(section)
    run.outputs["terragrunt_root_hcl"] = run.outputs["terragrunt_root_hcl"].replace('["-lock=false"]', "[]")
    findings = judge(plan_of(section, run)).findings
    assert findings and all(f.resource.startswith("plan path") for f in findings)
    assert {f.what.split(" (")[0] for f in findings} == {"write lock file", "delete lock file"}


def test_a_reader_that_may_write_fails_the_plan_path() -> None:
    plan = plan_of(section_with(plan_path=PLAN_PATH))
    reader = plan.model.roles["state-backend-state-reader-role"].inline["terraform-state-read"]
    _statement(reader, "ReadStateObjects")["Action"] = ["s3:GetObject", "s3:PutObject"]
    plan.model.bucket_policy = None  # and no bucket policy to stop it, whatever its statements are called
    findings = judge(plan).findings
    assert findings and all("the plan path must write nothing" in f.rule for f in findings)


def test_root_hcl_it_cannot_read_is_a_finding() -> None:
    section = example_section()
    run = run_section(section)
    run.outputs["terragrunt_root_hcl"] = run.outputs["terragrunt_root_hcl"].replace(
        "path_relative_to_include()", "get_terragrunt_dir()"
    )
    findings = judge(plan_of(section, run)).findings
    assert findings and all("get_terragrunt_dir" in f.rule for f in findings)


@pytest.mark.parametrize("lock", ["lockfile", "dynamodb", "both"])
@pytest.mark.parametrize("trusts_doers", [True, False])
def test_every_lock_mode_and_chain_with_kms_passes(lock: snippets.LockMode, trusts_doers: bool) -> None:
    section = section_with(
        state_backend={"kms": {"enabled": True}, "terragrunt_lock": lock, "state_mgmt_trusts_doers": trusts_doers}
    )
    judgement = judge(plan_of(section))
    assert judgement.findings == [], json.dumps([f.as_dict() for f in judgement.findings], indent=1)
    assert judgement.judged
