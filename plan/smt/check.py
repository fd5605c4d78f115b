"""The SMT check of `make plan`: every property of plan.smt.properties decided for all requests by cvc5.

A counterexample outside the promise, or an unknown not listed in ACCEPTED_UNKNOWN, is a finding. Each
counterexample is replayed through the project's evaluator (plan/evaluator.py, principalmapper) and the finding says
whether it agrees; principalmapper reads every ARN as one glob (docs/smt.md), so a counterexample of the "segment"
reading alone may be one it does not see.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from plan.checks import Finding, PlanInput
from plan.evaluator import Principal, Request, evaluate
from plan.smt.encode import FEDERATED, IAM, SERVICE
from plan.smt.properties import ACCEPTED_UNKNOWN, Property, properties
from plan.smt.query import Concrete, Query, build, concrete, readings_of
from plan.smt.solve import TIMEOUT_SECONDS, Outcome, solve_all

NAME = "smt"
_ADMIN = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
_ALLOW_ALL = {"Effect": "Allow", "Principal": "*", "Action": "*", "Resource": "*"}


@dataclass
class Decided:
    prop: Property
    reading: str
    status: str  # "proved", "counterexample", "unknown"
    seconds: float
    example: Concrete | None = None
    confirmed: bool | None = None  # the evaluator's verdict on the document agrees with the counterexample's
    reason: str = ""


def _spelled(prop: Property) -> dict[str, str]:
    """Action names as the documents spell them, by their lower-cased form (the solver's action is lower case)."""
    names: dict[str, str] = {}
    for document in (prop.document, prop.promise):
        for statement in document.get("Statement", []):
            for key in ("Action", "NotAction"):
                value = statement.get(key, [])
                for action in [value] if isinstance(value, str) else value:
                    if "*" not in action and "?" not in action:
                        names[action.lower()] = action
    return names


def _is_identity(prop: Property) -> bool:
    return all("Principal" not in s and "NotPrincipal" not in s for s in prop.document.get("Statement", []))


def replay(prop: Property, example: Concrete, resource_arn: str | None = None) -> bool | None:
    """The evaluator's verdict on the judged document for this request, as the counterexample claims it:
    True (agrees), False (disagrees), None (principalmapper cannot ask it: an anonymous caller)."""
    context = tuple(
        (k, v)
        for k, v in example.context.items()
        if k.lower() not in ("aws:principalarn", "aws:principalaccount", "aws:principalorgid")
    )
    org = example.context.get("aws:PrincipalOrgID")
    if example.kind == IAM:
        principal = Principal(
            "smt", example.principal, str(org) if isinstance(org, str) else None, (("admin", _ADMIN),)
        )
    elif example.kind == SERVICE:
        principal = Principal("smt", example.principal, service=True)
    elif example.kind == FEDERATED:
        principal = Principal("smt", example.principal, federated=example.principal)
    else:
        return None
    trust = not _is_identity(prop)
    resource = example.resource or (resource_arn or "")
    if prop.mode == "denies" and _is_identity(prop):
        # A service control policy: an admin of a member account below it, AWS's FullAWSAccess beside it.
        full = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}
        bound = Principal("smt", principal.arn, principal.org_id, (("admin", _ADMIN),), scps=((full, prop.document),))
        parts = resource.split(":")
        owner = parts[4] if len(parts) > 4 and parts[4] else principal.account
        verdict = evaluate(bound, Request(example.action, resource, owner, None, context), explain=False)
        return verdict.allowed
    if prop.mode == "denies":
        document: dict[str, Any] = {**prop.document, "Statement": [*prop.document["Statement"], _ALLOW_ALL]}
        owner = principal.account or "000000000000"
        verdict = evaluate(principal, Request(example.action, resource, owner, document, context), explain=False)
        return verdict.allowed  # the counterexample says: not denied
    if trust:
        owner = resource_arn.split(":")[4] if resource_arn else "000000000000"
        request = Request(example.action, resource_arn or resource, owner, prop.document, context)
    else:
        holder = Principal(
            "smt",
            principal.arn if example.kind == IAM else "arn:aws:iam::000000000000:role/holder",
            principal.org_id,
            (("judged", prop.document),),
            context=principal.context,
        )
        parts = resource.split(":")
        owner = parts[4] if len(parts) > 4 and parts[4] else holder.account
        verdict = evaluate(holder, Request(example.action, resource, owner, None, context), explain=False)
        return verdict.allowed == (prop.mode == "admits-only")
    verdict = evaluate(principal, request, explain=False)
    return verdict.allowed == (prop.mode == "admits-only")


