"""AWS accepts it: the check aws-accepts (plan/check_accepts.py) and the config validation of issue #15, item 6.

Each item is a config the landed code accepted and AWS (or the engine) refuses. For each, the test shows that
validation now refuses it with one line naming the key and the value, and that the check flags what the landed code
registered for it (the registered value put back into a run of a valid config: the program no longer registers it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from federation import documents
from federation.aws_names import AWS_PARTITION_REGIONS, KMS_ALIAS_RE, tag_text_problem
from federation.config import MANAGEMENT_PROVIDER_ACCOUNT_NAME, ConfigError, FederationConfig
from federation.load import load_config
from plan import aws_rules
from plan.check_accepts import findings_of
from plan.checks import CHECKS, Finding
from plan.runner import PROVIDER_TYPE, ProgramRun, Registration, to_pulumi_config
from state_backend import policies as sb_policies
from tests.conftest import config_of, example_section, run_section, with_changes

GUARD = {"enabled": True, "target_ids": ["r-ab12"]}
# Three long launcher ARNs whose SCP (the runners-account perimeter, role patterns with twelve ?) fits minified and
# not with whitespace.
LONG_LAUNCHERS = ["arn:aws:iam::111111111111:role/" + "l" * 125 + str(i) for i in range(3)]
# The seven names the landed lock table policy carried (issue #15, item 1).
REFUSED_TABLE_ACTIONS = [
    "dynamodb:ConditionCheckItem",
    "dynamodb:CreateGlobalTable",
    "dynamodb:CreateTableReplica",
    "dynamodb:DeleteTableReplica",
    "dynamodb:StartAwsBackupJob",
    "dynamodb:UpdateGlobalTable",
    "dynamodb:UpdateGlobalTableSettings",
]


def _refusal(section: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(to_pulumi_config(section))
    return caught.value.problems


def _one(findings: list[Finding], *needles: str) -> Finding:
    hits = [f for f in findings if all(n in f.line() for n in needles)]
    assert hits, f"no finding with {needles}: {[f.line() for f in findings]}"
    return hits[0]


def _only(run: ProgramRun, type_: str, name: str | None = None) -> Registration:
    found = [r for r in run.by_type(type_) if name is None or r.name == name]
    assert found, f"no {type_} {name}"
    return found[0]


def _set_provider_json(run: ProgramRun, key: str, change: Callable[[Any], Any]) -> None:
    # A provider's object inputs are registered as JSON text.
    for provider in run.by_type(PROVIDER_TYPE):
        if key in provider.inputs:
            provider.inputs[key] = json.dumps(change(json.loads(provider.inputs[key])))


def _guarded() -> dict[str, Any]:
    return with_changes(example_section(), management_account_id="999999999999", organization_guard=GUARD)


def _with_kms(section: dict[str, Any], **backend: Any) -> dict[str, Any]:
    return with_changes(
        section, state_backend={**section["iam-federation:state_backend"], "kms": {"enabled": True}, **backend}
    )


# --- botocore's Java patterns, read as Java reads them ---------------------------------------------------------


def test_java_word_class_is_ascii() -> None:
    role_name = aws_rules.java_regex(r"[\w+=,.@-]+")
    assert role_name.fullmatch("infrastructure-doer_role@x")
    assert role_name.fullmatch("dóer-role") is None
    assert re.fullmatch(r"[\w+=,.@-]+", "dóer-role"), "Python's own \\w takes it: the reason for re.ASCII"


def test_java_unicode_categories_and_escapes() -> None:
    tag_value = aws_rules.java_regex(aws_rules.constraints("iam", "shape:Tag.Value").pattern or "")
    assert tag_value.fullmatch("Ünïcode 値 _.:/=+-@ 42")
    for bad in [",", "(", ")", "#", "a;b", "tab\tbad"]:
        assert tag_value.fullmatch(bad) is None, bad
    document = aws_rules.java_regex(aws_rules.constraints("iam", "CreateRole.AssumeRolePolicyDocument").pattern or "")
    assert document.fullmatch('{"a":\t"b"}\n')
    assert document.fullmatch("\u0100") is None
    role_arn = aws_rules.java_regex(aws_rules.constraints("sts", "AssumeRole.RoleArn").pattern or "")
    assert role_arn.fullmatch("arn:aws:iam::111111111111:role/x\U0001f600"), "\\u10000-\\u10FFFF: supplementary"
    assert role_arn.fullmatch("arn\u0001") is None


def test_program_copies_of_aws_rules_agree_with_botocore() -> None:
    assert aws_rules.partition_regions() == AWS_PARTITION_REGIONS, "update federation/aws_names.py from botocore"
    assert aws_rules.constraints("kms", "CreateAlias.AliasName").pattern == "^[a-zA-Z0-9:/_-]+$"
    assert KMS_ALIAS_RE.pattern == r"^alias/[a-zA-Z0-9:/_-]+$"
    value = aws_rules.java_regex(aws_rules.constraints("iam", "shape:Tag.Value").pattern or "")
    for text in ["plain", "Ünïcode 値", "ops (team #1)", "a,b", "ok:/=+-@_.", "x" * 257]:
        by_model = bool(value.fullmatch(text)) and len(text) <= 256
        assert (tag_text_problem(text, key=False) is None) == by_model, text


# --- the check on what the program registers today --------------------------------------------------------------


def test_check_is_registered_and_passes_the_example() -> None:
    assert "aws-accepts" in [name for name, _ in CHECKS]
    section = example_section()
    assert findings_of([run_section(section)], config_of(section)) == []


def test_check_passes_a_config_with_every_option_on() -> None:
    section = _with_kms(
        _guarded(),
        access_logging={"target_bucket": "acme-s3-access-logs", "account_id": "111111111111", "region": "us-east-1"},
        bucket_name="acme.terraform-state",
    )
    section = with_changes(
        section,
        plan_path={**section["iam-federation:plan_path"], "enabled": True},
        ci={
            **section["iam-federation:ci"],
            "oidc": [{"name": "gh", "provider": "github", "apply_subjects": ["repo:o@1/r@2:ref:refs/heads/main"]}],
        },
        organization_guard={**GUARD, "runner_launcher_arns": ["arn:aws:iam::111111111111:role/launcher"]},
    )
    run = run_section(section)
    types = {r.type for r in run.registrations}
    assert {"aws:kms/alias:Alias", "aws:organizations/policy:Policy", "aws:s3/bucketLogging:BucketLogging"} <= types
    assert findings_of([run], config_of(section)) == []


def test_check_fails_on_the_landed_lock_table_actions() -> None:
    section = example_section()
    run = run_section(section)
    table_policy = _only(run, "aws:dynamodb/resourcePolicy:ResourcePolicy")
    document = json.loads(table_policy.inputs["policy"])
    assert not set(REFUSED_TABLE_ACTIONS) & {a for s in document["Statement"] for a in s["Action"]}
    document["Statement"][-1]["Action"] += REFUSED_TABLE_ACTIONS  # the landed list, before the fix
    table_policy.inputs["policy"] = json.dumps(document)
    finding = _one(findings_of([run], config_of(section)), "state-backend-lock-table-policy", "Invalid policy")
    assert finding.what == f"policy Action = {REFUSED_TABLE_ACTIONS!r}"
    assert finding.source == aws_rules.DYNAMODB_ACTIONS_SOURCE


def _table_policy_with(change: Callable[[dict[str, Any]], None]) -> list[Finding]:
    """The example's registered lock table policy, changed as given, through the check."""
    section = example_section()
    run = run_section(section)
    table_policy = _only(run, "aws:dynamodb/resourcePolicy:ResourcePolicy")
    document = json.loads(table_policy.inputs["policy"])
    change(document)
    table_policy.inputs["policy"] = json.dumps(document)
    resource = f"{table_policy.type} {table_policy.name}"
    return [f for f in findings_of([run], config_of(section)) if f.resource == resource]


