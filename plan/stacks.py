"""The project's stack files seen together: which stacks belong together, which holds which account, which stack a
member reads, and which stacks one offline plan runs.

The engine runs one stack at a time and cannot see the others' config; these checks can. They look only at stacks
that belong together: the shared (or complete) stacks of one organization and the member stacks that name one of
them. A stack of another organization, or a half-written file, is none of this plan's business: an invalid file
that is not needed is skipped with a warning instead of blocking the plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from federation.config import Account, AnyConfig, ConfigError, FederationConfig, MemberConfig
from federation.load import load_config
from plan.runner import stack_file_config, stack_name_of

ALL = "all"


@dataclass(frozen=True)
class StackFile:
    """A valid stack file: its validated config and the config map the program receives (read once)."""

    path: Path
    name: str
    config: AnyConfig
    raw: dict[str, str]

    @property
    def shared_name(self) -> str | None:
        """For a member: the stack its StackReference names, by the last segment of org/project/<stack>."""
        if isinstance(self.config, MemberConfig) and self.config.stack.shared_stack:
            return self.config.stack.shared_stack.rsplit("/", 1)[-1]
        return None


@dataclass(frozen=True)
class BrokenStackFile:
    """A stack file that does not load, with its problems; fatal only when the plan needs it."""

    path: Path
    name: str
    problems: list[str]

    def error(self) -> ConfigError:
        # Problems found while reading the YAML already start with file:line:column.
        return ConfigError(
            [p if p.startswith(f"{self.path.name}:") else f"{self.path.name}: {p}" for p in self.problems]
        )


def read_stack_file(path: Path) -> StackFile | BrokenStackFile:
    name = stack_name_of(path)
    try:
        raw = stack_file_config(path)
        return StackFile(path, name, load_config(raw), raw)
    except ConfigError as error:
        return BrokenStackFile(path, name, error.problems)
    except (ValueError, yaml.YAMLError) as error:
        return BrokenStackFile(path, name, [" ".join(str(error).split())])


def read_stack_files(directory: Path) -> tuple[list[StackFile], list[BrokenStackFile]]:
    """Every Pulumi.<stack>.yaml of a directory, valid ones apart from broken ones."""
    valid: list[StackFile] = []
    broken: list[BrokenStackFile] = []
    for path in sorted(directory.glob("Pulumi.*.yaml")):
        stack = read_stack_file(path)
        if isinstance(stack, StackFile):
            valid.append(stack)
        else:
            broken.append(stack)
    return valid, broken


def belonging_with(target: StackFile, stacks: list[StackFile]) -> list[StackFile]:
    """The stacks that belong with target: the federation stacks of its organization and their member stacks."""
    roots = (
        [target]
        if isinstance(target.config, FederationConfig)
        else [s for s in stacks if isinstance(s.config, FederationConfig) and s.name == target.shared_name]
    )
    organizations = {r.config.organization_id for r in roots if isinstance(r.config, FederationConfig)}
    federation = [
        s for s in stacks if isinstance(s.config, FederationConfig) and s.config.organization_id in organizations
    ]
    names = {s.name for s in federation}
    members = [s for s in stacks if s.shared_name is not None and s.shared_name in names]
    group = federation + members
    return group if any(s.name == target.name for s in group) else [*group, target]


def _held_accounts(config: AnyConfig) -> list[tuple[str, Account]]:
    """Each account a stack holds, with the config key that lists it."""
    listed = [(f"accounts[{i}]", account) for i, account in enumerate(config.accounts)]
    if isinstance(config, FederationConfig):
        return [("shared_account", config.shared_account), *listed]
    return listed


def cross_stack_problems(stacks: list[StackFile]) -> list[str]:
    """An account (by id or name) held by two stacks, or a member holding a shared account: one line each."""
    problems: list[str] = []
    holder_of_id: dict[str, str] = {}
    holder_of_name: dict[str, str] = {}
    shared_ids = {s.config.shared_account.id: s.name for s in stacks if isinstance(s.config, FederationConfig)}
    # Shared and complete stacks first: when an account is held twice, the member stack is the one to blame.
    for stack in sorted(stacks, key=lambda s: isinstance(s.config, MemberConfig)):
        for key, account in _held_accounts(stack.config):
            where = f"{stack.path.name}: iam-federation:{key}"
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


def plan_path_problems(shared: StackFile, members: list[StackFile]) -> list[str]:
    """A member building plan doers for a shared stack without the plan path: the outputs they need do not exist."""
    assert isinstance(shared.config, FederationConfig)
    if shared.config.plan_path.enabled:
        return []
    return [
        f"{member.path.name}: iam-federation:plan_path.enabled = True: the shared stack {shared.name!r} has the plan "
        "path off (no plan assumer or state reader to trust); turn it on there first, or off here"
        for member in members
        if isinstance(member.config, MemberConfig) and member.config.plan_path.enabled
    ]


def _find(name: str, valid: list[StackFile], broken: list[BrokenStackFile]) -> StackFile | None:
    """The valid stack of that name, None if there is no such file; a broken one raises its own problems."""
    for stack in valid:
        if stack.name == name:
            return stack
    for bad in broken:
        if bad.name == name:
            raise bad.error()
    return None


def shared_stack_of(member: StackFile, valid: list[StackFile], broken: list[BrokenStackFile]) -> StackFile:
    """The shared or complete stack file a member's StackReference names, in the member's directory."""
    assert isinstance(member.config, MemberConfig) and member.shared_name
    shared = _find(member.shared_name, valid, broken)
    if shared is None or not isinstance(shared.config, FederationConfig):
        raise ConfigError(
            [
                f"{member.path.name}: iam-federation:stack.shared_stack = {member.config.stack.shared_stack!r}: "
                f"no shared or complete stack file Pulumi.{member.shared_name}.yaml in {member.path.parent}"
            ]
        )
    return shared


@dataclass(frozen=True)
class Selection:
    """What one offline plan runs: a shared (or complete) stack first, then member stacks reading its outputs."""

    name: str
    shared: StackFile
    members: list[StackFile]
    warnings: list[str]

    @property
    def stacks(self) -> list[StackFile]:
        return [self.shared, *self.members]

    @property
    def organization(self) -> FederationConfig:
        """The shared stack's config holding every planned account: what the access matrix judges."""
        assert isinstance(self.shared.config, FederationConfig)
        accounts = [a for member in self.members for a in member.config.accounts]
        return self.shared.config.model_copy(update={"accounts": [*self.shared.config.accounts, *accounts]})


