"""The example pipelines (examples/ci/) hardened, and the docs' CI config planned as a whole (issue #16 item 7).

Parsed with PyYAML and judged on real values: every action pinned to a 40-hex commit with its release tag in a
comment, Terragrunt verified against its signed SHA256SUMS before the job holds AWS credentials and nothing
downloaded after, the image pinned by digest, and each job's token subject one the docs' stack trusts for that
job's role, through the evaluator on the registered trust policies.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from federation import names
from federation.config import ConfigError, FederationConfig
from orchestrate.__main__ import stack_specs
from plan.escalation import analyse
from plan.evaluator import Request, evaluate
from plan.matrix import access_matrix
from plan.model import IamModel, iam_model
from plan.runner import run_program
from plan.stacks import StackFile, read_stack_file, select_stacks
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


# The organization pipeline (issue #17 item 5): the example stack itself trusts the example workflow's jobs, the plan
# job plans every stack of the organization, the apply job applies them in order through the orchestrator, and
# refuses to while a stack is still in bootstrap mode.
EXAMPLE_DIR = ROOT / "examples"
# acme/infra by its ids, as GitHub's immutable subject names it (the ids of the example, docs/ci.md).
REPOSITORY = "acme@1234567/infra@890123456"
# The aud configure-aws-credentials requests when given no `audience` (its action.yml of v6).
JOB_AUDIENCE = "sts.amazonaws.com"


@pytest.fixture(scope="module")
def example_stack() -> tuple[FederationConfig, IamModel]:
    """examples/Pulumi.shared.yaml, read by the project's loader and run as the program runs it."""
    stack = read_stack_file(EXAMPLE_DIR / "Pulumi.shared.yaml")
    assert isinstance(stack, StackFile), stack
    assert isinstance(stack.config, FederationConfig)
    return stack.config, iam_model(run_program(stack.raw, stack=stack.name))


def _commands(job: dict[str, Any], env: dict[str, Any]) -> list[str]:
    """The job's run lines with the workflow's env written in ("$SHARED_STACK" -> shared)."""
    lines = [line.strip() for step in job["steps"] for line in str(step.get("run", "")).splitlines()]
    for key, value in env.items():
        lines = [line.replace(f'"${key}"', str(value)).replace(f"${key}", str(value)) for line in lines]
    return lines


def test_the_example_stack_trusts_each_job_token_for_its_role_only(
    example_stack: tuple[FederationConfig, IamModel],
) -> None:
    config, model = example_stack
    (trust,) = config.ci.oidc
    jobs = workflow()["jobs"]
    subs = {
        name: _github_sub(REPOSITORY, job, "pull_request" if name == "plan" else "push") for name, job in jobs.items()
    }
    # Exactly the subjects the jobs get, each on its own side.
    assert (
        trust.provider == "github" and trust.apply_subjects == [subs["apply"]] and trust.plan_subjects == [subs["plan"]]
    )
    assert config.plan_path.enabled
    arns = {names.assumer_arn(config): "assumer-role", names.plan_assumer_arn(config): "plan-assumer-role"}
    expected = {"plan": "plan-assumer-role", "apply": "assumer-role"}
    for name, job in jobs.items():
        credentials = job["steps"][_credentials_index(job["steps"])]["with"]
        assert "audience" not in credentials, name
        role = arns[credentials["role-to-assume"]]
        assert role == expected[name], name
        reached = {
            r
            for r in ("assumer-role", "plan-assumer-role")
            if admitted(model, r, subs[name], JOB_AUDIENCE, GITHUB_ARN, GH)
        }
        assert reached == {role}, (name, subs[name], reached)
    # The plan job's token on main (no environment) and the mutable name reach nothing.
    for sub in (f"repo:{REPOSITORY}:ref:refs/heads/main", "repo:acme/infra:environment:production"):
        assert not any(admitted(model, r, sub, JOB_AUDIENCE, GITHUB_ARN, GH) for r in expected.values()), sub