@pytest.mark.parametrize("wildcard", ["*", "dynamodb:Create*", "s3:*", "dynamodb:Get?tem"])
def test_a_table_policy_wildcard_other_than_dynamodb_star_is_refused(wildcard: str) -> None:
    def add(document: dict[str, Any]) -> None:
        document["Statement"][-1]["Action"] = [*document["Statement"][-1]["Action"], wildcard]

    (finding,) = _table_policy_with(add)
    assert finding.what == f"policy Action = {[wildcard]!r}"
    assert finding.source == aws_rules.DYNAMODB_WILDCARD_SOURCE
    # The documented wildcard passes: the program's own deny-everyone statement uses it.
    assert _table_policy_with(lambda document: None) == []


def test_a_table_policy_not_action_is_checked() -> None:
    def add(document: dict[str, Any]) -> None:
        statement = document["Statement"][-1]
        statement["NotAction"] = ["dynamodb:GetItem", "dynamodb:CreateGlobalTable"]
        del statement["Action"]

    found = _table_policy_with(add)
    assert [(f.what, f.source) for f in found] == [
        ("policy NotAction = ['dynamodb:GetItem', 'dynamodb:CreateGlobalTable']", aws_rules.DYNAMODB_NOT_ACTION_SOURCE)
    ]


def test_the_programs_table_actions_are_a_choice_within_the_rule() -> None:
    """One rule (plan/aws_rules.py); the program's list (it cannot import plan/) is a subset of it."""
    assert set(sb_policies.TABLE_POLICY_ACTIONS) <= aws_rules.DYNAMODB_RESOURCE_POLICY_ACTIONS
    assert sb_policies.TABLE_POLICY_WILDCARD in aws_rules.DYNAMODB_RESOURCE_POLICY_WILDCARDS
    for names in (sb_policies.TABLE_ITEM_ACTIONS, sb_policies.TABLE_COPY_ACTIONS, sb_policies.TABLE_READ_ACTIONS):
        assert set(names) <= set(sb_policies.TABLE_POLICY_ACTIONS)
    # Every name the builder writes, with every principal it can name.
    document = sb_policies.lock_table_policy(
        table_arn=sb_policies.table_arn("us-east-1", "111111111111", "locks"),
        state_mgmt_arn="arn:aws:iam::111111111111:role/state-mgmt",
        deployer_arns=["arn:aws:iam::111111111111:role/doer"],
        state_reader_arn="arn:aws:iam::111111111111:role/reader",
        plan_doer_arn="arn:aws:iam::111111111111:role/plan-doer",
    )
    named = {a for s in document["Statement"] for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])}
    assert named <= aws_rules.DYNAMODB_RESOURCE_POLICY_ACTIONS | aws_rules.DYNAMODB_RESOURCE_POLICY_WILDCARDS
    assert not any("NotAction" in s for s in document["Statement"])


