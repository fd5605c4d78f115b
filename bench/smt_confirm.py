"""A second solver on the plan's SMT queries: z3 decides the same SMT-LIB text cvc5 decided, and the verdicts are
compared (proved / counterexample; z3's unknown is printed, never counted as agreement). Not a test; z3-solver is
not a dependency of this project: `pip install z3-solver` (or --z3-path a directory installed with pip --target).

    python bench/smt_confirm.py [--dir examples] [--stack all] [--timeout 60] [--z3-path DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plan.__main__ import run_selection  # noqa: E402
from plan.model import iam_model  # noqa: E402
from plan.smt.properties import properties  # noqa: E402
from plan.smt.query import build, readings_of  # noqa: E402
from plan.smt.solve import solve_all  # noqa: E402
from plan.stacks import select_stacks  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--dir", type=Path, default=ROOT / "examples")
    parser.add_argument("--stack", default="all")
    parser.add_argument("--timeout", type=float, default=60)
    parser.add_argument("--z3-path", help="a directory holding the z3 package (pip install --target DIR z3-solver)")
    args = parser.parse_args()
    if args.z3_path:
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [args.z3_path, os.environ.get("PYTHONPATH")]))
    selection = select_stacks(args.dir, args.stack)
    queries = [
        build(p, r)
        for p in properties(selection.organization, iam_model(*run_selection(selection)))
        for r in readings_of(p)
    ]
    texts = [q.text for q in queries if not q.error]
    verdicts = {}
    for solver in ("cvc5", "z3"):
        started = time.perf_counter()
        verdicts[solver] = solve_all(texts, timeout=args.timeout, solver=solver)
        print(f"{solver}: {len(texts)} queries in {time.perf_counter() - started:.1f} s")
    agree = 0
    for query, first, second in zip([q for q in queries if not q.error], verdicts["cvc5"], verdicts["z3"], strict=True):
        same = first.status == second.status and first.status != "unknown"
        agree += same
        if not same:
            print(
                f"  differ: {query.prop.name} ({query.reading}):"
                f" cvc5 {first.status}, z3 {second.status} {second.reason}"
            )
    print(f"z3 confirms {agree} of {len(texts)} verdicts")
    return 0 if agree == len(texts) else 1


if __name__ == "__main__":
    sys.exit(main())
