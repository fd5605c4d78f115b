"""The example pipelines (examples/ci/) hardened, and the docs' CI config planned as a whole (issue #16 item 7).

Parsed with PyYAML and judged on real values: every action pinned to a 40-hex commit with its release tag in a
comment, Terragrunt verified against its signed SHA256SUMS before the job holds AWS credentials and nothing
downloaded after, the image pinned by digest, and each job's token subject one the docs' stack trusts for that
job's role, through the evaluator on the registered trust policies.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from federation.config import ConfigError
from plan.escalation import analyse
from plan.evaluator import Request, evaluate
from plan.matrix import access_matrix
from plan.model import IamModel, iam_model
from tests.conftest import ROOT, config_of, example_section, run_section, with_changes
from tests.test_oidc import GH, GITHUB_ARN, GITLAB_ARN, SHARED, documented_ci, github, section_with, token

EXAMPLES = ROOT / "examples" / "ci"
WORKFLOW = EXAMPLES / "github-actions.yml"
PIPELINE = EXAMPLES / "gitlab-ci.yml"
PINNED = re.compile(r"^(?P<action>[\w.-]+/[\w.-]+)@(?P<sha>[0-9a-f]{40}) # (?P<tag>v\d+\.\d+\.\d+)$")
# The commit each release tag points to, read from the actions' own repositories (`git rev-parse <tag>^{commit}`
# in a mirror of github.com/<action>): the source of every pin.
RELEASES = {
    "actions/checkout": ("v5.1.0", "fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09"),
    "actions/setup-python": ("v6.3.0", "ece7cb06caefa5fff74198d8649806c4678c61a1"),
    "aws-actions/configure-aws-credentials": ("v6.2.3", "e6de054238d6b7531b4efff3b6587d9aade6a06c"),
    "hashicorp/setup-terraform": ("v3.1.2", "b9cd54a3c349d3f38e8881555d616ced269862dd"),
    "pulumi/auth-actions": ("v1.0.1", "1c89817aab0c66407723cdef72b05266e7376640"),
    "pulumi/actions": ("v6.6.1", "8582a9e8cc630786854029b4e09281acd6794b58"),
}
PLAN_ASSUMER = f"arn:aws:iam::{SHARED}:role/infrastructure-plan-assumer-role"
ASSUMER = f"arn:aws:iam::{SHARED}:role/infrastructure-assumer-role"
# Downloads or installs from the network.
FETCHES = re.compile(r"\b(curl|wget|pip install|npm|apt-get|pulumi plugin install|make venv)\b")


def docs_stack() -> dict[str, Any]:
    """The example stack with the docs' CI config and the plan path the example pipelines use."""
    ci = {**example_section()["iam-federation:ci"], **documented_ci()}
    return with_changes(example_section(), ci=ci, plan_path={"enabled": True, "permission_sets": ["AWSReadOnlyAccess"]})


@pytest.fixture(scope="module")
def docs_model() -> IamModel:
    return iam_model(run_section(docs_stack()))


def admitted(model: IamModel, role: str, sub: str, aud: str, provider: str, host: str) -> bool:
    target = model.roles[role]
    request = Request("sts:AssumeRoleWithWebIdentity", target.arn, SHARED, target.trust)
    return evaluate(token(sub, aud=aud, provider=provider, host=host), request).allowed


def workflow() -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(WORKFLOW.read_text())
    return loaded


def test_every_action_is_pinned_by_the_commit_of_its_release_tag() -> None:
    jobs = workflow()["jobs"]
    uses = [str(step["uses"]) for job in jobs.values() for step in job["steps"] if "uses" in step]
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) for u in uses), uses
    # The tag is a YAML comment: read the lines themselves.
    lines = [line.split("uses: ", 1)[1] for line in WORKFLOW.read_text().splitlines() if "uses: " in line]
    assert len(lines) == len(uses)
    for line in lines:
        match = PINNED.fullmatch(line.strip())
        assert match, line
        assert RELEASES[match["action"]] == (match["tag"], match["sha"]), line


def _credentials_index(steps: list[dict[str, Any]]) -> int:
    (index,) = [i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("aws-actions/configure-aws")]
    return index


