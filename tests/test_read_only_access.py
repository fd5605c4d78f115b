"""AWS's ReadOnlyAccess, from its published document (moto 5.2.5 ships AWS's version of 2026-09-24): every action
it grants outside Get*/List*/Describe* is reviewed here, so this test fails when AWS adds one; the plan doer's guard
denies the ones that act, mint credentials or return secrets (iam.plan_policies.EFFECTFUL_READ_ACTIONS), judged by
the evaluator on ReadOnlyAccess plus the guard as the program writes it."""

from __future__ import annotations

import functools
import json
import re

import pytest

from federation import documents
from iam.plan_policies import EFFECTFUL_READ_ACTIONS
from plan.evaluator import Principal, Request, evaluate
from tests.conftest import config_of, example_section, with_changes

_GLD = re.compile(r"^[^:]+:(Get|List|Describe)", re.IGNORECASE)
# Every entry of ReadOnlyAccess outside Get/List/Describe, reviewed: denied to plan doers when it is in
# EFFECTFUL_READ_ACTIONS (or matches one), a read otherwise (Search, BatchGet, Query, Scan, Select, View, Validate...).
REVIEWED = frozenset(
    {
        "a4b:Search*",
        "access-analyzer:ValidatePolicy",
        "acm:SearchCertificates",
        "agent-registry:InvokeRegistryMcp",
        "agent-registry:SearchDiscoverableRegistryRecords",
        "aidevops:SearchServiceAccessibleResource",
        "aiops:ValidateInvestigationGroup",
        "aoss:BatchGetCollection",
        "aoss:BatchGetCollectionGroup",
        "aoss:BatchGetLifecyclePolicy",
        "aoss:BatchGetVpcEndpoint",
        "application-signals:BatchGetServiceLevelObjectiveBudgetReport",
        "appsync:EvaluateMappingTemplate",
        "aps:PreviewAnomalyDetector",
        "aps:QueryMetrics",
        "athena:Batch*",
        "auditmanager:ValidateAssessmentReportIntegrity",
        "aws-portal:View*",
        "bedrock-agentcore:RetrieveMemoryRecords",
        "bedrock-mantle:CallWithBearerToken",
        "bedrock:AgenticRetrieveStream",
        "bedrock:CheckIngestedDocumentAcl",
        "bedrock:CountTokens",
        "braket:SearchDevices",
        "braket:SearchJobs",
        "braket:SearchQuantumTasks",
        "braket:SearchSpendingLimits",
        "budgets:View*",
        "cassandra:Select",
        "chime:Retrieve*",
        "chime:Search*",
        "chime:Validate*",
        "cleanrooms:BatchGetCollaborationAnalysisTemplate",
        "cleanrooms:BatchGetSchema",
        "cleanrooms:BatchGetSchemaAnalysisRule",
        "cleanrooms:PreviewPrivacyImpact",
        "clouddirectory:BatchRead",
        "clouddirectory:LookupPolicy",
        "cloudformation:BatchDescribeTypeConfigurations",
        "cloudformation:Detect*",
        "cloudformation:Estimate*",
        "cloudformation:ValidateTemplate",
        "cloudtrail:LookupEvents",
        "cloudwatch:GenerateQuery",
        "cloudwatch:GenerateQueryResultsSummary",
        "codeartifact:ReadFromRepository",
        "codebuild:BatchGet*",
        "codecommit:BatchGet*",
        "codecommit:GitPull",
        "codedeploy:BatchGet*",
        "codestar:Verify*",
        "cognito-identity:Lookup*",
        "cognito-idp:AdminGet*",
        "cognito-idp:AdminList*",
        "cognito-sync:QueryRecords",
        "comprehend:BatchDetect*",
        "comprehend:Classify*",
        "comprehend:Contains*",
        "comprehend:Detect*",
        "config:BatchGetAggregateResourceConfig",
        "config:BatchGetResourceConfig",
        "config:Deliver*",
        "config:SelectAggregateResourceConfig",
        "config:SelectResourceConfig",
        "datapipeline:EvaluateExpression",
        "datapipeline:QueryObjects",
        "datapipeline:Validate*",
        "datazone:Search",
        "datazone:SearchGroupProfiles",
        "datazone:SearchListings",
        "datazone:SearchTypes",
        "datazone:SearchUserProfiles",
        "dax:BatchGetItem",
        "dax:Query",
        "dax:Scan",
        "deadline:BatchGetJobEntity",
        "deadline:SearchJobs",
        "deadline:SearchSteps",
        "deadline:SearchTasks",
        "deadline:SearchWorkers",
        "detective:BatchGetGraphMemberDatasources",
        "detective:BatchGetMembershipDatasources",
        "detective:SearchGraph",
        "devops-guru:SearchInsights",
        "devops-guru:StartCostEstimation",
        "dms:Test*",
        "ds:Check*",
        "ds:Verify*",
        "dynamodb:BatchGet*",
        "dynamodb:PartiQLSelect",
        "dynamodb:Query",
        "dynamodb:ReadDataForReplication",
        "dynamodb:Scan",
        "dynamodb:SearchVectors",
        "ec2:SearchLocalGatewayRoutes",
        "ec2:SearchTransitGatewayMulticastGroups",
        "ec2:SearchTransitGatewayRoutes",
        "ecr-public:BatchCheckLayerAvailability",
        "ecr:BatchCheck*",
        "ecr:BatchGet*",
        "eks:AccessKubernetesApi",
        "elasticbeanstalk:Check*",
        "elasticbeanstalk:Request*",
        "elasticbeanstalk:Retrieve*",
        "elasticbeanstalk:Validate*",
        "elasticmapreduce:View*",
        "elastictranscoder:Read*",
        "elemental-inference:ExportDictionaryEntries",
        "es:ESHttpGet",
        "es:ESHttpHead",
        "events:Test*",
        "evidently:TestSegmentPattern",
        "forecast:QueryForecast",
        "forecast:QueryWhatIfForecast",
        "frauddetector:BatchGetVariable",
        "gamelift:ResolveAlias",
        "gamelift:Search*",
        "glue:BatchGetCrawlers",
        "glue:BatchGetDevEndpoints",
        "glue:BatchGetJobs",
        "glue:BatchGetPartition",
        "glue:BatchGetTableOptimizer",
        "glue:BatchGetTriggers",
        "glue:BatchGetWorkflows",
        "glue:CheckSchemaVersionValidity",
        "glue:QuerySchemaVersionMetadata",
        "glue:SearchTables",
        "healthlake:ReadResource",
        "healthlake:SearchWithGet",
        "healthlake:SearchWithPost",
        "iam:Generate*",
        "iam:Simulate*",
        "identitystore-auth:BatchGetSession",
        "identitystore:IsMemberInGroups",
        "inspector2:BatchGetAccountStatus",
        "inspector2:BatchGetCodeSnippet",
        "inspector2:BatchGetFreeTrialInfo",
        "inspector2:BatchGetMemberEc2DeepInspectionStatus",
        "inspector2:SearchVulnerabilities",
        "inspector:Preview*",
        "iotanalytics:SampleChannelData",
        "ivs:BatchGetChannel",
        "kendra:BatchGetDocumentStatus",
        "kendra:Query",
        "kinesisanalytics:Discover*",
        "lakeformation:SearchDatabasesByLfTags",
        "lakeformation:SearchTablesByLfTags",
        "lightsail:Is*",
        "logs:FilterLogEvents",
        "logs:StartLiveTail",
        "logs:StartQuery",
        "logs:StopLiveTail",
        "logs:StopQuery",
        "logs:TestMetricFilter",
        "macie2:BatchGetCustomDataIdentifiers",
        "macie2:SearchResources",
        "mediaconnect:DiscoverGatewayPollEndpoint",
        "mediaconvert:Probe",
        "mediaconvert:SearchJobs",
        "observabilityadmin:TestTelemetryPipeline",
        "observabilityadmin:ValidateTelemetryPipelineConfiguration",
        "polly:SynthesizeSpeech",
        "purchase-orders:ViewPurchaseOrders",
        "rds:Download*",
        "redshift:View*",
        "rekognition:CompareFaces",
        "rekognition:Detect*",
        "rekognition:RecognizeCelebrities",
        "rekognition:Search*",
        "resource-explorer-2:BatchGetView",
        "resource-explorer-2:Search",
        "resource-groups:Search*",
        "robomaker:BatchDescribe*",
        "route53:Test*",
        "route53domains:Check*",
        "route53domains:View*",
        "s3express:CreateSession",
        "s3vectors:QueryVectors",
        "sagemaker:Search",
        "schemas:Search*",
        "sdb:Select*",
        "securityagent:BatchGetAgentSpaces",
        "securityagent:BatchGetArtifactMetadata",
        "securityagent:BatchGetCodeReviewJobTasks",
        "securityagent:BatchGetCodeReviewJobs",
        "securityagent:BatchGetCodeReviews",
        "securityagent:BatchGetFindings",
        "securityagent:BatchGetPentestJobContentMetadata",
        "securityagent:BatchGetPentestJobTasks",
        "securityagent:BatchGetPentestJobs",
        "securityagent:BatchGetPentests",
        "securityagent:BatchGetTargetDomains",
        "securityagent:BatchGetValidationRuns",
        "securityhub:BatchGetAutomationRules",
        "securityhub:BatchGetConfigurationPolicyAssociations",
        "securityhub:BatchGetControlEvaluations",
        "securityhub:BatchGetSecurityControls",
        "securityhub:BatchGetStandardsControlAssociations",
        "serverlessrepo:SearchApplications",
        "servicecatalog:Scan*",
        "servicecatalog:Search*",
        "servicediscovery:DiscoverInstances",
        "servicediscovery:DiscoverInstancesRevision",
        "servicequotas:StartQuotaUtilizationReport",
        "ses:BatchGetMetricData",
        "sns:Check*",
        "sqs:Receive*",
        "sso-directory:Search*",
        "states:ValidateStateMachineDefinition",
        "support:SearchForCases",
        "swf:Count*",
        "transfer:TestIdentityProvider",
        "verifiedpermissions:IsAuthorized",
        "verifiedpermissions:IsAuthorizedWithToken",
        "wafv2:CheckCapacity",
        "wellarchitected:ExportLens",
        "workdocs:CheckAlias",
        "workmail:Search*",
        "xray:BatchGet*",
        "xray:CancelTraceRetrieval",
        "xray:StartTraceRetrieval",
    }
)


