"""Pure policy documents for the assumer and doer roles: plain values in, plain dicts out, no Pulumi.

None of these documents lists accounts, so their size does not grow with the organization: doers are reached by
role name and path within the organization (``aws:ResourceOrgID``), never by a list of ARNs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

PolicyDocument = dict[str, Any]

VERSION = "2012-10-17"
# SetSourceIdentity and TagSession keep the person behind an SSO session visible through the whole chain.
ASSUME_ACTIONS = ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]
EC2_SERVICE = "ec2.amazonaws.com"
# Identity Center names its roles AWSReservedSSO_<permission set>_<16 characters>; matching exactly 16 characters
# keeps a permission set called e.g. "Admin_x" from matching "Admin".
SSO_SUFFIX_PATTERN = "?" * 16
WEB_IDENTITY_ACTION = "sts:AssumeRoleWithWebIdentity"
# A session that carries or sets a source identity has it in this key of an AssumeRole request (AWS IAM User Guide,
# "Monitor and control actions taken with assumed roles": on role chaining both aws:SourceIdentity and
# sts:SourceIdentity are in the request context), so one Null test covers a value set now and one carried along.
SOURCE_IDENTITY_KEY = "sts:SourceIdentity"


def role_arn(account_id: str, path: str, name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account_id}:role{path}{name}"


def any_account_role_arn(path: str, name: str, partition: str = "aws") -> str:
    """The ARN pattern of a role of this path and name in any account (scope it with an org condition).

    Twelve ? rather than *: a * ending an ARN segment may match beyond ":" (IAM User Guide, "IAM JSON policy
    elements: Resource"), and CreateRole allows ":" in paths, so "*" would also match role/x:role/<name> in any
    account (found by plan/smt, docs/smt.md).
    """
    return f"arn:{partition}:iam::{'?' * 12}:role{path}{name}"


def sso_role_arn_patterns(sso_account_id: str, permission_set: str, partition: str = "aws") -> list[str]:
    """ArnLike patterns for the SSO roles of one permission set, with and without the region path segment.

    Identity Center re-creates a role with a new suffix when a permission set is re-provisioned; a pattern keeps
    trusting the new role, where a literal ARN would go stale (AWS then shows the principal as an AROA... id).
    """
    base = f"arn:{partition}:iam::{sso_account_id}:role/aws-reserved/sso.amazonaws.com"
    tail = f"AWSReservedSSO_{permission_set}_{SSO_SUFFIX_PATTERN}"
    return [f"{base}/{tail}", f"{base}/*/{tail}"]


def issuer_host(issuer_url: str) -> str:
    """An OIDC issuer as IAM names it: the URL without https://, the prefix of its condition keys and provider ARN."""
    return issuer_url.removeprefix("https://").rstrip("/")


def oidc_provider_arn(account_id: str, issuer_url: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account_id}:oidc-provider/{issuer_host(issuer_url)}"


@dataclass(frozen=True)
class WebIdentityTrust:
    """One OIDC issuer's tokens a role may trust: whose (provider), for whom (audience), which subjects."""

    name: str
    provider_arn: str
    issuer_url: str
    audience: str
    apply_subjects: tuple[str, ...]
    plan_subjects: tuple[str, ...]


def _statement_id(name: str, which: str) -> str:
    return "Oidc" + "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", f"{name}-{which}") if part)


def oidc_trust_statements(
    trusts: Sequence[WebIdentityTrust], which: Literal["apply", "plan"] = "apply"
) -> list[dict[str, Any]]:
    """Trust statements admitting the web identity tokens of the apply (or plan) subjects of each trust.

    Each token must come from the trust's provider (Federated principal), be issued for its audience (StringEquals
    <issuer>:aud) and name one of its subjects (StringLike <issuer>:sub). A trust without subjects of this kind adds
    no statement. The condition keys are the issuer's host and path, as IAM names them for OIDC providers.
    """
    statements: list[dict[str, Any]] = []
    for trust in trusts:
        subjects = trust.apply_subjects if which == "apply" else trust.plan_subjects
        if not subjects:
            continue
        host = issuer_host(trust.issuer_url)
        statements.append(
            {
                "Sid": _statement_id(trust.name, which),
                "Effect": "Allow",
                "Principal": {"Federated": trust.provider_arn},
                "Action": WEB_IDENTITY_ACTION,
                "Condition": {
                    "StringEquals": {f"{host}:aud": trust.audience},
                    "StringLike": {f"{host}:sub": list(subjects)},
                },
            }
        )
    return statements


