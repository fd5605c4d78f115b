"""Config the Pulumi CLI can write: what `pulumi config set` writes is accepted or refused with the command that
fixes it, stack files are read as the CLI reads them (go-yaml v3), and every refusal is one line naming the key.

Every stack file here is written into tmp_path by the test; none reads the project's Pulumi.<stack>.yaml files.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

import plan.__main__ as plan_main
from federation.config import ConfigError, FederationConfig, MemberConfig, config_keys, parse_config
from federation.load import load_config
from federation.stack_config import stack_config, stack_keys
from plan.runner import run_program, run_stack_file, stack_file_config, to_pulumi_config
from plan.stack_yaml import go_yaml_reading
from tests.conftest import registered_types

PROJECT_FILE = Path(__file__).resolve().parent.parent / "Pulumi.yaml"

HEAD = """\
config:
  pulumi:disable-default-providers:
    - "*"
  iam-federation:organization_id: o-a1b2c3d4e5
  iam-federation:region: us-east-1
  iam-federation:shared_account:
    name: shared
    id: "111111111111"
"""
LIST_FORM = """\
  iam-federation:accounts:
    - name: dev
      id: "222222222222"
    - name: prod
      id: "444444444444"
"""
MAP_FORM = """\
  iam-federation:accounts:
    prod:
      id: "444444444444"
    dev:
      id: "222222222222"
