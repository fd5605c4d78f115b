"""`make plan STACK=all` and `python -m orchestrate` are all or nothing for an organization (issue #17, items 1-2).

Typical mistakes in one member stack file (written as a user types them, not through a YAML dumper) each fail the
organization plan with file:line:column, where before the member was skipped with a warning and the plan passed
with half the organization missing. Several shared stacks are never guessed between; each organization plans
into its own folder; a valid stack of another organization is left out, a broken one is not.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

import plan.__main__ as plan_main
from orchestrate.__main__ import main as orchestrate_main
from plan.stacks import select_stacks
from tests.conftest import EXAMPLE_STACK, MEMBER_STACK, ROOT
from tests.test_stacks import _write, other_organization

MEMBER_B = """\
config:
  iam-federation:stack:
    kind: member
    shared_stack: my-org/iam-federation/shared
  iam-federation:region: us-east-1
  iam-federation:accounts:
    - name: ml
      id: "777777777777"
    - name: analytics
      id: "888888888888"
"""

# (what the user typed, the line:column the error must point at, words the error must say)
MISTAKES = {
    "an 11-digit id": (MEMBER_B.replace('"888888888888"', '"88888888888"'), "10:7", "must be exactly 12 digits"),
    "a duplicate name inside one stack": (
        MEMBER_B.replace("name: analytics", "name: ml"),
        "9:7",
        "accounts[1].name = 'ml': duplicate of accounts[0].name",
    ),
    "an unquoted leading-zero id": (
        MEMBER_B.replace('"888888888888"', "088888888888"),
        "10:11",
        'quote it: "088888888888"',
    ),
    "an id indented one space less": (
        MEMBER_B.replace('      id: "888888888888"', '     id: "888888888888"'),
        "10:6",
        "YAML syntax error",
    ),
    "a list item out of line": (
        MEMBER_B.replace("    - name: analytics", "  - name: analytics"),
        "9:3",
        "YAML syntax error",
    ),
    "a key typo": (MEMBER_B.replace("iam-federation:region", "iam-federation:regoin"), "5:3", "unknown key"),
    "a tab for indentation": (MEMBER_B.replace('      id: "888888888888"', '\tid: "888888888888"'), "10:1", "'\\t'"),
    "a shared stack name typo": (
        MEMBER_B.replace("iam-federation/shared", "iam-federation/shraed"),
        "4:5",
        "names no shared or complete stack file",
    ),
    "an account already in another stack": (
        MEMBER_B.replace('"777777777777"', '"555555555555"'),
        "8:7",
        "accounts[0].id = '555555555555': already held by stack 'members-a'",
    ),
}


def organization(directory: Path, member_b: str = MEMBER_B) -> Path:
    directory.mkdir(exist_ok=True)
    (directory / "Pulumi.shared.yaml").write_text(EXAMPLE_STACK.read_text())
    (directory / "Pulumi.members-a.yaml").write_text(MEMBER_STACK.read_text())
    (directory / "Pulumi.members-b.yaml").write_text(member_b)
    return directory


def plan_all(directory: Path, *more: str) -> int:
    return plan_main.main(["--dir", str(directory), "--stack", "all", "--no-png", *more])


def test_the_organization_plans_whole_into_its_own_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    organization(tmp_path / "stacks")
    assert plan_all(tmp_path / "stacks") == 0, capsys.readouterr()
    out = capsys.readouterr().out
    assert "then the member stacks reading it (members-a, members-b)" in out
    report = json.loads((tmp_path / "build/plan-all/o-a1b2c3d4e5/report.json").read_text())
    accounts = {r["account"] for r in report["resources"]}
    assert {"555555555555", "777777777777", "888888888888"} <= accounts


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_one_mistake_in_one_member_fails_the_whole_plan_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mistake: str
) -> None:
    text, where, said = MISTAKES[mistake]
    out = tmp_path / "out"
    assert plan_all(organization(tmp_path / "stacks", text), "--shared", "shared", "--out", str(out)) == 2
    err = capsys.readouterr().err
    problems = [line.removeprefix("  - ") for line in err.splitlines() if line.startswith("  - ")]
    assert any(p.startswith(f"Pulumi.members-b.yaml:{where}: ") and said in p for p in problems), err
    assert "nothing was planned or written" in err
    assert not out.exists()


def test_several_shared_stacks_are_never_guessed_between(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The quick start's situation: the user's organization beside the example one left in the folder.
    monkeypatch.chdir(tmp_path)
    stacks = organization(tmp_path / "stacks")
    _write(stacks, "acme", other_organization())
    assert plan_all(stacks) == 2
    err = capsys.readouterr().err
    assert "2 shared or complete stacks in" in err
    assert "Pulumi.acme.yaml (organization o-z9y8x7w6v5), Pulumi.shared.yaml (organization o-a1b2c3d4e5)" in err
    assert "pass SHARED=<stack>" in err
    assert not (tmp_path / "build").exists()
    # Named, each organization plans into its own folder; the other organization's stacks are left out.
    assert plan_all(stacks, "--shared", "acme") == 0
    left_out = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Left out")]
    assert left_out == [
        "Left out, another organization's: Pulumi.members-a.yaml",
        "Left out, another organization's: Pulumi.members-b.yaml",
        "Left out, another organization's: Pulumi.shared.yaml (organization o-a1b2c3d4e5)",
    ]
    assert plan_all(stacks, "--shared", "shared") == 0
    assert "Left out, another organization's: Pulumi.acme.yaml (organization o-z9y8x7w6v5)" in capsys.readouterr().out
    folders = sorted(p.name for p in (tmp_path / "build/plan-all").iterdir())
    assert folders == ["o-a1b2c3d4e5", "o-z9y8x7w6v5"]
    acme = json.loads((tmp_path / "build/plan-all/o-z9y8x7w6v5/report.json").read_text())
    assert "777777777777" not in {r["account"] for r in acme["resources"]}


def test_a_broken_file_of_whatever_organization_fails_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stacks = organization(tmp_path / "stacks")
    # It says another organization, but it does not load: nobody can tell it is not one of ours.
    broken = other_organization(region="moon-1")
    (stacks / "Pulumi.acme.yaml").write_text(yaml.safe_dump({"config": broken}))
    assert plan_all(stacks, "--shared", "shared", "--out", str(tmp_path / "o")) == 2
    err = capsys.readouterr().err
    assert "Pulumi.acme.yaml:22:3: iam-federation:region = 'moon-1'" in err
    assert "an invalid file's organization cannot be told" in err


def _project(directory: Path, member_b: str = MEMBER_B) -> Path:
    organization(directory, member_b)
    (directory / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    return directory


@pytest.mark.parametrize("mistake", ["an 11-digit id", "an id indented one space less"])
def test_the_orchestrator_refuses_the_same_way_before_running_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, mistake: str
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pulumi at all: the refusal comes before any CLI is looked for
    text, where, said = MISTAKES[mistake]
    assert orchestrate_main(["up", "--all", "--stacks-dir", str(_project(tmp_path / "p", text))]) == 2
    err = capsys.readouterr().err
    assert f"Pulumi.members-b.yaml:{where}: " in err and said in err
    assert "no `pulumi` executable" not in err


def test_the_orchestrator_never_guesses_the_organization(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    project = _project(tmp_path / "p")
    _write(project, "acme", other_organization())
    assert orchestrate_main(["up", "--all", "--stacks-dir", str(project)]) == 2
    err = capsys.readouterr().err
    assert "2 shared or complete stacks in" in err and "Pulumi.acme.yaml (organization o-z9y8x7w6v5)" in err
    # Named, it gets past the selection (and stops only because this PATH has no pulumi).
    assert orchestrate_main(["up", "--all", "--stacks-dir", str(project), "--shared", "shared"]) == 2
    captured = capsys.readouterr()
    assert "pulumi up of 3 stacks" in captured.out
    assert "Left out, another organization's: Pulumi.acme.yaml" in captured.out
    assert "no `pulumi` executable on PATH" in captured.err
    assert os.environ["PATH"] == str(tmp_path)


def test_the_organizations_own_members_are_not_named_as_another_organizations() -> None:
    """The example organization (shared + members-a): nothing is foreign (the member was once listed as left out)."""
    selection = select_stacks(ROOT / "examples", "all", shared="shared")
    assert [m.name for m in selection.members] == ["members-a"]
    assert selection.foreign == []
