"""`python -m federation.organization write`: the shared and member stack files of an organization, from the output
of ``aws organizations list-accounts`` saved as JSON (and optionally ``list-accounts-for-parent`` per OU).

What the command owns, and so what it may change:
- a stack file it creates (the shared stack if missing, each new member stack): written once, then the user's;
- the ``iam-federation:accounts`` list of the member stacks that read the shared stack: new accounts are appended
  after its last entry. Nothing else in an existing file is rewritten: comments, key order and every other key stay
  as the user wrote them, and the edit is checked to change exactly those entries before the file is replaced.

Placement is stable: an account already held by a stack stays there with the name it has (moving or renaming one
replaces its doer), new accounts fill the member stacks of their group in order up to each stack's
``stack.max_accounts``, then new stacks are created. Accounts that are not ACTIVE, the shared account and the
management account get no place, and the output says so. Pure functions below, the file writes in ``write``.
"""

from __future__ import annotations

import argparse
import difflib
import functools
import json
import os
import re
import shutil
import sys
import tempfile
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from federation.config import (
    DEFAULT_MAX_ACCOUNTS_PER_STACK,
    MANAGEMENT_PROVIDER_ACCOUNT_NAME,
    NAMESPACE,
    Account,
    ConfigError,
    FederationConfig,
    MemberConfig,
)
from plan.stack_yaml import go_yaml_reading
from plan.stacks import ALL, StackFile, read_stack_files, select_stacks

# Where the JSON's shape comes from: botocore's model of the Organizations API, shape Account (the members of
# ListAccountsResponse.Accounts and ListAccountsForParentResponse.Accounts). `Status` is retired on 2026-09-09 in
# favour of `State` (the model's documentation of ListAccountsResponse): read State, else Status.
MODEL_SOURCE = "botocore data/organizations/2016-11-28/service-2.json"
# Only an ACTIVE account can be reached to create its doer (AccountState: PENDING_ACTIVATION, ACTIVE, SUSPENDED,
# PENDING_CLOSURE, CLOSED; AccountStatus: ACTIVE, SUSPENDED, PENDING_CLOSURE).
USABLE_STATE = "ACTIVE"
# Organizations preconfigures OrganizationAccountAccessRole only in accounts it creates (the model's CreateAccount
# documentation, RoleName; AWS Organizations User Guide, orgs_manage_accounts_access.html): an invited account needs
# it made first.
INVITED = "INVITED"
# Pulumi's DIY backends (S3, local) qualify stacks as organization/<project>/<stack>, with the literal organization
# "organization" (Pulumi docs, automation.fullyQualifiedStackName); Pulumi Cloud uses your organization's name.
DIY_ORGANIZATION = "organization"
ACCOUNTS_KEYS = (f"{NAMESPACE}:accounts", "accounts")
_GROUP_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}$")
_STACK_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


@functools.cache
def _shapes() -> dict[str, Any]:
    import botocore.loaders

    model = botocore.loaders.create_loader().load_service_model("organizations", "service-2", "2016-11-28")
    shapes: dict[str, Any] = model["shapes"]
    return shapes


def _enum(shape: str) -> list[str]:
    return list(_shapes()[shape]["enum"])


def _pattern(shape: str) -> re.Pattern[str]:
    return re.compile(_shapes()[shape]["pattern"])


@dataclass(frozen=True)
class OrgAccount:
    """One entry of list-accounts: what the stacks need of it."""

    id: str
    name: str
    state: str
    joined_method: str | None
    organization_id: str
    management_id: str


def _problem(where: str, key: str, value: Any, why: str) -> str:
    return f"{where}: {key} = {value!r}: {why}"


def _entries(data: Any, where: str) -> list[Mapping[str, Any]]:
    if not isinstance(data, Mapping) or "Accounts" not in data:
        raise ConfigError([f"{where}: not the output of `aws organizations list-accounts` (no Accounts key)"])
    if data.get("NextToken"):
        raise ConfigError(
            [
                f"{where}: NextToken: one page of several; save the whole output (the AWS CLI pages through all of "
                "them unless --max-items or --no-paginate is given)"
            ]
        )
    accounts = data["Accounts"]
    if not isinstance(accounts, list):
        raise ConfigError([f"{where}: Accounts: must be a list ({MODEL_SOURCE}, ListAccountsResponse)"])
    problems = [f"{where}: Accounts[{i}]: must be an object" for i, a in enumerate(accounts) if not isinstance(a, dict)]
    if problems:
        raise ConfigError(problems)
    return accounts


