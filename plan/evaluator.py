"""Allow/deny verdicts from principalmapper's local policy simulation (an IAM evaluator we did not write).

principalmapper 1.1.5 evaluates identity policies, resource and trust policies, permissions boundaries, explicit
Deny, cross-account rules (both sides must allow) and the condition operators we use. It predates Python 3.10's
removal of ``collections.Mapping``; the two aliases below are all it needs to import.

principalmapper substitutes policy variables (``${aws:PrincipalTag/StateAccount}``) in Resource fields only; AWS
substitutes them in condition values too, so this adapter does that before every evaluation (``_substituted``).
A variable whose key is missing from the request is replaced by a value that matches nothing, which is AWS's
behaviour for a variable without a default in an Allow; none of our Deny statements depends on a missing variable.

principalmapper matches AWS and Service principals only: a web identity token (``sts:AssumeRoleWithWebIdentity``,
a ``Federated`` principal, the issuer's ``<issuer>:sub`` and ``<issuer>:aud`` keys) is evaluated here, against the
role's trust policy alone (the caller is a token, not an AWS principal: no identity policy or SCP of a caller
applies), with principalmapper's own action and condition matchers (``_web_identity``).

This module is the only place that knows principalmapper, so it can be swapped for another evaluator.
"""

from __future__ import annotations

import collections
import collections.abc
import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

# principalmapper imports these names from their pre-3.10 location.
collections.Mapping = collections.abc.Mapping  # type: ignore[attr-defined]
collections.MutableMapping = collections.abc.MutableMapping  # type: ignore[attr-defined]

from principalmapper.common.nodes import Node  # noqa: E402
from principalmapper.common.policies import Policy  # noqa: E402
from principalmapper.querying import local_policy_simulation as simulation  # noqa: E402
from principalmapper.querying.query_interface import local_check_authorization_full  # noqa: E402
from principalmapper.util.case_insensitive_dict import CaseInsensitiveDict  # noqa: E402

# principalmapper re-scans the whole request context for ${...} variables on every action and resource match, even in
# patterns that have none; we bind variables ourselves (_bound), so a pattern without one goes straight to the regex.
_matches_after_expansion = simulation._matches_after_expansion


def _fast_matches(value: str, pattern: str, condition_keys: Any = None) -> bool:
    if "${" in pattern:
        return bool(_matches_after_expansion(value, pattern, condition_keys))
    return simulation._compose_pattern(pattern).match(value) is not None  # lru_cached by principalmapper


simulation._matches_after_expansion = _fast_matches

Document = dict[str, Any]
# A request context value: one string, or several for multi-valued keys such as aws:TagKeys.
ContextValue = str | tuple[str, ...]


@dataclass(frozen=True)
class Principal:
    """Who makes a request: an IAM role session (with its policies) or an AWS service.

    context: request keys the session always carries (its session tags as aws:PrincipalTag/..., EC2 keys of
    instance credentials, its source identity; a web identity token's claims). scps: the SCP documents above its
    account, one list per level of the organization. federated: the OIDC provider ARN a web identity token comes
    through (the principal is then a token, and can only ask for sts:AssumeRoleWithWebIdentity).
    """

    key: str
    arn: str  # role ARN, or the service name for a service principal
    org_id: str | None = None
    identity_policies: tuple[tuple[str, Document], ...] = ()
    boundary: Document | None = None
    service: bool = False
    context: tuple[tuple[str, ContextValue], ...] = ()
    scps: tuple[tuple[Document, ...], ...] | None = None
    federated: str | None = None

    @property
    def account(self) -> str:
        return "" if self.service else self.arn.split(":")[4]


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    resource_owner: str
    resource_policy: Document | None
    context: tuple[tuple[str, ContextValue], ...] = ()


@dataclass
class Verdict:
    allowed: bool
    decided_by: list[str] = field(default_factory=list)


