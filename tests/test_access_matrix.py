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
    return {(c.principal, c.target) for c in matrix.judged if c.actual}


ACCOUNTS = ["shared", "dev", "stage", "prod"]
STATE = ["state-read", "state-write", "state-delete", "state-lock-file", "state-list", "lock-read", "lock-write"]


def test_example_matrix_matches_the_promise(example_matrix: Matrix) -> None:
    assert example_matrix.mismatches == []
    # Without ci.runner_vpc_ids, the runners' credentials work on any instance and copied off one.
    assumer_sessions = [
        "assumer",
        "assumer(runner)",
        "assumer(foreign instance)",
        "assumer(copied credentials)",
        "assumer(source identity)",
    ]
    subjects = [*ACCOUNTS, "unmanaged", "outsider"]
    own_state = {(f"state-mgmt[{a}]", f"{kind}:{a}") for a in subjects for kind in STATE}
    # readable_state: [shared] in the example: every account's state session reads the shared account's outputs.
    shared_outputs = {(f"state-mgmt[{a}]", f"{kind}:shared") for a in subjects for kind in ("state-read", "state-list")}
    deployers = {"doer@shared", "bootstrap@shared"}
    guards = [t for t, target in example_matrix.world.targets.items() if target.kind == "guard"]
    assert allowed(example_matrix) == {
        ("ec2-service", "assume:assumer"),
        ("sso:AWSAdministratorAccess", "assume:assumer"),
        ("sso:AWSAdministratorAccess(regional path)", "assume:assumer"),
        *{(s, f"assume:doer@{a}") for s in assumer_sessions for a in ACCOUNTS},
        *{(s, f"assume:state-mgmt[{a}]") for s in assumer_sessions for a in subjects},
        # Terragrunt's iam_role chain: each doer reaches a state-mgmt session of its own account only.
        *{(f"doer@{a}", f"assume:state-mgmt[{a}]") for a in ACCOUNTS},
        # An account this stack does not manage may create a role of the doer's name: it reaches its own (empty)
        # prefix and nothing else (the organization guard stops the creation itself).
        ("new-role:infrastructure-doer-role@unmanaged", "assume:state-mgmt[unmanaged]"),
        *own_state,
        *shared_outputs,
        *{(d, g) for d in deployers for g in guards},
        # Pulumi reads the bucket with HeadBucket (s3:ListBucket): the deployers list keys, and read no object.
        *{(d, f"state-list:{a}") for d in deployers for a in subjects},
    }


def test_matrix_covers_the_principals_and_assets_of_the_promise(example_matrix: Matrix) -> None:
    principals = set(example_matrix.principals)
    assert {
        "assumer(runner)",
        "sso:AWSAdministratorAccess",
        "sso:AWSReadOnlyAccess",  # a permission set that is not configured
        "sso:AWSAdministratorAccess@dev",  # a configured permission set, in an application account
        "doer@dev",
        "state-mgmt[dev]",
        "admin@dev",
        "power-user@shared",
        "role-creator@unmanaged",
        "launcher@shared",
        "admin@management",
        "admin@outsider",
        "doer-namesake@outsider",
    } <= principals
    targets = set(example_matrix.targets)
    assert {
        "assume:assumer",
        "assume:doer@prod",
        "assume:state-mgmt[prod]",
        "state-lock-file:dev",
        "state-destroy:dev",
        "lock-write:dev",
        "lock-scan",
        "lock-partiql",
        "state-read-http:dev",
        "bucket-policy",
        "bucket-versioning",
        "bucket-lifecycle",
        "bucket-replication",
        "table-policy-delete",
        "table-delete",
        "take-over:doer@dev",
        "pass-to-ec2:assumer",
    } <= targets


def test_no_principal_without_iam_power_loses_state_or_lifts_a_guard_in_one_call(example_matrix: Matrix) -> None:
    world = example_matrix.world
    losing = {"state-destroy", "guard", "lock-all"}
    for principal in ("power-user@shared", "launcher@shared", "role-creator@shared", "power-user@dev"):
        reached = [
            c.target
            for c in example_matrix.cells
            if c.principal == principal and c.actual and world.targets[c.target].kind.split(":")[0] in losing
        ]
        assert reached == [], principal
    # state-mgmt itself destroys no version: a DeleteObject leaves a delete marker the next version rolls back.
    assert not example_matrix.cell("state-mgmt[dev]", "state-destroy:dev").actual


