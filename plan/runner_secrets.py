"""What a runner's secrets are read with: the read calls whose answer holds them, requests that make the caller the
assumer.

A runner is registered with a token its launch data, user data or parameters carry (GitHub's and GitLab's runner
registration tokens, Terraform's credentials); whoever holds one registers a runner of their own, is sent the apply
job and so gets the assumer's credentials. Unlike the write calls (plan.runner_writes), read calls that return
those values are few and named by what they return, so they are listed here, each with the member of its answer
that holds the secret (botocore's service model, shape path from the operation's output) and the FACTS.md section
that measured it. A principal of the runners' account allowed any one of them on the runners' resources reaches the
assumer (plan.world, target kind "runner-secret-read") unless a guard denies it.
"""

from __future__ import annotations

from dataclasses import dataclass

FACTS = "FACTS.md 2026-12-04 (AWS's ReadOnlyAccess includes calls that return secrets)"


@dataclass(frozen=True)
class SecretRead:
    action: str  # IAM action
    operation: str  # botocore service/operation that the action authorizes
    returns: str  # the output member that holds the secret (botocore shape path)
    source: str


@dataclass(frozen=True)
class SecretGroup:
    """Reads authorized on one kind of resource: one target per group (take-over-runner's pattern)."""

    key: str  # the target's key suffix: read-runner-secret:<key>
    arn: str  # the resource the request is authorized on ({region}, {account} filled in)
    tagged: bool  # whether the runner tag is on that resource (a call without a resource type carries none)
    reads: tuple[SecretRead, ...]
    source: str


SAR = "AWS Service Authorization Reference (parliament/iam_definition.json)"
SECRET_GROUPS: tuple[SecretGroup, ...] = (
    SecretGroup(
        "launch-data",
        "*",
        False,
        (
            SecretRead(
                "ec2:DescribeLaunchTemplateVersions",
                "ec2/DescribeLaunchTemplateVersions",
                "LaunchTemplateVersions[].LaunchTemplateData.UserData",
                f"{FACTS}; EC2 API Reference, DescribeLaunchTemplateVersions",
            ),
            SecretRead(
                "autoscaling:DescribeLaunchConfigurations",
                "autoscaling/DescribeLaunchConfigurations",
                "LaunchConfigurations[].UserData",
                f"{FACTS}; EC2 Auto Scaling API Reference, DescribeLaunchConfigurations",
            ),
            SecretRead(
                "ec2:DescribeSpotFleetRequests",
                "ec2/DescribeSpotFleetRequests",
                "SpotFleetRequestConfigs[].SpotFleetRequestConfig.LaunchSpecifications[].UserData",
                "issue #16 item 2; EC2 API Reference, DescribeSpotFleetRequests",
            ),
            SecretRead(
                "ec2:DescribeSpotInstanceRequests",
                "ec2/DescribeSpotInstanceRequests",
                "SpotInstanceRequests[].LaunchSpecification.UserData",
                "issue #16 item 2; EC2 API Reference, DescribeSpotInstanceRequests",
            ),
        ),
        f"{SAR}: these have no resource type (authorized on *), so no aws:ResourceTag applies ({FACTS})",
    ),
    SecretGroup(
        "instance-data",
        "arn:aws:ec2:{region}:{account}:instance/i-0runner",
        True,
        (
            SecretRead(
                "ec2:DescribeInstanceAttribute",
                "ec2/DescribeInstanceAttribute",
                "UserData.Value",
                "EC2 API Reference, DescribeInstanceAttribute (Attribute=userData)",
            ),
            SecretRead(
                "ec2:GetLaunchTemplateData",
                "ec2/GetLaunchTemplateData",
                "LaunchTemplateData.UserData",
                "EC2 API Reference, GetLaunchTemplateData",
            ),
            SecretRead(
                "ec2:GetConsoleOutput",
                "ec2/GetConsoleOutput",
                "Output",
                "EC2 API Reference, GetConsoleOutput (what the runner's boot printed)",
            ),
        ),
        f"{SAR}: Amazon EC2, resource type instance",
    ),
    SecretGroup(
        "parameter",
        "arn:aws:ssm:{region}:{account}:parameter/runners",
        False,
        (
            SecretRead(
                "ssm:GetParametersByPath",
                "ssm/GetParametersByPath",
                "Parameters[].Value",
                f"{FACTS}: authorized on the path, not on the parameters returned; WithDecryption decrypts "
                "SecureStrings under aws/ssm",
            ),
            SecretRead("ssm:GetParameter", "ssm/GetParameter", "Parameter.Value", "SSM API Reference, GetParameter"),
            SecretRead(
                "ssm:GetParameters", "ssm/GetParameters", "Parameters[].Value", "SSM API Reference, GetParameters"
            ),
            SecretRead(
                "ssm:GetParameterHistory",
                "ssm/GetParameterHistory",
                "Parameters[].Value",
                "SSM API Reference, GetParameterHistory",
            ),
        ),
        f"{SAR}: AWS Systems Manager, resource type parameter (a path is no tagged resource: no runner tag)",
    ),
)


def secret_actions(group: SecretGroup) -> tuple[str, ...]:
    return tuple(read.action for read in group.reads)
