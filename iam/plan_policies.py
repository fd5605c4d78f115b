"""Pure policy documents of the plan path (plan assumer, plan doers): plain values in, plain dicts out, no Pulumi.

The plan path is the apply path with reads only. Read-only SSO permission sets (and pull-request CI identities, as
extra trust statements) reach the plan assumer; it may assume the plan doer of any account of the organization and
the state reader, nothing else. A plan doer reads its account (ReadOnlyAccess) and may assume the state reader; its
guard denies every IAM write and every other role whatever its managed policies say. Like the apply path's
documents, none of these lists accounts, so their size does not grow with the organization.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from iam.policies import (
    ASSUME_ACTIONS,
    VERSION,
    PolicyDocument,
    any_account_role_arn,
    assumer_statement,
    sso_trust_statement,
)
from state_backend.policies import STATE_ACCOUNT_TAG

# Every IAM action that creates, changes or hands out an identity or its power (wildcards by verb, so a new IAM write
# action of one of these verbs is denied too). iam:PassRole is here because passing a role to a service (EC2, Lambda)
# is how a principal without IAM writes borrows that role's power.
IAM_WRITE_ACTIONS = [
    "iam:Add*",
    "iam:Attach*",
    "iam:Change*",
    "iam:Create*",
    "iam:Deactivate*",
    "iam:Delete*",
    "iam:Detach*",
    "iam:Disable*",
    "iam:Enable*",
    "iam:PassRole",
    "iam:Put*",
    "iam:Remove*",
    "iam:Reset*",
    "iam:Resync*",
    "iam:Set*",
    "iam:Tag*",
    "iam:Untag*",
    "iam:Update*",
    "iam:Upload*",
]


def plan_assumer_trust_policy(
    *,
    sso_account_id: str,
    permission_sets: list[str],
    organization_id: str,
    extra_statements: Sequence[dict[str, Any]] = (),
    partition: str = "aws",
) -> PolicyDocument:
    """Trust of the plan assumer: the SSO roles of the read-only permission sets, plus any extra statements.

    extra_statements: further trust statements built elsewhere (pull-request OIDC identities), appended as given.
    No EC2 statement: the runners' instance profile is the apply path's.
    """
    statements: list[dict[str, Any]] = []
    if permission_sets:
        statements.append(
            sso_trust_statement("SsoPlanPermissionSets", sso_account_id, permission_sets, organization_id, partition)
        )
    statements += [dict(statement) for statement in extra_statements]
    for statement in statements:
        # No session tags: nothing on the plan path needs one before the state reader, and a StateAccount tag set
        # here (transitive) would be carried into the reader's session in place of the one the plan assumer sets
        # (second red team). Null aws:TagKeys: the request passes no tag (a token's tags claim included).
        condition = {**statement.get("Condition", {})}
        condition["Null"] = {**condition.get("Null", {}), "aws:TagKeys": "true"}
        statement["Condition"] = condition
    return {"Version": VERSION, "Statement": statements}


def plan_assumer_permissions_policy(
    *,
    plan_doer_path: str,
    plan_doer_name: str,
    state_reader_arn: str,
    organization_id: str,
    guard_reader_arn: str | None = None,
    runners_account_id: str | None = None,
    partition: str = "aws",
) -> PolicyDocument:
    """What the plan assumer may do: assume the plan doers of the organization and the state reader. Nothing else.

    runners_account_id: never tag the state reader with the runners' account (the shared account): its modules'
    state holds the runners' secrets; its readable prefixes are read through any other account's session.
    guard_reader_arn: the read-only role in the management account through which `pulumi preview` in providers.mode
    plan reads the organization guard (organization_guard.plan_role_name), allowed by its exact ARN.
    """
    statements: list[dict[str, Any]] = []
    if runners_account_id:
        statements.append(
            {
                "Sid": "NoRunnersAccountState",
                "Effect": "Deny",
                "Action": "sts:TagSession",
                "Resource": state_reader_arn,
                "Condition": {"StringEquals": {f"aws:RequestTag/{STATE_ACCOUNT_TAG}": runners_account_id}},
            }
        )
    statements += [
        {
            "Sid": "AssumePlanDoersInOrganization",
            "Effect": "Allow",
            "Action": ASSUME_ACTIONS,
            "Resource": any_account_role_arn(plan_doer_path, plan_doer_name, partition),
            "Condition": {"StringEquals": {"aws:ResourceOrgID": organization_id}},
        },
        {"Sid": "AssumeStateReader", "Effect": "Allow", "Action": ASSUME_ACTIONS, "Resource": state_reader_arn},
    ]
    if guard_reader_arn:
        statements.append(
            {"Sid": "AssumeGuardReader", "Effect": "Allow", "Action": ASSUME_ACTIONS, "Resource": guard_reader_arn}
        )
    return {"Version": VERSION, "Statement": statements}


def plan_permission_set_policy(*, plan_assumer_arn: str) -> PolicyDocument:
    """The inline policy a read-only permission set needs to reach the plan assumer, and nothing more.

    A trust that names an account lets a principal in only when its own policies allow sts:AssumeRole too, and
    ReadOnlyAccess allows none. Scoped to the plan assumer: in the management account (Identity Center's usual home)
    every OrganizationAccountAccessRole trusts the account root, so a wider grant there would reach all of them.
    """
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "AssumePlanAssumerOnly",
                "Effect": "Allow",
                # No sts:TagSession: the plan assumer takes no session tags (plan_assumer_trust_policy).
                "Action": [a for a in ASSUME_ACTIONS if a != "sts:TagSession"],
                "Resource": plan_assumer_arn,
            }
        ],
    }


def plan_doer_trust_policy(*, plan_assumer_arn: str) -> PolicyDocument:
    """Trust of a plan doer: the plan assumer only (never the apply assumer: apply sessions have their own doers)."""
    statement = assumer_statement(plan_assumer_arn)
    statement["Sid"] = "PlanAssumer"
    return {"Version": VERSION, "Statement": [statement]}


# Actions ReadOnlyAccess grants that are not reads in effect: receiving a message hides it (and feeds dead-letter
# queues), some "Get"s mint credentials or return passwords, a query or a live tail costs and streams others' logs.
EFFECTFUL_READ_ACTIONS = [
    "sqs:ReceiveMessage",
    "cognito-identity:GetOpenIdToken",
    "cognito-identity:GetOpenIdTokenForDeveloperIdentity",
    "cognito-identity:GetCredentialsForIdentity",
    "gamelift:GetComputeAccess",
    "gamelift:GetInstanceAccess",
    "ec2:GetPasswordData",
    "connect:GetFederationToken",
    # issue #16 item 6: job details carry artifact-bucket credentials and action secrets; query control stops or
    # starts others' queries and tails; these ask a service to act (send logs, deliver a snapshot, retrieve traces).
    "codepipeline:GetJobDetails",
    "codepipeline:GetThirdPartyJobDetails",
    "logs:StartLiveTail",
    "logs:StopLiveTail",
    "logs:StartQuery",
    "logs:StopQuery",
    "elasticbeanstalk:RequestEnvironmentInfo",
    "config:DeliverConfigSnapshot",
    "xray:StartTraceRetrieval",
    "xray:CancelTraceRetrieval",
    # Outside Get/List/Describe in ReadOnlyAccess (tests/test_read_only_access.py reviews every such entry): these
    # mint credentials, reach into a cluster, replicate data, start jobs that cost, or call with a bearer token.
    "s3express:CreateSession",
    "eks:AccessKubernetesApi",
    "dynamodb:ReadDataForReplication",
    "servicequotas:StartQuotaUtilizationReport",
    "devops-guru:StartCostEstimation",
    "bedrock-mantle:CallWithBearerToken",
    "agent-registry:InvokeRegistryMcp",
]
# Denied above, and newer than parliament 1.6.4's action database (the policy lint): AWS's ReadOnlyAccess grants them
# (moto 5.2.5's copy of 2026-09-24), so the lint's UNKNOWN_ACTION / UNKNOWN_PREFIX on these is expected.
NEWER_THAN_LINTER = (
    "dynamodb:ReadDataForReplication",
    "servicequotas:StartQuotaUtilizationReport",
    "bedrock-mantle:CallWithBearerToken",
    "agent-registry:InvokeRegistryMcp",
)
# What would hand a reader the CI runners' secrets (user data with registration tokens, console output, launch
# templates, parameters): denied on resources carrying the runner tag, in the account where the runners live.
RUNNER_SECRET_ACTIONS = [
    "ec2:DescribeInstanceAttribute",
    "ec2:GetConsoleOutput",
    "ec2:GetConsoleScreenshot",
    "ec2:GetLaunchTemplateData",
    "ssm:GetParameter",
    "ssm:GetParameters",
    "ssm:GetParametersByPath",
    "ssm:GetParameterHistory",
]


def plan_doer_guard_policy(
    *, state_reader_arn: str, state_reader_allowed: bool, runner_tag: tuple[str, str] | None = None
) -> PolicyDocument:
    """The plan doer's inline policy: its way to the state reader, and the denies that keep it from writing.

    The denies hold whatever managed policies the plan doer carries: no IAM write (so no way to create, edit or take
    over a role, or to pass one to a service), and no role but the state reader (so no way into a doer, state-mgmt
    or any role that happens to trust the account). state_reader_allowed mirrors the state reader's trust (the
    Terragrunt iam_role chain): when it does not trust plan doers, the way is denied too. runner_tag (the shared
    account's plan doer, where the runners live): no reading of the runners' configuration or parameters.
    """
    runner = (
        [
            {
                "Sid": "NoRunnerSecrets",
                "Effect": "Deny",
                "Action": RUNNER_SECRET_ACTIONS,
                "Resource": "*",
                "Condition": {"StringEquals": {f"aws:ResourceTag/{runner_tag[0]}": runner_tag[1]}},
            }
        ]
        if runner_tag
        else []
    )
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "AssumeStateReader" if state_reader_allowed else "NoStateReader",
                "Effect": "Allow" if state_reader_allowed else "Deny",
                "Action": ASSUME_ACTIONS,
                "Resource": state_reader_arn,
            },
            {"Sid": "NoOtherRoles", "Effect": "Deny", "Action": ASSUME_ACTIONS, "NotResource": state_reader_arn},
            {"Sid": "NoIamWrites", "Effect": "Deny", "Action": IAM_WRITE_ACTIONS, "Resource": "*"},
            {"Sid": "NoEffectfulReads", "Effect": "Deny", "Action": EFFECTFUL_READ_ACTIONS, "Resource": "*"},
            *runner,
        ],
    }
