"""SMT figures of the offline plan (plan/smt): properties, classes of identical documents, queries and time at 10
and 1,000 application accounts (a complete stack as bench/plan_scale.py generates it). Not a test.

    python bench/smt_scale.py [--sizes 10 1000]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.plan_scale import complete_stack  # noqa: E402
from federation.config import parse_config  # noqa: E402
from plan.model import iam_model  # noqa: E402
from plan.runner import run_program, to_pulumi_config  # noqa: E402
from plan.smt.check import decide, summary  # noqa: E402
from plan.smt.properties import properties  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 1000])
    args = parser.parse_args()
    print("SMT layer (cvc5, each query in its own process, 2 at a time):")
    for size in args.sizes:
        section = complete_stack(size)["bench"]
        run = run_program(to_pulumi_config(section), stack="bench")
        started = time.perf_counter()
        found = properties(parse_config(to_pulumi_config(section)), iam_model(run))
        results = decide(found)
        print(f"  {size:>5} accounts: {summary(results, time.perf_counter() - started)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
