"""Benchmark: the real program under the mock runtime against a bare baseline, at 10 to 1,000 accounts.

Not a test: it prints one table and writes a PNG plot. Each measurement is its own process (so peak memory is
the run's own), ours and the baseline interleaved, at least REPEATS times each (more for small, short runs); the
table shows medians, and the range of ours/baseline over the side-by-side pairs shows the noise.

    python bench/scale.py [--sizes 10 100 300 1000] [--repeats 5] [--out build/bench]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
KINDS = ["baseline", "baseline+components", "ours"]
TARGET = 1.15  # ours / baseline, wall time, at every size (issue 5)
sys.path.insert(0, str(ROOT))


def example_config(accounts: int) -> dict[str, Any]:
    import yaml

    section = dict(yaml.safe_load((ROOT / "examples" / "Pulumi.shared.yaml").read_text())["config"])
    section["iam-federation:accounts"] = [
        {"name": f"acct-{i:04d}", "id": f"{500000000000 + i:012d}"} for i in range(accounts)
    ]
    section["iam-federation:stack"] = {"max_accounts": accounts + 1}
    return section


def worker(kind: str, accounts: int) -> dict[str, Any]:
    """One run in this process; prints its figures as JSON."""
    from plan import runner

    if kind == "ours":
        config = runner.to_pulumi_config(example_config(accounts))
    else:
        runner.PROGRAM = ROOT / "bench" / "baseline_program.py"
        config = {"bench:accounts": str(accounts), "bench:components": str(kind == "baseline+components").lower()}
    started_wall, started_cpu = time.perf_counter(), time.process_time()
    if kind == "ours":
        # The program's first import (pydantic and the config models), timed apart: a fixed cost of every run.
        import federation.config  # noqa: F401
    pydantic_s = time.perf_counter() - started_wall
    run = runner.run_program(config)
    wall, cpu = time.perf_counter() - started_wall, time.process_time() - started_cpu
    custom = [r for r in run.registrations if r.custom]
    return {
        "kind": kind,
        "accounts": accounts,
        "wall_s": wall,
        "cpu_s": cpu,
        "pydantic_s": pydantic_s if kind == "ours" else 0.0,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "resources": len(custom),
        "providers": sum(1 for r in custom if r.type == "pulumi:providers:aws"),
        "components": sum(1 for r in run.registrations if not r.custom and r.type != "pulumi:pulumi:Stack"),
    }


def measure(kind: str, accounts: int, pycache: Path) -> dict[str, Any]:
    # Installed packages run from the bytecode pip compiled; the project's own modules get a bytecode cache too
    # (outside the tree), or every run of ours would include compiling them.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(pycache)
    out = subprocess.run(
        [sys.executable, __file__, "--worker", kind, "--accounts", str(accounts)],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def policy_sizes(accounts: int) -> dict[str, tuple[int, int]]:
    from federation.config import FederationConfig
    from federation.limits import measure as measure_documents
    from federation.load import load_config
    from plan.runner import to_pulumi_config

    config = load_config(to_pulumi_config(example_config(accounts)))
    assert isinstance(config, FederationConfig)
    return {m.what: (m.size, m.limit) for m in measure_documents(config)}


def _row(size: int, repeats: int, pycache: Path) -> dict[str, Any]:
    samples: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for _ in range(repeats):
        for kind in KINDS:  # interleaved, so drift hits all alike
            samples[kind].append(measure(kind, size, pycache))
    row: dict[str, Any] = {"accounts": size}
    for kind, runs in samples.items():
        for key in ("wall_s", "cpu_s", "peak_mb", "pydantic_s"):
            row[f"{kind}_{key}"] = statistics.median(r[key] for r in runs)
        row[f"{kind}_resources"] = runs[0]["resources"]
        row[f"{kind}_providers"] = runs[0]["providers"]
    row["components"] = samples["ours"][0]["components"]
    row["ratio_wall"] = row["ours_wall_s"] / row["baseline_wall_s"]
    # Each repeat's ours and baseline ran side by side: the spread of their ratios is the noise of the figure.
    paired = [o["wall_s"] / b["wall_s"] for o, b in zip(samples["ours"], samples["baseline"], strict=True)]
    row["ratio_min"], row["ratio_max"] = min(paired), max(paired)
    row["ratio_cpu"] = row["ours_cpu_s"] / row["baseline_cpu_s"]
    row["ratio_without_pydantic"] = (row["ours_wall_s"] - row["ours_pydantic_s"]) / row["baseline_wall_s"]
    row["ratio_wall_components"] = row["ours_wall_s"] / row["baseline+components_wall_s"]
    print(f"  measured {size} accounts", file=sys.stderr)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 300, 1000])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "bench")
    parser.add_argument("--worker", choices=KINDS)
    parser.add_argument("--accounts", type=int)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.accounts)))
        return 0

    pycache = args.out / "pycache"
    for kind in KINDS:  # untimed: fills the bytecode cache and the OS file cache
        measure(kind, min(args.sizes), pycache)
    # Small runs are short and noisy: repeat them until each size has had about as much time.
    repeats = {size: max(args.repeats, 300 // size) for size in args.sizes}
    rows = [_row(size, repeats[size], pycache) for size in args.sizes]

    print(f"Program under the mock runtime vs bare baseline (medians; one process per run; repeats {repeats})")
    header = (
        f"{'accounts':>8} {'resources':>9} {'providers':>9} {'components':>10} {'ours s':>7} {'base s':>7} "
        f"{'ratio':>6} {'range':>11} {'cpu ratio':>9} {'ours MB':>7} {'base MB':>7} "
        f"{'pydantic s':>10} {'ratio w/o it':>12} {'base+comp s':>11} {'ratio to it':>11}"
    )
    print(header)
    for r in rows:
        print(
            f"{r['accounts']:>8} {r['ours_resources']:>9} {r['ours_providers']:>9} {r['components']:>10} "
            f"{r['ours_wall_s']:>7.2f} {r['baseline_wall_s']:>7.2f} {r['ratio_wall']:>6.2f} "
            f"{r['ratio_min']:>5.2f}-{r['ratio_max']:<5.2f} {r['ratio_cpu']:>9.2f} "
            f"{r['ours_peak_mb']:>7.0f} {r['baseline_peak_mb']:>7.0f} "
            f"{r['ours_pydantic_s']:>10.2f} {r['ratio_without_pydantic']:>12.2f} "
            f"{r['baseline+components_wall_s']:>11.2f} {r['ratio_wall_components']:>11.2f}"
        )
        assert r["ours_resources"] == r["baseline_resources"], "the baseline must register as many resources"
    met = [r["accounts"] for r in rows if r["ratio_wall"] <= TARGET]
    missed = [r["accounts"] for r in rows if r["ratio_wall"] > TARGET]
    print(f"Target ours/baseline <= {TARGET}: met at {met or 'no size'}; missed at {missed or 'no size'}")

    small, large = policy_sizes(min(args.sizes)), policy_sizes(max(args.sizes))
    print(
        f"\nLargest document of each kind (characters as AWS counts them), "
        f"at {min(args.sizes)} and {max(args.sizes)} accounts"
    )
    for what, (size, limit) in small.items():
        print(f"  {what:<28} {size:>6} {large[what][0]:>6}   limit {limit:>6}")

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "scale.json").write_text(
        json.dumps({"rows": rows, "documents": {"small": small, "large": large}}, indent=2)
    )
    _plot(rows, args.out / "scale.png")
    print(f"\nWrote {args.out / 'scale.json'} and {args.out / 'scale.png'}")
    return 0


def _plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r["accounts"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    left.plot(sizes, [r["ours_wall_s"] for r in rows], "o-", label="iam-federation")
    left.plot(sizes, [r["baseline_wall_s"] for r in rows], "s--", label="bare baseline")
    left.plot(sizes, [r["baseline+components_wall_s"] for r in rows], "^:", label="baseline + components")
    left.set_xlabel("application accounts")
    left.set_ylabel("wall time of one mock run (s)")
    left.legend()
    left.grid(alpha=0.3)
    right.plot(sizes, [r["ratio_wall"] for r in rows], "o-", label="wall")
    right.plot(sizes, [r["ratio_cpu"] for r in rows], "s--", label="cpu")
    right.plot(sizes, [r["ratio_wall_components"] for r in rows], "^:", label="wall, vs baseline + components")
    right.plot(sizes, [r["ratio_without_pydantic"] for r in rows], "d-.", label="wall, less pydantic's import")
    right.axhline(1.15, color="red", linestyle=":", label="target 1.15")
    right.set_xlabel("application accounts")
    right.set_ylabel("ours / baseline")
    right.legend()
    right.grid(alpha=0.3)
    fig.suptitle("Cost of the program under Pulumi's mock runtime")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    sys.exit(main())
