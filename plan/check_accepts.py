"""The check "AWS accepts it": every registered input against the API's own constraints and AWS's documented rules.

Reads only what the program registered (each run's registrations, as the engine would receive them) and the shared
stack's validated config (the trust-policy quota, where the log bucket is). The constraints come from botocore's
installed service models and the rules in ``plan/aws_rules.py``; each finding names the resource, the input and its
value, the rule and its source.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from federation.config import FederationConfig
from federation.limits import iam_size
from plan import aws_rules as rules
from plan.checks import Finding, PlanInput
from plan.runner import PROVIDER_TYPE, ProgramRun, Registration

NAME = "aws-accepts"


def check(plan: PlanInput) -> list[Finding]:
    shared = plan.selection.shared.config
    return findings_of(plan.runs, shared if isinstance(shared, FederationConfig) else None)


def findings_of(runs: list[ProgramRun], shared: FederationConfig | None) -> list[Finding]:
    """Every way AWS or the engine would refuse what these runs registered."""
    findings: list[Finding] = []
    for run in runs:
        findings += _duplicate_urns(run)
        inline_sizes: dict[tuple[str, str], int] = defaultdict(int)
        for registration in run.resources:
            if not registration.custom:
                continue
            inputs = _inputs(registration)
            findings += _model_findings(registration, inputs)
            findings += _documented_findings(run, registration, inputs, shared)
            if registration.type == "aws:iam/rolePolicy:RolePolicy" and isinstance(inputs.get("policy"), str):
                key = (registration.provider_urn, str(inputs.get("role")))
                inline_sizes[key] += iam_size(json.loads(inputs["policy"]))
        findings += _inline_total_findings(inline_sizes)
        findings += _default_tag_findings(run)
    return findings


def _finding(registration: Registration, what: str, value: Any, rule: str, source: str) -> Finding:
    shown = repr(value)
    if isinstance(value, str) and len(shown) > 100:
        shown = shown[:97] + "..."
    return Finding(NAME, f"{registration.type} {registration.name}", f"{what} = {shown}", rule, source)


def _inputs(registration: Registration) -> dict[str, Any]:
    # A provider's object inputs reach the engine as JSON text (the SDK serialises provider configuration so).
    if registration.type != PROVIDER_TYPE:
        return registration.inputs
    parsed: dict[str, Any] = {}
    for key, value in registration.inputs.items():
        if isinstance(value, str) and value[:1] in "[{":
            try:
                parsed[key] = json.loads(value)
                continue
            except json.JSONDecodeError:
                pass
        parsed[key] = value
    return parsed


def values_at(data: Any, path: str, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(concrete path, value) of every value an input path ("rules[].status") reaches; absent ones yield nothing."""
    if not path:
        yield prefix, data
        return
    step, _, rest = path.partition(".")
    name = step.removesuffix("[]")
    if not isinstance(data, dict) or data.get(name) is None:
        return
    value = data[name]
    here = f"{prefix}.{name}" if prefix else name
    if step.endswith("[]"):
        if isinstance(value, list):
            for i, item in enumerate(value):
                yield from values_at(item, rest, f"{here}[{i}]") if rest else iter([(f"{here}[{i}]", item)])
        return
    yield from values_at(value, rest, here)


def _model_findings(registration: Registration, inputs: dict[str, Any]) -> list[Finding]:
    findings: list[Finding] = []
    for row in rules.model_inputs_of(registration.type):
        shape = rules.constraints(row.service, row.member)
        for path, value in values_at(inputs, row.input):
            if isinstance(value, float) and value.is_integer():
                value = int(value)  # the SDK sends numbers as float64
            problem = rules.constraint_problem(value, shape)
            if problem:
                findings.append(
                    _finding(
                        registration,
                        path,
                        value,
                        f"{row.service} {row.member.replace('shape:', '')}: {problem}",
                        f"{shape.source}; {row.source}",
                    )
                )
    return findings


