"""Stack configuration: the pydantic models and the one loader.

Every key of the ``iam-federation:`` config namespace is validated here, before the program registers a single
resource. Errors name the config key path and the bad value, one line per problem.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

NAMESPACE = "iam-federation"

# AWS limits (IAM quotas page). Kept here so the checks and the docs quote one number.
ROLE_NAME_MAX = 64
ROLE_PATH_MAX = 512
SESSION_MIN_SECONDS = 3600
SESSION_MAX_SECONDS = 43200
MANAGED_POLICIES_PER_ROLE = 10
TRUST_POLICY_DEFAULT_MAX = 2048
# One provider plugin process per account, about 170-430 MB each: 40 fit a 16 GB runner with room to spare.
DEFAULT_MAX_ACCOUNTS_PER_STACK = 40
INLINE_POLICIES_PER_ROLE_MAX = 10240
BUCKET_POLICY_MAX = 20480
DYNAMODB_RESOURCE_POLICY_MAX = 20480
KMS_KEY_POLICY_MAX = 32768
# An SSO role is AWSReservedSSO_<permission set>_<16 characters>, and a role name is at most 64 characters.
PERMISSION_SET_NAME_MAX = 32

_ROLE_NAME_RE = re.compile(r"^[\w+=,.@-]{1,64}$")
_ROLE_PATH_RE = re.compile(r"^/(?:[\w+=,.@-]+/)*$")
_SESSION_NAME_RE = re.compile(r"^[\w+=,.@-]{2,64}$")
_ACCOUNT_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$")
_ORG_ID_RE = re.compile(r"^o-[a-z0-9]{10,32}$")
# Regions of the `aws` partition only: every ARN the program writes says arn:aws:, so a GovCloud, China or ISO
# region would get policies naming principals that cannot exist there.
_REGION_RE = re.compile(r"^(?!cn-)[a-z]{2}-[a-z]+-\d$")
_POLICY_ARN_RE = re.compile(r"^arn:aws(?:-[a-z]+)*:iam::(?:aws|\d{12}):policy/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,128}$")
_PRINCIPAL_ARN_RE = re.compile(r"^arn:aws(?:-[a-z]+)*:iam::\d{12}:(?:role|user)/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$")
_PERMISSION_SET_RE = re.compile(rf"^[\w+=,.@-]{{1,{PERMISSION_SET_NAME_MAX}}}$")
_BUCKET_RE = re.compile(r"^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_TABLE_RE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
_TAG_KEY_RE = re.compile(r"^(?!aws:)[\w .:/=+@-]{1,128}$")


class ConfigError(Exception):
    """Bad stack configuration: one line per problem, each naming the config key and its value."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid stack configuration:\n" + "\n".join(f"  - {p}" for p in problems))


def _matching(pattern: re.Pattern[str], what: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"must be {what}")
        return value

    return AfterValidator(check)


def _no_numbers(value: Any) -> Any:
    # YAML reads an unquoted 012345678901 as a number and drops the leading zero: refuse rather than guess.
    if isinstance(value, (bool, int | float)):
        raise ValueError("must be a quoted string (an unquoted YAML number loses leading zeros)")
    return value


_Str = Annotated[str, BeforeValidator(_no_numbers), Field(strict=True)]
AccountId = Annotated[_Str, _matching(re.compile(r"^\d{12}$"), "exactly 12 digits")]
AccountName = Annotated[
    _Str, _matching(_ACCOUNT_NAME_RE, "2-32 characters of a-z, 0-9 and '-', starting with a letter")
]
RoleName = Annotated[_Str, _matching(_ROLE_NAME_RE, "an IAM role name: 1-64 characters of [A-Za-z0-9_+=,.@-]")]
RolePath = Annotated[
    _Str,
    _matching(_ROLE_PATH_RE, "an IAM path: '/' or '/segment/.../' of [A-Za-z0-9_+=,.@-]"),
    Field(max_length=ROLE_PATH_MAX),
]
SessionName = Annotated[_Str, _matching(_SESSION_NAME_RE, "a role session name: 2-64 characters of [\\w+=,.@-]")]
PolicyArn = Annotated[_Str, _matching(_POLICY_ARN_RE, "an IAM policy ARN (arn:aws:iam::<aws|account id>:policy/...)")]
PrincipalArn = Annotated[
    _Str, _matching(_PRINCIPAL_ARN_RE, "an IAM role or user ARN (arn:aws:iam::<account id>:role/...)")
]
PermissionSetName = Annotated[
    _Str, _matching(_PERMISSION_SET_RE, "a permission set name: 1-32 characters of [\\w+=,.@-]")
]
Region = Annotated[
    _Str,
    _matching(_REGION_RE, "an AWS region of the aws partition such as us-east-1 (not GovCloud, China or ISO)"),
]
SessionSeconds = Annotated[int, Field(ge=SESSION_MIN_SECONDS, le=SESSION_MAX_SECONDS)]


