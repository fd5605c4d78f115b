"""Allow/deny verdicts from principalmapper's local policy simulation (an IAM evaluator we did not write).

principalmapper 1.1.5 evaluates identity policies, resource and trust policies, permissions boundaries, explicit
Deny, cross-account rules (both sides must allow) and the condition operators we use. It predates Python 3.10's
removal of ``collections.Mapping``; the two aliases below are all it needs to import.

This module is the only place that knows principalmapper, so it can be swapped for another evaluator.
"""

from __future__ import annotations

import collections
import collections.abc
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

Document = dict[str, Any]


@dataclass(frozen=True)
class Principal:
    """Who makes a request: an IAM role session (with its policies) or an AWS service."""

    key: str
    arn: str  # role ARN, or the service name for a service principal
    org_id: str | None = None
    identity_policies: tuple[tuple[str, Document], ...] = ()
    boundary: Document | None = None
    service: bool = False

    @property
    def account(self) -> str:
        return "" if self.service else self.arn.split(":")[4]


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    resource_owner: str
    resource_policy: Document | None
    context: tuple[tuple[str, str], ...] = ()


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


def _context(principal: Principal, request: Request) -> dict[str, str]:
    context = dict(request.context)
    if principal.org_id:
        context.setdefault("aws:PrincipalOrgID", principal.org_id)
    context.setdefault("aws:SecureTransport", "true")
    return context


def _matching_sids(
    document: Document, label: str, node_or_service: Node | str, request: Request, ctx: Any
) -> list[str]:
    statements = simulation.resource_policy_matching_statements(
        node_or_service, document, request.action, request.resource, ctx
    )
    return [f"{label}:{s.get('Effect')}:{s.get('Sid', '?')}" for s in statements]


def _explain(principal: Principal, request: Request, node: Node | None, context: dict[str, str]) -> list[str]:
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


def evaluate(principal: Principal, request: Request) -> Verdict:
    """Would AWS allow this request? Explicit Deny wins; cross-account needs both sides to allow."""
    context = _context(principal, request)
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
        return Verdict(allowed, _explain(principal, request, None, context))
    node = _node(principal)
    allowed = local_check_authorization_full(
        node,
        request.action,
        request.resource,
        context,
        request.resource_policy,
        request.resource_owner if request.resource_policy is not None else None,
    )
    return Verdict(bool(allowed), _explain(principal, request, node, context))
