"""What AWS accepts, as data: registered inputs mapped to the API members the provider sends them as, and the rules
AWS documents outside its service models, each with its source.

The service models are botocore's installed ones (``botocore/data/<service>/<version>/service-2.json``), loaded with
``botocore.loaders``: a development dependency (boto3 in requirements-dev.txt), never one of the program. Their
patterns are Java regular expressions (AWS's SDKs validate with java.util.regex): ``java_regex`` translates them.
"""

from __future__ import annotations

import functools
import json
import re
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import botocore
import botocore.loaders

from federation.aws_names import (
    KMS_ALIAS_SOURCE,
    OIDC_URL_MAX,
    S3_BUCKET_RULES_SOURCE,
    bucket_name_problem,
    kms_alias_problem,
)

# ---------------------------------------------------------------------------------------------------------------
# Registered inputs -> API members.
# A member path starts at the operation's input shape; "X[]" steps into a list's member shape. An input path is the
# registered (camelCase) input; "[]" iterates a list. Sources: the provider's resource file in
# hashicorp/terraform-provider-aws (pulumi-aws bridges it), where the input is put into the request.
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelInput:
    type: str  # Pulumi resource type token, as registered
    input: str  # input path as registered
    service: str  # botocore service name
    member: str  # "<Operation>.<Member>[.<Member>...]", or "shape:<ShapeName>" for a shape no operation names
    source: str  # where the provider sends the input as that member


