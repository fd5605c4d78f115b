"""Policy documents as SMT-LIB formulas over one symbolic request (the subset the program registers).

A request is: a principal (its kind, aws:PrincipalArn, aws:PrincipalAccount, a service or an OIDC provider), an
action, a resource, and a context (each key present or absent, with a value; multi-valued keys as bounded sets).
What AWS sets is tied by invariants (``Request.invariants``); everything the caller chooses is free. Each
approximation is listed, with its AWS source, in docs/smt.md; where one is made it widens what AWS allows, so a
proof stays a proof and the price is a false alarm.

ARN patterns have two readings (``READINGS``): "segment" (each of the six colon-separated parts matched on its own,
as the IAM condition operators page documents for ArnLike) and "glob" (the whole ARN as one wildcard string, where a
``*`` crosses ``:``; the IAM Resource element page says a ``*`` ending a segment may match beyond ``:``, and
principalmapper reads every ARN so). A property is decided under every reading in which the document differs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

Document = dict[str, Any]
Term = str

READINGS = ("segment", "glob")
PARTITION = "aws"

# Principal kinds: an IAM principal of an account (role session, user, root), an AWS service, a web identity token
# (OIDC), or nobody signed in.
IAM, SERVICE, FEDERATED, ANONYMOUS = 0, 1, 2, 3

# Keys whose values are sets in the request (IAM User Guide, "Single-valued vs. multivalued context keys").
MULTI_VALUED = frozenset({"aws:tagkeys", "dynamodb:leadingkeys", "dynamodb:attributes", "dynamodb:select"})
# Keys AWS sets from the caller's credentials: bound to the principal variables below, never chosen.
PRINCIPAL_ARN, PRINCIPAL_ACCOUNT = "aws:PrincipalArn", "aws:PrincipalAccount"
MAX_SET = 8  # bounded set size: beyond it a proof becomes unknown (docs/smt.md, "bounded sets")

_ACCOUNT_RE = '((_ re.loop 12 12) (re.range "0" "9"))'
# CreateRole: path (\u002F)|(\u002F[\u0021-\u007E]+\u002F), name [\w+=,.@-]+ (IAM API Reference, CreateRole).
_PRINTABLE = '(re.range "!" "~")'
_NAME_CHAR = '(re.union (re.range "a" "z") (re.range "A" "Z") (re.range "0" "9") (re.union {}))'.format(
    " ".join(f'(str.to_re "{c}")' for c in "+=,.@_-")
)
_PATH_RE = f'(re.union (str.to_re "/") (re.++ (str.to_re "/") (re.+ {_PRINTABLE}) (str.to_re "/")))'
_IAM_TAIL_RE = (
    f'(re.union (str.to_re "root") (re.++ (re.union (str.to_re "role") (str.to_re "user")) {_PATH_RE}'
    f" (re.+ {_NAME_CHAR})))"
)


class UnsupportedError(ValueError):
    """A policy construct this encoder does not model: the query is reported unknown, never proved."""


def lit(value: str) -> Term:
    """An SMT-LIB string literal (printable ASCII as is, everything else as \\u{...})."""
    out = []
    for ch in value:
        if ch == '"':
            out.append('""')
        elif " " <= ch <= "~" and ch != "\\":
            out.append(ch)
        else:
            out.append(f"\\u{{{ord(ch):x}}}")
    return '"' + "".join(out) + '"'


def ignorecase_re(text: str) -> Term:
    """The language of text in any case, in standard SMT-LIB (str.to_lower is a cvc5 extension z3 lacks)."""
    parts = [
        f"(re.union (str.to_re {lit(c.lower())}) (str.to_re {lit(c.upper())}))"
        if c.lower() != c.upper()
        else f"(str.to_re {lit(c)})"
        for c in text
    ]
    return '(str.to_re "")' if not parts else parts[0] if len(parts) == 1 else f"(re.++ {' '.join(parts)})"


def conj(terms: Iterable[Term]) -> Term:
    items = [t for t in terms if t != "true"]
    if "false" in items:
        return "false"
    return "true" if not items else items[0] if len(items) == 1 else f"(and {' '.join(items)})"


def disj(terms: Iterable[Term]) -> Term:
    items = [t for t in terms if t != "false"]
    if "true" in items:
        return "true"
    return "false" if not items else items[0] if len(items) == 1 else f"(or {' '.join(items)})"


def neg(term: Term) -> Term:
    return "false" if term == "true" else "true" if term == "false" else f"(not {term})"


def _listify(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _ident(key: str) -> str:
    return re.sub(r"[^a-z0-9]", lambda m: f"_{ord(m.group()):x}_", key.lower())


@dataclass
class Request:
    """The symbolic request: SMT constants declared on first use, by (lower-cased) context key."""

    set_size: int = 2
    # lower-cased key -> as first written (the keys AWS always names so, first)
    keys: dict[str, str] = field(default_factory=lambda: {k.lower(): k for k in (PRINCIPAL_ARN, PRINCIPAL_ACCOUNT)})
    multi: set[str] = field(default_factory=set)
    approximations: set[str] = field(default_factory=set)
    structured: dict[Term, tuple[Term, Term]] = field(default_factory=lambda: dict(STRUCTURED))

    def key(self, name: str) -> str:
        low = name.lower()
        self.keys.setdefault(low, name)
        return low

    def has(self, name: str) -> Term:
        low = self.key(name)
        if low in self.multi or low in MULTI_VALUED:
            self.multi.add(low)
            return f"(> n_{_ident(low)} 0)"
        return f"h_{_ident(low)}"

    def value(self, name: str) -> Term:
        low = self.key(name)
        if low in MULTI_VALUED:
            raise UnsupportedError(f"single-valued test of the multi-valued key {name}")
        return f"v_{_ident(low)}"

    def elements(self, name: str) -> tuple[Term, list[Term]]:
        low = self.key(name)
        self.multi.add(low)
        return f"n_{_ident(low)}", [f"e_{_ident(low)}_{i}" for i in range(self.set_size)]

    def declarations(self) -> list[str]:
        out = [
            "(declare-const kind Int)",
            "(declare-const action String)",
            "(declare-const resource String)",
            "(declare-const service String)",
            "(declare-const federated String)",
            "(declare-const principal_tail String)",
            "(declare-const resource_account String)",
            "(declare-const resource_tail String)",
        ]
        for low in sorted(self.keys):
            ident = _ident(low)
            if low in self.multi:
                out.append(f"(declare-const n_{ident} Int)")
                out += [f"(declare-const e_{ident}_{i} String)" for i in range(self.set_size)]
            else:
                out += [f"(declare-const h_{ident} Bool)", f"(declare-const v_{ident} String)"]
        return out

    def invariants(self) -> list[Term]:
        """What AWS guarantees about every request (each a documented fact, docs/smt.md "invariants")."""
        self.has(PRINCIPAL_ARN), self.has(PRINCIPAL_ACCOUNT)
        arn, account = self.value(PRINCIPAL_ARN), self.value(PRINCIPAL_ACCOUNT)
        iam = "(= kind 0)"
        facts = [
            "(and (>= kind 0) (<= kind 3))",
            # aws:PrincipalArn and aws:PrincipalAccount: set for IAM principals only, from their credentials.
            f"(= {self.has(PRINCIPAL_ARN)} {iam})",
            f"(= {self.has(PRINCIPAL_ACCOUNT)} {iam})",
            f"(=> {iam} (str.in_re {account} {_ACCOUNT_RE}))",
            f'(=> {iam} (= {arn} (str.++ {lit("arn:" + PARTITION + ":iam::")} {account} ":" principal_tail)))',
            f"(=> {iam} (str.in_re principal_tail {_IAM_TAIL_RE}))",
            # Service principals are named <service>.amazonaws.com in the aws partition (IAM User Guide, "AWS JSON
            # policy elements: Principal", AWS service principals).
            f'(=> (= kind {SERVICE}) (str.in_re service (re.++ (re.+ (re.union (re.range "a" "z") (re.range "0" "9")'
            f' (str.to_re "-") (str.to_re "."))) (str.to_re ".amazonaws.com"))))',
        ]
        for low in sorted(self.keys):
            if low.startswith(("aws:principaltag/", "aws:principalorgid", "aws:principalorgpaths")):
                facts.append(f"(=> {self.has(low)} {iam})")
        for low in sorted(self.multi):
            n, elements = self.elements(low)
            facts.append(f"(and (>= {n} 0) (<= {n} {self.set_size}))")
        # A request tag's key is one of aws:TagKeys (compared without case: tag keys' lookup ignores case).
        tags = [low for low in self.keys if low.startswith("aws:requesttag/")]
        if tags:
            n, elements = self.elements("aws:TagKeys")
            for low in tags:
                tag = low.split("/", 1)[1]
                named = disj(f"(and (< {i} {n}) (str.in_re {e} {ignorecase_re(tag)}))" for i, e in enumerate(elements))
                facts.append(f"(=> {self.has(low)} {named})")
        return facts


_TOKEN = re.compile(r"\$\{([^}]+)\}|\*|\?|[^$*?]+|\$")


def _variable(request: Request, name: str) -> tuple[Term, Term]:
    """A policy variable's value and when it has one (``${key, 'default'}`` not used by the program)."""
    if "," in name:
        raise UnsupportedError(f"policy variable with a default: ${{{name}}}")
    special = {"*": "*", "?": "?", "$": "$"}
    if name in special:
        return lit(special[name]), "true"
    return request.value(name), request.has(name)