Tags = dict[
    Annotated[str, _matching(_TAG_KEY_RE, "a tag key not starting with aws:")],
    Annotated[str, Field(max_length=256)],
]


class _Model(BaseModel):
    # Unknown keys are typos until proven otherwise. defer_build: a stack validates one top-level model, so build
    # validators when it does, not for every model at import (a fixed cost in every `pulumi up`).
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Account(_Model):
    """An AWS account by a stable name (used in resource names and outputs) and its 12-digit id."""

    name: AccountName = Field(description="Stable short name; resources and outputs are keyed by it.")
    id: AccountId = Field(description="12-digit AWS account id.")
    retain_on_delete: bool = Field(
        False, description="Keep this account's doer in AWS when it leaves this stack (moving it to another stack)."
    )


def _check_switch_role(path: str, name: str) -> None:
    # The console's switch-role form takes path + name together, within 64 characters.
    if len(path.strip("/")) + len(name) + (1 if path != "/" else 0) > ROLE_NAME_MAX:
        raise ValueError(f"path {path!r} plus name {name!r} exceed {ROLE_NAME_MAX} characters (console switch-role)")


class RoleSettings(_Model):
    """Name, path and session length of one of the program's roles."""

    name: RoleName
    path: RolePath = "/"
    max_session_duration: SessionSeconds = Field(
        SESSION_MIN_SECONDS, description="Seconds; a chained session (assumer -> doer) is capped at 3600 by AWS."
    )

    @model_validator(mode="after")
    def _path_and_name_fit_switch_role(self) -> RoleSettings:
        _check_switch_role(self.path, self.name)
        return self


class DoerPolicies(_Model):
    """What the doer may do and for how long: the part of the doer a member stack may set for its accounts."""

    max_session_duration: SessionSeconds = SESSION_MIN_SECONDS
    managed_policy_arns: dict[
        Annotated[str, _matching(re.compile(r"^[a-z][a-z0-9-]{0,62}$"), "a lower-case key (a-z, 0-9, '-')")],
        PolicyArn,
    ] = Field(
        default_factory=lambda: {"admin": "arn:aws:iam::aws:policy/AdministratorAccess"},
        description="Stable key -> policy ARN; the key names the attachment resource.",
    )
    permissions_boundary_arn: PolicyArn | None = None

    @model_validator(mode="after")
    def _policy_count(self) -> DoerPolicies:
        if len(self.managed_policy_arns) > MANAGED_POLICIES_PER_ROLE:
            raise ValueError(
                f"managed_policy_arns has {len(self.managed_policy_arns)} entries; "
                f"IAM allows {MANAGED_POLICIES_PER_ROLE} per role by default"
            )
        return self


class DoerSettings(DoerPolicies):
    """The doer role created in every account; the managed policies decide what Terraform may do there."""

    name: RoleName = "infrastructure-doer-role"
    path: RolePath = "/"

    @model_validator(mode="after")
    def _path_and_name_fit_switch_role(self) -> DoerSettings:
        _check_switch_role(self.path, self.name)
        return self


class AssumerSettings(RoleSettings):
    name: RoleName = "infrastructure-assumer-role"


class StateMgmtSettings(RoleSettings):
    name: RoleName = "state-mgmt-role"


class Roles(_Model):
    assumer: AssumerSettings = Field(default_factory=AssumerSettings)
    doer: DoerSettings = Field(default_factory=DoerSettings)
    state_mgmt: StateMgmtSettings = Field(default_factory=StateMgmtSettings)


