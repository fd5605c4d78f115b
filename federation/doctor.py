"""`doctor`: a read-only walk of the credential chain, decided as pure functions of the config and AWS's answers.

The walk asks an ``Aws`` port (``federation/doctor_aws.py`` wraps boto3) for the credentials botocore finds and for
the caller's identity, then tries each step the way Terraform and Terragrunt take it: the assumer, each account's
doer, state-mgmt with the session tag ``StateAccount=<account id>``, a list of the account's state prefix and a read
of a lock item that cannot exist. Which checks run, their verdicts, the likely cause of a failure and its fix are
all decided here, without boto3, so tests read them directly. The port only reads (Get*, List*) and assumes roles.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal, Protocol, TypeVar

from federation.config import AnyConfig, FederationConfig, MemberConfig
from federation.names import (
    assumer_arn,
    doer_arns,
    plan_assumer_arn,
    plan_doer_arns,
    state_mgmt_arn,
    state_reader_arn,
)

Status = Literal["ok", "fail", "skip"]
S = TypeVar("S")

SSO_ROLE_PREFIX = "AWSReservedSSO_"
LOCK_PROBE = "doctor-probe"
STATE_TAG = "StateAccount"


class Kind(StrEnum):
    """Who the credentials botocore found belong to."""

    SSO = "sso"
    ASSUMER = "assumer"
    DOER = "doer"
    STATE_MGMT = "state-mgmt"
    INSTANCE = "instance"
    WEB_IDENTITY = "web-identity"
    ROLE = "role"
    USER = "user"
    ROOT = "root"
    OTHER = "other"


# botocore's name for the provider that produced the credentials (Credentials.method), as a user reads it.
METHODS = {
    "env": "environment keys (AWS_ACCESS_KEY_ID)",
    "sso": "SSO profile",
    "assume-role": "profile that assumes a role (role_arn)",
    "assume-role-with-web-identity": "web identity token (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN)",
    "iam-role": "EC2 instance profile (instance metadata)",
    "container-role": "container credentials (ECS/EKS)",
    "shared-credentials-file": "keys in the shared credentials file",
    "config-file": "keys in the config file",
    "custom-process": "credential_process",
}

# botocore's exceptions for an SSO token it cannot use: expired (sso-session / legacy profile) or never created.
SSO_TOKEN_ERRORS = {
    "TokenRetrievalError": "expired and botocore could not refresh it",
    "UnauthorizedSSOTokenError": "expired or revoked",
    "SSOTokenLoadError": "not found: no `aws sso login` on this machine yet",
}

_ASSUMED_ROLE = re.compile(r"^arn:aws[\w-]*:sts::(\d{12}):assumed-role/([\w+=,.@-]+)/(.+)$")
_USER = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):user/(?:[\w+=,.@-]+/)*([\w+=,.@-]+)$")
_ROOT = re.compile(r"^arn:aws[\w-]*:iam::(\d{12}):root$")
_INSTANCE_SESSION = re.compile(r"^i-[0-9a-f]{8,17}$")
_NOT_SESSION_CHARS = re.compile(r"[^\w+=,.@-]")


@dataclass(frozen=True)
class Failure:
    """An AWS call or credential lookup that failed: AWS's error code (or botocore's exception name) and message."""

    code: str
    message: str


@dataclass(frozen=True)
class Credentials:
    """What botocore resolved before any call: the profile, the credential provider and the session's region."""

    profile: str | None
    config_file: str
    method: str | None  # botocore's provider name (METHODS); None when no credentials were found
    region: str | None
    region_source: str | None  # AWS_REGION, AWS_DEFAULT_REGION, or the profile
    profiles: Mapping[str, Mapping[str, Any]]  # the config file's profiles, to follow source_profile to SSO
    problem: Failure | None = None  # the profile does not exist, or botocore could not build credentials


class Aws(Protocol[S]):
    """The doctor's only door to AWS; S is the port's session type. Every method answers a value or a Failure."""

    def credentials(self) -> tuple[Credentials, S | None]: ...

    def whoami(self, session: S) -> str | Failure: ...

    def assume(self, session: S, role_arn: str, session_name: str, tags: Mapping[str, str]) -> S | Failure: ...

    def list_prefix(self, session: S, region: str, bucket: str, prefix: str) -> int | Failure: ...

    def read_lock(self, session: S, region: str, table: str, lock_id: str) -> bool | Failure: ...


