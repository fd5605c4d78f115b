"""Sessions that say who started them: profile and Terragrunt session names, source identities, and the
sessions.require_source_identity switch on the doers' and state-mgmt's trusts, in the documents and the matrix."""

from __future__ import annotations

import configparser
import copy
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import botocore.session
import pytest
import yaml
from botocore.awsrequest import AWSPreparedRequest, AWSResponse

from federation import snippets
from federation.config import ConfigError, FederationConfig
from iam import policies as iam_policies
from plan.matrix import Matrix, access_matrix
from plan.model import IamModel, iam_model
from plan.runner import ProgramRun, run_program, to_pulumi_config
from state_backend import policies as sb_policies
from tests.conftest import MEMBER_STACK, config_of, doc, example_section, run_section, statements, with_changes
from tests.test_snippets import FakeAws, facts, hcl, make_aws_cli

SHARED_ID = "111111111111"
ASSUMER_ARN = f"arn:aws:iam::{SHARED_ID}:role/infrastructure-assumer-role"
SHARED_STACK = "my-org/iam-federation/shared"
REQUIRED = {"Null": {"sts:SourceIdentity": "false"}}
WHO = "${local.who}"


def required_section(**more: Any) -> dict[str, Any]:
    """The example stack with source identities required, on the article's chain (the only one that can set them)."""
    backend = {**example_section()["iam-federation:state_backend"], "state_mgmt_trusts_doers": False}
    return with_changes(
        example_section(),
        sessions={"require_source_identity": True},
        state_backend=backend,
        providers={"mode": "doer"},
        **more,
    )


# --- the switch ----------------------------------------------------------------------------------------------------


def test_the_switch_is_off_by_default_and_refused_with_terragrunts_iam_role_chain() -> None:
    assert config_of(example_section()).sessions.require_source_identity is False
    assert config_of(required_section()).sessions.require_source_identity is True
    with pytest.raises(ConfigError) as caught:
        config_of(with_changes(example_section(), sessions={"require_source_identity": True}))
    (problem,) = caught.value.problems
    assert problem.startswith("iam-federation:sessions.require_source_identity = True: Terragrunt's iam_role chain")
    assert "set state_backend.state_mgmt_trusts_doers: false" in problem
    with pytest.raises(ConfigError) as caught:
        config_of(with_changes(example_section(), sessions={"require_source_identity": "yes please"}))
    assert caught.value.problems[0].startswith("iam-federation:sessions.require_source_identity = 'yes please'")


def test_trusts_require_a_source_identity_only_when_asked() -> None:
    plain = iam_policies.doer_trust_policy(assumer_arn=ASSUMER_ARN)["Statement"][0]["Condition"]
    assert plain == {"ArnEquals": {"aws:PrincipalArn": ASSUMER_ARN}}
    strict = iam_policies.doer_trust_policy(assumer_arn=ASSUMER_ARN, require_source_identity=True)
    assert strict["Statement"][0]["Condition"] == {"ArnEquals": {"aws:PrincipalArn": ASSUMER_ARN}, **REQUIRED}
    assert "sts:SetSourceIdentity" in strict["Statement"][0]["Action"]
    kwargs: dict[str, Any] = {
        "assumer_arn": ASSUMER_ARN,
        "isolate_accounts": True,
        "doer_path": "/",
        "doer_name": "infrastructure-doer-role",
        "organization_id": "o-a1b2c3d4e5",
    }
    for trust_doers in (True, False):
        document = sb_policies.state_mgmt_trust_policy(trust_doers=trust_doers, require_source_identity=True, **kwargs)
        # The assumer's statement also requires the StateAccount tag be set now, not carried in (isolate_accounts).
        tag = {"aws:RequestTag/StateAccount": "false", "aws:PrincipalTag/StateAccount": "true"}
        nulls = [s["Condition"]["Null"] for s in document["Statement"]]
        assert nulls == [{**REQUIRED["Null"], **tag}, *[REQUIRED["Null"]] * (len(nulls) - 1)]
        loose = sb_policies.state_mgmt_trust_policy(trust_doers=trust_doers, **kwargs)
        assert [s["Condition"].get("Null") for s in loose["Statement"]] == [tag, *[None] * (len(nulls) - 1)]


# --- what the program registers ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def required_run() -> ProgramRun:
    return run_section(required_section())


def test_the_program_requires_it_on_doers_and_state_mgmt_and_its_providers_set_one(required_run: ProgramRun) -> None:
    roles = {r.name: r for r in required_run.by_type("aws:iam/role:Role")}
    for name in ("doer-shared-role", "doer-dev-role", "doer-prod-role"):
        assert statements(doc(roles[name].inputs["assumeRolePolicy"]))["Assumer"]["Condition"]["Null"] == {
            "sts:SourceIdentity": "false"
        }
    state_mgmt = statements(doc(roles["state-backend-state-mgmt-role"].inputs["assumeRolePolicy"]))
    assert state_mgmt["Assumer"]["Condition"]["Null"]["sts:SourceIdentity"] == "false"
    # The assumer itself is where a session starts: SSO, CI and runners cannot always set one there.
    assert "Null" not in json.dumps(doc(roles["assumer-role"].inputs["assumeRolePolicy"]))
    for provider in required_run.by_type("pulumi:providers:aws"):
        (assume,) = json.loads(provider.inputs["assumeRoles"])
        assert assume["sourceIdentity"] == assume["sessionName"] == "iam-federation-pulumi"
    assert required_run.outputs["require_source_identity"] is True