def parse_accounts(data: Any, where: str) -> list[OrgAccount]:
    """The accounts of a list-accounts (or list-accounts-for-parent) output; ConfigError naming file and key."""
    entries = _entries(data, where)
    problems: list[str] = []
    result: list[OrgAccount] = []
    id_pattern, arn_pattern = _pattern("AccountId"), _pattern("AccountArn")
    states, statuses, methods = _enum("AccountState"), _enum("AccountStatus"), _enum("AccountJoinedMethod")
    seen: dict[str, int] = {}
    for i, entry in enumerate(entries):
        key = f"Accounts[{i}]"
        before = len(problems)
        account_id, arn, name = entry.get("Id"), entry.get("Arn"), entry.get("Name")
        if not isinstance(account_id, str) or not id_pattern.fullmatch(account_id):
            problems.append(_problem(where, f"{key}.Id", account_id, f"must be 12 digits ({MODEL_SOURCE}, AccountId)"))
        elif account_id in seen:
            problems.append(_problem(where, f"{key}.Id", account_id, f"listed twice (Accounts[{seen[account_id]}])"))
        else:
            seen[account_id] = i
        id_ok = isinstance(account_id, str) and id_pattern.fullmatch(account_id)
        if not isinstance(arn, str) or not arn_pattern.match(arn) or (id_ok and arn.rsplit("/", 1)[-1] != account_id):
            problems.append(
                _problem(
                    where,
                    f"{key}.Arn",
                    arn,
                    f"must be arn:aws:organizations::<management id>:account/o-<id>/<Id> ({MODEL_SOURCE}, AccountArn)",
                )
            )
        if not isinstance(name, str) or not name:
            problems.append(_problem(where, f"{key}.Name", name, "must be the account's name (text)"))
        state = entry.get("State")
        if state is not None and state not in states:
            problems.append(_problem(where, f"{key}.State", state, f"must be one of {', '.join(states)}"))
        status = entry.get("Status")
        if status is not None and status not in statuses:
            problems.append(_problem(where, f"{key}.Status", status, f"must be one of {', '.join(statuses)}"))
        if state is None and status is None:
            problems.append(f"{where}: {key}: neither State nor Status: cannot tell whether the account is active")
        method = entry.get("JoinedMethod")
        if method is not None and method not in methods:
            problems.append(_problem(where, f"{key}.JoinedMethod", method, f"must be one of {', '.join(methods)}"))
        if len(problems) > before:
            continue
        assert isinstance(account_id, str) and isinstance(arn, str) and isinstance(name, str)
        management_id, organization_id = arn.split(":")[4], arn.split("/")[1]
        result.append(OrgAccount(account_id, name, str(state or status), method, organization_id, management_id))
    if problems:
        raise ConfigError(problems)
    organizations = {(a.organization_id, a.management_id) for a in result}
    if len(organizations) > 1:
        raise ConfigError(
            [f"{where}: Accounts[].Arn: name several organizations ({', '.join(sorted(o for o, _ in organizations))})"]
        )
    return result


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: not found"]) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ConfigError([f"{path}: not JSON ({error})"]) from None


# --- names ---------------------------------------------------------------------------------------------------------


def valid_name(name: str) -> bool:
    """Whether the config's account-name rule (federation/config.py AccountName) accepts ``name``."""
    try:
        Account.model_validate({"name": name, "id": "000000000000"})
    except ValidationError:
        return False
    return True


def slug(text: str) -> str:
    """Lower-case letters, digits and single dashes: the AWS name as the config's name rule allows it."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def derive_name(aws_name: str, account_id: str, taken: set[str]) -> str:
    """A stack name for an account: its AWS name made valid for the config's rule, then made unique with the end
    of its id (a name is the stable key of the account's resources, so no two accounts may share one)."""
    base = slug(aws_name)
    if base and not base[0].isalpha():
        base = f"account-{base}"
    base = base[:32].rstrip("-")
    candidates = [
        base,
        f"{base[:27].rstrip('-')}-{account_id[-4:]}",
        f"{base[:19].rstrip('-')}-{account_id}",
        f"account-{account_id}",
    ]
    # The guard's provider is aws-management beside every account's aws-<name> (config.py refuses that name then).
    taken = taken | {MANAGEMENT_PROVIDER_ACCOUNT_NAME}
    for candidate in candidates:
        if valid_name(candidate) and candidate not in taken:
            return candidate
    n = 2
    while f"account-{account_id}-{n}" in taken:
        n += 1
    return f"account-{account_id}-{n}"


# --- placement (pure) ----------------------------------------------------------------------------------------------


def suffix(n: int) -> str:
    """The n-th member stack's suffix: a, b, ..., z, aa, ab, ..."""
    text = ""
    n += 1
    while n:
        n, rest = divmod(n - 1, 26)
        text = chr(ord("a") + rest) + text
    return text


def suffix_index(text: str) -> int:
    n = 0
    for char in text:
        n = n * 26 + (ord(char) - ord("a") + 1)
    return n - 1


@dataclass(frozen=True)
class MemberSlot:
    """A member stack the command may append to: its name, how many accounts it holds and may hold."""

    name: str
    held: int
    max_accounts: int


def stack_name(prefix: str, group: str | None, n: int) -> str:
    return f"{prefix}{group + '-' if group else ''}{suffix(n)}"


def slot_pattern(prefix: str, group: str | None) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(prefix)}{re.escape(group + '-') if group else ''}([a-z]+)$")


