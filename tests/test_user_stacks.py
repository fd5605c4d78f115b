"""The top-level stack files are the user's: no test reads them, so editing or deleting them keeps `make test` green."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_STACK, MEMBER_STACK, ROOT, USER_STACK_FILE

TESTS = Path(__file__).resolve().parent
# A bare stack file name means the project directory when it is joined to one of these names, opened as it is
# (tests run in the project directory), or given to the plan's --stack-file.
_PROJECT_NAMES = {"ROOT", "PROJECT_DIR"}
_PATH_CALLS = {"Path", "PurePath", "open"}


def _name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    return node.attr if isinstance(node, ast.Attribute) else None


def _top_level_references(source: str) -> list[int]:
    """Lines where a literal 'Pulumi.<stack>.yaml' names a file of the project directory."""
    used_as_path: list[ast.AST] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and _name(node.left) in _PROJECT_NAMES:
            used_as_path.append(node.right)
        elif isinstance(node, ast.Call) and _name(node.func) in _PATH_CALLS:
            used_as_path.extend(node.args[:1])
        elif isinstance(node, ast.List):
            used_as_path.extend(
                after
                for before, after in zip(node.elts, node.elts[1:], strict=False)
                if isinstance(before, ast.Constant) and before.value == "--stack-file"
            )
    return [
        node.lineno
        for node in used_as_path
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and USER_STACK_FILE.fullmatch(node.value)
    ]


def test_the_scan_finds_a_reference_to_the_top_level_files() -> None:
    assert _top_level_references('p = ROOT / "Pulumi.shared.yaml"') == [1]
    assert _top_level_references('p = Path("Pulumi.acme.yaml")') == [1]
    assert _top_level_references('main(["--stack-file", "Pulumi.members-a.yaml"])') == [1]
    assert _top_level_references('p = tmp_path / "Pulumi.shared.yaml"') == []
    assert _top_level_references('assert names == ["Pulumi.half.yaml"]') == []


def test_no_test_module_names_a_top_level_stack_file() -> None:
    offenders = {
        str(path.relative_to(ROOT)): lines
        for path in sorted(TESTS.rglob("*.py"))
        if (lines := _top_level_references(path.read_text()))
    }
    assert offenders == {}


def test_reading_a_top_level_stack_file_fails_the_test() -> None:
    # conftest's audit hook: whatever the file holds (or whether it exists), a test that opens it fails.
    for stack in ("shared", "acme"):
        with pytest.raises(PermissionError, match="must not read the user's stack file"):
            (ROOT / f"Pulumi.{stack}.yaml").read_text()


def test_fixtures_and_project_files_stay_readable() -> None:
    assert "iam-federation:shared_account" in EXAMPLE_STACK.read_text()
    assert "kind: member" in MEMBER_STACK.read_text()
    assert "name: iam-federation" in (ROOT / "Pulumi.yaml").read_text()
