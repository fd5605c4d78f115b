"""Run SMT-LIB queries, each in its own cvc5 process with a deadline; read a model back as a concrete request."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

# A query past its deadline is "unknown", never "proved": cvc5's own per-check limit first, then the process's.
TIMEOUT_SECONDS = float(os.environ.get("IAM_FEDERATION_SMT_TIMEOUT", "20"))


@dataclass
class Outcome:
    status: str  # "unsat", "sat" or "unknown"
    model: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    reason: str = ""


def _parse_sexpr(text: str) -> Any:
    """The s-expression of a get-value answer (SMT-LIB string literals with "" and \\u{..} escapes)."""
    pos = 0

    def skip() -> None:
        nonlocal pos
        while pos < len(text) and text[pos].isspace():
            pos += 1

    def parse() -> Any:
        nonlocal pos
        skip()
        if text[pos] == "(":
            pos += 1
            items = []
            skip()
            while text[pos] != ")":
                items.append(parse())
                skip()
            pos += 1
            return items
        if text[pos] == '"':
            pos += 1
            out = []
            while True:
                if text[pos] == '"':
                    if pos + 1 < len(text) and text[pos + 1] == '"':
                        out.append('"')
                        pos += 2
                        continue
                    pos += 1
                    break
                if text.startswith("\\u{", pos):
                    end = text.index("}", pos)
                    out.append(chr(int(text[pos + 3 : end], 16)))
                    pos = end + 1
                    continue
                out.append(text[pos])
                pos += 1
            return ("str", "".join(out))
        start = pos
        while pos < len(text) and not text[pos].isspace() and text[pos] not in "()":
            pos += 1
        return text[start:pos]

    return parse()


def _value(term: Any) -> Any:
    if isinstance(term, tuple):
        return term[1]
    if isinstance(term, list) and len(term) == 2 and term[0] == "-":
        return -int(term[1])
    if term in ("true", "false"):
        return term == "true"
    return int(term) if isinstance(term, str) and term.lstrip("-").isdigit() else term


def parse_answer(text: str) -> Outcome:
    lines = text.strip().split("\n", 1)
    status = lines[0].strip().split(" ")[0]
    if status not in ("sat", "unsat", "unknown"):
        return Outcome("unknown", reason=f"solver said: {text.strip()[:200]}")
    model: dict[str, Any] = {}
    if status == "sat" and len(lines) > 1:
        for name, term in _parse_sexpr(lines[1]):
            model[name] = _value(term)
    return Outcome(status, model)


def solve_one(text: str, timeout: float = TIMEOUT_SECONDS, solver: str = "cvc5") -> Outcome:
    started = time.perf_counter()
    limit = f"(set-option :tlimit-per {int(timeout * 1000)})\n"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "plan.smt.worker", solver],
            input=limit + text,
            capture_output=True,
            text=True,
            timeout=timeout + 5,
            cwd=os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Outcome("unknown", seconds=time.perf_counter() - started, reason=f"no answer in {timeout:.0f} s")
    outcome = (
        parse_answer(done.stdout)
        if done.returncode == 0
        else Outcome("unknown", reason=f"solver process failed: {done.stderr.strip()[-300:]}")
    )
    outcome.seconds = time.perf_counter() - started
    if outcome.status == "unknown" and not outcome.reason:
        outcome.reason = f"{solver} gave up (limit {timeout:.0f} s per query)"
    return outcome


def solve_all(
    texts: Iterable[str], workers: int | None = None, timeout: float = TIMEOUT_SECONDS, solver: str = "cvc5"
) -> list[Outcome]:
    """Each query in its own process, two at a time by default (this project's machines have two cores)."""
    items = list(texts)
    with ThreadPoolExecutor(max_workers=workers or min(2, os.cpu_count() or 1)) as pool:
        return list(pool.map(lambda t: solve_one(t, timeout, solver), items))
