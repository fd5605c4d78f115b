"""What Terragrunt makes of the generated root.hcl for one unit: the backend settings and the roles of the chain.

The files are parsed with python-hcl2 (the stack outputs `terragrunt_root_hcl` and `terragrunt_account_hcl`, as a
user pastes them), and their expressions are evaluated here for a unit `<account>/<unit>/terragrunt.hcl` with a
given environment (TG_PLAN, AWS_PROFILE, IAM_FEDERATION_WHO). The evaluator knows the subset of HCL the generator
writes (string templates, `local.` references, attribute and index access, `==`, `? :`, list literals) and the
Terragrunt functions root.hcl calls, each as Terragrunt defines it (gruntwork-io/terragrunt@286a33cb,
pkg/config/config_helpers.go: get_env, find_in_parent_folders, read_terragrunt_config, path_relative_to_include,
get_aws_caller_identity_arn; coalesce, reverse and split are Terraform's functions, which Terragrunt offers too).
Anything else raises TerragruntError naming the expression: the check then says it cannot read root.hcl, rather
than guessing what Terragrunt would do.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import hcl2
from hcl2.utils import SerializationOptions

_OPTIONS = SerializationOptions(
    strip_string_quotes=True, explicit_blocks=False, preserve_heredocs=False, with_comments=False
)


class TerragruntError(ValueError):
    """root.hcl holds something this reading of it does not know."""


def parse_hcl(text: str) -> dict[str, Any]:
    parsed: dict[str, Any] = hcl2.loads(text, serialization_options=_OPTIONS)
    return parsed


@dataclass(frozen=True)
class Unit:
    """One unit as Terragrunt runs it: where it is, the account.hcl above it, and the environment of the run."""

    account_locals: Mapping[str, Any]
    path: str  # path_relative_to_include(): "<account>/<unit>"
    env: Mapping[str, str] = field(default_factory=dict)
    caller_arn: str = ""  # get_aws_caller_identity_arn(): the credentials Terragrunt starts from


# ---- expressions ------------------------------------------------------------------------------------------------
_TOKEN = re.compile(
    r'\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<number>\d+)|(?P<name>[A-Za-z_][A-Za-z0-9_-]*)'
    r"|(?P<op>==|!=|&&|\|\||[()\[\].,?:!]))"
)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise TerragruntError(f"cannot read {text!r} at {text[position:]!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent over one expression; evaluates as it parses (root.hcl's expressions have no side effects,
    but HCL evaluates only the chosen branch of a conditional: hashicorp/hcl hclsyntax ConditionalExpr.Value)."""

    def __init__(self, text: str, scope: _Scope) -> None:
        self.text = text
        self.tokens = _tokens(text)
        self.at = 0
        self.scope = scope

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise TerragruntError(f"cannot read {self.text!r}: expected {value or 'more'}")
        self.at += 1
        return token

    def parse(self) -> Any:
        value = self.conditional(True)
        if self.peek() is not None:
            raise TerragruntError(f"cannot read {self.text!r}: unexpected {self.peek()}")
        return value

    def conditional(self, live: bool) -> Any:
        condition = self.comparison(live)
        if self.peek() != ("op", "?"):
            return condition
        self.take("?")
        if live and not isinstance(condition, bool):
            raise TerragruntError(f"{self.text!r}: a condition that is not a bool ({condition!r})")
        first = self.conditional(live and bool(condition))
        self.take(":")
        second = self.conditional(live and not condition)
        return first if condition else second

    def comparison(self, live: bool) -> Any:
        left = self.postfix(live)
        token = self.peek()
        if token in (("op", "=="), ("op", "!=")):
            self.take()
            right = self.postfix(live)
            return (left == right) if token == ("op", "==") else (left != right)
        return left

    def postfix(self, live: bool) -> Any:
        value = self.primary(live)
        while self.peek() in (("op", "."), ("op", "[")):
            if self.take()[1] == ".":
                attribute = self.take()[1]
                value = _attribute(value, attribute, self.text) if live else None
            else:
                index = self.conditional(live)
                self.take("]")
                value = _index(value, index, self.text) if live else None
        return value

    def primary(self, live: bool) -> Any:
        kind, value = self.take()
        if kind == "string":
            return _string_literal(value[1:-1], self.scope, live)
        if kind == "number":
            return int(value)
        if kind == "op" and value == "(":
            inner = self.conditional(live)
            self.take(")")
            return inner
        if kind == "op" and value == "[":
            items = []
            while self.peek() != ("op", "]"):
                items.append(self.conditional(live))
                if self.peek() == ("op", ","):
                    self.take(",")
            self.take("]")
            return items
        if kind == "name" and value in ("true", "false"):
            return value == "true"
        if kind == "name" and self.peek() == ("op", "("):
            self.take("(")
            args = []
            while self.peek() != ("op", ")"):
                args.append(self.conditional(live))
                if self.peek() == ("op", ","):
                    self.take(",")
            self.take(")")
            return self.scope.call(value, args, self.text) if live else None
        if kind == "name" and value == "local":
            self.take(".")
            name = self.take()[1]
            return self.scope.local(name) if live else None
        raise TerragruntError(f"cannot read {self.text!r}: {value!r}")


def _attribute(value: Any, name: str, text: str) -> Any:
    if not isinstance(value, Mapping) or name not in value:
        raise TerragruntError(f"{text!r}: no attribute {name!r} (account.hcl or root.hcl lacks it)")
    return value[name]


def _index(value: Any, index: Any, text: str) -> Any:
    if not isinstance(value, list) or not isinstance(index, int) or not -len(value) <= index < len(value):
        raise TerragruntError(f"{text!r}: index {index!r} out of range")
    return value[index]


