"""Deployability checks of the offline plan: what AWS, the provider, Terraform and the engine will do with what the
program registered.

Each check reads the mock run's registrations (the same records the access matrix reads), never the components'
internals, and returns findings. A finding names the resource, the input (or the call or request), the rule it
breaks and the rule's source, so the user can see where the rule comes from and fix the config. `make plan` fails
on any finding. A new check is one module with a function ``check(plan: PlanInput) -> list[Finding]`` and one line
in ``CHECKS`` below.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from plan.model import IamModel
from plan.runner import ProgramRun
from plan.stacks import Selection


@dataclass(frozen=True)
class Finding:
    """One way the registered program would fail on real AWS or lock someone out."""

    check: str  # the check's name, e.g. "aws-accepts"
    resource: str  # the resource's logical name or URN, or the request's subject
    what: str  # the input, provider call or backend request concerned, with its value
    rule: str  # the rule it breaks
    source: str  # where the rule comes from (an API model, a doc page, a provider source file)

    def line(self) -> str:
        return f"[{self.check}] {self.resource}: {self.what}: {self.rule} ({self.source})"

    def as_dict(self) -> dict[str, str]:
        return {
            "check": self.check,
            "resource": self.resource,
            "what": self.what,
            "rule": self.rule,
            "source": self.source,
        }


@dataclass
class PlanInput:
    """What every check may read: the selection of stacks, each program run, and the IAM model built from them."""

    selection: Selection
    runs: list[ProgramRun]
    model: IamModel
    # Extra inputs some checks take (e.g. the deployed base of `make plan BASE=`), by name.
    extras: dict[str, Any] = field(default_factory=dict)


Check = Callable[[PlanInput], list[Finding]]

# (name, function): run in this order; a check module registers itself below by one line.
CHECKS: list[tuple[str, Check]] = []


def run_checks(plan: PlanInput, checks: list[tuple[str, Check]] | None = None) -> dict[str, list[Finding]]:
    """Every check's findings, by check name (an empty list: the check ran and found nothing)."""
    return {name: check(plan) for name, check in (CHECKS if checks is None else checks)}


def checks_text(results: dict[str, list[Finding]], notes: dict[str, str] | None = None) -> str:
    """notes: a line a check leaves about what it decided (PlanInput.extras["notes"][name]), shown beside it."""
    lines = ["Deployability checks (what AWS, the provider, Terraform and the engine do with what is registered):"]
    for name, findings in results.items():
        note = f" ({(notes or {})[name]})" if name in (notes or {}) else ""
        lines.append(f"  {name}: {'OK' if not findings else f'{len(findings)} finding(s)'}{note}")
        lines += [f"    {finding.line()}" for finding in findings]
    return "\n".join(lines)


# The checks, one line each (imported when they run: every check module imports Finding and PlanInput from here).
CHECKS.append(("aws-accepts", lambda plan: importlib.import_module("plan.check_accepts").check(plan)))
CHECKS.append(("engine-prerequisites", lambda plan: importlib.import_module("plan.check_prerequisites").check(plan)))
CHECKS.append(("deployer-keeps-control", lambda plan: importlib.import_module("plan.check_deployer").check(plan)))
CHECKS.append(("terraform-backend", lambda plan: importlib.import_module("plan.check_terraform").check(plan)))
CHECKS.append(("day-two", lambda plan: importlib.import_module("plan.diff").check(plan)))
CHECKS.append(("smt", lambda plan: importlib.import_module("plan.smt.check").check(plan)))
