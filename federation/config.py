"""Stack configuration: the pydantic models and the one loader.

Every key of the ``iam-federation:`` config namespace is validated here, before the program registers a single
resource. Errors name the config key path and the bad value, one line per problem.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
import shlex
from collections.abc import Mapping
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from federation.aws_names import (
    AWS_PARTITION_REGIONS,
    KMS_ALIAS_SOURCE,
    OIDC_URL_MAX,
    REGIONS_SOURCE,
    S3_BUCKET_RULES_SOURCE,
    bucket_name_problem,
    kms_alias_for,
    kms_alias_problem,
    tag_text_problem,
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
SCP_MAX = 5120
# The guard's provider is aws-management (iam/providers.py, management_provider): no account may be named so.
MANAGEMENT_PROVIDER_ACCOUNT_NAME = "management"
# An SSO role is AWSReservedSSO_<permission set>_<16 characters>, and a role name is at most 64 characters.
PERMISSION_SET_NAME_MAX = 32

_ROLE_NAME_RE = re.compile(r"^[\w+=,.@-]{1,64}$", re.ASCII)
_ROLE_PATH_RE = re.compile(r"^/(?:[\w+=,.@-]+/)*$", re.ASCII)
_SESSION_NAME_RE = re.compile(r"^[\w+=,.@-]{2,64}$", re.ASCII)
_ACCOUNT_NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$", re.ASCII)
_ORG_ID_RE = re.compile(r"^o-[a-z0-9]{10,32}$", re.ASCII)
# Regions of the `aws` partition only: every ARN the program writes says arn:aws:, so a GovCloud, China or ISO
# region would get policies naming principals that cannot exist there.
_REGION_RE = re.compile(r"^(?!cn-)[a-z]{2}-[a-z]+-\d$", re.ASCII)
_POLICY_ARN_RE = re.compile(
    r"^arn:aws(?:-[a-z]+)*:iam::(?:aws|\d{12}):policy/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,128}$", re.ASCII
)
_PRINCIPAL_ARN_RE = re.compile(
    r"^arn:aws(?:-[a-z]+)*:iam::\d{12}:(?:role|user)/(?:[\w+=,.@-]+/)*[\w+=,.@-]{1,64}$", re.ASCII
)
_PERMISSION_SET_RE = re.compile(rf"^[\w+=,.@-]{{1,{PERMISSION_SET_NAME_MAX}}}$", re.ASCII)
_TABLE_RE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$", re.ASCII)
_TAG_KEY_RE = re.compile(r"^(?!aws:)[\w .:/=+@-]{1,128}$", re.ASCII)


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


# Why a key of this program cannot be a secret (`pulumi config set --secret`), for the loader and the offline plan.
NOT_SECRET = (
    "this program writes its settings in plain text into resource names, policies, tags and stack outputs, "
    "so none may be secret: set it again without --secret"
)

# The error type _describe turns into the `pulumi config set ... --type string` command that fixes the value.
_YAML_SCALAR = "yaml_scalar_not_text"


def _no_numbers(value: Any) -> Any:
    # `pulumi config set --path k 200000000001` writes a YAML number (Pulumi PR #18287 added `--type string`), and
    # YAML reads an unquoted 012345678901 as a number without its leading zero: refuse rather than guess.
    if isinstance(value, bool):
        raise PydanticCustomError(_YAML_SCALAR, "a YAML boolean where text is expected")
    if isinstance(value, int | float):
        raise PydanticCustomError(_YAML_SCALAR, "a YAML number where text is expected")
    return value


def _no_number_ids(value: Any) -> Any:
    # An account id is 12 digits: a number that lost its leading zeros gets them back in the suggested command.
    if isinstance(value, int | float) and not isinstance(value, bool) and value == int(value) and 0 <= value < 10**12:
        raise PydanticCustomError(
            _YAML_SCALAR,
            "a YAML number, which cannot keep an account id's leading zeros",
            {"text": f"{int(value):012d}"},
        )
    return value


_Str = Annotated[str, BeforeValidator(_no_numbers), Field(strict=True)]
AccountId = Annotated[
    _Str, BeforeValidator(_no_number_ids), _matching(re.compile(r"^\d{12}$", re.ASCII), "exactly 12 digits")
]
AccountName = Annotated[
    _Str, _matching(_ACCOUNT_NAME_RE, "2-32 characters of a-z, 0-9 and '-', starting with a letter")
]
# <account name>/<path>/: a prefix of state keys under an account's own prefix, never the account whole.
_READABLE_RE = re.compile(r"^[a-z][a-z0-9-]{1,31}/(?:[A-Za-z0-9_.=+-]+/)+$")


def _no_dot_segments(value: str) -> str:
    # "shared/../" or "shared/./" would name another prefix (or the account's whole state) to whoever resolves it.
    if any(segment in (".", "..") for segment in value.split("/")):
        raise ValueError("must have no '.' or '..' path segment (a key prefix is matched literally)")
    return value


ReadablePrefix = Annotated[
    _Str,
    _matching(
        _READABLE_RE,
        "<account name>/<path>/, a key prefix under one account such as 'shared/outputs/' (never an account's whole "
        "state: its runner and other modules' state holds secrets)",
    ),
    AfterValidator(_no_dot_segments),
]
RoleName = Annotated[_Str, _matching(_ROLE_NAME_RE, "an IAM role name: 1-64 characters of [A-Za-z0-9_+=,.@-] (ASCII)")]
RolePath = Annotated[
    _Str,
    _matching(_ROLE_PATH_RE, "an IAM path: '/' or '/segment/.../' of [A-Za-z0-9_+=,.@-] (ASCII)"),
    Field(max_length=ROLE_PATH_MAX),
]
SessionName = Annotated[
    _Str, _matching(_SESSION_NAME_RE, "a role session name: 2-64 characters of [A-Za-z0-9_+=,.@-] (ASCII)")
]
PolicyArn = Annotated[_Str, _matching(_POLICY_ARN_RE, "an IAM policy ARN (arn:aws:iam::<aws|account id>:policy/...)")]
PrincipalArn = Annotated[
    _Str, _matching(_PRINCIPAL_ARN_RE, "an IAM role or user ARN (arn:aws:iam::<account id>:role/...)")
]
PermissionSetName = Annotated[
    _Str, _matching(_PERMISSION_SET_RE, "a permission set name: 1-32 characters of [A-Za-z0-9_+=,.@-] (ASCII)")
]


def _in_partition(value: str) -> str:
    # A well-formed name is not a region: us-esat-1 passes the pattern and fails every call AWS gets.
    if value not in AWS_PARTITION_REGIONS:
        raise ValueError(f"not a region of the aws partition ({REGIONS_SOURCE}); e.g. us-east-1")
    return value


Region = Annotated[
    _Str,
    _matching(_REGION_RE, "an AWS region of the aws partition such as us-east-1 (not GovCloud, China or ISO)"),
    AfterValidator(_in_partition),
]
SessionSeconds = Annotated[int, Field(ge=SESSION_MIN_SECONDS, le=SESSION_MAX_SECONDS)]


def _tag_text(key: bool) -> AfterValidator:
    # The provider's default_tags go on every role, the OIDC providers, the bucket, the table and the key: IAM's tag
    # pattern is the narrowest of them (S3, DynamoDB and KMS take any text), so it decides.
    def check(value: str) -> str:
        problem = tag_text_problem(value, key=key)
        if problem:
            raise ValueError(problem)
        return value

    return AfterValidator(check)


Tags = dict[
    Annotated[str, _tag_text(key=True)],
    Annotated[str, _tag_text(key=False)],
]
# A resource's logical name as the program registers it (the last part of its URN), e.g. state-backend-bucket; * and ?
# match as in a shell (doer-*-role: every doer).
_LOGICAL_NAME_RE = re.compile(r"^[A-Za-z0-9*?][A-Za-z0-9._*?-]{0,254}$", re.ASCII)


def _distinct(values: list[str]) -> list[str]:
    duplicates = sorted({v for v in values if values.count(v) > 1})
    if duplicates:
        raise ValueError(f"listed twice: {', '.join(duplicates)}")
    return values


AcceptedReplacements = Annotated[
    list[Annotated[_Str, _matching(_LOGICAL_NAME_RE, "a resource's logical name or pattern, e.g. doer-*-role")]],
    AfterValidator(_distinct),
]


def _bucket_name(value: str) -> str:
    problem = bucket_name_problem(value)
    if problem:
        raise ValueError(f"{problem} ({S3_BUCKET_RULES_SOURCE})")
    return value


# S3's naming rules (federation/aws_names.py) include what the pattern said: 3-63 of a-z, 0-9, '.', '-'.
BucketName = Annotated[_Str, AfterValidator(_bucket_name)]


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
    bootstrap: bool = Field(
        False,
        description="providers.mode doer: this account's provider reaches providers.bootstrap_role_name through the "
        "shared account's doer, for the first `up` of a new account (or one whose doer is missing); remove it after.",
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
        Annotated[str, _matching(re.compile(r"^[a-z][a-z0-9-]{0,62}$", re.ASCII), "a lower-case key (a-z, 0-9, '-')")],
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
    start_url: Annotated[_Str, _matching(re.compile(r"^https://[\w.-]+(?:/[\w./-]*)?$", re.ASCII), "an https URL")] = (
        "https://example.awsapps.com/start"
    )
    region: Region | None = Field(None, description="Identity Center's region; defaults to the stack's region.")
    session_name: Annotated[_Str, _matching(re.compile(r"^[\w-]{1,64}$", re.ASCII), "a word")] = "sso"
    account_name: AccountName | None = Field(
        None,
        description="Name of the SSO account in the ~/.aws/config profile names; defaults to the listed account "
        "with that id, else 'sso'.",
    )


VpcId = Annotated[
    _Str, _matching(re.compile(r"^vpc-[0-9a-f]{8,17}$", re.ASCII), "a VPC id such as vpc-0a1b2c3d4e5f67890")
]


# OIDC issuers with documented subject formats. GitHub's issuer is fixed (Enterprise Cloud may add /<enterprise>,
# GitHub's "unique token URL"); GitLab's is the instance, gitlab.com unless configured.
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
GITLAB_ISSUER = "https://gitlab.com"
# configure-aws-credentials requests this audience by default (aws-actions/configure-aws-credentials action.yml).
GITHUB_AUDIENCE = "sts.amazonaws.com"
OIDC_TRUSTS_MAX = 4
OIDC_SUBJECTS_MAX = 10
_ISSUER_RE = re.compile(r"^https://[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?:/[\w.~-]+)*$", re.ASCII)
_OIDC_PROVIDER_ARN_RE = re.compile(
    r"^arn:aws:iam::\d{12}:oidc-provider/[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+(?:/[\w.~-]+)*$", re.ASCII
)
_WILDCARD = re.compile(r"[*?]", re.ASCII)
# Subjects as GitHub and GitLab document them (docs/ci.md cites both). Owner, repository, group and project never
# hold a wildcard: there a wildcard lets other repositories in. A ref or environment may hold one in plan subjects.
_GH_OWNER = r"[A-Za-z0-9][A-Za-z0-9-]{0,38}(?:@\d+)?"  # @<id>: GitHub's immutable subject claims
_GH_REPO = r"[A-Za-z0-9._-]{1,100}(?:@\d+)?"
_GITHUB_SUBJECT = re.compile(
    rf"^repo:{_GH_OWNER}/{_GH_REPO}:(?:ref:refs/heads/[^\s:]+|ref:refs/tags/[^\s:]+|environment:[^\s:]+|pull_request)$",
    re.ASCII,
)
_GL_PATH = r"[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)+"
_GITLAB_SUBJECT = re.compile(rf"^project_path:{_GL_PATH}:ref_type:(?:branch|tag):ref:[^\s:]+$", re.ASCII)
_GITHUB_FORMS = (
    "repo:<owner>/<repo>:ref:refs/heads/<branch>, repo:<owner>/<repo>:ref:refs/tags/<tag>, "
    "repo:<owner>/<repo>:environment:<environment> or repo:<owner>/<repo>:pull_request"
)
_GITLAB_FORM = "project_path:<group>/<project>:ref_type:<branch|tag>:ref:<ref>"


def _oidc_url_fits(value: str) -> str:
    if len(value) > OIDC_URL_MAX:
        raise ValueError(
            f"IAM takes an OIDC provider URL of at most {OIDC_URL_MAX} characters, not {len(value)} "
            "(iam service model, CreateOpenIDConnectProvider Url)"
        )
    return value


class OidcTrust(_Model):
    """Tokens of one OIDC issuer (a CI system) the federation trusts, by audience and subject."""

    name: Annotated[
        _Str, _matching(re.compile(r"^[a-z][a-z0-9-]{0,30}$", re.ASCII), "a lower-case key (a-z, 0-9, '-')")
    ] = Field(description="Stable key of the trust's resources and statements.")
    provider: Literal["github", "gitlab", "generic"]
    issuer_url: (
        Annotated[
            _Str,
            _matching(_ISSUER_RE, "an https URL without port, query or fragment"),
            AfterValidator(_oidc_url_fits),
        ]
        | None
    ) = Field(None, description=f"github: {GITHUB_ISSUER}; gitlab: default {GITLAB_ISSUER}; generic: required.")
    provider_arn: (
        Annotated[
            _Str, _matching(_OIDC_PROVIDER_ARN_RE, "an IAM OIDC provider ARN (arn:aws:iam::<id>:oidc-provider/..)")
        ]
        | None
    ) = Field(None, description="An existing IAM OIDC provider; none: one is created in the shared account.")
    audience: (
        Annotated[_Str, _matching(re.compile(r"^[^\s]{1,255}$", re.ASCII), "1-255 characters without spaces")] | None
    ) = Field(None, description=f"The aud the CI requests; github default {GITHUB_AUDIENCE}, else required.")
    apply_subjects: list[_Str] = Field(
        default_factory=list,
        max_length=OIDC_SUBJECTS_MAX,
        description="Exact subjects (default branch, protected environment) whose tokens may become the assumer.",
    )
    plan_subjects: list[_Str] = Field(
        default_factory=list,
        max_length=OIDC_SUBJECTS_MAX,
        description="Subjects (pull requests, any branch) whose tokens may become the plan identity.",
    )

    @property
    def issuer(self) -> str:
        if self.issuer_url:
            return self.issuer_url
        return GITHUB_ISSUER if self.provider == "github" else GITLAB_ISSUER

    @property
    def aud(self) -> str:
        return self.audience or GITHUB_AUDIENCE


def _subject_problem(provider: str, subject: str, apply: bool) -> str | None:
    """Why a subject may not be trusted, or None."""
    if provider == "generic":
        if _WILDCARD.match(subject) or len(_WILDCARD.split(subject, 1)[0]) < 2:
            return "a leading wildcard lets any subject of the issuer in; start with the fixed part of the subject"
        # Issuers put the owner (organization, project, repository) before the last ':' segment: a wildcard there
        # lets other owners in (repo:*:pull_request, organization:*:...).
        if ":" in subject and _WILDCARD.search(subject.rsplit(":", 1)[0]):
            return "a wildcard before the last ':' segment lets other owners or repositories in; name them exactly"
    else:
        pattern, forms, prefix = (
            (_GITHUB_SUBJECT, _GITHUB_FORMS, "repo:")
            if provider == "github"
            else (_GITLAB_SUBJECT, _GITLAB_FORM, "project_path:")
        )
        repository = subject.removeprefix(prefix).split(":", 1)[0] if subject.startswith(prefix) else ""
        if "/" not in repository or _WILDCARD.search(repository):
            return (
                "names no single repository: without one, or with a wildcard in it, the subject lets other "
                f"repositories of the forge in; write {forms}"
            )
        if not pattern.fullmatch(subject):
            return f"not a {provider} subject of a documented form: {forms}"
    if apply and subject.endswith(":pull_request"):
        return (
            "a pull request's token runs code nobody has reviewed; apply from a branch or protected environment "
            "(plan_subjects take pull requests)"
        )
    if apply and _WILDCARD.search(subject):
        return "apply subjects name exact refs or environments: a wildcard lets other branches apply"
    return None


# GitHub's immutable subject: repo:<owner>@<owner id>/<repo>@<repo id>:... (GitHub changelog 2026-04-23, "Immutable
# subject claims for GitHub Actions OIDC tokens"); the ids never pass to whoever takes a freed name.
_GITHUB_IMMUTABLE = re.compile(r"^repo:[^/:@]+@\d+/[^/:@]+@\d+:")


def _oidc_problems(
    trusts: list[OidcTrust], shared_account_id: str, accepted: frozenset[str] = frozenset()
) -> list[str]:
    """One line per OIDC trust setting that would admit the wrong tokens, or none at all."""
    problems: list[str] = []
    names: dict[str, int] = {}
    created: dict[str, int] = {}
    for i, trust in enumerate(trusts):
        key = f"ci.oidc[{i}]"
        if trust.name in names:
            problems.append(f"{key}.name = {trust.name!r}: same name as ci.oidc[{names[trust.name]}].name")
        names.setdefault(trust.name, i)
        issuer = trust.issuer
        github_issuer = issuer == GITHUB_ISSUER or re.fullmatch(re.escape(GITHUB_ISSUER) + r"/[\w-]+", issuer, re.ASCII)
        if trust.provider == "github" and not github_issuer:
            problems.append(
                f"{key}.issuer_url = {trust.issuer_url!r}: a github trust's issuer is {GITHUB_ISSUER} (or "
                f"{GITHUB_ISSUER}/<enterprise> with GitHub Enterprise Cloud's unique token URL); for GitHub Enterprise "
                "Server use provider: generic"
            )
        if trust.provider == "generic" and not trust.issuer_url:
            problems.append(f"{key}.issuer_url: required for provider 'generic'")
        if trust.provider == "generic" and trust.issuer_url and (github_issuer or issuer == GITLAB_ISSUER):
            problems.append(
                f"{key}.issuer_url = {trust.issuer_url!r}: GitHub's and gitlab.com's tokens take provider 'github' or "
                "'gitlab', whose repository rules a generic trust would skip"
            )
        if trust.provider != "github" and not trust.audience:
            problems.append(f"{key}.audience: required for provider {trust.provider!r} (the aud the CI job requests)")
        if trust.provider_arn:
            account, host = trust.provider_arn.split(":")[4], trust.provider_arn.split("oidc-provider/", 1)[1]
            if host != issuer.removeprefix("https://"):
                problems.append(
                    f"{key}.provider_arn = {trust.provider_arn!r}: names another issuer than {issuer}; "
                    "the token's condition keys would never match"
                )
            if account != shared_account_id:
                problems.append(
                    f"{key}.provider_arn = {trust.provider_arn!r}: a role trusts OIDC providers of its own account "
                    f"only; the assumer is in the shared account {shared_account_id}"
                )
        elif issuer in created:
            problems.append(
                f"{key}.issuer_url = {issuer!r}: ci.oidc[{created[issuer]}] creates the provider of this issuer "
                "already (IAM holds one per URL); put both in one trust or name its provider_arn"
            )
        else:
            created[issuer] = i
        if not trust.apply_subjects and not trust.plan_subjects:
            problems.append(
                f"{key}: no apply_subjects and no plan_subjects: name the repositories and refs whose tokens it admits"
            )
        for which in ("apply_subjects", "plan_subjects"):
            for j, subject in enumerate(getattr(trust, which)):
                reason = _subject_problem(trust.provider, subject, apply=which == "apply_subjects")
                mutable = trust.provider == "github" and not _GITHUB_IMMUTABLE.match(subject)
                if not reason and which == "apply_subjects" and mutable and "github-mutable-subject" not in accepted:
                    owner_repo = subject.removeprefix("repo:").split(":", 1)[0]
                    reason = (
                        f"names the repository by its mutable name: whoever takes {owner_repo!r} after a rename or "
                        "deletion becomes the assumer; write repo:<owner>@<owner id>/<repo>@<repo id>:... (the ids: "
                        "gh api repos/<owner>/<repo> --jq '.owner.id, .id'), or add 'github-mutable-subject' to "
                        "accepted_risks"
                    )
                if reason:
                    problems.append(f"{key}.{which}[{j}] = {subject!r}: {reason}")
    return problems


class CiSettings(_Model):
    """The CI side: the instance profile of the self-hosted runners, extra trusted principals, OIDC identities."""

    instance_profile_name: RoleName = "infrastructure-assumer"
    extra_trusted_principal_arns: list[PrincipalArn] = Field(default_factory=list, max_length=20)
    runner_vpc_ids: list[VpcId] = Field(
        default_factory=list,
        max_length=10,
        description="VPCs of the runners: the assumer's instance credentials work only from these, through a VPC "
        "endpoint of their own VPC (the runners need an STS interface endpoint).",
    )
    runner_tag_key: Annotated[str, _matching(_TAG_KEY_RE, "a tag key not starting with aws:")] = Field(
        "iam-federation:runner",
        description="Tag that marks the runners (instances, launch templates, groups) the organization guard protects.",
    )
    runner_tag_value: Annotated[str, Field(min_length=1, max_length=256)] = "true"
    oidc: list[OidcTrust] = Field(
        default_factory=list,
        max_length=OIDC_TRUSTS_MAX,
        description="CI systems (GitHub Actions, GitLab CI, any OIDC issuer) whose tokens may become the assumer.",
    )


class SessionSettings(_Model):
    """Whether the sessions of the doers and state-mgmt must say who started them."""

    require_source_identity: bool = Field(
        False,
        description="Doers and state-mgmt admit only sessions that set or carry a source identity (docs/sessions.md).",
    )


class ProviderSettings(_Model):
    """How each account's provider gets credentials in that account."""

    mode: Literal["bootstrap", "doer", "plan"] = Field(
        "bootstrap",
        description="bootstrap: assume bootstrap_role_name (first run, management credentials); "
        "doer: assume the account's doer role (CI and workstations, assumer credentials); "
        "plan: assume the account's plan doer, for `pulumi preview` with the plan identity (plan_path.enabled).",
    )
    bootstrap_role_name: RoleName = "OrganizationAccountAccessRole"
    session_name: SessionName = "iam-federation-pulumi"


