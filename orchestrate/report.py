"""What a multi-stack run prints at the end: one row per stack (pure text, no Pulumi import)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from orchestrate.schedule import Job

Result = Literal["succeeded", "failed", "not started"]


@dataclass(frozen=True)
class Outcome:
    """How one stack's operation ended."""

    name: str
    result: Result
    seconds: float | None = None
    changes: Mapping[str, int] | None = None  # resource changes by operation, as the CLI reports them
    error: str | None = None


def error_line(text: str) -> str:
    """The line of a CLI failure worth showing: the last ``error:`` line of its stderr, else its last line."""
    stderr = text.rsplit("stderr:", 1)[-1] if "stderr:" in text else text
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    return (errors or lines or ["(no output)"])[-1]


def changes_text(changes: Mapping[str, int] | None) -> str:
    """``create 3, same 2``: the non-zero counts as the CLI reported them; ``-`` when it reported none."""
    if changes is None:
        return "-"
    return ", ".join(f"{op} {n}" for op, n in changes.items() if n) or "no changes"


def summary_text(operation: str, jobs: list[Job], outcomes: Mapping[str, Outcome], seconds: float) -> str:
    rows = [("stack", "kind", "result", "duration", "resource changes")]
    for job in jobs:
        outcome = outcomes.get(job.name, Outcome(job.name, "not started"))
        duration = f"{outcome.seconds:.1f} s" if outcome.seconds is not None else "-"
        result = outcome.result.upper() if outcome.result == "failed" else outcome.result
        detail = changes_text(outcome.changes) if outcome.result == "succeeded" else (outcome.error or "-")
        rows.append((job.name, job.spec.kind, result, duration, detail))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = [f"Summary of pulumi {operation} --all ({len(jobs)} stacks, {seconds:.1f} s):"]
    lines += [
        "  " + "  ".join(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)) + "  " + row[4] for row in rows
    ]
    failed = [j.name for j in jobs if outcomes.get(j.name, Outcome(j.name, "not started")).result == "failed"]
    skipped = [j.name for j in jobs if j.name not in outcomes]
    if failed:
        lines.append(f"FAILED: {', '.join(failed)}; not started: {', '.join(skipped) or 'none'}")
    else:
        lines.append(f"OK: all {len(jobs)} stacks succeeded")
    return "\n".join(line.rstrip() for line in lines)