def _node(principal: Principal) -> Node:
    policies = [
        Policy(arn=f"{principal.arn}#{name}", name=name, policy_doc=doc) for name, doc in principal.identity_policies
    ]
    tags: dict[str, str] = {}
    boundary = Policy(arn="boundary", name="boundary", policy_doc=principal.boundary) if principal.boundary else None
    return Node(
        arn=principal.arn,
        id_value=f"AROA{zlib.crc32(principal.arn.encode()):016d}",
        attached_policies=policies,
        group_memberships=[],
        trust_policy={"Version": "2012-10-17", "Statement": []},
        instance_profile=None,
        num_access_keys=0,
        active_password=False,
        is_admin=False,
        permissions_boundary=boundary,
        has_mfa=False,
        tags=tags,
    )


def _context(principal: Principal, request: Request) -> dict[str, Any]:
    context: dict[str, Any] = {
        key: list(value) if isinstance(value, tuple) else value for key, value in (*principal.context, *request.context)
    }
    if principal.org_id:
        context.setdefault("aws:PrincipalOrgID", principal.org_id)
    if not principal.service and principal.federated is None:
        context.setdefault("aws:PrincipalArn", principal.arn)
        context.setdefault("aws:PrincipalAccount", principal.account)
    if request.resource_owner:
        context.setdefault("aws:ResourceAccount", request.resource_owner)  # AWS sets it on every request
    context.setdefault("aws:SecureTransport", "true")
    return context


_VARIABLE = re.compile(r"\$\{([^}]+)\}")
_UNDEFINED = "\u0000undefined"


Memo = dict[Any, Any]


def _substituted(document: Document, context: dict[str, Any], memo: Memo) -> Document:
    """The document with every policy variable replaced by its value in this request, as AWS evaluates it.

    memo holds, for one batch of evaluations over documents nobody changes meanwhile, each document's text and
    each binding already made (most documents have no variable, and most requests repeat the same values).
    """
    text = memo.get(id(document))
    if text is None:
        text = memo[id(document)] = json.dumps(document)
    if "${" not in text:
        return document
    lowered = {key.lower(): value for key, value in context.items() if isinstance(value, str)}
    names = tuple(sorted({m.lower() for m in _VARIABLE.findall(text)}))
    key = (id(document), tuple(lowered.get(name, _UNDEFINED) for name in names))
    if key not in memo:

        def value(match: re.Match[str]) -> str:
            found = lowered.get(match.group(1).lower(), _UNDEFINED)
            return json.dumps(found)[1:-1]

        memo[key] = json.loads(_VARIABLE.sub(value, text))
    result: Document = memo[key]
    return result


def _bound(principal: Principal, request: Request, context: dict[str, Any], memo: Memo) -> tuple[Principal, Request]:
    """Principal and request with their documents' policy variables bound to this request's context."""
    policies = tuple((name, _substituted(doc, context, memo)) for name, doc in principal.identity_policies)
    scps = (
        tuple(tuple(_substituted(doc, context, memo) for doc in level) for level in principal.scps)
        if principal.scps is not None
        else None
    )
    resource_policy = _substituted(request.resource_policy, context, memo) if request.resource_policy else None
    bound = Principal(
        principal.key,
        principal.arn,
        principal.org_id,
        policies,
        _substituted(principal.boundary, context, memo) if principal.boundary else None,
        principal.service,
        principal.context,
        scps,
        principal.federated,
    )
    return bound, Request(request.action, request.resource, request.resource_owner, resource_policy, request.context)


def _matching_sids(
    document: Document, label: str, node_or_service: Node | str, request: Request, ctx: Any
) -> list[str]:
    statements = simulation.resource_policy_matching_statements(
        node_or_service, document, request.action, request.resource, ctx
    )
    return [f"{label}:{s.get('Effect')}:{s.get('Sid', '?')}" for s in statements]