def pattern_re(request: Request, pattern: str, *, wildcards: bool, arn: str | None) -> tuple[Term, Term]:
    """(regular expression, when its variables are bound) of an IAM pattern.

    arn None: a plain string (StringLike, actions); "segment": ``*``/``?`` stay inside one of the first five
    colon-separated segments; "glob": they match any character.
    """
    parts: list[Term] = []
    bound: list[Term] = []
    colons = 0
    for match in _TOKEN.finditer(pattern):
        token = match.group(0)
        inside = arn == "segment" and colons < 5
        any_char = '(re.diff re.allchar (str.to_re ":"))' if inside else "re.allchar"
        if match.group(1) is not None:
            value, has = _variable(request, match.group(1))
            parts.append(f"(str.to_re {value})")
            bound.append(has)
        elif token == "*" and wildcards:
            parts.append(f"(re.* {any_char})")
        elif token == "?" and wildcards:
            parts.append(any_char)
        else:
            parts.append(f"(str.to_re {lit(token)})")
            colons += token.count(":")
    regex = '(str.to_re "")' if not parts else parts[0] if len(parts) == 1 else f"(re.++ {' '.join(parts)})"
    return regex, conj(bound)


def _concatenation(request: Request, pattern: str) -> tuple[Term, Term] | None:
    """A pattern without wildcards as a string term (its variables' values spliced in), or None."""
    parts: list[Term] = []
    bound: list[Term] = []
    for match in _TOKEN.finditer(pattern):
        if match.group(1) is not None:
            value, has = _variable(request, match.group(1))
            parts.append(value)
            bound.append(has)
        elif match.group(0) in ("*", "?"):
            return None
        else:
            parts.append(lit(match.group(0)))
    term = lit("") if not parts else parts[0] if len(parts) == 1 else f"(str.++ {' '.join(parts)})"
    return term, conj(bound)


