"""Create what the program registered in moto, each resource in the account of its provider.

moto keeps accounts apart once credentials of a role assumed in another account are used, and its API validates
policy documents on the way in (update_assume_role_policy, put_role_policy, put_bucket_policy), so a malformed
document fails here as it would in AWS. moto's own allow/deny answers are not trusted for trust policies, bucket
policy conditions or DynamoDB (see FACTS.md); those verdicts come from plan.evaluator.

``moto_world(run)`` is the whole step: moto on, the run materialized. Call ``materialize`` yourself only inside
``moto.mock_aws()``.

Two costs dominate a moto world, and both are cut here without changing what is created:
- moto (5.2.5 here) builds every account's IAM backend by parsing all ~1,600 AWS managed policies (4.7 MB of JSON,
  about 1 s per account, and again on each reset). ``moto_world`` lets moto load only the AWS managed policies
  the run attaches (``aws_managed_policy_names``), through moto's own hook, the module global
  ``moto.iam.models.aws_managed_policies_data`` that ``IAMBackend._init_aws_policies`` parses. Attaching any
  other AWS managed policy in such a world fails with NoSuchEntity, as it would for a policy AWS does not have.
- every ``boto3.Session`` builds its own botocore loader and re-reads the service models and endpoint rules
  (about 0.15 s a session). Sessions made here share one loader: the files are read once per process.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import boto3
import botocore.loaders
import botocore.session
import moto.iam.models
from moto import mock_aws
from moto.iam.aws_managed_policies import aws_managed_policies_data

from plan.runner import PROVIDER_TYPE, ProgramRun, Registration

_ROOT_KEY = "AKIAIOSFODNN7EXAMPLE"
# moto's switch for AWS managed policies; off, attaching AdministratorAccess fails with NoSuchEntity.
MOTO_CONFIG: Any = {"iam": {"load_aws_managed_policies": True}}
_AWS_MANAGED_PREFIX = "arn:aws:iam::aws:policy/"


@dataclass
class Materialized:
    sessions: dict[str, boto3.Session] = field(default_factory=dict)  # account id -> session of its provider
    region: str = "us-east-1"
    created: list[tuple[str, str, str]] = field(default_factory=list)  # (account, type, logical name)
    # moto makes its own keys: the registered (mock) key ARN -> moto's key ARN, and key id -> moto's key id.
    keys: dict[str, str] = field(default_factory=dict)


@functools.cache
def _shared_loader() -> botocore.loaders.Loader:
    return botocore.loaders.create_loader()


def new_session(access_key: str, secret_key: str, token: str | None, region: str) -> boto3.Session:
    """A boto3 session on the process's shared botocore loader (service models parsed once, not per session)."""
    core = botocore.session.get_session()
    core.register_component("data_loader", _shared_loader())
    return boto3.Session(
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        aws_session_token=token,
        region_name=region,
        botocore_session=core,
    )


def assume_role(caller: boto3.Session, role_arn: str, session_name: str) -> boto3.Session:
    """The session ``caller`` gets by assuming ``role_arn``."""
    credentials = caller.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
    return new_session(
        credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"], caller.region_name
    )


def account_session(account: str, role_arn: str, region: str) -> boto3.Session:
    """Credentials in ``account``, the way the provider gets them: by assuming its configured role."""
    return assume_role(new_session(_ROOT_KEY, "x", None, region), role_arn, "iam-federation-pulumi")


def _role(session: boto3.Session, inputs: dict[str, Any]) -> None:
    iam = session.client("iam")
    extra = {"PermissionsBoundary": inputs["permissionsBoundary"]} if inputs.get("permissionsBoundary") else {}
    iam.create_role(
        RoleName=inputs["name"],
        Path=inputs.get("path", "/"),
        AssumeRolePolicyDocument=inputs["assumeRolePolicy"],
        MaxSessionDuration=int(inputs.get("maxSessionDuration", 3600)),
        Description=inputs.get("description", ""),
        **extra,
    )
    # create_role does not check the document's syntax; this call does, as IAM does on create.
    iam.update_assume_role_policy(RoleName=inputs["name"], PolicyDocument=inputs["assumeRolePolicy"])


def _role_policy(session: boto3.Session, inputs: dict[str, Any]) -> None:
    session.client("iam").put_role_policy(
        RoleName=inputs["role"], PolicyName=inputs["name"], PolicyDocument=inputs["policy"]
    )


def _attachment(session: boto3.Session, inputs: dict[str, Any]) -> None:
    session.client("iam").attach_role_policy(RoleName=inputs["role"], PolicyArn=inputs["policyArn"])


def _instance_profile(session: boto3.Session, inputs: dict[str, Any]) -> None:
    iam = session.client("iam")
    iam.create_instance_profile(InstanceProfileName=inputs["name"], Path=inputs.get("path", "/"))
    iam.add_role_to_instance_profile(InstanceProfileName=inputs["name"], RoleName=inputs["role"])


