"""Benchmark of the offline plan, `python -m plan`, on generated stack files: what `make plan` costs as the
organization grows, against the program run alone.

Not a test: it prints one table and writes JSON and a PNG plot. Rows:

- a complete stack of N application accounts, for each N of ``--sizes`` (40, 300 and 1,000 by default);
- an organization: a shared stack and ``--members`` member stacks of ``--member-accounts`` accounts each, planned
  together (``python -m plan --dir <dir> --stack all``), when this checkout's plan has that mode; otherwise the
  row says "not available".

Each measurement is its own child process; its peak RSS is the child's own (``os.wait4``). "program" is a child
that runs the same stack files' programs under the mock runtime and nothing else (the shared stack first, then
each member with the shared stack's outputs), so ``plan / program`` is what the plan adds to the program run, with
the same interpreter start-up on both sides. Stack files go to a temporary directory; nothing reads the user's
Pulumi.<stack>.yaml files.

    python bench/plan_scale.py [--sizes 40 300 1000] [--members 8] [--member-accounts 40] [--repeats 3]
                               [--out build/bench] [--plot docs/plan-scale.png] [--timeout 3600]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
# Targets of issue 10, printed against the figures.
TARGET_RATIO = 2.0  # plan / program run alone, at 1,000 accounts and for the whole organization
TARGET_PEAK_MB = 800  # plan at 1,000 accounts
SHARED_ID = "111111111111"
ORG_REFERENCE = "bench-org/iam-federation/shared"


def _base_section(kind: str, max_accounts: int) -> dict[str, Any]:
    """The example stack's choices (two SSO permission sets, CI profile, default backend), written out here."""
    return {
        "pulumi:disable-default-providers": ["*"],
        "iam-federation:stack": {"kind": kind, "max_accounts": max_accounts},
        "iam-federation:organization_id": "o-a1b2c3d4e5",
        "iam-federation:region": "us-east-1",
        "iam-federation:shared_account": {"name": "shared", "id": SHARED_ID},
        "iam-federation:roles": {
            "doer": {"managed_policy_arns": {"admin": "arn:aws:iam::aws:policy/AdministratorAccess"}}
        },
        "iam-federation:sso": {
            "permission_sets": ["AWSAdministratorAccess"],
            "start_url": "https://example.awsapps.com/start",
        },
        "iam-federation:ci": {"instance_profile_name": "infrastructure-assumer"},
        "iam-federation:tags": {"Project": "iam-federation"},
    }


def accounts(count: int, first: int = 0) -> list[dict[str, str]]:
    return [{"name": f"acct-{i:04d}", "id": f"{500000000000 + i:012d}"} for i in range(first, first + count)]


def complete_stack(count: int) -> dict[str, dict[str, Any]]:
    section = _base_section("complete", count + 1)  # the shared account has a provider too
    section["iam-federation:accounts"] = accounts(count)
    return {"bench": section}


def organization(members: int, per_member: int) -> dict[str, dict[str, Any]]:
    stacks = {"shared": _base_section("shared", 1)}
    for m in range(members):
        stacks[f"members-{m}"] = {
            "pulumi:disable-default-providers": ["*"],
            "iam-federation:stack": {"kind": "member", "shared_stack": ORG_REFERENCE, "max_accounts": per_member},
            "iam-federation:region": "us-east-1",
            "iam-federation:accounts": accounts(per_member, first=m * per_member),
        }
    return stacks


def write_stacks(directory: Path, stacks: dict[str, dict[str, Any]]) -> None:
    for name, section in stacks.items():
        (directory / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": section}, sort_keys=False))


@dataclass
class Child:
    """One child process's figures."""

    code: int
    wall_s: float
    peak_mb: float
    stderr_tail: str = ""
    report_bytes: int | None = None


def run_child(argv: list[str], log_dir: Path, timeout_s: float, pycache: Path) -> Child:
    """Run argv from the project root; the peak RSS is this child's alone (os.wait4), not the largest child's."""
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)  # as bench/scale.py: the project's modules compiled once, reused
    with open(log_dir / "stdout.txt", "wb") as out, open(log_dir / "stderr.txt", "wb") as err:
        started = time.perf_counter()
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=err)
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - started > timeout_s:
                process.kill()
                pid, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)  # reaped here, so Popen must not wait again
    tail = (log_dir / "stderr.txt").read_text(errors="replace").strip().splitlines()[-3:]
    return Child(process.returncode, wall, usage.ru_maxrss / 1024, " | ".join(tail))