"""


def write(tmp_path: Path, text: str, stack: str = "cli") -> Path:
    path = tmp_path / f"Pulumi.{stack}.yaml"
    path.write_text(text)
    return path


def where(text: str, needle: str, after: str = "") -> str:
    """line:column (from 1) of ``needle`` in ``text``, searching from the first ``after``."""
    index = text.index(needle, text.index(after) if after else 0)
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return f"{line}:{column}"


def file_problems(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(stack_file_config(path))
    return caught.value.problems


# --- go-yaml v3's reading of plain scalars ------------------------------------------------------------------------

# Cases from go-yaml v3.0.1 decode_test.go, decoded into interface{} as the CLI decodes config values.
GO_YAML_OWN_CASES: list[tuple[str, tuple[str, Any]]] = [
    ("hi", ("str", "hi")),
    ("true", ("bool", True)),
    ("False", ("bool", False)),
    ("TRUE", ("bool", True)),
    ("10", ("int", 10)),
    ("0b10", ("int", 2)),
    ("0xA", ("int", 10)),
    ("4294967296", ("int", 4294967296)),
    ("0.1", ("float", 0.1)),
    (".1", ("float", 0.1)),
    ("-10", ("int", -10)),
    ("-.1", ("float", -0.1)),
    ("6.8523e+5", ("float", 6.8523e5)),
    ("685.230_15e+03", ("float", 685.23015e03)),
    ("685_230.15", ("float", 685230.15)),
    ("685230", ("int", 685230)),
    ("+685_230", ("int", 685230)),
    ("02472256", ("int", 685230)),
    ("-02472256", ("int", -685230)),
    ("0o2472256", ("int", 685230)),
    ("-0o2472256", ("int", -685230)),
    ("0x_0A_74_AE", ("int", 685230)),
    ("0b1010_0111_0100_1010_1110", ("int", 685230)),
    ("-0b101010", ("int", -42)),
    ("-0b" + "1" + "0" * 63, ("int", -(2**63))),
    ("", ("null", None)),
    ("~", ("null", None)),
    ("null", ("null", None)),
    ("-b_c", ("str", "-b_c")),
    ("+b_c", ("str", "+b_c")),
    ("50cent_of_dollar", ("str", "50cent_of_dollar")),
    ("1:1", ("str", "1:1")),
    ("1.2.3.4", ("str", "1.2.3.4")),
    ("2015-01-01", ("timestamp", "2015-01-01")),
    ("2015-02-24T18:19:39.12Z", ("timestamp", "2015-02-24T18:19:39.12Z")),
    ("2015-2-3T3:4:5Z", ("timestamp", "2015-2-3T3:4:5Z")),
    ("2015-02-24t18:19:39Z", ("timestamp", "2015-02-24t18:19:39Z")),
    ("2015-02-24 18:19:39", ("timestamp", "2015-02-24 18:19:39")),
    # resolve.go: YAML 1.1's words are text when decoded into interface{}; 0-prefixed digits are octal when they
    # can be, else (8 or 9 among them) a float through yamlStyleFloat.
    ("no", ("str", "no")),
    ("yes", ("str", "yes")),
    ("on", ("str", "on")),
    ("y", ("str", "y")),
    ("012345678901", ("float", 12345678901.0)),
    ("1e3", ("float", 1000.0)),
]


@pytest.mark.parametrize(("text", "expected"), GO_YAML_OWN_CASES)
def test_go_yaml_reading_matches_go_yamls_own_cases(text: str, expected: tuple[str, Any]) -> None:
    kind, value = go_yaml_reading(text)
    assert (kind, type(value)) == (expected[0], type(expected[1]))
    assert value == expected[1] or (isinstance(value, float) and math.isclose(value, expected[1]))


def test_go_yaml_reads_infinities_and_nan() -> None:
    assert go_yaml_reading(".Inf") == ("float", math.inf)
    assert go_yaml_reading("-.inf") == ("float", -math.inf)
    kind, value = go_yaml_reading(".NaN")
    assert kind == "float" and math.isnan(value)


# --- stack files: where go-yaml and PyYAML may differ, one line naming file:line:column, key and value ----------


TAGGED = HEAD + LIST_FORM + "  iam-federation:tags:\n    Team: {value}\n"


@pytest.mark.parametrize(
    ("value", "why"),
    [
        ("no", "the Pulumi CLI (go-yaml v3) reads the text 'no', PyYAML (YAML 1.1) reads the boolean false"),
        ("yes", "the Pulumi CLI (go-yaml v3) reads the text 'yes', PyYAML (YAML 1.1) reads the boolean true"),
        ("on", "the Pulumi CLI (go-yaml v3) reads the text 'on', PyYAML (YAML 1.1) reads the boolean true"),
        ("Off", "the Pulumi CLI (go-yaml v3) reads the text 'Off', PyYAML (YAML 1.1) reads the boolean false"),
        ("y", "YAML 1.1 readers (and the Pulumi CLI before 3.50, go-yaml v2) read a boolean, go-yaml v3 reads text"),
        ("n", "YAML 1.1 readers (and the Pulumi CLI before 3.50, go-yaml v2) read a boolean, go-yaml v3 reads text"),
        ("1:20", "the Pulumi CLI (go-yaml v3) reads the text '1:20', PyYAML (YAML 1.1) reads the number 80"),
        ("0o17", "the Pulumi CLI (go-yaml v3) reads the number 15, PyYAML (YAML 1.1) reads the text '0o17'"),
        ("1e3", "the Pulumi CLI (go-yaml v3) reads the number 1000, PyYAML (YAML 1.1) reads the text '1e3'"),
        (
            "0755",
            "a leading zero makes YAML read the octal number 493, while `pulumi config set --path` keeps such "
            "digits as text",
        ),
        (
            "2024-01-31",
            "the Pulumi CLI (go-yaml v3) reads a timestamp (as Go's time text), PyYAML (YAML 1.1) reads a date",
        ),
        (".inf", "the CLI hands values to the program as JSON, which has no infinity or NaN"),
    ],
)
def test_values_the_readers_may_read_differently_are_refused(tmp_path: Path, value: str, why: str) -> None:
    text = TAGGED.format(value=value)
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        stack_file_config(path)
    assert caught.value.problems == [
        f'Pulumi.cli.yaml:{where(text, value, "Team:")}: iam-federation:tags.Team = {value}: {why}; quote it: "{value}"'
    ]


def test_an_unquoted_id_with_a_leading_zero_is_refused_where_it_is_written(tmp_path: Path) -> None:
    text = HEAD + LIST_FORM.replace('"222222222222"', "012345678901").replace("name: prod", "name: no")
    path = write(tmp_path, text)
    assert file_problems(path) == [
        f"Pulumi.cli.yaml:{where(text, '012345678901')}: iam-federation:accounts[0].id = 012345678901: the Pulumi "
        "CLI (go-yaml v3) reads the number 12345678901, PyYAML (YAML 1.1) reads the text '012345678901'; "
        'quote it: "012345678901"',
        f"Pulumi.cli.yaml:{where(text, 'no')}: iam-federation:accounts[1].name = no: the Pulumi CLI (go-yaml v3) "
        "reads the text 'no', PyYAML (YAML 1.1) reads the boolean false; quote it: \"no\"",
    ]


def test_quoted_the_same_values_are_text(tmp_path: Path) -> None:
    text = HEAD + LIST_FORM.replace('"222222222222"', '"012345678901"').replace("name: prod", 'name: "no"')
    config = load_config(stack_file_config(write(tmp_path, text)))
    assert [(a.name, a.id) for a in config.accounts] == [("dev", "012345678901"), ("no", "444444444444")]


def test_a_key_the_readers_read_differently_is_refused(tmp_path: Path) -> None:
    text = HEAD + MAP_FORM.replace("    dev:", "    on:")
    with pytest.raises(ConfigError) as caught:
        stack_file_config(write(tmp_path, text))
    assert caught.value.problems == [
        f"Pulumi.cli.yaml:{where(text, 'on:', 'accounts:')}: iam-federation:accounts: key on: "
        "the Pulumi CLI (go-yaml v3) reads the text 'on', PyYAML (YAML 1.1) reads the boolean true; quote it: \"on\""
    ]


def test_a_key_defined_twice_is_refused_as_the_cli_does(tmp_path: Path) -> None:
    text = HEAD + MAP_FORM + '    dev:\n      id: "333333333333"\n'
    with pytest.raises(ConfigError) as caught:
        stack_file_config(write(tmp_path, text))
    first = where(text, "dev:").split(":")[0]
    assert caught.value.problems == [
        f"Pulumi.cli.yaml:{where(text, 'dev:', '222222222222')}: key 'dev' is defined twice (first at line {first}); "
        "the Pulumi CLI refuses the file"
    ]


# --- syntax errors and secrets: one line, no traceback -----------------------------------------------------------


def test_a_yaml_syntax_error_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = HEAD + "  iam-federation:accounts: [dev\n"
    path = write(tmp_path, text)
    expected = (
        f"Pulumi.cli.yaml:{text.count(chr(10)) + 1}:1: YAML syntax error: while parsing a flow sequence, "
        "expected ',' or ']', but got '<stream end>'"
    )
    with pytest.raises(ConfigError) as caught:
        stack_file_config(path)
    assert caught.value.problems == [expected]

    assert plan_main.main(["--stack-file", str(path), "--out", str(tmp_path / "out"), "--no-png"]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == [f"error: {path}: invalid stack configuration:", f"  - {expected}"]


def test_a_secure_value_for_a_key_of_this_program_cannot_be_planned_offline(tmp_path: Path) -> None:
    text = HEAD + LIST_FORM + "  iam-federation:sso:\n    start_url:\n      secure: AAABADQXFlU0mxC\n"
    with pytest.raises(ConfigError) as caught:
        stack_file_config(write(tmp_path, text))
    assert caught.value.problems == [
        f"Pulumi.cli.yaml:{where(text, 'secure:')}: iam-federation:sso.start_url: is stored as a secret (secure:), "
        "which the offline plan cannot decrypt; this program writes its settings in plain text into resource names, "
        "policies, tags and stack outputs, so none may be secret: set it again without --secret"
    ]
    assert "AAABADQXFlU0mxC" not in caught.value.problems[0]


def test_a_secure_value_of_another_namespace_is_left_out(tmp_path: Path) -> None:
    text = HEAD + LIST_FORM + "  aws:secretKey:\n    secure: AAABADQXFlU0mxC\n"
    raw = stack_file_config(write(tmp_path, text))
    assert "aws:secretKey" not in raw
    assert load_config(raw).region == "us-east-1"


def test_a_secret_key_is_refused_by_the_program_without_its_value() -> None:
    raw = to_pulumi_config(yaml.safe_load(HEAD + LIST_FORM)["config"])
    with pytest.raises(pulumi.RunError) as caught:
        run_program(raw, stack="cli", secret_keys=["iam-federation:shared_account"])
    assert str(caught.value).splitlines() == [
        "invalid stack configuration:",
        "  - iam-federation:shared_account: is stored as a secret; this program writes its settings in plain text "
        "into resource names, policies, tags and stack outputs, so none may be secret: set it again without --secret",
    ]


# --- what `pulumi config set` writes --------------------------------------------------------------------------------


def test_an_id_set_without_type_string_names_the_command_that_fixes_it(tmp_path: Path) -> None:
    # `pulumi config set --path 'iam-federation:accounts[0].id' 200000000001` writes a YAML number (PR #18287).
    text = HEAD + LIST_FORM.replace('"222222222222"', "200000000001")
    assert file_problems(write(tmp_path, text)) == [
        "iam-federation:accounts[0].id = 200000000001: a YAML number, which cannot keep an account id's leading "
        "zeros; set it as text: pulumi config set --path 'iam-federation:accounts[0].id' 200000000001 "
        "--type string, or quote it in the stack file"
    ]


def test_a_number_that_lost_its_leading_zeros_gets_them_back_in_the_command(tmp_path: Path) -> None:
    # What the CLI hands over for an unquoted 012345678901 hand-written in the map form: the float 12345678901.
    raw = to_pulumi_config(yaml.safe_load(HEAD)["config"])
    raw["iam-federation:accounts"] = json.dumps({"dev": {"id": 12345678901.0}})
    with pytest.raises(ConfigError) as caught:
        load_config(raw)
    assert caught.value.problems == [
        "iam-federation:accounts.dev.id = 12345678901: a YAML number, which cannot keep an account id's leading "
        "zeros; set it as text: pulumi config set --path 'iam-federation:accounts.dev.id' 012345678901 "
        "--type string, or quote it in the stack file"
    ]


def test_a_boolean_where_text_belongs_names_the_command(tmp_path: Path) -> None:
    text = HEAD + LIST_FORM + "  iam-federation:sso:\n    permission_sets:\n      - true\n"
    assert file_problems(write(tmp_path, text)) == [
        "iam-federation:sso.permission_sets[0] = true: a YAML boolean where text is expected; set it as text: "
        "pulumi config set --path 'iam-federation:sso.permission_sets[0]' true --type string, or quote it in "
        "the stack file"
    ]


# --- accounts as a map keyed by name ------------------------------------------------------------------------------


def test_the_map_form_gives_the_same_model_as_the_list_form(tmp_path: Path) -> None:
    as_list = load_config(stack_file_config(write(tmp_path, HEAD + LIST_FORM, "list")))
    as_map = load_config(stack_file_config(write(tmp_path, HEAD + MAP_FORM, "map")))
    assert isinstance(as_map, FederationConfig)
    assert as_map == as_list
    assert [(a.name, a.id) for a in as_map.accounts] == [("dev", "222222222222"), ("prod", "444444444444")]


def test_the_map_form_registers_what_the_list_form_does(tmp_path: Path) -> None:
    (tmp_path / "list").mkdir(), (tmp_path / "map").mkdir()
    as_list = run_stack_file(write(tmp_path / "list", HEAD + LIST_FORM))
    as_map = run_stack_file(write(tmp_path / "map", HEAD + MAP_FORM))
    assert {r.urn for r in as_map.registrations} == {r.urn for r in as_list.registrations}
    assert {r.urn: r.inputs for r in as_map.registrations} == {r.urn: r.inputs for r in as_list.registrations}
    assert as_map.outputs == as_list.outputs


def test_one_config_set_adds_an_account_to_the_map(tmp_path: Path) -> None:
    # `pulumi config set --path 'iam-federation:accounts.stage.id' 333333333333 --type string` adds this entry.
    text = HEAD + MAP_FORM + '    stage:\n      id: "333333333333"\n'
    config = load_config(stack_file_config(write(tmp_path, text)))
    assert [a.name for a in config.accounts] == ["dev", "prod", "stage"]


def test_a_member_stack_takes_the_map_form_too() -> None:
    raw = {
        "iam-federation:stack": json.dumps({"kind": "member", "shared_stack": "org/iam-federation/shared"}),
        "iam-federation:region": "us-east-1",
        "iam-federation:accounts": json.dumps({"data": {"id": "555555555555", "retain_on_delete": True}}),
    }
    config = parse_config(raw)
    assert isinstance(config, MemberConfig)
    assert [(a.name, a.id, a.retain_on_delete) for a in config.accounts] == [("data", "555555555555", True)]


@pytest.mark.parametrize(
    ("accounts", "expected"),
    [
        (
            {"dev": {"id": "2222"}},
            ["iam-federation:accounts.dev.id = '2222': must be exactly 12 digits"],
        ),
        (
            {"dev": {"id": "222222222222"}, "qa": {"id": "222222222222"}},
            ["iam-federation:accounts.qa.id = '222222222222': duplicate of accounts.dev.id"],
        ),
        (
            {"dev": {"id": "222222222222", "name": "development"}},
            ["iam-federation:accounts.dev.name = 'development': the map form names an account by its key; remove name"],
        ),
        (
            {"Dev": {"id": "222222222222"}},
            [
                "iam-federation:accounts.Dev = 'Dev': must be 2-32 characters of a-z, 0-9 and '-', starting with a "
                "letter (the map key is the account's name)"
            ],
        ),
        (
            {"dev": {"id": "222222222222", "owner": "me"}},
            ["iam-federation:accounts.dev.owner: unknown key (check the spelling)"],
        ),
        (
            {"dev.eu": {"id": "22"}},
            [
                "iam-federation:accounts[\"dev.eu\"] = 'dev.eu': must be 2-32 characters of a-z, 0-9 and '-', "
                "starting with a letter (the map key is the account's name)",
                "iam-federation:accounts[\"dev.eu\"].id = '22': must be exactly 12 digits",
            ],
        ),
        (
            "dev",
            [
                "iam-federation:accounts = 'dev': must be a list of accounts ({name, id}) or a map from account "
                "name to {id}"
            ],
        ),
    ],
)
def test_map_form_errors_name_the_key_as_the_user_wrote_it(accounts: Any, expected: list[str]) -> None:
    raw = to_pulumi_config(yaml.safe_load(HEAD)["config"])
    raw["iam-federation:accounts"] = accounts if isinstance(accounts, str) else json.dumps(accounts)
    with pytest.raises(ConfigError) as caught:
        load_config(raw)
    assert caught.value.problems == expected


# --- the program reads config through pulumi.Config -----------------------------------------------------------------


@pytest.fixture
def language_host(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Config handed over as the Python language host does: PULUMI_CONFIG, then set_all_config."""

    def hand_over(config: dict[str, str], secret_keys: list[str] | None = None) -> None:
        monkeypatch.setenv("PULUMI_CONFIG", json.dumps(config))
        pulumi.runtime.set_all_config(config, secret_keys or [])

    yield hand_over
    pulumi.runtime.set_all_config({}, [])