def _string_literal(body: str, scope: _Scope, live: bool) -> Any:
    text = bytes(body, "utf-8").decode("unicode_escape")
    return scope.template(text) if live and "${" in text else text


_INTERPOLATION = re.compile(r"\$\{((?:[^{}\"]|\"(?:[^\"\\]|\\.)*\")*)\}")


class _Scope:
    def __init__(self, root_locals: Mapping[str, Any], unit: Unit) -> None:
        self.root_locals = root_locals
        self.unit = unit
        self.values: dict[str, Any] = {}
        self.evaluating: set[str] = set()
        self.functions: dict[str, Callable[[list[Any]], Any]] = {
            "get_env": lambda a: unit.env.get(a[0], a[1] if len(a) > 1 else ""),
            "find_in_parent_folders": lambda a: a[0] if a else "root.hcl",
            "read_terragrunt_config": self._read_config,
            "path_relative_to_include": lambda a: unit.path,
            "get_aws_caller_identity_arn": lambda a: unit.caller_arn,
            "coalesce": lambda a: next((v for v in a if v not in ("", None)), None),
            "reverse": lambda a: list(reversed(a[0])),
            "split": lambda a: a[1].split(a[0]),
        }

    def _read_config(self, args: list[Any]) -> Any:
        if args != ["account.hcl"]:
            raise TerragruntError(f"read_terragrunt_config({args!r}): only the account.hcl above a unit is known")
        return {"locals": dict(self.unit.account_locals)}

    def call(self, name: str, args: list[Any], text: str) -> Any:
        if name not in self.functions:
            raise TerragruntError(f"{text!r}: function {name}() is not one root.hcl is known to call")
        return self.functions[name](args)

    def local(self, name: str) -> Any:
        if name in self.values:
            return self.values[name]
        if name not in self.root_locals:
            raise TerragruntError(f"local.{name} is not defined in root.hcl's locals")
        if name in self.evaluating:
            raise TerragruntError(f"local.{name} refers to itself")
        self.evaluating.add(name)
        self.values[name] = self.value(self.root_locals[name])
        self.evaluating.discard(name)
        return self.values[name]

    def template(self, text: str) -> Any:
        whole = _INTERPOLATION.fullmatch(text)
        if whole:
            return _Parser(whole.group(1), self).parse()
        return _INTERPOLATION.sub(lambda m: _text(_Parser(m.group(1), self).parse(), text), text)

    def value(self, raw: Any) -> Any:
        """A parsed HCL value with every template evaluated (strings, lists and objects, recursively)."""
        if isinstance(raw, str):
            return self.template(raw) if "${" in raw else raw
        if isinstance(raw, list):
            return [self.value(item) for item in raw]
        if isinstance(raw, dict):
            return {key: self.value(item) for key, item in raw.items()}
        return raw


def _text(value: Any, template: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise TerragruntError(f"{template!r}: interpolates {value!r}, which is not a string")
    return str(value)


# ---- what Terragrunt hands Terraform ------------------------------------------------------------------------------
@dataclass(frozen=True)
class BackendSettings:
    """The S3 backend's arguments for one unit, as Terragrunt writes them into backend.tf."""

    bucket: str
    key: str
    workspace_key_prefix: str | None
    region: str
    encrypt: bool
    kms_key_id: str | None
    use_lockfile: bool
    dynamodb_table: str | None
    role_arn: str | None
    session_name: str | None
    source_identity: str | None
    tags: dict[str, str]


@dataclass(frozen=True)
class UnitRun:
    """What one Terragrunt run of a unit does with credentials and the backend."""

    iam_role: str  # the role Terragrunt assumes before running Terraform ("" for none)
    backend: BackendSettings
    plan_arguments: list[str]  # extra arguments root.hcl adds to `plan`


def evaluate_unit(root: Mapping[str, Any], unit: Unit) -> UnitRun:
    """root.hcl (parsed) evaluated for one unit: raises TerragruntError when it cannot be read."""
    (root_locals,) = root.get("locals", [{}])
    scope = _Scope(root_locals, unit)
    remote_states = root.get("remote_state", [])
    if len(remote_states) != 1 or remote_states[0].get("backend") != "s3":
        raise TerragruntError('root.hcl has no remote_state block with backend = "s3"')
    config = scope.value(remote_states[0].get("config", {}))
    assume = config.get("assume_role") or {}
    backend = BackendSettings(
        bucket=str(config["bucket"]),
        key=str(config["key"]),
        workspace_key_prefix=config.get("workspace_key_prefix"),
        region=str(config["region"]),
        encrypt=bool(config.get("encrypt", False)),
        kms_key_id=config.get("kms_key_id"),
        use_lockfile=bool(config.get("use_lockfile", False)),
        dynamodb_table=config.get("dynamodb_table"),
        role_arn=assume.get("role_arn"),
        session_name=assume.get("session_name"),
        source_identity=assume.get("source_identity"),
        tags={str(k): str(v) for k, v in (assume.get("tags") or {}).items()},
    )
    plan_arguments: list[str] = []
    for block in root.get("terraform", []):
        for named in block.get("extra_arguments", []):
            for arguments in named.values():
                if "plan" in scope.value(arguments.get("commands", [])):
                    plan_arguments += list(scope.value(arguments.get("arguments", [])))
    iam_role = scope.value(root.get("iam_role", ""))
    return UnitRun(iam_role=str(iam_role or ""), backend=backend, plan_arguments=plan_arguments)


def account_locals(text: str) -> dict[str, Any]:
    """The locals of an account.hcl."""
    (found,) = parse_hcl(text).get("locals", [{}])
    return dict(found)
