"""Every policy document the program registers, one file each, as it would be sent: build/plan-<stack>/policies/.

For review and for diffing two plans with ordinary tools: <stack>/<resource name>.<input>.json, pretty-printed from
the registered JSON text (the registered text itself is what AWS receives; the checks measure that).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path

from plan.diff import stack_of
from plan.runner import ProgramRun

# The inputs that carry a policy document, by how the resource types name them.
DOCUMENT_INPUTS = ("assumeRolePolicy", "policy", "content")


def documents(runs: Iterable[ProgramRun]) -> dict[str, str]:
    """Relative file name -> the document, indented, for every registered policy document."""
    files: dict[str, str] = {}
    for run in runs:
        for reg in run.registrations:
            for key in DOCUMENT_INPUTS:
                value = reg.inputs.get(key) if reg.custom else None
                if not isinstance(value, str) or not value.startswith("{"):
                    continue
                files[f"{stack_of(reg.urn)}/{reg.name}.{key}.json"] = json.dumps(json.loads(value), indent=2) + "\n"
    return files


def write(directory: Path, runs: Iterable[ProgramRun]) -> int:
    """Replace directory's contents with the documents of these runs; how many were written."""
    shutil.rmtree(directory, ignore_errors=True)
    files = documents(runs)
    for name, text in files.items():
        (directory / name).parent.mkdir(parents=True, exist_ok=True)
        (directory / name).write_text(text)
    return len(files)
