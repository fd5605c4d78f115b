"""OIDC CI identities: config validation, the trust statements, the registered providers, the web identity
evaluator against hand-written trust policies, the access matrix's tokens, and the example pipelines.

The CI config is the one docs/ci.md shows (parsed from it), so the documentation cannot drift from what is tested.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from federation import names
from federation.config import ConfigError, FederationConfig
from federation.limits import measure
from federation.load import load_config
from iam import policies
from plan.escalation import analyse
from plan.evaluator import Principal, Request, evaluate
from plan.matrix import Matrix, access_matrix
from plan.model import IamModel, iam_model
from plan.runner import ProgramRun, to_pulumi_config
from tests.conftest import ROOT, config_of, doc, example_section, run_section, statements, with_changes

SHARED = "111111111111"
GITHUB_ARN = f"arn:aws:iam::{SHARED}:oidc-provider/token.actions.githubusercontent.com"
GITLAB_ARN = f"arn:aws:iam::{SHARED}:oidc-provider/gitlab.com"
ASSUMER_ARN = f"arn:aws:iam::{SHARED}:role/infrastructure-assumer-role"
PLAN_ASSUMER_ARN = f"arn:aws:iam::{SHARED}:role/infrastructure-plan-assumer-role"
GH = "token.actions.githubusercontent.com"


def documented_ci() -> dict[str, Any]:
    """The iam-federation:ci value of the first YAML block of docs/ci.md."""
    block = re.search(r"```yaml\n(.*?)```", (ROOT / "docs" / "ci.md").read_text(), re.S)
    assert block is not None
    value: dict[str, Any] = yaml.safe_load(block.group(1))["iam-federation:ci"]
    return value


def section_with(*trusts: dict[str, Any], **more: Any) -> dict[str, Any]:
    ci = {**example_section()["iam-federation:ci"], "oidc": list(trusts)}
    return with_changes(example_section(), ci=ci, **more)


def github(**changes: Any) -> dict[str, Any]:
    trust = {
        "name": "github",
        "provider": "github",
        "apply_subjects": ["repo:acme@1234567/infra@890123456:ref:refs/heads/main"],
        "plan_subjects": ["repo:acme@1234567/infra@890123456:pull_request"],
    }
    return {**trust, **changes}


def gitlab(**changes: Any) -> dict[str, Any]:
    trust = {
        "name": "gitlab",
        "provider": "gitlab",
        "audience": "https://gitlab.com",
        "apply_subjects": ["project_path:acme/infra:ref_type:branch:ref:main"],
        "plan_subjects": ["project_path:acme/infra:ref_type:branch:ref:*"],
    }
    return {**trust, **changes}


def problems_of(section: dict[str, Any]) -> list[str]:
    """The problems the program's loader reports (the models' rules, then the documents' sizes)."""
    with pytest.raises(ConfigError) as caught:
        load_config(to_pulumi_config(section))
    return caught.value.problems