@functools.cache
def _read_only_actions() -> tuple[str, ...]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    document = json.loads(aws_managed_policies_data)["ReadOnlyAccess"]["Document"]
    found: list[str] = []
    for statement in document["Statement"]:
        action = statement.get("Action", [])
        found += [action] if isinstance(action, str) else action
    return tuple(found)


def test_read_only_access_grants_nothing_outside_get_list_describe_that_is_not_reviewed() -> None:
    outside = {a for a in _read_only_actions() if not _GLD.match(a)}
    assert outside - REVIEWED == set(), "AWS's ReadOnlyAccess gained these: review them (deny the ones that act)"
    assert REVIEWED - outside == set(), "no longer in ReadOnlyAccess: drop them from REVIEWED"


def _like(pattern: str, action: str) -> bool:
    return re.fullmatch(pattern.replace("*", ".*").replace("?", "."), action, re.IGNORECASE) is not None


@pytest.mark.parametrize("action", EFFECTFUL_READ_ACTIONS)
def test_the_plan_doers_guard_denies_what_read_only_access_grants_that_acts(action: str) -> None:
    # Reduced to the action's service: patterns of other services cannot match it (same verdict, far fewer patterns).
    service = action.split(":", 1)[0].lower()
    granted = [a for a in _read_only_actions() if a.split(":", 1)[0].lower() in (service, "*")]
    read_only = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": granted, "Resource": "*"}]}
    config = config_of(with_changes(example_section(), plan_path={"enabled": True, "permission_sets": ["X"]}))
    guard = documents.plan_doer_guard("arn:aws:iam::111111111111:role/state-reader-role", True)
    arn = "arn:aws:iam::222222222222:role/infrastructure-plan-doer-role"
    without = Principal("plan-doer", arn, config.organization_id, (("ReadOnlyAccess", read_only),))
    with_guard = Principal(
        "plan-doer", arn, config.organization_id, (("ReadOnlyAccess", read_only), ("plan-only", guard))
    )
    request = Request(action, "*", "222222222222", None)
    assert evaluate(without, request).allowed, f"{action}: ReadOnlyAccess no longer grants it"
    assert not evaluate(with_guard, request).allowed
