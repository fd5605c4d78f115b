"""`python -m federation doctor`: every check of the checklist, passing and failing, and that it never writes.

Three sources of AWS answers, each used where it is faithful (FACTS.md):
- moto with IAM enforcement for the happy paths and for what moto decides from identity policies: AssumeRole
  denied by the caller's own policy, S3 listing and DynamoDB reads denied by state-mgmt's policy. moto does not
  evaluate cross-account trust, conditions or session tags, so the world below trusts ``*`` and its policies carry
  no conditions; it tests the doctor's calls and verdicts, not the federation's documents (the access matrix does).
- botocore's Stubber for what moto cannot answer: a trust that refuses the caller, a doer that does not exist
  (moto's AssumeRole needs no role), state-mgmt refusing a session tag, a backend that is not deployed.
- botocore itself, with no AWS call, for a missing profile, an expired or absent SSO token and missing credentials.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import botocore.credentials
import botocore.session
import botocore.tokens
import pytest
import yaml
from botocore.client import BaseClient
from botocore.stub import ANY, Stubber
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

import federation.__main__ as cli
from federation import names
from federation.config import FederationConfig, parse_config
from federation.doctor import Kind, Target, identify, sso_login_of, target_of
from federation.doctor_aws import Boto3Aws
from federation.snippets import AccountFacts, aws_config_snippet
from plan.materialize import account_session
from plan.runner import to_pulumi_config

SHARED, DEV = "111111111111", "222222222222"
REGION = "us-east-1"
BUCKET, TABLE = f"terraform-state-{SHARED}", f"terraform-state-lock-{SHARED}"
ASSUMER = f"arn:aws:iam::{SHARED}:role/infrastructure-assumer-role"
STATE_MGMT = f"arn:aws:iam::{SHARED}:role/state-mgmt-role"
DOERS = {
    "shared": f"arn:aws:iam::{SHARED}:role/infrastructure-doer-role",
    "dev": f"arn:aws:iam::{DEV}:role/infrastructure-doer-role",
}
ACCOUNTS = {"shared": SHARED, "dev": DEV}
SSO_PATH = "/aws-reserved/sso.amazonaws.com/"
ADMIN_SSO_ROLE = "AWSReservedSSO_AWSAdministratorAccess_0123456789abcdef"
READONLY_SSO_ROLE = "AWSReservedSSO_AWSReadOnlyAccess_fedcba9876543210"
OIDC_ROLE = f"arn:aws:iam::{SHARED}:role/ci-oidc"
STATE_KEY = f"{DEV}/network/terraform.tfstate"

SECTION: dict[str, Any] = {
    "iam-federation:organization_id": "o-a1b2c3d4e5",
    "iam-federation:region": REGION,
    "iam-federation:shared_account": {"name": "shared", "id": SHARED},
    "iam-federation:accounts": [{"name": "dev", "id": DEV}],
    "iam-federation:sso": {"permission_sets": ["AWSAdministratorAccess"], "session_name": "sso"},
    "iam-federation:ci": {"extra_trusted_principal_arns": [OIDC_ROLE]},
}
# Operations a read-only doctor may make: botocore's own credential calls included.
READ_ONLY = re.compile(r"^(?:(?:Get|List|Describe)[A-Z]\w*|AssumeRole|AssumeRoleWithWebIdentity)$")


def write_stack(directory: Path, name: str, section: dict[str, Any]) -> Path:
    path = directory / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump({"config": section}))
    return path


@pytest.fixture(scope="module")
def stack_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_stack(tmp_path_factory.mktemp("stacks"), "org", SECTION)


# --- running the doctor ----------------------------------------------------------------------------------------


@dataclass
class Line:
    mark: str
    title: str
    detail: str
    cause: str = ""
    fix: str = ""


@dataclass
class Run:
    code: int
    lines: list[Line]
    calls: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    def __getitem__(self, title: str) -> Line:
        (line,) = [line for line in self.lines if line.title == title]
        return line

    @property
    def marks(self) -> dict[str, str]:
        return {line.title: line.mark for line in self.lines}


def parse(out: str) -> list[Line]:
    """The checklist as printed: header, one line per check with cause and fix under a failure, a summary."""
    header, *rest = out.splitlines()
    assert header.startswith("doctor of stack 'org'")
    lines: list[Line] = []
    for text in rest:
        if text.startswith("    cause: "):
            lines[-1].cause = text.removeprefix("    cause: ")
        elif text.startswith("    fix: "):
            lines[-1].fix = text.removeprefix("    fix: ")
        elif text[:2] in ("✓ ", "✗ ", "- "):
            title, _, detail = text[2:].partition(": ")
            lines.append(Line(text[0], title, detail))
        else:
            assert re.match(r"^(OK: all \d+ checks passed|FAILED: \d+ of \d+ checks)$", text), text
    for line in lines:
        assert (line.mark == "✗") == bool(line.cause and line.fix), line
    return lines


def doctor(capsys: pytest.CaptureFixture[str], *args: str) -> Run:
    """Run the CLI, recording every API call any botocore client makes; none may write."""
    calls: list[tuple[str, str, dict[str, Any]]] = []
    original = BaseClient._make_api_call

    def recording(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        calls.append((client.meta.service_model.service_name, operation, dict(params)))
        return original(client, operation, params)

    with mock.patch.object(BaseClient, "_make_api_call", recording):
        code = cli.main(["doctor", *args])
    run = Run(code, parse(capsys.readouterr().out), calls)
    assert [c for c in calls if not READ_ONLY.match(c[1])] == []
    assert code == (1 if any(line.mark == "✗" for line in run.lines) else 0)
    return run


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No credentials, profile or region from the machine; an empty config file; no instance metadata lookups."""
    for key in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    ]:
        monkeypatch.delenv(key, raising=False)
    config = tmp_path / "aws-config"
    config.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # botocore computes the SSO token cache directory from $HOME at import time.
    cache = tmp_path / "sso-cache"
    monkeypatch.setattr(botocore.tokens.SSOTokenProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))
    monkeypatch.setattr(botocore.credentials.SSOProvider, "_SSO_TOKEN_CACHE_DIR", str(cache))
    return config