def _explain(principal: Principal, request: Request, node: Node | None, context: dict[str, Any]) -> list[str]:
    """The statements that match the request, as resource-policy:Effect:Sid and identity:Effect:Sid."""
    ctx = CaseInsensitiveDict(context)
    ctx.setdefault("aws:PrincipalArn", principal.arn)
    reasons: list[str] = []
    if request.resource_policy is not None:
        reasons += _matching_sids(request.resource_policy, "resource", node if node else principal.arn, request, ctx)
    for name, document in principal.identity_policies:
        for statement in document.get("Statement", []):
            single = {"Version": "2012-10-17", "Statement": [statement]}
            for effect in ("Allow", "Deny"):
                if simulation.policy_has_matching_statement(single, effect, request.action, request.resource, ctx):
                    reasons.append(f"identity[{name}]:{effect}:{statement.get('Sid', '?')}")
    return reasons


def evaluate(principal: Principal, request: Request, explain: bool = True, memo: Memo | None = None) -> Verdict:
    """Would AWS allow this request? Explicit Deny wins; cross-account needs both sides to allow; SCPs bound.

    explain=False skips naming the deciding statements (a third of the cost), for cells nobody will read. memo may
    be shared by a batch of evaluations whose documents do not change meanwhile (see _substituted).
    """
    context = _context(principal, request)
    principal, request = _bound(principal, request, context, {} if memo is None else memo)
    if principal.federated is not None:
        return _web_identity(principal.federated, request, CaseInsensitiveDict(context))
    if principal.service:
        if request.resource_policy is None:
            return Verdict(False, ["no resource policy names the service"])
        result = simulation.resource_policy_authorization(
            principal.arn,
            request.resource_owner,
            request.resource_policy,
            request.action,
            request.resource,
            CaseInsensitiveDict(context),
        )
        allowed = result == simulation.ResourcePolicyEvalResult.SERVICE_MATCH
        return Verdict(allowed, _explain(principal, request, None, context) if explain else [])
    node = _node(principal)
    allowed = local_check_authorization_full(
        node,
        request.action,
        request.resource,
        context,
        request.resource_policy,
        request.resource_owner if request.resource_policy is not None else None,
        _scp_groups(principal),
    )
    return Verdict(bool(allowed), _explain(principal, request, node, context) if explain else [])


def _scp_groups(principal: Principal) -> list[list[Policy]] | None:
    if principal.scps is None:
        return None
    return [
        [Policy(arn=f"scp-{level}-{i}", name=f"scp-{level}-{i}", policy_doc=doc) for i, doc in enumerate(docs)]
        for level, docs in enumerate(principal.scps)
    ]


def _federated_matches(statement: Document, provider_arn: str) -> bool:
    """Does a trust statement name this OIDC provider? A "*" principal names every caller, tokens included."""

    def federated(element: Any) -> list[str]:
        return simulation._listify_string(element.get("Federated", [])) if isinstance(element, dict) else []

    if "Principal" in statement:
        return statement["Principal"] == "*" or provider_arn in federated(statement["Principal"])
    return provider_arn not in federated(statement.get("NotPrincipal"))


def _web_identity(provider_arn: str, request: Request, context: CaseInsensitiveDict) -> Verdict:
    """AssumeRoleWithWebIdentity: allowed when a trust statement naming the token's provider allows the action under
    the token's claims (<issuer>:sub, <issuer>:aud, in the context) and no such statement denies it."""
    if request.resource_policy is None or request.action != "sts:AssumeRoleWithWebIdentity":
        return Verdict(False, ["a web identity token can only assume a role whose trust names its provider"])
    effects: list[str] = []
    reasons: list[str] = []
    for statement in simulation._listify_dictionary(request.resource_policy.get("Statement", [])):
        if not _federated_matches(statement, provider_arn):
            continue
        if not simulation._statement_matches_action(statement, request.action, context, True):
            continue
        if "Condition" in statement and not simulation._get_condition_match(statement["Condition"], context):
            continue
        effects.append(str(statement.get("Effect")))
        reasons.append(f"resource:{statement.get('Effect')}:{statement.get('Sid', '?')}")
    return Verdict("Allow" in effects and "Deny" not in effects, reasons)