_TF = "terraform-provider-aws internal/service/"
MODEL_INPUTS: tuple[ModelInput, ...] = (
    ModelInput("aws:iam/role:Role", "name", "iam", "CreateRole.RoleName", _TF + "iam/role.go"),
    ModelInput("aws:iam/role:Role", "path", "iam", "CreateRole.Path", _TF + "iam/role.go"),
    ModelInput(
        "aws:iam/role:Role", "assumeRolePolicy", "iam", "CreateRole.AssumeRolePolicyDocument", _TF + "iam/role.go"
    ),
    ModelInput("aws:iam/role:Role", "description", "iam", "CreateRole.Description", _TF + "iam/role.go"),
    ModelInput("aws:iam/role:Role", "maxSessionDuration", "iam", "CreateRole.MaxSessionDuration", _TF + "iam/role.go"),
    ModelInput(
        "aws:iam/role:Role", "permissionsBoundary", "iam", "CreateRole.PermissionsBoundary", _TF + "iam/role.go"
    ),
    ModelInput("aws:iam/rolePolicy:RolePolicy", "role", "iam", "PutRolePolicy.RoleName", _TF + "iam/role_policy.go"),
    ModelInput("aws:iam/rolePolicy:RolePolicy", "name", "iam", "PutRolePolicy.PolicyName", _TF + "iam/role_policy.go"),
    ModelInput(
        "aws:iam/rolePolicy:RolePolicy", "policy", "iam", "PutRolePolicy.PolicyDocument", _TF + "iam/role_policy.go"
    ),
    ModelInput(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "role",
        "iam",
        "AttachRolePolicy.RoleName",
        _TF + "iam/role_policy_attachment.go",
    ),
    ModelInput(
        "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
        "policyArn",
        "iam",
        "AttachRolePolicy.PolicyArn",
        _TF + "iam/role_policy_attachment.go",
    ),
    ModelInput(
        "aws:iam/instanceProfile:InstanceProfile",
        "name",
        "iam",
        "CreateInstanceProfile.InstanceProfileName",
        _TF + "iam/instance_profile.go",
    ),
    ModelInput(
        "aws:iam/instanceProfile:InstanceProfile",
        "path",
        "iam",
        "CreateInstanceProfile.Path",
        _TF + "iam/instance_profile.go",
    ),
    ModelInput(
        "aws:iam/instanceProfile:InstanceProfile",
        "role",
        "iam",
        "AddRoleToInstanceProfile.RoleName",
        _TF + "iam/instance_profile.go",
    ),
    ModelInput(
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        "url",
        "iam",
        "CreateOpenIDConnectProvider.Url",
        _TF + "iam/openid_connect_provider.go",
    ),
    ModelInput(
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        "clientIdLists[]",
        "iam",
        "CreateOpenIDConnectProvider.ClientIDList[]",
        _TF + "iam/openid_connect_provider.go",
    ),
    ModelInput(
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        "thumbprintLists[]",
        "iam",
        "CreateOpenIDConnectProvider.ThumbprintList[]",
        _TF + "iam/openid_connect_provider.go",
    ),
    ModelInput(
        "aws:s3/bucketVersioning:BucketVersioning",
        "versioningConfiguration.status",
        "s3",
        "PutBucketVersioning.VersioningConfiguration.Status",
        _TF + "s3/bucket_versioning.go",
    ),
    ModelInput(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "rules[].applyServerSideEncryptionByDefault.sseAlgorithm",
        "s3",
        "PutBucketEncryption.ServerSideEncryptionConfiguration.Rules[].ApplyServerSideEncryptionByDefault.SSEAlgorithm",
        _TF + "s3/bucket_server_side_encryption_configuration.go",
    ),
    ModelInput(
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "rule.objectOwnership",
        "s3",
        "PutBucketOwnershipControls.OwnershipControls.Rules[].ObjectOwnership",
        _TF + "s3/bucket_ownership_controls.go",
    ),
    ModelInput(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "rules[].status",
        "s3",
        "PutBucketLifecycleConfiguration.LifecycleConfiguration.Rules[].Status",
        _TF + "s3/bucket_lifecycle_configuration.go",
    ),
    ModelInput(
        "aws:s3/bucketLogging:BucketLogging",
        "targetPrefix",
        "s3",
        "PutBucketLogging.BucketLoggingStatus.LoggingEnabled.TargetPrefix",
        _TF + "s3/bucket_logging.go",
    ),
    ModelInput("aws:dynamodb/table:Table", "name", "dynamodb", "CreateTable.TableName", _TF + "dynamodb/table.go"),
    # CreateTable's TableName also takes an ARN (shape TableArn, 1-1024); a name is the shape TableName.
    ModelInput("aws:dynamodb/table:Table", "name", "dynamodb", "shape:TableName", _TF + "dynamodb/table.go"),
    ModelInput(
        "aws:dynamodb/table:Table", "billingMode", "dynamodb", "CreateTable.BillingMode", _TF + "dynamodb/table.go"
    ),
    ModelInput(
        "aws:dynamodb/table:Table",
        "hashKey",
        "dynamodb",
        "CreateTable.KeySchema[].AttributeName",
        _TF + "dynamodb/table.go",
    ),
    ModelInput(
        "aws:dynamodb/table:Table",
        "attributes[].name",
        "dynamodb",
        "CreateTable.AttributeDefinitions[].AttributeName",
        _TF + "dynamodb/table.go",
    ),
    ModelInput(
        "aws:dynamodb/table:Table",
        "attributes[].type",
        "dynamodb",
        "CreateTable.AttributeDefinitions[].AttributeType",
        _TF + "dynamodb/table.go",
    ),
    ModelInput(
        "aws:dynamodb/resourcePolicy:ResourcePolicy",
        "resourceArn",
        "dynamodb",
        "PutResourcePolicy.ResourceArn",
        _TF + "dynamodb/resource_policy.go",
    ),
    ModelInput("aws:kms/key:Key", "policy", "kms", "CreateKey.Policy", _TF + "kms/key.go"),
    ModelInput("aws:kms/key:Key", "description", "kms", "CreateKey.Description", _TF + "kms/key.go"),
    ModelInput("aws:kms/alias:Alias", "name", "kms", "CreateAlias.AliasName", _TF + "kms/alias.go"),
    ModelInput(
        "aws:organizations/policy:Policy",
        "content",
        "organizations",
        "CreatePolicy.Content",
        _TF + "organizations/policy.go",
    ),
    ModelInput(
        "aws:organizations/policy:Policy", "name", "organizations", "CreatePolicy.Name", _TF + "organizations/policy.go"
    ),
    ModelInput(
        "aws:organizations/policy:Policy",
        "description",
        "organizations",
        "CreatePolicy.Description",
        _TF + "organizations/policy.go",
    ),
    ModelInput(
        "aws:organizations/policy:Policy", "type", "organizations", "CreatePolicy.Type", _TF + "organizations/policy.go"
    ),
    # policyId is computed by AWS (the mock's id is no real one): only the target is checked.
    ModelInput(
        "aws:organizations/policyAttachment:PolicyAttachment",
        "targetId",
        "organizations",
        "AttachPolicy.TargetId",
        _TF + "organizations/policy_attachment.go",
    ),
    # The providers' own calls: every provider assumes its role with these (terraform-provider-aws's
    # internal/conns/config.go hands assume_role to aws-sdk-go-base, which calls sts:AssumeRole with them).
    ModelInput(
        "pulumi:providers:aws", "assumeRoles[].roleArn", "sts", "AssumeRole.RoleArn", "aws-sdk-go-base, assume_role"
    ),
    ModelInput(
        "pulumi:providers:aws",
        "assumeRoles[].sessionName",
        "sts",
        "AssumeRole.RoleSessionName",
        "aws-sdk-go-base, assume_role",
    ),
    ModelInput(
        "pulumi:providers:aws",
        "assumeRoles[].sourceIdentity",
        "sts",
        "AssumeRole.SourceIdentity",
        "aws-sdk-go-base, assume_role",
    ),
)