@pytest.mark.parametrize("job", ["plan", "apply"])
def test_terragrunt_is_verified_before_credentials_and_nothing_is_fetched_after(job: str) -> None:
    steps = workflow()["jobs"][job]["steps"]
    credentials = _credentials_index(steps)
    (install,) = [i for i, s in enumerate(steps) if "terragrunt_linux_amd64" in str(s.get("run", ""))]
    assert install < credentials
    script = steps[install]["run"]
    order = [
        script.index(part) for part in ("SHA256SUMS.gpgsig", "gpg --batch --verify", "sha256sum --check", "install -m")
    ]
    assert order == sorted(order), script
    assert "set -euo pipefail" in script and "${TERRAGRUNT_VERSION}" in script
    assert workflow()["env"]["TERRAGRUNT_VERSION"] == "v1.1.3"
    for step in steps[credentials + 1 :]:
        assert not FETCHES.search(str(step.get("run", ""))), step
        action = str(step.get("uses", "")).split("@")[0]
        assert action in ("", "pulumi/auth-actions", "pulumi/actions"), step
        if action == "pulumi/actions":
            # The CLI of this exact version was installed before the credentials: the action skips the download.
            assert step["with"]["pulumi-version"] == "${{ env.PULUMI_VERSION }}"
            before = [s for s in steps[:credentials] if str(s.get("uses", "")).startswith("pulumi/actions@")]
            assert [s["with"] for s in before] == [{"pulumi-version": "${{ env.PULUMI_VERSION }}"}]
        if "terragrunt" in str(step.get("run", "")):
            assert "terragrunt run --all --non-interactive" in step["run"]


def _github_sub(repository: str, job: dict[str, Any], event: str) -> str:
    """The sub GitHub gives a job (OpenID Connect reference): its environment's, else the event's or the ref's."""
    if "environment" in job:
        return f"repo:{repository}:environment:{job['environment']}"
    return f"repo:{repository}:pull_request" if event == "pull_request" else f"repo:{repository}:ref:refs/heads/main"


def test_each_github_job_token_is_one_the_stack_trusts_for_its_role(docs_model: IamModel) -> None:
    (trust,) = [t for t in documented_ci()["oidc"] if t["provider"] == "github"]
    repository = trust["apply_subjects"][0].removeprefix("repo:").split(":", 1)[0]
    assert re.fullmatch(r"acme@\d+/infra@\d+", repository)  # the immutable form
    jobs = workflow()["jobs"]
    events = {"plan": "pull_request", "apply": "push"}
    for name, job in jobs.items():
        assert f"github.event_name == '{events[name]}'" in job["if"]
        sub = _github_sub(repository, job, events[name])
        credentials = job["steps"][_credentials_index(job["steps"])]["with"]
        role = {ASSUMER: "assumer-role", PLAN_ASSUMER: "plan-assumer-role"}[credentials["role-to-assume"]]
        other = {"assumer-role": "plan-assumer-role", "plan-assumer-role": "assumer-role"}[role]
        assert admitted(docs_model, role, sub, "sts.amazonaws.com", GITHUB_ARN, GH), (name, sub)
        assert not admitted(docs_model, other, sub, "sts.amazonaws.com", GITHUB_ARN, GH), (name, sub)
    assert jobs["apply"]["environment"] == "production"
    # The mutable name of the same repository is not trusted: a recycled name gets nothing.
    mutable = _github_sub("acme/infra", jobs["apply"], "push")
    assert not admitted(docs_model, "assumer-role", mutable, "sts.amazonaws.com", GITHUB_ARN, GH)


