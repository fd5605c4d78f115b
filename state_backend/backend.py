"""The central Terraform state backend in the shared account: bucket, lock table and the state-mgmt role."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from federation import documents
from federation.config import FederationConfig
from iam.providers import child_options


@dataclass(frozen=True)
class StateBackendArgs:
    config: FederationConfig
    provider: aws.Provider
    assumer_arn: pulumi.Input[str]


class StateBackend(pulumi.ComponentResource):
    """One bucket for every account's state, the lock table, and the only role that may touch them."""

    bucket: aws.s3.Bucket
    table: aws.dynamodb.Table
    state_mgmt_role: aws.iam.Role

    def __init__(self, name: str, args: StateBackendArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iam-federation:state_backend:StateBackend", name, None, opts)
        config = args.config
        guard = config.state_backend.protect
        # protect stops `pulumi destroy` and a config mistake; retain_on_delete keeps the data in AWS if the
        # resource is ever dropped from the program on purpose.
        stateful = {"protect": guard, "retain_on_delete": guard}

        self.bucket = aws.s3.Bucket(
            f"{name}-bucket",
            bucket=config.bucket_name,
            force_destroy=False,
            opts=child_options(self, args.provider, **stateful),
        )
        bucket_id = self.bucket.id
        aws.s3.BucketVersioning(
            f"{name}-versioning",
            bucket=bucket_id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=child_options(self, args.provider),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{name}-encryption",
            bucket=bucket_id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm=documents.SSE_ALGORITHM
                    ),
                )
            ],
            opts=child_options(self, args.provider),
        )
        public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{name}-public-access-block",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child_options(self, args.provider),
        )
        aws.s3.BucketOwnershipControls(
            f"{name}-ownership",
            bucket=bucket_id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=child_options(self, args.provider),
        )
        aws.s3.BucketPolicy(
            f"{name}-policy",
            aws.s3.BucketPolicyArgs(bucket=bucket_id, policy=json.dumps(documents.bucket_policy(config))),
            # S3 rejects a bucket policy written while the public access block is being changed.
            opts=child_options(self, args.provider, depends_on=[public_access_block]),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=bucket_id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-noncurrent-state-versions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),
                    noncurrent_version_expiration=aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(
                        noncurrent_days=config.state_backend.noncurrent_version_expiration_days
                    ),
                    abort_incomplete_multipart_upload=aws.s3.BucketLifecycleConfigurationRuleAbortIncompleteMultipartUploadArgs(
                        days_after_initiation=7
                    ),
                )
            ],
            opts=child_options(self, args.provider),
        )
        self.table = aws.dynamodb.Table(
            f"{name}-lock-table",
            name=config.lock_table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key="LockID",
            attributes=[aws.dynamodb.TableAttributeArgs(name="LockID", type="S")],
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(enabled=True),
            deletion_protection_enabled=True,
            opts=child_options(self, args.provider, **stateful),
        )
        aws.dynamodb.ResourcePolicy(
            f"{name}-lock-table-policy",
            resource_arn=self.table.arn,
            policy=self.table.arn.apply(lambda arn: json.dumps(documents.lock_table_policy(config, arn))),
            opts=child_options(self, args.provider),
        )
        settings = config.roles.state_mgmt
        self.state_mgmt_role = aws.iam.Role(
            f"{name}-state-mgmt-role",
            name=settings.name,
            path=settings.path,
            max_session_duration=settings.max_session_duration,
            assume_role_policy=pulumi.Output.from_input(args.assumer_arn).apply(
                lambda arn: json.dumps(documents.state_mgmt_trust(config, arn))
            ),
            description="Reads and writes Terraform state and lock items in the central backend; nothing else.",
            opts=child_options(self, args.provider),
        )
        aws.iam.RolePolicy(
            f"{name}-state-mgmt-access",
            role=self.state_mgmt_role.name,
            name="terraform-state-access",
            policy=json.dumps(documents.state_mgmt_permissions(config)),
            opts=child_options(self, args.provider),
        )
        self.register_outputs(
            {
                "bucket_name": self.bucket.bucket,
                "lock_table_name": self.table.name,
                "state_mgmt_role_arn": self.state_mgmt_role.arn,
            }
        )