@dataclass
class Placement:
    """Where each new account goes: appended to existing member stacks, or in new ones (stack name -> accounts)."""

    appended: dict[str, list[Account]] = field(default_factory=dict)
    created: dict[str, list[Account]] = field(default_factory=dict)


def place(
    new: Sequence[tuple[str | None, Account]],
    slots: Sequence[MemberSlot],
    existing_names: set[str],
    prefix: str,
    max_accounts: int,
) -> Placement:
    """Put new accounts (each with its group, None for no OU) into member stacks: the group's stacks in suffix order,
    each up to its max_accounts, then new stacks named after the first unused suffixes. Accounts already held are not
    in ``new``: nothing held ever moves."""
    placement = Placement()
    groups = sorted({group for group, _ in new}, key=lambda g: (g is not None, g or ""))
    for group in groups:
        pattern = slot_pattern(prefix, group)
        mine = sorted(
            (s for s in slots if pattern.fullmatch(s.name)),
            key=lambda s: suffix_index(pattern.fullmatch(s.name).group(1)),  # type: ignore[union-attr]
        )
        queue = [account for g, account in new if g == group]
        for slot in mine:
            room = slot.max_accounts - slot.held
            if room > 0 and queue:
                placement.appended[slot.name], queue = queue[:room], queue[room:]
        n = 0
        while queue:
            name = stack_name(prefix, group, n)
            n += 1
            if name in existing_names or name in placement.created:
                continue
            placement.created[name], queue = queue[:max_accounts], queue[max_accounts:]
    return placement


# --- editing a member stack's accounts list (pure) ------------------------------------------------------------------


def _scalar(text: str) -> str:
    """A name as a plain YAML scalar when every reader takes it as that text, else double-quoted."""
    if yaml.safe_load(text) == text and go_yaml_reading(text) == ("str", text):
        return text
    return json.dumps(text)


def _content_end(node: yaml.Node) -> yaml.Mark:
    # A block collection's end mark is where the next token starts (after any comments that follow): the last
    # scalar (or flow collection) inside it ends where its content does.
    if isinstance(node, yaml.ScalarNode) or getattr(node, "flow_style", False):
        end: yaml.Mark = node.end_mark
        return end
    if isinstance(node, yaml.MappingNode):
        return _content_end(node.value[-1][1])
    assert isinstance(node, yaml.SequenceNode)
    return _content_end(node.value[-1])


def _accounts_node(text: str, name: str) -> tuple[yaml.Node, yaml.Node]:
    try:
        document = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        raise ConfigError([f"{name}: YAML syntax error ({' '.join(str(error).split())})"]) from None
    section = None
    if isinstance(document, yaml.MappingNode):
        section = next((v for k, v in document.value if isinstance(k, yaml.ScalarNode) and k.value == "config"), None)
    if not isinstance(section, yaml.MappingNode):
        raise ConfigError([f"{name}: config: no mapping of keys to values"])
    found = [(k, v) for k, v in section.value if isinstance(k, yaml.ScalarNode) and k.value in ACCOUNTS_KEYS]
    if len(found) != 1:
        raise ConfigError([f"{name}: {NAMESPACE}:accounts: not found under config:, so no list to append to"])
    return found[0]


