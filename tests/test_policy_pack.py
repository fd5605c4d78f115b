"""The CrossGuard rules, called in-process on what the mocks captured: each passes on the program's resources and
fails on a tampered copy."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from pulumi_policy import ResourceValidationArgs
from pulumi_policy.policy import PolicyCustomTimeouts, PolicyProviderResource, PolicyResourceOptions

from plan.runner import ProgramRun, Registration
from policy.rules import RULES, policies


def validation_args(run: ProgramRun, reg: Registration, props: dict[str, Any] | None = None) -> ResourceValidationArgs:
    provider = None
    if reg.provider_urn:
        provider_reg = run.by_urn()[reg.provider_urn]
        provider = PolicyProviderResource(
            "pulumi:providers:aws", provider_reg.inputs, provider_reg.urn, provider_reg.name
        )
    opts = PolicyResourceOptions(
        protect=reg.protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=reg.parent,
    )
    return ResourceValidationArgs(
        reg.type, props if props is not None else reg.inputs, reg.urn, reg.name, opts, provider
    )


def violations(rule: str, args: ResourceValidationArgs) -> list[str]:
    found: list[str] = []
    RULES[rule][1](args, lambda message, urn=None: found.append(message))
    return found


def test_every_rule_is_a_mandatory_policy() -> None:
    pack = policies()
    assert [p.name for p in pack] == list(RULES)
    assert all(p.enforcement_level.value == "mandatory" for p in pack)


def test_the_program_passes_every_rule(example_run: ProgramRun) -> None:
    found = {
        (rule, reg.name): violations(rule, validation_args(example_run, reg))
        for rule in RULES
        for reg in example_run.resources
        if reg.custom
    }
    assert {key: v for key, v in found.items() if v} == {}


def one(run: ProgramRun, name: str) -> Registration:
    (reg,) = [r for r in run.registrations if r.name == name]
    return reg


def tamper_json(key: str, change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def apply(props: dict[str, Any]) -> None:
        document = json.loads(props[key])
        change(document)
        props[key] = json.dumps(document)

    return apply


def _drop_conditions(document: dict[str, Any]) -> None:
    for statement in document["Statement"]:
        statement.pop("Condition", None)


def _star_action(document: dict[str, Any]) -> None:
    document["Statement"][0]["Action"] = "*"
    document["Statement"][0]["Resource"] = "*"


def _iam_action(document: dict[str, Any]) -> None:
    document["Statement"][0]["Action"] = ["sts:AssumeRole", "iam:PassRole"]


def _no_tls_deny(document: dict[str, Any]) -> None:
    document["Statement"] = [s for s in document["Statement"] if s["Sid"] != "DenyInsecureTransport"]


CASES: list[tuple[str, str, Callable[[dict[str, Any]], None]]] = [
    ("state-bucket-no-force-destroy", "state-backend-bucket", lambda p: p.update(forceDestroy=True)),
    (
        "state-bucket-versioning",
        "state-backend-versioning",
        lambda p: p.update(versioningConfiguration={"status": "Suspended"}),
    ),
    (
        "state-bucket-encryption",
        "state-backend-encryption",
        lambda p: p.update(rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms"}}]),
    ),
    (
        "state-bucket-public-access-block",
        "state-backend-public-access-block",
        lambda p: p.update(ignorePublicAcls=False),
    ),
    (
        "state-bucket-owner-enforced",
        "state-backend-ownership",
        lambda p: p.update(rule={"objectOwnership": "ObjectWriter"}),
    ),
    (
        "state-bucket-noncurrent-lifecycle",
        "state-backend-lifecycle",
        lambda p: p["rules"][0].pop("noncurrentVersionExpiration"),
    ),
    ("bucket-policy-denies-insecure-transport", "state-backend-policy", tamper_json("policy", _no_tls_deny)),
    ("lock-table-hardened", "state-backend-lock-table", lambda p: p.update(deletionProtectionEnabled=False)),
    ("lock-table-hardened", "state-backend-lock-table", lambda p: p.update(pointInTimeRecovery={"enabled": False})),
    (
        "no-unnarrowed-star-principal",
        "state-backend-state-mgmt-role",
        tamper_json("assumeRolePolicy", _drop_conditions),
    ),
    ("no-admin-or-escalation-in-inline-policies", "assumer-assume-only", tamper_json("policy", _star_action)),
    (
        "no-admin-or-escalation-in-inline-policies",
        "state-backend-state-mgmt-access",
        tamper_json("policy", _iam_action),
    ),
]


@pytest.mark.parametrize(("rule", "resource", "tamper"), CASES, ids=[f"{c[0]}:{c[1]}" for c in CASES])
def test_each_rule_fails_on_a_tampered_resource(
    example_run: ProgramRun, rule: str, resource: str, tamper: Callable[[dict[str, Any]], None]
) -> None:
    reg = one(example_run, resource)
    assert violations(rule, validation_args(example_run, reg)) == []
    props = copy.deepcopy(reg.inputs)
    tamper(props)
    assert violations(rule, validation_args(example_run, reg, props)), f"{rule} did not catch the change"


def test_protection_and_provider_rules_fail_without_them(example_run: ProgramRun) -> None:
    table = one(example_run, "state-backend-lock-table")
    unprotected = copy.copy(table)
    unprotected.protect = False
    assert violations("state-stores-protected", validation_args(example_run, unprotected))
    orphan = copy.copy(one(example_run, "doer-dev-role"))
    orphan.provider = ""
    assert violations("explicit-provider", validation_args(example_run, orphan))