def sso_trust_statement(
    sid: str, sso_account_id: str, permission_sets: list[str], organization_id: str, partition: str = "aws"
) -> dict[str, Any]:
    """Trust of the SSO roles of some permission sets: the SSO account, narrowed by role pattern and organization."""
    patterns = [p for ps in permission_sets for p in sso_role_arn_patterns(sso_account_id, ps, partition)]
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{sso_account_id}:root"},
        "Action": ASSUME_ACTIONS,
        "Condition": {
            "ArnLike": {"aws:PrincipalArn": patterns},
            "StringEquals": {"aws:PrincipalOrgID": organization_id},
        },
    }


def assumer_trust_policy(
    *,
    sso_account_id: str,
    permission_sets: list[str],
    organization_id: str,
    extra_principal_arns: list[str],
    web_identity: Sequence[WebIdentityTrust] = (),
    partition: str = "aws",
) -> PolicyDocument:
    """Trust of the assumer: the CI runners' EC2 instances, the chosen SSO permission sets, extra principals, and
    the web identity tokens of the configured CI repositories' apply subjects."""
    statements: list[dict[str, Any]] = [
        {
            "Sid": "CiRunnerInstances",
            "Effect": "Allow",
            "Principal": {"Service": EC2_SERVICE},
            "Action": "sts:AssumeRole",
        }
    ]
    if permission_sets:
        statements.append(
            sso_trust_statement("SsoPermissionSets", sso_account_id, permission_sets, organization_id, partition)
        )
    if extra_principal_arns:
        statements.append(
            {
                "Sid": "ExtraPrincipals",
                "Effect": "Allow",
                "Principal": {"AWS": sorted(extra_principal_arns)},
                "Action": ASSUME_ACTIONS,
            }
        )
    statements += oidc_trust_statements(web_identity, "apply")
    return {"Version": VERSION, "Statement": statements}


def assumer_permissions_policy(
    *,
    doer_path: str,
    doer_name: str,
    state_mgmt_arn: str,
    organization_id: str,
    runner_vpc_ids: list[str] | None = None,
    partition: str = "aws",
) -> PolicyDocument:
    """What the assumer may do: assume the doer role in accounts of the organization, and state-mgmt. Nothing else.

    runner_vpc_ids binds the runners' instance credentials to their network (AWS's data-perimeter pattern):
    credentials of any instance launched with the runners' profile work only from the runners' VPCs, and only
    through a VPC endpoint of the VPC they were issued in, so credentials copied off a runner work nowhere else.
    Instance credentials carry ec2:SourceInstanceARN and aws:ec2InstanceSourceVPC wherever they are used;
    aws:SourceVpc is set only for requests through a VPC endpoint (the runners need an STS interface endpoint).
    """
    statements: list[dict[str, Any]] = []
    if runner_vpc_ids:
        from_instance = {"Null": {"ec2:SourceInstanceARN": "false"}}
        statements += [
            {
                "Sid": "RunnerCredentialsOnlyFromRunnerVpcs",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {"StringNotEquals": {"aws:ec2InstanceSourceVPC": sorted(runner_vpc_ids)}, **from_instance},
            },
            {
                "Sid": "RunnerCredentialsOnlyInTheirOwnVpc",
                "Effect": "Deny",
                "Action": "*",
                "Resource": "*",
                "Condition": {
                    "StringNotEquals": {"aws:ec2InstanceSourceVPC": "${aws:SourceVpc}"},
                    "BoolIfExists": {"aws:ViaAWSService": "false"},
                    **from_instance,
                },
            },
        ]
    return {
        "Version": VERSION,
        "Statement": [
            *statements,
            {
                "Sid": "AssumeDoersInOrganization",
                "Effect": "Allow",
                "Action": ASSUME_ACTIONS,
                "Resource": any_account_role_arn(doer_path, doer_name, partition),
                "Condition": {"StringEquals": {"aws:ResourceOrgID": organization_id}},
            },
            {"Sid": "AssumeStateMgmt", "Effect": "Allow", "Action": ASSUME_ACTIONS, "Resource": state_mgmt_arn},
        ],
    }


