"""A property as SMT-LIB text under one ARN reading, and a model of it read back as a concrete request."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from plan.smt.encode import (
    _ACCOUNT_RE,
    _IAM_TAIL_RE,
    ANONYMOUS,
    FEDERATED,
    IAM,
    MAX_SET,
    PRINCIPAL_ACCOUNT,
    PRINCIPAL_ARN,
    READINGS,
    SERVICE,
    Encoder,
    Request,
    UnsupportedError,
    _ident,
    conj,
    lit,
    neg,
    readings_differ,
    set_atoms,
)
from plan.smt.properties import Property


@dataclass
class Query:
    prop: Property
    reading: str
    text: str = ""
    request: Request | None = None
    error: str = ""  # an unsupported construct: the verdict is unknown
    capped: bool = False  # the bounded sets are smaller than the argument in docs/smt.md needs


def readings_of(prop: Property) -> list[str]:
    return list(READINGS) if readings_differ(prop.document) else ["segment"]


def build(prop: Property, reading: str) -> Query:
    query = Query(prop, reading)
    documents = [prop.document, prop.promise, *([prop.scope] if prop.scope else [])]
    atoms = set_atoms(documents)
    query.capped = 2**atoms > MAX_SET
    request = Request(set_size=max(1, min(2**atoms, MAX_SET)))
    if prop.role_resource:
        request.structured["resource"] = ("resource_account", "resource_tail")
    judged, promise = Encoder(request, reading), Encoder(request, "segment")
    try:
        goal = {
            "admits-only": lambda: conj([judged.allows(prop.document), neg(promise.effect(prop.promise, "Allow"))]),
            "admits-all": lambda: conj([promise.effect(prop.promise, "Allow"), neg(judged.allows(prop.document))]),
            "denies": lambda: conj([promise.effect(prop.promise, "Allow"), neg(judged.denies(prop.document))]),
        }[prop.mode]()
        parts = [goal]
        if prop.scope:
            parts.append(promise.effect(prop.scope, "Allow"))
        if prop.role_resource:
            parts += [
                '(= resource (str.++ "arn:aws:iam::" resource_account ":" resource_tail))',
                f"(str.in_re resource_account {_ACCOUNT_RE})",
                f"(str.in_re resource_tail {_IAM_TAIL_RE})",
            ]
        invariants = request.invariants()
    except UnsupportedError as error:
        query.error = str(error)
        return query
    values = ["kind", "action", "resource", "service", "federated", "principal_tail"]
    for low in sorted(request.keys):
        ident = _ident(low)
        if low in request.multi:
            values += [f"n_{ident}", *[f"e_{ident}_{i}" for i in range(request.set_size)]]
        else:
            values += [f"h_{ident}", f"v_{ident}"]
    lines = [
        "(set-logic ALL)",
        "(set-option :produce-models true)",
        "(set-option :strings-exp true)",
        *request.declarations(),
        *[f"(assert {fact})" for fact in invariants],
        *[f"(assert {part})" for part in parts],
        "(check-sat)",
        f"(get-value ({' '.join(values)}))",
    ]
    query.text = "\n".join(lines) + "\n"
    query.request = request
    return query


@dataclass
class Concrete:
    """A counterexample: who asks, what, on what, and every context key the documents read."""

    kind: int
    principal: str
    action: str
    resource: str
    context: dict[str, str | tuple[str, ...]] = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)

    def line(self) -> str:
        who = {IAM: "principal", SERVICE: "service", FEDERATED: "web identity token of", ANONYMOUS: "anonymous"}
        context = ", ".join(f"{k}={v!r}" for k, v in sorted(self.context.items()))
        absent = f"; absent: {', '.join(sorted(self.absent))}" if self.absent else ""
        asks = f"{who[self.kind]} {self.principal!r} asks {self.action} on {self.resource!r}"
        return f"{asks}; context {{{context}}}{absent}"


def concrete(request: Request, model: dict[str, Any]) -> Concrete:
    kind = int(model.get("kind", 0))
    context: dict[str, str | tuple[str, ...]] = {}
    absent: list[str] = []
    for low, written in sorted(request.keys.items()):
        ident = _ident(low)
        if low in request.multi:
            n = int(model.get(f"n_{ident}", 0))
            if n > 0:
                context[written] = tuple(str(model[f"e_{ident}_{i}"]) for i in range(n))
            else:
                absent.append(written)
        elif model.get(f"h_{ident}"):
            context[written] = str(model[f"v_{ident}"])
        else:
            absent.append(written)
    principal = {
        IAM: str(context.get(request.keys.get(PRINCIPAL_ARN.lower(), PRINCIPAL_ARN), "")),
        SERVICE: str(model.get("service", "")),
        FEDERATED: str(model.get("federated", "")),
        ANONYMOUS: "",
    }[kind]
    absent = [a for a in absent if a.lower() not in (PRINCIPAL_ARN.lower(), PRINCIPAL_ACCOUNT.lower()) or kind == IAM]
    return Concrete(kind, principal, str(model.get("action", "")), str(model.get("resource", "")), context, absent)


def concrete_query(document: dict[str, Any], effect: str, reading: str, example: Concrete) -> str:
    """SMT-LIB text that is sat iff the document has a matching statement of this effect ("Allow": allows, no
    Deny; "Deny": an explicit Deny) for exactly this request: the encoding used as a concrete evaluator."""
    request = Request(set_size=max([1, *[len(v) for v in example.context.values() if isinstance(v, tuple)]]))
    encoder = Encoder(request, reading)
    goal = encoder.allows(document) if effect == "Allow" else encoder.denies(document)
    for key in example.context:
        request.key(key)
    invariants = request.invariants()
    facts = [
        f"(= kind {example.kind})",
        f"(= action {lit(example.action.lower())})",
        f"(= resource {lit(example.resource)})",
    ]
    if example.kind == SERVICE:
        facts.append(f"(= service {lit(example.principal)})")
    if example.kind == FEDERATED:
        facts.append(f"(= federated {lit(example.principal)})")
    values = {k.lower(): v for k, v in example.context.items()}
    for low in sorted(request.keys):
        ident = _ident(low)
        value = values.get(low)
        if low in request.multi:
            items = value if isinstance(value, tuple) else (() if value is None else (value,))
            facts.append(f"(= n_{ident} {len(items)})")
            facts += [f"(= e_{ident}_{i} {lit(v)})" for i, v in enumerate(items)]
        elif value is None:
            facts.append(f"(not h_{ident})")
        else:
            facts += [f"h_{ident}", f"(= v_{ident} {lit(str(value))})"]
    lines = [
        "(set-logic ALL)",
        "(set-option :strings-exp true)",
        *request.declarations(),
        *[f"(assert {fact})" for fact in [*invariants, *facts, goal]],
        "(check-sat)",
    ]
    return "\n".join(lines) + "\n"
