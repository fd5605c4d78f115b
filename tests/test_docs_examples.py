"""Every stack-config block of README.md and docs/*.md plans OK, or is a counter-example the plan refuses.

What counts as a block: a fenced ```yaml block (at any indentation) holding an ``iam-federation:`` key. How a
fragment becomes a stack: a block with ``config:`` is a whole stack file; any other block is the ``config:``
section of one, and each of its top-level keys replaces the same key of tests/fixtures/Pulumi.shared.yaml (as
``pulumi config set`` would; nested values are not merged). The result is planned twice, in-process with the
plan's own entry point (python -m plan: the program under mocks, the access matrix, the escalation analysis and
the deployability checks), once as merged and once with ``plan_path.enabled`` (the fixture's one feature that is
off), unless the block sets plan_path itself. Either must end OK (exit 0).

A deliberate counter-example carries ``<!-- plan: refused -->`` (optionally ``<!-- plan: refused: <words> -->``)
on the line before its fence; the test then requires the plan to refuse it (a non-zero exit, with those words in
what it printed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

import plan.__main__ as plan_main
from tests.conftest import EXAMPLE_STACK, ROOT, with_changes

DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?P<indent>[ ]*)```yaml[ ]*\n(?P<body>.*?)^(?P=indent)```[ ]*$", re.M | re.S)
MARK = re.compile(r"<!--\s*plan:\s*refused(?::\s*(?P<words>.*?))?\s*-->")


@dataclass(frozen=True)
class Block:
    where: str  # file:line of the fence
    text: str
    refused: str | None  # None: must plan OK; otherwise the words the refusal must print ("" for any)


def config_blocks() -> list[Block]:
    blocks: list[Block] = []
    for document in DOCUMENTS:
        text = document.read_text()
        for match in FENCE.finditer(text):
            indent = len(match["indent"])
            body = "\n".join(line[indent:] for line in match["body"].splitlines())
            if "iam-federation:" not in body:
                continue
            line = text[: match.start()].count("\n") + 1
            before = text[: match.start()].rstrip().rsplit("\n", 1)[-1]
            mark = MARK.search(before)
            refused = (mark["words"] or "") if mark else None
            blocks.append(Block(f"{document.relative_to(ROOT)}:{line}", body, refused))
    return blocks


BLOCKS = config_blocks()


def stack_of(block: Block) -> dict[str, Any]:
    loaded = yaml.safe_load(block.text)
    assert isinstance(loaded, dict), f"{block.where}: not a YAML mapping"
    if "config" in loaded:
        return dict(loaded["config"])
    fixture = dict(yaml.safe_load(EXAMPLE_STACK.read_text())["config"])
    return {**fixture, **loaded}


def plans_of(block: Block) -> list[dict[str, Any]]:
    section = stack_of(block)
    if "iam-federation:plan_path" in yaml.safe_load(block.text):
        return [section]
    with_plan_path = with_changes(section, plan_path={**section["iam-federation:plan_path"], "enabled": True})
    return [section, with_plan_path]


def plan(section: dict[str, Any], directory: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "Pulumi.docs.yaml"
    path.write_text(yaml.safe_dump({"config": section}))
    code = plan_main.main(["--stack-file", str(path), "--out", str(directory / "out"), "--no-png"])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_the_blocks_are_found() -> None:
    # The finder must not find nothing: these are known, in the shapes the docs use (indented fragments included).
    found = {b.where.split(":")[0] for b in BLOCKS}
    assert {"docs/ci.md", "docs/configuration.md"} <= found
    assert len(BLOCKS) >= 4
    assert [b for b in BLOCKS if b.refused is not None], "no counter-example is marked"


@pytest.mark.parametrize("block", BLOCKS, ids=[b.where for b in BLOCKS])
def test_every_config_block_of_the_docs_plans_ok_or_is_refused_as_marked(
    block: Block, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for i, section in enumerate(plans_of(block)):
        code, printed = plan(section, tmp_path / str(i), capsys)
        if block.refused is None:
            verdict = [line for line in printed.splitlines() if line.startswith(("FAILED", "error"))]
            assert code == 0, f"{block.where} (variant {i}): {verdict or printed[-2000:]}"
            assert "\nOK: all " in printed
        else:
            assert code != 0, f"{block.where}: marked refused, but it plans OK"
            assert block.refused in printed, printed[-2000:]