# --- validation -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("trust", "key", "reason"),
    [
        (github(apply_subjects=["*"]), "ci.oidc[0].apply_subjects[0] = '*'", "other repositories of the forge"),
        (github(plan_subjects=["repo:*"]), "ci.oidc[0].plan_subjects[0] = 'repo:*'", "other repositories"),
        (
            github(plan_subjects=["repo:acme@1234567/*:pull_request"]),
            "ci.oidc[0].plan_subjects[0] = 'repo:acme@1234567/*:pull_request'",
            "names no single repository",
        ),
        (
            github(apply_subjects=["repo:acme:ref:refs/heads/main"]),
            "ci.oidc[0].apply_subjects[0] = 'repo:acme:ref:refs/heads/main'",
            "names no single repository",
        ),
        (gitlab(plan_subjects=["project_path:*"]), "ci.oidc[0].plan_subjects[0] = 'project_path:*'", "other repos"),
        (
            github(apply_subjects=["repo:acme@1234567/infra@890123456:branch:main"]),
            "ci.oidc[0].apply_subjects[0] = 'repo:acme@1234567/infra@890123456:branch:main'",
            "not a github subject of a documented form: repo:<owner>/<repo>:ref:refs/heads/<branch>",
        ),
        (
            gitlab(apply_subjects=["project_path:acme/infra:ref:main"]),
            "ci.oidc[0].apply_subjects[0] = 'project_path:acme/infra:ref:main'",
            "not a gitlab subject of a documented form: project_path:<group>/<project>:ref_type:<branch|tag>",
        ),
        (
            github(apply_subjects=["repo:acme@1234567/infra@890123456:pull_request"]),
            "ci.oidc[0].apply_subjects[0] = 'repo:acme@1234567/infra@890123456:pull_request'",
            "a pull request's token runs code nobody has reviewed",
        ),
        (
            github(apply_subjects=["repo:acme@1234567/infra@890123456:ref:refs/heads/*"]),
            "ci.oidc[0].apply_subjects[0] = 'repo:acme@1234567/infra@890123456:ref:refs/heads/*'",
            "apply subjects name exact refs or environments",
        ),
        (github(apply_subjects=[], plan_subjects=[]), "ci.oidc[0]: no apply_subjects and no plan_subjects", ""),
        (
            github(issuer_url="https://gitlab.com"),
            "ci.oidc[0].issuer_url = 'https://gitlab.com'",
            "a github trust's issuer is https://token.actions.githubusercontent.com",
        ),
        (gitlab(audience=None), "ci.oidc[0].audience: required for provider 'gitlab'", ""),
        (
            {"name": "tfc", "provider": "generic", "audience": "aws.workload.identity", "apply_subjects": ["org:a"]},
            "ci.oidc[0].issuer_url: required for provider 'generic'",
            "",
        ),
        (
            {
                "name": "tfc",
                "provider": "generic",
                "issuer_url": "https://app.terraform.io",
                "audience": "aws.workload.identity",
                "plan_subjects": ["*:workspace:prod"],
            },
            "ci.oidc[0].plan_subjects[0] = '*:workspace:prod'",
            "a leading wildcard lets any subject of the issuer in",
        ),
        (
            github(provider_arn=GITLAB_ARN),
            f"ci.oidc[0].provider_arn = {GITLAB_ARN!r}",
            "names another issuer than https://token.actions.githubusercontent.com",
        ),
        (
            github(provider_arn="arn:aws:iam::222222222222:oidc-provider/token.actions.githubusercontent.com"),
            "ci.oidc[0].provider_arn = 'arn:aws:iam::222222222222:oidc-provider/token.actions.githubusercontent.com'",
            "a role trusts OIDC providers of its own account only",
        ),
        (github(provider="bitbucket"), "ci.oidc[0].provider = 'bitbucket'", "Input should be 'github', 'gitlab'"),
    ],
)
def test_each_dangerous_or_broken_trust_is_one_error_naming_key_and_value(
    trust: dict[str, Any], key: str, reason: str
) -> None:
    (problem,) = problems_of(section_with(trust))
    assert problem.startswith(f"iam-federation:{key}"), problem
    assert reason in problem


def test_two_trusts_of_one_issuer_or_one_name_are_refused() -> None:
    problems = problems_of(
        section_with(github(), github(apply_subjects=["repo:acme@1234567/other@2:ref:refs/heads/main"]))
    )
    assert problems == [
        "iam-federation:ci.oidc[1].name = 'github': same name as ci.oidc[0].name",
        "iam-federation:ci.oidc[1].issuer_url = 'https://token.actions.githubusercontent.com': ci.oidc[0] creates the "
        "provider of this issuer already (IAM holds one per URL); put both in one trust or name its provider_arn",
    ]


