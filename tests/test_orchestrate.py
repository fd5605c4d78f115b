"""`python -m orchestrate`: stacks in order, parallelism bounded by memory, stop at the first failure, one summary.

The schedule is tested as pure state; the whole command runs against tests/pulumi_stub.py, a stand-in ``pulumi``
put first on PATH that records every call the Automation API makes. No real Pulumi CLI ran (none exists here).
"""

from __future__ import annotations

import json
import re
import sys
import sysconfig
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from orchestrate.__main__ import main
from orchestrate.schedule import (
    ENGINE_MB,
    PROVIDER_MB,
    Job,
    Kind,
    OrderError,
    Schedule,
    StackSpec,
    jobs_in_order,
    per_stack_bound,
)
from tests.conftest import ROOT

ORG = "o-a1b2c3d4e5"


# --- the schedule, as pure state -----------------------------------------------------------------------------


def spec(name: str, kind: Kind = "member", accounts: int = 1, shared: str | None = "shared") -> StackSpec:
    ids = tuple(f"{zlib.crc32(name.encode()) % 10**6:06d}{i:06d}" for i in range(accounts))
    return StackSpec(name, f"Pulumi.{name}.yaml", kind, ids, shared if kind == "member" else None)


def run_to_end(schedule: Schedule, fails: frozenset[str] = frozenset()) -> tuple[list[list[str]], int]:
    """Drive the schedule as the shell does, finishing the earliest started job first; returns the waves started
    and the most jobs running at once."""
    waves: list[list[str]] = []
    running: list[Job] = []
    peak = 0
    while True:
        wave = schedule.startable()
        for job in wave:
            schedule.start(job)
        running += wave
        if wave:
            waves.append([j.name for j in wave])
        peak = max(peak, len(running))
        if not running:
            return waves, peak
        job = running.pop(0)
        schedule.finish(job, job.name not in fails)


def test_shared_and_complete_stacks_come_first_and_members_wait_for_theirs() -> None:
    jobs = jobs_in_order(
        [spec("m-b"), spec("m-a"), spec("shared", "shared"), spec("org2", "complete"), spec("m-c", shared="a/b/org2")]
    )
    assert [(j.name, j.after) for j in jobs] == [
        ("org2", None),
        ("shared", None),
        ("m-a", "shared"),
        ("m-b", "shared"),
        ("m-c", "org2"),
    ]
    waves, _ = run_to_end(Schedule(jobs, budget_mb=10**6))
    assert waves[0] == ["org2", "shared"]
    assert sorted(name for wave in waves[1:] for name in wave) == ["m-a", "m-b", "m-c"]


def test_memory_budget_bounds_the_members_running_at_once() -> None:
    members = [spec(f"m{i}", accounts=40) for i in range(5)]
    jobs = jobs_in_order([spec("shared", "shared"), *members])
    assert jobs[1].estimate_mb == ENGINE_MB + 40 * PROVIDER_MB
    two = 2 * jobs[1].estimate_mb
    waves, peak = run_to_end(Schedule(jobs, budget_mb=two + jobs[1].estimate_mb - 1))
    assert peak == 2 and waves[0] == ["shared"] and waves[1] == ["m0", "m1"]
    assert per_stack_bound(two + jobs[1].estimate_mb - 1, 40) == 2
    assert per_stack_bound(48 * 1024, 40) == 2 and per_stack_bound(12 * 1024, 40) == 1  # docs/orchestrate.md
    _, peak = run_to_end(Schedule(jobs, budget_mb=10**6, max_parallel=3))
    assert peak == 3
    _, peak = run_to_end(Schedule(jobs, budget_mb=10**6))
    assert peak == 5


def test_a_stack_over_the_budget_runs_alone() -> None:
    jobs = jobs_in_order([spec("shared", "shared"), spec("big", accounts=100), spec("small")])
    schedule = Schedule(jobs, budget_mb=jobs[1].estimate_mb - 1)
    assert [j.name for j in schedule.over_budget()] == ["big"]
    waves, peak = run_to_end(schedule)
    assert waves == [["shared"], ["big"], ["small"]] and peak == 1


