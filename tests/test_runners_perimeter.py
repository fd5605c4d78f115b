"""The runners' account as a perimeter: any write call on a runner or what it boots from makes its caller the
assumer (plan.runner_writes, plan.world), and the organization guard denies every such call to every principal of
that account but the platform roles (iam.policies.runners_account_perimeter). Judged by the evaluator."""

from __future__ import annotations

import pytest

from federation import documents
from federation.config import FederationConfig
from plan.escalation import RUNNER_TAKEOVER_RISK, analyse
from plan.evaluator import Principal, Request, evaluate
from plan.matrix import access_matrix
from plan.model import IamModel, iam_model
from plan.runner_writes import RUNNER_ASSETS, write_actions
from plan.world import FULL_AWS_ACCESS
from tests.conftest import config_of, example_section, run_section, with_changes

SHARED = "111111111111"
GUARD = {
    "management_account_id": "999999999999",
    "organization_guard": {"enabled": True, "target_ids": ["r-ab12"]},
}
# The take-over calls: each alone, in the shared account, runs code as the assumer.
TAKE_OVER = [
    ("instance", "ec2:CreateReplaceRootVolumeTask"),
    ("image", "ec2:CreateImage"),
    ("instance", "ec2:ModifyInstanceMetadataOptions"),
    ("instance", "ec2:ModifyInstanceAttribute"),
    ("launch-template", "ec2:CreateLaunchTemplateVersion"),
    ("group", "autoscaling:UpdateAutoScalingGroup"),
    ("ssm", "ssm:RegisterTaskWithMaintenanceWindow"),
    ("ssm", "ssm:UpdateDocument"),
    ("ssm", "ssm:PutParameter"),
    ("ssm", "ssm:StartAutomationExecution"),
    ("ssm", "ssm:SendCommand"),
    ("instance-connect", "ec2-instance-connect:SendSSHPublicKey"),
    ("container-image", "ecr:PutImage"),
    ("boot-object", "s3:PutObject"),
]


@pytest.fixture(scope="module")
def unguarded() -> tuple[FederationConfig, IamModel]:
    section = example_section()
    return config_of(section), iam_model(run_section(section))


@pytest.fixture(scope="module")
def guarded() -> tuple[FederationConfig, IamModel]:
    section = with_changes(example_section(), **GUARD)
    return config_of(section), iam_model(run_section(section))


def _only(action: str, scps: tuple[tuple[dict[str, object], ...], ...] | None) -> Principal:
    policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": action, "Resource": "*"}]}
    arn = f"arn:aws:iam::{SHARED}:role/ops"
    return Principal("ops", arn, "o-a1b2c3d4e5", (("only", policy),), scps=scps)


@pytest.mark.parametrize(("asset", "action"), TAKE_OVER, ids=[a for _, a in TAKE_OVER])
def test_one_write_call_is_a_runner_take_over_and_the_perimeter_denies_it(
    guarded: tuple[FederationConfig, IamModel], asset: str, action: str
) -> None:
    config, model = guarded
    (runner_asset,) = [a for a in RUNNER_ASSETS if a.key == asset]
    assert action in write_actions(runner_asset)  # read from the Service Authorization Reference, not listed here
    world = access_matrix(config, model).world
    target = world.targets[f"take-over-runner:{asset}"]
    resource = target.resource
    # Without an SCP, a principal allowed this one call may make it (the model's edge); with the guard, not.
    assert evaluate(_only(action, None), Request(action, resource, SHARED, None)).allowed
    scps = ((FULL_AWS_ACCESS, *model.scps),)
    denied = evaluate(_only(action, scps), Request(action, resource, SHARED, None))
    assert not denied.allowed


def test_without_the_guard_any_non_platform_principal_with_a_write_call_reaches_the_assumer(
    unguarded: tuple[FederationConfig, IamModel],
) -> None:
    config, model = unguarded
    matrix = access_matrix(config, model)
    escalation = analyse(config, matrix)
    for key in ("power-user@shared", "launcher@shared"):
        assert "assumer(runner)" in escalation.reaches[key].hops, key
    # Reads and state sessions make no write call on a runner.
    assert not [
        c
        for c in matrix.cells
        if c.target.startswith("take-over-runner:") and c.principal.startswith("state-") and c.actual
    ]
    risky = {f.source for f in escalation.findings if f.risk == RUNNER_TAKEOVER_RISK}
    assert "power-user@shared" in risky and escalation.failures == []


def test_with_the_guard_only_the_platform_roles_act_in_the_runners_account(
    guarded: tuple[FederationConfig, IamModel],
) -> None:
    config, model = guarded
    matrix = access_matrix(config, model)
    escalation = analyse(config, matrix)
    assert escalation.failures == [] and matrix.mismatches == []
    allowed = {c.principal for c in matrix.cells if c.target.startswith("take-over-runner:") and c.actual}
    # The shared doer and bootstrap role (Terraform's deployers, the trust root) keep working there.
    assert {"doer@shared", "bootstrap@shared"} <= allowed
    assert not allowed & {"power-user@shared", "launcher@shared", "admin@shared", "role-creator@shared"}
    # The trusted SSO role of the runners' account may still leave through the assumer (break-glass), not write.
    assert matrix.allowed("sso:AWSAdministratorAccess", "assume:assumer")
    assert not matrix.allowed("sso:AWSAdministratorAccess", "take-over-runner:instance")


def _drop_perimeter(model: IamModel) -> None:
    for scp in model.scps:
        scp["Statement"] = [s for s in scp["Statement"] if not s["Sid"].startswith("RunnersAccount")]


def _widen_platform(model: IamModel) -> None:
    for scp in model.scps:
        for statement in scp["Statement"]:
            if statement["Sid"] == "RunnersAccountPlatformOnly":
                statement["Condition"]["ArnNotLike"]["aws:PrincipalArn"].append(f"arn:aws:iam::{SHARED}:role/*")


@pytest.mark.parametrize("mutate", [_drop_perimeter, _widen_platform], ids=["perimeter-dropped", "platform-widened"])
def test_a_weakened_perimeter_fails_the_plan_with_a_runner_path(
    guarded: tuple[FederationConfig, IamModel], mutate: object
) -> None:
    config, model = guarded
    changed = model.copy()
    mutate(changed)  # type: ignore[operator]
    escalation = analyse(config, access_matrix(config, changed))
    found = [f for f in escalation.failures if f.source == "power-user@shared" and f.reached == "doer@prod"]
    assert found and found[0].risk is None
    assert found[0].path.startswith("power-user@shared -[take-over-runner:")


def test_the_perimeter_names_every_platform_role_of_the_shared_account() -> None:
    config = config_of(with_changes(example_section(), **GUARD))
    platform = documents.runners_account_platform_arns(config)
    assert platform == sorted(
        [
            f"arn:aws:iam::{SHARED}:role/OrganizationAccountAccessRole",
            f"arn:aws:iam::{SHARED}:role/infrastructure-doer-role",
        ]
    )
    assert documents.runners_account_assume_only_arns(config) == [
        f"arn:aws:iam::{SHARED}:role/infrastructure-assumer-role"
    ]
    assert documents.runners_account_backend_role_arns(config) == [f"arn:aws:iam::{SHARED}:role/state-mgmt-role"]
    assert documents.runners_account_break_glass_arns(config) == [
        f"arn:aws:iam::{SHARED}:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_AWSAdministratorAccess_"
        + "?" * 16,
        f"arn:aws:iam::{SHARED}:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_AWSAdministratorAccess_" + "?" * 16,
    ]