def test_documented_forms_pass_and_defaults_fill_in() -> None:
    immutable = "repo:acme@1234/infra@5678:ref:refs/tags/v1.2.3"
    config = config_of(
        section_with(
            github(apply_subjects=[immutable, "repo:acme/infra:environment:production"]),
            gitlab(issuer_url="https://gitlab.acme.example", plan_subjects=[]),
            {
                "name": "ghec",
                "provider": "github",
                "issuer_url": "https://token.actions.githubusercontent.com/acme-enterprise",
                "provider_arn": f"{GITHUB_ARN}/acme-enterprise",
                "plan_subjects": ["repo:acme@1234567/infra@890123456:ref:refs/heads/feature-*"],
            },
            # The mutable form of the second apply subject, taken on as a named risk.
            accepted_risks=["github-mutable-subject"],
        )
    )
    first, second, third = config.ci.oidc
    assert (first.issuer, first.aud) == ("https://token.actions.githubusercontent.com", "sts.amazonaws.com")
    assert (second.issuer, second.aud) == ("https://gitlab.acme.example", "https://gitlab.com")
    assert names.oidc_provider_arns(config) == {
        "github": GITHUB_ARN,
        "gitlab": f"arn:aws:iam::{SHARED}:oidc-provider/gitlab.acme.example",
        "ghec": f"{GITHUB_ARN}/acme-enterprise",
    }
    assert third.plan_subjects == ["repo:acme@1234567/infra@890123456:ref:refs/heads/feature-*"]


def test_many_subjects_overflow_the_assumer_trust_naming_ci_oidc() -> None:
    # About 800 characters per trust of 10 subjects: two of them no longer fit the default quota.
    trusts = [
        github(apply_subjects=[f"repo:acme/service-{i:02d}:environment:production" for i in range(10)]),
        gitlab(apply_subjects=[f"project_path:acme/service-{i:02d}:ref_type:branch:ref:main" for i in range(10)]),
    ]
    (problem,) = problems_of(section_with(*trusts, accepted_risks=["github-mutable-subject"]))
    assert problem.startswith(
        "iam-federation:sso.permission_sets, ci.extra_trusted_principal_arns, ci.oidc: the assumer trust policy"
    )
    assert "over its limit of 2,048" in problem
    raised = config_of(
        section_with(*trusts, limits={"trust_policy_max_chars": 4096}, accepted_risks=["github-mutable-subject"])
    )
    size = next(m.size for m in measure(raised) if m.what == "assumer trust policy")
    assert 2048 < size <= 4096


# --- the trust statements ---------------------------------------------------------------------------------------


def test_trust_statements_are_plain_dicts_per_kind_of_subject() -> None:
    trust = policies.WebIdentityTrust(
        name="github",
        provider_arn=GITHUB_ARN,
        issuer_url="https://token.actions.githubusercontent.com",
        audience="sts.amazonaws.com",
        apply_subjects=("repo:acme@1234567/infra@890123456:environment:production",),
        plan_subjects=(
            "repo:acme@1234567/infra@890123456:pull_request",
            "repo:acme@1234567/infra@890123456:ref:refs/heads/*",
        ),
    )
    (apply,) = policies.oidc_trust_statements([trust], "apply")
    assert apply == {
        "Sid": "OidcGithubApply",
        "Effect": "Allow",
        "Principal": {"Federated": GITHUB_ARN},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {
            "StringEquals": {f"{GH}:aud": "sts.amazonaws.com"},
            "StringLike": {f"{GH}:sub": ["repo:acme@1234567/infra@890123456:environment:production"]},
        },
    }
    (plan,) = policies.oidc_trust_statements([trust], "plan")
    assert plan["Sid"] == "OidcGithubPlan"
    assert plan["Condition"]["StringLike"][f"{GH}:sub"] == list(trust.plan_subjects)
    no_plan = policies.WebIdentityTrust("x", GITHUB_ARN, trust.issuer_url, "aud", ("repo:a/b:pull_request",), ())
    assert policies.oidc_trust_statements([no_plan], "plan") == []


