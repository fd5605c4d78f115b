"""The top-level stack files are the user's: no test reads them, so editing or deleting them keeps `make test` green."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import EXAMPLE_STACK, MEMBER_STACK, ROOT, USER_STACK_FILE

TESTS = Path(__file__).resolve().parent
# Names a test may join a stack file name to: anything but the project directory.
_PROJECT_NAMES = {"ROOT", "PROJECT_DIR"}


def _top_level_references(source: str) -> list[int]:
    """Lines where a literal 'Pulumi.<stack>.yaml' is not joined to a directory other than the project's."""
    tree = ast.parse(source)
    joined: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) and isinstance(node.right, ast.Constant):
            left = node.left
            if not (isinstance(left, ast.Name) and left.id in _PROJECT_NAMES):
                joined.add(id(node.right))
    return [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and USER_STACK_FILE.fullmatch(node.value)
        and id(node) not in joined
    ]


def test_the_scan_finds_a_reference_to_the_top_level_files() -> None:
    assert _top_level_references('p = ROOT / "Pulumi.shared.yaml"') == [1]
    assert _top_level_references('main(["--stack-file", "Pulumi.members-a.yaml"])') == [1]
    assert _top_level_references('p = tmp_path / "Pulumi.shared.yaml"') == []
    assert _top_level_references('msg = "no stack file Pulumi.shared.yaml in the directory"') == []


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