def test_each_gitlab_job_token_is_one_the_stack_trusts_and_the_image_is_pinned(docs_model: IamModel) -> None:
    pipeline: dict[str, Any] = yaml.safe_load(PIPELINE.read_text())
    image = pipeline["default"]["image"]
    assert re.fullmatch(r"[\w./-]+(:[\w.-]+)?@sha256:([0-9a-f]{64}|YOUR_IMAGE_DIGEST)", image), image
    audience = pipeline[".oidc"]["id_tokens"]["AWS_ID_TOKEN"]["aud"]
    subjects = {
        # A merge request pipeline's token names its source branch; the default branch's names main.
        "plan": "project_path:acme/infra:ref_type:branch:ref:feature/new-vpc",
        "apply": "project_path:acme/infra:ref_type:branch:ref:main",
    }
    for name, sub in subjects.items():
        role = {ASSUMER: "assumer-role", PLAN_ASSUMER: "plan-assumer-role"}[pipeline[name]["variables"]["AWS_ROLE_ARN"]]
        assert admitted(docs_model, role, sub, audience, GITLAB_ARN, "gitlab.com"), (name, sub)
    assert not admitted(docs_model, "assumer-role", subjects["plan"], audience, GITLAB_ARN, "gitlab.com")
    # Nothing is fetched in the jobs (the token exists from the job's start); the one curl is the token exchange.
    scripts = [line for job in ("plan", "apply") for line in pipeline[job]["script"]]
    fetched = [line for line in scripts + pipeline[".oidc"]["before_script"] if FETCHES.search(line)]
    assert [line.split("(curl -fsS ", 1)[1].split()[0] for line in fetched] == [
        "https://api.pulumi.com/api/oauth/token"
    ]


def test_the_docs_ci_config_plans_ok_with_the_plan_path(docs_model: IamModel) -> None:
    # Before the fix: 2 mismatches and 33 reaches, because a `ref:*` plan subject admits the default branch's
    # token and any other ref's, which the expectation treated as outsiders.
    config = config_of(docs_stack())
    matrix = access_matrix(config, docs_model)
    assert matrix.mismatches == []
    assert analyse(config, matrix).failures == []
    assert matrix.cell("oidc:gitlab(other ref)", "assume:plan-assumer").actual
    assert matrix.cell("oidc:gitlab(other ref)", "assume:plan-assumer").expected is True
    assert not matrix.cell("oidc:gitlab(other ref)", "assume:assumer").actual


def test_a_plan_subject_that_does_not_admit_main_keeps_main_out_of_the_plan_assumer() -> None:
    # The expectation follows the plan subjects, it does not simply allow every token of the trust.
    ci = documented_ci()
    ci["oidc"][1]["plan_subjects"] = ["project_path:acme/infra:ref_type:branch:ref:feature/*"]
    section = with_changes(docs_stack(), ci={**example_section()["iam-federation:ci"], **ci})
    config = config_of(section)
    run = run_section(section)
    model = iam_model(run)
    matrix = access_matrix(config, model)
    assert matrix.mismatches == []
    cell = matrix.cell("oidc:gitlab(apply)", "assume:plan-assumer")
    assert (cell.expected, cell.actual) == (False, False)
    # Widen the plan assumer's trust to every ref behind the config's back: the plan catches it.
    statement = next(s for s in model.roles["plan-assumer-role"].trust["Statement"] if s.get("Sid") == "OidcGitlabPlan")
    statement["Condition"]["StringLike"]["gitlab.com:sub"] = ["project_path:acme/infra:ref_type:branch:ref:*"]
    widened = access_matrix(config, model)
    assert ("oidc:gitlab(apply)", "assume:plan-assumer") in {(c.principal, c.target) for c in widened.mismatches}


def test_a_mutable_github_apply_subject_is_refused_unless_taken_as_a_named_risk() -> None:
    mutable = github(apply_subjects=["repo:acme/infra:environment:production"])
    with pytest.raises(ConfigError) as refused:
        config_of(section_with(mutable))
    (problem,) = refused.value.problems
    assert problem.startswith(
        "iam-federation:ci.oidc[0].apply_subjects[0] = 'repo:acme/infra:environment:production': names the "
        "repository by its mutable name"
    )
    assert "'github-mutable-subject'" in problem and "repo:<owner>@<owner id>/<repo>@<repo id>" in problem
    accepted = section_with(mutable, accepted_risks=["github-mutable-subject"])
    config = config_of(accepted)
    assert config.risks == ["github-mutable-subject"]
    matrix = access_matrix(config, iam_model(run_section(accepted)))
    assert "github-mutable-subject" in analyse(config, matrix).risks
    # The immutable form needs no risk, and a mutable plan subject is no apply path.
    assert config_of(section_with(github())).risks == []