@dataclass(frozen=True)
class AccountTarget:
    """An account whose doer the doctor tries, and the stack that creates that doer."""

    name: str
    id: str
    doer_arn: str
    stack: str


@dataclass(frozen=True)
class Target:
    """The chain as the config says it should be (a member stack's roles and backend are its shared stack's)."""

    stack: str
    shared_stack: str
    region: str
    backend_region: str
    organization_id: str
    assumer_arn: str
    doer_name: str
    state_mgmt_arn: str
    bucket: str
    lock_table: str
    state_from_doer: bool
    permission_sets: tuple[str, ...]
    sso_account_id: str
    sso_session_name: str
    instance_profile_name: str
    extra_trusted_arns: tuple[str, ...]
    accounts: tuple[AccountTarget, ...]

    @property
    def assumer_name(self) -> str:
        return self.assumer_arn.rsplit("/", 1)[-1]

    @property
    def shared_account_id(self) -> str:
        return self.assumer_arn.split(":")[4]

    @property
    def state_mgmt_name(self) -> str:
        return self.state_mgmt_arn.rsplit("/", 1)[-1]


def target_of(
    stack: str,
    config: AnyConfig,
    shared: FederationConfig | None = None,
    shared_stack: str | None = None,
    plan_path: bool = False,
) -> Target:
    """The chain of a stack. A member stack passes its shared stack's config and name: roles and backend are there.

    plan_path: the read-only chain instead (plan assumer, plan doers, state reader), with the same read-only probes.
    """
    if isinstance(config, MemberConfig):
        if shared is None or shared_stack is None:
            raise ValueError(f"stack {stack!r} is a member stack: pass its shared stack's config")
        base, base_stack = shared, shared_stack
        # The organization as a member sees it: the shared stack's settings with the member's accounts.
        organization = shared.model_copy(update={"accounts": list(config.accounts)})
    else:
        base, base_stack, organization = config, stack, config
    if plan_path and not base.plan_path.enabled:
        raise ValueError(f"stack {base_stack!r} has no plan path (iam-federation:plan_path.enabled is false)")
    arns = plan_doer_arns(organization) if plan_path else doer_arns(organization)
    accounts = tuple(
        AccountTarget(a.name, a.id, arns[a.name], base_stack if a.id == base.shared_account.id else stack)
        for a in config.all_accounts
    )
    return Target(
        stack=stack,
        shared_stack=base_stack,
        region=config.region,
        backend_region=base.region,
        organization_id=base.organization_id,
        assumer_arn=plan_assumer_arn(base) if plan_path else assumer_arn(base),
        doer_name=base.plan_path.doer.name if plan_path else base.roles.doer.name,
        state_mgmt_arn=state_reader_arn(base) if plan_path else state_mgmt_arn(base),
        bucket=base.bucket_name,
        lock_table=base.lock_table_name,
        state_from_doer=base.state_backend.state_mgmt_trusts_doers,
        permission_sets=tuple(base.plan_path.permission_sets if plan_path else base.sso.permission_sets),
        sso_account_id=base.sso_account_id,
        sso_session_name=base.sso.session_name,
        instance_profile_name="" if plan_path else base.ci.instance_profile_name,
        extra_trusted_arns=() if plan_path else tuple(base.ci.extra_trusted_principal_arns),
        accounts=accounts,
    )


@dataclass(frozen=True)
class Check:
    """One line of the checklist; a failure carries its likely cause and the fix."""

    title: str
    status: Status
    detail: str = ""
    cause: str = ""
    fix: str = ""


@dataclass(frozen=True)
class Identity:
    """Who the caller is, from the ARN GetCallerIdentity returned and the provider botocore used."""

    arn: str
    account: str
    kind: Kind
    name: str  # role or user name
    session: str  # role session name, or the user name
    permission_set: str | None = None