@functools.cache
def model_inputs_of(type_: str) -> tuple[ModelInput, ...]:
    return tuple(row for row in MODEL_INPUTS if row.type == type_)


# Where a provider's default_tags land: the tag shape of each service whose resources carry them
# (terraform-provider-aws merges default_tags into every taggable resource's tags: internal/tags, "default_tags").
# (service, key member, value member) of the service's Tag shape.
TAG_SHAPES: dict[str, tuple[str, str, str]] = {
    "aws:iam/role:Role": ("iam", "shape:Tag.Key", "shape:Tag.Value"),
    "aws:iam/instanceProfile:InstanceProfile": ("iam", "shape:Tag.Key", "shape:Tag.Value"),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": ("iam", "shape:Tag.Key", "shape:Tag.Value"),
    "aws:s3/bucket:Bucket": ("s3", "shape:Tag.Key", "shape:Tag.Value"),
    "aws:dynamodb/table:Table": ("dynamodb", "shape:Tag.Key", "shape:Tag.Value"),
    "aws:kms/key:Key": ("kms", "shape:Tag.TagKey", "shape:Tag.TagValue"),
    "aws:organizations/policy:Policy": ("organizations", "shape:Tag.Key", "shape:Tag.Value"),
}
# How many tags one resource takes, where the model says (IAM: tagListType, 50).
TAG_LISTS: dict[str, str] = {"iam": "CreateRole.Tags", "organizations": "CreatePolicy.Tags", "kms": "CreateKey.Tags"}
# IAM User Guide, "Tagging IAM resources" (and the same rule for S3, DynamoDB, KMS, Organizations): the aws: prefix is
# AWS's; a tag key starting with it is refused.
RESERVED_TAG_PREFIX = "aws:"
RESERVED_TAG_SOURCE = "IAM User Guide, Tagging IAM resources (aws: prefix reserved)"

# ---------------------------------------------------------------------------------------------------------------
# Rules AWS documents outside the models.
# ---------------------------------------------------------------------------------------------------------------