# Subjects known to be IAM ARNs "arn:aws:iam::" + account + ":" + tail: matched segment by segment on the parts.
STRUCTURED: dict[Term, tuple[Term, Term]] = {
    "v_aws_3a_principalarn": ("v_aws_3a_principalaccount", "principal_tail"),  # aws:PrincipalArn
}


def matches(request: Request, subject: Term, pattern: str, *, wildcards: bool, arn: str | None) -> Term:
    """subject matches the pattern; a pattern whose variable is unbound matches nothing (IAM User Guide, "Policy
    variables": a missing key's variable makes the comparison fail)."""
    if wildcards and pattern == "*":
        return "true"
    if not wildcards or ("*" not in pattern and "?" not in pattern):
        concatenated = _concatenation(request, pattern)
        if concatenated is not None:
            term, bound = concatenated
            return conj([bound, f"(= {subject} {term})"])
    if wildcards and "?" not in pattern and "${" not in pattern and pattern.count("*") == 1:
        head, tail = pattern.split("*")
        if arn != "segment" or head.count(":") >= 5:
            # One * matching any character: a prefix and a suffix (solved far faster than the regular expression).
            return (
                f"(and (>= (str.len {subject}) {len(head) + len(tail)}) (str.prefixof {lit(head)} {subject})"
                f" (str.suffixof {lit(tail)} {subject}))"
            )
    structured = request.structured.get(subject)
    prefix = "arn:" + PARTITION + ":iam::"
    if arn == "segment" and structured and pattern.startswith(prefix) and pattern.count(":") >= 5:
        account_part, tail_part = pattern[len(prefix) :].split(":", 1)
        account, tail = structured
        return conj(
            [
                matches(request, account, account_part, wildcards=wildcards, arn=None),
                matches(request, tail, tail_part, wildcards=wildcards, arn=None),
            ]
        )
    regex, bound = pattern_re(request, pattern, wildcards=wildcards, arn=arn)
    return conj([bound, f"(str.in_re {subject} {regex})"])