# What would let someone take over, re-point or remove one of the federation's roles.
ROLE_CHANGE_ACTIONS = [
    "iam:AttachRolePolicy",
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:DeleteRolePermissionsBoundary",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
]
INSTANCE_PROFILE_CHANGE_ACTIONS = [
    "iam:AddRoleToInstanceProfile",
    "iam:CreateInstanceProfile",
    "iam:DeleteInstanceProfile",
    "iam:RemoveRoleFromInstanceProfile",
]


# The account root user, and an sts:AssumeRoot session, may always rewrite a bucket or table policy that denies
# them; only an SCP binds them.
BACKEND_POLICY_ACTIONS = [
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "dynamodb:PutResourcePolicy",
    "dynamodb:DeleteResourcePolicy",
]


def runners_account_perimeter(
    *,
    account_id: str,
    platform_arns: list[str],
    assume_only_arns: list[str],
    backend_role_arns: Sequence[str] = (),
    backend_resources: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """The runners' account as a perimeter: every principal of it that is not a platform role is denied everything.

    A list of runner-changing actions can never be complete (root volume replacement, images, instance metadata
    options, SSM documents, parameters, maintenance windows, automation, ECR images, S3 objects the runners boot
    from, and whatever EC2 and SSM add next), so the account where the runners run is platform-only instead: one
    statement denies every action but assuming a role to every principal of that account (aws:PrincipalAccount)
    whose ARN is not a platform role (ArnNotLike aws:PrincipalArn, an allow-list); a second lets only the platform
    roles and the assume-only principals (the assumer, the plan assumer, the trusted SSO roles, extra CI principals
    of that account) assume roles there, so nobody else leaves the account through a role either. ARNs carry the
    account id: no wildcard account segment that a role path containing ':' could match (FACTS 2026-12-04).

    Only the deployers, the runners' launchers and the configured platform roles (platform_arns) are exempt from
    both. The backend roles (state-mgmt, the state reader: untrusted people hold them, every application account's
    admin through its doer, every plan identity) act only on backend_resources (the bucket, the lock table, the
    state key) and assume nothing: a runner bucket or ECR repository whose policy grants the organization or the
    account must not let them write what runners boot from (second red team, docs/security.md).

    What an SCP does not bind (AWS Organizations User Guide, "Service control policies (SCPs)"): the management
    account, and service-linked roles. Service-linked roles act only for calls a bound principal made first (an SSM
    maintenance window task needs RegisterTaskWithMaintenanceWindow, denied here), so the perimeter holds for them.
    """
    in_account = {"StringEquals": {"aws:PrincipalAccount": account_id}}
    platform = sorted(set(platform_arns))
    backend_roles = sorted(set(backend_role_arns))
    statements: list[dict[str, Any]] = [
        {
            "Sid": "RunnersAccountPlatformOnly",
            "Effect": "Deny",
            "NotAction": ASSUME_ACTIONS,
            "Resource": "*",
            "Condition": {**in_account, "ArnNotLike": {"aws:PrincipalArn": sorted({*platform, *backend_roles})}},
        },
        {
            "Sid": "RunnersAccountAssumeOnlyPlatformAndBreakGlass",
            "Effect": "Deny",
            "Action": ASSUME_ACTIONS,
            "Resource": "*",
            "Condition": {**in_account, "ArnNotLike": {"aws:PrincipalArn": sorted({*platform, *assume_only_arns})}},
        },
    ]
    if backend_roles:
        statements.append(
            {
                "Sid": "RunnersAccountBackendRolesOnBackendOnly",
                "Effect": "Deny",
                "Action": "*",
                "NotResource": sorted(set(backend_resources)),
                "Condition": {**in_account, "ArnLike": {"aws:PrincipalArn": backend_roles}},
            }
        )
    return statements


def organization_guard_policy(
    *,
    protected_roles: list[tuple[str, str]],
    deployer_roles: list[tuple[str, str]],
    runner_role: tuple[str, str],
    runner_instance_profile: tuple[str, str],
    runner_launcher_arns: list[str],
    backend_resources: list[str],
    runners_account_id: str,
    platform_arns: list[str],
    assume_only_arns: list[str],
    backend_role_arns: Sequence[str] = (),
    perimeter_backend_resources: Sequence[str] = (),
    partition: str = "aws",
) -> PolicyDocument:
    """SCP that keeps the federation's roles to the roles that deploy them, in every account it is attached above.

    In the style of Control Tower's CT.IAM.PV.1: nobody but the deployers creates a role under a protected name,
    edits its trust or policies, or deletes it; only the deployers and the configured launchers may pass the
    runners' role to EC2; nobody but the deployers, the account root user included, rewrites the state bucket's or
    lock table's policy; and the runners' account is platform-only (runners_account_perimeter: platform_arns act
    there, assume_only_arns may only assume roles from there, nobody else does anything). Roles of the other
    statements are given as (path, name) and matched in any account, so the size does not grow with the
    organization. SCPs do not apply to the management account: it stays part of the trust root.
    """
    deployers = sorted({any_account_role_arn(path, name, partition) for path, name in deployer_roles})
    not_a_deployer = {"ArnNotLike": {"aws:PrincipalArn": deployers}}
    launchers = sorted({*deployers, *runner_launcher_arns})
    path, name = runner_instance_profile
    return {
        "Version": VERSION,
        "Statement": [
            *runners_account_perimeter(
                account_id=runners_account_id,
                platform_arns=platform_arns,
                assume_only_arns=assume_only_arns,
                backend_role_arns=backend_role_arns,
                backend_resources=perimeter_backend_resources,
            ),
            {
                "Sid": "ProtectFederationRoles",
                "Effect": "Deny",
                "Action": ROLE_CHANGE_ACTIONS,
                "Resource": sorted({any_account_role_arn(p, n, partition) for p, n in protected_roles}),
                "Condition": not_a_deployer,
            },
            {
                "Sid": "ProtectRunnerInstanceProfile",
                "Effect": "Deny",
                "Action": INSTANCE_PROFILE_CHANGE_ACTIONS,
                "Resource": f"arn:{partition}:iam::*:instance-profile{path}{name}",
                "Condition": not_a_deployer,
            },
            {
                "Sid": "PassRunnerRoleOnlyToLaunchers",
                "Effect": "Deny",
                "Action": "iam:PassRole",
                "Resource": any_account_role_arn(*runner_role, partition),
                "Condition": {"ArnNotLike": {"aws:PrincipalArn": launchers}},
            },
            {
                "Sid": "ProtectStateBackendPolicies",
                "Effect": "Deny",
                "Action": BACKEND_POLICY_ACTIONS,
                "Resource": sorted(backend_resources),
                "Condition": not_a_deployer,
            },
        ],
    }


def assumer_statement(assumer_arn: str, require_source_identity: bool = False) -> dict[str, Any]:
    """Trust statement admitting the assumer role only (sessions of it, from the CI runners or SSO users).

    The principal is the assumer's account, narrowed to the assumer's ARN by a condition, rather than the role ARN
    itself: IAM turns a role-ARN principal into the role's unique id, so a re-created assumer would leave every
    trusting role with a stale id, and a first deployment would have to create the assumer before them.
    require_source_identity admits only sessions that set or carry a source identity (who started them).
    """
    account, partition = assumer_arn.split(":")[4], assumer_arn.split(":")[1]
    condition: dict[str, Any] = {"ArnEquals": {"aws:PrincipalArn": assumer_arn}}
    if require_source_identity:
        condition["Null"] = {SOURCE_IDENTITY_KEY: "false"}
    return {
        "Sid": "Assumer",
        "Effect": "Allow",
        "Principal": {"AWS": f"arn:{partition}:iam::{account}:root"},
        "Action": ASSUME_ACTIONS,
        "Condition": condition,
    }


def doer_trust_policy(*, assumer_arn: str, require_source_identity: bool = False) -> PolicyDocument:
    """Trust of a doer: the assumer role only (and only sessions that say who, with require_source_identity)."""
    return {"Version": VERSION, "Statement": [assumer_statement(assumer_arn, require_source_identity)]}


def doer_state_access_policy(*, state_mgmt_arn: str, allowed: bool) -> PolicyDocument:
    """A doer's way to state-mgmt: allowed for Terragrunt's iam_role chain, explicitly denied otherwise.

    The document exists in both cases so that a member stack, which learns the choice from the shared stack's
    outputs, registers the same resources either way.
    """
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "AssumeStateMgmt" if allowed else "NoStateMgmt",
                "Effect": "Allow" if allowed else "Deny",
                "Action": ASSUME_ACTIONS,
                "Resource": state_mgmt_arn,
            }
        ],
    }
