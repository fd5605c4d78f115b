"""A stand-in for the ``pulumi`` CLI, for the orchestrator's tests: no Pulumi CLI exists on these machines.

It answers the commands the Automation API (pulumi 3.272, pulumi/automation/_cmd.py, _local_workspace.py,
_stack.py) runs for ``select_stack``, ``Stack.up`` and ``Stack.preview``, in the shapes the API parses:

- ``pulumi version``: ``v3.272.0`` (above 3.205, so ``preview`` streams its events over gRPC, as today's CLI does);
- ``stack select --stack S``: nothing, or ``error: no stack named 'S' found`` and exit 255 (the text the API
  turns into StackNotFoundError);
- ``up --yes --skip-preview ... --stack S``: progress text, then exit 0, or ``error: ...`` on stderr and exit 255;
- ``stack output --json [--show-secrets] --stack S``: ``{}``;
- ``stack history --json ... --stack S``: the last update's summary with its ``resourceChanges``;
- ``preview ... --event-log tcp://host:port --stack S``: a summary event streamed to the API's gRPC Events server
  (or, given a file path, written to it as one JSON line per event, as CLIs up to 3.205 did).

It reads its script from the JSON file named by ``PULUMI_STUB_CONFIG`` (stacks that exist, stacks that fail,
resource changes, how many operations must run at once before one proceeds, extra seconds per stack) and
appends one JSON line per call (argv, cwd, the Automation API's environment variables, start and end times, how
many operations ran at once) to ``PULUMI_STUB_LOG``.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

VERSION = "v3.272.0"
ENV_OF_INTEREST = ("PULUMI_AUTOMATION_API", "PULUMI_DEBUG_COMMANDS", "PULUMI_SKIP_UPDATE_CHECK", "PULUMI_HOME")


def _record(entry: dict[str, Any]) -> None:
    with open(os.environ["PULUMI_STUB_LOG"], "a", encoding="utf-8") as log:
        fcntl.flock(log, fcntl.LOCK_EX)
        log.write(json.dumps(entry) + "\n")


def _option(args: list[str], name: str) -> str | None:
    return args[args.index(name) + 1] if name in args else None


def _words(args: list[str]) -> list[str]:
    """The subcommand words, before the first flag."""
    words = []
    for arg in args:
        if arg.startswith("-"):
            break
        words.append(arg)
    return words


def _hold(config: dict[str, Any], stack: str, running_dir: Path) -> int:
    """Mark this operation running; wait until ``hold[stack]`` operations run at once (or the timeout), and at
    least ``linger`` seconds; return the most seen at once. The wait makes overlap certain when the caller runs
    operations in parallel."""
    running_dir.mkdir(parents=True, exist_ok=True)
    mine = running_dir / str(os.getpid())
    mine.touch()
    want = int(config.get("hold", {}).get(stack, 1))
    deadline = time.monotonic() + float(config.get("hold_timeout", 5))
    linger = time.monotonic() + float(config.get("linger", 0))
    peak = 0
    while True:
        peak = max(peak, len(list(running_dir.iterdir())))
        if (peak >= want or time.monotonic() > deadline) and time.monotonic() > linger:
            return peak
        time.sleep(0.02)


def _send_events(target: str, events: list[dict[str, Any]]) -> None:
    if target.startswith("tcp://"):
        import grpc
        from pulumi.runtime.proto import events_pb2, events_pb2_grpc

        with grpc.insecure_channel(target.removeprefix("tcp://")) as channel:
            stub = events_pb2_grpc.EventsStub(channel)
            stub.StreamEvents(iter([events_pb2.EventRequest(event=json.dumps(e)) for e in events]))
    else:
        with open(target, "a", encoding="utf-8") as log:
            log.writelines(json.dumps(e) + "\n" for e in events)


def main() -> int:
    started = time.time()
    argv = sys.argv[1:]
    config: dict[str, Any] = json.loads(Path(os.environ["PULUMI_STUB_CONFIG"]).read_text())
    state_dir = Path(os.environ["PULUMI_STUB_LOG"]).parent / "stub-state"
    args = [a for a in argv if a != "--non-interactive"]
    words = _words(args)
    stack = _option(args, "--stack")
    entry: dict[str, Any] = {
        "argv": argv,
        "cwd": os.getcwd(),
        "env": {k: os.environ.get(k) for k in ENV_OF_INTEREST},
        "start": started,
    }
    code = 0
    try:
        if words == ["version"]:
            print(VERSION)
        elif words == ["stack", "select"]:
            if stack not in config["stacks"]:
                print(f"error: no stack named '{stack}' found", file=sys.stderr)
                code = 255
        elif words == ["stack", "output"]:
            print("{}")
        elif words == ["stack", "history"]:
            last = state_dir / f"{stack}.json"
            print(json.dumps([json.loads(last.read_text())] if last.exists() else []))
        elif words in (["up"], ["preview"]):
            code = _operation(words[0], str(stack), args, config, state_dir, entry)
        else:
            print(f"error: the stub does not know `pulumi {' '.join(argv)}`", file=sys.stderr)
            code = 1
    finally:
        entry["end"] = time.time()
        entry["code"] = code
        _record(entry)
    return code


def _operation(
    command: str, stack: str, args: list[str], config: dict[str, Any], state_dir: Path, entry: dict[str, Any]
) -> int:
    changes: dict[str, int] = config.get("changes", {}).get(stack, {"create": 1})
    print(f"{'Updating' if command == 'up' else 'Previewing update'} ({stack})")
    entry["peak"] = _hold(config, stack, state_dir / "running")
    try:
        time.sleep(float(config.get("delay", {}).get(stack, 0)))
        failure = config.get("fail", {}).get(stack)
        if failure:
            print(f"error: {failure}", file=sys.stderr)
            return 255
        print("Resources:")
        for op, n in changes.items():
            print(f"    {n} to {op}" if command == "preview" else f"    + {n} {op}d")
        summary = {"maybeCorrupt": False, "durationSeconds": 1, "resourceChanges": changes, "PolicyPacks": {}}
        if command == "preview":
            log = _option(args, "--event-log")
            if log:
                now = int(time.time())
                events = [
                    {"sequence": 0, "timestamp": now, "preludeEvent": {"config": {}}},
                    {"sequence": 1, "timestamp": now, "summaryEvent": summary},
                    {"sequence": 2, "timestamp": now, "cancelEvent": {}},
                ]
                _send_events(log, events)
        else:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
            history = {
                "kind": "update",
                "startTime": stamp,
                "endTime": stamp,
                "message": "",
                "environment": {},
                "config": {},
                "result": "succeeded",
                "version": 1,
                "resourceChanges": changes,
            }
            (state_dir / f"{stack}.json").write_text(json.dumps(history))
        return 0
    finally:
        (state_dir / "running" / str(os.getpid())).unlink()


if __name__ == "__main__":
    sys.exit(main())
