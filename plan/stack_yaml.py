"""Reading a ``Pulumi.<stack>.yaml`` file as the Pulumi CLI does, and refusing wherever the readers may differ.

The CLI reads stack files with go-yaml v3 (``gopkg.in/yaml.v3`` v3.0.1 since Pulumi 3.50,
sdk/go/common/encoding/marshal.go), which resolves plain scalars close to YAML 1.2; PyYAML follows YAML 1.1. On
the values users type they disagree: ``no`` is text to one and false to the other, ``012345678901`` a number to
one and text to the other, ``1:20`` text or 80. The offline plan must not accept a file the CLI reads
differently, so every plain scalar under this program's keys is read both ways, and where the two readings
differ, or where other YAML readers still differ, the file is refused with one line naming file, line, column,
key and value, and saying to quote it. Pure functions, no Pulumi import.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from federation.config import NAMESPACE, NOT_SECRET, ConfigError, key_path

# A reading of a scalar: its kind ("str", "bool", "int", "float", "null", "timestamp" or "error") and its value.
Reading = tuple[str, Any]

# go-yaml v3.0.1 resolve.go, init(): only a scalar starting with one of these characters can be anything but text.
_HINTS = {**dict.fromkeys("+-", "S"), **dict.fromkeys("0123456789", "D"), **dict.fromkeys("yYnNtTfFoO~", "M"), ".": "."}
# resolve.go, resolveMapList: the only booleans and nulls v3 knows (YAML 1.1's yes/no/on/off/y/n are text to it).
# Its "<<" entry is left out: no hint marks '<', so resolve() never reaches it and "<<" is text.
_GO_WORDS: dict[str, Reading] = {
    **dict.fromkeys(["true", "True", "TRUE"], ("bool", True)),
    **dict.fromkeys(["false", "False", "FALSE"], ("bool", False)),
    **dict.fromkeys(["", "~", "null", "Null", "NULL"], ("null", None)),
    **dict.fromkeys([".nan", ".NaN", ".NAN"], ("float", math.nan)),
    **dict.fromkeys([".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"], ("float", math.inf)),
    **dict.fromkeys(["-.inf", "-.Inf", "-.INF"], ("float", -math.inf)),
}
# resolve.go, yamlStyleFloat.
_GO_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
# resolve.go, allowedTimestampFormats ("2006-1-2T15:4:5.999999999Z07:00", its lower-case t, "2006-1-2 15:4:5.999999999",
# "2006-1-2"), as a pattern; the date and clock ranges are checked as Go's time.Parse does.
_GO_TIMESTAMP = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[Tt](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})|[ ](\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.\d+)?)?"
)
_INT_DIGITS = {2: "01", 8: "01234567", 10: "0123456789", 16: "0123456789abcdefABCDEF"}
# YAML 1.1's booleans that both go-yaml v3 and PyYAML read as text, but the YAML 1.1 spec and go-yaml v2 (the
# Pulumi CLI's reader before 3.50) read as booleans.
_YAML11_ONLY_BOOLEANS = {"y", "Y", "n", "N"}
_LEADING_ZERO_INT = re.compile(r"[-+]?0[0-9_]+")


def _go_int(plain: str) -> int | None:
    """strconv.ParseInt(plain, 0, 64), then ParseUint(plain, 0, 64): base from the prefix, a bare 0 meaning octal."""
    sign, body = 1, plain
    if body[:1] in ("+", "-"):
        sign, body = (-1 if body[0] == "-" else 1), body[1:]
    prefix = body[:2].lower()
    if prefix in ("0x", "0o", "0b"):
        base, digits = {"0x": 16, "0o": 8, "0b": 2}[prefix], body[2:]
    elif body[:1] == "0" and len(body) > 1:
        base, digits = 8, body[1:]
    else:
        base, digits = 10, body
    if not digits or any(c not in _INT_DIGITS[base] for c in digits):
        return None
    value = sign * int(digits, base)
    signed = body is not plain
    if -(2**63) <= value < 2**63 or (not signed and value < 2**64):
        return value
    return None


def _go_timestamp(text: str) -> bool:
    match = _GO_TIMESTAMP.fullmatch(text)
    if not match:
        return False
    year, month, day = (int(g) for g in match.groups()[:3])
    clock = [int(g) for g in match.groups()[3:] if g is not None]
    try:
        datetime.date(year, month, day)
    except ValueError:
        return False
    return not clock or (clock[0] < 24 and clock[1] < 60 and clock[2] < 60)


def go_yaml_reading(text: str) -> Reading:
    """What go-yaml v3 makes of a plain scalar decoded into interface{}, as the CLI decodes config values.

    A port of resolve() at go-yaml v3.0.1 (resolve.go) for an untagged scalar: the resolveMapList words, then for
    a leading digit or sign a timestamp, then strconv.ParseInt/ParseUint with base 0 after dropping '_' (so 0755
    is octal and 0x1F hex), then yamlStyleFloat; everything else is text, including base-60 1:20.
    """
    if text and text[0] not in _HINTS:
        return ("str", text)
    if text in _GO_WORDS:
        return _GO_WORDS[text]
    hint = _HINTS[text[0]]
    if hint == "." and re.fullmatch(r"\.[0-9]+([eE][-+]?[0-9]+)?", text):
        return ("float", float(text))
    if hint in ("D", "S"):
        if _go_timestamp(text):
            return ("timestamp", text)
        plain = text.replace("_", "")
        number = _go_int(plain)
        if number is not None:
            return ("int", number)
        if _GO_FLOAT.fullmatch(plain) and math.isfinite(float(plain)):
            # strconv.ParseFloat fails (and the scalar stays text) when the value overflows to infinity.
            return ("float", float(plain))
    return ("str", text)


def _pyyaml_reading(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Reading:
    try:
        value = loader.construct_object(node)
    except (yaml.YAMLError, ValueError) as error:
        return ("error", str(error).splitlines()[0])
    kinds: list[tuple[type, str]] = [(bool, "bool"), (int, "int"), (float, "float"), (str, "str")]
    if value is None:
        return ("null", None)
    if isinstance(value, datetime.date):
        return ("timestamp", value)
    return next(((kind, value) for python_type, kind in kinds if isinstance(value, python_type)), ("error", value))


def _same(a: Reading, b: Reading) -> bool:
    if a[0] != b[0]:
        return False
    if a[0] == "timestamp":
        return False  # go-yaml keeps a time.Time, PyYAML a date: never the same value once passed on as JSON
    if a[0] == "float" and math.isnan(a[1]) and math.isnan(b[1]):
        return True
    return bool(a[1] == b[1])


def _said(reading: Reading) -> str:
    kind, value = reading
    if kind == "str":
        return f"the text {value!r}"
    if kind == "bool":
        return f"the boolean {json.dumps(value)}"
    if kind in ("int", "float"):
        shown = str(int(value)) if kind == "float" and math.isfinite(value) and value.is_integer() else str(value)
        return f"the number {shown}"
    if kind == "null":
        return "no value (null)"
    if kind == "timestamp":
        # go-yaml: a time.Time the CLI hands on as Go's time text; PyYAML: a date or datetime.
        return "a timestamp (as Go's time text)" if isinstance(value, str) else "a date"
    return f"nothing it can read ({value})"


def scalar_problem(text: str, pyyaml: Reading) -> str | None:
    """Why an unquoted scalar must be quoted, or None when the Pulumi CLI and every reader agree on it."""
    go = go_yaml_reading(text)
    if not _same(go, pyyaml):
        return f"the Pulumi CLI (go-yaml v3) reads {_said(go)}, PyYAML (YAML 1.1) reads {_said(pyyaml)}"
    if text in _YAML11_ONLY_BOOLEANS:
        return "YAML 1.1 readers (and the Pulumi CLI before 3.50, go-yaml v2) read a boolean, go-yaml v3 reads text"
    if go[0] == "int" and _LEADING_ZERO_INT.fullmatch(text):
        return (
            f"a leading zero makes YAML read the octal number {go[1]}, while `pulumi config set --path` keeps "
            "such digits as text"
        )
    if go[0] == "float" and not math.isfinite(go[1]):
        return "the CLI hands values to the program as JSON, which has no infinity or NaN"
    return None


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, remembering the scalars whose tag is resolved from their text (plain, untagged)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.plain: set[int] = set()

    def compose_scalar_node(self, anchor: Any) -> yaml.ScalarNode:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        node = super().compose_scalar_node(anchor)
        # ScalarEvent.implicit[0] (PyYAML events.py): no tag was written and the scalar is plain.
        if event.tag in (None, "!") and event.implicit[0] and node.style is None:
            self.plain.add(id(node))
        return node


def _where(name: str, node: yaml.Node) -> str:
    # PyYAML's marks count from 0; editors count from 1.
    return f"{name}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"


def _structure_problems(name: str, node: yaml.Node, above: frozenset[int] = frozenset()) -> Iterator[str]:
    """What go-yaml v3 refuses and PyYAML lets through: a mapping key defined twice (decode.go, d.mapping with
    uniqueKeys), and an alias inside the node it names ("anchor value contains itself", d.alias)."""
    if id(node) in above:
        yield f"{_where(name, node)}: an alias refers to a node that contains it; the Pulumi CLI refuses the file"
        return
    above = above | {id(node)}
    if isinstance(node, yaml.MappingNode):
        first: dict[str, yaml.Node] = {}
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value != "<<":
                if key.value in first:
                    line = first[key.value].start_mark.line + 1
                    yield (
                        f"{_where(name, key)}: key {key.value!r} is defined twice (first at line {line}); "
                        "the Pulumi CLI refuses the file"
                    )
                first.setdefault(key.value, key)
            yield from _structure_problems(name, key, above)
            yield from _structure_problems(name, value, above)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            yield from _structure_problems(name, item, above)


def _secure(node: yaml.Node) -> bool:
    # A map with the one key "secure" holding a string is a ciphertext (isSecureValue in config/object.go).
    return (
        isinstance(node, yaml.MappingNode)
        and len(node.value) == 1
        and isinstance(node.value[0][0], yaml.ScalarNode)
        and node.value[0][0].value == "secure"
        and isinstance(node.value[0][1], yaml.ScalarNode)
    )


def _value_problems(name: str, loader: _Loader, path: tuple[int | str, ...], node: yaml.Node) -> Iterator[str]:
    key = key_path(path)
    if _secure(node):
        yield (
            f"{_where(name, node)}: {key}: is stored as a secret (secure:), which the offline plan cannot decrypt; "
            + NOT_SECRET
        )
    elif isinstance(node, yaml.ScalarNode):
        if id(node) in loader.plain:
            why = scalar_problem(node.value, _pyyaml_reading(loader, node))
            if why:
                yield f"{_where(name, node)}: {key} = {node.value}: {why}; quote it: {json.dumps(node.value)}"
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _value_problems(name, loader, (*path, i), item)
    elif isinstance(node, yaml.MappingNode):
        for key_node, value in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                yield from _value_problems(name, loader, path, value)
                continue
            if id(key_node) in loader.plain:
                why = scalar_problem(key_node.value, _pyyaml_reading(loader, key_node))
                if why:
                    quoted = json.dumps(key_node.value)
                    yield f"{_where(name, key_node)}: {key}: key {key_node.value}: {why}; quote it: {quoted}"
            yield from _value_problems(name, loader, (*path, key_node.value), value)


def _is_ours(key: str) -> bool:
    return key.startswith(NAMESPACE + ":") or ":" not in key


def read_stack_file(path: Path) -> dict[str, Any]:
    """The ``config:`` section of a stack file as the CLI reads it; ConfigError naming file:line:column otherwise.

    Refused: YAML syntax errors, keys defined twice, and under this program's keys every secret and every plain
    scalar the readers may read differently. Keys of other namespaces are passed on as read, secrets left out.
    """
    name = path.name
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError([f"{name}: not UTF-8 text ({error.reason} at byte {error.start})"]) from None
    loader = _Loader(text)
    try:
        try:
            document = loader.get_single_node()
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark or error.context_mark
            where = f"{name}:{mark.line + 1}:{mark.column + 1}" if mark else name
            what = ", ".join(part for part in (error.context, error.problem) if part)
            raise ConfigError([f"{where}: YAML syntax error: {what}"]) from None
        if document is None:
            return {}
        if not isinstance(document, yaml.MappingNode):
            raise ConfigError([f"{_where(name, document)}: a stack file is a mapping with a config: key"])
        problems = list(_structure_problems(name, document))
        if problems:
            raise ConfigError(list(dict.fromkeys(problems)))
        section = next((v for k, v in document.value if isinstance(k, yaml.ScalarNode) and k.value == "config"), None)
        if section is None or (isinstance(section, yaml.ScalarNode) and section.tag.endswith(":null")):
            return {}
        if not isinstance(section, yaml.MappingNode):
            raise ConfigError([f"{_where(name, section)}: config: must be a mapping of keys to values"])
        secrets: set[str] = set()
        for key_node, value in section.value:
            key = str(key_node.value)
            if _is_ours(key):
                full = key if ":" in key else f"{NAMESPACE}:{key}"
                problems.extend(_value_problems(name, loader, (full,), value))
            elif _secure(value):
                secrets.add(key)
        if problems:
            raise ConfigError(problems)
        config = loader.construct_document(section)
        if not isinstance(config, dict):
            raise ConfigError([f"{_where(name, section)}: config: must be a mapping of keys to values"])
        return {str(k): v for k, v in config.items() if str(k) not in secrets}
    finally:
        loader.dispose()