class SsoSettings(_Model):
    """Which IAM Identity Center permission sets may assume the assumer role (the break-glass path)."""

    account_id: AccountId | None = Field(
        None, description="Account whose AWSReservedSSO_* roles are trusted; defaults to the shared account."
    )
    permission_sets: list[PermissionSetName] = Field(default_factory=list, max_length=20)
    start_url: Annotated[_Str, _matching(re.compile(r"^https://[\w.-]+(?:/[\w./-]*)?$"), "an https URL")] = (
        "https://example.awsapps.com/start"
    )
    region: Region | None = Field(None, description="Identity Center's region; defaults to the stack's region.")
    session_name: Annotated[_Str, _matching(re.compile(r"^[\w-]{1,64}$"), "a word")] = "sso"
    account_name: AccountName | None = Field(
        None,
        description="Name of the SSO account in the ~/.aws/config profile names; defaults to the listed account "
        "with that id, else 'sso'.",
    )


class CiSettings(_Model):
    """The CI side: the instance profile of the self-hosted runners and extra trusted principals."""

    instance_profile_name: RoleName = "infrastructure-assumer"
    extra_trusted_principal_arns: list[PrincipalArn] = Field(default_factory=list, max_length=20)


class ProviderSettings(_Model):
    """How each account's provider gets credentials in that account."""

    mode: Literal["bootstrap", "doer"] = Field(
        "bootstrap",
        description="bootstrap: assume bootstrap_role_name (first run, management credentials); "
        "doer: assume the account's doer role (CI and workstations, assumer credentials).",
    )
    bootstrap_role_name: RoleName = "OrganizationAccountAccessRole"
    session_name: SessionName = "iam-federation-pulumi"


class KmsSettings(_Model):
    """Optional customer managed key for the state bucket and the lock table (CKV_AWS_145, CKV_AWS_119)."""

    enabled: bool = False
    key_admin_arns: list[PrincipalArn] = Field(
        default_factory=list,
        max_length=10,
        description="Who may administer the key besides the roles Pulumi runs as (bootstrap role, shared doer).",
    )
    deletion_window_days: Annotated[int, Field(ge=7, le=30)] = 30


class AccessLoggingSettings(_Model):
    """Server access logging of the state bucket to a bucket you already run for logs (CKV_AWS_18)."""

    target_bucket: Annotated[_Str, _matching(_BUCKET_RE, "an S3 bucket name (3-63 of a-z, 0-9, '.', '-')")]
    target_prefix: Annotated[_Str, _matching(re.compile(r"^[\w!.*'()/-]{0,512}$"), "an S3 key prefix")] = (
        "terraform-state/"
    )


class StateBackendSettings(_Model):
    """The central Terraform state backend in the shared account."""

    bucket_name: Annotated[_Str, _matching(_BUCKET_RE, "an S3 bucket name (3-63 of a-z, 0-9, '.', '-')")] | None = None
    lock_table_name: Annotated[_Str, _matching(_TABLE_RE, "a DynamoDB table name (3-255 of [A-Za-z0-9_.-])")] | None = (
        None
    )
    noncurrent_version_expiration_days: Annotated[int, Field(ge=1, le=3650)] = 90
    protect: bool = Field(True, description="Pulumi protect + retain-on-delete on the bucket and the table.")
    kms: KmsSettings = Field(default_factory=KmsSettings)
    access_logging: AccessLoggingSettings | None = None
    state_mgmt_trusts_doers: bool = Field(
        True,
        description="Let doer sessions assume state-mgmt (Terragrunt iam_role chain); false: only the assumer.",
    )
    terragrunt_lock: Literal["lockfile", "dynamodb", "both"] = Field(
        "lockfile",
        description="State locking in the generated root.hcl: lockfile (S3-native use_lockfile, Terraform/OpenTofu "
        ">= 1.10), dynamodb (the lock table; deprecated since Terraform 1.11), both (while migrating).",
    )


class StackSettings(_Model):
    """Which part of the federation this stack holds, for organizations split over several stacks."""

    kind: Literal["complete", "shared", "member"] = Field(
        "complete",
        description="complete: everything in one stack; shared: assumer, shared doer and backend; "
        "member: the doers of some application accounts, reading the shared stack's outputs.",
    )
    shared_stack: (
        Annotated[
            _Str, _matching(re.compile(r"^[\w.-]+(?:/[\w.-]+){0,2}$"), "a stack name such as org/iam-federation/shared")
        ]
        | None
    ) = Field(None, description="Member stacks: the shared stack's fully qualified name, for a StackReference.")
    max_accounts: Annotated[int, Field(ge=1, le=2000)] = Field(
        DEFAULT_MAX_ACCOUNTS_PER_STACK,
        description="Accounts (providers) one stack may hold; the engine runs one provider process per account.",
    )

    @model_validator(mode="after")
    def _member_names_its_shared_stack(self) -> StackSettings:
        if self.kind == "member" and not self.shared_stack:
            raise ValueError("shared_stack: a member stack must name the shared stack it reads")
        if self.kind != "member" and self.shared_stack:
            raise ValueError(f"shared_stack = {self.shared_stack!r}: only member stacks read a shared stack")
        return self