# --- issue #15 item 6: refused by validation, flagged by the check -------------------------------------------------


def test_account_named_management_with_the_guard() -> None:
    section = _guarded()
    bad = with_changes(
        section, accounts=section["iam-federation:accounts"] + [{"name": "management", "id": "999999999999"}]
    )
    (problem,) = _refusal(bad)
    assert problem.startswith("iam-federation:accounts[3].name = 'management': with organization_guard.enabled")
    run = run_section(section)
    # The guard's provider is named as config.py says, so an account of that name would collide with it.
    management = _only(run, PROVIDER_TYPE, f"aws-{MANAGEMENT_PROVIDER_ACCOUNT_NAME}")
    run.registrations.append(management)  # the account's provider aws-management, as the landed code registered it
    finding = _one(findings_of([run], config_of(section)), "aws-management", "registered 2 times")
    assert "Duplicate resource URN" in finding.source


def test_scp_measured_as_sent() -> None:
    # Three long launcher ARNs: 5,081 characters minified (with the backend roles statement), more than 5,120 with
    # json.dumps' whitespace (what it sent). The SCP is now registered minified: what is measured is what is sent.
    section = with_changes(_guarded(), organization_guard={**GUARD, "runner_launcher_arns": LONG_LAUNCHERS})
    document = documents.organization_guard(config_of(section))
    landed = json.dumps(document)
    assert len(json.dumps(document, separators=(",", ":"))) <= 5120 < len(landed)
    run = run_section(section)
    scp = _only(run, "aws:organizations/policy:Policy")
    assert scp.inputs["content"] == json.dumps(document, separators=(",", ":"))
    assert findings_of([run], config_of(section)) == []
    scp.inputs["content"] = landed
    finding = _one(findings_of([run], config_of(section)), "organization-guard-scp", "content")
    assert finding.what == f"content = '{len(landed):,} bytes as sent'" and "5,120" in finding.rule
    # Longer ones go over even minified: refused with the measured size and the keys it grows with.
    longer = [arn + "x" * 40 for arn in LONG_LAUNCHERS]
    bad = with_changes(_guarded(), organization_guard={**GUARD, "runner_launcher_arns": longer})
    size = len(json.dumps(documents.organization_guard(config_of(bad)), separators=(",", ":")))
    (problem,) = _refusal(bad)
    assert problem == (
        "iam-federation:organization_guard.runner_launcher_arns, roles: the organization guard SCP would be "
        f"{size:,} characters, over its limit of 5,120"
    )


