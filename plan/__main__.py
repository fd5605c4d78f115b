"""`python -m plan`: the offline plan of a stack file (no AWS, no Pulumi CLI).

Runs the real program under Pulumi's mock runtime, prints the planned resources by account and the access
matrix, writes report.json, trust-graph.mmd and trust-graph.png, and exits non-zero when any cell of the
matrix differs from what the config promises.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pulumi

from federation.config import ConfigError
from federation.load import load_config
from plan.matrix import access_matrix
from plan.model import iam_model
from plan.report import matrix_text, mermaid, plan_text, report_json, write_png
from plan.runner import run_stack_file, stack_file_config


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plan", description=__doc__)
    parser.add_argument("--stack-file", type=Path, default=Path("Pulumi.shared.yaml"))
    parser.add_argument("--out", type=Path, default=Path("build/plan"))
    parser.add_argument("--no-png", action="store_true", help="skip the PNG picture")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    if not args.stack_file.exists():
        print(f"error: stack file {args.stack_file} not found", file=sys.stderr)
        return 2
    stack = args.stack_file.name.removeprefix("Pulumi.").removesuffix(".yaml")
    try:
        run = run_stack_file(args.stack_file)
    except (pulumi.RunError, ConfigError) as error:
        print(f"error: {args.stack_file}: {error}", file=sys.stderr)
        return 2
    # The program validated the config already; load it again here for the expected side of the matrix.
    config = load_config(stack_file_config(args.stack_file))
    matrix = access_matrix(config, iam_model(run))

    names = {a.id: a.name for a in config.all_accounts}
    print(f"Offline plan of stack '{stack}' ({args.stack_file}): the real program under Pulumi's mock runtime.")
    print("Nothing here ran against AWS or the Pulumi CLI.\n")
    print(plan_text(run, names))
    print()
    print(matrix_text(matrix))

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "report.json").write_text(json.dumps(report_json(stack, run, matrix), indent=2) + "\n")
    (args.out / "trust-graph.mmd").write_text(mermaid(matrix))
    written = ["report.json", "trust-graph.mmd"]
    if not args.no_png:
        write_png(matrix, args.out / "trust-graph.png")
        written.append("trust-graph.png")
    print(f"\nWrote {', '.join(str(args.out / w) for w in written)} in {time.perf_counter() - started:.1f} s")
    if matrix.mismatches:
        print(f"FAILED: {len(matrix.mismatches)} cell(s) of the access matrix differ from the config's promise")
        return 1
    print(f"OK: all {len(matrix.cells)} cells of the access matrix match the config's promise")
    return 0


if __name__ == "__main__":
    sys.exit(main())