def plan_modes() -> set[str]:
    """What this checkout's `python -m plan` accepts: 'stack-file' always, 'all' once `--stack all` exists."""
    help_text = subprocess.run(
        [sys.executable, "-m", "plan", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    modes = {"stack-file"}
    if "--dir" in help_text and "'all'" in " ".join(help_text.split()):
        modes.add("all")
    return modes


@dataclass
class Row:
    label: str
    accounts: int
    stacks: int
    available: bool = True
    note: str = ""
    plans: list[Child] = field(default_factory=list)
    programs: list[Child] = field(default_factory=list)

    def median(self, runs: list[Child], key: str) -> float:
        return float(statistics.median(getattr(r, key) for r in runs))

    def summary(self) -> dict[str, Any]:
        if not self.available or not self.plans:
            return {"label": self.label, "accounts": self.accounts, "stacks": self.stacks, "note": self.note}
        ratios = [p.wall_s / g.wall_s for p, g in zip(self.plans, self.programs, strict=True)]
        return {
            "label": self.label,
            "accounts": self.accounts,
            "stacks": self.stacks,
            "plan_s": self.median(self.plans, "wall_s"),
            "program_s": self.median(self.programs, "wall_s"),
            "ratio": statistics.median(ratios),
            "ratio_min": min(ratios),
            "ratio_max": max(ratios),
            "plan_peak_mb": self.median(self.plans, "peak_mb"),
            "program_peak_mb": self.median(self.programs, "peak_mb"),
            "report_mb": (self.plans[-1].report_bytes or 0) / 2**20,
            "plan_exit": sorted({p.code for p in self.plans}),
            "note": self.note,
        }


def measure_row(row: Row, stacks: dict[str, dict[str, Any]], argv: list[str], work: Path, args: Any) -> None:
    """Write the stacks, then interleave program and plan runs (drift hits both alike)."""
    pycache = args.out / "pycache"
    write_stacks(work, stacks)
    files = [str(work / f"Pulumi.{name}.yaml") for name in stacks]
    for i in range(args.repeats):
        program = run_child(
            [sys.executable, __file__, "--program-only", *files], work / "logs" / f"program-{i}", args.timeout, pycache
        )
        if program.code != 0:
            row.available, row.note = False, f"program run failed (exit {program.code}): {program.stderr_tail}"
            return
        plan = run_child([*argv, "--out", str(work / "out")], work / "logs" / f"plan-{i}", args.timeout, pycache)
        if plan.code not in (0, 1):  # 1: the plan ran and found mismatches; its figures still count
            row.available, row.note = False, f"plan failed (exit {plan.code}): {plan.stderr_tail}"
            return
        report = work / "out" / "report.json"
        plan.report_bytes = report.stat().st_size if report.exists() else None
        row.programs.append(program)
        row.plans.append(plan)
        print(f"  {row.label}: run {i + 1}/{args.repeats}, plan {plan.wall_s:.1f} s", file=sys.stderr)
    if any(p.code == 1 for p in row.plans):
        row.note = "the plan reported mismatching cells (exit 1)"


def program_only(files: list[Path]) -> None:
    """The child of a "program" measurement: each stack's program under the mock runtime, nothing else."""
    sys.path.insert(0, str(ROOT))
    from plan.runner import run_program, stack_file_config, stack_name_of

    outputs: dict[str, dict[str, Any]] = {}
    for path in files:  # the shared or complete stack first, as written
        config = stack_file_config(path)
        run = run_program(config, stack=stack_name_of(path), stack_outputs=outputs)
        if json.loads(config.get("iam-federation:stack", "{}")).get("kind") != "member":
            outputs = {ORG_REFERENCE: run.outputs}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="*", default=[40, 300, 1000], help="complete stacks of N accounts")
    parser.add_argument("--members", type=int, default=8, help="member stacks of the organization row (0: no row)")
    parser.add_argument("--member-accounts", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=3600, help="seconds per child process")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench")
    parser.add_argument("--plot", type=Path, default=ROOT / "docs" / "plan-scale.png")
    parser.add_argument("--program-only", nargs="+", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.program_only:
        program_only(args.program_only)
        return 0

    modes = plan_modes()
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="plan-bench-") as temp:
        # Untimed warm-up: fills the bytecode cache and the OS file cache, as bench/scale.py does.
        warm = Path(temp) / "warm"
        warm.mkdir()
        write_stacks(warm, complete_stack(3))
        warm_argv = [sys.executable, "-m", "plan", "--stack-file", str(warm / "Pulumi.bench.yaml")]
        run_child([*warm_argv, "--out", str(warm / "out")], warm / "logs", args.timeout, args.out / "pycache")
        for size in args.sizes:
            row = Row(f"complete, {size} accounts", size, 1)
            work = Path(temp) / f"complete-{size}"
            work.mkdir()
            argv = [sys.executable, "-m", "plan", "--stack-file", str(work / "Pulumi.bench.yaml")]
            measure_row(row, complete_stack(size), argv, work, args)
            rows.append(row)
        if args.members:
            total = args.members * args.member_accounts
            row = Row(f"shared + {args.members} members x {args.member_accounts}", total, args.members + 1)
            if "all" not in modes:
                row.available = False
                row.note = "not available: this checkout's `python -m plan` has no `--dir ... --stack all` yet"
            else:
                work = Path(temp) / "organization"
                work.mkdir()
                argv = [sys.executable, "-m", "plan", "--dir", str(work), "--stack", "all", "--shared", "shared"]
                measure_row(row, organization(args.members, args.member_accounts), argv, work, args)
            rows.append(row)

    summaries = [r.summary() for r in rows]
    print(report_text(summaries, args.repeats))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "plan-scale.json").write_text(json.dumps({"repeats": args.repeats, "rows": summaries}, indent=2))
    plotted = [s for s in summaries if "plan_s" in s and s["stacks"] == 1]
    if plotted:
        args.plot.parent.mkdir(parents=True, exist_ok=True)
        _plot(plotted, args.plot)
    print(f"\nWrote {args.out / 'plan-scale.json'}" + (f" and {args.plot}" if plotted else ""))
    return 0


