"""`python -m plan`: the offline plan of a stack file (no AWS, no Pulumi CLI).

Runs the real program under Pulumi's mock runtime, prints the planned resources by account and the access
matrix, writes report.json, trust-graph.mmd and trust-graph.png, and exits non-zero when any cell of the
matrix differs from what the config promises. A member stack is planned after the shared stack it reads, and
its matrix covers both. Every Pulumi.*.yaml beside the stack file is read to refuse an account held twice.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pulumi

from federation.config import ConfigError, FederationConfig, MemberConfig
from plan.escalation import analyse
from plan.matrix import access_matrix
from plan.model import iam_model
from plan.report import classes_text, escalation_text, matrix_text, mermaid, plan_text, write_png, write_report
from plan.runner import ProgramRun, run_stack_file
from plan.stacks import StackFile, cross_stack_problems, project_stacks, shared_stack_of


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plan", description=__doc__)
    parser.add_argument("--stack-file", type=Path, default=Path("Pulumi.shared.yaml"))
    parser.add_argument("--out", type=Path, default=Path("build/plan"))
    parser.add_argument("--no-png", action="store_true", help="skip the PNG picture")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    if not args.stack_file.exists():
        return _fail(f"stack file {args.stack_file} not found")
    try:
        stacks = project_stacks(args.stack_file.resolve().parent)
        problems = cross_stack_problems(stacks)
        if problems:
            raise ConfigError(problems)
        target = next(s for s in stacks if s.path.name == args.stack_file.name)
        shared: StackFile | None = shared_stack_of(target, stacks) if isinstance(target.config, MemberConfig) else None
        runs: list[ProgramRun] = []
        if shared is not None:
            assert isinstance(target.config, MemberConfig) and target.config.stack.shared_stack
            shared_run = run_stack_file(shared.path)
            outputs = {target.config.stack.shared_stack: shared_run.outputs}
            runs = [shared_run, run_stack_file(target.path, outputs)]
        else:
            runs = [run_stack_file(target.path)]
    except (pulumi.RunError, ConfigError) as error:
        return _fail(f"{args.stack_file}: {error}")

    base = shared.config if shared is not None else target.config
    assert isinstance(base, FederationConfig)
    # The organization as this plan sees it: the shared stack's accounts and, for a member, the member's.
    accounts = [*base.accounts, *(target.config.accounts if shared is not None else [])]
    organization = base.model_copy(update={"accounts": accounts})
    matrix = access_matrix(organization, iam_model(runs[0], *runs[1:]))
    escalation = analyse(organization, matrix)

    names = {a.id: a.name for a in organization.all_accounts}
    print(f"Offline plan of stack '{target.name}' ({args.stack_file}): the real program under Pulumi's mock runtime.")
    if shared is not None:
        print(f"It reads stack '{shared.name}', planned first; the access matrix covers both.")
    print("Nothing here ran against AWS or the Pulumi CLI.\n")
    print(plan_text(runs[-1], names))
    print()
    print(classes_text(matrix))
    print()
    print(matrix_text(matrix))
    print()
    print(escalation_text(matrix, escalation))

    args.out.mkdir(parents=True, exist_ok=True)
    write_report(args.out / "report.json", target.name, runs[-1], matrix, escalation)
    (args.out / "trust-graph.mmd").write_text(mermaid(matrix))
    written = ["report.json", "trust-graph.mmd"]
    if not args.no_png:
        write_png(matrix, args.out / "trust-graph.png")
        written.append("trust-graph.png")
    print(f"\nWrote {', '.join(str(args.out / w) for w in written)} in {time.perf_counter() - started:.1f} s")
    failed = False
    if matrix.mismatches:
        print(f"FAILED: {len(matrix.mismatches)} cell(s) of the access matrix differ from the config's promise")
        failed = True
    else:
        print(f"OK: all {len(matrix.judged)} judged cells of the access matrix match the config's promise")
    if escalation.failures:
        first = escalation.failures[0]
        print(f"FAILED: {len(escalation.failures)} reach(es) beyond the promise, e.g. {first.path}")
        failed = True
    else:
        risks = f" (named risks: {', '.join(sorted(escalation.risks))})" if escalation.risks else ""
        print(f"OK: no principal outside the trust root reaches beyond its own account's state{risks}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