class KmsSettings(_Model):
    """Optional customer managed key for the state bucket and the lock table (CKV_AWS_145, CKV_AWS_119)."""

    enabled: bool = False
    key_admin_arns: list[PrincipalArn] = Field(
        default_factory=list,
        max_length=10,
        description="Who may look after the key (describe, list, rotate, tag) besides the roles Pulumi runs as, which "
        "alone may disable, delete, re-grant or re-policy it.",
    )
    deletion_window_days: Annotated[int, Field(ge=7, le=30)] = 30


class AccessLoggingSettings(_Model):
    """Server access logging of the state bucket to a bucket you already run for logs (CKV_AWS_18)."""

    target_bucket: BucketName
    # S3 delivers server access logs only to a bucket in the source bucket's account and Region (S3 User Guide,
    # "Logging requests with server access logging"). The config says where the log bucket is, and the model refuses
    # another account or Region; only AWS can tell who really owns target_bucket.
    account_id: AccountId | None = Field(None, description="Account of target_bucket; defaults to the shared account.")
    region: Region | None = Field(None, description="Region of target_bucket; defaults to the stack's region.")
    target_prefix: Annotated[_Str, _matching(re.compile(r"^[\w!.*'()/-]{0,512}$", re.ASCII), "an S3 key prefix")] = (
        "terraform-state/"
    )


