"""What the program costs per run, in the places a profile showed it is ours to control (README, "Scale")."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from typing import Any

import pytest

from iam.assumer import AssumerRole
from iam.doer import DoerRole
from state_backend.backend import StateBackend
from tests.conftest import ROOT, example_section, with_changes

# Runs the program once in a fresh interpreter and reports the pulumi_aws packages it executed. pulumi_aws puts
# a lazy placeholder for every package in sys.modules; a package's own modules appear only once it is executed.
_PROBE = """
import json, sys
from plan.runner import run_program, to_pulumi_config
run_program(to_pulumi_config(json.loads(sys.argv[1])))
print(json.dumps(sorted({m.split(".")[1] for m in sys.modules if m.startswith("pulumi_aws.") and m.count(".") == 2})))
"""


@pytest.mark.parametrize("component", [AssumerRole, DoerRole, StateBackend])
def test_components_declare_no_class_annotations(component: type) -> None:
    # The SDK resolves a component class's annotations with typing.get_type_hints on every registration.
    assert inspect.get_annotations(component) == {}


def _aws_packages_executed(section: dict[str, Any]) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, json.dumps(section)], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(out.strip().splitlines()[-1]))


def test_a_run_loads_only_the_aws_modules_it_registers_resources_of() -> None:
    assert _aws_packages_executed(example_section()) == {"iam", "s3", "dynamodb"}
    with_key = with_changes(example_section(), **{"state_backend": {"kms": {"enabled": True}}})
    assert _aws_packages_executed(with_key) == {"iam", "s3", "dynamodb", "kms"}