def test_nothing_starts_after_a_failure_and_members_of_a_failed_shared_stack_never_start() -> None:
    jobs = jobs_in_order([spec("shared", "shared"), *[spec(f"m{i}") for i in range(4)]])
    schedule = Schedule(jobs, budget_mb=10**6, max_parallel=2)
    waves, _ = run_to_end(schedule, fails=frozenset({"m0"}))
    assert waves == [["shared"], ["m0", "m1"]]
    assert schedule.status == {
        "shared": "succeeded",
        "m0": "failed",
        "m1": "succeeded",
        "m2": "pending",
        "m3": "pending",
    }
    schedule = Schedule(jobs, budget_mb=10**6)
    waves, _ = run_to_end(schedule, fails=frozenset({"shared"}))
    assert waves == [["shared"]] and schedule.done()


def test_a_member_must_read_an_existing_shared_stack() -> None:
    with pytest.raises(OrderError) as caught:
        jobs_in_order([spec("m-a", shared="my-org/iam-federation/shared"), spec("m-b", shared="m-a")])
    assert caught.value.problems == [
        "Pulumi.m-a.yaml: iam-federation:stack.shared_stack = 'my-org/iam-federation/shared': no stack file "
        "Pulumi.shared.yaml among the stacks to run",
        "Pulumi.m-b.yaml: iam-federation:stack.shared_stack = 'm-a': stack 'm-a' is a member stack; a member reads "
        "a shared stack",
    ]


# --- the command, against the stub CLI ---------------------------------------------------------------------


def shared_section() -> dict[str, Any]:
    return {
        "iam-federation:stack": {"kind": "shared"},
        "iam-federation:organization_id": ORG,
        "iam-federation:region": "us-east-1",
        "iam-federation:shared_account": {"name": "shared", "id": "111111111111"},
    }


def member_section(index: int, accounts: int = 1, shared: str = "my-org/iam-federation/shared") -> dict[str, Any]:
    ids = [{"name": f"m{index}-a{i}", "id": f"{200000000000 + index * 100 + i:012d}"} for i in range(accounts)]
    return {
        "iam-federation:stack": {"kind": "member", "shared_stack": shared},
        "iam-federation:region": "us-east-1",
        "iam-federation:accounts": ids,
    }


