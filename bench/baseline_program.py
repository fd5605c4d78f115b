"""The bare baseline: the same resources of the same types on the same providers as the program registers,
without components, config validation or generated documents. Run under the same mock runtime as ours.

The providers are configured as ours are (region, pinned account, assumed role and session name, default tags)
and the resources get the same plain inputs (names, paths, durations, descriptions); only the policy documents
are constant strings here, so the difference to ours is what ours adds: components, validation, documents.

Reads the number of application accounts from the config key ``bench:accounts``.
"""

import pulumi
import pulumi_aws as aws

ACCOUNTS = int(pulumi.Config("bench").require("accounts"))
# With bench:components, each account's resources sit in a bare ComponentResource, as ours do: the difference
# to the plain baseline is what the component layer costs the SDK, apart from anything else of ours.
COMPONENTS = pulumi.Config("bench").get_bool("components") or False
POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}]}'
TRUST = (
    '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},'
    '"Action":"sts:AssumeRole"}]}'
)

names = ["shared"] + [f"acct-{i:04d}" for i in range(ACCOUNTS)]
providers = {}
for i, name in enumerate(names):
    account = f"{111111111111 + i:012d}" if i == 0 else f"{500000000000 + i - 1:012d}"
    providers[name] = aws.Provider(
        f"aws-{name}",
        region="us-east-1",
        allowed_account_ids=[account],
        assume_roles=[
            aws.ProviderAssumeRoleArgs(
                role_arn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                session_name="iam-federation-pulumi",
            )
        ],
        default_tags=aws.ProviderDefaultTagsArgs(
            tags={"Project": "iam-federation", "ManagedBy": "pulumi/iam-federation"}
        ),
    )

shared = pulumi.ResourceOptions(provider=providers["shared"])
ROLE = {"path": "/", "max_session_duration": 3600, "description": "Role of the benchmark baseline."}
assumer = aws.iam.Role("assumer-role", name="assumer", assume_role_policy=TRUST, opts=shared, **ROLE)
aws.iam.RolePolicy("assumer-policy", role=assumer.name, policy=POLICY, opts=shared)
aws.iam.InstanceProfile("assumer-profile", name="assumer", role=assumer.name, opts=shared)
state_mgmt = aws.iam.Role("state-mgmt-role", name="state-mgmt", assume_role_policy=TRUST, opts=shared, **ROLE)
aws.iam.RolePolicy("state-mgmt-policy", role=state_mgmt.name, policy=POLICY, opts=shared)
bucket = aws.s3.Bucket("bucket", bucket="terraform-state", opts=shared)
aws.s3.BucketVersioning(
    "versioning",
    bucket=bucket.id,
    versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
    opts=shared,
)
aws.s3.BucketServerSideEncryptionConfiguration(
    "encryption",
    bucket=bucket.id,
    rules=[
        aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
            apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                sse_algorithm="AES256"
            )
        )
    ],
    opts=shared,
)
aws.s3.BucketPublicAccessBlock("pab", bucket=bucket.id, block_public_acls=True, opts=shared)
aws.s3.BucketOwnershipControls(
    "ownership",
    bucket=bucket.id,
    rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
    opts=shared,
)
aws.s3.BucketPolicy("bucket-policy", bucket=bucket.id, policy=POLICY, opts=shared)
aws.s3.BucketLifecycleConfiguration(
    "lifecycle",
    bucket=bucket.id,
    rules=[aws.s3.BucketLifecycleConfigurationRuleArgs(id="x", status="Enabled")],
    opts=shared,
)
table = aws.dynamodb.Table(
    "table",
    name="locks",
    hash_key="LockID",
    attributes=[aws.dynamodb.TableAttributeArgs(name="LockID", type="S")],
    opts=shared,
)
aws.dynamodb.ResourcePolicy("table-policy", resource_arn=table.arn, policy=POLICY, opts=shared)
for name in names:
    parent = pulumi.ComponentResource("bench:index:Doer", f"doer-{name}") if COMPONENTS else None
    opts = pulumi.ResourceOptions(provider=providers[name], parent=parent)
    role = aws.iam.Role(f"doer-{name}-role", name="doer", assume_role_policy=TRUST, opts=opts, **ROLE)
    aws.iam.RolePolicyAttachment(
        f"doer-{name}-admin", role=role.name, policy_arn="arn:aws:iam::aws:policy/AdministratorAccess", opts=opts
    )
    aws.iam.RolePolicy(f"doer-{name}-state-access", role=role.name, policy=POLICY, opts=opts)
    if parent is not None:
        parent.register_outputs({"role_arn": role.arn})