def test_cells_say_which_statements_decided(example_matrix: Matrix) -> None:
    cell = example_matrix.cell("assumer(runner)", "assume:doer@dev")
    assert "resource:Allow:Assumer" in cell.decided_by
    assert "identity[assume-doers-and-state-mgmt]:Allow:AssumeDoersInOrganization" in cell.decided_by
    denied = example_matrix.cell("doer@shared", "state-read:dev")
    assert not denied.actual
    assert "resource:Deny:DenyStateObjectsExceptStateRoles" in denied.decided_by
    insecure = example_matrix.cell("state-mgmt[dev]", "state-read-http:dev")
    assert not insecure.actual and "resource:Deny:DenyInsecureTransport" in insecure.decided_by
    config = example_matrix.cell("power-user@shared", "bucket-versioning")
    assert not config.actual and "resource:Deny:DenyBucketExceptNamedRoles" in config.decided_by
    scan = example_matrix.cell("power-user@shared", "lock-partiql")
    assert not scan.actual and "resource:Deny:DenyTableExceptNamedRoles" in scan.decided_by


def test_a_doer_tags_its_own_account_only(example_matrix: Matrix) -> None:
    own = example_matrix.cell("doer@dev", "assume:state-mgmt[dev]")
    assert own.actual and "resource:Allow:DoersInOrganization" in own.decided_by
    other = example_matrix.cell("doer@dev", "assume:state-mgmt[prod]")
    assert not other.actual and "resource:Allow:DoersInOrganization" not in other.decided_by
    assert not example_matrix.cell("state-mgmt[dev]", "state-write:prod").actual
    assert not example_matrix.cell("state-mgmt[dev]", "lock-write:prod").actual
    assert example_matrix.cell("state-mgmt[prod]", "state-read:shared").actual  # readable_state: [shared]
    assert not example_matrix.cell("state-mgmt[prod]", "state-write:shared").actual


def test_article_chain_only_when_state_mgmt_does_not_trust_doers() -> None:
    section = with_changes(example_section(), state_backend={"state_mgmt_trusts_doers": False})
    matrix = matrix_of(section)
    assert matrix.mismatches == []
    assert not matrix.cell("doer@dev", "assume:state-mgmt[dev]").actual
    assert matrix.cell("assumer(runner)", "assume:state-mgmt[dev]").actual


def test_sso_in_another_account_and_extra_principals() -> None:
    extra = "arn:aws:iam::555555555555:role/gitlab-runner"
    section = with_changes(
        example_section(),
        sso={"account_id": "666666666666", "permission_sets": ["Platform"]},
        ci={"extra_trusted_principal_arns": [extra]},
        accepted_risks=["extra-principal-account-admins"],
    )
    matrix = matrix_of(section)
    assert matrix.mismatches == []
    assert matrix.cell("sso:Platform", "assume:assumer").actual
    assert matrix.cell("extra:gitlab-runner", "assume:assumer").actual
    assert not matrix.cell("extra:gitlab-runner", "assume:doer@dev").actual


def test_runner_vpc_binding_makes_a_foreign_instance_powerless() -> None:
    section = with_changes(
        example_section(), ci={"instance_profile_name": "runners", "runner_vpc_ids": ["vpc-0a1b2c3d4e5f67890"]}
    )
    matrix = matrix_of(section)
    assert matrix.mismatches == []
    assert matrix.cell("assumer(runner)", "assume:doer@prod").actual
    copied = matrix.cell("assumer(copied credentials)", "assume:doer@prod")
    assert not copied.actual
    assert "identity[assume-doers-and-state-mgmt]:Deny:RunnerCredentialsOnlyInTheirOwnVpc" in copied.decided_by
    # An instance launched with the runners' profile into the runners' own subnets is a runner: only the
    # organization guard (who may pass the role) tells them apart.
    assert matrix.cell("assumer(foreign instance)", "assume:doer@prod").actual
    assert matrix.cell("assumer", "assume:doer@prod").actual  # SSO sessions carry no instance keys


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
    assert model.bucket_policy is not None
    model.bucket_policy["Statement"] = [
        s for s in model.bucket_policy["Statement"] if s["Sid"] != "DenyInsecureTransport"
    ]


def drop_ec2_trust(model: IamModel) -> None:
    trust = model.roles["assumer-role"].trust
    trust["Statement"] = [s for s in trust["Statement"] if s["Sid"] != "CiRunnerInstances"]


def drop_org_condition_on_state_mgmt(model: IamModel) -> None:
    del _statement(model.roles["state-backend-state-mgmt-role"].trust, "DoersInOrganization")["Condition"][
        "StringEquals"
    ]["aws:PrincipalOrgID"]


def drop_state_account_tag_condition(model: IamModel) -> None:
    del _statement(model.roles["state-backend-state-mgmt-role"].trust, "DoersInOrganization")["Condition"][
        "StringEquals"
    ]["aws:RequestTag/StateAccount"]


