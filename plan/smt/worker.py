"""One SMT-LIB query, solved by cvc5 in this process alone: `python -m plan.smt.worker < query.smt2`.

Each query gets a fresh process (the runner starts one per query): solver state carried between queries changed
the prototype's timings (FACTS.md 2026-12-04), and a fresh process can be killed at its deadline.
"""

from __future__ import annotations

import sys

import cvc5  # type: ignore[import-untyped]


def solve(text: str) -> str:
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


if __name__ == "__main__":
    sys.stdout.write(solve(sys.stdin.read()) + "\n")
