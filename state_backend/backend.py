"""The central Terraform state backend in the shared account: bucket, lock table and the state-mgmt role."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from federation import documents
from federation.config import FederationConfig
from iam.providers import child_options


@dataclass(frozen=True)
class StateBackendArgs:
    config: FederationConfig
    provider: aws.Provider
    # The shared account's doer administers the optional state key, so it must exist before the key's policy.
    shared_doer_arn: pulumi.Input[str]


class StateBackend(pulumi.ComponentResource):
    """One bucket for every account's state, the lock table, and the only role that may touch them."""

    # No class-level annotations on components: the SDK evaluates them (get_type_hints) on every registration,
    # and `aws.kms.Key` there would import pulumi_aws.kms even when no key is configured.
    def __init__(self, name: str, args: StateBackendArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iam-federation:state_backend:StateBackend", name, None, opts)
        self._name = name
        self._args = args
        config = args.config
        guard = config.state_backend.protect
        # Every resource of the backend, not only the bucket, table and key: `pulumi destroy` goes on past a protected
        # resource and deletes its unprotected siblings, so a protected bucket would be left without its policy,
        # public access block, versioning and encryption, the table without its policy, the key without its alias,
        # and the state without the roles Terraform reaches it through. protect makes `pulumi destroy` (and a config
        # mistake) keep the whole backend; retain_on_delete keeps it in AWS if a part is dropped from the program.
        self._guarded: dict[str, Any] = {"protect": guard, "retain_on_delete": guard}

        self.state_mgmt_role: aws.iam.Role = self._state_mgmt_role()
        # The plan path's reader, before the key: KMS refuses a key policy naming a principal that does not exist yet.
        self.state_reader_role: aws.iam.Role | None = self._state_reader_role() if config.plan_path.enabled else None
        self.key: aws.kms.Key | None = self._key() if config.state_backend.kms.enabled else None
        self._state_mgmt_access()
        if self.state_reader_role is not None:
            self._state_reader_access(self.state_reader_role)
        self.bucket: aws.s3.Bucket = self._bucket()
        self.table: aws.dynamodb.Table = self._table()
        outputs: dict[str, Any] = {
            "bucket_name": self.bucket.bucket,
            "lock_table_name": self.table.name,
            "state_mgmt_role_arn": self.state_mgmt_role.arn,
            "kms_key_arn": self.key.arn if self.key else None,
        }
        if self.state_reader_role is not None:
            outputs["state_reader_role_arn"] = self.state_reader_role.arn
        self.register_outputs(outputs)

    def _opts(self, **extra: Any) -> pulumi.ResourceOptions:
        return child_options(self, self._args.provider, **self._guarded, **extra)

    def _state_mgmt_role(self) -> aws.iam.Role:
        config = self._args.config
        settings = config.roles.state_mgmt
        return aws.iam.Role(
            f"{self._name}-state-mgmt-role",
            name=settings.name,
            path=settings.path,
            max_session_duration=settings.max_session_duration,
            assume_role_policy=json.dumps(documents.state_mgmt_trust(config)),
            description="Reads and writes Terraform state and lock items in the central backend; nothing else.",
            opts=self._opts(),
        )

    def _state_mgmt_access(self) -> None:
        config = self._args.config
        key_arn: pulumi.Input[str | None] = self.key.arn if self.key else None
        aws.iam.RolePolicy(
            f"{self._name}-state-mgmt-access",
            role=self.state_mgmt_role.name,
            name="terraform-state-access",
            policy=pulumi.Output.from_input(key_arn).apply(
                lambda arn: json.dumps(documents.state_mgmt_permissions(config, arn))
            ),
            opts=self._opts(),
        )

    def _state_reader_role(self) -> aws.iam.Role:
        config = self._args.config
        settings = config.plan_path.state_reader
        return aws.iam.Role(
            f"{self._name}-state-reader-role",
            name=settings.name,
            path=settings.path,
            max_session_duration=settings.max_session_duration,
            assume_role_policy=json.dumps(documents.state_reader_trust(config)),
            description="Plan path: reads Terraform state and lock digests in the central backend; never writes.",
            opts=self._opts(),
        )

    def _state_reader_access(self, role: aws.iam.Role) -> None:
        config = self._args.config
        key_arn: pulumi.Input[str | None] = self.key.arn if self.key else None
        aws.iam.RolePolicy(
            f"{self._name}-state-reader-access",
            role=role.name,
            name="terraform-state-read",
            policy=pulumi.Output.from_input(key_arn).apply(
                lambda arn: json.dumps(documents.state_reader_permissions(config, arn))
            ),
            opts=self._opts(),
        )

    def _key(self) -> aws.kms.Key:
        config = self._args.config
        settings = config.state_backend.kms
        # Losing the key loses the state it encrypts: it is guarded like the bucket and the table (see _guarded).
        key = aws.kms.Key(
            f"{self._name}-key",
            description=f"Terraform state of {config.organization_id} (bucket and lock table)",
            enable_key_rotation=True,
            deletion_window_in_days=settings.deletion_window_days,
            policy=pulumi.Output.all(
                self._args.shared_doer_arn,
                self.state_mgmt_role.arn,
                self.state_reader_role.arn if self.state_reader_role else None,
            ).apply(lambda arns: json.dumps(documents.state_key_policy(config, arns[0], arns[1], arns[2]))),
            opts=self._opts(),
        )
        aws.kms.Alias(
            f"{self._name}-key-alias",
            name=config.state_key_alias,
            target_key_id=key.key_id,
            opts=self._opts(),
        )
        return key

    def _bucket(self) -> aws.s3.Bucket:
        config = self._args.config
        bucket = aws.s3.Bucket(
            f"{self._name}-bucket",
            bucket=config.bucket_name,
            force_destroy=False,
            opts=self._opts(),
        )
        bucket_id = bucket.id
        aws.s3.BucketVersioning(
            f"{self._name}-versioning",
            bucket=bucket_id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=self._opts(),
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            f"{self._name}-encryption",
            bucket=bucket_id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                        sse_algorithm=documents.sse_algorithm(config),
                        kms_master_key_id=self.key.arn if self.key else None,
                    ),
                    bucket_key_enabled=True if self.key else None,
                )
            ],
            opts=self._opts(),
        )
        public_access_block = aws.s3.BucketPublicAccessBlock(
            f"{self._name}-public-access-block",
            bucket=bucket_id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=self._opts(),
        )
        aws.s3.BucketOwnershipControls(
            f"{self._name}-ownership",
            bucket=bucket_id,
            rule=aws.s3.BucketOwnershipControlsRuleArgs(object_ownership="BucketOwnerEnforced"),
            opts=self._opts(),
        )
        aws.s3.BucketPolicy(
            f"{self._name}-policy",
            aws.s3.BucketPolicyArgs(bucket=bucket_id, policy=json.dumps(documents.bucket_policy(config))),
            # S3 rejects a bucket policy written while the public access block is being changed.
            opts=self._opts(depends_on=[public_access_block]),
        )
        aws.s3.BucketLifecycleConfiguration(
            f"{self._name}-lifecycle",
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
            opts=self._opts(),
        )
        logging = config.state_backend.access_logging
        if logging is not None:
            aws.s3.BucketLogging(
                f"{self._name}-access-logging",
                bucket=bucket_id,
                target_bucket=logging.target_bucket,
                target_prefix=logging.target_prefix,
                opts=self._opts(),
            )
        return bucket

    def _table(self) -> aws.dynamodb.Table:
        config = self._args.config
        table = aws.dynamodb.Table(
            f"{self._name}-lock-table",
            name=config.lock_table_name,
            billing_mode="PAY_PER_REQUEST",
            hash_key="LockID",
            attributes=[aws.dynamodb.TableAttributeArgs(name="LockID", type="S")],
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                enabled=True, kms_key_arn=self.key.arn if self.key else None
            ),
            deletion_protection_enabled=True,
            opts=self._opts(),
        )
        aws.dynamodb.ResourcePolicy(
            f"{self._name}-lock-table-policy",
            resource_arn=table.arn,
            policy=table.arn.apply(lambda arn: json.dumps(documents.lock_table_policy(config, arn))),
            opts=self._opts(),
        )
        return table