def write_project(directory: Path, stacks: dict[str, dict[str, Any]]) -> Path:
    directory.mkdir()
    (directory / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    for name, section in stacks.items():
        (directory / f"Pulumi.{name}.yaml").write_text(yaml.safe_dump({"config": section}))
    return directory


class Stub:
    """The stub ``pulumi`` on PATH: its script, and the calls it recorded."""

    def __init__(self, directory: Path) -> None:
        self.config_file = directory / "stub-config.json"
        self.log = directory / "calls.jsonl"

    def script(self, **config: Any) -> None:
        self.config_file.write_text(json.dumps(config))

    def calls(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text().splitlines()]

    def operations(self, command: str) -> dict[str, dict[str, Any]]:
        """The recorded ``up``/``preview`` calls by stack."""
        found = {}
        for call in self.calls():
            args = [a for a in call["argv"] if a != "--non-interactive"]
            if args and args[0] == command:
                found[args[args.index("--stack") + 1]] = call
        return found


@pytest.fixture
def stub(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Stub:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    launcher = bin_dir / "pulumi"
    # -S: no site processing (the stub starts dozens of times per test); site-packages only for grpc (preview).
    launcher.write_text(
        f"#!{sys.executable} -S\nimport sys\nsys.path[:0] = [{str(ROOT)!r}]\n"
        f"sys.path.append({sysconfig.get_paths()['purelib']!r})\n"
        "from tests.pulumi_stub import main\nsys.exit(main())\n"
    )
    launcher.chmod(0o755)
    stub = Stub(tmp_path)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setenv("PULUMI_STUB_CONFIG", str(stub.config_file))
    monkeypatch.setenv("PULUMI_STUB_LOG", str(stub.log))
    monkeypatch.delenv("PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK", raising=False)
    return stub


def summary(out: str) -> dict[str, list[str]]:
    """The summary's rows by stack: kind, result, duration, resource changes or error."""
    lines = out[out.index("Summary of pulumi") :].splitlines()[2:]
    rows = [re.split(r"\s{2,}", line.strip()) for line in lines if line.startswith("  ")]
    return {row[0]: row[1:] for row in rows}


def concurrency(out: str) -> int:
    """The most stacks the command had started and not yet seen finish, from its own start/finish lines."""
    running = peak = 0
    for line in out.splitlines():
        if line.startswith("-- start "):
            running += 1
            peak = max(peak, running)
        elif re.match(r"-- (succeeded|failed) ", line):
            running -= 1
    return peak


Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def orchestrate(capsys: pytest.CaptureFixture[str]) -> Run:
    def run(*argv: str) -> tuple[int, str, str]:
        code = main(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def test_up_runs_the_shared_stack_before_the_members_through_the_automation_api(
    tmp_path: Path, stub: Stub, orchestrate: Run
) -> None:
    project = write_project(
        tmp_path / "project", {"shared": shared_section(), **{f"members-{i}": member_section(i) for i in range(3)}}
    )
    stub.script(stacks=["shared", "members-0", "members-1", "members-2"], changes={"shared": {"create": 7}})
    code, out, _ = orchestrate("up", "--all", "--stacks-dir", str(project), "--memory-budget-gb", "64")
    assert code == 0, out
    ups = stub.operations("up")
    assert sorted(ups) == ["members-0", "members-1", "members-2", "shared"]
    assert all(ups[m]["start"] >= ups["shared"]["end"] for m in ups if m != "shared")
    for call in stub.calls():
        if call["argv"] != ["version"]:  # the version check runs where the command was started
            assert call["cwd"] == str(project)
            assert call["argv"][0] == "--non-interactive" and call["env"]["PULUMI_AUTOMATION_API"] == "true"
    selects = [c["argv"][1:] for c in stub.calls() if c["argv"][1:3] == ["stack", "select"]]
    assert sorted(selects) == [["stack", "select", "--stack", s] for s in sorted(ups)]
    assert ups["shared"]["argv"][1:] == [
        "up",
        "--yes",
        "--skip-preview",
        "--exec-kind",
        "auto.local",
        "--stack",
        "shared",
    ]
    assert sum(c["argv"] == ["version"] for c in stub.calls()) == 1  # one PulumiCommand shared by every workspace
    rows = summary(out)
    assert rows["shared"][:2] == ["shared", "succeeded"] and rows["shared"][3] == "create 7"
    assert rows["members-1"][:2] == ["member", "succeeded"] and rows["members-1"][3] == "create 1"
    assert re.fullmatch(r"\d+\.\d s", rows["members-1"][2])
    assert out.rstrip().endswith("OK: all 4 stacks succeeded")


def test_the_memory_budget_bounds_how_many_stacks_run_at_once(tmp_path: Path, stub: Stub, orchestrate: Run) -> None:
    members = {f"members-{i}": member_section(i, accounts=2) for i in range(4)}
    project = write_project(tmp_path / "project", {"shared": shared_section(), **members})
    member_mb = ENGINE_MB + 2 * PROVIDER_MB
    budget_gb = (2 * member_mb + member_mb // 2) / 1024  # room for two members, not three
    # The first two members wait until two run at once (or 5 s): their overlap is certain if the command runs them
    # in parallel; every operation lingers long enough for a third one, if started, to be seen.
    stub.script(stacks=["shared", *members], hold={"members-0": 2, "members-1": 2}, hold_timeout=5, linger=0.2)
    code, out, _ = orchestrate("up", "--all", "--stacks-dir", str(project), "--memory-budget-gb", f"{budget_gb:.4f}")
    assert code == 0, out
    ups = stub.operations("up")
    assert ups["shared"]["peak"] == 1
    assert max(ups[m]["peak"] for m in members) == 2
    assert concurrency(out) == 2
    assert "Member stacks of 2 accounts: up to 2 at once." in out


def test_stops_at_the_first_failure_and_lets_the_running_stack_finish(
    tmp_path: Path, stub: Stub, orchestrate: Run
) -> None:
    members = {f"members-{i}": member_section(i) for i in range(4)}
    project = write_project(tmp_path / "project", {"shared": shared_section(), **members})
    stub.script(
        stacks=["shared", *members],
        fail={"members-0": "creating IAM Role (infrastructure-doer-role): AccessDenied"},
        delay={"members-1": 0.6},  # still running when members-0 fails
    )
    code, out, _ = orchestrate("up", "--all", "--stacks-dir", str(project), "--parallel", "2")
    assert code == 1
    assert sorted(stub.operations("up")) == ["members-0", "members-1", "shared"]
    rows = summary(out)
    assert rows["members-0"][1] == "FAILED"
    assert rows["members-0"][3] == "error: creating IAM Role (infrastructure-doer-role): AccessDenied"
    assert rows["members-1"][1] == "succeeded"
    assert rows["members-2"] == ["member", "not started", "-", "-"]
    assert rows["members-3"] == ["member", "not started", "-", "-"]
    assert out.rstrip().endswith("FAILED: members-0; not started: members-2, members-3")


def test_a_member_whose_shared_stack_file_is_missing_runs_nothing(tmp_path: Path, stub: Stub, orchestrate: Run) -> None:
    project = write_project(tmp_path / "project", {"members-0": member_section(0, shared="my-org/iam-federation/hub")})
    stub.script(stacks=["members-0", "hub"])
    code, _, err = orchestrate("up", "--all", "--stacks-dir", str(project))
    assert code == 2
    assert (
        "Pulumi.members-0.yaml:8:5: iam-federation:stack.shared_stack = 'my-org/iam-federation/hub': names no "
        "shared or complete stack file of" in err
    )
    assert stub.calls() == []


def test_a_shared_stack_missing_from_the_backend_fails_and_no_member_starts(
    tmp_path: Path, stub: Stub, orchestrate: Run
) -> None:
    project = write_project(tmp_path / "project", {"shared": shared_section(), "members-0": member_section(0)})
    stub.script(stacks=["members-0"])
    code, out, _ = orchestrate("up", "--all", "--stacks-dir", str(project))
    assert code == 1
    rows = summary(out)
    assert rows["shared"][1:] == ["FAILED", rows["shared"][2], "error: no stack named 'shared' found"]
    assert rows["members-0"][1] == "not started"
    assert stub.operations("up") == {}


def test_preview_reads_resource_changes_from_the_event_stream(tmp_path: Path, stub: Stub, orchestrate: Run) -> None:
    project = write_project(tmp_path / "project", {"shared": shared_section(), "members-0": member_section(0)})
    stub.script(stacks=["shared", "members-0"], changes={"members-0": {"create": 2, "update": 1, "same": 0}})
    code, out, _ = orchestrate("preview", "--all", "--stacks-dir", str(project), "--quiet")
    assert code == 0, out
    previews = stub.operations("preview")
    assert sorted(previews) == ["members-0", "shared"]
    event_log = previews["members-0"]["argv"][previews["members-0"]["argv"].index("--event-log") + 1]
    assert event_log.startswith("tcp://127.0.0.1:")  # the API's gRPC event server, as with CLIs after 3.205
    assert summary(out)["members-0"][3] == "create 2, update 1"
    assert "[members-0]" not in out  # --quiet: no CLI output echoed
    assert stub.operations("up") == {}


def test_an_account_in_two_stacks_is_refused_before_anything_runs(tmp_path: Path, stub: Stub, orchestrate: Run) -> None:
    project = write_project(
        tmp_path / "project",
        {"shared": shared_section(), "members-0": member_section(0), "members-1": member_section(0)},
    )
    stub.script(stacks=["shared", "members-0", "members-1"])
    code, _, err = orchestrate("up", "--all", "--stacks-dir", str(project))
    assert code == 2
    assert (
        "Pulumi.members-1.yaml:3:5: iam-federation:accounts[0].id = '200000000000': already held by stack 'members-0'"
        in err
    )
    assert stub.calls() == []


def test_no_pulumi_on_path_is_one_clear_error(
    tmp_path: Path, orchestrate: Run, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = write_project(tmp_path / "project", {"shared": shared_section()})
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    code, out, err = orchestrate("preview", "--all", "--stacks-dir", str(project))
    assert code == 2
    assert err.strip() == "error: no `pulumi` executable on PATH (install the Pulumi CLI)"
    assert "Summary" not in out
