"""`python -m plan`, the README's offline main job: output, files, exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import plan.__main__ as plan_main
from plan.model import IamModel
from tests.conftest import EXAMPLE_STACK, example_section, with_changes


def write_stack(tmp_path: Path, section: dict[str, Any], name: str = "test") -> Path:
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump({"config": section}))
    return path


def test_example_plan_prints_resources_and_matrix_and_writes_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = plan_main.main(["--stack-file", str(EXAMPLE_STACK), "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    assert "Plan: 36 resources to create" in out
    assert "  dev (222222222222)" in out
    bucket_line = next(line for line in out.splitlines() if "state-backend-bucket" in line)
    assert "terraform-state-111111111111" in bucket_line and "[protected, retain-on-delete]" in bucket_line
    assert re.search(r"OK: all \d+ judged cells of the access matrix match", out)
    assert "OK: no principal outside the trust root reaches beyond its own account's state" in out
    assert "  application-1: 3 account(s) (dev, stage, prod)" in out
    http_line = next(line for line in out.splitlines() if line.startswith("  resource:Deny:DenyInsecureTransport:"))
    assert "state-mgmt[dev]" in http_line
    deny_line = next(
        line for line in out.splitlines() if line.startswith("  resource:Deny:DenyLockItemsExceptStateMgmt:")
    )
    assert "doer@shared" in deny_line and "state-mgmt[" not in deny_line
    # The runners' role can be passed to EC2 by anyone allowed to: named as the trust root's risk, with its path.
    assert "launcher@shared -[pass-to-ec2:assumer]-> assumer(foreign instance)" in out
    assert "  runner-role-pass: " in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["stack"] == "shared"
    assert report["mismatches"] == []
    assert {f["risk"] for f in report["escalation"]["findings"]} == {"runner-role-pass"}
    assert len(report["resources"]) == 36
    assert report["outputs"]["state_bucket_name"] == "terraform-state-111111111111"
    graph = (tmp_path / "trust-graph.mmd").read_text()
    assert graph.startswith("flowchart LR")
    assert "ec2_service -- assumes --> assumer" in graph
    assert "state_mgmt_dev_ -- reads/writes --> state_bucket" in graph
    assert "admin@outsider" not in graph
    assert (tmp_path / "trust-graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_config_gives_the_same_clear_error_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stack = write_stack(tmp_path, with_changes(example_section(), region="moon-1"))
    code = plan_main.main(["--stack-file", str(stack), "--out", str(tmp_path / "out"), "--no-png"])
    err = capsys.readouterr().err
    assert code == 2
    assert "iam-federation:region = 'moon-1': must be an AWS region" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_missing_stack_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert plan_main.main(["--stack-file", str(tmp_path / "Pulumi.none.yaml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_a_widened_document_fails_the_plan_naming_the_cell(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real = plan_main.iam_model

    def tampered(run: Any, *more: Any) -> IamModel:
        model = real(run, *more)
        statement = model.roles["doer-prod-role"].trust["Statement"][0]
        statement["Principal"] = {"AWS": "*"}
        del statement["Condition"]
        return model

    monkeypatch.setattr(plan_main, "iam_model", tampered)
    code = plan_main.main(["--stack-file", str(EXAMPLE_STACK), "--out", str(tmp_path), "--no-png"])
    out = capsys.readouterr().out
    assert code == 1
    assert "admin@outsider -> assume:doer@prod: expected deny, got allow" in out
    assert "FAILED:" in out
    report = json.loads((tmp_path / "report.json").read_text())
    flagged = {(m["principal"], m["target"]) for m in report["mismatches"]}
    assert ("admin@outsider", "assume:doer@prod") in flagged
    assert all(target == "assume:doer@prod" for _, target in flagged)
    # The escalation names the multi-step consequence: an outsider becomes prod's doer, then reaches prod's state.
    paths = [f["path"] for f in report["escalation"]["findings"] if f["source"] == "admin@outsider"]
    assert "admin@outsider -[assume:doer@prod]-> doer@prod -[assume:state-mgmt[prod]]-> state-mgmt[prod]" in paths