def append_accounts(text: str, accounts: Sequence[Account], name: str) -> str:
    """``text`` with ``accounts`` added after the last entry of its accounts list, in the style of its first entry.

    Only block lists of mappings (``- name: x``) and block maps (``x: {id: ...}``) are edited; any other form is
    refused with file:line, so the user adds the entries by hand.
    """
    key, value = _accounts_node(text, name)
    where = f"{name}:{value.start_mark.line + 1}:{value.start_mark.column + 1}: {NAMESPACE}:accounts"
    if value.start_mark.index < key.end_mark.index:
        raise ConfigError([f"{where}: an alias of an earlier node; write the list itself to let the command add to it"])
    if getattr(value, "flow_style", False) or isinstance(value, yaml.ScalarNode) or not value.value:
        raise ConfigError(
            [f"{where}: not a block list (- name: ..); the command appends to block lists only: rewrite it as one"]
        )
    lines = text.splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    new: list[str] = []
    if isinstance(value, yaml.SequenceNode):
        first = value.value[0]
        if not isinstance(first, yaml.MappingNode):
            raise ConfigError([f"{where}[0]: not a mapping (name, id); the command appends to lists of those only"])
        content = first.start_mark.column
        dash = lines[first.start_mark.line].rfind("-", 0, content)
        if dash < 0:
            raise ConfigError([f"{where}[0]: its '-' is not on the line of its first key; add the entries by hand"])
        for account in accounts:
            item = f"name: {_scalar(account.name)}, id: {json.dumps(account.id)}"
            if first.flow_style:
                new.append(f"{' ' * dash}-{' ' * (content - dash - 1)}{{{item}}}{newline}")
            else:
                new.append(f"{' ' * dash}-{' ' * (content - dash - 1)}name: {_scalar(account.name)}{newline}")
                new.append(f"{' ' * content}id: {json.dumps(account.id)}{newline}")
    else:
        assert isinstance(value, yaml.MappingNode)
        first_key, first_value = value.value[0]
        indent = first_key.start_mark.column
        for account in accounts:
            if isinstance(first_value, yaml.MappingNode) and not first_value.flow_style:
                inner = first_value.value[0][0].start_mark.column
                new.append(f"{' ' * indent}{_scalar(account.name)}:{newline}")
                new.append(f"{' ' * inner}id: {json.dumps(account.id)}{newline}")
            else:
                new.append(f"{' ' * indent}{_scalar(account.name)}: {{id: {json.dumps(account.id)}}}{newline}")
    end = _content_end(value)
    at = end.line + 1 if end.column > 0 else end.line
    if at > len(lines):
        at = len(lines)
    if at and not lines[at - 1].endswith(("\n", "\r")):
        lines[at - 1] += newline
    edited = "".join([*lines[:at], *new, *lines[at:]])
    _check_only_appended(text, edited, accounts, name)
    return edited


def _section(text: str) -> dict[str, Any]:
    loaded = yaml.safe_load(text) or {}
    section = loaded.get("config") if isinstance(loaded, dict) else None
    return dict(section) if isinstance(section, dict) else {}


def _check_only_appended(before: str, after: str, accounts: Sequence[Account], name: str) -> None:
    """The edit adds lines at one place and changes nothing of the config but the new accounts: else refuse."""
    old, new = _section(before), _section(after)
    key = next(k for k in ACCOUNTS_KEYS if k in old)
    rest_same = {k: v for k, v in old.items() if k != key} == {k: v for k, v in new.items() if k != key}
    entries = [{"name": a.name, "id": a.id} for a in accounts]
    if isinstance(old[key], list):
        accounts_right = new.get(key) == [*old[key], *entries]
    else:
        accounts_right = new.get(key) == {**old[key], **{a.name: {"id": a.id} for a in accounts}}
    opcodes = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False).get_opcodes()
    only_inserted = [tag for tag, *_ in opcodes if tag != "equal"] in (["insert"], [])
    if not (rest_same and accounts_right and only_inserted):
        raise ConfigError(
            [f"{name}: {NAMESPACE}:accounts: could not append without changing other lines; edit by hand"]
        )


# --- new stack files (pure) ----------------------------------------------------------------------------------------


def _yaml_block(value: Any, indent: int) -> str:
    """A value as block YAML at ``indent`` (JSON-quoted strings: every YAML reader takes them as the same text)."""
    pad = " " * indent
    if isinstance(value, Mapping):
        lines = []
        for k, v in value.items():
            if isinstance(v, Mapping | list) and v:
                lines.append(f"{pad}{_scalar(str(k))}:\n{_yaml_block(v, indent + 2)}")
            else:
                lines.append(f"{pad}{_scalar(str(k))}: {_yaml_inline(v)}\n")
        return "".join(lines)
    assert isinstance(value, list)
    return "".join(
        f"{pad}-\n{_yaml_block(v, indent + 2)}"
        if isinstance(v, Mapping | list) and v
        else f"{pad}- {_yaml_inline(v)}\n"
        for v in value
    )


def _yaml_inline(value: Any) -> str:
    if isinstance(value, Mapping) and not value:
        return "{}"
    if isinstance(value, list) and not value:
        return "[]"
    return _scalar(value) if isinstance(value, str) and "\n" not in value else json.dumps(value)


def _accounts_block(accounts: Sequence[Account]) -> str:
    return "".join(f"    - name: {_scalar(a.name)}\n      id: {json.dumps(a.id)}\n" for a in accounts)


HEADER = "written by `make stacks`\n# (python -m federation.organization write) from `aws organizations list-accounts`."