def test_a_member_stack_follows_the_shared_stacks_switch(required_run: ProgramRun) -> None:
    section = dict(yaml.safe_load(MEMBER_STACK.read_text())["config"])
    section["iam-federation:providers"] = {"mode": "doer"}
    member = run_program(
        to_pulumi_config(section), stack="members-a", stack_outputs={SHARED_STACK: required_run.outputs}
    )
    doers = [r for r in member.by_type("aws:iam/role:Role") if r.name.startswith("doer-")]
    assert doers and all(
        statements(doc(r.inputs["assumeRolePolicy"]))["Assumer"]["Condition"]["Null"] == REQUIRED["Null"] for r in doers
    )
    for provider in member.by_type("pulumi:providers:aws"):
        assert json.loads(provider.inputs["assumeRoles"])[0]["sourceIdentity"] == "iam-federation-pulumi"


def test_without_the_switch_nothing_requires_or_sets_one(example_run: ProgramRun) -> None:
    for role in example_run.by_type("aws:iam/role:Role"):
        assert "sts:SourceIdentity" not in role.inputs["assumeRolePolicy"]
    for provider in example_run.by_type("pulumi:providers:aws"):
        assert "sourceIdentity" not in json.loads(provider.inputs["assumeRoles"])[0]


# --- the access matrix: sessions with and without a source identity ------------------------------------------------

DOERS = ["assume:doer@shared", "assume:doer@dev", "assume:doer@prod"]


@pytest.fixture(scope="module")
def required_model(required_run: ProgramRun) -> IamModel:
    return iam_model(required_run)


def _matrix(config: FederationConfig, model: IamModel) -> Matrix:
    return access_matrix(config, model)


def test_with_the_switch_only_sessions_that_say_who_reach_doers_and_state(required_model: IamModel) -> None:
    matrix = _matrix(config_of(required_section()), required_model)
    assert matrix.mismatches == []
    for target in [*DOERS, "assume:state-mgmt[dev]"]:
        assert matrix.allowed("assumer(source identity)", target), target
        for session in ("assumer", "assumer(runner)"):
            assert not matrix.allowed(session, target), (session, target)
            assert matrix.cell(session, target).expected is False
    # The assumer itself needs none: SSO and CI start there.
    assert matrix.allowed("sso:AWSAdministratorAccess", "assume:assumer")
    assert matrix.allowed("ec2-service", "assume:assumer")


def test_without_the_switch_sessions_with_and_without_reach_doers(example_run: ProgramRun) -> None:
    matrix = _matrix(config_of(example_section()), iam_model(example_run))
    assert matrix.mismatches == []
    for target in DOERS:
        assert matrix.allowed("assumer", target) and matrix.allowed("assumer(source identity)", target)


def _drop_requirement(model: IamModel) -> None:
    for role in model.roles.values():
        for statement in role.trust["Statement"]:
            statement.get("Condition", {}).pop("Null", None)


def _forbid_setting_it(model: IamModel) -> None:
    # Without sts:SetSourceIdentity in a doer's trust, a session that sets or carries one is refused there
    # (IAM User Guide, "Permissions required to set source identity").
    trust = model.roles["doer-dev-role"].trust["Statement"][0]
    trust["Action"] = [a for a in trust["Action"] if a != "sts:SetSourceIdentity"]


def test_the_matrix_flags_a_trust_that_drops_the_requirement_or_forbids_setting_one(
    required_model: IamModel,
) -> None:
    config = config_of(required_section())
    dropped = copy.deepcopy(required_model)
    _drop_requirement(dropped)
    flagged = {(c.principal, c.target) for c in _matrix(config, dropped).mismatches}
    assert ("assumer", "assume:doer@dev") in flagged and ("assumer(runner)", "assume:state-mgmt[dev]") in flagged
    forbidden = copy.deepcopy(required_model)
    _forbid_setting_it(forbidden)
    flagged = {(c.principal, c.target) for c in _matrix(config, forbidden).mismatches}
    assert flagged == {("assumer(source identity)", "assume:doer@dev")}


# --- ~/.aws/config: session names, and what botocore sends ---------------------------------------------------------


class RecordingAws(FakeAws):
    """FakeAws that also keeps the AssumeRole parameters botocore sends."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.assumed: list[dict[str, list[str]]] = []

    def __call__(self, request: AWSPreparedRequest, **kwargs: Any) -> AWSResponse:
        if "/federation/credentials" not in request.url:
            body = request.body.decode() if isinstance(request.body, bytes) else str(request.body)
            self.assumed.append(parse_qs(body))
        return super().__call__(request, **kwargs)


def _assume_params(aws_cli: Any, text: str, profile: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The config botocore reads from the text, and the AssumeRole requests it makes to resolve one profile."""
    full, _ = aws_cli(text)  # writes the config and the SSO token cache, and points AWS_CONFIG_FILE at them
    recorder = RecordingAws("token-of-the-sso-login")
    session = botocore.session.Session(profile=profile)
    session.register("before-send", recorder)
    credentials = session.get_credentials()
    assert credentials is not None
    credentials.get_frozen_credentials()
    return full, recorder.assumed