# IAM actions DynamoDB accepts in a resource-based policy (DynamoDB Developer Guide, "DynamoDB API operations
# supported by resource-based policies", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/
# rbac-iam-actions.html: the rows with resource-based policy support, data plane, PartiQL (its IAM actions
# PartiQL*), control plane, global tables 2019.11.21, tags, backups, contributor insights, Kinesis streaming,
# resource policy, time to live, export, streams). Any other name fails PutResourcePolicy with "Invalid policy
# document: The following action names are invalid" (the 2017.11.29 global-table actions, CreateTableReplica,
# DeleteTableReplica, StartAwsBackupJob, ConditionCheckItem among them; /work/shared/FACTS.md, 2026-12-04).
# The item actions of that page (its data plane and PartiQL tables; the PartiQL* names per "IAM policies with PartiQL
# for DynamoDB") and the actions that copy every item out of the table (backup, export, point-in-time restore).
DYNAMODB_ITEM_ACTIONS = (
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLSelect",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
)
DYNAMODB_COPY_ACTIONS = (
    "dynamodb:CreateBackup",
    "dynamodb:ExportTableToPointInTime",
    "dynamodb:RestoreTableToPointInTime",
)
DYNAMODB_RESOURCE_POLICY_ACTIONS = frozenset(
    "dynamodb:" + action
    for action in (
        "GetItem",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "Query",
        "Scan",
        "BatchGetItem",
        "BatchWriteItem",
        "PartiQLSelect",
        "PartiQLInsert",
        "PartiQLUpdate",
        "PartiQLDelete",
        "DescribeTable",
        "UpdateTable",
        "DeleteTable",
        "DescribeTableReplicaAutoScaling",
        "UpdateTableReplicaAutoScaling",
        "ListTagsOfResource",
        "TagResource",
        "UntagResource",
        "CreateBackup",
        "DescribeContinuousBackups",
        "UpdateContinuousBackups",
        "RestoreTableToPointInTime",
        "DescribeContributorInsights",
        "UpdateContributorInsights",
        "DescribeKinesisStreamingDestination",
        "EnableKinesisStreamingDestination",
        "DisableKinesisStreamingDestination",
        "UpdateKinesisStreamingDestination",
        "GetResourcePolicy",
        "PutResourcePolicy",
        "DeleteResourcePolicy",
        "DescribeTimeToLive",
        "UpdateTimeToLive",
        "ExportTableToPointInTime",
        "DescribeStream",
        "GetRecords",
        "GetShardIterator",
    )
)
DYNAMODB_ACTIONS_SOURCE = "DynamoDB Developer Guide, DynamoDB API operations supported by resource-based policies"
# The one wildcard accepted: AWS's example grants "dynamodb:*" on a table and its indexes (DynamoDB Developer Guide,
# "Resource-based policy examples", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/
# rbac-examples.html, access to perform all actions), and terraform-provider-aws's acceptance test of
# aws_dynamodb_resource_policy attaches it (internal/service/dynamodb/testdata/tmpl/resource_policy_basic.gtpl). No
# other wildcard (`*`, `dynamodb:Create*`, `dynamodb:Get?tem`) is documented for a table policy, and `*` or `s3:*` may
# expand to names DynamoDB refuses: each is a finding, like a name outside the list.
DYNAMODB_RESOURCE_POLICY_WILDCARDS = frozenset({"dynamodb:*"})
DYNAMODB_WILDCARD_SOURCE = (
    "DynamoDB Developer Guide, Resource-based policy examples (rbac-examples.html); terraform-provider-aws "
    "internal/service/dynamodb/testdata/tmpl/resource_policy_basic.gtpl"
)
# NotAction in a table policy is documented on neither page (nor in the provider's tests): refused, so that no
# statement escapes the list by naming what it does not cover.
DYNAMODB_NOT_ACTION_SOURCE = (
    "DynamoDB Developer Guide, DynamoDB API operations supported by resource-based policies and Resource-based "
    "policy examples: NotAction is documented on neither"
)
# This is the rule; state_backend/policies.py TABLE_POLICY_ACTIONS is the program's choice from it (the table and
# index actions its deny statements narrow by: the stream actions act on "<table>/stream/*", which those statements do
# not name). The program cannot import plan/, so tests/test_accepts.py asserts that every action the program's
# builder uses is in this list.


@dataclass(frozen=True)
class SizeRule:
    type: str
    input: str
    counted: str  # "iam": characters without whitespace; "sent": the registered text as sent, whitespace included
    limit: int | None  # None: IAM's role trust policy quota, read from the config (limits.trust_policy_max_chars)
    source: str


