"""Shared fixtures: the example stack's config, and a way to run the real program under mocks.

The stack files at the top of the repository are the user's to edit or delete, so tests read their own copies
under tests/fixtures. An audit hook makes any read of a top-level stack file fail the test that tried it.
"""

from __future__ import annotations

import copy
import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from federation.config import FederationConfig, parse_config
from plan import runner
from plan.runner import ProgramRun, run_program, to_pulumi_config

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLE_STACK = FIXTURES / "Pulumi.shared.yaml"
MEMBER_STACK = FIXTURES / "Pulumi.members-a.yaml"
# Pulumi.<stack>.yaml, not the project file Pulumi.yaml.
USER_STACK_FILE = re.compile(r"Pulumi\.[^/\\]+\.yaml")


def _refuse_user_stack_files(event: str, args: tuple[Any, ...]) -> None:
    # Audit hooks see every open() of the process, the code under test's included: a test that plans the
    # user's stack file (directly, or by globbing the project directory) fails here instead of passing on
    # whatever the user wrote. Kept cheap: most events are not "open".
    if event != "open" or not args or isinstance(args[0], int) or args[0] is None:
        return
    name = os.fsdecode(args[0])
    if "Pulumi." not in name:
        return
    path = Path(os.path.abspath(name))
    if path.parent == ROOT and USER_STACK_FILE.fullmatch(path.name):
        raise PermissionError(f"tests must not read the user's stack file {path}; use a fixture in {FIXTURES}")


sys.addaudithook(_refuse_user_stack_files)


def example_section() -> dict[str, Any]:
    """The ``config:`` section of the example stack file, as plain YAML values."""
    return dict(yaml.safe_load(EXAMPLE_STACK.read_text())["config"])


def with_changes(section: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of a config section with ``iam-federation:<key>`` values replaced (None deletes the key)."""
    result = copy.deepcopy(section)
    for key, value in changes.items():
        full = f"iam-federation:{key}"
        if value is None:
            result.pop(full, None)
        else:
            result[full] = value
    return result


def config_of(section: dict[str, Any]) -> FederationConfig:
    return parse_config(to_pulumi_config(section))


_RUNS: dict[str, ProgramRun] = {}


def run_section(section: dict[str, Any], stack: str = "shared") -> ProgramRun:
    """The program run for a config section. A run is a pure function of its config, so the suite runs each
    config once and hands every test its own copy (a failing config is never stored: it raises every time)."""
    config = to_pulumi_config(section)
    key = json.dumps([config, stack], sort_keys=True)
    if key not in _RUNS:
        _RUNS[key] = run_program(config, stack=stack)
    return copy.deepcopy(_RUNS[key])


def doc(value: Any) -> dict[str, Any]:
    """A policy document registered as JSON text, parsed."""
    assert isinstance(value, str), f"policy should be JSON text, got {type(value)}"
    parsed = json.loads(value)
    assert isinstance(parsed, dict)
    return parsed


def statements(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Statements by Sid; every statement the program writes has one."""
    result = {s["Sid"]: s for s in document["Statement"]}
    assert len(result) == len(document["Statement"]), "duplicate or missing Sid"
    return result


@pytest.fixture
def section() -> dict[str, Any]:
    return example_section()


@pytest.fixture(scope="session")
def example_run() -> ProgramRun:
    return run_section(example_section())


@pytest.fixture
def run() -> Callable[..., ProgramRun]:
    return run_section


@contextmanager
def registered_types() -> Iterator[list[str]]:
    """The type of every resource the program registers inside the block, in order (the Stack first)."""
    seen: list[str] = []
    original = runner.RecordingMonitor.RegisterResource

    def spy(self: runner.RecordingMonitor, request: Any) -> Any:
        seen.append(request.type)
        return original(self, request)

    runner.RecordingMonitor.RegisterResource = spy  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        runner.RecordingMonitor.RegisterResource = original  # type: ignore[method-assign]
