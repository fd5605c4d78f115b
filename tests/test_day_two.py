"""Day two: adding an account in doer mode, the guard from CI, and `make plan BASE=` against a deployed base.

Every base here is made from a real mock run of the program (export_of on its registrations, written and read back
as `make plan` does), never written by hand.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pulumi_aws
import pytest
import yaml

import federation.topology as topology
import plan.__main__ as plan_main
from federation.config import ConfigError
from iam import providers
from plan import check_prerequisites, diff, forcenew
from plan.checks import Finding, PlanInput
from plan.escalation import analyse
from plan.matrix import access_matrix
from plan.model import iam_model
from plan.runner import PROVIDER_TYPE, ProgramRun
from plan.stacks import select_stacks
from tests.conftest import EXAMPLE_STACK, MEMBER_STACK, config_of, doc, example_section, statements, with_changes

SHARED = "111111111111"
MANAGEMENT = "999999999999"
QA = {"name": "qa", "id": "555555555555"}
STACK = "pulumi:pulumi:Stack"


def _doer(section: dict[str, Any], **providers_keys: Any) -> dict[str, Any]:
    settings = {**section["iam-federation:providers"], "mode": "doer", **providers_keys}
    return with_changes(section, providers=settings)


def _with_account(section: dict[str, Any], **account: Any) -> dict[str, Any]:
    return with_changes(section, accounts=[*section["iam-federation:accounts"], {**QA, **account}])


def _planned(tmp_path: Path, section: dict[str, Any], base: diff.Base | None = None) -> PlanInput:
    """What `python -m plan` hands the checks, for one stack file written from this section."""
    directory = tmp_path / f"stacks-{len(list(tmp_path.iterdir()))}"
    directory.mkdir()
    (directory / "Pulumi.shared.yaml").write_text(yaml.safe_dump({"config": section}))
    selection = select_stacks(directory, "shared")
    runs = plan_main.run_selection(selection)
    return PlanInput(selection, runs, iam_model(*runs), {"base": base} if base else {})


def _base(tmp_path: Path, plan: PlanInput) -> diff.Base:
    """The base a deployed stack would give: the run's registrations in `pulumi stack export`'s shape, on disk."""
    path = tmp_path / f"base-{len(list(tmp_path.iterdir()))}.json"
    path.write_text(json.dumps(diff.export_of(plan.runs), default=str))
    return diff.load_base(path)


def _changes(plan: PlanInput) -> dict[str, list[diff.Change]]:
    changes = diff.changes_of(plan)
    assert changes is not None
    by_action: dict[str, list[diff.Change]] = {action: [] for action in diff.ACTIONS}
    for change in changes:
        by_action[change.action].append(change)
    return by_action


def _chain(run: ProgramRun, provider_name: str) -> list[dict[str, Any]]:
    (provider,) = [r for r in run.by_type(PROVIDER_TYPE) if r.name == provider_name]
    chain = json.loads(provider.inputs["assumeRoles"])
    assert isinstance(chain, list)
    return chain


def _lines(findings: list[Finding]) -> str:
    return "\n".join(f.line() for f in findings)


@pytest.fixture(scope="module")
def deployed_doer(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], diff.Base]:
    """The example stack deployed and switched to doer mode: its base, from a mock run."""
    tmp_path = tmp_path_factory.mktemp("deployed")
    section = _doer(example_section())
    return tmp_path, section, _base(tmp_path, _planned(tmp_path, section))


def test_a_new_account_in_doer_mode_fails_the_prerequisites_naming_the_bootstrap_fix(
    deployed_doer: tuple[Path, dict[str, Any], diff.Base],
) -> None:
    tmp_path, section, base = deployed_doer
    plan = _planned(tmp_path, _with_account(section), base)
    findings = check_prerequisites.check(plan)
    assert [f.resource.rsplit("::", 1)[-1] for f in findings] == ["aws-qa"]
    assert "arn:aws:iam::555555555555:role/infrastructure-doer-role" in findings[0].what
    assert "set accounts[3].bootstrap: true for the first `up`" in findings[0].rule
    # The same stack without a base: the new doer is assumed deployed, and the plan says so.
    without = _planned(tmp_path, _with_account(section))
    assert check_prerequisites.check(without) == []
    assert any("without BASE: assumed already deployed" in n for n in check_prerequisites.notes(without))


def test_bootstrap_reaches_the_new_accounts_bootstrap_role_through_the_shared_doer(
    deployed_doer: tuple[Path, dict[str, Any], diff.Base],
) -> None:
    tmp_path, section, base = deployed_doer
    plan = _planned(tmp_path, _with_account(section, bootstrap=True), base)
    run = plan.runs[0]
    assert [hop["roleArn"] for hop in _chain(run, "aws-qa")] == [
        f"arn:aws:iam::{SHARED}:role/infrastructure-doer-role",
        "arn:aws:iam::555555555555:role/OrganizationAccountAccessRole",
    ]
    assert [hop["roleArn"] for hop in _chain(run, "aws-dev")] == [
        "arn:aws:iam::222222222222:role/infrastructure-doer-role"
    ]
    assert check_prerequisites.check(plan) == []
    # The plan tells the user what the bootstrap role must trust, and to remove the flag after.
    (note,) = [n for n in check_prerequisites.notes(plan) if "accounts[3].bootstrap" in n]
    statement = json.loads(note.split("'s trust: ", 1)[1].split("; after it", 1)[0])
    assert statement["Principal"] == {"AWS": f"arn:aws:iam::{SHARED}:root"}
    assert statement["Condition"] == {
        "ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{SHARED}:role/infrastructure-doer-role"}
    }
    assert "remove the flag" in note


def test_removing_bootstrap_after_the_first_up_updates_only_that_provider(
    deployed_doer: tuple[Path, dict[str, Any], diff.Base],
) -> None:
    tmp_path, section, _ = deployed_doer
    first_up = _base(tmp_path, _planned(tmp_path, _with_account(section, bootstrap=True)))
    plan = _planned(tmp_path, _with_account(section), first_up)
    changes = _changes(plan)
    assert [(c.name, c.changed) for c in changes["update"]] == [("aws-qa", ["assumeRoles"])]
    assert changes["create"] == changes["replace"] == changes["delete"] == []
    assert check_prerequisites.check(plan) == diff.check(plan) == []
    # Still flagged while the doer is deployed: the plan says to remove it.
    flagged = _planned(tmp_path, _with_account(section, bootstrap=True), first_up)
    assert any("accounts[3].bootstrap: true: its doer is deployed" in n for n in check_prerequisites.notes(flagged))


def test_adding_an_account_shows_exactly_its_resources_as_creates(
    deployed_doer: tuple[Path, dict[str, Any], diff.Base],
) -> None:
    tmp_path, section, base = deployed_doer
    plan = _planned(tmp_path, _with_account(section, bootstrap=True), base)
    changes = _changes(plan)
    run = plan.runs[0]
    qa_provider = next(r for r in run.by_type(PROVIDER_TYPE) if r.name == "aws-qa")
    # The new account's resources: its provider, and everything registered through it or under its components.
    mine = {r.urn for r in run.registrations if r.provider_urn == qa_provider.urn or r.name.endswith("-qa")}
    mine |= {r.urn for r in run.registrations if r.parent in mine}
    assert {c.urn for c in changes["create"]} == mine
    assert {r.name for r in run.registrations if r.urn in mine} >= {"aws-qa", "doer-qa", "doer-qa-role"}
    assert changes["replace"] == changes["delete"] == []
    assert diff.check(plan) == []


def test_a_tag_change_updates_the_providers_and_the_tags_all_of_every_taggable_resource(tmp_path: Path) -> None:
    """A defaultTags change is an in-place update of each provider and, as terraform-provider-aws computes tags_all
    from default_tags, of every taggable resource those providers manage: never a replacement."""
    section = example_section()
    base = _base(tmp_path, _planned(tmp_path, section))
    plan = _planned(tmp_path, with_changes(section, tags={"Project": "iam-federation", "CostCenter": "42"}), base)
    changes = _changes(plan)
    assert changes["create"] == changes["replace"] == changes["delete"] == []
    run = plan.runs[0]
    providers = {r.urn for r in run.by_type(PROVIDER_TYPE)}
    taggable = {r.urn for r in run.resources if r.type in forcenew.TAGGABLE_TYPES and r.provider_urn in providers}
    assert {"aws:iam/role:Role", "aws:s3/bucket:Bucket", "aws:dynamodb/table:Table"} <= {
        r.type for r in run.resources if r.urn in taggable
    }
    updates = {c.urn: c.changed for c in changes["update"]}
    assert updates == {**{u: ["defaultTags"] for u in providers}, **{u: ["tagsAll"] for u in taggable}}
    # A policy or attachment has no tags: unchanged.
    assert all(c.type not in forcenew.TAGGABLE_TYPES for c in changes["same"] if c.type != STACK)
    assert "update   aws:s3/bucket:Bucket state-backend-bucket (in place: tagsAll)" in diff.diff_text(
        base, diff.changes_of(plan) or []
    )
    assert diff.check(plan) == []


def test_a_default_tag_a_resource_overrides_leaves_its_tags_all_unchanged(tmp_path: Path) -> None:
    """tags_all is default_tags merged with the resource's own tags (SetTagsDiff): a resource whose own tags set the
    changed key keeps its tags_all."""
    section = example_section()
    own = {"CostCenter": "7"}
    first = _planned(tmp_path, section)
    (table,) = first.runs[0].by_type("aws:dynamodb/table:Table")
    table.inputs["tags"] = own
    base = _base(tmp_path, first)
    plan = _planned(tmp_path, with_changes(section, tags={**section["iam-federation:tags"], "CostCenter": "42"}), base)
    (table,) = plan.runs[0].by_type("aws:dynamodb/table:Table")
    table.inputs["tags"] = own
    changes = {c.name: c for c in diff.changes_of(plan) or []}
    assert changes["state-backend-lock-table"].action == "same"
    assert changes["state-backend-bucket"].changed == ["tagsAll"]


def test_taggable_and_regional_types_agree_with_pulumi_aws() -> None:
    """The data in plan/forcenew.py against the installed SDK: tags_all and region on the resource class."""
    for token in forcenew.FORCE_NEW:
        if token.startswith("pulumi:providers:"):
            continue
        module, name = token.split(":")[1].split("/")[0], token.split(":")[2]
        cls = getattr(getattr(pulumi_aws, module), name)
        assert (token in forcenew.TAGGABLE_TYPES) == hasattr(cls, "tags_all"), token
        assert (token in forcenew.REGIONAL_TYPES) == hasattr(cls, "region"), token


def test_a_region_change_replaces_every_regional_resource_and_fails_on_the_state_bucket(tmp_path: Path) -> None:
    section = example_section()
    base = _base(tmp_path, _planned(tmp_path, section))
    plan = _planned(tmp_path, with_changes(section, region="eu-west-1"), base)
    changes = _changes(plan)
    replaced = {c.type for c in changes["replace"] if "region" in c.replaced_by}
    assert {"aws:s3/bucket:Bucket", "aws:dynamodb/table:Table"} <= replaced
    assert replaced <= forcenew.REGIONAL_TYPES
    assert not any(c.type.startswith("aws:iam/") for c in changes["replace"])  # IAM is global
    bucket = next(c for c in changes["replace"] if c.type == "aws:s3/bucket:Bucket")
    assert "forceNewIfRegionChanges" in bucket.replaced_by["region"]
    assert "state-backend-bucket" in {f.resource.rsplit("::", 1)[-1] for f in diff.check(plan)}


# The shape of a real `pulumi stack export` (pulumi/pulumi sdk/go/common/apitype/core.go: UntypedDeployment
# {version, deployment}, DeploymentV3 {manifest, secrets_providers, resources, pending_operations, metadata}, ResourceV3
# {urn, custom, delete, id, type, inputs, outputs, parent, protect, dependencies, provider, propertyDependencies,
# created, modified, sourcePosition, ...}), with the inputs the engine and the bridge add that the mock does not: a
# provider's CheckConfig defaults as text and its plugin `version`, `__defaults` (pulumi-terraform-bridge
# pkg/tfbridge/schema.go defaultsKey), and computed outputs (tagsAll, region).
def _as_real_export(mock: dict[str, Any]) -> dict[str, Any]:
    resources = []
    for raw in mock["deployment"]["resources"]:
        real = {
            **raw,
            "dependencies": [],
            "propertyDependencies": {},
            "created": "2026-12-01T10:00:00.000000Z",
            "modified": "2026-12-01T10:00:00.000000Z",
            "sourcePosition": "project:///federation/program.py#42,5",
        }
        inputs, outputs = dict(raw["inputs"]), dict(raw["outputs"])
        if raw["type"] == PROVIDER_TYPE:
            inputs.update(
                skipCredentialsValidation="false",
                skipMetadataApiCheck="true",
                skipRegionValidation="true",
                version="7.51.1",
                __defaults=[],
            )
            outputs = dict(inputs)
        elif raw["custom"]:
            defaulted = {}
            if raw["type"] == "aws:iam/role:Role":
                defaulted = {k: v for k, v in forcenew.SCHEMA_DEFAULTS[raw["type"]].items() if k not in inputs}
                if "description" not in inputs:  # a schema default the mock's table lacks: only __defaults says so
                    defaulted["description"] = ""
            inputs.update(defaulted, __defaults=sorted(defaulted))
            if raw["type"] in forcenew.TAGGABLE_TYPES:
                outputs["tagsAll"] = {**(outputs.get("tags") or {}), "ManagedBy": "pulumi/iam-federation"}
            if raw["type"] in forcenew.REGIONAL_TYPES:
                outputs["region"] = "us-east-1"
        resources.append({**real, "inputs": inputs, "outputs": outputs})
    # A replaced resource's old copy still to be deleted (delete: true) shares the live one's URN.
    stale = next(r for r in resources if r["type"] == "aws:iam/role:Role")
    resources.append({**stale, "id": "old-copy", "delete": True, "inputs": {**stale["inputs"], "name": "other"}})
    return {
        "version": 3,
        "deployment": {
            "manifest": {"time": "2026-12-01T10:00:00Z", "magic": "0" * 64, "version": "v3.200.0"},
            "secrets_providers": {"type": "passphrase", "state": {"salt": "v1:abc"}},
            "resources": resources,
            "pending_operations": [],
            "metadata": {},
        },
    }


def test_a_real_stack_exports_extra_inputs_are_no_changes(tmp_path: Path) -> None:
    section = example_section()
    plan = _planned(tmp_path, section)
    path = tmp_path / "export.json"
    path.write_text(json.dumps(_as_real_export(diff.export_of(plan.runs)), default=str))
    base = diff.load_base(path)
    changes = _changes(_planned(tmp_path, section, base))
    assert [(c.name, c.changed) for a in ("create", "update", "replace", "delete") for c in changes[a]] == []


def test_a_bucket_name_change_fails_as_a_replacement_of_the_state_bucket(tmp_path: Path) -> None:
    section = example_section()
    base = _base(tmp_path, _planned(tmp_path, section))
    backend = {**section["iam-federation:state_backend"], "bucket_name": "other-terraform-state"}
    plan = _planned(tmp_path, with_changes(section, state_backend=backend), base)
    changes = _changes(plan)
    (bucket,) = [c for c in changes["replace"] if c.type == "aws:s3/bucket:Bucket"]
    assert bucket.replaced_by.keys() == {"bucket"}
    assert "internal/service/s3/bucket.go" in bucket.replaced_by["bucket"]
    findings = diff.check(plan)
    assert [f.resource.rsplit("::", 1)[-1] for f in findings] == ["state-backend-bucket"]
    assert "stateful" in findings[0].rule and "accepted_replacements" in findings[0].rule
    assert "protects it" in findings[0].rule  # the fixture protects the backend: the engine would refuse it too
    # Acknowledged: no finding, and the plan's text says so.
    accepted = with_changes(section, state_backend=backend, accepted_replacements=["state-backend-bucket"])
    plan = _planned(tmp_path, accepted, base)
    assert diff.check(plan) == []
    assert "[accepted]" in diff.diff_text(base, diff.changes_of(plan) or [], ["state-backend-bucket"])


def test_an_account_rename_is_a_delete_and_a_colliding_create(tmp_path: Path) -> None:
    section = example_section()
    base = _base(tmp_path, _planned(tmp_path, section))
    renamed = [{**a, "name": "develop"} if a["name"] == "dev" else a for a in section["iam-federation:accounts"]]
    plan = _planned(tmp_path, with_changes(section, accounts=renamed), base)
    changes = _changes(plan)
    assert "doer-dev-role" in {c.name for c in changes["delete"]}
    assert "doer-develop-role" in {c.name for c in changes["create"]}
    text = _lines(diff.check(plan))
    assert "doer-dev-role: delete" in text
    assert "EntityAlreadyExists" in text and "pulumi state rename" in text
    # Acknowledging the delete does not make AWS accept a second role of the same name.
    accepted = _planned(tmp_path, with_changes(section, accounts=renamed, accepted_replacements=["doer-dev-*"]), base)
    assert ["EntityAlreadyExists" in f.rule for f in diff.check(accepted)] == [True]


def test_changing_the_doers_name_needs_bootstrap_mode_and_an_acknowledged_replacement(
    deployed_doer: tuple[Path, dict[str, Any], diff.Base],
) -> None:
    tmp_path, section, base = deployed_doer
    doer = {**section["iam-federation:roles"]["doer"], "name": "terraform-doer-role"}
    plan = _planned(tmp_path, with_changes(section, roles={**section["iam-federation:roles"], "doer": doer}), base)
    prerequisites = check_prerequisites.check(plan)
    assert len(prerequisites) == 4  # every account's provider assumes a doer that does not exist yet
    assert all("providers.mode: bootstrap" in f.rule for f in prerequisites if "aws-shared" in f.resource)
    replaced = {c.name for c in _changes(plan)["replace"] if c.type == "aws:iam/role:Role"}
    assert replaced == {"doer-shared-role", "doer-dev-role", "doer-stage-role", "doer-prod-role"}
    assert {f.resource.rsplit("::", 1)[-1] for f in diff.check(plan)} == replaced


def test_accepted_replacements_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"accepted_replacements.*listed twice: state-backend-bucket"):
        config_of(with_changes(example_section(), accepted_replacements=["state-backend-bucket"] * 2))
    section = with_changes(example_section(), accepted_replacements=["state-backend-buckt"])
    base = _base(tmp_path, _planned(tmp_path, example_section()))
    (finding,) = diff.check(_planned(tmp_path, section, base))
    assert "accepted_replacements[0] = 'state-backend-buckt'" in finding.what


def test_a_report_json_base_is_refused_with_the_file_to_use(tmp_path: Path) -> None:
    (tmp_path / "report.json").write_text(json.dumps({"stack": "shared", "resources": [], "cells": []}))
    with pytest.raises(diff.BaseError, match=r"state\.json"):
        diff.load_base(tmp_path / "report.json")


# The organization guard from CI.
def _guarded(section: dict[str, Any], **guard: Any) -> dict[str, Any]:
    settings = {"enabled": True, "target_ids": ["r-ab12"], **guard}
    return with_changes(section, management_account_id=MANAGEMENT, organization_guard=settings)


def test_the_guard_in_doer_mode_needs_its_role(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"organization_guard.role_name: required with providers.mode = 'doer'"):
        config_of(_guarded(_doer(example_section())))
    plan_path = {**example_section()["iam-federation:plan_path"], "enabled": True}
    in_plan_mode = _guarded(with_changes(_doer(example_section(), mode="plan"), plan_path=plan_path), role_name="w")
    with pytest.raises(ConfigError, match=r"organization_guard.plan_role_name: required with providers.mode = 'plan'"):
        config_of(in_plan_mode)


def test_the_guard_in_doer_mode_goes_through_the_shared_doer(tmp_path: Path) -> None:
    plan = _planned(tmp_path, _guarded(_doer(example_section()), role_name="iam-federation-guard-writer"))
    assert [hop["roleArn"] for hop in _chain(plan.runs[0], "aws-management")] == [
        f"arn:aws:iam::{SHARED}:role/infrastructure-doer-role",
        f"arn:aws:iam::{MANAGEMENT}:role/iam-federation-guard-writer",
    ]
    assert check_prerequisites.check(plan) == []
    # The assumer may still assume only doers and state-mgmt.
    assumer = next(r for r in plan.runs[0].by_type("aws:iam/rolePolicy:RolePolicy") if r.name == "assumer-assume-only")
    assert set(statements(doc(assumer.inputs["policy"]))) == {"AssumeDoersInOrganization", "AssumeStateMgmt"}


@pytest.mark.parametrize(
    ("old_chain", "expected"),
    [
        (None, "the run's own credentials (assumer-role, account 111111111111"),
        ([f"arn:aws:iam::{MANAGEMENT}:role/iam-federation-guard-writer"], "denied: the caller's policy"),
    ],
)
def test_the_old_guard_wiring_fails_the_prerequisites(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old_chain: list[str] | None, expected: str
) -> None:
    """The management provider as it was before this change (the run's credentials, or role_name assumed with
    them), in doer mode: the check names the provider and why it cannot be configured."""

    def old_wiring(**_: Any) -> list[Any] | None:
        if old_chain is None:
            return None
        return [providers.aws.ProviderAssumeRoleArgs(role_arn=arn, session_name="s") for arn in old_chain]

    monkeypatch.setattr(topology, "management_assume_roles", old_wiring)
    plan = _planned(tmp_path, _guarded(_doer(example_section()), role_name="iam-federation-guard-writer"))
    (finding,) = check_prerequisites.check(plan)
    assert finding.resource.endswith("::aws-management")
    assert expected in finding.what + finding.rule


def test_the_guard_in_plan_mode_reads_through_the_plan_assumers_exact_role(tmp_path: Path) -> None:
    base_section = example_section()
    # Plan mode needs a plan doer in the shared account (the runners'): built only as an accepted risk.
    plan_path = {**base_section["iam-federation:plan_path"], "enabled": True, "runners_account_doer": True}
    guard = {"role_name": "iam-federation-guard-writer", "plan_role_name": "iam-federation-guard-reader"}
    risks = [*base_section.get("iam-federation:accepted_risks", []), "runners-account-plan-doer"]
    doer_mode = _guarded(with_changes(_doer(base_section), plan_path=plan_path, accepted_risks=risks), **guard)
    reader = f"arn:aws:iam::{MANAGEMENT}:role/iam-federation-guard-reader"
    # Written by an apply run (doer mode), so the plan-mode preview finds it deployed.
    applied = _planned(tmp_path, doer_mode)
    policy = next(
        r for r in applied.runs[0].by_type("aws:iam/rolePolicy:RolePolicy") if r.name == "plan-assumer-assume-only"
    )
    extra = statements(doc(policy.inputs["policy"]))["AssumeGuardReader"]
    assert extra["Resource"] == reader and extra["Effect"] == "Allow"
    preview = _planned(tmp_path, _doer(doer_mode, mode="plan"), _base(tmp_path, applied))
    assert [hop["roleArn"] for hop in _chain(preview.runs[0], "aws-management")] == [reader]
    assert check_prerequisites.check(preview) == []
    # The promise holds with the new statement: the matrix and the escalation analysis still pass.
    config = config_of(doer_mode)
    matrix = access_matrix(config, applied.model)
    assert matrix.mismatches == []
    assert analyse(config, matrix).failures == []


def test_a_member_stacks_own_export_is_its_base_and_the_shared_doer_is_taken_as_deployed(tmp_path: Path) -> None:
    """A `pulumi stack export` holds one stack: for a member stack, the shared stack's roles (the shared doer a
    bootstrap chain starts at) are not in it and are not reported missing; the member's new doer is."""
    directory = tmp_path / "org"
    directory.mkdir()
    for fixture in (EXAMPLE_STACK, MEMBER_STACK):
        section = yaml.safe_load(fixture.read_text())["config"]
        (directory / fixture.name).write_text(yaml.safe_dump({"config": _doer(section)}))
    selection = select_stacks(directory, "members-a")
    runs = plan_main.run_selection(selection)
    member_only = tmp_path / "members-a.json"
    member_only.write_text(json.dumps(diff.export_of(runs[1:]), default=str))
    base = diff.load_base(member_only)
    assert base.stacks == {"members-a"}
    member = yaml.safe_load((directory / MEMBER_STACK.name).read_text())
    accounts = member["config"]["iam-federation:accounts"]
    for bootstrap, expected in ((False, ["aws-qa"]), (True, [])):
        member["config"]["iam-federation:accounts"] = [*accounts, {**QA, "id": "777777777777", "bootstrap": bootstrap}]
        (directory / MEMBER_STACK.name).write_text(yaml.safe_dump(member))
        selection = select_stacks(directory, "members-a")
        runs = plan_main.run_selection(selection)
        plan = PlanInput(selection, runs, iam_model(*runs), {"base": base})
        assert [f.resource.rsplit("::", 1)[-1] for f in check_prerequisites.check(plan)] == expected
        creates = {c.name for c in _changes(plan)["create"]}
        assert "doer-qa-role" in creates and not any(c.startswith("assumer") for c in creates)