def _documented_findings(
    run: ProgramRun, registration: Registration, inputs: dict[str, Any], shared: FederationConfig | None
) -> list[Finding]:
    findings: list[Finding] = []
    kind = registration.type
    for name, value in _named_buckets(kind, inputs):
        problem = rules.bucket_name_problem(value)
        if problem:
            findings.append(_finding(registration, name, value, problem, rules.S3_BUCKET_RULES_SOURCE))
    if kind == "aws:kms/alias:Alias" and isinstance(inputs.get("name"), str):
        problem = rules.kms_alias_problem(inputs["name"])
        if problem:
            findings.append(_finding(registration, "name", inputs["name"], problem, rules.KMS_ALIAS_SOURCE))
    if kind == "aws:dynamodb/resourcePolicy:ResourcePolicy" and isinstance(inputs.get("policy"), str):
        findings += _table_policy_findings(registration, json.loads(inputs["policy"]))
    for size_rule in rules.SIZE_RULES:
        text = inputs.get(size_rule.input) if size_rule.type == kind else None
        if not isinstance(text, str):
            continue
        limit = size_rule.limit
        if limit is None:
            limit = shared.limits.trust_policy_max_chars if shared else 2048
        size = iam_size(json.loads(text)) if size_rule.counted == "iam" else len(text.encode("utf-8"))
        if size > limit:
            unit = "characters without whitespace" if size_rule.counted == "iam" else "bytes as sent"
            findings.append(
                _finding(
                    registration,
                    size_rule.input,
                    f"{size:,} {unit}",
                    f"over the limit of {limit:,}",
                    size_rule.source,
                )
            )
    if kind == PROVIDER_TYPE and isinstance(inputs.get("region"), str):
        region = inputs["region"]
        if region not in rules.partition_regions():
            findings.append(
                _finding(registration, "region", region, "not a region of the aws partition", rules.PARTITIONS_SOURCE)
            )
    if kind == "aws:s3/bucketLogging:BucketLogging" and shared is not None:
        findings += _access_logging_findings(run, registration, shared)
    return findings


