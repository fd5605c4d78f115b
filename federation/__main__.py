"""`python -m federation doctor --stack <name>`: check, read-only, that your credentials reach every step of the chain.

Reads the stack's config the way the offline plan does (a member stack's shared stack file beside it), walks the
chain from the credentials botocore finds and prints one line per check. Exit code: 0 when every check passes, 1
when one fails, 2 when the stack file cannot be read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from federation.config import ConfigError, MemberConfig
from federation.doctor import Target, exit_code, render, run_checks, target_of
from federation.doctor_aws import Boto3Aws
from plan.runner import stack_name_of
from plan.stacks import select_stacks


def load_target(path: Path, plan_path: bool = False) -> Target:
    """The chain a stack file describes; a member stack reads its shared stack's file, as `make plan` does."""
    selection = select_stacks(path.parent, stack_name_of(path))
    shared = selection.shared
    assert not isinstance(shared.config, MemberConfig)  # a selection's base is a shared or complete stack
    if not selection.members:
        return target_of(shared.name, shared.config, plan_path=plan_path)
    member = selection.members[-1]
    return target_of(member.name, member.config, shared.config, shared.name, plan_path=plan_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m federation")
    commands = parser.add_subparsers(dest="command", required=True)
    doctor = commands.add_parser(
        "doctor", help="check the credential chain of a stack (read-only)", description=__doc__
    )
    doctor.add_argument("--stack", help="stack name: reads Pulumi.<stack>.yaml in the current directory")
    doctor.add_argument("--stack-file", type=Path, help="the stack file to read instead (its name gives the stack)")
    doctor.add_argument("--profile", help="AWS profile to start from (default: AWS_PROFILE, then the default chain)")
    doctor.add_argument(
        "--plan-path",
        action="store_true",
        help="check the read-only chain: plan assumer, plan doers, state reader (iam-federation:plan_path)",
    )
    args = parser.parse_args(argv)

    if args.stack is None and args.stack_file is None:
        doctor.error("give --stack <name> or --stack-file <path>")
    path: Path = args.stack_file or Path(f"Pulumi.{args.stack}.yaml")
    if args.stack is not None and path.name != f"Pulumi.{args.stack}.yaml":
        doctor.error(f"--stack {args.stack} and --stack-file {path} name different stacks")
    if not path.exists():
        print(
            f"error: stack file {path} not found (run from the project directory, or pass --stack-file)",
            file=sys.stderr,
        )
        return 2
    try:
        target = load_target(path, plan_path=args.plan_path)
    except ConfigError as error:  # each problem already names its stack file
        print(f"error: {error}", file=sys.stderr)
        return 2
    except (ValueError, yaml.YAMLError) as error:
        print(f"error: {path}: {error}", file=sys.stderr)
        return 2

    chain = " (plan path)" if args.plan_path else ""
    print(
        f"doctor of stack '{target.stack}'{chain} ({path}): region {target.region}, {len(target.accounts)} account(s)"
    )
    checks = run_checks(target, Boto3Aws(args.profile, target.region))
    print(render(checks))
    return exit_code(checks)


if __name__ == "__main__":
    sys.exit(main())
