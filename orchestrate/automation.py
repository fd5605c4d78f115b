"""The thin shell over Pulumi's Automation API: run ``up`` or ``preview`` of one stack of the local project.

Each stack gets its own ``LocalWorkspace`` on the project directory (the program and its Pulumi.<stack>.yaml),
selected with ``select_stack``: the stack must already exist in the backend the CLI is logged into (``pulumi stack
init`` is a deliberate first step, not something a batch run should do by accident). Every command the API runs
carries ``--stack <name>``, so stacks running side by side do not depend on which one is "selected".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal

from pulumi import automation as auto

from orchestrate.report import Outcome, error_line

Operation = Literal["up", "preview"]
Echo = Callable[[str], None]


def pulumi_command() -> auto.PulumiCommand:
    """The ``pulumi`` on PATH, version-checked once (``pulumi version``) and shared by every workspace."""
    return auto.PulumiCommand()


def run_stack(
    project_dir: Path, stack_name: str, operation: Operation, command: auto.PulumiCommand, echo: Echo
) -> Outcome:
    """Run the operation; never raises for a failed stack (the outcome says so, with the CLI's error line)."""
    started = time.monotonic()
    errors: list[str] = []

    def on_error(line: str) -> None:
        errors.append(line)
        echo(line)

    try:
        options = auto.LocalWorkspaceOptions(pulumi_command=command)
        stack = auto.select_stack(stack_name=stack_name, work_dir=str(project_dir), opts=options)
        if operation == "up":
            up = stack.up(on_output=echo, on_error=on_error)
            changes = _counts(up.summary.resource_changes)
        else:
            preview = stack.preview(on_output=echo, on_error=on_error)
            changes = _counts(preview.change_summary)
    except auto.errors.CommandError as error:
        return Outcome(stack_name, "failed", time.monotonic() - started, error=error_line(str(error)))
    except Exception as error:  # one stack's unexpected failure must not lose the others' summary
        detail = error_line("\n".join(errors)) if errors else f"{type(error).__name__}: {error}"
        return Outcome(stack_name, "failed", time.monotonic() - started, error=detail)
    return Outcome(stack_name, "succeeded", time.monotonic() - started, changes=changes)


def _counts(changes: Mapping[Any, int] | None) -> dict[str, int] | None:
    # Keys are the engine's step operations: plain strings from `stack history`, OpType members from events.
    if changes is None:
        return None
    return {str(getattr(op, "value", op)): int(n) for op, n in changes.items()}
