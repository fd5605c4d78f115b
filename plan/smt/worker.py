"""One SMT-LIB query, solved in this process alone: `python -m plan.smt.worker [cvc5|z3] < query.smt2`.

Each query gets a fresh process (the runner starts one per query): solver state carried between queries changed
the prototype's timings (FACTS.md 2026-12-04), and a fresh process can be killed at its deadline. cvc5 is the
plan's solver; z3 (not a dependency: `pip install z3-solver`) can confirm the same text (bench/smt_confirm.py).
"""

from __future__ import annotations

import re
import sys


def solve(text: str) -> str:
    import cvc5  # type: ignore[import-untyped]

    terms = cvc5.TermManager()
    solver = cvc5.Solver(terms)
    symbols = cvc5.SymbolManager(terms)
    parser = cvc5.InputParser(solver, symbols)
    parser.setStringInput(cvc5.InputLanguage.SMT_LIB_2_6, text, "query")
    out: list[str] = []
    while True:
        command = parser.nextCommand()
        if command.isNull():
            break
        result = command.invoke(solver, symbols)
        if result:
            out.append(result.strip())
    return "\n".join(out)


def solve_z3(text: str) -> str:
    """The verdict only (no model): z3 confirms a proof, or that a counterexample exists."""
    import z3  # type: ignore[import-not-found]

    limit = re.search(r":tlimit-per (\d+)", text)
    body = "\n".join(line for line in text.split("(check-sat)")[0].splitlines() if not line.startswith("(set-option"))
    solver = z3.Solver()
    if limit:
        solver.set("timeout", int(limit.group(1)))
    solver.from_string(body)
    return str(solver.check())


if __name__ == "__main__":
    which = sys.argv[1] if len(sys.argv) > 1 else "cvc5"
    sys.stdout.write((solve_z3 if which == "z3" else solve)(sys.stdin.read()) + "\n")