def test_the_plan_job_plans_the_organization_and_the_apply_job_applies_it_through_the_orchestrator() -> None:
    loaded = workflow()
    env, jobs = loaded["env"], loaded["jobs"]
    plan, apply = _commands(jobs["plan"], env), _commands(jobs["apply"], env)
    assert "make plan STACK=all SHARED=shared" in plan
    assert "make orchestrate OP=up SHARED=shared" in apply
    # No stack is applied another way: no pulumi/actions `command`, no `pulumi up` of one stack.
    steps = jobs["apply"]["steps"]
    assert not [s for s in steps if "command" in s.get("with", {})]
    assert not [line for line in apply if line.startswith("pulumi ") and " up" in line]
    # The orchestrator before Terragrunt, and the refusal of bootstrap mode before both and before the credentials.
    index = {name: i for i, s in enumerate(steps) for name in [str(s.get("name", ""))]}
    (orchestrate,) = [i for i, s in enumerate(steps) if "make orchestrate" in str(s.get("run", ""))]
    (terragrunt,) = [i for i, s in enumerate(steps) if "-- apply" in str(s.get("run", ""))]
    refusal = index["Refuse to apply while a stack is in providers.mode bootstrap"]
    assert refusal < _credentials_index(steps) < orchestrate < terragrunt
    # What these make targets run (the Makefile), and that they take every stack of an organization laid out like
    # the example one: the shared stack first, then its member stack.
    makefile = (ROOT / "Makefile").read_text()
    assert "$(PY) -m plan --dir $(STACKS) --stack $(STACK) $(if $(SHARED),--shared $(SHARED))" in makefile
    assert "$(PY) -m orchestrate $(OP) --all --stacks-dir $(STACKS) $(if $(SHARED),--shared $(SHARED))" in makefile
    assert [s.name for s in select_stacks(EXAMPLE_DIR, "all", "shared").stacks] == ["shared", "members-a"]
    specs, _ = stack_specs(EXAMPLE_DIR, "shared")
    assert [(s.name, s.kind) for s in specs] == [("shared", "complete"), ("members-a", "member")]
    # GitLab: the same, without make (its venv rule would reinstall in a fresh checkout).
    pipeline: dict[str, Any] = yaml.safe_load(PIPELINE.read_text())
    assert pipeline["variables"]["SHARED_STACK"] == env["SHARED_STACK"] == "shared"
    assert 'venv/bin/python -m plan --dir . --stack all --shared "$SHARED_STACK"' in pipeline["plan"]["script"]
    script = pipeline["apply"]["script"]
    runs = [i for i, line in enumerate(script) if line.startswith("venv/bin/python -m orchestrate up --all")]
    assert runs == [script.index('venv/bin/python -m orchestrate up --all --stacks-dir . --shared "$SHARED_STACK"')]
    assert "select_organization" in script[0] and runs[0] < script.index(
        "cd live && terragrunt run --all --non-interactive -- apply"
    )


def _refusal_scripts() -> list[str]:
    steps = workflow()["jobs"]["apply"]["steps"]
    (github_step,) = [
        s for s in steps if s.get("name") == "Refuse to apply while a stack is in providers.mode bootstrap"
    ]
    gitlab_script: list[str] = yaml.safe_load(PIPELINE.read_text())["apply"]["script"]
    return [str(github_step["run"]), gitlab_script[0]]


def _with_mode(text: str, mode: str) -> str:
    replaced, count = re.subn(r"(iam-federation:providers:\n    mode: )\w+", rf"\g<1>{mode}", text)
    assert count == 1
    return replaced


@pytest.mark.parametrize("ci", ["github", "gitlab"])
def test_the_apply_job_refuses_while_a_stack_is_in_bootstrap_mode(ci: str, tmp_path: Path) -> None:
    script = dict(zip(["github", "gitlab"], _refusal_scripts(), strict=True))[ci]
    (tmp_path / "venv").symlink_to(ROOT / "venv")
    files = {name: (EXAMPLE_DIR / name).read_text() for name in ("Pulumi.shared.yaml", "Pulumi.members-a.yaml")}

    def run(modes: dict[str, str]) -> subprocess.CompletedProcess[str]:
        for name, text in files.items():
            (tmp_path / name).write_text(_with_mode(text, modes[name]))
        environment = {**os.environ, "PYTHONPATH": str(ROOT), "SHARED_STACK": "shared"}
        return subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script], cwd=tmp_path, env=environment, capture_output=True, text=True
        )

    both = run({"Pulumi.shared.yaml": "bootstrap", "Pulumi.members-a.yaml": "bootstrap"})
    assert both.returncode == 1, both.stderr
    lines = both.stderr.splitlines()
    assert [line.split(":", 2)[1].strip() for line in lines] == ["Pulumi.shared.yaml", "Pulumi.members-a.yaml"]
    assert all("iam-federation:providers.mode = 'bootstrap': CI applies in doer mode only" in line for line in lines)
    assert "set providers.mode: doer in every stack file and merge" in lines[0]
    # The flip half done: the stack still in bootstrap mode is named, alone.
    half = run({"Pulumi.shared.yaml": "doer", "Pulumi.members-a.yaml": "bootstrap"})
    assert (
        half.returncode == 1
        and half.stderr.startswith("error: Pulumi.members-a.yaml:")
        and len(half.stderr.splitlines()) == 1
    ), half.stderr
    done = run({"Pulumi.shared.yaml": "doer", "Pulumi.members-a.yaml": "doer"})
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
