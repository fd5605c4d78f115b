"""The order and the batches of a multi-stack run, decided without running anything (no Pulumi import).

Order: a shared or complete stack runs before every member stack that reads it (a member's StackReference needs
the shared stack's outputs). Parallelism: the engine starts one AWS provider plugin process per account of a
stack (one provider per account here), about 170-430 MB each (FACTS.md, pulumi/pulumi#19534,
pulumi/pulumi-aws#5860), so what bounds how many stacks run at once is memory:

    estimate(stack) = ENGINE_MB + provider_mb * accounts(stack)

A stack starts when every stack it reads has succeeded, no failure has been seen, fewer than ``max_parallel``
stacks run, and the estimates of the running stacks plus its own fit in the budget. A stack whose estimate alone
exceeds the budget still starts, alone, when nothing else runs (refusing it would make the run impossible; the
summary flags it). After the first failure nothing new starts; the running stacks finish.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

# The upper end of the measured range per provider plugin process (FACTS.md: 170-430 MB).
PROVIDER_MB = 430
# The CLI's engine plus the Python language host running __main__.py: an assumption, not measured (no CLI here;
# `make plan` of a 40-account stack, program and offline plan under the mock runtime, peaks at 181 MB).
ENGINE_MB = 500
# Default budget: this share of the machine's physical memory, leaving the rest to the OS and everything else.
DEFAULT_BUDGET_SHARE = 0.75

Kind = Literal["complete", "shared", "member"]


class OrderError(Exception):
    """Stacks that cannot be ordered (a member reading a stack that is missing or is itself a member)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class StackSpec:
    """What the schedule needs of one stack file."""

    name: str  # the stack name: Pulumi.<name>.yaml
    file: str
    kind: Kind
    account_ids: tuple[str, ...]  # one provider each (the shared account included for shared/complete stacks)
    shared_stack: str | None = None  # a member's iam-federation:stack.shared_stack, as written

    @property
    def accounts(self) -> int:
        return len(self.account_ids)


@dataclass(frozen=True)
class Job:
    """One stack to run, with the stack it waits for and its memory estimate."""

    spec: StackSpec
    after: str | None  # name of the stack that must succeed first
    estimate_mb: int

    @property
    def name(self) -> str:
        return self.spec.name


def estimate_mb(accounts: int, provider_mb: int = PROVIDER_MB) -> int:
    return ENGINE_MB + provider_mb * accounts


def default_budget_mb(physical_mb: int) -> int:
    return int(physical_mb * DEFAULT_BUDGET_SHARE)


def jobs_in_order(specs: list[StackSpec], provider_mb: int = PROVIDER_MB) -> list[Job]:
    """Shared and complete stacks first, then members, each group by name; a member names the stack it reads.

    A member's ``shared_stack`` is matched by its last segment (``org/project/<stack>``), as ``plan`` does. An
    account in two stacks is refused: two stacks would each own its doer, and each ``up`` would undo the other.
    """
    by_name = {s.name: s for s in specs}
    problems: list[str] = []
    jobs: list[Job] = []
    holder: dict[str, str] = {}
    for spec in sorted(specs, key=lambda s: (s.kind == "member", s.name)):
        for account_id in spec.account_ids:
            if account_id in holder:
                problems.append(f"{spec.file}: account {account_id} is already held by stack {holder[account_id]!r}")
            holder.setdefault(account_id, spec.name)
        after = None
        if spec.kind == "member":
            reference = spec.shared_stack or ""
            wanted = reference.rsplit("/", 1)[-1]
            target = by_name.get(wanted)
            where = f"{spec.file}: iam-federation:stack.shared_stack = {reference!r}"
            if target is None:
                problems.append(f"{where}: no stack file Pulumi.{wanted}.yaml among the stacks to run")
            elif target.kind == "member":
                problems.append(f"{where}: stack {wanted!r} is a member stack; a member reads a shared stack")
            after = wanted
        jobs.append(Job(spec, after, estimate_mb(spec.accounts, provider_mb)))
    if problems:
        raise OrderError(problems)
    return jobs


Status = Literal["pending", "running", "succeeded", "failed"]


@dataclass
class Schedule:
    """Which stacks may start now, given what runs and what has finished. Pure state; the caller runs them."""

    jobs: list[Job]
    budget_mb: int
    max_parallel: int | None = None
    status: dict[str, Status] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_parallel is not None and self.max_parallel < 1:
            raise ValueError(f"max_parallel = {self.max_parallel}: must be at least 1")
        for job in self.jobs:
            self.status.setdefault(job.name, "pending")

    @property
    def failed(self) -> bool:
        return "failed" in self.status.values()

    def running(self) -> list[Job]:
        return [j for j in self.jobs if self.status[j.name] == "running"]

    def startable(self) -> list[Job]:
        """The jobs to start now, in order; call ``start`` for each one you start."""
        if self.failed:
            return []
        chosen: list[Job] = []
        running = self.running()
        used = sum(j.estimate_mb for j in running)
        count = len(running)
        for job in self.jobs:
            if self.status[job.name] != "pending":
                continue
            if job.after is not None and self.status.get(job.after) != "succeeded":
                continue
            if self.max_parallel is not None and count >= self.max_parallel:
                break
            if count and used + job.estimate_mb > self.budget_mb:
                # Keep the order: a later, smaller stack does not overtake one that waits for memory.
                break
            chosen.append(job)
            used += job.estimate_mb
            count += 1
        return chosen

    def start(self, job: Job) -> None:
        self.status[job.name] = "running"

    def finish(self, job: Job, ok: bool) -> None:
        self.status[job.name] = "succeeded" if ok else "failed"

    def done(self) -> bool:
        return not self.running() and not self.startable()

    def over_budget(self) -> list[Job]:
        """Jobs whose estimate alone exceeds the budget: they run alone."""
        return [j for j in self.jobs if j.estimate_mb > self.budget_mb]


def per_stack_bound(budget_mb: int, accounts: int, provider_mb: int = PROVIDER_MB) -> int:
    """How many stacks of ``accounts`` accounts fit the budget at once (at least 1): the documented bound."""
    return max(1, math.floor(budget_mb / estimate_mb(accounts, provider_mb)))