def _named_buckets(kind: str, inputs: dict[str, Any]) -> Iterator[tuple[str, str]]:
    # The bucket's own name where it is created, and the log bucket the access logging names.
    for wanted, key in (("aws:s3/bucket:Bucket", "bucket"), ("aws:s3/bucketLogging:BucketLogging", "targetBucket")):
        if kind == wanted and isinstance(inputs.get(key), str):
            yield key, inputs[key]


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _names(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [str(v) for v in value or []]


def _table_policy_findings(registration: Registration, document: dict[str, Any]) -> list[Finding]:
    """A table's resource policy: every Action an accepted name or the documented wildcard; no NotAction."""
    findings: list[Finding] = []
    actions = [a for s in _statements(document) for a in _names(s.get("Action"))]
    refused = sorted(
        {a for a in actions if a not in rules.DYNAMODB_RESOURCE_POLICY_WILDCARDS and ("*" not in a and "?" not in a)}
        - rules.DYNAMODB_RESOURCE_POLICY_ACTIONS
    )
    if refused:
        findings.append(
            _finding(
                registration,
                "policy Action",
                refused,
                "DynamoDB refuses the whole PutResourcePolicy for actions it does not accept in a table policy "
                '("Invalid policy document: The following action names are invalid")',
                rules.DYNAMODB_ACTIONS_SOURCE,
            )
        )
    wildcards = sorted(
        {a for a in actions if ("*" in a or "?" in a) and a not in rules.DYNAMODB_RESOURCE_POLICY_WILDCARDS}
    )
    if wildcards:
        findings.append(
            _finding(
                registration,
                "policy Action",
                wildcards,
                f"a wildcard other than {', '.join(sorted(rules.DYNAMODB_RESOURCE_POLICY_WILDCARDS))} is documented "
                "nowhere for a table policy and may expand to names DynamoDB refuses",
                rules.DYNAMODB_WILDCARD_SOURCE,
            )
        )
    not_actions = [a for s in _statements(document) for a in _names(s.get("NotAction"))]
    if any("NotAction" in s for s in _statements(document)):
        findings.append(
            _finding(
                registration,
                "policy NotAction",
                not_actions,
                "NotAction in a table policy is not documented as accepted: name the actions (Action)",
                rules.DYNAMODB_NOT_ACTION_SOURCE,
            )
        )
    return findings


def _access_logging_findings(run: ProgramRun, registration: Registration, shared: FederationConfig) -> list[Finding]:
    logging = shared.state_backend.access_logging
    if logging is None:
        return []
    source_account = run.account_of(registration)
    source_region = _provider_region(run, registration)
    findings: list[Finding] = []
    target_account = logging.account_id or shared.shared_account.id
    target_region = logging.region or shared.region
    if target_account != source_account:
        findings.append(
            _finding(
                registration,
                "targetBucket (state_backend.access_logging.account_id)",
                target_account,
                f"the log bucket is in another account than the bucket it logs ({source_account})",
                rules.ACCESS_LOG_SOURCE,
            )
        )
    if source_region is not None and target_region != source_region:
        findings.append(
            _finding(
                registration,
                "targetBucket (state_backend.access_logging.region)",
                target_region,
                f"the log bucket is in another Region than the bucket it logs ({source_region})",
                rules.ACCESS_LOG_SOURCE,
            )
        )
    return findings


def _provider_region(run: ProgramRun, registration: Registration) -> str | None:
    provider = run.by_urn().get(registration.provider_urn)
    region = provider.inputs.get("region") if provider else None
    return region if isinstance(region, str) else None


def _inline_total_findings(sizes: dict[tuple[str, str], int]) -> list[Finding]:
    return [
        Finding(
            NAME,
            f"role {role}",
            f"inline policies = {size:,} characters without whitespace",
            f"over the limit of {rules.ROLE_INLINE_POLICIES_MAX:,} for one role's inline policies",
            rules.ROLE_INLINE_SOURCE,
        )
        for (_, role), size in sorted(sizes.items())
        if size > rules.ROLE_INLINE_POLICIES_MAX
    ]


def _default_tag_findings(run: ProgramRun) -> list[Finding]:
    """Each provider's default tags, against the tag shapes of the services its resources are tagged through."""
    services: dict[str, dict[str, tuple[str, str, str]]] = defaultdict(dict)
    for registration in run.resources:
        if registration.type in rules.TAG_SHAPES:
            shapes = rules.TAG_SHAPES[registration.type]
            services[registration.provider_urn][shapes[0]] = shapes
    findings: list[Finding] = []
    for provider in run.by_type(PROVIDER_TYPE):
        tags = (_inputs(provider).get("defaultTags") or {}).get("tags") or {}
        for service in sorted(services[provider.urn]):
            if service in rules.TAG_LISTS:
                shape = rules.constraints(service, rules.TAG_LISTS[service])
                problem = rules.constraint_problem(list(tags), shape)
                if problem:
                    findings.append(
                        _finding(
                            provider,
                            "defaultTags.tags",
                            f"{len(tags)} tags",
                            f"{service} tags: {problem}",
                            shape.source,
                        )
                    )
        for key, value in sorted(tags.items()):
            if str(key).lower().startswith(rules.RESERVED_TAG_PREFIX):
                findings.append(
                    _finding(
                        provider,
                        f"defaultTags.tags[{key!r}]",
                        key,
                        "tag key prefix reserved",
                        rules.RESERVED_TAG_SOURCE,
                    )
                )
            for service, key_member, value_member in sorted(services[provider.urn].values()):
                for member, text, what in ((key_member, key, "key"), (value_member, value, "value")):
                    shape = rules.constraints(service, member)
                    problem = rules.constraint_problem(text, shape)
                    if problem:
                        findings.append(
                            _finding(
                                provider,
                                f"defaultTags.tags[{key!r}] ({what}, on {service} resources)",
                                text,
                                f"{service} tag {what}: {problem}",
                                shape.source,
                            )
                        )
    return findings


def _duplicate_urns(run: ProgramRun) -> list[Finding]:
    seen: dict[str, int] = defaultdict(int)
    for registration in run.registrations:
        seen[registration.urn] += 1
    return [
        Finding(NAME, urn, f"registered {count} times", "two resources with one URN", rules.DUPLICATE_URN_SOURCE)
        for urn, count in sorted(seen.items())
        if count > 1
    ]
