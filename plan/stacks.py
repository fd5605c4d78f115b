"""The project's stack files seen together: which stack holds which account, and which stack a member reads.

The engine runs one stack at a time and cannot see the others' config; these checks can, so the offline plan
refuses an account listed in two stacks, or the shared account listed in a member stack.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from federation.config import AnyConfig, ConfigError, FederationConfig, MemberConfig
from federation.load import load_config
from plan.runner import stack_file_config, stack_name_of


@dataclass(frozen=True)
class StackFile:
    path: Path
    name: str
    config: AnyConfig


def load_stack_file(path: Path) -> StackFile:
    return StackFile(path, stack_name_of(path), load_config(stack_file_config(path)))


def project_stacks(directory: Path) -> list[StackFile]:
    """Every Pulumi.<stack>.yaml beside Pulumi.yaml, validated; a bad one fails naming its file."""
    stacks = []
    for path in sorted(directory.glob("Pulumi.*.yaml")):
        try:
            stacks.append(load_stack_file(path))
        except ConfigError as error:
            # Problems found while reading the YAML already start with file:line:column.
            raise ConfigError(
                [p if p.startswith(f"{path.name}:") else f"{path.name}: {p}" for p in error.problems]
            ) from None
    return stacks


def cross_stack_problems(stacks: list[StackFile]) -> list[str]:
    problems: list[str] = []
    holder_of_id: dict[str, str] = {}
    holder_of_name: dict[str, str] = {}
    shared_ids = {s.config.shared_account.id: s.name for s in stacks if isinstance(s.config, FederationConfig)}
    # Shared and complete stacks first: when an account is held twice, the member stack is the one to blame.
    for stack in sorted(stacks, key=lambda s: isinstance(s.config, MemberConfig)):
        for i, account in enumerate(stack.config.all_accounts):
            where = f"{stack.path.name}: iam-federation:accounts[{i}]"
            if isinstance(stack.config, MemberConfig) and account.id in shared_ids:
                problems.append(
                    f"{where}.id = {account.id!r}: is the shared account of stack {shared_ids[account.id]!r}; "
                    "a member stack holds application accounts only"
                )
            if account.id in holder_of_id and holder_of_id[account.id] != stack.name:
                problems.append(f"{where}.id = {account.id!r}: already held by stack {holder_of_id[account.id]!r}")
            if account.name in holder_of_name and holder_of_name[account.name] != stack.name:
                problems.append(
                    f"{where}.name = {account.name!r}: already used by stack {holder_of_name[account.name]!r}"
                )
            holder_of_id.setdefault(account.id, stack.name)
            holder_of_name.setdefault(account.name, stack.name)
    return problems


def shared_stack_of(member: StackFile, stacks: list[StackFile]) -> StackFile:
    """The stack file a member's StackReference names: by its last segment (org/project/<stack>)."""
    assert isinstance(member.config, MemberConfig) and member.config.stack.shared_stack
    wanted = member.config.stack.shared_stack.rsplit("/", 1)[-1]
    for stack in stacks:
        if stack.name == wanted and isinstance(stack.config, FederationConfig):
            return stack
    raise ConfigError(
        [
            f"{member.path.name}: iam-federation:stack.shared_stack = {member.config.stack.shared_stack!r}: "
            f"no shared or complete stack file Pulumi.{wanted}.yaml in {member.path.parent}"
        ]
    )
