"""Config validation: the example stack loads, and every kind of bad value gets one clear line."""

from __future__ import annotations

from typing import Any

import pytest

from federation.config import ConfigError, parse_config
from plan.runner import to_pulumi_config
from tests.conftest import config_of, with_changes

SHARED = {"name": "shared", "id": "111111111111"}


def problems_of(section: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        config_of(section)
    return caught.value.problems


def test_example_stack_loads_with_its_values(section: dict[str, Any]) -> None:
    config = config_of(section)
    assert config.organization_id == "o-a1b2c3d4e5"
    assert config.shared_account.id == "111111111111"
    assert [(a.name, a.id) for a in config.accounts] == [
        ("dev", "222222222222"),
        ("stage", "333333333333"),
        ("prod", "444444444444"),
    ]
    assert config.sso.permission_sets == ["AWSAdministratorAccess"]  # trusted permission sets are org admins
    assert config.state_backend.isolate_accounts is True
    assert config.state_backend.readable_state == ["shared"]
    assert config.bucket_name == "terraform-state-111111111111"
    assert config.lock_table_name == "terraform-state-lock-111111111111"
    assert config.roles.doer.managed_policy_arns == {"admin": "arn:aws:iam::aws:policy/AdministratorAccess"}
    assert config.providers.mode == "bootstrap"
    assert config.providers.bootstrap_role_name == "OrganizationAccountAccessRole"
    assert config.state_backend.protect is True


def test_defaults_fill_everything_but_the_required_keys() -> None:
    config = parse_config(
        {
            "iam-federation:organization_id": "o-a1b2c3d4e5",
            "iam-federation:region": "eu-west-1",
            "iam-federation:shared_account": '{"name": "shared", "id": "111111111111"}',
        }
    )
    assert config.accounts == []
    assert config.roles.assumer.name == "infrastructure-assumer-role"
    assert config.roles.doer.name == "infrastructure-doer-role"
    assert config.roles.state_mgmt.name == "state-mgmt-role"
    assert config.sso_account_id == "111111111111"
    assert config.sso_region == "eu-west-1"


def test_other_namespaces_are_ignored(section: dict[str, Any]) -> None:
    section["aws:region"] = "us-west-2"
    assert config_of(section).region == "us-east-1"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            {"accounts": [{"name": "dev", "id": "22222222222"}]},
            "iam-federation:accounts[0].id = '22222222222': must be exactly 12 digits",
        ),
        (
            {"accounts": [{"name": "dev", "id": "22222222222a"}]},
            "iam-federation:accounts[0].id = '22222222222a': must be exactly 12 digits",
        ),
        (
            {"accounts": [{"name": "dev", "id": 222222222222}]},
            "iam-federation:accounts[0].id = 222222222222: a YAML number, which cannot keep an account id's "
            "leading zeros; set it as text: pulumi config set --path 'iam-federation:accounts[0].id' 222222222222 "
            "--type string",
        ),
        (
            {"shared_account": {"name": "shared", "id": "1111"}},
            "iam-federation:shared_account.id = '1111': must be exactly 12 digits",
        ),
        (
            {"accounts": [{"name": "dev", "id": "222222222222"}, {"name": "dev", "id": "333333333333"}]},
            "iam-federation:accounts[1].name = 'dev': duplicate of accounts[0].name",
        ),
        (
            {"accounts": [{"name": "dev", "id": "222222222222"}, {"name": "qa", "id": "222222222222"}]},
            "iam-federation:accounts[1].id = '222222222222': duplicate of accounts[0].id",
        ),
        (
            {"accounts": [{"name": "dev", "id": "111111111111"}]},
            "iam-federation:accounts[0].id = '111111111111': is the shared account, not an application account",
        ),
        (
            {"accounts": [{"name": "shared", "id": "222222222222"}]},
            "iam-federation:accounts[0].name = 'shared': duplicate of shared_account.name",
        ),
        (
            {"accounts": [{"name": "Dev Team", "id": "222222222222"}]},
            "iam-federation:accounts[0].name = 'Dev Team': must be 2-32 characters",
        ),
        (
            {"roles": {"doer": {"managed_policy_arns": {"admin": "AdministratorAccess"}}}},
            "iam-federation:roles.doer.managed_policy_arns.admin = 'AdministratorAccess': must be an IAM policy ARN",
        ),
        (
            {"ci": {"extra_trusted_principal_arns": ["arn:aws:iam::12345:role/x"]}},
            "iam-federation:ci.extra_trusted_principal_arns[0] = 'arn:aws:iam::12345:role/x': must be an IAM role",
        ),
        (
            {"roles": {"assumer": {"name": "a" * 65}}},
            "iam-federation:roles.assumer.name = '" + "a" * 65 + "': must be an IAM role name",
        ),
        (
            {"roles": {"assumer": {"name": "r", "path": "/" + "p" * 63 + "/"}}},
            "exceed 64 characters (console switch-role)",
        ),
        (
            {"roles": {"doer": {"max_session_duration": 600}}},
            "iam-federation:roles.doer.max_session_duration = 600: Input should be greater than or equal to 3600",
        ),
        (
            {"roles": {"doer": {"name": "same"}, "state_mgmt": {"name": "same"}}},
            "iam-federation:roles.state_mgmt.name = 'same': same name as roles.doer.name",
        ),
        ({"organization_id": "org-1"}, "iam-federation:organization_id = 'org-1': must be an AWS Organizations id"),
        ({"region": "mars-1"}, "iam-federation:region = 'mars-1': must be an AWS region"),
        # Other partitions: every ARN the program writes is arn:aws:.
        ({"region": "us-gov-west-1"}, "iam-federation:region = 'us-gov-west-1': must be an AWS region of the aws"),
        ({"region": "cn-north-1"}, "iam-federation:region = 'cn-north-1': must be an AWS region of the aws partition"),
        ({"sso": {"region": "us-isob-east-1"}}, "iam-federation:sso.region = 'us-isob-east-1': must be an AWS region"),
        ({"providers": {"mode": "admin"}}, "iam-federation:providers.mode = 'admin': Input should be 'bootstrap'"),
        ({"roles": {"doer": {"nmae": "x"}}}, "iam-federation:roles.doer.nmae: unknown key (check the spelling)"),
        ({"acounts": []}, "iam-federation:acounts: unknown key (check the spelling)"),
        ({"region": None}, "iam-federation:region: required key is missing"),
        ({"shared_account": {"name": "shared"}}, "iam-federation:shared_account.id: required key is missing"),
    ],
)
def test_bad_config_names_key_and_value(section: dict[str, Any], change: dict[str, Any], expected: str) -> None:
    problems = problems_of(with_changes(section, **change))
    assert any(expected in p for p in problems), problems


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-2", "ap-southeast-5", "il-central-1", "mx-central-1"])
def test_regions_of_the_aws_partition_are_accepted(section: dict[str, Any], region: str) -> None:
    config = config_of(with_changes(section, region=region))
    assert config.region == region