def test_the_shared_accounts_bootstrap_from_ci_is_refused_with_the_mode_that_works(
    deployed_doer: tuple[Path, dict[str, Any], diff.Base],
) -> None:
    tmp_path, section, base = deployed_doer
    shared = {**section["iam-federation:shared_account"], "bootstrap": True}
    plan = _planned(tmp_path, with_changes(section, shared_account=shared), base)
    assert [hop["roleArn"] for hop in _chain(plan.runs[0], "aws-shared")] == [
        f"arn:aws:iam::{SHARED}:role/OrganizationAccountAccessRole"
    ]
    (finding,) = check_prerequisites.check(plan)
    assert finding.resource.endswith("::aws-shared")
    assert f"arn:aws:iam::{SHARED}:role/infrastructure-assumer-role -> sts:AssumeRole" in finding.what
    assert "shared_account.bootstrap" in finding.rule and "providers.mode: bootstrap" in finding.rule


# Removing an account, and destroy, in doer mode: the deleting provider must not run as the role it deletes.
def _without(section: dict[str, Any], name: str) -> dict[str, Any]:
    return with_changes(section, accounts=[a for a in section["iam-federation:accounts"] if a["name"] != name])


def _names(findings: list[Finding]) -> set[str]:
    return {f.resource.rsplit("::", 1)[-1] for f in findings}