def shared_stack_text(
    stack: str, organization_id: str, region: str, shared: Account, management_id: str, max_accounts: int
) -> str:
    return f"""\
# Shared stack "{stack}" of organization {organization_id}, {HEADER}
# It holds the assumer, the shared account's doer and the state backend; the application accounts are in the member
# stacks that read it. The command never edits this file again: it is yours. Every key: docs/configuration.md, and
# the commented reference examples/Pulumi.shared.yaml.
config:
  pulumi:disable-default-providers:
    - "*"

  iam-federation:stack:
    kind: shared
    max_accounts: {max_accounts}

  iam-federation:organization_id: {organization_id}
  iam-federation:region: {region}

  # The account that holds the assumer role, the state bucket, the lock table and state-mgmt.
  iam-federation:shared_account:
    name: {_scalar(shared.name)}
    id: {json.dumps(shared.id)}

  # The organization's management account (from the accounts' ARNs): part of the trust root, and where the optional
  # organization guard is written. It gets no doer.
  iam-federation:management_account_id: {json.dumps(management_id)}

  # Break-glass from workstations: the IAM Identity Center permission sets (their AWSReservedSSO_* roles in the
  # shared account) that may assume the assumer. Whoever holds one is administrator of every account.
  iam-federation:sso:
    permission_sets:
      - AWSAdministratorAccess
    # Your AWS access portal URL (IAM Identity Center > Settings), for the ~/.aws/config profiles.
    start_url: https://example.awsapps.com/start

  # bootstrap: the first `pulumi up`, with management-account credentials, through OrganizationAccountAccessRole.
  # doer: every run after that (README "Bootstrap, then doer mode").
  iam-federation:providers:
    mode: bootstrap

  iam-federation:tags:
    Project: iam-federation
"""


def member_stack_text(
    stack: str, shared_stack: str, shared: FederationConfig, accounts: Sequence[Account], max_accounts: int
) -> str:
    """A new member stack: the shared stack's region, doer policies, plan path and tags, bootstrap mode."""
    doer = shared.roles.doer
    roles: dict[str, Any] = {"managed_policy_arns": dict(doer.managed_policy_arns)}
    if doer.permissions_boundary_arn:
        roles["permissions_boundary_arn"] = doer.permissions_boundary_arn
    if doer.max_session_duration != type(doer).model_fields["max_session_duration"].default:
        roles["max_session_duration"] = doer.max_session_duration
    providers: dict[str, Any] = {"mode": "bootstrap"}
    default_role = type(shared.providers).model_fields["bootstrap_role_name"].default
    if shared.providers.bootstrap_role_name != default_role:
        providers["bootstrap_role_name"] = shared.providers.bootstrap_role_name
    plan_path = (
        "\n  # The plan path: this stack's accounts get plan doers, as the shared stack has it on.\n"
        "  iam-federation:plan_path:\n    enabled: true\n"
        if shared.plan_path.enabled
        else ""
    )
    tags = f"\n  iam-federation:tags:\n{_yaml_block(dict(shared.tags), 4)}" if shared.tags else ""
    return f"""\
# Member stack "{stack}", {HEADER}
# The command owns only the accounts list below: it appends accounts that join the organization and never moves,
# renames or removes one. Everything else here is yours to edit (docs/configuration.md).
config:
  pulumi:disable-default-providers:
    - "*"

  iam-federation:stack:
    kind: member
    # The shared stack's fully qualified name: <Pulumi organization>/<project>/<stack> (DIY backends such as S3:
    # organization/<project>/<stack>).
    shared_stack: {shared_stack}
    max_accounts: {max_accounts}

  # The shared stack's region: one region for the whole organization.
  iam-federation:region: {shared.region}

  # Accounts of this stack only; an account belongs to exactly one stack. The name is the stable key of its
  # resources and outputs: never rename it (that replaces its doer).
  iam-federation:accounts:
{_accounts_block(accounts)}
  # What the doers of this stack may do (copied from the shared stack when this file was written).
  iam-federation:roles:
    doer:
{_yaml_block(roles, 6)}{plan_path}
  # bootstrap for this stack's first `pulumi up` (its doers do not exist yet); doer after that.
  iam-federation:providers:
{_yaml_block(providers, 4)}{tags}"""


# --- the shell: read the files, decide, check, write ---------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    """What `write` was asked for."""

    directory: Path
    accounts: Path
    shared_stack: str = "shared"
    shared_account: str | None = None
    region: str | None = None
    prefix: str = "members-"
    ous: tuple[tuple[str, Path], ...] = ()
    pulumi_organization: str = DIY_ORGANIZATION
    max_accounts: int = DEFAULT_MAX_ACCOUNTS_PER_STACK


@dataclass
class Outcome:
    """The files to write (path -> text) and what to tell the user."""

    files: dict[Path, str]
    lines: list[str]


def _groups(request: Request, by_id: Mapping[str, OrgAccount]) -> dict[str, str]:
    """Account id -> group (OU) name, from the list-accounts-for-parent outputs."""
    group_of: dict[str, str] = {}
    problems: list[str] = []
    for group, path in request.ous:
        if not _GROUP_RE.fullmatch(group):
            problems.append(f"--ou {group}={path}: the group name names stacks: 1-31 of a-z, 0-9, '-', a letter first")
            continue
        for i, account in enumerate(parse_accounts(read_json(path), path.name)):
            key = f"{path.name}: Accounts[{i}].Id = {account.id!r}"
            if account.id not in by_id:
                problems.append(f"{key}: not in {request.accounts.name} (save both outputs at the same time)")
            elif account.id in group_of:
                problems.append(f"{key}: already in group {group_of[account.id]!r} (an account has one parent)")
            else:
                group_of[account.id] = group
    if problems:
        raise ConfigError(problems)
    return group_of