def test_stack_config_reads_declared_keys_with_pulumi_config(language_host: Any) -> None:
    raw = to_pulumi_config(yaml.safe_load(HEAD + MAP_FORM)["config"])
    language_host({**raw, "iam-federation:acounts": "[]", "aws:region": "eu-west-1"})
    values = stack_config()
    assert values["iam-federation:region"] == "us-east-1"
    assert values["iam-federation:shared_account"] == {"name": "shared", "id": "111111111111"}
    assert values["iam-federation:accounts"] == {"prod": {"id": "444444444444"}, "dev": {"id": "222222222222"}}
    assert values["iam-federation:acounts"] == "[]"
    assert "aws:region" not in values
    with pytest.raises(ConfigError) as caught:
        load_config(values)
    assert caught.value.problems == ["iam-federation:acounts: unknown key (check the spelling); did you mean accounts?"]


def test_stack_keys_lists_the_namespace_from_what_the_language_host_hands_over(language_host: Any) -> None:
    language_host({"iam-federation:region": "us-east-1", "iam-federation:x": "1", "aws:region": "us-east-1"})
    assert stack_keys() == {"region", "x"}


def test_a_text_key_that_looks_like_json_stays_text(language_host: Any) -> None:
    raw = to_pulumi_config(yaml.safe_load(HEAD + LIST_FORM)["config"])
    language_host({**raw, "iam-federation:region": "[us-east-1]"})
    assert stack_config()["iam-federation:region"] == "[us-east-1]"
    with pytest.raises(ConfigError) as caught:
        load_config(stack_config())
    assert caught.value.problems[0].startswith("iam-federation:region = '[us-east-1]': must be an AWS region")