def _duplicate_accounts(accounts: list[Account], shared: Account | None = None) -> list[str]:
    """One line per account whose name or id is already taken (by an earlier entry, or by the shared account)."""
    problems: list[str] = []
    seen_names = {shared.name: "shared_account.name"} if shared else {}
    seen_ids = {shared.id: "shared_account.id"} if shared else {}
    for i, account in enumerate(accounts):
        if shared is not None and account.id == shared.id:
            problems.append(f"accounts[{i}].id = {account.id!r}: is the shared account, not an application account")
        elif account.id in seen_ids:
            problems.append(f"accounts[{i}].id = {account.id!r}: duplicate of {seen_ids[account.id]}")
        if account.name in seen_names:
            problems.append(f"accounts[{i}].name = {account.name!r}: duplicate of {seen_names[account.name]}")
        seen_ids.setdefault(account.id, f"accounts[{i}].id")
        seen_names.setdefault(account.name, f"accounts[{i}].name")
    return problems


def _stack_size_problems(stack: StackSettings, providers: int) -> list[str]:
    if providers <= stack.max_accounts:
        return []
    return [
        f"accounts: this stack would hold {providers} account providers, more than "
        f"stack.max_accounts = {stack.max_accounts}; each is a provider process of about 170-430 MB in the "
        "engine. Split the accounts over member stacks (README, 'Scale'), or raise stack.max_accounts."
    ]


class LimitSettings(_Model):
    """IAM quotas the generated documents must fit; the trust policy quota can be raised in Service Quotas."""

    trust_policy_max_chars: Annotated[int, Field(ge=2048, le=4096)] = Field(
        TRUST_POLICY_DEFAULT_MAX, description="Role trust policy length quota (whitespace not counted)."
    )