class StateBackendSettings(_Model):
    """The central Terraform state backend in the shared account."""

    bucket_name: BucketName | None = None
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
    isolate_accounts: bool = Field(
        True,
        description="State keys start with the account id and a state-mgmt session reaches one account's keys only. "
        "false is the legacy layout (any key, any session) and must be accepted as risk 'shared-state-sessions'.",
    )
    readable_state: list[ReadablePrefix] = Field(
        default_factory=list,
        max_length=20,
        description="State key prefixes every account may read, as <account name>/<path>/ (e.g. shared/outputs/: "
        "the shared account's units under outputs/); never an account's whole state.",
    )
    list_keys: Literal["own_prefix", "bucket"] = Field(
        "own_prefix",
        description="What a state-mgmt (or state reader) session may list: own_prefix (its account's keys only) or "
        "bucket (every key name, never a content). S3 answers a HeadObject of a missing key with 404 only to a caller "
        "allowed s3:ListBucket, and whether a prefix-scoped grant counts is undocumented: if the first "
        "`terraform init` of a new unit fails with 403 on HeadObject, set bucket (docs/terragrunt.md).",
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
            _Str,
            _matching(
                re.compile(r"^[\w.-]+(?:/[\w.-]+){0,2}$", re.ASCII), "a stack name such as org/iam-federation/shared"
            ),
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


def _guard_credentials_problems(config: FederationConfig) -> list[str]:
    """The guard's provider needs a way into the management account in the mode this run uses (docs/security.md)."""
    guard = config.organization_guard
    if not guard.enabled:
        return []
    mode = config.providers.mode
    if mode == "doer" and guard.role_name is None:
        return [
            "organization_guard.role_name: required with providers.mode = 'doer' (the assumer's credentials are "
            "refused in the management account by allowed_account_ids); name the role there that writes the guard "
            "and trusts the shared account's doer (docs/security.md, 'The organization guard from CI')"
        ]
    if mode == "plan" and guard.plan_role_name is None:
        return [
            "organization_guard.plan_role_name: required with providers.mode = 'plan' (the plan assumer may "
            "assume no write role); name the read-only role in the management account that trusts the plan assumer"
        ]
    return []


# Paths no entry of the perimeter's allow-lists may name: AWS creates the roles under them (Identity Center's
# AWSReservedSSO_* roles, service-linked roles), so a pattern there exempts roles nobody of the platform holds
# (IAM User Guide, "Using service-linked roles"; IAM Identity Center User Guide, "IAM roles created by IAM Identity
# Center").
_RESERVED_PATHS = ("/aws-reserved/", "/aws-service-role/")


def _trust_root_arn_problems(key: str, arns: list[str], shared_id: str) -> list[str]:
    """organization_guard.platform_arns and runner_launcher_arns are trust root: exact roles of the runners'
    account, never a pattern, never a role AWS creates. Launchers pass the runners' role to EC2 there, and
    iam:PassRole hands a role to a service of the caller's own account only (IAM User Guide, "Grant a user
    permissions to pass a role to an AWS service"), so they too are of the shared account."""
    problems = []
    for i, arn in enumerate(arns):
        where = f"organization_guard.{key}[{i}] = {arn!r}"
        if arn.split(":")[4] != shared_id:
            problems.append(f"{where}: not a role of the shared account ({shared_id}), where the perimeter applies")
        elif any(path in arn for path in _RESERVED_PATHS):
            problems.append(f"{where}: a role AWS creates (/aws-reserved/, /aws-service-role/) cannot be trust root")
    return problems


def _guard_placement_problems(config: FederationConfig) -> list[str]:
    """The guard binds the runners' account only where it is attached above it, and never the management account.

    An organization root (r-...) or OU (ou-...) target is assumed to contain the shared account (the program cannot
    see the organization's tree offline: docs/security.md); a list of account ids alone must name it.
    """
    guard = config.organization_guard
    if not guard.enabled:
        return []
    shared = config.shared_account.id
    problems = _trust_root_arn_problems("runner_launcher_arns", guard.runner_launcher_arns, shared)
    problems += _trust_root_arn_problems("platform_arns", guard.platform_arns, shared)
    accounts_only = all(re.fullmatch(r"\d{12}", target) for target in guard.target_ids)
    if guard.target_ids and accounts_only and shared not in guard.target_ids:
        problems.append(
            f"organization_guard.target_ids = {guard.target_ids!r}: account ids only, without the shared account "
            f"({shared}): the runners' perimeter would not bind it; add it, or attach to its OU or the root"
        )
    if config.management_account_id == shared:
        problems.append(
            f"management_account_id = {shared!r}: the shared account itself; SCPs never bind the management "
            "account, so the guard would not protect the runners' account (move them to a member account)"
        )
    return problems


def _stack_size_problems(stack: StackSettings, providers: int) -> list[str]:
    if providers <= stack.max_accounts:
        return []
    return [
        f"accounts: this stack would hold {providers} account providers, more than "
        f"stack.max_accounts = {stack.max_accounts}; each is a provider process of about 170-430 MB in the "
        "engine. Split the accounts over member stacks (README, 'Scale'), or raise stack.max_accounts."
    ]


OrgTargetId = Annotated[
    _Str,
    _matching(
        re.compile(r"^(?:r-[0-9a-z]{4,32}|ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}|\d{12})$", re.ASCII),
        "an organization root (r-...), OU (ou-...-...) or account id",
    ),
]

# The guard's allow-lists are trust root (docs/security.md): one exact role or user per entry, no wildcard.
PlatformPrincipalArn = Annotated[
    _Str,
    _matching(
        re.compile(r"^arn:aws:iam::\d{12}:(?:role|user)/[\w+=,.@/-]{1,512}$", re.ASCII),
        "an exact IAM role or user ARN of the shared account (arn:aws:iam::<id>:role/<path><name>), no wildcard: "
        "each entry exempts exactly one principal from the runners' perimeter",
    ),
]


class OrganizationGuardSettings(_Model):
    """Optional SCP protecting the federation's roles (needs the management account or a delegated administrator)."""

    enabled: bool = False
    target_ids: list[OrgTargetId] = Field(
        default_factory=list, max_length=20, description="Where the SCP is attached: the root, OUs or accounts."
    )
    runner_launcher_arns: list[PlatformPrincipalArn] = Field(
        default_factory=list,
        max_length=10,
        description="Who besides the deployers may pass the runners' role to EC2 (e.g. the runner fleet's launcher).",
    )
    platform_arns: list[PlatformPrincipalArn] = Field(
        default_factory=list,
        max_length=10,
        description="Further roles that run the runners' account (e.g. AWSControlTowerExecution): with the guard, "
        "nobody else of that account may act there (docs/security.md, the runners' account perimeter).",
    )
    role_name: RoleName | None = Field(
        None,
        description="Role in management_account_id that writes the guard. providers.mode bootstrap: assumed from the "
        "run's credentials (none: the run's own credentials); doer: reached through the shared account's doer "
        "(required). Created by the management account's administrators (docs/security.md).",
    )
    plan_role_name: RoleName | None = Field(
        None,
        description="Read-only role in management_account_id the plan assumer reaches for `pulumi preview` in "
        "providers.mode plan (required there).",
    )

    @model_validator(mode="after")
    def _targets_when_enabled(self) -> OrganizationGuardSettings:
        if self.enabled and not self.target_ids:
            raise ValueError("target_ids: name at least one root, OU or account to attach the guard to")
        return self


READ_ONLY_ACCESS = "arn:aws:iam::aws:policy/ReadOnlyAccess"
# AWS managed policies that grant reads only: the offline plan models them from their published documents. Any other
# policy on a plan doer is one the plan cannot read, so it is modelled as administrator of the doer's account.
READ_ONLY_MANAGED_POLICIES = frozenset(
    {
        READ_ONLY_ACCESS,
        "arn:aws:iam::aws:policy/job-function/ViewOnlyAccess",
        "arn:aws:iam::aws:policy/SecurityAudit",
    }
)


class PlanDoerPolicies(DoerPolicies):
    """What the plan doer may read: AWS's ReadOnlyAccess unless configured otherwise."""

    managed_policy_arns: dict[
        Annotated[str, _matching(re.compile(r"^[a-z][a-z0-9-]{0,62}$", re.ASCII), "a lower-case key (a-z, 0-9, '-')")],
        PolicyArn,
    ] = Field(
        default_factory=lambda: {"readonly": READ_ONLY_ACCESS},
        description="Stable key -> policy ARN; policies outside READ_ONLY_MANAGED_POLICIES are an accepted risk.",
    )

    def unverified_policies(self) -> list[tuple[str, str]]:
        """(key, ARN) of every policy the offline plan cannot read (and so cannot show to grant reads only)."""
        return sorted((k, arn) for k, arn in self.managed_policy_arns.items() if arn not in READ_ONLY_MANAGED_POLICIES)


class PlanDoerSettings(PlanDoerPolicies):
    """The plan doer created in every account: reads, and a way to the state reader; never a write."""

    name: RoleName = "infrastructure-plan-doer-role"
    path: RolePath = "/"

    @model_validator(mode="after")
    def _path_and_name_fit_switch_role(self) -> PlanDoerSettings:
        _check_switch_role(self.path, self.name)
        return self


class PlanAssumerSettings(RoleSettings):
    name: RoleName = "infrastructure-plan-assumer-role"


class StateReaderSettings(RoleSettings):
    name: RoleName = "state-reader-role"


class PlanPathSettings(_Model):
    """The plan path beside the apply path: a plan assumer, a plan doer per account and a read-only state reader."""

    enabled: bool = Field(False, description="Build the plan path; off, the stack is exactly as without this key.")
    permission_sets: list[PermissionSetName] = Field(
        default_factory=list,
        max_length=20,
        description="Read-only permission sets whose SSO roles may assume the plan assumer (not org admins).",
    )
    runners_account_doer: bool = Field(
        False,
        description="Build a plan doer in the runners' account (the shared account) too; off by default: a read "
        "identity there reads the runners' user data and parameters (risk 'runners-account-plan-doer').",
    )
    assumer: PlanAssumerSettings = Field(default_factory=PlanAssumerSettings)
    doer: PlanDoerSettings = Field(default_factory=PlanDoerSettings)
    state_reader: StateReaderSettings = Field(default_factory=StateReaderSettings)


class MemberPlanPath(_Model):
    """A member stack's part of the plan path: the plan doers of its accounts (the rest is the shared stack's)."""

    enabled: bool = False
    doer: PlanDoerPolicies = Field(default_factory=PlanDoerPolicies)

    def problems(self) -> list[str]:
        # A member stack takes on no risk (accepted_risks is the shared stack's): only policies the plan can read.
        return [
            f"plan_path.doer.managed_policy_arns.{key} = {arn!r}: a member stack's plan doers may carry only AWS "
            f"managed read-only policies ({', '.join(sorted(READ_ONLY_MANAGED_POLICIES))})"
            for key, arn in self.doer.unverified_policies()
        ]


# Risks a config may take on knowingly. Each widens reach beyond the promise; the plan prints it by this name.
RISKS: dict[str, str] = {
    "runners-account-plan-doer": "plan_path.runners_account_doer = true: a plan doer in the runners' account "
    "(ReadOnlyAccess) reads what AWS's read calls return there, the runners' launch data, user data and parameters "
    "among them (a runner registration token makes a pull request a runner, then the apply job)",
    "runners-account-plan-permission-set": "plan_path.permission_sets in Identity Center's account when that is the "
    "runners' (the shared account) and organization_guard is off: those read-only roles live where the runners do "
    "and read their launch data, user data and parameters (a runner registration token makes the holder a runner, "
    "then the assumer)",
    "sso-outside-trust-root": "sso.account_id names an account outside the trust root (shared, management): its "
    "IAM administrators may edit Identity Center's SAML provider there (AWSSSO_<id>_DO_NOT_DELETE), become a trusted "
    "AWSReservedSSO_ role and then the assumer, administrator of every account",
    "shared-state-sessions": "state_backend.isolate_accounts = false: a doer session (so an application account's "
    "admin) reads and writes every account's state",
    "non-admin-permission-set": "sso.permission_sets trusts a permission set made to lack IAM power; through the "
    "assumer it becomes administrator of every account",
    "extra-principal-account-admins": "ci.extra_trusted_principal_arns names a principal outside the shared and "
    "management accounts; whoever may create or edit roles there becomes it, and so administrator of every account",
    "plan-doer-unverified-policy": "plan_path.doer.managed_policy_arns names a policy the offline plan cannot read; "
    "it is modelled as administrator of the plan doer's account (IAM writes and other roles still denied by the plan "
    "doer's guard), so a plan session may write there if the policy allows it",
    "github-mutable-subject": "ci.oidc[].apply_subjects names a GitHub repository by its mutable name "
    "(repo:<owner>/<repo>:...): once the owner or the repository is renamed or deleted, whoever takes the name gets "
    "tokens with the same sub and becomes the assumer, administrator of every account",
}
RiskName = Literal[
    "runners-account-plan-doer",
    "runners-account-plan-permission-set",
    "sso-outside-trust-root",
    "shared-state-sessions",
    "non-admin-permission-set",
    "extra-principal-account-admins",
    "plan-doer-unverified-policy",
    "github-mutable-subject",
]
# Permission sets AWS (or common practice) makes to lack IAM power. Trusting one makes it an org admin.
NON_ADMIN_PERMISSION_SETS = frozenset(
    {
        "AWSPowerUserAccess",
        "AWSReadOnlyAccess",
        "AWSViewOnlyAccess",
        "ViewOnlyAccess",
        "ReadOnlyAccess",
        "PowerUserAccess",
        "AWSSecurityAudit",
        "SecurityAudit",
        "Billing",
        "AWSServiceCatalogEndUserAccess",
        "AWSOrganizationsReadOnlyAccess",
    }
)


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
    sessions: SessionSettings = Field(default_factory=SessionSettings)
    tags: Tags = Field(default_factory=dict, max_length=40)
    management_account_id: AccountId | None = Field(
        None, description="The organization's management account (where the organization guard is written)."
    )
    organization_guard: OrganizationGuardSettings = Field(default_factory=OrganizationGuardSettings)
    accepted_risks: list[RiskName] = Field(
        default_factory=list,
        description="Risks taken on knowingly (docs/security.md); each is refused otherwise.",
    )
    plan_path: PlanPathSettings = Field(default_factory=PlanPathSettings)
    accepted_replacements: AcceptedReplacements = Field(
        default_factory=list,
        description="Logical names of stateful or physically-named resources `make plan BASE=` may replace or delete.",
    )

    @model_validator(mode="after")
    def _accounts_are_distinct(self) -> FederationConfig:
        problems = _duplicate_accounts(self.accounts, self.shared_account)
        problems += self._risk_problems()
        names = {a.name for a in self.all_accounts}
        for i, prefix in enumerate(self.state_backend.readable_state):
            if prefix.split("/", 1)[0] not in names:
                problems.append(
                    f"state_backend.readable_state[{i}] = {prefix!r}: {prefix.split('/', 1)[0]!r} is not an account "
                    "of this stack"
                )
        if self.organization_guard.enabled and self.management_account_id is None:
            problems.append(
                "organization_guard.enabled = True: management_account_id is required (the guard is an SCP written "
                "in the management account or a delegated administrator account)"
            )
        problems += _guard_placement_problems(self)
        roles: dict[str, RoleSettings | DoerSettings | PlanDoerSettings] = {
            "roles.assumer": self.roles.assumer,
            "roles.doer": self.roles.doer,
            "roles.state_mgmt": self.roles.state_mgmt,
        }
        if self.plan_path.enabled:
            # The plan roles live beside the others (the plan doer beside every doer): IAM names are per account.
            plan = self.plan_path
            roles |= {
                "plan_path.assumer": plan.assumer,
                "plan_path.doer": plan.doer,
                "plan_path.state_reader": plan.state_reader,
            }
        by_name: dict[str, str] = {}
        for key, role in roles.items():
            if role.name in by_name:
                problems.append(f"{key}.name = {role.name!r}: same name as {by_name[role.name]}.name")
            by_name[role.name] = key
        problems += self._plan_path_problems()
        if self.providers.mode == "plan" and not self.plan_path.enabled:
            problems.append("providers.mode = 'plan': needs plan_path.enabled (the plan doers it assumes)")
        elif self.providers.mode == "plan" and not self.plan_path.runners_account_doer:
            # The shared account's provider would assume a plan doer that is not built there (the runners' account
            # has none by default): pulumi preview would fail configuring it.
            problems.append(
                "providers.mode = 'plan': the shared account (the runners') has no plan doer for its provider to "
                "assume; preview this stack on the apply path (providers.mode: doer, from CI's apply job), or set "
                "plan_path.runners_account_doer and accept 'runners-account-plan-doer'"
            )
        problems += _guard_credentials_problems(self)
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
        problems += _oidc_problems(self.ci.oidc, self.shared_account.id, frozenset(self.accepted_risks))
        problems += self._accepted_by_aws_problems()
        if self.sessions.require_source_identity and self.state_backend.state_mgmt_trusts_doers:
            problems.append(
                "sessions.require_source_identity = True: Terragrunt's iam_role chain "
                "(state_backend.state_mgmt_trusts_doers = True) assumes each doer without a source identity "
                "(Terragrunt has no setting for one), so every run would be refused; set "
                "state_backend.state_mgmt_trusts_doers: false, whose provider block and backend set one "
                "(docs/sessions.md)"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def _accepted_by_aws_problems(self) -> list[str]:
        """Settings each field accepts alone that AWS or the engine refuse together (issue #15, item 6)."""
        problems: list[str] = []
        if self.organization_guard.enabled:
            # The guard's provider is named aws-management and every account's is aws-<name>: a second provider of
            # that name is a duplicate URN, which the engine refuses before it creates anything. Renaming the guard's
            # provider instead would replace the provider of every stack deployed with the guard on.
            for key, account in [("shared_account", self.shared_account)] + [
                (f"accounts[{i}]", a) for i, a in enumerate(self.accounts)
            ]:
                if account.name == MANAGEMENT_PROVIDER_ACCOUNT_NAME:
                    problems.append(
                        f"{key}.name = {account.name!r}: with organization_guard.enabled the guard's provider is "
                        f"aws-{MANAGEMENT_PROVIDER_ACCOUNT_NAME}, and so would this account's (a duplicate URN the "
                        "engine refuses); name the account otherwise, e.g. 'mgmt'"
                    )
        if self.state_backend.kms.enabled:
            problem = kms_alias_problem(self.state_key_alias)
            if problem:
                problems.append(
                    f"state_backend.bucket_name = {self.bucket_name!r}: names the state key's alias "
                    f"{self.state_key_alias!r}, which KMS refuses: {problem} ({KMS_ALIAS_SOURCE})"
                )
        logging = self.state_backend.access_logging
        if logging is not None:
            if logging.account_id is not None and logging.account_id != self.shared_account.id:
                problems.append(
                    f"state_backend.access_logging.account_id = {logging.account_id!r}: S3 delivers server access "
                    f"logs only to a bucket of the source bucket's account (the shared account "
                    f"{self.shared_account.id}); S3 User Guide, Logging requests with server access logging"
                )
            if logging.region is not None and logging.region != self.region:
                problems.append(
                    f"state_backend.access_logging.region = {logging.region!r}: S3 delivers server access logs only "
                    f"to a bucket of the source bucket's Region (the stack's region {self.region}); S3 User Guide, "
                    "Logging requests with server access logging"
                )
        return problems

    def _risk_problems(self) -> list[str]:
        accepted = set(self.accepted_risks)
        problems: list[str] = []
        if not self.state_backend.isolate_accounts and "shared-state-sessions" not in accepted:
            problems.append(
                "state_backend.isolate_accounts = False: every doer session would reach every account's state; "
                "add 'shared-state-sessions' to accepted_risks to take that on knowingly"
            )
        for i, permission_set in enumerate(self.sso.permission_sets):
            if permission_set in NON_ADMIN_PERMISSION_SETS and "non-admin-permission-set" not in accepted:
                problems.append(
                    f"sso.permission_sets[{i}] = {permission_set!r}: a permission set made to lack IAM power becomes "
                    "administrator of every account through the assumer; trust admin permission sets only, or add "
                    "'non-admin-permission-set' to accepted_risks"
                )
        if self.sso_outside_trust_root and "sso-outside-trust-root" not in accepted:
            problems.append(
                f"sso.account_id = {self.sso_account_id!r}: not the shared account or management_account_id; its IAM "
                "administrators may edit Identity Center's SAML provider there and become a trusted SSO role, so "
                "administrator of every account; use Identity Center's account as the shared or management account "
                "(set management_account_id), or add 'sso-outside-trust-root' to accepted_risks"
            )
        if (
            self.plan_path.enabled
            and self.plan_path.runners_account_doer
            and "runners-account-plan-doer" not in accepted
        ):
            problems.append(
                "plan_path.runners_account_doer = True: a plan doer in the runners' account reads the runners' launch "
                "data, user data and parameters (tokens that make a pull request a runner); leave it off (the "
                "shared account is planned on the apply path), or add 'runners-account-plan-doer' to accepted_risks"
            )
        plan_sets = self.runners_account_plan_sets
        if plan_sets and "runners-account-plan-permission-set" not in accepted:
            problems.append(
                f"plan_path.permission_sets = {plan_sets!r}: their roles live in the runners' account (sso.account_id "
                f"{self.sso_account_id!r}, the shared account) and without organization_guard.enabled read the "
                "runners' launch data, user data and parameters (registration tokens); enable the guard, use Identity "
                "Center in the management account (sso.account_id), or add 'runners-account-plan-permission-set' to "
                "accepted_risks"
            )
        if "extra-principal-account-admins" not in accepted:
            for i, arn in enumerate(self.ci.extra_trusted_principal_arns):
                if arn.split(":")[4] not in self.trust_root_accounts:
                    problems.append(
                        f"ci.extra_trusted_principal_arns[{i}] = {arn!r}: its account's IAM administrators could "
                        "become it and so administrator of every account; put CI principals in the shared account, "
                        "or add 'extra-principal-account-admins' to accepted_risks"
                    )
        return problems

    def _plan_path_problems(self) -> list[str]:
        plan = self.plan_path
        if not plan.enabled:
            return []
        problems: list[str] = []
        if not plan.permission_sets and not any(trust.plan_subjects for trust in self.ci.oidc):
            problems.append(
                "plan_path.permission_sets = []: with plan_path.enabled, name the read-only permission sets that may "
                "reach the plan assumer (e.g. AWSReadOnlyAccess), or plan_subjects in ci.oidc"
            )
        if "plan-doer-unverified-policy" not in self.accepted_risks:
            for key, arn in plan.doer.unverified_policies():
                problems.append(
                    f"plan_path.doer.managed_policy_arns.{key} = {arn!r}: the offline plan cannot show that this "
                    "policy grants reads only; use AWS managed read-only policies "
                    f"({', '.join(sorted(READ_ONLY_MANAGED_POLICIES))}), or add 'plan-doer-unverified-policy' to "
                    "accepted_risks"
                )
        return problems

    @property
    def trust_root_accounts(self) -> set[str]:
        """Accounts whose IAM administrators the promise counts as the trust root."""
        return {self.shared_account.id, *([self.management_account_id] if self.management_account_id else [])}

    @property
    def readable_prefixes(self) -> list[str]:
        """state_backend.readable_state as key prefixes of the bucket: <account id>/<path>/."""
        ids = {a.name: a.id for a in self.all_accounts}
        return sorted({ids[p.split("/", 1)[0]] + "/" + p.split("/", 1)[1] for p in self.state_backend.readable_state})

    @property
    def sso_outside_trust_root(self) -> bool:
        """Identity Center's account (whose SSO roles the assumer trusts) is not one of the trust root's."""
        trusted = bool(self.sso.permission_sets) or (self.plan_path.enabled and bool(self.plan_path.permission_sets))
        return trusted and self.sso_account_id not in self.trust_root_accounts

    @property
    def runners_account_plan_sets(self) -> list[str]:
        """Plan-only permission sets whose roles live in the runners' account with no guard's perimeter around them."""
        if not self.plan_path.enabled or self.organization_guard.enabled:
            return []
        if self.sso_account_id != self.shared_account.id:
            return []
        return [p for p in self.plan_path.permission_sets if p not in self.sso.permission_sets]

    @property
    def extra_principal_accounts(self) -> set[str]:
        return {arn.split(":")[4] for arn in self.ci.extra_trusted_principal_arns} - self.trust_root_accounts

    @property
    def risks(self) -> list[str]:
        """The accepted risks this config really takes on (an accepted risk the config does not use is no risk)."""
        taken = {
            "shared-state-sessions": not self.state_backend.isolate_accounts,
            "non-admin-permission-set": any(p in NON_ADMIN_PERMISSION_SETS for p in self.sso.permission_sets),
            "extra-principal-account-admins": bool(self.extra_principal_accounts),
            "plan-doer-unverified-policy": self.plan_path.enabled and bool(self.plan_path.doer.unverified_policies()),
            "github-mutable-subject": any(
                t.provider == "github" and not _GITHUB_IMMUTABLE.match(s)
                for t in self.ci.oidc
                for s in t.apply_subjects
            ),
            "runners-account-plan-doer": self.plan_path.enabled and self.plan_path.runners_account_doer,
            "sso-outside-trust-root": self.sso_outside_trust_root,
            "runners-account-plan-permission-set": bool(self.runners_account_plan_sets),
        }
        return [risk for risk in self.accepted_risks if taken[risk]]

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
    def state_key_alias(self) -> str:
        """The state key's alias, after the bucket; dots (valid in a bucket name, not in an alias) become '-'."""
        return kms_alias_for(self.bucket_name)

    @property
    def lock_table_name(self) -> str:
        return self.state_backend.lock_table_name or f"terraform-state-lock-{self.shared_account.id}"

    @property
    def all_accounts(self) -> list[Account]:
        """The shared account first, then the application accounts: every account that gets a doer."""
        return [self.shared_account, *self.accounts]


class MemberRoles(_Model):
    doer: DoerPolicies = Field(default_factory=DoerPolicies)


SHARED_ONLY_KEYS = (
    "organization_id",
    "shared_account",
    "sso",
    "ci",
    "state_backend",
    "limits",
    "sessions",
    "management_account_id",
    "organization_guard",
    "accepted_risks",
)


class MemberConfig(_Model):
    """A member stack: the doer roles of some application accounts. Everything else comes from the shared stack."""

    stack: StackSettings
    region: Region
    accounts: list[Account] = Field(min_length=1, max_length=5000)
    roles: MemberRoles = Field(default_factory=MemberRoles)
    providers: ProviderSettings = Field(default_factory=ProviderSettings)
    tags: Tags = Field(default_factory=dict, max_length=40)
    plan_path: MemberPlanPath = Field(default_factory=MemberPlanPath)
    accepted_replacements: AcceptedReplacements = Field(
        default_factory=list,
        description="Logical names of stateful or physically-named resources `make plan BASE=` may replace or delete.",
    )

    @model_validator(mode="after")
    def _accounts_are_distinct(self) -> MemberConfig:
        problems = _duplicate_accounts(self.accounts) + self.plan_path.problems()
        if self.providers.mode == "plan" and not self.plan_path.enabled:
            problems.append("providers.mode = 'plan': needs plan_path.enabled (the plan doers it assumes)")
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


def _is_text(annotation: Any) -> bool:
    """Whether a field holds one text value rather than a structured (JSON) one."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _is_text(get_args(annotation)[0])
    if origin in (Union, UnionType):
        kinds = [arg for arg in get_args(annotation) if arg is not type(None)]
        return bool(kinds) and all(_is_text(arg) for arg in kinds)
    if origin is Literal:
        return all(isinstance(arg, str) for arg in get_args(annotation))
    return annotation is str


@functools.cache
def config_keys() -> dict[str, bool]:
    """Every top-level key the models declare, and whether it is text (True) or a structured value (False).

    The program reads text keys with ``pulumi.Config.get`` and the others with ``get_object``. Derived from the
    models, so a field added there is read without a second list to keep in step.
    """
    return {
        name: _is_text(field.annotation)
        for model in (FederationConfig, MemberConfig)
        for name, field in model.model_fields.items()
    }


def _parse_value(key: str, value: Any) -> Any:
    # The CLI hands every value to the program as text (PULUMI_CONFIG), objects and lists as JSON text: parse the
    # keys the models declare structured, as pulumi.Config.get_object does; text keys stay text.
    if isinstance(value, str) and not config_keys().get(key, True):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _segment(name: str) -> str:
    # A property path segment as `pulumi config set --path` reads it: a bare name runs to the next '.' or '[',
    # anything else is quoted (ParsePropertyPath in pulumi/sdk/go/common/resource/properties_path.go).
    if name and not any(c in name for c in '.[]"'):
        return name
    return '["' + name.replace('"', '\\"') + '"]'


def key_path(parts: tuple[int | str, ...]) -> str:
    """A config key path in the form `pulumi config set --path` takes: accounts[0].id, tags["cost.center"]."""
    path = ""
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            segment = _segment(part)
            path += segment if not path or segment.startswith("[") else f".{segment}"
    return path


def _format_loc(loc: tuple[int | str, ...]) -> str:
    # pydantic marks an invalid dict key with a "[key]" step after the key itself.
    return key_path(tuple(part for part in loc if part != "[key]"))


def _lookup(data: Any, loc: tuple[int | str, ...]) -> tuple[bool, Any]:
    for part in loc:
        if isinstance(data, Mapping) and part in data:
            data = data[part]
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return False, None
    return True, data


def _yaml_text(value: Any) -> str:
    """A YAML scalar as the user typed it (true, 200000000001), not as Python prints it (True)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value) if isinstance(value, bool | int | float) else repr(value)


def set_command(path: str, text: str) -> str:
    """The `pulumi config set` command that stores ``text`` at ``path`` as a string (flag added by Pulumi PR #18287)."""
    key = f"{NAMESPACE}:{path}"
    quoted = f"'{key}'" if "'" not in key else shlex.quote(key)
    flag = "--path " if "." in path or "[" in path else ""
    return f"pulumi config set {flag}{quoted} {shlex.quote(text)} --type string"


def _describe(
    error: Mapping[str, Any],
    data: Mapping[str, Any],
    map_form: bool = False,
    suggestion: str | None = None,
    suggestion_missing: bool = False,
) -> list[str]:
    loc = tuple(error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "missing":
        return [f"{NAMESPACE}:{_format_loc(loc)}: required key is missing"]
    if error["type"] == "extra_forbidden":
        hint = f"; did you mean {suggestion}?" if suggestion else ""
        required = " (required, and missing)" if suggestion and suggestion_missing else ""
        return [f"{NAMESPACE}:{_format_loc(loc)}: unknown key (check the spelling){hint}{required}"]
    if not loc or (error["type"] == "value_error" and "\n" in message):
        # Cross-field rules already name their keys and values, one per line.
        prefix = f"{NAMESPACE}:{_format_loc(loc)}." if loc else f"{NAMESPACE}:"
        return [prefix + line for line in message.splitlines()]
    found, value = _lookup(data, loc)
    if "[key]" in loc:
        # The bad part is the dict key itself, the step before pydantic's "[key]" marker.
        found, value = True, loc[loc.index("[key]") - 1]
    if error["type"] == _YAML_SCALAR:
        text = _yaml_text(value)
        fix = set_command(_format_loc(loc), str((error.get("ctx") or {}).get("text", text)))
        return [
            f"{NAMESPACE}:{_format_loc(loc)} = {text}: {message}; set it as text: {fix}, or quote it in the stack file"
        ]
    if loc == ("accounts",) and error["type"] == "list_type":
        message = "must be a list of accounts ({name, id}) or a map from account name to {id}"
    if map_form and len(loc) == 3 and loc[0] == "accounts" and loc[2] == "name":
        # In the map form the name is the key: point at it, not at a name field the user never wrote.
        loc, message = loc[:2], f"{message} (the map key is the account's name)"
    shown = repr(value) if found else "(missing)"
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return [f"{NAMESPACE}:{_format_loc(loc)} = {shown}: {message}"]


def _model_at(annotation: Any, loc: tuple[int | str, ...]) -> type[BaseModel] | None:
    """The model whose keys the config holds at ``loc`` (through lists, maps and optional values), or None."""
    for part in (*loc, None):
        while get_origin(annotation) in (Annotated, Union, UnionType):
            kinds = [a for a in get_args(annotation) if a is not type(None)]
            if get_origin(annotation) is not Annotated and len(kinds) != 1:
                return None
            annotation = kinds[0]
        if part is None:
            break
        if isinstance(part, int) and get_origin(annotation) is list:
            annotation = get_args(annotation)[0]
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel) and part in annotation.model_fields:
            annotation = annotation.model_fields[str(part)].annotation
        elif get_origin(annotation) is dict:
            annotation = get_args(annotation)[1]
        else:
            return None
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def _typo_hints(model: type[BaseModel], errors: list[Any]) -> dict[tuple[int | str, ...], str]:
    """For each unknown key, the key of its model it most resembles (difflib's ratio >= 0.6), if any."""
    hints: dict[tuple[int | str, ...], str] = {}
    for error in errors:
        loc = tuple(error["loc"])
        parent = _model_at(model, loc[:-1]) if error["type"] == "extra_forbidden" and loc else None
        if parent is not None and isinstance(loc[-1], str):
            close = difflib.get_close_matches(loc[-1], list(parent.model_fields), n=1)
            if close:
                hints[loc] = close[0]
    return hints


def _is_member(data: Mapping[str, Any]) -> bool:
    stack = data.get("stack")
    return isinstance(stack, Mapping) and stack.get("kind") == "member"


def _accounts_from_map(accounts: Mapping[Any, Any]) -> tuple[list[Any], list[str], list[str]]:
    """The map form (account name -> {id, ...}) as the list the models take, ordered by name; and its problems.

    The CLI hands objects to the program as Go JSON, whose map keys come out sorted: sorting here gives the offline
    plan and `pulumi up` the same order. Returns the list, the names by index and one line per entry that also
    carries a name.
    """
    entries = {str(name): entry for name, entry in accounts.items()}
    names = sorted(entries)
    items: list[Any] = []
    problems: list[str] = []
    for i, name in enumerate(names):
        entry = entries[name]
        if isinstance(entry, Mapping):
            if "name" in entry:
                problems.append(
                    f"{NAMESPACE}:accounts[{i}].name = {entry['name']!r}: the map form names an account by its key; "
                    "remove name"
                )
            entry = {**entry, "name": name}
        items.append(entry)
    return items, names, problems


def _map_form_paths(line: str, names: list[str]) -> str:
    """accounts[<i>] in a problem line as the map form's accounts.<name>, the way the user wrote the key."""

    def by_name(match: re.Match[str]) -> str:
        i = int(match.group(1))
        return key_path(("accounts", names[i])) if i < len(names) else match.group(0)

    return re.sub(r"(?<![\w.])accounts\[(\d+)\]", by_name, line, flags=re.ASCII)


def parse_config(raw: Mapping[str, Any], namespace: str = NAMESPACE) -> AnyConfig:
    """Validate every ``<namespace>:<key>`` entry of a Pulumi config map; other namespaces are ignored.

    Values are JSON text as the CLI hands them over, or already parsed (pulumi.Config.get_object). ``accounts`` is
    a list of {name, id} or a map from name to {id}; both give the same model. A member stack (stack.kind: member)
    gets the member model. Raises ConfigError with one line per problem, naming keys the way the user wrote them.
    """
    prefix = namespace + ":"
    data = {
        key[len(prefix) :]: _parse_value(key[len(prefix) :], value)
        for key, value in raw.items()
        if key.startswith(prefix)
    }
    names: list[str] | None = None
    problems: list[str] = []
    if isinstance(data.get("accounts"), Mapping):
        data["accounts"], names, problems = _accounts_from_map(data["accounts"])
    model: type[FederationConfig] | type[MemberConfig] = MemberConfig if _is_member(data) else FederationConfig
    if model is MemberConfig:
        misplaced = [key for key in SHARED_ONLY_KEYS if key in data]
        if misplaced:
            raise ConfigError(
                [f"{NAMESPACE}:{key}: belongs to the shared stack, not to a member stack" for key in misplaced]
            )
    try:
        config = model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        hints = _typo_hints(model, errors)
        missing = {tuple(e["loc"]) for e in errors if e["type"] == "missing"}
        # A misspelt required key is one mistake: its "missing" line goes into the unknown key's line.
        absorbed = {(*loc[:-1], key) for loc, key in hints.items()} & missing
        for error in errors:
            loc = tuple(error["loc"])
            if loc in absorbed:
                continue
            hint = hints.get(loc)
            missing_too = hint is not None and (*loc[:-1], hint) in absorbed
            problems.extend(_describe(error, data, names is not None, hint, missing_too))
    else:
        if not problems:
            return config
    raise ConfigError([_map_form_paths(p, names) for p in problems] if names is not None else problems)