def use_keys(monkeypatch: pytest.MonkeyPatch, credentials: dict[str, str], region: str | None = REGION) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
    if region:
        monkeypatch.setenv("AWS_DEFAULT_REGION", region)


# --- the moto world ---------------------------------------------------------------------------------------------


def _document(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _allow(actions: list[str], resources: list[str] | str) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


# moto evaluates a trust policy only for a role of the caller's own account, and admits a principal only if it is
# "*" or the caller's exact session ARN: "*" lets the identity policies below decide.
TRUST_ANY = _document({"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": ["sts:AssumeRole", "sts:TagSession"]})
ASSUME_STATE_MGMT = _document(_allow(["sts:AssumeRole", "sts:TagSession"], STATE_MGMT))
STATE_MGMT_POLICY = {
    "list": _allow(["s3:ListBucket"], f"arn:aws:s3:::{BUCKET}"),
    "objects": _allow(["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], f"arn:aws:s3:::{BUCKET}/*"),
    # moto checks DynamoDB actions against resource "*" (FACTS.md), so a table ARN here would deny.
    "locks": _allow(["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"], "*"),
}


@dataclass
class World:
    iam: dict[str, Any]  # account id -> IAM client of that account
    sessions: dict[str, dict[str, str]]  # who -> credentials of a session of theirs


def _role(iam: Any, name: str, policy: str, path: str = "/") -> None:
    iam.create_role(RoleName=name, Path=path, AssumeRolePolicyDocument=TRUST_ANY)
    iam.put_role_policy(RoleName=name, PolicyName="access", PolicyDocument=policy)


def _sign_in(session: boto3.Session, role: str, who: str) -> dict[str, str]:
    answer = session.client("sts").assume_role(RoleArn=role, RoleSessionName=who)
    return dict(answer["Credentials"])


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with mock_aws():
        shared = account_session(SHARED, f"arn:aws:iam::{SHARED}:role/setup", REGION)
        dev = account_session(DEV, f"arn:aws:iam::{DEV}:role/setup", REGION)
        iam = {SHARED: shared.client("iam"), DEV: dev.client("iam")}
        assume_assumer = _document(_allow(["sts:AssumeRole"], ASSUMER))
        _role(iam[SHARED], ADMIN_SSO_ROLE, assume_assumer, SSO_PATH)
        _role(iam[SHARED], READONLY_SSO_ROLE, _document(_allow(["s3:GetObject"], "*")), SSO_PATH)
        _role(iam[SHARED], "ci-oidc", assume_assumer)
        doers = "arn:aws:iam::*:role/infrastructure-doer-role"
        _role(iam[SHARED], "infrastructure-assumer-role", _document(_allow(["sts:AssumeRole"], [doers, STATE_MGMT])))
        _role(iam[SHARED], "state-mgmt-role", _document(*STATE_MGMT_POLICY.values()))
        for account in (SHARED, DEV):
            _role(iam[account], "infrastructure-doer-role", ASSUME_STATE_MGMT)
        s3 = shared.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_object(Bucket=BUCKET, Key=STATE_KEY, Body=b"{}")
        shared.client("dynamodb").create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "LockID", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "LockID", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        sessions = {
            "admin": _sign_in(shared, f"arn:aws:iam::{SHARED}:role{SSO_PATH}{ADMIN_SSO_ROLE}", "alice@example.com"),
            "readonly": _sign_in(shared, f"arn:aws:iam::{SHARED}:role{SSO_PATH}{READONLY_SSO_ROLE}", "bob@example.com"),
        }
        yield World(iam, sessions)


def enforced(capsys: pytest.CaptureFixture[str], *args: str, unauthenticated: int = 0) -> Run:
    """The doctor against moto with IAM enforcement from the first call (or after botocore's own first calls)."""

    @set_initial_no_auth_action_count(unauthenticated)
    def run() -> Run:
        return doctor(capsys, *args)

    return run()


@pytest.fixture
def state_mgmt_policy(world: World) -> Iterator[Callable[[str], None]]:
    """Replace state-mgmt's policy by one without a statement; the whole policy comes back afterwards."""

    def without(statement: str) -> None:
        kept = [s for key, s in STATE_MGMT_POLICY.items() if key != statement]
        world.iam[SHARED].put_role_policy(
            RoleName="state-mgmt-role", PolicyName="access", PolicyDocument=_document(*kept)
        )

    yield without
    world.iam[SHARED].put_role_policy(
        RoleName="state-mgmt-role", PolicyName="access", PolicyDocument=_document(*STATE_MGMT_POLICY.values())
    )


# --- moto: happy paths and what identity policies decide -------------------------------------------------------


def test_every_check_passes_from_an_sso_role(
    world: World, stack_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    use_keys(monkeypatch, world.sessions["admin"])
    run = enforced(capsys, "--stack-file", str(stack_file))
    assert run.code == 0
    assert [(line.mark, line.title) for line in run.lines] == [
        ("✓", "credentials"),
        ("✓", "who am I"),
        ("✓", "region"),
        ("✓", "assumer"),
        ("✓", f"doer of shared ({SHARED})"),
        ("✓", f"doer of dev ({DEV})"),
        ("✓", "state-mgmt for shared"),
        ("✓", "state prefix of shared"),
        ("✓", "lock table for shared"),
        ("✓", "state-mgmt for dev"),
        ("✓", "state prefix of dev"),
        ("✓", "lock table for dev"),
    ]
    assert run["credentials"].detail == "environment keys (AWS_ACCESS_KEY_ID)"
    assert run["who am I"].detail == (
        f"arn:aws:sts::{SHARED}:assumed-role/{ADMIN_SSO_ROLE}/alice@example.com "
        "(SSO role of permission set AWSAdministratorAccess)"
    )
    assert run["region"].detail == f"{REGION} (AWS_DEFAULT_REGION), as iam-federation:region"
    assert run[f"doer of dev ({DEV})"].detail == DOERS["dev"]
    assert run["state-mgmt for dev"].detail == f"assumed from the doer with StateAccount={DEV}"
    # moto holds one object under dev's prefix and none under shared's: the listing is real.
    assert run["state prefix of dev"].detail == f"s3://{BUCKET}/{DEV}/ listed (state found)"
    assert run["state prefix of shared"].detail == f"s3://{BUCKET}/{SHARED}/ listed (empty: no state yet)"
    lock = run["lock table for dev"].detail
    assert lock == f"read LockID {BUCKET}/{DEV}/doctor-probe of {TABLE} (no item, as expected)"


def test_never_writes_only_the_designed_probes(
    world: World, stack_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Every run in this file goes through doctor(), which fails on any call READ_ONLY does not match; this one
    # pins the whole list of a passing run, and that the matcher would catch the writes a lock or state could take.
    for write in ("PutItem", "DeleteItem", "UpdateItem", "PutObject", "DeleteObject", "CreateRole", "TagRole"):
        assert not READ_ONLY.match(write)
    use_keys(monkeypatch, world.sessions["admin"])
    run = enforced(capsys, "--stack-file", str(stack_file))
    session = {"RoleSessionName": "doctor-alice@example.com", "DurationSeconds": 900}

    def tagged(account: str) -> dict[str, Any]:
        return {"RoleArn": STATE_MGMT, **session, "Tags": [{"Key": "StateAccount", "Value": account}]}

    def probes(account: str) -> list[tuple[str, str, dict[str, Any]]]:
        return [
            ("sts", "AssumeRole", tagged(account)),
            ("s3", "ListObjectsV2", {"Bucket": BUCKET, "Prefix": f"{account}/", "MaxKeys": 1}),
            ("dynamodb", "GetItem", {"TableName": TABLE, "Key": {"LockID": {"S": f"{BUCKET}/{account}/doctor-probe"}}}),
        ]

    assert run.calls == [
        ("sts", "GetCallerIdentity", {}),
        ("sts", "AssumeRole", {"RoleArn": ASSUMER, **session}),
        ("sts", "AssumeRole", {"RoleArn": DOERS["shared"], **session}),
        ("sts", "AssumeRole", {"RoleArn": DOERS["dev"], **session}),
        *probes(SHARED),
        *probes(DEV),
    ]


def test_every_check_passes_from_a_web_identity(
    world: World, stack_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    token = tmp_path / "token"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.e30.c2lnbmF0dXJl")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token))
    monkeypatch.setenv("AWS_ROLE_ARN", OIDC_ROLE)
    monkeypatch.setenv("AWS_ROLE_SESSION_NAME", "github-run-42")
    monkeypatch.setenv("AWS_REGION", REGION)
    # AssumeRoleWithWebIdentity is unsigned, which moto's enforcement cannot check: botocore's first call runs free.
    run = enforced(capsys, "--stack-file", str(stack_file), unauthenticated=1)
    assert run.code == 0, run.lines
    assert run["credentials"].detail == "web identity token (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN)"
    assert run["who am I"].detail.endswith("(web identity (OIDC) role ci-oidc)")
    assert run["region"].detail == f"{REGION} (AWS_REGION), as iam-federation:region"
    assert [c[1] for c in run.calls[:2]] == ["GetCallerIdentity", "AssumeRoleWithWebIdentity"]
    assert run.calls[2][2]["RoleSessionName"] == "doctor-github-run-42"


@pytest.mark.parametrize(
    ("env", "detail", "cause"),
    [
        (
            {"AWS_DEFAULT_REGION": "eu-west-1"},
            "eu-west-1 from AWS_DEFAULT_REGION, but the stack's is us-east-1",
            "AWS_DEFAULT_REGION differs from iam-federation:region",
        ),
        (
            {"AWS_DEFAULT_REGION": REGION, "AWS_REGION": "eu-central-1"},
            "eu-central-1 from AWS_REGION, but the stack's is us-east-1",
            "AWS_REGION differs from iam-federation:region",
        ),
        ({}, "not set for this session", "no region in the profile, AWS_REGION or AWS_DEFAULT_REGION"),
    ],
)
def test_wrong_region(
    world: World,
    stack_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    env: dict[str, str],
    detail: str,
    cause: str,
) -> None:
    use_keys(monkeypatch, world.sessions["admin"], region=None)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    run = enforced(capsys, "--stack-file", str(stack_file))
    assert run.code == 1
    assert [line.title for line in run.lines if line.mark != "✓"] == ["region"]
    assert run["region"].detail == detail
    assert run["region"].cause.startswith(cause)
    assert run["region"].fix == "set `region = us-east-1` in the profile, or export AWS_REGION=us-east-1"


def test_a_permission_set_not_trusted_cannot_become_the_assumer(
    world: World, stack_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # moto denies from the SSO role's own policy (no sts:AssumeRole): a real case, and one moto decides faithfully.
    use_keys(monkeypatch, world.sessions["readonly"])
    run = enforced(capsys, "--stack-file", str(stack_file))
    assert run.code == 1
    assert run.marks == {
        "credentials": "✓",
        "who am I": "✓",
        "region": "✓",
        "assumer": "✗",
        "2 doer(s) and state": "-",
    }
    assert run["assumer"].detail == f"AssumeRole {ASSUMER} failed (AccessDenied)"
    assert run["assumer"].cause == (
        "permission set AWSReadOnlyAccess is not in iam-federation:sso.permission_sets (AWSAdministratorAccess)"
    )
    assert run["assumer"].fix == (
        "use a profile whose sso_role_name is one of them, or add AWSReadOnlyAccess to "
        "iam-federation:sso.permission_sets and run `pulumi up --stack org`"
    )


def test_state_prefix_list_denied(
    world: World,
    stack_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    state_mgmt_policy: Callable[[str], None],
) -> None:
    state_mgmt_policy("list")
    use_keys(monkeypatch, world.sessions["admin"])
    run = enforced(capsys, "--stack-file", str(stack_file))
    assert run.code == 1
    assert [line.title for line in run.lines if line.mark != "✓"] == ["state prefix of shared", "state prefix of dev"]
    line = run["state prefix of dev"]
    assert line.detail == f"ListObjectsV2 s3://{BUCKET}/{DEV}/ failed (AccessDenied)"
    assert line.cause.startswith(f"state-mgmt tagged StateAccount={DEV} may not list {DEV}/:")
    assert line.fix.startswith("`pulumi up --stack org`")


# --- Stubber: what moto cannot answer --------------------------------------------------------------------------


class Stubs:
    """One stubbed client per service, whatever session asks: the walk's calls must come in the queued order."""

    def __init__(self) -> None:
        keys = {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": "secret"}
        self.clients = {s: boto3.client(s, region_name=REGION, **keys) for s in ("sts", "s3", "dynamodb")}
        self.stubbers = {s: Stubber(c) for s, c in self.clients.items()}

    def client(self, service: str) -> Any:
        return self.clients[service]

    def whoami(self, arn: str) -> None:
        answer = {"Arn": arn, "Account": arn.split(":")[4], "UserId": "AROAEXAMPLEEXAMPLE:x"}
        self.stubbers["sts"].add_response("get_caller_identity", answer, {})

    def assume(self, role_arn: str, error: str | None = None, tag: str | None = None) -> None:
        expected = {"RoleArn": role_arn, "RoleSessionName": ANY, "DurationSeconds": 900}
        if tag:
            expected["Tags"] = [{"Key": "StateAccount", "Value": tag}]
        if error:
            message = f"User: arn:aws:sts::{SHARED}:assumed-role/x/y is not authorized to perform: sts:AssumeRole on "
            message += f"resource: {role_arn}"
            self.stubbers["sts"].add_client_error("assume_role", error, message, 403, expected_params=expected)
            return
        expires = datetime.now(UTC) + timedelta(minutes=15)
        credentials = {
            "AccessKeyId": "ASIAEXAMPLEEXAMPLE",
            "SecretAccessKey": "s",
            "SessionToken": "t",
            "Expiration": expires,
        }
        user = {"AssumedRoleId": "AROAEXAMPLEEXAMPLE:doctor", "Arn": role_arn}
        self.stubbers["sts"].add_response(
            "assume_role", {"Credentials": credentials, "AssumedRoleUser": user}, expected
        )

    def state(self, account: str, list_error: str | None = None, lock_error: str | None = None) -> None:
        self.assume(STATE_MGMT, tag=account)
        listing = {"Bucket": BUCKET, "Prefix": f"{account}/", "MaxKeys": 1}
        if list_error:
            self.stubbers["s3"].add_client_error("list_objects_v2", list_error, "denied", 403, expected_params=listing)
        else:
            self.stubbers["s3"].add_response("list_objects_v2", {"KeyCount": 0, "Name": BUCKET}, listing)
        item = {"TableName": TABLE, "Key": {"LockID": {"S": f"{BUCKET}/{account}/doctor-probe"}}}
        if lock_error:
            self.stubbers["dynamodb"].add_client_error("get_item", lock_error, "denied", 400, expected_params=item)
        else:
            self.stubbers["dynamodb"].add_response("get_item", {}, item)


SSO_ADMIN = f"arn:aws:sts::{SHARED}:assumed-role/{ADMIN_SSO_ROLE}/alice@example.com"


@pytest.fixture
def stubs(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stubs]:
    stubs = Stubs()
    monkeypatch.setattr(cli, "Boto3Aws", lambda profile, region: Boto3Aws(profile, region, stubs.client))
    use_keys(monkeypatch, {"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", "SecretAccessKey": "s", "SessionToken": "t"})
    for stubber in stubs.stubbers.values():
        stubber.activate()
    yield stubs
    for stubber in stubs.stubbers.values():
        stubber.assert_no_pending_responses()
        stubber.deactivate()


@pytest.mark.parametrize(
    ("caller", "cause", "fix"),
    [
        (
            SSO_ADMIN,
            "permission set AWSAdministratorAccess is in iam-federation:sso.permission_sets, so the assumer's trust "
            "was changed outside Pulumi (or is not deployed yet)",
            "`pulumi preview --stack org` shows drift of the assumer's trust; `pulumi up --stack org` restores it",
        ),
        (
            f"arn:aws:sts::{DEV}:assumed-role/{ADMIN_SSO_ROLE}/alice@example.com",
            f"the SSO role is in account {DEV}, but the assumer trusts SSO roles of iam-federation:sso.account_id = "
            f"{SHARED} only",
            f"use a profile with sso_account_id = {SHARED}, or correct iam-federation:sso.account_id and run "
            "`pulumi up --stack org`",
        ),
        (
            f"arn:aws:sts::{SHARED}:assumed-role/gitlab-runner/i-0123456789abcdef0",
            "this runner's EC2 instance role gitlab-runner is not the assumer (infrastructure-assumer-role) and not in "
            "iam-federation:ci.extra_trusted_principal_arns",
            "launch the runner with instance profile infrastructure-assumer, or add the role's ARN to "
            "iam-federation:ci.extra_trusted_principal_arns and run `pulumi up --stack org`",
        ),
        (
            f"arn:aws:iam::{SHARED}:user/deploy",
            "IAM user deploy (plain keys) is not in iam-federation:ci.extra_trusted_principal_arns",
            "add its ARN to iam-federation:ci.extra_trusted_principal_arns and run `pulumi up --stack org`; its own "
            f"policy must allow sts:AssumeRole on {ASSUMER}",
        ),
    ],
)
def test_cannot_become_the_assumer(
    stubs: Stubs, stack_file: Path, capsys: pytest.CaptureFixture[str], caller: str, cause: str, fix: str
) -> None:
    stubs.whoami(caller)
    stubs.assume(ASSUMER, error="AccessDenied")
    run = doctor(capsys, "--stack-file", str(stack_file))
    assert run.code == 1
    assert [(line.mark, line.title) for line in run.lines][3:] == [("✗", "assumer"), ("-", "2 doer(s) and state")]
    assert run["assumer"].cause.startswith(cause)
    assert run["assumer"].fix == fix


def test_already_the_assumer_on_a_runner(stubs: Stubs, stack_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stubs.whoami(f"arn:aws:sts::{SHARED}:assumed-role/infrastructure-assumer-role/i-0123456789abcdef0")
    for account in ACCOUNTS:
        stubs.assume(DOERS[account])
    for account in ACCOUNTS.values():
        stubs.state(account)
    run = doctor(capsys, "--stack-file", str(stack_file))
    assert run.code == 0
    assert run["assumer"].detail == f"already the assumer ({ASSUMER})"
    assert run["who am I"].detail.endswith("(the assumer's session)")
    assert [c[2].get("RoleArn") for c in run.calls if c[1] == "AssumeRole"][:2] == [DOERS["shared"], DOERS["dev"]]


def test_a_doer_missing_in_one_account(stubs: Stubs, stack_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # AWS answers AccessDenied for a role that does not exist; the other doer answering points at this account.
    stubs.whoami(SSO_ADMIN)
    stubs.assume(ASSUMER)
    stubs.assume(DOERS["shared"])
    stubs.assume(DOERS["dev"], error="AccessDenied")
    stubs.state(SHARED)
    run = doctor(capsys, "--stack-file", str(stack_file))
    assert run.code == 1
    assert run.marks[f"doer of shared ({SHARED})"] == "✓"
    line = run[f"doer of dev ({DEV})"]
    assert (line.mark, line.detail) == ("✗", f"AssumeRole {DOERS['dev']} failed (AccessDenied)")
    assert line.cause.startswith("the assumer reaches 1 other doer(s), so this one is missing or refuses it")
    assert line.fix == (
        "account not deployed yet: run `pulumi up --stack org`; if it is, `pulumi preview --stack org` shows the drift"
    )
    assert (run["state of dev"].mark, run["state of dev"].detail) == ("-", "not checked: no doer session")
    assert run.marks["lock table for shared"] == "✓"


def test_no_doer_accepts_the_assumer(stubs: Stubs, stack_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stubs.whoami(SSO_ADMIN)
    stubs.assume(ASSUMER)
    stubs.assume(DOERS["shared"], error="AccessDenied")
    stubs.assume(DOERS["dev"], error="AccessDenied")
    run = doctor(capsys, "--stack-file", str(stack_file))
    assert run.code == 1
    for account, account_id in ACCOUNTS.items():
        line = run[f"doer of {account} ({account_id})"]
        assert line.cause.startswith(
            "no doer accepted the assumer: the stack is not deployed yet, or the assumer's policy"
        )
        assert "not in organization o-a1b2c3d4e5" in line.cause
        assert line.fix.startswith("account not deployed yet: run `pulumi up --stack org`")
    assert [line.title for line in run.lines if line.mark == "-"] == ["state of shared", "state of dev"]


def test_state_mgmt_refuses_the_tagged_session(
    stubs: Stubs, stack_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stubs.whoami(SSO_ADMIN)
    stubs.assume(ASSUMER)
    stubs.assume(DOERS["shared"])
    stubs.assume(DOERS["dev"])
    stubs.state(SHARED)
    stubs.assume(STATE_MGMT, error="AccessDenied", tag=DEV)
    run = doctor(capsys, "--stack-file", str(stack_file))
    assert run.code == 1
    line = run["state-mgmt for dev"]
    assert line.detail == f"AssumeRole {STATE_MGMT} with StateAccount={DEV} from the doer failed (AccessDenied)"
    assert line.cause.startswith("the session tag StateAccount is missing or not your account")
    assert 'assume_role { tags = { StateAccount = "222222222222" } }' in line.fix
    assert run["state prefix and lock of dev"].mark == "-"


def test_lock_read_denied(stubs: Stubs, stack_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # moto answers this denial as an XML ErrorResponse that botocore reads as code "403"; DynamoDB sends JSON.
    stubs.whoami(SSO_ADMIN)
    stubs.assume(ASSUMER)
    stubs.assume(DOERS["shared"])
    stubs.assume(DOERS["dev"])
    stubs.state(SHARED, lock_error="AccessDeniedException")
    stubs.state(DEV, lock_error="AccessDeniedException")
    run = doctor(capsys, "--stack-file", str(stack_file))
    assert run.code == 1
    assert [line.title for line in run.lines if line.mark != "✓"] == ["lock table for shared", "lock table for dev"]
    line = run["lock table for shared"]
    assert line.detail == f"GetItem {TABLE} LockID {BUCKET}/{SHARED}/doctor-probe failed (AccessDeniedException)"
    assert line.cause.startswith(
        f"state-mgmt tagged StateAccount={SHARED} may not read lock items under {BUCKET}/{SHARED}/"
    )
    assert line.fix.startswith("`pulumi up --stack org`")


def test_backend_not_deployed(stubs: Stubs, stack_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stubs.whoami(SSO_ADMIN)
    stubs.assume(ASSUMER)
    stubs.assume(DOERS["shared"])
    stubs.assume(DOERS["dev"])
    stubs.state(SHARED, list_error="NoSuchBucket", lock_error="ResourceNotFoundException")
    stubs.state(DEV, list_error="NoSuchBucket", lock_error="ResourceNotFoundException")
    run = doctor(capsys, "--stack-file", str(stack_file))
    assert run["state prefix of dev"].cause.startswith(
        f"bucket {BUCKET} does not exist: the shared stack is not deployed"
    )
    assert run["lock table for dev"].cause.startswith(f"table {TABLE} does not exist in {REGION}")
    assert run["lock table for dev"].fix == (
        "run `pulumi up --stack org`, or correct iam-federation:state_backend.lock_table_name"
    )


# --- botocore alone: profile, SSO token, credentials -----------------------------------------------------------


def test_profile_missing(stack_file: Path, clean_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = doctor(capsys, "--stack-file", str(stack_file), "--profile", "nope")
    assert run.code == 1
    assert [(line.mark, line.title) for line in run.lines] == [("✗", "credentials")]
    assert run["credentials"].detail == "profile 'nope' not found"
    assert run["credentials"].cause.startswith(f"{clean_env} (AWS_CONFIG_FILE) and the credentials file have no")
    assert "`pulumi stack output aws_config_snippet --stack org`" in run["credentials"].fix
    assert run.calls == []


SSO_PROFILE = "shared-AWSAdministratorAccess"  # <SSO account>-<permission set>, as the snippet names it


def sso_config(config: FederationConfig) -> str:
    """The program's own ~/.aws/config snippet, plus a legacy SSO profile (sso_start_url in the profile)."""
    doers = names.doer_arns(config)
    facts = [AccountFacts(a.name, a.id, config.region, doers[a.name]) for a in config.all_accounts]
    return aws_config_snippet(config, facts) + (
        "\n[profile legacy]\n"
        "sso_start_url = https://example.awsapps.com/start\nsso_region = us-east-1\n"
        f"sso_account_id = {SHARED}\nsso_role_name = AWSAdministratorAccess\nregion = us-east-1\n"
    )


@pytest.mark.parametrize(
    ("profile", "token", "detail", "fix"),
    [
        (SSO_PROFILE, "expired", "expired and botocore could not refresh it", "`aws sso login --sso-session sso`"),
        ("assumer", "expired", "expired and botocore could not refresh it", "`aws sso login --sso-session sso`"),
        ("legacy", "expired", "expired or revoked", "`aws sso login --profile legacy`"),
        (SSO_PROFILE, None, "not found: no `aws sso login` on this machine yet", "`aws sso login --sso-session sso`"),
    ],
)
def test_sso_token_expired_or_missing(
    stack_file: Path,
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    profile: str,
    token: str | None,
    detail: str,
    fix: str,
) -> None:
    config = parse_config(to_pulumi_config(SECTION))
    assert isinstance(config, FederationConfig)
    clean_env.write_text(sso_config(config))
    if token:
        expired = {"accessToken": "x", "expiresAt": "2020-01-01T00:00:00Z", "region": REGION}
        cache = Path(botocore.tokens.SSOTokenProvider._SSO_TOKEN_CACHE_DIR)
        cache.mkdir()
        # botocore names a cached token by the SHA-1 of the sso-session name, or of the start URL (legacy).
        for key in ("sso", "https://example.awsapps.com/start"):
            (cache / f"{hashlib.sha1(key.encode()).hexdigest()}.json").write_text(json.dumps(expired))
    run = doctor(capsys, "--stack-file", str(stack_file), "--profile", profile)
    assert run.code == 1
    assert run.marks == {
        "credentials": "✓",
        "SSO token": "✗",
        "who am I": "-",
        "region": "✓",
        "assumer, 2 doer(s), state": "-",
    }
    assert run["SSO token"].detail == detail
    assert run["SSO token"].fix == fix
    assert [c[1] for c in run.calls] == ["GetCallerIdentity"]  # botocore failed before signing it


def test_no_credentials(stack_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = doctor(capsys, "--stack-file", str(stack_file))
    assert [(line.mark, line.title, line.detail) for line in run.lines] == [("✗", "credentials", "none found")]
    assert run["credentials"].fix.startswith("`aws sso login --sso-session sso` and pass --profile <your SSO profile>")
    assert run.code == 1


# --- pure parts and the stack files ----------------------------------------------------------------------------


def _target() -> Target:
    config = parse_config(to_pulumi_config(SECTION))
    return target_of("org", config)


@pytest.mark.parametrize(
    ("arn", "method", "kind", "permission_set"),
    [
        (f"arn:aws:sts::{SHARED}:assumed-role/AWSReservedSSO_Admin_x_0123456789abcdef/a", "sso", Kind.SSO, "Admin_x"),
        (f"arn:aws:sts::{SHARED}:assumed-role/infrastructure-assumer-role/i-0abc12345", "iam-role", Kind.ASSUMER, None),
        (f"arn:aws:sts::{DEV}:assumed-role/infrastructure-assumer-role/x", "env", Kind.ROLE, None),
        (f"arn:aws:sts::{DEV}:assumed-role/infrastructure-doer-role/x", "env", Kind.DOER, None),
        (f"arn:aws:sts::{SHARED}:assumed-role/state-mgmt-role/x", "env", Kind.STATE_MGMT, None),
        (f"arn:aws:sts::{SHARED}:assumed-role/runner/i-0abc12345", "env", Kind.INSTANCE, None),
        (f"arn:aws:sts::{SHARED}:assumed-role/runner/session", "iam-role", Kind.INSTANCE, None),
        (f"arn:aws:sts::{SHARED}:assumed-role/ci/run-1", "assume-role-with-web-identity", Kind.WEB_IDENTITY, None),
        (f"arn:aws:iam::{SHARED}:user/ops/deploy", "env", Kind.USER, None),
        (f"arn:aws:iam::{SHARED}:root", "env", Kind.ROOT, None),
    ],
)
def test_identify(arn: str, method: str, kind: Kind, permission_set: str | None) -> None:
    identity = identify(arn, method, _target())
    assert (identity.kind, identity.permission_set) == (kind, permission_set)


def test_sso_login_follows_source_profile_of_the_generated_snippet(clean_env: Path) -> None:
    config = parse_config(to_pulumi_config(SECTION))
    assert isinstance(config, FederationConfig)
    clean_env.write_text(sso_config(config))
    profiles = botocore.session.Session().full_config["profiles"]
    assert sso_login_of("assumer", profiles) == "--sso-session sso"
    assert sso_login_of("legacy", profiles) == "--profile legacy"
    assert sso_login_of("nope", profiles) is None


def test_member_stack_reads_its_shared_stack(tmp_path: Path) -> None:
    shared = {**SECTION, "iam-federation:stack": {"kind": "shared"}, "iam-federation:accounts": []}
    shared["iam-federation:roles"] = {"doer": {"name": "tf-doer", "path": "/federation/"}}
    write_stack(tmp_path, "core", shared)
    member = {
        "iam-federation:stack": {"kind": "member", "shared_stack": "acme/iam-federation/core"},
        "iam-federation:region": REGION,
        "iam-federation:accounts": [{"name": "data", "id": "555555555555"}],
    }
    target = cli.load_target(write_stack(tmp_path, "members-a", member))
    assert (target.stack, target.shared_stack) == ("members-a", "core")
    assert [(a.name, a.doer_arn, a.stack) for a in target.accounts] == [
        ("data", "arn:aws:iam::555555555555:role/federation/tf-doer", "members-a")
    ]
    assert (target.assumer_arn, target.bucket) == (ASSUMER, BUCKET)


def test_unreadable_stack_files_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["doctor", "--stack-file", str(tmp_path / "Pulumi.none.yaml")]) == 2
    assert "stack file" in capsys.readouterr().err
    bad = write_stack(tmp_path, "bad", {**SECTION, "iam-federation:region": "mars-1"})
    assert cli.main(["doctor", "--stack-file", str(bad)]) == 2
    assert "Pulumi.bad.yaml:9:3: iam-federation:region = 'mars-1'" in capsys.readouterr().err
    member = {
        "iam-federation:stack": {"kind": "member", "shared_stack": "acme/iam-federation/gone"},
        "iam-federation:region": REGION,
        "iam-federation:accounts": [{"name": "data", "id": "555555555555"}],
    }
    assert cli.main(["doctor", "--stack-file", str(write_stack(tmp_path, "m", member))]) == 2
    assert "no shared or complete stack file Pulumi.gone.yaml" in capsys.readouterr().err


def test_the_plan_path_chain_is_walked_read_only(
    stubs: Stubs, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A read-only permission set walks the plan assumer, each plan doer and the state reader, with the same probes.
    section = {
        **SECTION,
        "iam-federation:plan_path": {"enabled": True, "permission_sets": ["AWSReadOnlyAccess"]},
        "iam-federation:accepted_risks": ["runners-account-plan-permission-set"],
    }
    stack = write_stack(tmp_path, "org", section)
    plan_assumer = f"arn:aws:iam::{SHARED}:role/infrastructure-plan-assumer-role"
    reader = f"arn:aws:iam::{SHARED}:role/state-reader-role"
    stubs.whoami(f"arn:aws:sts::{SHARED}:assumed-role/AWSReservedSSO_AWSReadOnlyAccess_0123456789abcdef/bob")
    stubs.assume(plan_assumer)
    for account in (SHARED, DEV):
        stubs.assume(f"arn:aws:iam::{account}:role/infrastructure-plan-doer-role")
    for account in (SHARED, DEV):
        stubs.assume(reader, tag=account)
        listing = {"Bucket": BUCKET, "Prefix": f"{account}/", "MaxKeys": 1}
        stubs.stubbers["s3"].add_response("list_objects_v2", {"KeyCount": 0, "Name": BUCKET}, listing)
        item = {"TableName": TABLE, "Key": {"LockID": {"S": f"{BUCKET}/{account}/doctor-probe"}}}
        stubs.stubbers["dynamodb"].add_response("get_item", {}, item)
    run = doctor(capsys, "--stack-file", str(stack), "--plan-path")
    assert run.code == 0, run.lines
    assert run["assumer"].detail == plan_assumer
    assert run.marks[f"doer of dev ({DEV})"] == "✓"
    assert run.marks["lock table for dev"] == "✓"


def test_the_plan_path_of_a_stack_without_one_is_a_clear_error(
    stack_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main(["doctor", "--stack-file", str(stack_file), "--plan-path"]) == 2
    assert "has no plan path (iam-federation:plan_path.enabled is false)" in capsys.readouterr().err