def _bucket(session: boto3.Session, inputs: dict[str, Any]) -> None:
    s3 = session.client("s3")
    region = session.region_name
    extra = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    s3.create_bucket(Bucket=inputs["bucket"], **extra)


def _versioning(session: boto3.Session, inputs: dict[str, Any]) -> None:
    status = inputs["versioningConfiguration"]["status"]
    session.client("s3").put_bucket_versioning(Bucket=inputs["bucket"], VersioningConfiguration={"Status": status})


def _encryption(session: boto3.Session, inputs: dict[str, Any]) -> None:
    rules = []
    for rule in inputs["rules"]:
        default = rule["applyServerSideEncryptionByDefault"]
        by_default = {"SSEAlgorithm": default["sseAlgorithm"]}
        if default.get("kmsMasterKeyId"):
            by_default["KMSMasterKeyID"] = default["kmsMasterKeyId"]
        rules.append(
            {"ApplyServerSideEncryptionByDefault": by_default, "BucketKeyEnabled": bool(rule.get("bucketKeyEnabled"))}
        )
    session.client("s3").put_bucket_encryption(
        Bucket=inputs["bucket"], ServerSideEncryptionConfiguration={"Rules": rules}
    )


def _public_access_block(session: boto3.Session, inputs: dict[str, Any]) -> None:
    keys = ("blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy", "restrictPublicBuckets")
    session.client("s3").put_public_access_block(
        Bucket=inputs["bucket"],
        PublicAccessBlockConfiguration={key[0].upper() + key[1:]: bool(inputs[key]) for key in keys},
    )


def _ownership(session: boto3.Session, inputs: dict[str, Any]) -> None:
    session.client("s3").put_bucket_ownership_controls(
        Bucket=inputs["bucket"],
        OwnershipControls={"Rules": [{"ObjectOwnership": inputs["rule"]["objectOwnership"]}]},
    )


def _bucket_policy(session: boto3.Session, inputs: dict[str, Any]) -> None:
    session.client("s3").put_bucket_policy(Bucket=inputs["bucket"], Policy=inputs["policy"])


def _lifecycle(session: boto3.Session, inputs: dict[str, Any]) -> None:
    rules = []
    for rule in inputs["rules"]:
        rules.append(
            {
                "ID": rule["id"],
                "Status": rule["status"],
                "Filter": {"Prefix": rule.get("filter", {}).get("prefix", "")},
                "NoncurrentVersionExpiration": {
                    "NoncurrentDays": int(rule["noncurrentVersionExpiration"]["noncurrentDays"])
                },
                "AbortIncompleteMultipartUpload": {
                    "DaysAfterInitiation": int(rule["abortIncompleteMultipartUpload"]["daysAfterInitiation"])
                },
            }
        )
    session.client("s3").put_bucket_lifecycle_configuration(
        Bucket=inputs["bucket"], LifecycleConfiguration={"Rules": rules}
    )


def _table(session: boto3.Session, inputs: dict[str, Any]) -> None:
    dynamodb = session.client("dynamodb")
    dynamodb.create_table(
        TableName=inputs["name"],
        KeySchema=[{"AttributeName": inputs["hashKey"], "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": a["name"], "AttributeType": a["type"]} for a in inputs["attributes"]],
        BillingMode=inputs["billingMode"],
        SSESpecification=_table_sse(inputs["serverSideEncryption"]),
        DeletionProtectionEnabled=bool(inputs["deletionProtectionEnabled"]),
    )
    dynamodb.update_continuous_backups(
        TableName=inputs["name"],
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": bool(inputs["pointInTimeRecovery"]["enabled"])},
    )


def _key(session: boto3.Session, inputs: dict[str, Any]) -> str:
    kms = session.client("kms")
    key = kms.create_key(Description=inputs.get("description", ""), Policy=inputs["policy"])["KeyMetadata"]
    if inputs.get("enableKeyRotation"):
        kms.enable_key_rotation(KeyId=key["KeyId"])
    return str(key["Arn"])


def _alias(session: boto3.Session, inputs: dict[str, Any]) -> None:
    session.client("kms").create_alias(AliasName=inputs["name"], TargetKeyId=inputs["targetKeyId"])


def _logging(session: boto3.Session, inputs: dict[str, Any]) -> None:
    s3 = session.client("s3")
    # The log bucket is yours, outside this program; here it is made so the logging call has a target.
    s3.create_bucket(Bucket=inputs["targetBucket"])
    s3.put_bucket_acl(
        Bucket=inputs["targetBucket"],
        GrantWrite="uri=http://acs.amazonaws.com/groups/s3/LogDelivery",
        GrantReadACP="uri=http://acs.amazonaws.com/groups/s3/LogDelivery",
    )
    s3.put_bucket_logging(
        Bucket=inputs["bucket"],
        BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": inputs["targetBucket"], "TargetPrefix": inputs["targetPrefix"]}
        },
    )