SIZE_RULES: tuple[SizeRule, ...] = (
    SizeRule(
        "aws:iam/role:Role",
        "assumeRolePolicy",
        "iam",
        None,
        "IAM User Guide, IAM and AWS STS quotas (role trust policy length, whitespace not counted)",
    ),
    SizeRule("aws:s3/bucketPolicy:BucketPolicy", "policy", "sent", 20 * 1024, "S3 User Guide, Bucket policies (20 KB)"),
    SizeRule(
        "aws:dynamodb/resourcePolicy:ResourcePolicy",
        "policy",
        "sent",
        20 * 1024,
        "DynamoDB Developer Guide, Resource-based policy considerations (20 KB, whitespace counted)",
    ),
    SizeRule(
        "aws:kms/key:Key", "policy", "sent", 32 * 1024, "KMS Developer Guide, Quotas: key policy document size 32 KB"
    ),
    SizeRule(
        "aws:organizations/policy:Policy",
        "content",
        "sent",
        5120,
        "Organizations User Guide, Quotas: maximum size of a service control policy 5,120 characters, as sent",
    ),
)
# Inline policies of one role together (IAM User Guide, IAM and AWS STS quotas: role policy size 10,240 characters,
# whitespace not counted).
ROLE_INLINE_POLICIES_MAX = 10240
ROLE_INLINE_SOURCE = "IAM User Guide, IAM and AWS STS quotas (inline role policies, 10,240 characters in all)"

# S3 delivers server access logs only to a bucket in the source bucket's account and Region (S3 User Guide,
# "Logging requests with server access logging": "The source bucket and destination bucket must be in the same AWS
# Region and owned by the same account").
ACCESS_LOG_SOURCE = "S3 User Guide, Logging requests with server access logging (same account and Region)"

# The engine: two resources with one URN fail the deployment before anything is created (pulumi/pulumi
# pkg/resource/deploy/step_generator.go, "Duplicate resource URN").
DUPLICATE_URN_SOURCE = "pulumi/pulumi pkg/resource/deploy/step_generator.go (Duplicate resource URN)"

__all__ = [
    "KMS_ALIAS_SOURCE",
    "OIDC_URL_MAX",
    "S3_BUCKET_RULES_SOURCE",
    "bucket_name_problem",
    "kms_alias_problem",
]

# ---------------------------------------------------------------------------------------------------------------
# botocore's data: service models, partitions.
# ---------------------------------------------------------------------------------------------------------------

BOTOCORE_DATA = Path(botocore.__file__).parent / "data"


@functools.cache
def _loader() -> botocore.loaders.Loader:
    return botocore.loaders.Loader()


@functools.cache
def service_model(service: str) -> dict[str, Any]:
    model: dict[str, Any] = _loader().load_service_model(service, "service-2")
    return model


@functools.cache
def partition_regions(partition: str = "aws") -> frozenset[str]:
    """The regions botocore knows in a partition (partitions.json), the pseudo-regions *-global left out."""
    data = json.loads((BOTOCORE_DATA / "partitions.json").read_text())
    regions = next(p["regions"] for p in data["partitions"] if p["id"] == partition)
    return frozenset(r for r in regions if not r.endswith("-global"))


PARTITIONS_SOURCE = "botocore/data/partitions.json, partition aws"


@dataclass(frozen=True)
class Constraints:
    """min/max/pattern/enum of one shape, and the shape's name and type."""

    service: str
    shape: str
    type: str
    min: int | None
    max: int | None
    pattern: str | None
    enum: tuple[str, ...] | None

    @property
    def source(self) -> str:
        return f"botocore {botocore.__version__} {self.service} service model, shape {self.shape}"


@functools.cache
def constraints(service: str, member: str) -> Constraints:
    """The shape a member path leads to: "CreateRole.RoleName", "X.Rules[].Status", "shape:Tag.Key"."""
    model = service_model(service)
    shapes = model["shapes"]
    steps = member.split(".")
    if steps[0].startswith("shape:"):
        name = steps[0].removeprefix("shape:")
    else:
        name = model["operations"][steps[0]]["input"]["shape"]
    for step in steps[1:]:
        is_list = step.endswith("[]")
        name = shapes[name]["members"][step.removesuffix("[]")]["shape"]
        if is_list:
            name = shapes[name]["member"]["shape"]
    shape = shapes[name]
    return Constraints(
        service=service,
        shape=name,
        type=shape["type"],
        min=shape.get("min"),
        max=shape.get("max"),
        pattern=shape.get("pattern"),
        enum=tuple(shape["enum"]) if "enum" in shape else None,
    )