class FederationConfig(_Model):
    """The whole stack configuration (config namespace ``iam-federation``)."""

    stack: StackSettings = Field(default_factory=StackSettings)
    organization_id: Annotated[_Str, _matching(_ORG_ID_RE, "an AWS Organizations id such as o-a1b2c3d4e5")]
    region: Region
    shared_account: Account
    accounts: list[Account] = Field(default_factory=list, max_length=5000)
    roles: Roles = Field(default_factory=Roles)
    sso: SsoSettings = Field(default_factory=SsoSettings)
    ci: CiSettings = Field(default_factory=CiSettings)
    providers: ProviderSettings = Field(default_factory=ProviderSettings)
    state_backend: StateBackendSettings = Field(default_factory=StateBackendSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    tags: Tags = Field(default_factory=dict, max_length=40)

    @model_validator(mode="after")
    def _accounts_are_distinct(self) -> FederationConfig:
        problems = _duplicate_accounts(self.accounts, self.shared_account)
        roles: dict[str, RoleSettings | DoerSettings] = {
            "assumer": self.roles.assumer,
            "doer": self.roles.doer,
            "state_mgmt": self.roles.state_mgmt,
        }
        by_name: dict[str, str] = {}
        for key, role in roles.items():
            if role.name in by_name:
                problems.append(f"roles.{key}.name = {role.name!r}: same name as roles.{by_name[role.name]}.name")
            by_name[role.name] = key
        if self.providers.mode == "bootstrap" and self.providers.bootstrap_role_name in by_name:
            problems.append(
                f"providers.bootstrap_role_name = {self.providers.bootstrap_role_name!r}: "
                "must differ from the roles this program creates"
            )
        if self.stack.kind == "member":
            problems.append(
                "stack.kind = 'member': a member stack holds only stack, region, accounts, roles.doer, "
                "providers and tags"
            )
        if self.stack.kind == "shared" and self.accounts:
            problems.append(
                f"accounts: a shared stack holds no application accounts ({len(self.accounts)} listed); "
                "put them in member stacks, or use stack.kind = 'complete'"
            )
        problems += _stack_size_problems(self.stack, len(self.all_accounts))
        if problems:
            raise ValueError("\n".join(problems))
        return self

    # Derived names, so every component and output quotes the same string.
    @property
    def sso_account_id(self) -> str:
        return self.sso.account_id or self.shared_account.id

    @property
    def sso_region(self) -> str:
        return self.sso.region or self.region

    @property
    def bucket_name(self) -> str:
        return self.state_backend.bucket_name or f"terraform-state-{self.shared_account.id}"

    @property
    def lock_table_name(self) -> str:
        return self.state_backend.lock_table_name or f"terraform-state-lock-{self.shared_account.id}"

    @property
    def all_accounts(self) -> list[Account]:
        """The shared account first, then the application accounts: every account that gets a doer."""
        return [self.shared_account, *self.accounts]


class MemberRoles(_Model):
    doer: DoerPolicies = Field(default_factory=DoerPolicies)


SHARED_ONLY_KEYS = ("organization_id", "shared_account", "sso", "ci", "state_backend", "limits")


class MemberConfig(_Model):
    """A member stack: the doer roles of some application accounts. Everything else comes from the shared stack."""

    stack: StackSettings
    region: Region
    accounts: list[Account] = Field(min_length=1, max_length=5000)
    roles: MemberRoles = Field(default_factory=MemberRoles)
    providers: ProviderSettings = Field(default_factory=ProviderSettings)
    tags: Tags = Field(default_factory=dict, max_length=40)

    @model_validator(mode="after")
    def _accounts_are_distinct(self) -> MemberConfig:
        problems = _duplicate_accounts(self.accounts)
        if self.stack.kind != "member":
            problems.append(f"stack.kind = {self.stack.kind!r}: expected 'member'")
        problems += _stack_size_problems(self.stack, len(self.accounts))
        if problems:
            raise ValueError("\n".join(problems))
        return self

    @property
    def all_accounts(self) -> list[Account]:
        return list(self.accounts)


AnyConfig = FederationConfig | MemberConfig


def _parse_value(value: Any) -> Any:
    # Pulumi hands structured values to the program as JSON text and scalars as plain strings.
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _format_loc(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _lookup(data: Any, loc: tuple[int | str, ...]) -> tuple[bool, Any]:
    for part in loc:
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return False, None
    return True, data


def _describe(error: Mapping[str, Any], data: Mapping[str, Any]) -> list[str]:
    loc = tuple(error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        return [f"{NAMESPACE}:{_format_loc(loc)}: required key is missing"]
    if error["type"] == "extra_forbidden":
        return [f"{NAMESPACE}:{_format_loc(loc)}: unknown key (check the spelling)"]
    if not loc or (error["type"] == "value_error" and "\n" in message):
        # Cross-field rules already name their keys and values, one per line.
        prefix = f"{NAMESPACE}:{_format_loc(loc)}." if loc else f"{NAMESPACE}:"
        return [prefix + line for line in message.splitlines()]
    found, value = _lookup(data, loc)
    shown = repr(value) if found else "(missing)"
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return [f"{NAMESPACE}:{_format_loc(loc)} = {shown}: {message}"]


def _is_member(data: Mapping[str, Any]) -> bool:
    stack = data.get("stack")
    return isinstance(stack, Mapping) and stack.get("kind") == "member"


def parse_config(raw: Mapping[str, Any], namespace: str = NAMESPACE) -> AnyConfig:
    """Validate every ``<namespace>:<key>`` entry of a Pulumi config map; other namespaces are ignored.

    A member stack (stack.kind: member) gets the member model. Raises ConfigError with one line per problem.
    """
    prefix = namespace + ":"
    data = {key[len(prefix) :]: _parse_value(value) for key, value in raw.items() if key.startswith(prefix)}
    model: type[FederationConfig] | type[MemberConfig] = MemberConfig if _is_member(data) else FederationConfig
    if model is MemberConfig:
        misplaced = [key for key in SHARED_ONLY_KEYS if key in data]
        if misplaced:
            raise ConfigError(
                [f"{NAMESPACE}:{key}: belongs to the shared stack, not to a member stack" for key in misplaced]
            )
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems: list[str] = []
        for error in exc.errors():
            problems.extend(_describe(error, data))
        raise ConfigError(problems) from None