@pytest.mark.parametrize("value", ["ops (team #1), infra", "a,b", "cost#42"])
def test_tag_values_outside_iams_pattern(value: str) -> None:
    section = example_section()
    bad = with_changes(section, tags={"Project": "iam-federation", "Owner": value})
    (problem,) = _refusal(bad)
    assert problem.startswith(f"iam-federation:tags.Owner = {value!r}: IAM's tag pattern")
    run = run_section(section)
    _set_provider_json(run, "defaultTags", lambda tags: {"tags": {**tags["tags"], "Owner": value}})
    finding = _one(findings_of([run], config_of(section)), "aws-shared", "Owner", "iam tag value")
    assert "tagValueType" in finding.source


def test_check_counts_default_tags_per_resource() -> None:
    section = example_section()
    run = run_section(section)
    _set_provider_json(run, "defaultTags", lambda tags: {"tags": {f"k{i}": "v" for i in range(51)}})
    finding = _one(findings_of([run], config_of(section)), "aws-shared", "defaultTags.tags = '51 tags'")
    assert finding.rule == "iam tags: 51 entries, over 50" and "tagListType" in finding.source


def test_tag_key_outside_iams_pattern_and_reserved_prefix() -> None:
    section = example_section()
    assert _refusal(with_changes(section, tags={"team(s)": "x"}))[0].startswith(
        "iam-federation:tags.team(s) = 'team(s)': IAM's tag pattern"
    )
    assert "aws: is reserved" in _refusal(with_changes(section, tags={"AWS:x": "y"}))[0]


def test_dotted_bucket_with_kms_gets_a_valid_alias() -> None:
    section = _with_kms(example_section(), bucket_name="acme.terraform-state")
    run = run_section(section)
    alias = _only(run, "aws:kms/alias:Alias")
    assert alias.inputs["name"] == "alias/acme-terraform-state"
    assert _only(run, "aws:s3/bucket:Bucket").inputs["bucket"] == "acme.terraform-state"
    assert findings_of([run], config_of(section)) == []
    # Without dots the alias is the one the landed code registered (no deployed alias is replaced).
    plain = run_section(_with_kms(example_section()))
    assert _only(plain, "aws:kms/alias:Alias").inputs["name"] == "alias/terraform-state-111111111111"
    alias.inputs["name"] = "alias/acme.terraform-state"  # what the landed code registered
    finding = _one(findings_of([run], config_of(section)), "state-backend-key-alias", "AliasNameType")
    assert finding.what == "name = 'alias/acme.terraform-state'"


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("192.168.5.4", "IP address"),
        ("sthree-state", "not start with"),
        ("xn--state", "not start with"),
        ("amzn-s3-demo-state", "not start with"),
        ("state-s3alias", "not end with"),
        ("state--ol-s3", "not end with"),
        ("state--x-s3", "not end with"),
    ],
)
def test_reserved_bucket_names(name: str, rule: str) -> None:
    section = example_section()
    bad = with_changes(section, state_backend={**section["iam-federation:state_backend"], "bucket_name": name})
    (problem,) = _refusal(bad)
    assert problem.startswith(f"iam-federation:state_backend.bucket_name = {name!r}: S3 bucket names must")
    assert rule in problem
    run = run_section(section)
    _only(run, "aws:s3/bucket:Bucket").inputs["bucket"] = name
    finding = _one(findings_of([run], config_of(section)), "state-backend-bucket", rule)
    assert finding.source == aws_rules.S3_BUCKET_RULES_SOURCE


def test_non_ascii_role_name() -> None:
    section = example_section()
    roles = section["iam-federation:roles"]
    bad = with_changes(section, roles={**roles, "doer": {**roles["doer"], "name": "dóer-role"}})
    (problem,) = _refusal(bad)
    assert problem.startswith("iam-federation:roles.doer.name = 'dóer-role': must be an IAM role name")
    run = run_section(section)
    _only(run, "aws:iam/role:Role", "doer-dev-role").inputs["name"] = "dóer-role"
    finding = _one(findings_of([run], config_of(section)), "doer-dev-role", "RoleName")
    assert "roleNameType" in finding.source