def identify(arn: str, method: str | None, target: Target) -> Identity:
    """Classify the caller: an SSO role, one of the federation's roles, an instance or web identity role, keys."""
    if match := _ASSUMED_ROLE.match(arn):
        account, role, session = match.groups()
        if role.startswith(SSO_ROLE_PREFIX):
            # AWSReservedSSO_<permission set>_<16 characters>; a permission set name may itself contain '_'.
            permission_set = role.removeprefix(SSO_ROLE_PREFIX).rsplit("_", 1)[0]
            return Identity(arn, account, Kind.SSO, role, session, permission_set)
        if account == target.shared_account_id and role == target.assumer_name:
            kind = Kind.ASSUMER
        elif account == target.shared_account_id and role == target.state_mgmt_name:
            kind = Kind.STATE_MGMT
        elif role == target.doer_name:
            kind = Kind.DOER
        elif method == "assume-role-with-web-identity":
            kind = Kind.WEB_IDENTITY
        elif method == "iam-role" or _INSTANCE_SESSION.match(session):
            kind = Kind.INSTANCE
        else:
            kind = Kind.ROLE
        return Identity(arn, account, kind, role, session)
    if match := _USER.match(arn):
        account, user = match.groups()
        return Identity(arn, account, Kind.USER, user, user)
    if match := _ROOT.match(arn):
        return Identity(arn, match.group(1), Kind.ROOT, "root", "root")
    return Identity(arn, arn.split(":")[4] if arn.count(":") >= 5 else "", Kind.OTHER, arn, "doctor")


def describe(identity: Identity, method: str | None) -> str:
    how = {"iam-role": " via the EC2 instance profile", "assume-role-with-web-identity": " via web identity"}
    return {
        Kind.SSO: f"SSO role of permission set {identity.permission_set}",
        Kind.ASSUMER: f"the assumer's session{how.get(method or '', '')}",
        Kind.DOER: "a doer's session",
        Kind.STATE_MGMT: "a state-mgmt session",
        Kind.INSTANCE: f"EC2 instance role {identity.name}",
        Kind.WEB_IDENTITY: f"web identity (OIDC) role {identity.name}",
        Kind.ROLE: f"role {identity.name}",
        Kind.USER: f"IAM user {identity.name} (plain keys)",
        Kind.ROOT: "the account's root user",
    }.get(identity.kind, "an identity the doctor does not know")


def doctor_session_name(identity: Identity) -> str:
    """RoleSessionName of the doctor's sessions: names the person or run behind the caller in CloudTrail."""
    who = _NOT_SESSION_CHARS.sub("-", identity.session)
    return f"doctor-{who}"[:64]


def sso_login_of(profile: str | None, profiles: Mapping[str, Mapping[str, Any]]) -> str | None:
    """The `aws sso login` arguments for the SSO token behind a profile (following source_profile); None: no SSO."""
    name, seen = profile or "default", set()
    while name and name not in seen:
        seen.add(name)
        section = profiles.get(name, {})
        if "sso_session" in section:
            return f"--sso-session {section['sso_session']}"
        if "sso_start_url" in section:
            return f"--profile {name}"
        name = str(section.get("source_profile") or "")
    return None


def lock_probe_id(target: Target, account: AccountTarget) -> str:
    """A LockID under the account's prefix that Terraform never writes: reading it changes nothing."""
    return f"{target.bucket}/{account.id}/{LOCK_PROBE}"


# --- verdicts -------------------------------------------------------------------------------------------------


def _up(stack: str) -> str:
    return f"`pulumi up --stack {stack}`"


def _common(failure: Failure, target: Target) -> tuple[str, str]:
    """Cause and fix of an error any call can meet; the fallback quotes AWS's message."""
    code = failure.code
    if code in ("ExpiredToken", "ExpiredTokenException"):
        return "the credentials expired", "get fresh credentials (`aws sso login`, a new runner job) and run again"
    if code in ("InvalidClientTokenId", "SignatureDoesNotMatch", "UnrecognizedClientException"):
        return "AWS does not know these keys (deleted, mistyped, or a secret that does not match)", "use valid keys"
    if code == "RegionDisabledException":
        return (
            f"STS is not active in {target.region} for this account",
            "activate the region's STS endpoint (IAM > Account settings), or set another region",
        )
    if code in ("EndpointConnectionError", "ConnectTimeoutError", "ReadTimeoutError"):
        return f"no network path to AWS ({failure.message})", "check the network, proxy or VPC endpoints"
    if code in ("Throttling", "ThrottlingException", "RequestLimitExceeded"):
        return "AWS throttled the call", "run the doctor again in a minute"
    return f"AWS answered {code}: {failure.message}", "read AWS's message: it names the denied action and resource"