# --- what the program registers ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def documented() -> tuple[FederationConfig, ProgramRun]:
    section = with_changes(example_section(), ci=documented_ci())
    return config_of(section), run_section(section)


def test_the_program_creates_each_issuers_provider_before_the_assumer(
    documented: tuple[FederationConfig, ProgramRun],
) -> None:
    _, run = documented
    providers = run.by_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    by_name = {p.name: p for p in providers}
    assert set(by_name) == {"assumer-oidc-github", "assumer-oidc-gitlab"}
    assert by_name["assumer-oidc-github"].inputs["url"] == "https://token.actions.githubusercontent.com"
    assert by_name["assumer-oidc-github"].inputs["clientIdLists"] == ["sts.amazonaws.com"]
    assert by_name["assumer-oidc-gitlab"].inputs["clientIdLists"] == ["https://gitlab.com"]
    assert all("thumbprintLists" not in p.inputs for p in providers)
    assert {run.account_of(p) for p in providers} == {SHARED}
    (role,) = [r for r in run.by_type("aws:iam/role:Role") if r.name == "assumer-role"]
    assert {p.urn for p in providers} <= set(role.dependencies)
    # The trust names the providers by the ARN IAM gives them (the mock forms it as IAM does, from the URL).
    trust = statements(doc(role.inputs["assumeRolePolicy"]))
    assert {s["Principal"]["Federated"] for sid, s in trust.items() if sid.startswith("Oidc")} == {
        str(p.state["arn"]) for p in providers
    }
    assert trust["OidcGithubApply"]["Condition"]["StringLike"] == {
        f"{GH}:sub": ["repo:acme@1234567/infra@890123456:environment:production"]
    }
    assert trust["OidcGitlabApply"]["Condition"] == {
        "StringEquals": {"gitlab.com:aud": "https://gitlab.com"},
        "StringLike": {"gitlab.com:sub": ["project_path:acme/infra:ref_type:branch:ref:main"]},
    }
    # Plan subjects are the plan identity's: the assumer never trusts them.
    assert "pull_request" not in json.dumps(trust) and "OidcGithubPlan" not in trust
    assert run.outputs["oidc_provider_arns"] == {"github": GITHUB_ARN, "gitlab": GITLAB_ARN}


def test_an_existing_provider_is_referenced_not_created() -> None:
    run = run_section(section_with(github(provider_arn=GITHUB_ARN)))
    assert run.by_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []
    (role,) = [r for r in run.by_type("aws:iam/role:Role") if r.name == "assumer-role"]
    assert statements(doc(role.inputs["assumeRolePolicy"]))["OidcGithubApply"]["Principal"] == {"Federated": GITHUB_ARN}


# --- the web identity evaluator, against hand-written trust policies ----------------------------------------------

ROLE = f"arn:aws:iam::{SHARED}:role/ci"


def token(sub: str, aud: str = "sts.amazonaws.com", provider: str = GITHUB_ARN, host: str = GH) -> Principal:
    claims = ((f"{host}:sub", sub), (f"{host}:aud", aud))
    return Principal("token", provider, context=claims, federated=provider)


def trust_of(*statements_: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements_)}


def allow(sub: str | list[str], provider: str = GITHUB_ARN, **extra: Any) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": {"Federated": provider},
        "Action": "sts:AssumeRoleWithWebIdentity",
        "Condition": {"StringEquals": {f"{GH}:aud": "sts.amazonaws.com"}, "StringLike": {f"{GH}:sub": sub}},
        **extra,
    }


def allowed(principal: Principal, trust: dict[str, Any], action: str = "sts:AssumeRoleWithWebIdentity") -> bool:
    return evaluate(principal, Request(action, ROLE, SHARED, trust)).allowed