def _find_shared(wanted: str, accounts: Sequence[OrgAccount], where: str) -> OrgAccount:
    matches = [a for a in accounts if wanted in (a.id, a.name, slug(a.name))]
    if len(matches) != 1:
        found = "no account" if not matches else f"{len(matches)} accounts ({', '.join(a.id for a in matches)})"
        raise ConfigError([f"--shared-account {wanted!r}: {found} of {where} has that id or name"])
    return matches[0]


def _project(directory: Path) -> str:
    path = directory / "Pulumi.yaml"
    if path.exists():
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        name = loaded.get("name") if isinstance(loaded, dict) else None
        if isinstance(name, str):
            return name
    return "iam-federation"


def _shown(accounts: Iterable[Account | OrgAccount]) -> str:
    listed = [f"{a.name} ({a.id})" for a in accounts]
    return ", ".join(listed[:8]) + (f" and {len(listed) - 8} more" if len(listed) > 8 else "")


def _check_organization(files: Mapping[Path, str], shared_stack: str) -> None:
    """The organization as it would be written loads and plans together (file by file, then across files)."""
    with tempfile.TemporaryDirectory() as scratch:
        for path, text in files.items():
            (Path(scratch) / path.name).write_text(text, encoding="utf-8")
        select_stacks(Path(scratch), ALL, shared=shared_stack)


def _readable_stacks(directory: Path) -> list[StackFile]:
    valid, broken = read_stack_files(directory)
    if broken:
        raise ConfigError(
            [
                f"{bad.path.name}: cannot be read, so the accounts it holds are unknown; fix it first: "
                f"{bad.error().problems[0]}"
                for bad in broken
            ]
        )
    return valid


def _existing_shared(request: Request, stack: StackFile, organization_id: str, by_id: Mapping[str, OrgAccount]) -> None:
    """An existing shared stack is read, never edited: it must be this organization's, with this shared account."""
    config, where = stack.config, f"{stack.path.name}: {NAMESPACE}"
    if not isinstance(config, FederationConfig) or config.stack.kind != "shared":
        kind = config.stack.kind
        raise ConfigError(
            [
                f"{where}:stack.kind = {kind!r}: this command writes a shared stack and member stacks; a {kind} "
                "stack is not one. Another organization's (such as the shipped example)? pick another --shared-stack "
                "(make: SHARED=). Yours? move its accounts to member stacks first (accounts[].retain_on_delete keeps "
                "their doers while they move), then set kind: shared"
            ]
        )
    if config.organization_id != organization_id:
        raise ConfigError(
            [
                f"{where}:organization_id = {config.organization_id!r}: {request.accounts.name} lists organization "
                f"{organization_id!r} (another organization's stack, such as the shipped example? pick another "
                "--shared-stack name, make: SHARED=)"
            ]
        )
    shared = config.shared_account
    aws_name = (by_id[shared.id].name,) if shared.id in by_id else ()
    if request.shared_account and request.shared_account not in (shared.id, shared.name, *aws_name):
        raise ConfigError(
            [
                f"{where}:shared_account.id = {shared.id!r}: --shared-account {request.shared_account!r} names "
                "another account; the shared account of an existing stack is not changed by this command"
            ]
        )
    if request.region and request.region != config.region:
        raise ConfigError([f"{where}:region = {config.region!r}: --region {request.region!r} differs"])


def _new_shared(request: Request, accounts: Sequence[OrgAccount], taken: set[str]) -> tuple[str, Account]:
    """The text of a new shared stack file, and its shared account."""
    path = request.directory / f"Pulumi.{request.shared_stack}.yaml"
    if not request.shared_account or not request.region:
        raise ConfigError([f"{path.name}: not found: give --shared-account and --region to create the shared stack"])
    chosen = _find_shared(request.shared_account, accounts, request.accounts.name)
    if chosen.state != USABLE_STATE:
        raise ConfigError([f"--shared-account {request.shared_account!r}: {chosen.name} is {chosen.state}"])
    shared = Account(name=derive_name(chosen.name, chosen.id, taken), id=chosen.id)
    text = shared_stack_text(
        request.shared_stack,
        chosen.organization_id,
        request.region,
        shared,
        chosen.management_id,
        request.max_accounts,
    )
    return text, shared


@dataclass
class Sorted:
    """The accounts of list-accounts no stack holds yet: placed (with their group), or why not."""

    new: list[tuple[str | None, Account]] = field(default_factory=list)
    not_active: list[OrgAccount] = field(default_factory=list)
    invited: list[Account] = field(default_factory=list)
    management: list[OrgAccount] = field(default_factory=list)


