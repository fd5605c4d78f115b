"""`python -m orchestrate up|preview --all`: every stack of the project, in order, through the Automation API.

Finds the Pulumi.<stack>.yaml files of the project directory and selects one organization's stacks as `make plan
STACK=all` does (plan/stacks.py): any invalid stack file, an account in two stacks, or several shared stacks
without --shared stops it before anything runs, each problem with file:line. Then it runs the shared or complete
stacks first, then the member stacks as the memory budget allows (orchestrate/schedule.py), stops starting stacks
at the first failure, and prints one summary. Exit status: 0 all succeeded, 1 a stack failed or did not start,
2 nothing ran (bad input).
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path

from federation.config import ConfigError, MemberConfig
from orchestrate.automation import Echo, pulumi_command, run_stack
from orchestrate.report import Outcome, summary_text
from orchestrate.schedule import (
    ENGINE_MB,
    PROVIDER_MB,
    Job,
    OrderError,
    Schedule,
    StackSpec,
    default_budget_mb,
    jobs_in_order,
    per_stack_bound,
)
from plan.stacks import select_organization

RunOne = Callable[[Job], Outcome]


def _physical_mb() -> int:
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20


def stack_specs(project_dir: Path, shared: str | None = None) -> tuple[list[StackSpec], list[str]]:
    """The stacks of one organization, as `make plan STACK=all` selects them (plan/stacks.py, select_organization):
    all or nothing, since every one is about to run. Raises ConfigError (every problem with file:line) on any
    invalid stack file of the folder, and when several shared stacks exist and ``shared`` does not say which.
    Returns the specs and the files of other organizations left out."""
    selection = select_organization(project_dir, shared)
    specs = [
        StackSpec(
            name=stack.name,
            file=stack.path.name,
            kind=stack.config.stack.kind,
            account_ids=tuple(a.id for a in stack.config.all_accounts),
            shared_stack=stack.config.stack.shared_stack if isinstance(stack.config, MemberConfig) else None,
        )
        for stack in selection.stacks
    ]
    return specs, [stack.path.name for stack in selection.foreign]


def execute(schedule: Schedule, run_one: RunOne, echo: Echo) -> dict[str, Outcome]:
    """Start what the schedule allows, wait for any to finish, repeat; returns the outcome of every stack started."""
    outcomes: dict[str, Outcome] = {}
    with ThreadPoolExecutor(max_workers=max(1, len(schedule.jobs))) as pool:
        running: dict[Future[Outcome], Job] = {}
        while True:
            for job in schedule.startable():
                schedule.start(job)
                echo(f"-- start {job.name} (estimate {job.estimate_mb} MB)")
                running[pool.submit(run_one, job)] = job
            if not running:
                return outcomes
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in finished:
                job = running.pop(future)
                outcome = future.result()
                outcomes[job.name] = outcome
                schedule.finish(job, outcome.result == "succeeded")
                echo(f"-- {outcome.result} {job.name}")
                if outcome.result == "failed" and running:
                    echo(f"-- no new stack starts; waiting for {', '.join(j.name for j in running.values())}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestrate", description=__doc__)
    parser.add_argument("operation", choices=["up", "preview"])
    parser.add_argument("--all", action="store_true", required=True, help="every stack of the project (required)")
    parser.add_argument("--stacks-dir", type=Path, default=Path("."), help="the project directory (Pulumi.yaml)")
    parser.add_argument(
        "--shared", help="the shared or complete stack of the organization to run (needed when there are several)"
    )
    parser.add_argument("--parallel", type=int, default=None, help="at most this many stacks at once")
    parser.add_argument(
        "--memory-budget-gb",
        type=float,
        default=None,
        help="memory the running stacks may use together (default: 75%% of this machine's memory)",
    )
    parser.add_argument(
        "--provider-mb", type=int, default=PROVIDER_MB, help="memory assumed per provider process (one per account)"
    )
    parser.add_argument("--quiet", action="store_true", help="print only the start/finish lines and the summary")
    args = parser.parse_args(argv)

    project_dir: Path = args.stacks_dir.resolve()
    if not (project_dir / "Pulumi.yaml").exists():
        return _fail(f"--stacks-dir {args.stacks_dir}: no Pulumi.yaml there (the project directory is needed)")
    if args.parallel is not None and args.parallel < 1:
        return _fail(f"--parallel {args.parallel}: must be at least 1")
    if args.memory_budget_gb is not None and args.memory_budget_gb <= 0:
        return _fail(f"--memory-budget-gb {args.memory_budget_gb}: must be positive")
    try:
        specs, foreign = stack_specs(project_dir, args.shared)
        jobs = jobs_in_order(specs, args.provider_mb)
    except (ConfigError, OrderError) as error:
        return _fail("stacks cannot run:\n" + "\n".join(f"  - {p}" for p in error.problems))
    if not jobs:
        return _fail(f"no Pulumi.<stack>.yaml files in {project_dir}")
    budget_mb = int(args.memory_budget_gb * 1024) if args.memory_budget_gb else default_budget_mb(_physical_mb())
    schedule = Schedule(jobs, budget_mb, args.parallel)

    lock = threading.Lock()

    def echo(line: str) -> None:
        with lock:
            print(line, flush=True)

    print(f"pulumi {args.operation} of {len(jobs)} stacks in {project_dir}, shared and complete stacks first.")
    if foreign:
        print(f"Left out, another organization's: {', '.join(foreign)}")
    print(
        f"Memory budget {budget_mb} MB; estimate per stack = {ENGINE_MB} MB + {args.provider_mb} MB x accounts"
        + (f"; at most {args.parallel} at once" if args.parallel else "")
        + "."
    )
    members = [s for s in specs if s.kind == "member"]
    if members:
        largest = max(s.accounts for s in members)
        at_once = per_stack_bound(budget_mb, largest, args.provider_mb)
        if args.parallel:
            at_once = min(at_once, args.parallel)
        print(f"Member stacks of {largest} accounts: up to {at_once} at once.")
    for job in schedule.over_budget():
        print(f"warning: {job.name} alone is estimated at {job.estimate_mb} MB, over the budget: it will run alone")
    try:
        command = pulumi_command()
    except FileNotFoundError:
        return _fail("no `pulumi` executable on PATH (install the Pulumi CLI)")

    def run_one(job: Job) -> Outcome:
        def stack_echo(line: str) -> None:
            if not args.quiet:
                echo(f"[{job.name}] {line}")

        return run_stack(project_dir, job.name, args.operation, command, stack_echo)

    started = time.monotonic()
    outcomes = execute(schedule, run_one, echo)
    print()
    print(summary_text(args.operation, jobs, outcomes, time.monotonic() - started))
    return 0 if all(o.result == "succeeded" for o in outcomes.values()) and len(outcomes) == len(jobs) else 1


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