@pytest.mark.parametrize(
    ("principal", "trust", "expected"),
    [
        (
            token("repo:acme@1234567/infra@890123456:ref:refs/heads/main"),
            trust_of(allow("repo:acme@1234567/infra@890123456:ref:refs/heads/main")),
            True,
        ),
        (
            token("repo:acme@1234567/infra@890123456:ref:refs/heads/dev"),
            trust_of(allow("repo:acme@1234567/infra@890123456:ref:refs/heads/main")),
            False,
        ),
        (
            token("repo:acme/infra2:ref:refs/heads/main"),
            trust_of(allow("repo:acme@1234567/infra@890123456:ref:refs/heads/main")),
            False,
        ),
        (
            token("repo:acme@1234567/infra@890123456:pull_request", aud="https://github.com/acme"),
            trust_of(allow("repo:acme@1234567/*")),
            False,
        ),
        (
            token("repo:acme@1234567/infra@890123456:pull_request"),
            trust_of(allow(["repo:x/y:pull_request", "repo:acme@1234567/*"])),
            True,
        ),
        (
            token("repo:acme@1234567/infra@890123456:pull_request", provider=GITLAB_ARN),
            trust_of(allow("repo:acme@1234567/*")),
            False,
        ),
        # An AWS principal statement does not admit a token, nor does an Allow a matching Deny overrides.
        (
            token("repo:acme@1234567/infra@890123456:pull_request"),
            trust_of({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{SHARED}:root"}, "Action": "sts:*"}),
            False,
        ),
        (
            token("repo:acme@1234567/infra@890123456:pull_request"),
            trust_of(allow("repo:acme@1234567/*"), allow("repo:*:pull_request", Effect="Deny")),
            False,
        ),
        # A statement without conditions admits every token of its provider: what config validation prevents.
        (
            token("repo:mallory/fork:pull_request"),
            trust_of({"Effect": "Allow", "Principal": {"Federated": [GITLAB_ARN, GITHUB_ARN]}, "Action": "sts:*"}),
            True,
        ),
    ],
)
def test_web_identity_requests_against_hand_written_trusts(
    principal: Principal, trust: dict[str, Any], expected: bool
) -> None:
    assert allowed(principal, trust) is expected


def test_a_token_asks_for_web_identity_only() -> None:
    main = token("repo:acme@1234567/infra@890123456:ref:refs/heads/main")
    assert not allowed(main, trust_of(allow("repo:acme@1234567/*")), action="sts:AssumeRole")
    assert not evaluate(main, Request("sts:AssumeRoleWithWebIdentity", ROLE, SHARED, None)).allowed
    reasons = evaluate(main, Request("sts:AssumeRoleWithWebIdentity", ROLE, SHARED, trust_of(allow("*", Sid="Ci"))))
    assert reasons.decided_by == ["resource:Allow:Ci"]


# --- the access matrix and the escalation analysis -----------------------------------------------------------------


@pytest.fixture(scope="module")
def documented_model(documented: tuple[FederationConfig, ProgramRun]) -> IamModel:
    return iam_model(documented[1])


def matrix_of(documented: tuple[FederationConfig, ProgramRun], model: IamModel) -> Matrix:
    return access_matrix(documented[0], model)


TOKENS = ["apply", "other repository", "other ref", "wrong audience", "plan"]


def test_only_a_configured_apply_token_reaches_the_assumer(
    documented: tuple[FederationConfig, ProgramRun], documented_model: IamModel
) -> None:
    matrix = matrix_of(documented, documented_model)
    assert matrix.mismatches == []
    for trust in ("github", "gitlab"):
        keys = [f"oidc:{trust}({what})" for what in TOKENS]
        assert set(keys) <= set(matrix.principals)
        reached = {(c.principal, c.target) for c in matrix.cells if c.principal in keys and c.actual}
        assert reached == {(f"oidc:{trust}(apply)", "assume:assumer")}
        cell = matrix.cell(f"oidc:{trust}(apply)", "assume:assumer")
        assert cell.expected is True and cell.decided_by == [f"resource:Allow:Oidc{trust.capitalize()}Apply"]
        # Tried against every role, doers and state-mgmt sessions included.
        tried = {c.target for c in matrix.cells if c.principal == f"oidc:{trust}(other ref)"}
        assert {"assume:doer@prod", "assume:state-mgmt[prod]", "assume:assumer"} <= tried
    subjects = {
        key: dict(matrix.world.nodes[key].principal.context)
        for key in ("oidc:github(other repository)", "oidc:github(other ref)", "oidc:github(wrong audience)")
    }
    assert (
        subjects["oidc:github(other repository)"][f"{GH}:sub"]
        == "repo:acme@1234567/infra@890123456-x:environment:production"
    )
    assert (
        subjects["oidc:github(other ref)"][f"{GH}:sub"] == "repo:acme@1234567/infra@890123456:environment:production-x"
    )
    assert subjects["oidc:github(wrong audience)"][f"{GH}:aud"] == "https://github.com/acme"
    escalation = analyse(documented[0], matrix)
    assert escalation.failures == []
    # The apply token is the trust root: through the assumer it reaches every doer, which is the promise.
    assert "doer@prod" in escalation.reaches["oidc:github(apply)"].hops


def _statement(model: IamModel, sid: str) -> dict[str, Any]:
    (statement,) = [s for s in model.roles["assumer-role"].trust["Statement"] if s.get("Sid") == sid]
    return statement


def _widen_github_sub(model: IamModel) -> None:
    _statement(model, "OidcGithubApply")["Condition"]["StringLike"][f"{GH}:sub"] = ["repo:acme@1234567/*"]


def _drop_gitlab_audience(model: IamModel) -> None:
    del _statement(model, "OidcGitlabApply")["Condition"]["StringEquals"]


def _any_gitlab_ref(model: IamModel) -> None:
    _statement(model, "OidcGitlabApply")["Condition"]["StringLike"]["gitlab.com:sub"] = [
        "project_path:acme/infra:ref_type:branch:ref:*"
    ]


@pytest.mark.parametrize(
    ("mutate", "flagged"),
    [
        (
            _widen_github_sub,
            {"oidc:github(other repository)", "oidc:github(other ref)", "oidc:github(plan)"},
        ),
        (_drop_gitlab_audience, {"oidc:gitlab(wrong audience)"}),
        (_any_gitlab_ref, {"oidc:gitlab(other ref)", "oidc:gitlab(plan)"}),
    ],
)
def test_the_matrix_flags_a_widened_web_identity_trust(
    documented: tuple[FederationConfig, ProgramRun],
    documented_model: IamModel,
    mutate: Callable[[IamModel], None],
    flagged: set[str],
) -> None:
    model = copy.deepcopy(documented_model)
    mutate(model)
    matrix = matrix_of(documented, model)
    assert {(c.principal, c.target) for c in matrix.mismatches} == {(key, "assume:assumer") for key in flagged}
    failures = {f.source for f in analyse(documented[0], matrix).failures}
    assert flagged <= failures


# --- the example pipelines ----------------------------------------------------------------------------------------

EXAMPLES = ROOT / "examples" / "ci"


def _yaml(path: Path) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(path.read_text())
    return loaded


def _steps_text(job: dict[str, Any]) -> str:
    return "\n".join(str(step.get("run", "")) + json.dumps(step.get("with", {})) for step in job["steps"])


def _admitted(config_trust: str, sub: str, aud: str, model: IamModel) -> bool:
    host = {"github": GH, "gitlab": "gitlab.com"}[config_trust]
    provider = {"github": GITHUB_ARN, "gitlab": GITLAB_ARN}[config_trust]
    assumer = model.roles["assumer-role"]
    principal = token(sub, aud=aud, provider=provider, host=host)
    request = Request("sts:AssumeRoleWithWebIdentity", assumer.arn, SHARED, assumer.trust)
    return evaluate(principal, request).allowed


def test_the_github_workflow_plans_with_the_plan_identity_and_applies_with_the_assumer(
    documented_model: IamModel,
) -> None:
    workflow = _yaml(EXAMPLES / "github-actions.yml")
    triggers = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert set(triggers) == {"pull_request", "push"} and triggers["push"]["branches"] == ["main"]
    assert workflow["permissions"] == {}
    jobs = workflow["jobs"]
    assert set(jobs) == {"plan", "apply"}
    roles = {}
    for name, job in jobs.items():
        assert job["permissions"] == {"contents": "read", "id-token": "write"}, name
        (aws,) = [s for s in job["steps"] if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials")]
        roles[name] = aws["with"]["role-to-assume"]
        assert aws["with"]["role-session-name"] == "${{ env.IAM_FEDERATION_WHO }}"
    assert roles == {"plan": PLAN_ASSUMER_ARN, "apply": ASSUMER_ARN}
    assert roles["apply"] == names.assumer_arn(config_of(example_section()))
    assert jobs["plan"]["if"] == "github.event_name == 'pull_request'"
    assert "github.ref == 'refs/heads/main'" in jobs["apply"]["if"]
    plan, apply = _steps_text(jobs["plan"]), _steps_text(jobs["apply"])
    # A pull request gets no Pulumi Cloud token (an organization token could rewrite any stack's state).
    uses = {name: [str(step.get("uses", "")) for step in job["steps"]] for name, job in jobs.items()}
    assert not [u for u in uses["plan"] if u.startswith("pulumi/")] and "pulumi preview" not in plan
    assert [u for u in uses["apply"] if u.startswith("pulumi/auth-actions@")]
    assert "TG_PLAN=1 terragrunt run --all --non-interactive -- plan" in plan
    assert "make orchestrate OP=up" in apply and "terragrunt run --all --non-interactive -- apply" in apply
    assert "make plan STACK=all" in plan
    assert '"command": "up"' not in plan and "-- apply" not in plan
    # The sub GitHub gives each job (OpenID Connect reference): the apply job's environment, the plan job's event.
    apply_sub = f"repo:acme@1234567/infra@890123456:environment:{jobs['apply']['environment']}"
    assert _admitted("github", apply_sub, "sts.amazonaws.com", documented_model)
    assert not _admitted(
        "github", "repo:acme@1234567/infra@890123456:pull_request", "sts.amazonaws.com", documented_model
    )
    assert "repo:acme@1234567/infra@890123456:pull_request" in documented_ci()["oidc"][0]["plan_subjects"]


def test_the_gitlab_pipeline_plans_with_the_plan_identity_and_applies_with_the_assumer(
    documented_model: IamModel,
) -> None:
    pipeline = _yaml(EXAMPLES / "gitlab-ci.yml")
    template = pipeline[".oidc"]
    audience = template["id_tokens"]["AWS_ID_TOKEN"]["aud"]
    (trust,) = [t for t in documented_ci()["oidc"] if t["provider"] == "gitlab"]
    assert audience == trust["audience"]
    setup = "\n".join(template["before_script"])
    assert 'export AWS_WEB_IDENTITY_TOKEN_FILE="$CI_BUILDS_DIR/aws-web-identity-token"' in setup
    # Only the default branch's job exchanges its token for a Pulumi Cloud (organization) token.
    assert "PULUMI_ID_TOKEN" not in template["id_tokens"] and "PULUMI_ID_TOKEN" not in pipeline["plan"].get(
        "id_tokens", {}
    )
    assert pipeline["apply"]["id_tokens"]["PULUMI_ID_TOKEN"]["aud"] == "urn:pulumi:org:acme"
    assert "https://api.pulumi.com/api/oauth/token" in "\n".join(pipeline["apply"]["script"])
    assert not [line for line in pipeline["plan"]["script"] if "pulumi" in line]
    plan, apply = pipeline["plan"], pipeline["apply"]
    assert plan["extends"] == apply["extends"] == ".oidc"
    assert plan["variables"]["AWS_ROLE_ARN"] == PLAN_ASSUMER_ARN
    assert apply["variables"]["AWS_ROLE_ARN"] == ASSUMER_ARN
    assert plan["rules"] == [{"if": '$CI_PIPELINE_SOURCE == "merge_request_event"'}]
    assert apply["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]
    assert any(line.startswith("venv/bin/python -m orchestrate up --all") for line in apply["script"])
    assert "cd live && TG_PLAN=1 terragrunt run --all --non-interactive -- plan" in plan["script"]
    assert "cd live && terragrunt run --all --non-interactive -- apply" in apply["script"]
    # The sub GitLab gives a default-branch job, and a merge request's source branch.
    assert _admitted("gitlab", "project_path:acme/infra:ref_type:branch:ref:main", audience, documented_model)
    assert not _admitted("gitlab", "project_path:acme/infra:ref_type:branch:ref:fix", audience, documented_model)


def test_pull_request_tokens_reach_the_plan_assumer_and_nothing_that_writes() -> None:
    # The plan path trusted by a pull request's token alone (no read-only permission set): the trust of the plan
    # assumer holds the plan subjects, the assumer's only the apply subjects, and the plan proves the token reads.
    section = section_with(github(), plan_path={"enabled": True})
    run = run_section(section)
    (plan_assumer,) = [r for r in run.by_type("aws:iam/role:Role") if r.name == "plan-assumer-role"]
    trust = doc(plan_assumer.inputs["assumeRolePolicy"])
    federated = [s for s in trust["Statement"] if "Federated" in s["Principal"]]
    assert [s["Condition"]["StringLike"] for s in federated] == [
        {"token.actions.githubusercontent.com:sub": ["repo:acme@1234567/infra@890123456:pull_request"]}
    ]
    assert federated[0]["Action"] == "sts:AssumeRoleWithWebIdentity"
    (provider,) = run.by_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.urn in plan_assumer.dependencies
    config = config_of(section)
    matrix = access_matrix(config, iam_model(run))
    escalation = analyse(config, matrix)
    assert matrix.mismatches == [] and escalation.failures == []
    assert matrix.cell("oidc:github(plan)", "assume:plan-assumer").actual
    assert not matrix.cell("oidc:github(plan)", "assume:assumer").actual
    assert not matrix.cell("oidc:github(apply)", "assume:plan-assumer").actual
    reach = escalation.reaches["oidc:github(plan)"]
    assert "plan-assumer" in reach.hops
    assert not [h for h in reach.hops if h.startswith(("doer@", "assumer", "state-mgmt["))]
    assert not [a for a in reach.assets if a.startswith(("state-write", "lock-write", "write:"))]


@pytest.mark.parametrize(
    ("trust", "problem"),
    [
        (
            {
                "issuer_url": "https://token.actions.githubusercontent.com",
                "plan_subjects": ["repo:acme@1234567/infra@890123456:pull_request"],
            },
            "GitHub's and gitlab.com's tokens take provider 'github' or 'gitlab'",
        ),
        (
            {
                "issuer_url": "https://app.terraform.io",
                "plan_subjects": ["organization:*:project:infra:run_phase:plan"],
            },
            "a wildcard before the last ':' segment lets other owners or repositories in",
        ),
    ],
)
def test_a_generic_trust_cannot_skip_the_repository_rules(trust: dict[str, Any], problem: str) -> None:
    generic = {"name": "ci", "provider": "generic", "audience": "aws", **trust}
    with pytest.raises(ConfigError) as refused:
        config_of(section_with(generic))
    assert problem in str(refused.value)
    assert "iam-federation:ci.oidc[0]" in str(refused.value)
