"""Which input changes make the provider replace a resource instead of updating it: data, with the source of each.

terraform-provider-aws marks such attributes ``ForceNew: true`` (SDKv2 schemas) or gives them a
``RequiresReplace()`` plan modifier (plugin-framework schemas); pulumi-terraform-bridge turns either into a replace
in its Diff (pkg/tfbridge/provider.go, ``Replaces``). Pulumi names inputs in camelCase of the Terraform attribute
(bucket_prefix -> bucketPrefix). Only the types this program registers are listed: a type missing here is a bug of
this table, and `make plan BASE=` says so rather than guessing.

"read" rows were read in terraform-provider-aws's schema for this table (the versions the code index holds; a newer
provider may add ForceNew attributes this program does not set); "convention" rows follow the provider's rule for a
per-bucket S3 sub-resource (``bucket`` and ``expected_bucket_owner`` are ForceNew in each of them) and were not
re-read one by one.
"""

from __future__ import annotations

from dataclasses import dataclass

TFP = "hashicorp/terraform-provider-aws"


@dataclass(frozen=True)
class ForceNew:
    type: str  # the Pulumi type token
    terraform: str  # the Terraform resource type
    attributes: tuple[tuple[str, str], ...]  # (terraform attribute, pulumi input)
    source: str
    how: str  # "read" or "convention" (see the module's docstring)


def _s3_sub(type_: str, terraform: str, file: str) -> ForceNew:
    return ForceNew(
        type_,
        terraform,
        (("bucket", "bucket"), ("expected_bucket_owner", "expectedBucketOwner")),
        f"{TFP} internal/service/s3/{file}",
        "convention",
    )


