"""The project's stack files seen together: which stacks belong together, which holds which account, which stack a
member reads, and which stacks one offline plan runs.

The engine runs one stack at a time and cannot see the others' config; these checks can. They look only at stacks
that belong together: the shared (or complete) stacks of one organization and the member stacks that name one of
them. A plan of one stack skips, with a warning, an invalid file it does not need. The organization plan
(``all``) is all or nothing: any invalid stack file of the folder fails it (an invalid file's organization cannot
be told, so it may be one of this organization's members), it refuses to guess which organization is meant when
several shared or complete stacks exist, and only a valid stack that clearly belongs to another organization (a
shared stack with another organization_id, or a member naming one) is left out. Every problem names file:line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from federation.config import NAMESPACE, Account, AnyConfig, ConfigError, FederationConfig, MemberConfig, key_path
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
        # Problems found while reading the YAML already start with file:line:column; the others get theirs.
        return ConfigError(
            with_lines(
                self.path.parent,
                [p if p.startswith(f"{self.path.name}:") else f"{self.path.name}: {p}" for p in self.problems],
            )
        )


def _key_marks(node: yaml.Node, path: tuple[int | str, ...]) -> dict[str, tuple[int, int]]:
    """Every key path under a node (as ConfigError problems name keys) with its 1-based line and column."""
    marks = {key_path(path): (node.start_mark.line + 1, node.start_mark.column + 1)} if path else {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                name = key.value if path or ":" in key.value else f"{NAMESPACE}:{key.value}"
                marks |= _key_marks(value, (*path, name))
                # The key's own line for the path (a mapping or list value starts on the next line).
                marks[key_path((*path, name))] = (key.start_mark.line + 1, key.start_mark.column + 1)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            marks |= _key_marks(item, (*path, i))
    return marks


def config_key_marks(path: Path) -> tuple[dict[str, tuple[int, int]], tuple[int, int]]:
    """The key paths of a stack file's config: section with their line and column, and the section's own mark.

    Empty when the file does not parse (its problems then already name line and column, from plan/stack_yaml.py).
    """
    try:
        document = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except (yaml.YAMLError, ValueError):
        return {}, (1, 1)
    if not isinstance(document, yaml.MappingNode):
        return {}, (1, 1)
    for key, value in document.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "config":
            return _key_marks(value, ()), (key.start_mark.line + 1, key.start_mark.column + 1)
    return {}, (1, 1)


_PROBLEM = re.compile(r"(?P<file>Pulumi\.[^:/\\]+\.yaml): (?P<rest>.*)", re.S)
_KEY = re.compile(r"(?P<key>[A-Za-z0-9_.-]+:[^\s=:]+)")


def with_lines(directory: Path, problems: list[str]) -> list[str]:
    """Problems of the form '<file>: <key> ...' as '<file>:<line>:<column>: <key> ...'.

    The line is the key's, or that of its nearest written ancestor when the key is missing (a required key) or
    is named past what was written; the config: line when nothing of it was. Problems that already carry a line
    (YAML syntax, quoting) are kept as they are.
    """
    cache: dict[str, tuple[dict[str, tuple[int, int]], tuple[int, int]]] = {}
    located: list[str] = []
    for problem in problems:
        match = _PROBLEM.fullmatch(problem)
        if not match or not (directory / match["file"]).exists():
            located.append(problem)
            continue
        name, rest = match["file"], match["rest"]
        if name not in cache:
            cache[name] = config_key_marks(directory / name)
        marks, section = cache[name]
        key = _KEY.match(rest)
        line, column = section
        if key:
            written = key["key"]
            while written and written not in marks:
                written = re.sub(r"(\[[^\]]*\]|\.[^.\[]*)$", "", written) if re.search(r"[.\[]", written) else ""
            if written:
                line, column = marks[written]
        located.append(f"{name}:{line}:{column}: {rest}")
    return located


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


def region_problems(shared: StackFile, members: list[StackFile]) -> list[str]:
    """A member in another region than its shared stack: its doers' state would sit in the shared stack's bucket and
    table of that region while its providers and Terragrunt files name another (issue #17 item 6)."""
    return [
        f"{member.path.name}: iam-federation:region = {member.config.region!r}: the shared stack {shared.name!r} it "
        f"reads is in {shared.config.region!r}; a member stack takes its shared stack's region"
        for member in members
        if member.config.region != shared.config.region
    ]


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
    # For 'all': the valid stacks of other organizations in the folder, left out (named in the plan's output).
    foreign: list[StackFile] = field(default_factory=list)

    @property
    def stacks(self) -> list[StackFile]:
        return [self.shared, *self.members]

    @property
    def organization(self) -> FederationConfig:
        """The shared stack's config holding every planned account: what the access matrix judges."""
        assert isinstance(self.shared.config, FederationConfig)
        accounts = [a for member in self.members for a in member.config.accounts]
        return self.shared.config.model_copy(update={"accounts": [*self.shared.config.accounts, *accounts]})


def _organization_id(stack: StackFile) -> str:
    assert isinstance(stack.config, FederationConfig)
    return stack.config.organization_id


def choose_shared(directory: Path, valid: list[StackFile], shared: str | None) -> StackFile:
    """The shared or complete stack an organization plan starts from; never a guess between several."""
    roots = [s for s in valid if isinstance(s.config, FederationConfig)]
    if shared is not None:
        chosen = next((s for s in valid if s.name == shared), None)
        if chosen is None:
            raise ConfigError([f"no stack file Pulumi.{shared}.yaml in {directory}"])
        if not isinstance(chosen.config, FederationConfig):
            raise ConfigError([f"{chosen.path.name}: a member stack; '{ALL}' plans a shared or complete stack"])
        return chosen
    if len(roots) == 1:
        return roots[0]
    if not roots:
        raise ConfigError([f"no shared or complete stack file in {directory}: '{ALL}' plans one and its members"])
    named = ", ".join(f"{s.path.name} (organization {_organization_id(s)})" for s in roots)
    raise ConfigError(
        [
            f"{len(roots)} shared or complete stacks in {directory}: {named}; which organization is meant cannot be "
            f"guessed: pass SHARED=<stack> (make plan STACK={ALL} SHARED={roots[0].name}; python -m plan --stack "
            f"{ALL} --shared <stack>), and move an example organization you do not use out of the folder"
        ]
    )


def select_organization(directory: Path, shared: str | None = None) -> Selection:
    """The organization plan: a shared or complete stack and every member stack reading it, all or nothing.

    Fails (ConfigError, every problem with file:line) on any invalid stack file of the folder, on a member whose
    shared stack is not in the folder (its organization cannot be told), on a second shared stack of the same
    organization, and when several shared stacks exist and ``shared`` does not say which. Valid stacks of another
    organization are left out, in ``foreign``.
    """
    valid, broken = read_stack_files(directory)
    problems = [
        f"{p} (every stack file of the folder must be valid for '{ALL}': an invalid file's organization cannot be told)"
        if i == 0
        else p
        for bad in broken
        for i, p in enumerate(with_lines(directory, bad.error().problems))
    ]
    if problems:
        raise ConfigError(problems)
    roots = {s.name: s for s in valid if isinstance(s.config, FederationConfig)}
    orphans = [s for s in valid if s.shared_name is not None and s.shared_name not in roots]
    problems = [
        f"{s.path.name}: iam-federation:stack.shared_stack = {s.config.stack.shared_stack!r}: names no shared or "
        f"complete stack file of {directory}, so its organization cannot be told; add Pulumi.{s.shared_name}.yaml "
        "or correct the name"
        for s in orphans
    ]
    if problems:
        raise ConfigError(with_lines(directory, problems))
    base = choose_shared(directory, valid, shared)
    ours = {n for n, s in roots.items() if _organization_id(s) == _organization_id(base)}
    members = [s for s in valid if s.shared_name == base.name]
    # Another organization's: its shared or complete stacks, and the members reading one of them.
    foreign = [
        s
        for s in valid
        if (s.name in roots and s.name not in ours) or (s.shared_name in roots and s.shared_name not in ours)
    ]
    group = [base, *[roots[n] for n in sorted(ours) if n != base.name], *members]
    group += [s for s in valid if s.shared_name in ours and s.shared_name != base.name]
    problems += cross_stack_problems(group) + plan_path_problems(base, members) + region_problems(base, members)
    problems += [
        f"{s.path.name}: iam-federation:organization_id = {_organization_id(s)!r}: a second shared or "
        f"complete stack of this organization; '{ALL}' plans one shared stack and the member stacks reading it"
        for s in group
        if isinstance(s.config, FederationConfig) and s is not base
    ]
    if problems:
        raise ConfigError(with_lines(directory, problems))
    return Selection(ALL, base, members, [], foreign)


def select_stacks(directory: Path, stack: str, shared: str | None = None) -> Selection:
    """The stacks `python -m plan` runs for ``stack``: one stack (a member with the shared stack it reads), or
    ``all``: the organization plan (select_organization).

    Raises ConfigError naming the file and key when a stack the plan needs is invalid, or when the stacks that
    belong together hold an account twice.
    """
    if stack == ALL:
        return select_organization(directory, shared)
    valid, broken = read_stack_files(directory)
    target = _find(stack, valid, broken)
    if target is None:
        raise ConfigError([f"no stack file Pulumi.{stack}.yaml in {directory}"])
    if isinstance(target.config, MemberConfig):
        base, members = shared_stack_of(target, valid, broken), [target]
    else:
        base, members = target, []
    group = belonging_with(target, valid)
    problems = cross_stack_problems(group) + plan_path_problems(base, members) + region_problems(base, members)
    if problems:
        raise ConfigError(with_lines(directory, problems))
    warnings = [
        f"{bad.path.name}: skipped, its config is invalid ({len(bad.problems)} problem(s), first: {bad.problems[0]})"
        for bad in broken
    ]
    return Selection(stack, base, members, warnings)
