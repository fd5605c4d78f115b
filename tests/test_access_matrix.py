"""The access matrix from a real IAM evaluator, and mutations that show it has teeth."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from federation.config import FederationConfig
from plan.matrix import Matrix, access_matrix
from plan.model import IamModel, iam_model
from plan.runner import ProgramRun
from tests.conftest import config_of, example_section, run_section, with_changes


def matrix_of(section: dict[str, Any], mutate: Callable[[IamModel], None] | None = None) -> Matrix:
    config: FederationConfig = config_of(section)
    model = iam_model(run_section(section))
    if mutate is not None:
        mutate(model)
    return access_matrix(config, model)


@pytest.fixture(scope="module")
def example_model(example_run: ProgramRun) -> IamModel:
    return iam_model(example_run)


@pytest.fixture(scope="module")
def example_matrix(example_model: IamModel) -> Matrix:
    return access_matrix(config_of(example_section()), example_model)


def allowed(matrix: Matrix) -> set[tuple[str, str]]:
    return {(c.principal, c.target) for c in matrix.cells if c.actual}


def test_example_matrix_matches_the_promise(example_matrix: Matrix) -> None:
    assert example_matrix.mismatches == []
    accounts = ["shared", "dev", "stage", "prod"]
    data = [
        f"{a} dev/terraform.tfstate{s}"
        for s in ("", ".tflock")
        for a in ("s3:GetObject", "s3:PutObject", "s3:DeleteObject")
    ] + ["dynamodb:PutItem lock", "dynamodb:DeleteItem lock"]
    assert allowed(example_matrix) == {
        ("ec2-service", "assume:assumer"),
        ("sso:AWSAdministratorAccess", "assume:assumer"),
        ("sso:AWSPowerUserAccess", "assume:assumer"),
        ("sso:AWSAdministratorAccess(regional path)", "assume:assumer"),
        ("ci-runner(assumer)", "assume:state-mgmt"),
        *{("ci-runner(assumer)", f"assume:doer:{a}") for a in accounts},
        *{(f"doer:{a}", "assume:state-mgmt") for a in accounts},
        *{("state-mgmt", target) for target in data},
    }


def test_matrix_covers_the_required_principals_and_targets(example_matrix: Matrix) -> None:
    principals = set(example_matrix.principals)
    assert {
        "ci-runner(assumer)",
        "sso:AWSAdministratorAccess",
        "sso:AWSReadOnlyAccess",  # a permission set that is not configured
        "sso:AWSAdministratorAccess@dev",  # a configured permission set, in an application account
        "doer:dev",
        "state-mgmt",
        "org-member-admin",
        "outsider-admin",
    } <= principals
    targets = set(example_matrix.targets)
    assert {
        "assume:assumer",
        "assume:doer:prod",
        "assume:state-mgmt",
        "s3:PutObject dev/terraform.tfstate.tflock",
        "dynamodb:DeleteItem lock",
        "s3:GetObject dev/terraform.tfstate over http",
    } <= targets


def test_cells_say_which_statements_decided(example_matrix: Matrix) -> None:
    cell = example_matrix.cell("ci-runner(assumer)", "assume:doer:dev")
    assert "resource:Allow:Assumer" in cell.decided_by
    assert "identity[assume-doers-and-state-mgmt]:Allow:AssumeDoersInOrganization" in cell.decided_by
    denied = example_matrix.cell("doer:shared", "s3:GetObject dev/terraform.tfstate")
    assert not denied.actual
    assert "resource:Deny:DenyStateObjectsExceptStateMgmt" in denied.decided_by
    insecure = example_matrix.cell("state-mgmt", "s3:GetObject dev/terraform.tfstate over http")
    assert not insecure.actual and "resource:Deny:DenyInsecureTransport" in insecure.decided_by


def test_article_chain_only_when_state_mgmt_does_not_trust_doers() -> None:
    section = with_changes(example_section(), state_backend={"state_mgmt_trusts_doers": False})
    matrix = matrix_of(section)
    assert matrix.mismatches == []
    assert not matrix.cell("doer:dev", "assume:state-mgmt").actual
    assert matrix.cell("ci-runner(assumer)", "assume:state-mgmt").actual


def test_sso_in_another_account_and_extra_principals() -> None:
    extra = "arn:aws:iam::555555555555:role/gitlab-runner"
    section = with_changes(
        example_section(),
        sso={"account_id": "666666666666", "permission_sets": ["Platform"]},
        ci={"extra_trusted_principal_arns": [extra]},
    )
    matrix = matrix_of(section)
    assert matrix.mismatches == []
    assert matrix.cell("sso:Platform", "assume:assumer").actual
    assert matrix.cell("extra:gitlab-runner", "assume:assumer").actual
    assert not matrix.cell("extra:gitlab-runner", "assume:doer:dev").actual


# --- mutations: tamper one generated document, the matrix must flag it -----------------------------------------


def _statement(document: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in document["Statement"] if s.get("Sid") == sid)


def drop_sso_arnlike(model: IamModel) -> None:
    del _statement(model.roles["assumer-role"].trust, "SsoPermissionSets")["Condition"]["ArnLike"]


def widen_state_mgmt_trust_to_star(model: IamModel) -> None:
    statement = _statement(model.roles["state-backend-state-mgmt-role"].trust, "Assumer")
    statement["Principal"] = {"AWS": "*"}
    del statement["Condition"]


def widen_doer_trust_to_star(model: IamModel) -> None:
    _statement(model.roles["doer-dev-role"].trust, "Assumer")["Principal"] = {"AWS": "*"}


def widen_doer_trust_to_star_unconditioned(model: IamModel) -> None:
    widen_doer_trust_to_star(model)
    del _statement(model.roles["doer-dev-role"].trust, "Assumer")["Condition"]


def drop_tls_deny(model: IamModel) -> None:
    model.bucket_policy["Statement"] = [
        s for s in model.bucket_policy["Statement"] if s["Sid"] != "DenyInsecureTransport"
    ]


def drop_ec2_trust(model: IamModel) -> None:
    trust = model.roles["assumer-role"].trust
    trust["Statement"] = [s for s in trust["Statement"] if s["Sid"] != "CiRunnerInstances"]


def drop_org_condition_on_state_mgmt(model: IamModel) -> None:
    del _statement(model.roles["state-backend-state-mgmt-role"].trust, "DoersInOrganization")["Condition"][
        "StringEquals"
    ]


def grant_doer_s3(model: IamModel) -> None:
    """Give doer:dev s3:* on the state bucket the way a cross-account grant is written: identity + bucket policy."""
    bucket = f"arn:aws:s3:::{model.bucket_name}"
    doer = model.roles["doer-dev-role"]
    doer.inline["state-bucket"] = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "S3", "Effect": "Allow", "Action": "s3:*", "Resource": [bucket, f"{bucket}/*"]}],
    }
    model.bucket_policy["Statement"].append(
        {
            "Sid": "DevDoer",
            "Effect": "Allow",
            "Principal": {"AWS": doer.arn},
            "Action": "s3:*",
            "Resource": f"{bucket}/*",
        }
    )


def grant_doer_s3_and_exempt_it(model: IamModel) -> None:
    grant_doer_s3(model)
    guard = _statement(model.bucket_policy, "DenyStateObjectsExceptStateMgmt")["Condition"]["ArnNotEquals"]
    guard["aws:PrincipalArn"] = [guard["aws:PrincipalArn"], model.roles["doer-dev-role"].arn]


@pytest.mark.parametrize(
    ("mutation", "flagged_cell", "now"),
    [
        (drop_sso_arnlike, ("sso:AWSReadOnlyAccess", "assume:assumer"), True),
        (widen_state_mgmt_trust_to_star, ("outsider-admin", "assume:state-mgmt"), True),
        (widen_doer_trust_to_star_unconditioned, ("outsider-admin", "assume:doer:dev"), True),
        (drop_tls_deny, ("state-mgmt", "s3:GetObject dev/terraform.tfstate over http"), True),
        (drop_ec2_trust, ("ec2-service", "assume:assumer"), False),
        (drop_org_condition_on_state_mgmt, ("outsider-doer-namesake", "assume:state-mgmt"), True),
        (grant_doer_s3_and_exempt_it, ("doer:dev", "s3:PutObject dev/terraform.tfstate"), True),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_mutation_is_flagged(mutation: Callable[[IamModel], None], flagged_cell: tuple[str, str], now: bool) -> None:
    matrix = matrix_of(example_section(), mutation)
    mismatched = {(c.principal, c.target) for c in matrix.mismatches}
    assert flagged_cell in mismatched
    assert matrix.cell(*flagged_cell).actual is now


def test_a_star_doer_principal_alone_is_stopped_by_its_arn_condition() -> None:
    matrix = matrix_of(example_section(), widen_doer_trust_to_star)
    assert matrix.mismatches == []
    assert not matrix.cell("outsider-admin", "assume:doer:dev").actual
    assert matrix.cell("ci-runner(assumer)", "assume:doer:dev").actual


def test_a_doer_grant_alone_is_stopped_by_the_state_mgmt_only_guard() -> None:
    # Defence in depth: the identity + bucket-policy grant on its own changes nothing, because the bucket policy
    # denies object access to every principal but state-mgmt. Only together with the exemption above is it flagged.
    matrix = matrix_of(example_section(), grant_doer_s3)
    assert matrix.mismatches == []
    cell = matrix.cell("doer:dev", "s3:PutObject dev/terraform.tfstate")
    assert not cell.actual
    assert "resource:Deny:DenyStateObjectsExceptStateMgmt" in cell.decided_by
    assert "resource:Allow:DevDoer" in cell.decided_by