@pytest.fixture
def aws_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    return make_aws_cli(tmp_path, monkeypatch)


def test_every_profile_names_its_sessions_after_the_person(example_run: ProgramRun, aws_cli: Any) -> None:
    shared = example_run.outputs["aws_config_snippet"]
    output = configparser.ConfigParser()
    output.read_string(shared)
    roles = {name: section for name, section in output.items() if "role_arn" in section}
    assert set(roles) == {f"profile {n}" for n in ("assumer", "shared", "dev", "stage", "prod")}
    assert {section["role_session_name"] for section in roles.values()} == {snippets.PERSON}
    # Left as the stack outputs it, STS refuses the name: a session never opens unnamed.
    assert not re.fullmatch(r"[\w+=,.@-]{2,64}", snippets.PERSON)
    full, hops = _assume_params(aws_cli, snippets.for_person(shared, "jane.doe@example.com"), "prod")
    named = {p.get("role_session_name") for p in full["profiles"].values() if "role_arn" in p}
    assert named == {"jane.doe@example.com"}
    assert [(h["RoleArn"][0], h["RoleSessionName"][0]) for h in hops] == [
        (ASSUMER_ARN, "jane.doe@example.com"),
        ("arn:aws:iam::444444444444:role/infrastructure-doer-role", "jane.doe@example.com"),
    ]


def test_the_aws_cli_cannot_set_a_source_identity(aws_cli: Any) -> None:
    # Why the profiles set none: botocore's assume-role provider reads no such key, so a profile cannot carry one.
    text = snippets.for_person(snippets.aws_config_snippet(config_of(example_section()), []), "jane.doe").replace(
        "role_session_name = jane.doe", "role_session_name = jane.doe\nsource_identity = jane.doe"
    )
    _, (hop,) = _assume_params(aws_cli, text, "assumer")
    assert hop["RoleSessionName"] == ["jane.doe"] and "SourceIdentity" not in hop


@pytest.mark.parametrize(
    ("who", "name"),
    [("jane.doe@example.com", "jane.doe@example.com"), ("Jane Doe", "Jane-Doe"), ("x" * 80, "x" * 64)],
)
def test_a_name_becomes_a_valid_session_name(who: str, name: str) -> None:
    assert snippets.session_name_of(who) == name
    assert re.fullmatch(r"[\w+=,.@-]{2,64}", name)


def test_a_name_too_short_is_refused() -> None:
    with pytest.raises(ValueError, match="no name for a session"):
        snippets.session_name_of(" j ")


# --- Terragrunt: who, in every session name, and as source identity where Terraform can set one -------------------


def test_root_hcl_knows_who_started_the_run() -> None:
    (locals_,) = hcl(snippets.root_hcl(facts()))["locals"]
    assert locals_["who"] == (
        '${coalesce(get_env("IAM_FEDERATION_WHO", ""), reverse(split("/", get_aws_caller_identity_arn()))[0])}'
    )


def test_the_iam_role_chain_names_the_doers_session_and_the_backend_says_who() -> None:
    root = hcl(snippets.root_hcl(facts(trusts_doers=True)))
    assert root["iam_assume_role_session_name"] == WHO
    assume = root["remote_state"][0]["config"]["assume_role"]
    assert (assume["session_name"], assume["source_identity"]) == (WHO, WHO)


def test_the_articles_chain_sets_who_on_the_provider_and_the_backend() -> None:
    root = hcl(snippets.root_hcl(facts(trusts_doers=False)))
    assert "iam_assume_role_session_name" not in root
    ((_, generate),) = root["generate"][0].items()
    (provider,) = hcl(generate["contents"])["provider"]
    (assume,) = provider["aws"]["assume_role"]
    assert assume == {"role_arn": "${local.doer_role_arn}", "session_name": WHO, "source_identity": WHO}
    backend = root["remote_state"][0]["config"]["assume_role"]
    assert (backend["session_name"], backend["source_identity"]) == (WHO, WHO)


def test_plan_path_profiles_name_their_sessions_after_the_person_too() -> None:
    """issue #17 item 6: the plan path's profiles carried no role_session_name (botocore-session-<epoch> then)."""
    section = with_changes(
        example_section(),
        plan_path={"enabled": True, "permission_sets": ["AWSReadOnlyAccess"]},
    )
    output = configparser.ConfigParser()
    output.read_string(run_section(section).outputs["aws_config_snippet"])
    plan_roles = {name: s for name, s in output.items() if "role_arn" in s and name.endswith(snippets.PLAN_SUFFIX)}
    assert {"profile assumer.plan", "profile dev.plan", "profile prod.plan"} <= set(plan_roles)
    assert {s["role_session_name"] for s in plan_roles.values()} == {snippets.PERSON}
