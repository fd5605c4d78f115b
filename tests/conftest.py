"""Shared fixtures: the example stack's config, and a way to run the real program under mocks."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from federation.config import FederationConfig, parse_config
from plan.runner import ProgramRun, run_program, to_pulumi_config

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_STACK = ROOT / "Pulumi.shared.yaml"


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


def run_section(section: dict[str, Any], stack: str = "shared") -> ProgramRun:
    return run_program(to_pulumi_config(section), stack=stack)


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