def _sort_new(
    accounts: Sequence[OrgAccount], held: Mapping[str, str], names: set[str], group_of: Mapping[str, str]
) -> Sorted:
    # By id: names derived for colliding AWS names, and the order stacks fill in, do not depend on the JSON's order.
    result = Sorted()
    for account in sorted(accounts, key=lambda a: a.id):
        if account.id in held:
            continue
        if account.id == account.management_id:
            result.management.append(account)
        elif account.state != USABLE_STATE:
            result.not_active.append(account)
        else:
            named = Account(name=derive_name(account.name, account.id, names), id=account.id)
            names.add(named.name)
            result.new.append((group_of.get(account.id), named))
            if account.joined_method == INVITED:
                result.invited.append(named)
    return result


def _notes(
    found: Sorted, held: Mapping[str, str], by_id: Mapping[str, OrgAccount], source: str, shared: str
) -> list[str]:
    lines: list[str] = []
    if found.not_active:
        lines.append(
            f"skipped, not {USABLE_STATE} (no doer can be created there): "
            + ", ".join(f"{a.name} ({a.id}, {a.state})" for a in found.not_active)
        )
    for account in found.management:
        lines.append(
            f"skipped: the management account {account.name} ({account.id}) gets no doer: SCPs do not bind it, "
            "and its administrator is the organization's (it may detach any SCP); management_account_id names it"
        )
    for account_id, where in held.items():
        if account_id in by_id and by_id[account_id].state != USABLE_STATE:
            account = by_id[account_id]
            lines.append(
                f"kept: {account.name} ({account.id}) stays in {where} though it is {account.state}; remove its "
                "entry by hand once its doer is gone (a closed account's provider cannot be configured)"
            )
        elif account_id not in by_id and where != shared:
            lines.append(
                f"kept: {account_id} stays in {where} though {source} does not list it (left the organization?)"
            )
    if found.invited:
        lines.append(
            f"note: {len(found.invited)} invited account(s) have no OrganizationAccountAccessRole unless you created "
            f"it (Organizations creates it only in accounts it creates): {_shown(found.invited)}"
        )
    return lines


def build(request: Request) -> Outcome:
    """What to write for ``request``, checked; ConfigError naming the file and the key otherwise."""
    directory, source = request.directory, request.accounts.name
    if not _STACK_NAME_RE.fullmatch(request.shared_stack) or not _STACK_NAME_RE.fullmatch(request.prefix + "a"):
        raise ConfigError([f"--shared-stack {request.shared_stack!r} / --prefix {request.prefix!r}: not a stack name"])
    if not directory.is_dir():
        raise ConfigError([f"--dir {directory}: not a directory (where the Pulumi.<stack>.yaml files go)"])
    accounts = parse_accounts(read_json(request.accounts), source)
    if not accounts:
        raise ConfigError([f"{source}: Accounts: empty"])
    organization_id = accounts[0].organization_id
    by_id = {a.id: a for a in accounts}
    group_of = _groups(request, by_id)
    valid = _readable_stacks(directory)
    others = [
        s
        for s in valid
        if isinstance(s.config, FederationConfig)
        and s.config.organization_id == organization_id
        and s.name != request.shared_stack
    ]
    if others:
        raise ConfigError(
            [
                f"{s.path.name}: {NAMESPACE}:organization_id = {organization_id!r}: already a {s.config.stack.kind} "
                f"stack of this organization; pass --shared-stack {s.name} to fill member stacks that read it"
                for s in others
            ]
        )

    files: dict[Path, str] = {}
    lines: list[str] = []
    shared_path = directory / f"Pulumi.{request.shared_stack}.yaml"
    shared_file = next((s for s in valid if s.name == request.shared_stack), None)
    members = [s for s in valid if s.shared_name == request.shared_stack]
    member_names = {a.name for m in members for a in m.config.accounts}
    if shared_file is not None:
        _existing_shared(request, shared_file, organization_id, by_id)
        assert isinstance(shared_file.config, FederationConfig)
        shared_config = shared_file.config
    else:
        files[shared_path], shared_account = _new_shared(request, accounts, member_names)
        shared_config = _parse_new(shared_path, files[shared_path])
        lines.append(
            f"{shared_path.name}: created: shared stack of {organization_id}, shared account "
            f"{shared_account.name} ({shared_account.id}), region {request.region}"
        )

    held = {shared_config.shared_account.id: shared_path.name}
    for member in members:
        held.update({a.id: member.path.name for a in member.config.accounts if a.id not in held})
    found = _sort_new(accounts, held, {shared_config.shared_account.name, *member_names}, group_of)
    slots = [MemberSlot(m.name, len(m.config.accounts), m.config.stack.max_accounts) for m in members]
    placement = place(found.new, slots, {s.name for s in valid}, request.prefix, request.max_accounts)
    qualified = next(
        (m.config.stack.shared_stack for m in members if isinstance(m.config, MemberConfig)),
        f"{request.pulumi_organization}/{_project(directory)}/{request.shared_stack}",
    )
    for member in members:
        if member.name in placement.appended:
            added = placement.appended[member.name]
            files[member.path] = append_accounts(member.path.read_text(encoding="utf-8"), added, member.path.name)
            lines.append(f"{member.path.name}: {len(added)} account(s) appended: {_shown(added)}")
    for name, placed in placement.created.items():
        path = directory / f"Pulumi.{name}.yaml"
        files[path] = member_stack_text(name, qualified or "", shared_config, placed, request.max_accounts)
        lines.append(f"{path.name}: created with {len(placed)} account(s): {_shown(placed)}")
    lines += _notes(found, held, by_id, source, shared_path.name)
    if not files:
        return Outcome(
            files, [f"Nothing to write: every {USABLE_STATE} account of {source} already has a stack.", *lines]
        )
    current = {s.path: s.path.read_text(encoding="utf-8") for s in [*members, *([shared_file] if shared_file else [])]}
    _check_organization({**current, **files}, request.shared_stack)
    lines.append(f"Next: make plan STACK=all SHARED={request.shared_stack} (plans the shared stack and its members)")
    return Outcome(files, lines)