def report_text(rows: list[dict[str, Any]], repeats: int) -> str:
    lines = [
        f"Offline plan (`python -m plan`) vs the program run alone; medians of {repeats} run(s), one process each",
        f"{'stack(s)':<30} {'accounts':>8} {'plan s':>7} {'program s':>9} {'ratio':>6} {'range':>11} "
        f"{'plan MB':>7} {'prog MB':>7} {'report MB':>9} {'plan ms/acct':>12}",
    ]
    for r in rows:
        if "plan_s" not in r:
            lines.append(f"{r['label']:<30} {r['accounts']:>8}  {r['note']}")
            continue
        lines.append(
            f"{r['label']:<30} {r['accounts']:>8} {r['plan_s']:>7.1f} {r['program_s']:>9.1f} {r['ratio']:>6.2f} "
            f"{r['ratio_min']:>5.2f}-{r['ratio_max']:<5.2f} {r['plan_peak_mb']:>7.0f} {r['program_peak_mb']:>7.0f} "
            f"{r['report_mb']:>9.2f} {1000 * r['plan_s'] / r['accounts']:>12.1f}"
            + (f"  ({r['note']})" if r["note"] else "")
        )
    lines.append("")
    lines.append(
        f"Targets (issue 10): plan <= {TARGET_RATIO} x program at 1,000 accounts and for the organization, "
        f"plan <= {TARGET_PEAK_MB} MB at 1,000 accounts, cost linear from 40 to 1,000 accounts."
    )
    for r in rows:
        if "plan_s" not in r or (r["accounts"] != 1000 and r["stacks"] == 1):
            continue
        ratio_ok = "met" if r["ratio"] <= TARGET_RATIO else "missed"
        line = f"  {r['label']}: ratio {r['ratio']:.2f} ({ratio_ok})"
        if r["stacks"] == 1:
            line += f", peak {r['plan_peak_mb']:.0f} MB ({'met' if r['plan_peak_mb'] <= TARGET_PEAK_MB else 'missed'})"
        lines.append(line)
    complete = sorted((r for r in rows if "plan_s" in r and r["stacks"] == 1), key=lambda r: r["accounts"])
    if len(complete) >= 2:
        low, high = complete[0], complete[-1]
        growth = (high["plan_s"] / low["plan_s"]) / (high["accounts"] / low["accounts"])
        lines.append(
            f"  plan time from {low['accounts']} to {high['accounts']} accounts grew {growth:.2f} x as fast as the "
            "accounts (1.00 = linear)"
        )
    return "\n".join(lines)


def _plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["accounts"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(sizes, [r["plan_s"] for r in rows], "o-", label="python -m plan")
    left.plot(sizes, [r["program_s"] for r in rows], "s--", label="program run alone")
    left.plot(sizes, [TARGET_RATIO * r["program_s"] for r in rows], ":", color="red", label="target: 2 x program")
    left.set_xlabel("application accounts (one complete stack)")
    left.set_ylabel("wall time, one process (s)")
    left.legend()
    left.grid(alpha=0.3)
    right.plot(sizes, [r["plan_peak_mb"] for r in rows], "o-", label="plan peak RSS")
    right.plot(sizes, [r["program_peak_mb"] for r in rows], "s--", label="program peak RSS")
    right.plot(sizes, [r["report_mb"] for r in rows], "^:", label="report.json (MB)")
    right.axhline(TARGET_PEAK_MB, color="red", linestyle=":", label=f"target {TARGET_PEAK_MB} MB")
    right.set_xlabel("application accounts (one complete stack)")
    right.set_ylabel("MB")
    right.legend()
    right.grid(alpha=0.3)
    fig.suptitle(f"Offline plan vs program run (sizes {', '.join(map(str, sizes))})")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