def _failed(title: str, detail: str, cause: str, fix: str) -> Check:
    return Check(title, "fail", detail, cause, fix)


def credentials_check(credentials: Credentials, target: Target) -> Check:
    where = f"profile '{credentials.profile}'" if credentials.profile else "no profile"
    problem = credentials.problem
    if problem is not None and problem.code == "ProfileNotFound":
        return _failed(
            "credentials",
            f"profile '{credentials.profile}' not found",
            f"{credentials.config_file} (AWS_CONFIG_FILE) and the credentials file have no [profile "
            f"{credentials.profile}]; --profile or AWS_PROFILE names it",
            "check the name (`aws configure list-profiles`), or paste "
            f"`pulumi stack output aws_config_snippet --stack {target.shared_stack}` into {credentials.config_file}",
        )
    if problem is not None:
        return _failed("credentials", f"{where}: {problem.code}", problem.message, "correct the profile it names")
    if credentials.method is None:
        return _failed(
            "credentials",
            "none found",
            "botocore found no profile, no environment keys, no web identity token and no instance profile",
            f"`aws sso login --sso-session {target.sso_session_name}` and pass --profile <your SSO profile> "
            f"(`pulumi stack output aws_config_snippet --stack {target.shared_stack}` has one), or run on a runner "
            f"launched with instance profile {target.instance_profile_name}",
        )
    method = METHODS.get(credentials.method, credentials.method)
    return Check("credentials", "ok", f"{where}, {method}" if credentials.profile else method)


def sso_token_check(whoami: str | Failure, sso_login: str) -> Check:
    if isinstance(whoami, Failure) and whoami.code in SSO_TOKEN_ERRORS:
        return _failed(
            "SSO token",
            SSO_TOKEN_ERRORS[whoami.code],
            f"botocore: {whoami.message}",
            f"`aws sso login {sso_login}`",
        )
    if isinstance(whoami, Failure) and whoami.code != "ForbiddenException":
        # The token may be fine: the failure is elsewhere, and the identity check names it.
        return Check("SSO token", "skip", f"not checked ({whoami.code})")
    return Check("SSO token", "ok", f"accepted (`aws sso login {sso_login}` renews it)")


def whoami_check(whoami: str | Failure, credentials: Credentials, target: Target) -> Check:
    if not isinstance(whoami, Failure):
        identity = identify(whoami, credentials.method, target)
        return Check("who am I", "ok", f"{whoami} ({describe(identity, credentials.method)})")
    if whoami.code in SSO_TOKEN_ERRORS:
        return Check("who am I", "skip", "not checked: no valid SSO token")
    if whoami.code in ("ForbiddenException", "UnauthorizedException"):
        return _failed(
            "who am I",
            f"Identity Center refused the role credentials ({whoami.code})",
            "your Identity Center user has no assignment of the profile's sso_role_name in its sso_account_id",
            "pick an assigned account and permission set in the profile (the AWS access portal lists them)",
        )
    if credentials.method == "assume-role-with-web-identity":
        return _failed(
            "who am I",
            f"STS refused the web identity token ({whoami.code})",
            f"{whoami.message}: the role's trust does not admit this token (OIDC provider, aud or sub), or the "
            "token file is stale",
            "check the role in AWS_ROLE_ARN trusts the CI's OIDC provider for this repository and ref",
        )
    cause, fix = _common(whoami, target)
    return _failed("who am I", f"GetCallerIdentity failed ({whoami.code})", cause, fix)


def region_check(credentials: Credentials, target: Target) -> Check:
    if credentials.region == target.region:
        return Check("region", "ok", f"{target.region} ({credentials.region_source}), as iam-federation:region")
    fix = f"set `region = {target.region}` in the profile, or export AWS_REGION={target.region}"
    if credentials.region is None:
        return _failed(
            "region",
            "not set for this session",
            "no region in the profile, AWS_REGION or AWS_DEFAULT_REGION: tools without a region of their own fail "
            "or guess",
            fix,
        )
    return _failed(
        "region",
        f"{credentials.region} from {credentials.region_source}, but the stack's is {target.region}",
        f"{credentials.region_source} differs from iam-federation:region: calls without an explicit region "
        f"(AWS CLI, SDKs) go to {credentials.region}, where the backend is not",
        fix,
    )