def test_the_models_say_which_keys_are_text() -> None:
    keys = config_keys()
    assert keys["region"] is True and keys["organization_id"] is True
    assert keys["accounts"] is False and keys["shared_account"] is False and keys["tags"] is False


def test_a_bad_value_registers_nothing(tmp_path: Path) -> None:
    with registered_types() as seen, pytest.raises(pulumi.RunError) as caught:
        run_stack_file(write(tmp_path, HEAD + MAP_FORM.replace('"222222222222"', "222222222222")))
    assert "iam-federation:accounts.dev.id = 222222222222: a YAML number" in str(caught.value)
    assert seen == ["pulumi:pulumi:Stack"]


# --- how values reach the program, and the project file --------------------------------------------------------------


def test_values_reach_the_program_as_the_cli_hands_them_over() -> None:
    raw = to_pulumi_config(
        {"iam-federation:a": True, "iam-federation:b": 1.0, "iam-federation:c": None, "d": {"e": 12345678901.0}}
    )
    assert raw == {
        "iam-federation:a": "true",
        "iam-federation:b": "1",
        "iam-federation:c": "null",
        "iam-federation:d": '{"e": 12345678901}',
    }


def test_the_project_file_declares_only_what_every_stack_needs_without_defaults() -> None:
    declared = yaml.safe_load(PROJECT_FILE.read_text())["config"]
    assert declared, "Pulumi.yaml declares the project's config keys"
    text_types = {"string"}
    for key, declaration in declared.items():
        for model in (FederationConfig, MemberConfig):
            assert model.model_fields[key].is_required(), f"{key}: a declared key without a default is required"
        assert (declaration["type"] in text_types) == config_keys()[key], key
        assert "default" not in declaration and "value" not in declaration, f"{key}: defaults live in the models"
        assert declaration["description"]