def widen_state_mgmt_objects(model: IamModel) -> None:
    statement = _statement(
        model.roles["state-backend-state-mgmt-role"].inline["terraform-state-access"], "StateObjects"
    )
    statement["Resource"] = f"arn:aws:s3:::{model.bucket_name}/*"


def drop_lock_leading_keys(model: IamModel) -> None:
    del _statement(model.roles["state-backend-state-mgmt-role"].inline["terraform-state-access"], "LockItems")[
        "Condition"
    ]


def drop_bucket_config_guard(model: IamModel) -> None:
    assert model.bucket_policy is not None
    model.bucket_policy["Statement"] = [
        s for s in model.bucket_policy["Statement"] if s["Sid"] != "DenyBucketExceptNamedRoles"
    ]


def drop_table_config_guard(model: IamModel) -> None:
    assert model.table_policy is not None
    model.table_policy["Statement"] = [
        s for s in model.table_policy["Statement"] if s["Sid"] != "DenyTableExceptNamedRoles"
    ]


def grant_doer_s3(model: IamModel) -> None:
    """Give doer@dev s3:* on the state bucket the way a cross-account grant is written: identity + bucket policy."""
    assert model.bucket_policy is not None
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
    assert model.bucket_policy is not None
    guard = _statement(model.bucket_policy, "DenyStateObjectsExceptStateRoles")["Condition"]["ArnNotEquals"]
    guard["aws:PrincipalArn"] = [*guard["aws:PrincipalArn"], model.roles["doer-dev-role"].arn]
    everyone = _statement(model.bucket_policy, "DenyBucketExceptNamedRoles")["Condition"]["ArnNotEquals"]
    everyone["aws:PrincipalArn"] = [*everyone["aws:PrincipalArn"], model.roles["doer-dev-role"].arn]


@pytest.mark.parametrize(
    ("mutation", "flagged_cell", "now"),
    [
        (drop_sso_arnlike, ("sso:AWSReadOnlyAccess", "assume:assumer"), True),
        (widen_state_mgmt_trust_to_star, ("admin@outsider", "assume:state-mgmt[dev]"), True),
        (widen_doer_trust_to_star_unconditioned, ("admin@outsider", "assume:doer@dev"), True),
        (drop_tls_deny, ("state-mgmt[dev]", "state-read-http:dev"), True),
        (drop_ec2_trust, ("ec2-service", "assume:assumer"), False),
        (drop_org_condition_on_state_mgmt, ("doer-namesake@outsider", "assume:state-mgmt[outsider]"), True),
        (drop_state_account_tag_condition, ("doer@dev", "assume:state-mgmt[prod]"), True),
        (widen_state_mgmt_objects, ("state-mgmt[dev]", "state-write:prod"), True),
        (drop_lock_leading_keys, ("state-mgmt[dev]", "lock-write:prod"), True),
        (drop_bucket_config_guard, ("power-user@shared", "bucket-lifecycle"), True),
        (drop_table_config_guard, ("power-user@shared", "table-delete"), True),
        (grant_doer_s3_and_exempt_it, ("doer@dev", "state-write:dev"), True),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_mutation_is_flagged(
    mutation: Callable[[IamModel], None], flagged_cell: tuple[str, str], now: bool, example_model: IamModel
) -> None:
    model = example_model.copy()
    mutation(model)
    matrix = access_matrix(config_of(example_section()), model)
    mismatched = {(c.principal, c.target) for c in matrix.mismatches}
    assert flagged_cell in mismatched
    assert matrix.cell(*flagged_cell).actual is now


def test_a_star_doer_principal_alone_is_stopped_by_its_arn_condition(example_model: IamModel) -> None:
    model = example_model.copy()
    widen_doer_trust_to_star(model)
    matrix = access_matrix(config_of(example_section()), model)
    assert matrix.mismatches == []
    assert not matrix.cell("admin@outsider", "assume:doer@dev").actual
    assert matrix.cell("assumer(runner)", "assume:doer@dev").actual


def test_a_doer_grant_alone_is_stopped_by_the_state_mgmt_only_guard(example_model: IamModel) -> None:
    # Defence in depth: the identity + bucket-policy grant on its own changes nothing, because the bucket policy
    # denies object access to every principal but state-mgmt. Only together with the exemption above is it flagged.
    model = example_model.copy()
    grant_doer_s3(model)
    matrix = access_matrix(config_of(example_section()), model)
    assert matrix.mismatches == []
    cell = matrix.cell("doer@dev", "state-write:dev")
    assert not cell.actual
    assert "resource:Deny:DenyStateObjectsExceptStateRoles" in cell.decided_by
    assert "resource:Allow:DevDoer" in cell.decided_by