def _parse_new(path: Path, text: str) -> FederationConfig:
    from federation.load import load_config
    from plan.runner import stack_file_config

    with tempfile.TemporaryDirectory() as scratch:
        written = Path(scratch) / path.name
        written.write_text(text, encoding="utf-8")
        try:
            config = load_config(stack_file_config(written))
        except ConfigError as error:
            raise ConfigError(
                [p if p.startswith(f"{path.name}:") else f"{path.name}: {p}" for p in error.problems]
            ) from None
    assert isinstance(config, FederationConfig)
    return config


def write(outcome: Outcome) -> None:
    """Each file replaced in one step (a reader sees the old text or the new, never half of it)."""
    for path, text in outcome.files.items():
        with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, encoding="utf-8", newline="") as handle:
            handle.write(text)
        if path.exists():
            shutil.copymode(path, handle.name)
        os.replace(handle.name, path)


def _ou(text: str) -> tuple[str, Path]:
    group, sep, file = text.partition("=")
    if not sep or not group or not file:
        raise argparse.ArgumentTypeError("expected GROUP=FILE (FILE: the output of list-accounts-for-parent)")
    return group, Path(file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m federation.organization", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    cmd = commands.add_parser("write", help="write or update the shared and member stack files", description=__doc__)
    cmd.add_argument("--accounts", type=Path, required=True, help="aws organizations list-accounts > FILE")
    cmd.add_argument("--dir", type=Path, default=Path("."), help="where the Pulumi.<stack>.yaml files are")
    cmd.add_argument("--shared-stack", default="shared", help="the shared stack's name (default: shared)")
    cmd.add_argument("--shared-account", help="the shared account's id or name (needed to create the shared stack)")
    cmd.add_argument("--region", help="the organization's region (needed to create the shared stack)")
    cmd.add_argument("--prefix", default="members-", help="member stacks are Pulumi.<prefix>[<group>-]<a, b, ..>.yaml")
    cmd.add_argument(
        "--ou",
        type=_ou,
        action="append",
        default=[],
        metavar="GROUP=FILE",
        help="accounts of one OU (aws organizations list-accounts-for-parent --parent-id ou-... > FILE) go to the "
        "member stacks <prefix><GROUP>-a, -b, ..; repeat per OU",
    )
    cmd.add_argument(
        "--pulumi-organization",
        default=DIY_ORGANIZATION,
        help=f"in new member stacks' shared_stack: your Pulumi Cloud organization (default {DIY_ORGANIZATION!r}, "
        "as DIY backends such as S3 name it)",
    )
    cmd.add_argument("--max-accounts", type=int, default=DEFAULT_MAX_ACCOUNTS_PER_STACK, help="per new stack")
    cmd.add_argument("--dry-run", action="store_true", help="say what would be written, write nothing")
    args = parser.parse_args(argv)
    request = Request(
        directory=args.dir,
        accounts=args.accounts,
        shared_stack=args.shared_stack,
        shared_account=args.shared_account,
        region=args.region,
        prefix=args.prefix,
        ous=tuple(args.ou),
        pulumi_organization=args.pulumi_organization,
        max_accounts=args.max_accounts,
    )
    try:
        outcome = build(request)
    except ConfigError as error:
        print("\n".join(f"error: {problem}" for problem in error.problems), file=sys.stderr)
        return 2
    if not args.dry_run:
        write(outcome)
    print(("Would write (--dry-run):\n" if args.dry_run and outcome.files else "") + "\n".join(outcome.lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