def select_stacks(directory: Path, stack: str, shared: str = "shared") -> Selection:
    """The stacks `python -m plan` runs for ``stack``: one stack (a member with the shared stack it reads), or
    ``all``: the shared stack named ``shared`` and every member stack that reads it.

    Raises ConfigError naming the file and key when a stack the plan needs is invalid, or when the stacks that
    belong together hold an account twice.
    """
    valid, broken = read_stack_files(directory)
    wanted = shared if stack == ALL else stack
    target = _find(wanted, valid, broken)
    if target is None:
        raise ConfigError([f"no stack file Pulumi.{wanted}.yaml in {directory}"])
    if stack == ALL:
        if not isinstance(target.config, FederationConfig):
            raise ConfigError([f"{target.path.name}: a member stack; '{ALL}' plans a shared or complete stack"])
        base, members = target, [s for s in valid if s.shared_name == target.name]
    elif isinstance(target.config, MemberConfig):
        base, members = shared_stack_of(target, valid, broken), [target]
    else:
        base, members = target, []
    group = belonging_with(target, valid)
    problems = cross_stack_problems(group) + plan_path_problems(base, members)
    if stack == ALL:
        problems += [
            f"{s.path.name}: iam-federation:organization_id = {s.config.organization_id!r}: a second shared or "
            f"complete stack of this organization; '{ALL}' plans one shared stack and the member stacks reading it"
            for s in group
            if isinstance(s.config, FederationConfig) and s is not base
        ]
    if problems:
        raise ConfigError(problems)
    warnings = [
        f"{bad.path.name}: skipped, its config is invalid ({len(bad.problems)} problem(s), first: {bad.problems[0]})"
        for bad in broken
    ]
    return Selection(stack, base, members, warnings)
