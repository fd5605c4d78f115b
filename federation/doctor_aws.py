"""The doctor's one door to AWS: boto3 calls that only read (Get*, List*) or assume roles for 15 minutes.

Every answer is a value or a ``Failure`` carrying AWS's error code (or botocore's exception name); what it means is
decided in ``federation/doctor.py``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import boto3
import botocore.session
from botocore.exceptions import BotoCoreError, ClientError, ProfileNotFound

from federation.doctor import Credentials, Failure

# The shortest session STS grants: the doctor needs seconds, and a leaked probe session should not outlive it.
SESSION_SECONDS = 900


@dataclass(frozen=True)
class Step:
    """The credentials of one step of the chain: an assumed role's keys, or None for what botocore found."""

    keys: Mapping[str, str] | None = None


def _failure(error: Exception) -> Failure:
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return Failure(str(details.get("Code", "Unknown")), str(details.get("Message", error)))
    return Failure(type(error).__name__, str(error))


class Boto3Aws:
    """``doctor.Aws`` over boto3: credentials as botocore (and so the AWS CLI) resolves them, then read-only calls.

    Every client comes from the one boto3 session of the found credentials, with an assumed step's keys passed
    in: a session per step would load botocore's service models again each time (about 0.1 s a client).
    ``clients`` (service -> client) replaces that for tests that stub the answers.
    """

    def __init__(self, profile: str | None, region: str, clients: Callable[[str], Any] | None = None) -> None:
        self._profile = profile
        self._region = region
        self._clients = clients
        self._session: boto3.Session | None = None

    def credentials(self) -> tuple[Credentials, Step | None]:
        core = botocore.session.Session(profile=self._profile)
        config_file = os.path.expanduser(str(core.get_config_variable("config_file")))
        profile = core.profile
        try:
            core.get_scoped_config()
        except ProfileNotFound as error:
            return Credentials(profile, config_file, None, None, None, {}, _failure(error)), None
        profiles: Mapping[str, Mapping[str, Any]] = core.full_config.get("profiles", {})
        self._session = boto3.Session(botocore_session=core)
        # Terraform and AWS CLI v2 read AWS_REGION before AWS_DEFAULT_REGION; botocore reads only the latter.
        region, source = os.environ.get("AWS_REGION"), "AWS_REGION"
        if not region:
            region = self._session.region_name
            source = (
                "AWS_DEFAULT_REGION" if os.environ.get("AWS_DEFAULT_REGION") else f"profile '{profile or 'default'}'"
            )
        base = Credentials(profile, config_file, None, region, source if region else None, profiles)
        try:
            found = self._session.get_credentials()
        except BotoCoreError as error:
            return replace(base, problem=_failure(error)), None
        if found is None:
            return base, None
        return replace(base, method=found.method), Step()

    def _client(self, step: Step, service: str, region: str) -> Any:
        if self._clients is not None:
            return self._clients(service)
        assert self._session is not None, "credentials() first"
        keys = step.keys or {}
        return self._session.client(
            service,
            region_name=region,
            aws_access_key_id=keys.get("AccessKeyId"),
            aws_secret_access_key=keys.get("SecretAccessKey"),
            aws_session_token=keys.get("SessionToken"),
        )

    def whoami(self, session: Step) -> str | Failure:
        try:
            return str(self._client(session, "sts", self._region).get_caller_identity()["Arn"])
        except (ClientError, BotoCoreError) as error:
            return _failure(error)

    def assume(self, session: Step, role_arn: str, session_name: str, tags: Mapping[str, str]) -> Step | Failure:
        extra = {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]} if tags else {}
        try:
            answer = self._client(session, "sts", self._region).assume_role(
                RoleArn=role_arn, RoleSessionName=session_name, DurationSeconds=SESSION_SECONDS, **extra
            )
        except (ClientError, BotoCoreError) as error:
            return _failure(error)
        keys = answer["Credentials"]
        return Step({k: str(keys[k]) for k in ("AccessKeyId", "SecretAccessKey", "SessionToken")})

    def list_prefix(self, session: Step, region: str, bucket: str, prefix: str) -> int | Failure:
        try:
            answer = self._client(session, "s3", region).list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1)
        except (ClientError, BotoCoreError) as error:
            return _failure(error)
        return int(answer.get("KeyCount", 0))

    def read_lock(self, session: Step, region: str, table: str, lock_id: str) -> bool | Failure:
        try:
            answer = self._client(session, "dynamodb", region).get_item(TableName=table, Key={"LockID": {"S": lock_id}})
        except (ClientError, BotoCoreError) as error:
            return _failure(error)
        return "Item" in answer