def test_removing_an_account_in_doer_mode_fails_as_its_doer_deleting_itself(
    deployed_doer: tuple[Path, dict[str, Any], diff.Base],
) -> None:
    tmp_path, section, base = deployed_doer
    plan = _planned(tmp_path, _without(section, "prod"), base)
    deleted = {c.name for c in _changes(plan)["delete"]}
    assert "doer-prod-role" in deleted
    found = check_prerequisites.check(plan)
    doer_parts = {
        r.name
        for r in base.resources.values()
        if r.type in check_prerequisites.SELF_TYPES
        and r.provider.endswith("::aws-prod")
        and check_prerequisites._role_of(r) == "infrastructure-doer-role"
    }
    assert "doer-prod-role" in doer_parts and len(doer_parts) >= 2  # the role and its policy or attachment
    assert _names(found) == doer_parts
    (prod,) = [a["id"] for a in section["iam-federation:accounts"] if a["name"] == "prod"]
    doer = f"arn:aws:iam::{prod}:role/infrastructure-doer-role"
    assert all(f.what.endswith(f"through aws-prod, whose assumeRoles assume {doer}") for f in found)
    assert all("bootstrap: true" in f.rule and "'prod'" in f.rule for f in found)


def test_removing_an_account_after_an_up_with_bootstrap_deletes_through_the_bootstrap_role(
    deployed_doer: tuple[Path, dict[str, Any], diff.Base],
) -> None:
    tmp_path, section, deployed = deployed_doer
    accounts = [{**a, "bootstrap": True} if a["name"] == "prod" else a for a in section["iam-federation:accounts"]]
    flagged = _base(tmp_path, _planned(tmp_path, with_changes(section, accounts=accounts)))
    plan = _planned(tmp_path, _without(section, "prod"), flagged)
    assert "doer-prod-role" in {c.name for c in _changes(plan)["delete"]}
    assert check_prerequisites.check(plan) == []
    # The flagged `up` before it: the plan says how to remove the account, and what the bootstrap role must trust.
    before = _planned(tmp_path, with_changes(section, accounts=accounts), deployed)
    assert check_prerequisites.check(before) == []
    (note,) = [n for n in check_prerequisites.notes(before) if "accounts[2].bootstrap" in n]
    assert "To remove the account instead" in note and '"aws:PrincipalArn"' in note


def test_destroy_in_doer_mode_fails_for_every_doer_naming_bootstrap_mode(
    deployed_doer: tuple[Path, dict[str, Any], diff.Base],
) -> None:
    tmp_path, section, base = deployed_doer
    plan = _planned(tmp_path, section, base)
    everything = diff.diff(base, [])  # what `pulumi destroy` deletes: every resource of the base
    found = check_prerequisites.self_deletions(plan, base, everything)
    roles = {f.resource.rsplit("::", 1)[-1] for f in found if "aws:iam/role:Role::" in f.resource}
    assert roles == {"doer-shared-role", "doer-dev-role", "doer-stage-role", "doer-prod-role"}
    assert all("providers.mode: bootstrap with management-account credentials" in f.rule for f in found)
    # In bootstrap mode every provider assumes the bootstrap role: nothing deletes itself.
    bootstrap = _planned(tmp_path, example_section())
    bootstrap_base = _base(tmp_path, bootstrap)
    assert check_prerequisites.self_deletions(bootstrap, bootstrap_base, diff.diff(bootstrap_base, [])) == []