def _principal_listed(identity: Identity, arns: tuple[str, ...]) -> bool:
    kind = "user" if identity.kind == Kind.USER else "role"
    return any(
        arn.split(":")[4] == identity.account and f":{kind}/" in arn and arn.rsplit("/", 1)[-1] == identity.name
        for arn in arns
    )


def assumer_denied(identity: Identity, target: Target) -> tuple[str, str]:
    """Likely cause and fix when AssumeRole of the assumer is denied, by who asked."""
    up = _up(target.shared_stack)
    drift = f"`pulumi preview --stack {target.shared_stack}` shows drift of the assumer's trust; {up} restores it"
    if identity.kind == Kind.SSO:
        permission_set = identity.permission_set
        trusted = ", ".join(target.permission_sets) or "none"
        if identity.account != target.sso_account_id:
            return (
                f"the SSO role is in account {identity.account}, but the assumer trusts SSO roles of "
                f"iam-federation:sso.account_id = {target.sso_account_id} only",
                f"use a profile with sso_account_id = {target.sso_account_id}, or correct "
                f"iam-federation:sso.account_id and run {up}",
            )
        if permission_set not in target.permission_sets:
            return (
                f"permission set {permission_set} is not in iam-federation:sso.permission_sets ({trusted})",
                f"use a profile whose sso_role_name is one of them, or add {permission_set} to "
                f"iam-federation:sso.permission_sets and run {up}",
            )
        return (
            f"permission set {permission_set} is in iam-federation:sso.permission_sets, so the assumer's trust was "
            "changed outside Pulumi (or is not deployed yet), or the permission set's policy or an SCP denies "
            "sts:AssumeRole on the assumer",
            drift,
        )
    if identity.kind in (Kind.DOER, Kind.STATE_MGMT):
        return (
            f"this is {describe(identity, None)}: the chain runs the other way (the assumer assumes doers and "
            "state-mgmt)",
            "run the doctor with the credentials Terraform starts from: an SSO profile or the runner's instance "
            "profile",
        )
    if identity.kind == Kind.ROOT:
        return "the assumer trusts no root user", "use an SSO profile (and delete root access keys)"
    what = describe(identity, None)
    if identity.kind == Kind.INSTANCE and not _principal_listed(identity, target.extra_trusted_arns):
        return (
            f"this runner's {what} is not the assumer ({target.assumer_name}) and not in "
            "iam-federation:ci.extra_trusted_principal_arns",
            f"launch the runner with instance profile {target.instance_profile_name}, or add the role's ARN to "
            f"iam-federation:ci.extra_trusted_principal_arns and run {up}",
        )
    if _principal_listed(identity, target.extra_trusted_arns):
        return (
            f"{what} is in iam-federation:ci.extra_trusted_principal_arns, so the assumer's trust was changed outside "
            f"Pulumi (or is not deployed yet), or {what}'s own policy does not allow sts:AssumeRole on the assumer",
            drift,
        )
    return (
        f"{what} is not in iam-federation:ci.extra_trusted_principal_arns",
        f"add its ARN to iam-federation:ci.extra_trusted_principal_arns and run {up}; its own policy must allow "
        f"sts:AssumeRole on {target.assumer_arn}",
    )


def assumer_check(identity: Identity, result: object, target: Target) -> Check:
    if not isinstance(result, Failure):
        return Check("assumer", "ok", target.assumer_arn)
    detail = f"AssumeRole {target.assumer_arn} failed ({result.code})"
    cause, fix = assumer_denied(identity, target) if result.code == "AccessDenied" else _common(result, target)
    return _failed("assumer", detail, cause, fix)