# Condition operators: (how the value is compared, negated, wildcards, ARN).
_OPERATORS: dict[str, tuple[str, bool]] = {
    "stringequals": ("equals", False),
    "stringnotequals": ("equals", True),
    "stringequalsignorecase": ("ignorecase", False),
    "stringnotequalsignorecase": ("ignorecase", True),
    "stringlike": ("like", False),
    "stringnotlike": ("like", True),
    "arnequals": ("arn", False),
    "arnlike": ("arn", False),
    "arnnotequals": ("arn", True),
    "arnnotlike": ("arn", True),
    "bool": ("bool", False),
}


@dataclass
class Encoder:
    request: Request
    reading: str = "segment"

    def _one(self, kind: str, subject: Term, value: Any) -> Term:
        text = str(value).lower() if isinstance(value, bool) else str(value)
        if kind == "equals":
            return matches(self.request, subject, text, wildcards=False, arn=None)
        if kind == "ignorecase":
            if "${" in text:
                raise UnsupportedError("IgnoreCase with a policy variable")
            return f"(str.in_re {subject} {ignorecase_re(text)})"
        if kind == "like":
            return matches(self.request, subject, text, wildcards=True, arn=None)
        if kind == "arn":
            return matches(self.request, subject, text, wildcards=True, arn=self.reading)
        if kind == "bool":
            return f"(= {subject} {lit(text.lower())})"
        raise UnsupportedError(kind)

    def condition(self, operator: str, key: str, values: Any) -> Term:
        op = operator.lower()
        qualifier = ""
        if ":" in op:
            qualifier, op = op.split(":", 1)
        if_exists = op.endswith("ifexists") and op != "null"
        op = op.removesuffix("ifexists")
        values = _listify(values)
        if op == "null":
            if qualifier:
                raise UnsupportedError(f"{operator}")
            present = self.request.has(key)
            return disj(neg(present) if str(v).lower() == "true" else present for v in values)
        if op not in _OPERATORS:
            raise UnsupportedError(f"condition operator {operator}")
        kind, negated = _OPERATORS[op]

        def test(subject: Term) -> Term:
            any_value = disj(self._one(kind, subject, v) for v in values)
            return neg(any_value) if negated else any_value

        if qualifier in ("foranyvalue", "forallvalues"):
            n, elements = self.request.elements(key)
            each = [(f"(< {i} {n})", test(e)) for i, e in enumerate(elements)]
            if qualifier == "foranyvalue":
                return disj(conj([inside, t]) for inside, t in each)
            # ForAllValues: true when the key is absent or empty (IAM User Guide, "Set operators").
            return conj(f"(=> {inside} {t})" for inside, t in each)
        if qualifier:
            raise UnsupportedError(operator)
        low = self.request.key(key)
        if low in MULTI_VALUED or low in self.request.multi:
            raise UnsupportedError(f"{operator} on the multi-valued key {key} without ForAnyValue/ForAllValues")
        present = self.request.has(key)
        body = test(self.request.value(key))
        # Negated operators (and ...IfExists) hold when the key is absent (IAM User Guide, "Condition operators").
        if negated or if_exists:
            return disj([neg(present), body])
        return conj([present, body])

    def conditions(self, block: dict[str, Any]) -> Term:
        return conj(self.condition(op, key, values) for op, keys in block.items() for key, values in keys.items())

    def actions(self, statement: Document) -> Term:
        if "Action" in statement:
            return disj(self._action(a) for a in _listify(statement["Action"]))
        return neg(disj(self._action(a) for a in _listify(statement["NotAction"])))

    def _action(self, pattern: str) -> Term:
        return matches(self.request, "action", pattern.lower(), wildcards=True, arn=None)

    def resources(self, statement: Document) -> Term:
        if "Resource" in statement:
            return disj(self._resource(r) for r in _listify(statement["Resource"]))
        if "NotResource" in statement:
            return neg(disj(self._resource(r) for r in _listify(statement["NotResource"])))
        return "true"  # a trust policy: the resource is the role itself

    def _resource(self, pattern: str) -> Term:
        return matches(self.request, "resource", pattern, wildcards=True, arn=self.reading if ":" in pattern else None)

    def principals(self, statement: Document) -> Term:
        if "Principal" in statement:
            return self._principal(statement["Principal"])
        if "NotPrincipal" in statement:
            return neg(self._principal(statement["NotPrincipal"]))
        return "true"  # an identity policy: the principal is its holder

    def _principal(self, element: Any) -> Term:
        if element == "*":
            return "true"
        terms: list[Term] = []
        for kind, values in element.items():
            for value in _listify(values):
                if kind == "AWS":
                    terms.append(self._aws_principal(str(value)))
                elif kind == "Service":
                    terms.append(f"(and (= kind {SERVICE}) (= service {lit(str(value))}))")
                elif kind == "Federated":
                    terms.append(f"(and (= kind {FEDERATED}) (= federated {lit(str(value))}))")
                else:
                    raise UnsupportedError(f"principal type {kind}")
        return disj(terms)

    def _aws_principal(self, value: str) -> Term:
        """An AWS principal: "*" (everyone), an account (its root: every IAM principal of it, IAM User Guide,
        "AWS JSON policy elements: Principal"), or a role or user ARN (its sessions: aws:PrincipalArn)."""
        if value == "*":
            return "true"
        account = value if re.fullmatch(r"\d{12}", value) else None
        found = re.fullmatch(r"arn:[^:]+:iam::(\d{12}):root", value)
        if found:
            account = found.group(1)
        iam = f"(= kind {IAM})"
        if account:
            return f"(and {iam} (= {self.request.value(PRINCIPAL_ACCOUNT)} {lit(account)}))"
        if "*" in value or "?" in value:
            raise UnsupportedError(f"wildcard in an AWS principal ARN: {value}")
        return f"(and {iam} (= {self.request.value(PRINCIPAL_ARN)} {lit(value)}))"

    def statement(self, statement: Document) -> Term:
        parts = [self.principals(statement), self.actions(statement), self.resources(statement)]
        if "Condition" in statement:
            parts.append(self.conditions(statement["Condition"]))
        return conj(parts)

    def effect(self, document: Document, effect: str) -> Term:
        return disj(self.statement(s) for s in _listify(document.get("Statement", [])) if s.get("Effect") == effect)

    def allows(self, document: Document) -> Term:
        """Explicit Allow and no explicit Deny (IAM User Guide, "Policy evaluation logic", one policy)."""
        return conj([self.effect(document, "Allow"), neg(self.effect(document, "Deny"))])

    def denies(self, document: Document) -> Term:
        return self.effect(document, "Deny")