# ---------------------------------------------------------------------------------------------------------------
# Java regular expressions (java.util.regex) as Python ones.
# ---------------------------------------------------------------------------------------------------------------

# Java's \w \d \s are ASCII unless UNICODE_CHARACTER_CLASS is set; Python's match any script without re.ASCII
# (re.ASCII: [a-zA-Z0-9_]). \p{..} has no Python equivalent: it becomes the code points of the Unicode categories.
_CATEGORY_CLASSES = ("L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "N", "Nd", "Nl", "No", "P", "S", "Z", "Zs", "Zl", "Zp")


@functools.cache
def _category_ranges(category: str) -> str:
    """The code points of a Unicode general category (one letter: all its subcategories) as class ranges."""
    ranges: list[tuple[int, int]] = []
    for code in range(sys.maxunicode + 1):
        if unicodedata.category(chr(code)).startswith(category):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in ranges)


_JAVA_TOKEN = re.compile(r"\\p\{(\w+)\}|\\u([0-9A-Fa-f]{4})([0-9A-Fa-f]{0,2})(?=[-\]\\])|\\u([0-9A-Fa-f]{4})", re.ASCII)


def java_regex(pattern: str) -> re.Pattern[str]:
    """A botocore (Java) pattern as a Python regex that matches the same strings.

    - \\p{L} and friends (only inside a class in these models) become the category's code points.
    - \\uXXXX is one UTF-16 unit, as in Java. Some models write \\u10000-\\u10FFFF, meaning the supplementary code
      points (AWS's docs say so: "U+10000 through U+10FFFF"); an escape of 5-6 hex digits that ends a range bound is
      read as that code point.
    - re.ASCII keeps \\w \\d \\s ASCII, as in Java.
    """

    def replace(match: re.Match[str]) -> str:
        if match.group(1):
            category = match.group(1)
            if category not in _CATEGORY_CLASSES:
                raise ValueError(f"unsupported Java class \\p{{{category}}} in {pattern!r}")
            return _category_ranges(category)
        if match.group(2) is not None:
            digits = match.group(2) + match.group(3)
            code = int(digits, 16)
            if len(digits) > 4 and code > 0x10FFFF:
                raise ValueError(f"escape \\u{digits} beyond Unicode in {pattern!r}")
            return re.escape(chr(code))
        return re.escape(chr(int(match.group(4), 16)))

    return re.compile(_JAVA_TOKEN.sub(replace, pattern), re.ASCII)


@functools.cache
def compiled(pattern: str) -> re.Pattern[str]:
    return java_regex(pattern)


def constraint_problem(value: Any, shape: Constraints) -> str | None:
    """Why the API would refuse this value for the shape (AWS validates whole values: Java's matches()), or None."""
    if shape.type == "string":
        if not isinstance(value, str):
            return None
        if shape.min is not None and len(value) < shape.min:
            return f"shorter than {shape.min} characters"
        if shape.max is not None and len(value) > shape.max:
            return f"{len(value):,} characters, over {shape.max:,}"
        if shape.enum is not None and value not in shape.enum:
            return f"not one of {', '.join(shape.enum)}"
        if shape.pattern is not None and not compiled(shape.pattern).fullmatch(value):
            return f"does not match the pattern {shape.pattern}"
        return None
    if shape.type == "list":
        if not isinstance(value, list):
            return None
        if shape.min is not None and len(value) < shape.min:
            return f"fewer than {shape.min} entries"
        if shape.max is not None and len(value) > shape.max:
            return f"{len(value)} entries, over {shape.max}"
        return None
    if shape.type in ("integer", "long"):
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        if shape.min is not None and value < shape.min:
            return f"below {shape.min}"
        if shape.max is not None and value > shape.max:
            return f"above {shape.max}"
    return None