def test_every_problem_is_reported_at_once(section: dict[str, Any]) -> None:
    bad = with_changes(
        section,
        region="nowhere",
        organization_id="o-x",
        accounts=[{"name": "dev", "id": "1"}, {"name": "qa", "id": "2", "owner": "me"}],
    )
    problems = problems_of(bad)
    assert len(problems) == 5, problems
    assert "iam-federation:accounts[1].owner: unknown key (check the spelling)" in problems


def test_error_text_lists_one_problem_per_line(section: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        config_of(with_changes(section, region="x", organization_id="y"))
    lines = str(caught.value).splitlines()
    assert lines[0] == "invalid stack configuration:"
    assert len(lines) == 3 and all(line.startswith("  - iam-federation:") for line in lines[1:])


def test_structured_values_arrive_as_json_text_like_the_cli_sends_them(section: dict[str, Any]) -> None:
    raw = to_pulumi_config(section)
    assert raw["iam-federation:accounts"].startswith("[")
    assert raw["pulumi:disable-default-providers"] == '["*"]'
    assert parse_config(raw).accounts[0].name == "dev"


def test_a_key_typo_is_one_line_with_the_key_it_resembles(section: dict[str, Any]) -> None:
    """issue #17 item 6: `regoin` gave two lines (unknown regoin, missing region) and no hint."""
    typo = with_changes(section, region=None, regoin="us-east-1")
    typo["iam-federation:sso"] = {"permision_sets": ["AWSAdministratorAccess"]}
    typo["iam-federation:accounts"] = [{"name": "dev", "id": "222222222222", "retain_on_delet": True}]
    assert sorted(problems_of(typo)) == [
        "iam-federation:accounts[0].retain_on_delet: unknown key (check the spelling); did you mean retain_on_delete?",
        "iam-federation:regoin: unknown key (check the spelling); did you mean region? (required, and missing)",
        "iam-federation:sso.permision_sets: unknown key (check the spelling); did you mean permission_sets?",
    ]
    # Nothing like any key: no guess.
    assert problems_of(with_changes(section, zzzzzz=1)) == ["iam-federation:zzzzzz: unknown key (check the spelling)"]