FORCE_NEW: dict[str, ForceNew] = {
    row.type: row
    for row in (
        ForceNew(
            "aws:iam/role:Role",
            "aws_iam_role",
            (("name", "name"), ("name_prefix", "namePrefix"), ("path", "path")),
            f"{TFP} internal/service/iam/role.go",
            "read",
        ),
        ForceNew(
            "aws:iam/rolePolicy:RolePolicy",
            "aws_iam_role_policy",
            (("name", "name"), ("name_prefix", "namePrefix"), ("role", "role")),
            f"{TFP} internal/service/iam/role_policy.go",
            "read",
        ),
        ForceNew(
            "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
            "aws_iam_role_policy_attachment",
            (("role", "role"), ("policy_arn", "policyArn")),
            f"{TFP} internal/service/iam/role_policy_attachment.go (no Update: every input is ForceNew)",
            "read",
        ),
        ForceNew(
            "aws:iam/instanceProfile:InstanceProfile",
            "aws_iam_instance_profile",
            (("name", "name"), ("name_prefix", "namePrefix"), ("path", "path")),
            f"{TFP} internal/service/iam/instance_profile.go",
            "read",
        ),
        ForceNew(
            "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
            "aws_iam_openid_connect_provider",
            (("url", "url"),),
            f"{TFP} internal/service/iam/openid_connect_provider.go",
            "read",
        ),
        ForceNew(
            "aws:s3/bucket:Bucket",
            "aws_s3_bucket",
            (("bucket", "bucket"), ("bucket_prefix", "bucketPrefix")),
            f"{TFP} internal/service/s3/bucket.go",
            "read",
        ),
        ForceNew(
            "aws:s3/bucketPolicy:BucketPolicy",
            "aws_s3_bucket_policy",
            (("bucket", "bucket"),),
            f"{TFP} internal/service/s3/bucket_policy.go",
            "read",
        ),
        _s3_sub("aws:s3/bucketVersioning:BucketVersioning", "aws_s3_bucket_versioning", "bucket_versioning.go"),
        _s3_sub(
            "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
            "aws_s3_bucket_public_access_block",
            "bucket_public_access_block.go",
        ),
        _s3_sub(
            "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
            "aws_s3_bucket_ownership_controls",
            "bucket_ownership_controls.go",
        ),
        _s3_sub(
            "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
            "aws_s3_bucket_lifecycle_configuration",
            "bucket_lifecycle_configuration.go",
        ),
        _s3_sub("aws:s3/bucketLogging:BucketLogging", "aws_s3_bucket_logging", "bucket_logging.go"),
        _s3_sub(
            "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
            "aws_s3_bucket_server_side_encryption_configuration",
            "bucket_server_side_encryption_configuration.go",
        ),
        ForceNew(
            "aws:dynamodb/table:Table",
            "aws_dynamodb_table",
            (
                ("name", "name"),
                ("hash_key", "hashKey"),
                ("range_key", "rangeKey"),
                ("local_secondary_index", "localSecondaryIndexes"),
                ("restore_source_name", "restoreSourceName"),
                ("restore_to_latest_time", "restoreToLatestTime"),
                ("restore_date_time", "restoreDateTime"),
            ),
            f"{TFP} internal/service/dynamodb/table.go",
            "read",
        ),
        ForceNew(
            "aws:dynamodb/resourcePolicy:ResourcePolicy",
            "aws_dynamodb_resource_policy",
            (("resource_arn", "resourceArn"),),
            f"{TFP} internal/service/dynamodb/resource_policy.go (stringplanmodifier.RequiresReplace)",
            "read",
        ),
        ForceNew(
            "aws:kms/key:Key",
            "aws_kms_key",
            (
                ("custom_key_store_id", "customKeyStoreId"),
                ("customer_master_key_spec", "customerMasterKeySpec"),
                ("key_usage", "keyUsage"),
                ("multi_region", "multiRegion"),
                ("xks_key_id", "xksKeyId"),
            ),
            f"{TFP} internal/service/kms/key.go",
            "read",
        ),
        ForceNew(
            "aws:kms/alias:Alias",
            "aws_kms_alias",
            (("name", "name"), ("name_prefix", "namePrefix")),
            f"{TFP} internal/service/kms/alias.go",
            "read",
        ),
        ForceNew(
            "aws:organizations/policy:Policy",
            "aws_organizations_policy",
            (("type", "type"),),
            f"{TFP} internal/service/organizations/policy.go",
            "read",
        ),
        ForceNew(
            "aws:organizations/policyAttachment:PolicyAttachment",
            "aws_organizations_policy_attachment",
            (("policy_id", "policyId"), ("target_id", "targetId")),
            f"{TFP} internal/service/organizations/policy_attachment.go",
            "read",
        ),
        # A provider's own inputs: the bridge's DiffConfig replaces a provider (and so every resource it manages) only
        # for config keys with ForcesProviderReplace (pulumi-terraform-bridge pkg/tfbridge/provider.go, configDiffer);
        # pulumi-aws set it on region alone and removed it (pulumi/pulumi-aws#5656, 2025-07): assumeRoles,
        # allowedAccountIds and defaultTags change in place.
        ForceNew(
            "pulumi:providers:aws",
            'provider "aws"',
            (),
            "pulumi-terraform-bridge pkg/tfbridge/provider.go (DiffConfig, ForcesProviderReplace); "
            "pulumi/pulumi-aws#5656",
            "read",
        ),
    )
}

# Resources whose replacement or deletion loses data or a physical name others point at: the state bucket, the lock
# table and the key (data), and the IAM roles and instance profile (names that trusts, policies, the SCP, runners'
# launch templates and Terraform's generated files quote).
GUARDED_TYPES: dict[str, str] = {
    "aws:s3/bucket:Bucket": "stateful: every account's Terraform state",
    "aws:dynamodb/table:Table": "stateful: the lock table",
    "aws:kms/key:Key": "stateful: the key the state is encrypted with (a new key cannot decrypt the old objects)",
    "aws:iam/role:Role": "physically named: trusts, policies, the SCP and root.hcl/account.hcl quote its ARN",
    "aws:iam/instanceProfile:InstanceProfile": "physically named: the runners are launched with it",
}

# Inputs that do not describe the resource: the SDK's list of inputs it filled with defaults, and the provider
# plugin's version (in a real export the provider's inputs carry it; a plugin upgrade is no change of the resource).
IGNORED_INPUTS = frozenset({"__defaults", "version"})

