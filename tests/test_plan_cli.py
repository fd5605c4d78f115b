"""`python -m plan`, the README's offline main job: output, files, exit codes."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

import plan.__main__ as plan_main
from plan.model import IamModel
from tests.conftest import EXAMPLE_STACK, ROOT, USER_STACK_FILE, example_section, with_changes

# What a clone holds besides tests, docs and the stack files: enough for `make plan`.
_NOT_NEEDED = {"venv", ".venv", ".git", "build", "tests", "docs", "bench", "examples", "__pycache__"}


def write_stack(tmp_path: Path, section: dict[str, Any], name: str = "test") -> Path:
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump({"config": section}))
    return path


def test_example_plan_prints_resources_and_matrix_and_writes_reports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = plan_main.main(["--stack-file", str(EXAMPLE_STACK), "--out", str(tmp_path), "--who", "jane.doe"])
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
    deny_line = next(line for line in out.splitlines() if line.startswith("  resource:Deny:DeployersNoItems:"))
    assert "doer@shared" in deny_line and "state-mgmt[" not in deny_line
    # The runners' role can be passed to EC2 by anyone allowed to: named as the trust root's risk, with its path.
    assert "launcher@shared -[pass-to-ec2:assumer]-> assumer(foreign instance)" in out
    assert "  runner-role-pass: " in out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["stack"] == "shared"
    assert report["mismatches"] == []
    assert {f["risk"] for f in report["escalation"]["findings"]} == {"runner-role-pass", "runner-instance-takeover"}
    assert "shared-root-user" in report["escalation"]["risks"]
    assert len(report["resources"]) == 36
    assert report["outputs"]["state_bucket_name"] == "terraform-state-111111111111"
    graph = (tmp_path / "trust-graph.mmd").read_text()
    assert graph.startswith("flowchart LR")
    assert "ec2_service -- assumes --> assumer" in graph
    assert "state_mgmt_dev_ -- reads/writes --> state_bucket" in graph
    assert "admin@outsider" not in graph
    assert (tmp_path / "trust-graph.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # What the user pastes next: the stacks' outputs, written where the plan says.
    assert f"{tmp_path / 'aws-config'}: append to ~/.aws/config" in out
    assert "Then in <account>/<unit>/: AWS_PROFILE=<account> terragrunt plan" in out
    # The stack's output stands for every user; the file written is the person's.
    profiles = report["outputs"]["aws_config_snippet"]
    assert (tmp_path / "aws-config").read_text() == profiles.replace("<your-name>", "jane.doe")
    assert "role_session_name = <your-name>" in profiles
    assert "its sessions are named 'jane.doe' in CloudTrail" in out
    assert (tmp_path / "terragrunt" / "root.hcl").read_text() == report["outputs"]["terragrunt_root_hcl"]
    written = sorted(p.relative_to(tmp_path / "terragrunt").as_posix() for p in (tmp_path / "terragrunt").rglob("*"))
    accounts = ["dev", "prod", "shared", "stage"]
    assert written == sorted([*accounts, *(f"{a}/account.hcl" for a in accounts), "root.hcl"])
    assert (tmp_path / "terragrunt" / "dev" / "account.hcl").read_text() == report["outputs"]["terragrunt_account_hcl"][
        "dev"
    ]


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
    (tmp_path / "terragrunt" / "gone").mkdir(parents=True)  # files of an earlier plan
    (tmp_path / "aws-config").write_text("[profile gone]\n")
    code = plan_main.main(["--stack-file", str(EXAMPLE_STACK), "--out", str(tmp_path), "--no-png"])
    out = capsys.readouterr().out
    assert code == 1
    assert "admin@outsider -> assume:doer@prod: expected deny, got allow" in out
    assert "FAILED:" in out
    assert "What to paste next" not in out
    assert not (tmp_path / "aws-config").exists() and not (tmp_path / "terragrunt").exists()
    report = json.loads((tmp_path / "report.json").read_text())
    flagged = {(m["principal"], m["target"]) for m in report["mismatches"]}
    assert ("admin@outsider", "assume:doer@prod") in flagged
    assert all(target == "assume:doer@prod" for _, target in flagged)
    # The escalation names the multi-step consequence: an outsider becomes prod's doer, then reaches prod's state.
    paths = [f["path"] for f in report["escalation"]["findings"] if f["source"] == "admin@outsider"]
    assert "admin@outsider -[assume:doer@prod]-> doer@prod -[assume:state-mgmt[prod]]-> state-mgmt[prod]" in paths


def _fresh_clone(destination: Path) -> Path:
    """The repository's program files, with the shipped example (the fixture) as its Pulumi.shared.yaml."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n in _NOT_NEEDED or n.endswith("_cache")}
        if Path(directory) == ROOT:  # the user's stack files stay unread
            skipped |= {n for n in names if USER_STACK_FILE.fullmatch(n)}
        return skipped

    clone = destination / "iam-federation"
    shutil.copytree(ROOT, clone, ignore=ignore, symlinks=True)
    shutil.copy(EXAMPLE_STACK, clone / "Pulumi.shared.yaml")
    return clone


def test_start_your_own_stack_on_a_fresh_clone(tmp_path: Path) -> None:
    """docs/quickstart.md, "Your first stack": copy the example, put in your ids, `make plan STACK=acme`."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    clone = _fresh_clone(tmp_path)
    shutil.copy(clone / "Pulumi.shared.yaml", clone / "Pulumi.acme.yaml")
    text = (clone / "Pulumi.acme.yaml").read_text()
    # The user's edit: their organization and account ids; the example's account names (dev, stage, prod) stay.
    for old, new in [("o-a1b2c3d4e5", "o-acme123456"), *((f"{d}" * 12, f"20000000000{d}") for d in "1234")]:
        assert old in text
        text = text.replace(old, new)
    (clone / "Pulumi.acme.yaml").write_text(text)
    venv = Path(sys.prefix)
    done = subprocess.run(
        ["make", "-o", f"{venv}/.installed", f"VENV={venv}", "plan", "STACK=acme"],
        cwd=clone,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Offline plan of stack 'acme'" in done.stdout
    assert "judged cells of the access matrix match" in done.stdout
    assert "OK: no principal outside the trust root reaches beyond" in done.stdout
    report = json.loads((clone / "build" / "plan-acme" / "report.json").read_text())
    assert report["stack"] == "acme"
    assert report["outputs"]["state_bucket_name"] == "terraform-state-200000000001"
    assert {r["account"] for r in report["resources"]} == {f"20000000000{d}" for d in "1234"} | {"(component)"}
