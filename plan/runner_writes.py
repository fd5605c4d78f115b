"""What a runner is and boots from, and every write call on it: the requests that make their caller the assumer.

A runner runs with the assumer's instance profile, so whoever changes what a runner runs (its instance, disks,
images, launch template, group, SSM documents, parameters, maintenance windows and automation, the container
images and objects it pulls) runs code as the assumer. The list of such calls is long and grows with EC2 and SSM,
so it is not written here: it is every action of AWS's Service Authorization Reference whose access level is not
Read or List and that acts on one of these resource types, read from the copy parliament ships
(parliament/iam_definition.json, parliament 1.6.4, a dev dependency already used by the policy lint). A principal
that may make any one of them on a runner asset reaches the assumer (plan.world, target kind "runner-takeover").
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources


@dataclass(frozen=True)
class RunnerAsset:
    key: str  # the target's key suffix: take-over-runner:<key>
    service: str  # IAM service prefix
    resource_types: tuple[str, ...]  # resource types of the Service Authorization Reference
    arn: str  # a representative ARN ({region}, {account} filled in)
    source: str


SAR = "AWS Service Authorization Reference, as parliament/iam_definition.json ships it"
RUNNER_ASSETS: tuple[RunnerAsset, ...] = (
    RunnerAsset(
        "instance",
        "ec2",
        ("instance", "volume"),
        "arn:aws:ec2:{region}:{account}:instance/i-0runner",
        f"{SAR}: Amazon EC2 (ec2:CreateReplaceRootVolumeTask, ModifyInstanceMetadataOptions, ...)",
    ),
    RunnerAsset(
        "image",
        "ec2",
        ("image", "snapshot"),
        "arn:aws:ec2:{region}::image/ami-0runner",
        f"{SAR}: Amazon EC2 (images and snapshots have no account in their ARN)",
    ),
    RunnerAsset(
        "launch-template",
        "ec2",
        ("launch-template",),
        "arn:aws:ec2:{region}:{account}:launch-template/lt-0runner",
        f"{SAR}: Amazon EC2",
    ),
    RunnerAsset(
        "group",
        "autoscaling",
        ("autoScalingGroup", "launchConfiguration"),
        "arn:aws:autoscaling:{region}:{account}:autoScalingGroup:00000000-0000-0000-0000-000000000000:"
        "autoScalingGroupName/runners",
        f"{SAR}: Amazon EC2 Auto Scaling",
    ),
    RunnerAsset(
        "ssm",
        "ssm",
        (
            "instance",
            "managed-instance",
            "document",
            "parameter",
            "maintenancewindow",
            "windowtask",
            "windowtarget",
            "automation-definition",
            "automation-execution",
            "association",
            "servicesetting",
        ),
        "arn:aws:ssm:{region}:{account}:document/runner-boot",
        f"{SAR}: AWS Systems Manager (SendCommand, UpdateDocument, PutParameter, RegisterTaskWithMaintenanceWindow, "
        "StartAutomationExecution, UpdateServiceSetting, ...)",
    ),
    RunnerAsset(
        "instance-connect",
        "ec2-instance-connect",
        ("instance",),
        "arn:aws:ec2:{region}:{account}:instance/i-0runner",
        f"{SAR}: Amazon EC2 Instance Connect",
    ),
    RunnerAsset(
        "container-image",
        "ecr",
        ("repository",),
        "arn:aws:ecr:{region}:{account}:repository/runner",
        f"{SAR}: Amazon Elastic Container Registry (PutImage, ...)",
    ),
    RunnerAsset(
        "boot-object",
        "s3",
        ("object", "bucket"),
        "arn:aws:s3:::runner-boot-{account}/runner.tar.gz",
        f"{SAR}: Amazon S3 (PutObject, PutBucketPolicy, ... on what the runners pull)",
    ),
)
READ_LEVELS = frozenset({"Read", "List"})


@functools.cache
def _definition() -> dict[str, list[dict[str, object]]]:
    text = resources.files("parliament").joinpath("iam_definition.json").read_text()
    return {service["prefix"]: service["privileges"] for service in json.loads(text)}


@functools.cache
def write_actions(asset: RunnerAsset) -> tuple[str, ...]:
    """Every non-read action of the asset's service that acts on one of its resource types, sorted."""
    wanted = set(asset.resource_types)
    found = set()
    for privilege in _definition()[asset.service]:
        if privilege["access_level"] in READ_LEVELS:
            continue
        types = {str(r["resource_type"]).rstrip("*") for r in privilege["resource_types"]}  # type: ignore[attr-defined]
        if types & wanted:
            found.add(f"{asset.service}:{privilege['privilege']}")
    return tuple(sorted(found))