def doer_checks(target: Target, results: Mapping[str, object]) -> list[Check]:
    """One check per account. AWS answers AccessDenied both for a doer that does not exist and for one whose trust
    refuses the assumer, so the other accounts' answers tell the likelier cause apart."""
    reached = sum(1 for result in results.values() if not isinstance(result, Failure))
    checks = []
    for account in target.accounts:
        result = results[account.name]
        title = f"doer of {account.name} ({account.id})"
        if not isinstance(result, Failure):
            checks.append(Check(title, "ok", account.doer_arn))
            continue
        detail = f"AssumeRole {account.doer_arn} failed ({result.code})"
        if result.code != "AccessDenied":
            checks.append(_failed(title, detail, *_common(result, target)))
        elif reached:
            checks.append(
                _failed(
                    title,
                    detail,
                    f"the assumer reaches {reached} other doer(s), so this one is missing or refuses it: the account "
                    "is not deployed yet (AWS says AccessDenied for a role that does not exist), its doer's trust was "
                    f"changed outside Pulumi, or the account is not in organization {target.organization_id}",
                    f"account not deployed yet: run {_up(account.stack)}; if it is, "
                    f"`pulumi preview --stack {account.stack}` shows the drift",
                )
            )
        else:
            checks.append(
                _failed(
                    title,
                    detail,
                    "no doer accepted the assumer: the stack is not deployed yet, or the assumer's policy (or an SCP) "
                    f"denies sts:AssumeRole on {target.doer_name}, or the accounts are not in organization "
                    f"{target.organization_id} (the assumer reaches doers only there)",
                    f"account not deployed yet: run {_up(account.stack)}; if it is, "
                    f"`pulumi preview --stack {target.shared_stack}` shows drift of the assumer's policy",
                )
            )
    return checks


def state_mgmt_check(target: Target, account: AccountTarget, result: object) -> Check:
    via = "the doer" if target.state_from_doer else "the assumer"
    title = f"state-mgmt for {account.name}"
    if not isinstance(result, Failure):
        return Check(title, "ok", f"assumed from {via} with {STATE_TAG}={account.id}")
    detail = f"AssumeRole {target.state_mgmt_arn} with {STATE_TAG}={account.id} from {via} failed ({result.code})"
    if result.code != "AccessDenied":
        return _failed(title, detail, *_common(result, target))
    doer_policy = (
        ", or the doer's state-mgmt-access policy denies it (deployed with state_mgmt_trusts_doers: false)"
        if target.state_from_doer
        else ""
    )
    return _failed(
        title,
        detail,
        f"the session tag {STATE_TAG} is missing or not your account (a doer may tag only its own account id), or "
        f"the deployed state-mgmt trust predates tagged sessions{doer_policy}",
        f"`pulumi preview --stack {target.shared_stack}` shows the drift and {_up(target.shared_stack)} fixes it; "
        f'Terraform\'s backend must pass assume_role {{ tags = {{ {STATE_TAG} = "{account.id}" }} }}',
    )


def prefix_check(target: Target, account: AccountTarget, result: int | Failure) -> Check:
    title = f"state prefix of {account.name}"
    where = f"s3://{target.bucket}/{account.id}/"
    if not isinstance(result, Failure):
        return Check(title, "ok", f"{where} listed ({'state found' if result else 'empty: no state yet'})")
    detail = f"ListObjectsV2 {where} failed ({result.code})"
    if result.code == "NoSuchBucket":
        return _failed(
            title,
            detail,
            f"bucket {target.bucket} does not exist: the shared stack is not deployed, or "
            "iam-federation:state_backend.bucket_name differs from the deployed bucket",
            f"run {_up(target.shared_stack)}, or correct iam-federation:state_backend.bucket_name",
        )
    if result.code == "AccessDenied":
        return _failed(
            title,
            detail,
            f"state-mgmt tagged {STATE_TAG}={account.id} may not list {account.id}/: its policy or the bucket policy "
            "does not grant s3:ListBucket on that prefix for this tag (a backend deployed before per-account keys)",
            f"{_up(target.shared_stack)}; `pulumi preview --stack {target.shared_stack}` then shows no drift",
        )
    return _failed(title, detail, *_common(result, target))