# A provider's inputs its CheckConfig fills when the program leaves them out, as a real `pulumi stack export` holds
# them (strings: the engine keeps provider configuration as text). pulumi/pulumi-aws#1288 set skipMetadataApiCheck and
# skipRegionValidation to default true; skipCredentialsValidation defaults to false (FACTS.md, pulumi-aws
# provider docs). A base holding one of these values while the program sets nothing is no change.
PROVIDER_DEFAULTS: dict[str, object] = {
    "skipCredentialsValidation": False,
    "skipMetadataApiCheck": True,
    "skipRegionValidation": True,
}


# Input values a provider's Check fills in when the program leaves them out (terraform-provider-aws schema Default:
# role.go path "/" and max_session_duration 3600, force_detach_policies false; bucket.go force_destroy false). A key
# present in the base with this value and absent from the program is no change.
SCHEMA_DEFAULTS: dict[str, dict[str, object]] = {
    "aws:iam/role:Role": {"path": "/", "maxSessionDuration": 3600, "forceDetachPolicies": False},
    "aws:iam/instanceProfile:InstanceProfile": {"path": "/"},
    "aws:s3/bucket:Bucket": {"forceDestroy": False},
    "pulumi:providers:aws": PROVIDER_DEFAULTS,
}


# The types whose resource class in pulumi-aws's Python SDK has a `tags_all` output (pulumi_aws 7.51.1,
# pulumi_aws/<module>/<file>.py: `def tags_all(self)`; tests/test_day_two.py checks this list against the installed
# SDK). Their tags_all is the provider's default_tags merged with the resource's own tags (terraform-provider-aws
# internal/verify SetTagsDiff; internal/provider/sdkv2/tags_interceptor.go for transparent tagging), so a change of
# the provider's defaultTags is an update of each of them whose merged tags change.
TAGS_ALL_SOURCE = (
    f"{TFP} internal/verify SetTagsDiff (tags_all = default_tags merged with tags); pulumi_aws 7.51.1 "
    "Python SDK: tags_all output on the class"
)
TAGGABLE_TYPES = frozenset(
    {
        "aws:iam/role:Role",
        "aws:iam/instanceProfile:InstanceProfile",
        "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
        "aws:s3/bucket:Bucket",
        "aws:dynamodb/table:Table",
        "aws:kms/key:Key",
        "aws:organizations/policy:Policy",
    }
)

# pulumi-aws v7 (terraform-provider-aws v6, "Enhanced Region Support") gives every regional resource a top-level
# `region` input. Changing its effective value (the input, or the provider's region when it is unset) replaces the
# resource; unset on one side and the provider's region on the other is no change. The types: those whose class in
# pulumi_aws 7.51.1 has a `region` property (IAM and Organizations are global: none); checked against the SDK in
# tests/test_day_two.py.
REGION_SOURCE = (
    f"{TFP} internal/provider/sdkv2/region.go forceNewIfRegionChanges and, for framework resources, "
    "resourceForceNewIfRegionChangesInterceptor (Enhanced Region Support, provider v6 / pulumi-aws v7)"
)
REGIONAL_TYPES = frozenset(
    {
        "aws:s3/bucket:Bucket",
        "aws:s3/bucketPolicy:BucketPolicy",
        "aws:s3/bucketVersioning:BucketVersioning",
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
        "aws:s3/bucketLogging:BucketLogging",
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "aws:dynamodb/table:Table",
        "aws:dynamodb/resourcePolicy:ResourcePolicy",
        "aws:kms/key:Key",
        "aws:kms/alias:Alias",
    }
)


def force_new_inputs(type_: str) -> dict[str, str] | None:
    """The inputs that force a replacement of this type, with the source; None when the table does not know it."""
    row = FORCE_NEW.get(type_)
    if row is None:
        return None
    rules = {pulumi: f"{row.source} ({row.terraform}.{tf} ForceNew)" for tf, pulumi in row.attributes}
    if type_ in REGIONAL_TYPES:
        rules["region"] = f"{REGION_SOURCE} ({row.terraform}.region)"
    return rules