def readings_differ(document: Document) -> bool:
    """Whether a wildcard sits in one of the first five segments of an ARN pattern (only then the readings differ)."""
    found = False

    def visit(value: Any, arn: bool) -> None:
        nonlocal found
        if isinstance(value, dict):
            for k, v in value.items():
                low = k.lower()
                visit(v, arn or low in ("resource", "notresource") or "arn" in low.split(":")[-1][:3])
        elif isinstance(value, list):
            for v in value:
                visit(v, arn)
        elif isinstance(value, str) and arn and value.startswith("arn:"):
            head = ":".join(value.split(":")[:5])
            found = found or "*" in head or "?" in head

    visit(document, False)
    return found


def set_atoms(documents: Iterable[Document]) -> int:
    """How many distinct element tests the documents make on multi-valued keys (ForAnyValue/ForAllValues), plus the
    tag-key invariant: a bounded set of 2^atoms elements then shows every combination (docs/smt.md)."""
    atoms: set[str] = set()
    tags = False
    for document in documents:
        for statement in _listify(document.get("Statement", [])):
            for operator, keys in statement.get("Condition", {}).items():
                for key, values in keys.items():
                    if key.lower().startswith("aws:requesttag/"):
                        tags = True
                    if operator.lower().startswith(("foranyvalue:", "forallvalues:")):
                        atoms.add(repr((operator.split(":", 1)[1].lower(), key.lower(), _listify(values))))
    return len(atoms) + (1 if tags else 0)