def decide(props: list[Property], timeout: float | None = None) -> list[Decided]:
    queries: list[Query] = [build(p, r) for p in props for r in readings_of(p)]
    runnable = [q for q in queries if not q.error]
    outcomes = iter(solve_all([q.text for q in runnable], timeout=timeout or TIMEOUT_SECONDS))
    results: list[Decided] = []
    for query in queries:
        outcome = Outcome("unknown", reason=f"not encoded: {query.error}") if query.error else next(outcomes)
        if outcome.status == "unsat":
            status = "unknown" if query.capped else "proved"
            results.append(
                Decided(
                    query.prop,
                    query.reading,
                    status,
                    outcome.seconds,
                    reason="bounded sets capped" if query.capped else "",
                )
            )
        elif outcome.status == "sat":
            assert query.request is not None
            if outcome.model.get("kind") != IAM or not str(outcome.model.get("principal_tail", "")).startswith("role/"):
                # A role session's counterexample, where there is one, is the one principalmapper can replay.
                prefer = f'(assert (and (= kind {IAM}) (str.prefixof "role/" principal_tail)))\n(check-sat)'
                iam = solve_all([query.text.replace("(check-sat)", prefer)])[0]
                if iam.status == "sat":
                    outcome.model = iam.model
            example = concrete(query.request, outcome.model)
            example.action = _spelled(query.prop).get(example.action, example.action)
            arn = query.prop.role_arn or None
            if _is_identity(query.prop) and arn:
                # An identity policy: its holder asks (the principal keys the solver chose are read by no document).
                example.kind, example.principal = IAM, arn
                if "aws:Principal" not in str(query.prop.document):
                    example.context = {k: v for k, v in example.context.items() if not k.startswith("aws:Principal")}
                    example.absent = [k for k in example.absent if not k.startswith("aws:Principal")]
            elif not example.resource and arn:
                example.resource = arn  # a trust policy: the request's resource is the role itself
            try:
                confirmed = replay(query.prop, example, arn)
            except Exception as error:  # principalmapper cannot parse it: say so, the finding stands
                confirmed, outcome.reason = None, f"evaluator failed: {error}"
            results.append(
                Decided(
                    query.prop, query.reading, "counterexample", outcome.seconds, example, confirmed, outcome.reason
                )
            )
        else:
            results.append(Decided(query.prop, query.reading, "unknown", outcome.seconds, reason=outcome.reason))
    return results


def _finding(result: Decided) -> Finding:
    subjects = ", ".join(result.prop.members[:3]) + (
        f" (+{len(result.prop.members) - 3})" if len(result.prop.members) > 3 else ""
    )
    if result.status == "unknown":
        return Finding(
            NAME,
            subjects,
            f"{result.prop.mode} under the {result.reading} reading: unknown ({result.reason})",
            result.prop.name,
            result.prop.source,
        )
    assert result.example is not None
    replayed = {
        True: "the evaluator agrees",
        False: "principalmapper disagrees (docs/smt.md)",
        None: "not replayable by principalmapper",
    }[result.confirmed]
    return Finding(
        NAME,
        subjects,
        f"counterexample ({result.prop.mode}, {result.reading} reading; {replayed}): {result.example.line()}",
        result.prop.name,
        result.prop.source,
    )


def summary(results: list[Decided], seconds: float) -> str:
    proved = {id(r.prop) for r in results if r.status == "proved"} - {
        id(r.prop) for r in results if r.status != "proved"
    }
    props = {id(r.prop) for r in results}
    judged = sum(len(r.prop.members) for r in {id(r.prop): r for r in results}.values())
    bad = sum(r.status == "counterexample" for r in results)
    unknown = sum(r.status == "unknown" for r in results)
    return (
        f"SMT (cvc5, every request): {len(proved)} of {len(props)} properties proved over {judged} "
        "(property, document) pairs "
        f"({len(results)} queries, {bad} counterexample(s), {unknown} unknown) in {seconds:.1f} s"
    )


def check(plan: PlanInput) -> list[Finding]:
    started = time.perf_counter()
    results = decide(properties(plan.selection.organization, plan.model))
    # Shown with the check's verdict by python -m plan (plan.checks.checks_text).
    plan.extras.setdefault("notes", {})["smt"] = summary(results, time.perf_counter() - started)
    return [
        _finding(r)
        for r in results
        if r.status == "counterexample" or (r.status == "unknown" and r.prop.name not in ACCEPTED_UNKNOWN)
    ]