def _table_sse(sse: dict[str, Any]) -> dict[str, Any]:
    if sse.get("kmsKeyArn"):
        return {"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": sse["kmsKeyArn"]}
    return {"Enabled": bool(sse["enabled"])}


def _table_policy(session: boto3.Session, inputs: dict[str, Any]) -> None:
    session.client("dynamodb").put_resource_policy(ResourceArn=inputs["resourceArn"], Policy=inputs["policy"])


def _oidc_provider(session: boto3.Session, inputs: dict[str, Any]) -> None:
    session.client("iam").create_open_id_connect_provider(Url=inputs["url"], ClientIDList=inputs["clientIdLists"])


# In dependency order: what a resource refers to is created before it.
HANDLERS: dict[str, Callable[[boto3.Session, dict[str, Any]], Any]] = {
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _oidc_provider,
    "aws:iam/role:Role": _role,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": _attachment,
    "aws:iam/instanceProfile:InstanceProfile": _instance_profile,
    "aws:kms/key:Key": _key,
    "aws:kms/alias:Alias": _alias,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketVersioning:BucketVersioning": _versioning,
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": _encryption,
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": _public_access_block,
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": _ownership,
    "aws:s3/bucketPolicy:BucketPolicy": _bucket_policy,
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": _lifecycle,
    "aws:s3/bucketLogging:BucketLogging": _logging,
    "aws:dynamodb/table:Table": _table,
    "aws:dynamodb/resourcePolicy:ResourcePolicy": _table_policy,
}


def aws_managed_policy_names(run: ProgramRun) -> set[str]:
    """Names of the AWS managed policies the run attaches to a role or sets as a permissions boundary."""
    arns = [r.inputs.get("policyArn") for r in run.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")]
    arns += [r.inputs.get("permissionsBoundary") for r in run.by_type("aws:iam/role:Role")]
    return {arn.rsplit("/", 1)[-1] for arn in arns if isinstance(arn, str) and arn.startswith(_AWS_MANAGED_PREFIX)}


@functools.cache
def _all_aws_managed_policies() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(aws_managed_policies_data)
    return data


@contextmanager
def only_aws_managed_policies(names: set[str]) -> Iterator[None]:
    """moto's IAM backends, built inside, know only these AWS managed policies (an unknown name is an error)."""
    every = _all_aws_managed_policies()
    unknown = sorted(names - set(every))
    if unknown:
        raise ValueError(f"moto does not know the AWS managed policies {unknown}")
    subset = json.dumps({name: every[name] for name in sorted(names)})
    # patch.object fails loudly if a moto release renames the hook, rather than silently loading everything.
    with mock.patch.object(moto.iam.models, "aws_managed_policies_data", subset):
        yield


@contextmanager
def moto_world(run: ProgramRun) -> Iterator[Materialized]:
    """moto on, with what the run registered created in it; everything is dropped on exit."""
    with only_aws_managed_policies(aws_managed_policy_names(run)), mock_aws(config=MOTO_CONFIG):
        yield materialize(run)


def materialize(run: ProgramRun) -> Materialized:
    """Create every AWS resource of the run in moto; an AWS type without a handler is an error, not a skip."""
    result = Materialized()
    for provider in run.by_type(PROVIDER_TYPE):
        account = json.loads(provider.inputs["allowedAccountIds"])[0]
        (assume,) = json.loads(provider.inputs["assumeRoles"])
        result.region = provider.inputs["region"]
        result.sessions[account] = account_session(account, assume["roleArn"], provider.inputs["region"])
    resources = [r for r in run.registrations if r.custom and r.type != PROVIDER_TYPE]
    unknown = sorted({r.type for r in resources} - set(HANDLERS))
    if unknown:
        raise ValueError(f"no moto handler for {unknown}")
    order = list(HANDLERS)
    for reg in sorted(resources, key=lambda r: order.index(r.type)):
        _create(result, run, reg)
    return result


def _create(result: Materialized, run: ProgramRun, reg: Registration) -> None:
    account = run.account_of(reg)
    inputs = _with_moto_keys(reg.inputs, result.keys)
    made = HANDLERS[reg.type](result.sessions[account], inputs)
    if reg.type == "aws:kms/key:Key":
        result.keys[str(reg.state["arn"])] = made
        result.keys[str(reg.state["keyId"])] = made.rsplit("/", 1)[-1]
    result.created.append((account, reg.type, reg.name))


def _with_moto_keys(inputs: dict[str, Any], keys: dict[str, str]) -> dict[str, Any]:
    """The inputs with every registered key id or ARN replaced by the key moto made for it."""
    text = json.dumps(inputs)
    # ARNs before bare ids: an id is part of its ARN.
    for registered, made in sorted(keys.items(), key=lambda item: -len(item[0])):
        text = text.replace(registered, made)
    result: dict[str, Any] = json.loads(text)
    return result