@pytest.mark.parametrize("key", ["session_name", "path"])
def test_non_ascii_session_names_and_paths(key: str) -> None:
    section = example_section()
    if key == "session_name":
        bad = with_changes(section, providers={**section["iam-federation:providers"], "session_name": "pulumi-josé"})
        expected = "iam-federation:providers.session_name = 'pulumi-josé'"
    else:
        roles = section["iam-federation:roles"]
        bad = with_changes(section, roles={**roles, "doer": {**roles["doer"], "path": "/équipe/"}})
        expected = "iam-federation:roles.doer.path = '/équipe/'"
    (problem,) = _refusal(bad)
    assert problem.startswith(expected)
    run = run_section(section)
    _set_provider_json(run, "assumeRoles", lambda roles: [{**r, "sessionName": "pulumi-josé"} for r in roles])
    finding = _one(findings_of([run], config_of(section)), "aws-dev", "sessionName")
    assert "roleSessionNameType" in finding.source


def test_oidc_issuer_over_255_characters() -> None:
    section = example_section()
    url = "https://ci.example.com/" + "a" * 240
    trust = {
        "name": "ghes",
        "provider": "generic",
        "audience": "sts.amazonaws.com",
        "apply_subjects": ["repo:o@1/r@2:ref:refs/heads/main"],
    }
    bad = with_changes(section, ci={**section["iam-federation:ci"], "oidc": [{**trust, "issuer_url": url}]})
    (problem,) = _refusal(bad)
    assert problem.startswith("iam-federation:ci.oidc[0].issuer_url = 'https://ci.example.com/aaa")
    assert "255" in problem
    good = with_changes(
        section, ci={**section["iam-federation:ci"], "oidc": [{**trust, "issuer_url": "https://ci.example.com/x"}]}
    )
    run = run_section(good)
    _only(run, "aws:iam/openIdConnectProvider:OpenIdConnectProvider").inputs["url"] = url
    finding = _one(findings_of([run], config_of(good)), "assumer-oidc-ghes", "CreateOpenIDConnectProvider.Url")
    assert "over 255" in finding.rule


def test_region_outside_the_partition() -> None:
    section = example_section()
    (problem,) = _refusal(with_changes(section, region="us-esat-1"))
    assert problem.startswith("iam-federation:region = 'us-esat-1': not a region of the aws partition")
    run = run_section(section)
    for provider in run.by_type(PROVIDER_TYPE):
        provider.inputs["region"] = "us-esat-1"
    finding = _one(findings_of([run], config_of(section)), "aws-shared", "region = 'us-esat-1'")
    assert finding.source == aws_rules.PARTITIONS_SOURCE


@pytest.mark.parametrize(("key", "value"), [("account_id", "555555555555"), ("region", "eu-west-1")])
def test_access_logging_to_another_account_or_region(key: str, value: str) -> None:
    section = example_section()
    backend = section["iam-federation:state_backend"]
    logging = {"target_bucket": "acme-s3-access-logs"}
    bad = with_changes(section, state_backend={**backend, "access_logging": {**logging, key: value}})
    (problem,) = _refusal(bad)
    assert problem.startswith(f"iam-federation:state_backend.access_logging.{key} = {value!r}: S3 delivers")
    good = with_changes(section, state_backend={**backend, "access_logging": logging})
    run = run_section(good)
    config = config_of(good)
    assert findings_of([run], config) == []
    # The config the landed code could not express: its log bucket elsewhere, as if validation let it through.
    assert config.state_backend.access_logging is not None
    elsewhere = config.state_backend.access_logging.model_copy(update={key: value})
    landed = config.model_copy(
        update={"state_backend": config.state_backend.model_copy(update={"access_logging": elsewhere})}
    )
    assert isinstance(landed, FederationConfig)
    finding = _one(findings_of([run], landed), "state-backend-access-logging", f"access_logging.{key}")
    assert finding.source == aws_rules.ACCESS_LOG_SOURCE


def test_the_programs_item_and_copy_actions_are_dynamodbs_documented_ones() -> None:
    # The lock table's guards (the program's choice) name exactly the items and copies AWS documents (the rule).
    from state_backend import policies as sb

    assert set(sb.TABLE_ITEM_ACTIONS) == set(aws_rules.DYNAMODB_ITEM_ACTIONS)
    assert set(sb.TABLE_COPY_ACTIONS) == set(aws_rules.DYNAMODB_COPY_ACTIONS)
    assert set(aws_rules.DYNAMODB_ITEM_ACTIONS) <= aws_rules.DYNAMODB_RESOURCE_POLICY_ACTIONS