def lock_check(target: Target, account: AccountTarget, result: bool | Failure) -> Check:
    title = f"lock table for {account.name}"
    probe = lock_probe_id(target, account)
    if not isinstance(result, Failure):
        found = "an item exists (left by someone else?)" if result else "no item, as expected"
        return Check(title, "ok", f"read LockID {probe} of {target.lock_table} ({found})")
    detail = f"GetItem {target.lock_table} LockID {probe} failed ({result.code})"
    if result.code == "ResourceNotFoundException":
        return _failed(
            title,
            detail,
            f"table {target.lock_table} does not exist in {target.backend_region}: the shared stack is not deployed, "
            "or iam-federation:state_backend.lock_table_name differs from the deployed table",
            f"run {_up(target.shared_stack)}, or correct iam-federation:state_backend.lock_table_name",
        )
    if result.code in ("AccessDeniedException", "AccessDenied"):
        return _failed(
            title,
            detail,
            f"state-mgmt tagged {STATE_TAG}={account.id} may not read lock items under {target.bucket}/{account.id}/: "
            "its policy or the lock table's resource policy does not admit that LockID for this tag",
            f"{_up(target.shared_stack)}; `pulumi preview --stack {target.shared_stack}` then shows no drift",
        )
    return _failed(title, detail, *_common(result, target))


# --- the walk ------------------------------------------------------------------------------------------------


def run_checks(target: Target, aws: Aws[S]) -> list[Check]:
    """Walk the chain from the credentials botocore finds; a step that cannot run is one skipped line."""
    credentials, session = aws.credentials()
    checks = [credentials_check(credentials, target)]
    if session is None:
        return checks
    whoami = aws.whoami(session)
    sso_login = sso_login_of(credentials.profile, credentials.profiles)
    if sso_login is not None:
        checks.append(sso_token_check(whoami, sso_login))
    checks.append(whoami_check(whoami, credentials, target))
    checks.append(region_check(credentials, target))
    chain = f"assumer, {len(target.accounts)} doer(s), state"
    if isinstance(whoami, Failure):
        return [*checks, Check(chain, "skip", "not checked: no identity")]

    identity = identify(whoami, credentials.method, target)
    name = doctor_session_name(identity)
    assumer: S | Failure
    if identity.kind == Kind.ASSUMER:
        assumer = session
        checks.append(Check("assumer", "ok", f"already the assumer ({target.assumer_arn})"))
    else:
        assumer = aws.assume(session, target.assumer_arn, name, {})
        checks.append(assumer_check(identity, assumer, target))
    if isinstance(assumer, Failure):
        return [*checks, Check(f"{len(target.accounts)} doer(s) and state", "skip", "not checked: no assumer session")]

    doers = {a.name: aws.assume(assumer, a.doer_arn, name, {}) for a in target.accounts}
    checks += doer_checks(target, doers)
    for account in target.accounts:
        source = doers[account.name] if target.state_from_doer else assumer
        if isinstance(source, Failure):
            checks.append(Check(f"state of {account.name}", "skip", "not checked: no doer session"))
            continue
        state_mgmt = aws.assume(source, target.state_mgmt_arn, name, {STATE_TAG: account.id})
        checks.append(state_mgmt_check(target, account, state_mgmt))
        if isinstance(state_mgmt, Failure):
            checks.append(Check(f"state prefix and lock of {account.name}", "skip", "not checked: no state-mgmt"))
            continue
        prefix = f"{account.id}/"
        checks.append(
            prefix_check(target, account, aws.list_prefix(state_mgmt, target.backend_region, target.bucket, prefix))
        )
        lock = aws.read_lock(state_mgmt, target.backend_region, target.lock_table, lock_probe_id(target, account))
        checks.append(lock_check(target, account, lock))
    return checks


MARKS: dict[Status, str] = {"ok": "✓", "fail": "✗", "skip": "-"}


def _one_line(text: str) -> str:
    # AWS's messages may span lines (an XML error body); the checklist keeps one line per item.
    return " ".join(text.split())


def render(checks: list[Check]) -> str:
    """One line per check; the cause and the fix indented under a failure."""
    lines = []
    for check in checks:
        lines.append(f"{MARKS[check.status]} {check.title}" + (f": {_one_line(check.detail)}" if check.detail else ""))
        if check.status == "fail":
            lines += [f"    cause: {_one_line(check.cause)}", f"    fix: {_one_line(check.fix)}"]
    failed = sum(check.status == "fail" for check in checks)
    lines.append(f"FAILED: {failed} of {len(checks)} checks" if failed else f"OK: all {len(checks)} checks passed")
    return "\n".join(lines)


def exit_code(checks: list[Check]) -> int:
    return 1 if any(check.status == "fail" for check in checks) else 0
