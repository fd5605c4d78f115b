"""Terraform can use what it gets: every request Terraform's S3 backend makes with the generated root.hcl, judged.

The values come from the generated files as a user pastes them (the stack outputs `terragrunt_root_hcl` and
`terragrunt_account_hcl`, parsed with python-hcl2 and evaluated for one unit of each account class by
plan.terragrunt), never from the config: bucket, key, workspace_key_prefix, region, encrypt, kms_key_id,
use_lockfile, dynamodb_table, the state role and its session tags, Terragrunt's iam_role, plan's extra arguments.
The requests are Terraform's (REQUESTS below, each with the function of hashicorp/terraform@883c7221 it comes from),
made for each chain root.hcl sets up: the apply path from CI (Terragrunt's iam_role: the doer's session assumes
state-mgmt tagged with its own account; or the article's chain: the assumer's session assumes it) and, with the plan
path, TG_PLAN=1 (the plan doer's session assumes the state reader, and plan runs with -lock=false). Each request is
judged by the project's evaluator (plan.evaluator) against the documents the program registered (plan.model): the
session's identity policy, the bucket policy, the table policy, the key policy, the SCPs. A request Terraform makes
that is denied is a finding naming the chain, the account, the request and the deciding statements. A request the
plan path does not make (a lock or state write, with -lock=false) is judged too, and must be denied: the plan path
writes nothing.

What this cannot show: which condition keys S3 and KMS actually set on each request (the check gives each request
the keys AWS documents for its headers and parameters), and how S3 authorizes the implicit listing behind a
HeadObject of a state not yet written (404 or 403 under a prefix-scoped s3:ListBucket): docs/terragrunt.md.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from federation.config import FederationConfig
from plan.checks import Finding, PlanInput
from plan.classes import account_classes
from plan.evaluator import ContextValue, Memo, Principal, Request, evaluate
from plan.model import IamModel, RoleModel
from plan.runner import ProgramRun
from plan.terragrunt import BackendSettings, TerragruntError, Unit, UnitRun, account_locals, evaluate_unit, parse_hcl
from plan.world import FULL_AWS_ACCESS, SOURCE_IDENTITY, Account, organization_accounts, role_policies

CHECK = "terraform-backend"
# The requests that change state, a lock or a digest: the plan path must be denied every one of them.
WRITE_ACTIONS = frozenset(
    {"s3:PutObject", "s3:DeleteObject", "dynamodb:PutItem", "dynamodb:DeleteItem", "kms:GenerateDataKey"}
)
TF = "hashicorp/terraform@883c7221 internal/backend/remote-state/s3/"
TG = "gruntwork-io/terragrunt@286a33cb "
# A unit below every account directory, as docs/terragrunt.md lays them out: <account>/network/terragrunt.hcl.
UNIT = "network"
# A workspace other than default: its state lives under workspace_key_prefix (backend_state.go, Backend.path).
WORKSPACE = "ci"
# Where a CI run starts: the runners' role (apply) or the plan assumer (plan path), by the program's logical names.
START_ROLES = {"apply": "assumer-role", "plan": "plan-assumer-role"}

Phase = Literal["read", "lock", "write"]
Target = Literal["bucket", "state", "lockfile", "lock-item", "digest-item", "key"]
When = Literal["always", "lockfile", "table", "kms", "lockfile-kms", "workspace", "workspace-table"]


@dataclass(frozen=True)
class BackendRequest:
    """One request the backend makes: when it makes it, on what, and where in Terraform's source it comes from."""

    operation: str
    action: str
    target: Target
    when: When
    phase: Phase  # read: every run; lock: taking and releasing the lock (not with -lock=false); write: apply
    source: str


REQUESTS: tuple[BackendRequest, ...] = (
    BackendRequest(
        "list workspaces",
        "s3:ListBucket",
        "bucket",
        "always",
        "read",
        TF + "backend_state.go Backend.Workspaces (ListObjectsV2, Prefix <workspace_key_prefix>/, MaxKeys 1000; called "
        "by StateMgr on every run and by `terraform workspace list`; AccessDenied is fatal unless the prefix is env:)",
    ),
    BackendRequest(
        "read state",
        "s3:GetObject",
        "state",
        "always",
        "read",
        TF + "client.go RemoteClient.get (HeadObject, then GetObject: both authorized as s3:GetObject)",
    ),
    BackendRequest(
        "decrypt state",
        "kms:Decrypt",
        "key",
        "kms",
        "read",
        TF + "client.go RemoteClient.get; S3 decrypts an SSE-KMS object with the caller's kms:Decrypt (Amazon S3 "
        "User Guide, 'Using server-side encryption with AWS KMS keys (SSE-KMS)': permissions)",
    ),
    BackendRequest(
        "read state digest",
        "dynamodb:GetItem",
        "digest-item",
        "table",
        "read",
        TF + "client.go RemoteClient.getMD5 (GetItem LockID <bucket>/<key>-md5, ConsistentRead)",
    ),
    BackendRequest(
        "write lock file",
        "s3:PutObject",
        "lockfile",
        "lockfile",
        "lock",
        TF + "client.go RemoteClient.lockWithFile (PutObject <key>.tflock, IfNoneMatch *, the encryption headers)",
    ),
    BackendRequest(
        "encrypt lock file",
        "kms:GenerateDataKey",
        "key",
        "lockfile-kms",
        "lock",
        TF + "client.go RemoteClient.lockWithFile; S3 asks KMS for a data key as the caller (SSE-KMS permissions)",
    ),
    BackendRequest(
        "read lock file",
        "s3:GetObject",
        "lockfile",
        "lockfile",
        "lock",
        TF + "client.go RemoteClient.unlockWithFile (GetObject <key>.tflock, compares the lock id)",
    ),
    BackendRequest(
        "decrypt lock file",
        "kms:Decrypt",
        "key",
        "lockfile-kms",
        "lock",
        TF + "client.go RemoteClient.unlockWithFile (the lock file is an SSE-KMS object too)",
    ),
    BackendRequest(
        "delete lock file",
        "s3:DeleteObject",
        "lockfile",
        "lockfile",
        "lock",
        TF + "client.go RemoteClient.unlockWithFile (DeleteObject <key>.tflock; hashicorp/terraform#36175)",
    ),
    BackendRequest(
        "write lock item",
        "dynamodb:PutItem",
        "lock-item",
        "table",
        "lock",
        TF + "client.go RemoteClient.lockWithDynamoDB (PutItem LockID <bucket>/<key>, attribute_not_exists(LockID))",
    ),
    BackendRequest(
        "read lock item",
        "dynamodb:GetItem",
        "lock-item",
        "table",
        "lock",
        TF + "client.go RemoteClient.getLockInfoWithDynamoDB (from unlockWithDynamoDB)",
    ),
    BackendRequest(
        "delete lock item",
        "dynamodb:DeleteItem",
        "lock-item",
        "table",
        "lock",
        TF + "client.go RemoteClient.unlockWithDynamoDB (DeleteItem LockID <bucket>/<key>)",
    ),
    BackendRequest(
        "write state",
        "s3:PutObject",
        "state",
        "always",
        "write",
        TF + "client.go RemoteClient.put (PutObject with the encryption headers of encrypt / kms_key_id)",
    ),
    BackendRequest(
        "encrypt state",
        "kms:GenerateDataKey",
        "key",
        "kms",
        "write",
        TF + "client.go RemoteClient.put; S3 asks KMS for a data key as the caller (SSE-KMS permissions)",
    ),
    BackendRequest(
        "write state digest",
        "dynamodb:PutItem",
        "digest-item",
        "table",
        "write",
        TF + "client.go RemoteClient.putMD5 (PutItem LockID <bucket>/<key>-md5)",
    ),
    BackendRequest(
        "delete workspace state",
        "s3:DeleteObject",
        "state",
        "workspace",
        "write",
        TF + "client.go RemoteClient.Delete (`terraform workspace delete`, backend_state.go DeleteWorkspace)",
    ),
    BackendRequest(
        "delete workspace digest",
        "dynamodb:DeleteItem",
        "digest-item",
        "workspace-table",
        "write",
        TF + "client.go RemoteClient.deleteMD5",
    ),
)

# What the backend's own validation accepts as kms_key_id (validate.go: validateKMSKey, uuidRegexPattern,
# multiRegionKeyIdPattern, aliasRegexPattern); anything else fails `terraform init`.
_KEY_ID = r"(?:[a-f0-9]{8}-[a-f0-9]{4}-[1-5][a-f0-9]{3}-[ab89][a-f0-9]{3}-[a-f0-9]{12}|mrk-[a-f0-9]{32})"
_ALIAS = r"alias/[a-zA-Z0-9/_-]+"
KMS_KEY_ID_FORMS = (
    ("key id", re.compile(_KEY_ID)),
    ("alias name", re.compile(_ALIAS)),
    ("key ARN", re.compile(rf"arn:[a-z-]+:kms:[a-z0-9-]+:\d{{12}}:key/{_KEY_ID}")),
    ("alias ARN", re.compile(rf"arn:[a-z-]+:kms:[a-z0-9-]+:\d{{12}}:{_ALIAS}")),
)
KMS_KEY_ID_SOURCE = TF + "validate.go validateKMSKey (key id, mrk- id, alias/<name>, or their ARNs)"


@dataclass(frozen=True)
class Step:
    """A request of the chain, made by one session, and whether Terraform makes it on this path."""

    label: str
    principal: Principal
    request: Request
    made: bool
    source: str


@dataclass(frozen=True)
class Chain:
    name: str
    path: Literal["apply", "plan"]
    env: dict[str, str]


@dataclass(frozen=True)
class Judged:
    """One request of a chain in one account, and the evaluator's verdict."""

    where: str  # the chain and the account
    step: Step
    allowed: bool


@dataclass
class Judgement:
    findings: list[Finding] = field(default_factory=list)
    judged: list[Judged] = field(default_factory=list)


def check(plan: PlanInput) -> list[Finding]:
    return judge(plan).findings


def judge(plan: PlanInput) -> Judgement:
    """Every request of every chain for one unit of each account class, judged; findings for the wrong verdicts."""
    config = plan.selection.organization
    shared = plan.runs[0]
    result = Judgement()
    root_text = shared.outputs.get("terragrunt_root_hcl")
    if not isinstance(root_text, str):
        result.findings.append(_finding("shared stack", "output terragrunt_root_hcl", "no root.hcl is output", TG))
        return result
    try:
        root = parse_hcl(root_text)
    except Exception as error:  # python-hcl2 raises lark's errors
        result.findings.append(_finding("root.hcl", "parse", f"python-hcl2 cannot parse it: {error}", "python-hcl2"))
        return result
    account_files: dict[str, str] = {}
    for run in plan.runs:
        account_files |= dict(run.outputs.get("terragrunt_account_hcl") or {})
    chains = [Chain("apply", "apply", {})]
    if config.plan_path.enabled:
        chains.append(Chain("plan path (TG_PLAN=1)", "plan", {"TG_PLAN": "1"}))
    memo: Memo = {}
    for account in _representatives(config, plan.model):
        text = account_files.get(account.name)
        if text is None:
            what = f"{account.name}/account.hcl"
            result.findings.append(_finding(account.name, what, "no stack outputs it (terragrunt_account_hcl)", TG))
            continue
        for chain in chains:
            _judge_chain(plan, shared, root, account, account_locals(text), chain, memo, result)
    return result


def _representatives(config: FederationConfig, model: IamModel) -> list[Account]:
    """One account per class that runs Terraform (the shared account, each class of application accounts): no
    document tells the members of a class apart (plan.classes), so one unit of one member answers for all."""
    classes = account_classes(organization_accounts(config), model)
    return [c.members[0] for c in classes if c.members[0].kind in ("shared", "application")]


def _finding(resource: str, what: str, rule: str, source: str) -> Finding:
    return Finding(CHECK, resource, what, rule, source)


def _judge_chain(
    plan: PlanInput,
    shared: ProgramRun,
    root: dict[str, object],
    account: Account,
    locals_: dict[str, object],
    chain: Chain,
    memo: Memo,
    result: Judgement,
) -> None:
    config, model = plan.selection.organization, plan.model
    roles = {role.arn: role for role in model.roles.values()}
    start = model.roles.get(START_ROLES[chain.path])
    if start is None:
        result.findings.append(_finding(f"{chain.name} / {account.name}", "start", f"no {START_ROLES[chain.path]}", TG))
        return
    caller_arn = f"arn:aws:sts::{start.account}:assumed-role/{start.name}/{SOURCE_IDENTITY}"
    try:
        unit = evaluate_unit(root, Unit(locals_, f"{account.name}/{UNIT}", chain.env, caller_arn))
    except (TerragruntError, KeyError) as error:
        result.findings.append(_finding(f"{chain.name} / {account.name}", "root.hcl", f"cannot be read: {error}", TG))
        return
    name = _chain_name(chain, unit)
    where = f"{name} / {account.name} ({account.id})"
    findings = result.findings
    findings += _static_findings(where, shared, model, unit.backend, roles)
    steps = _steps(config, model, roles, start, unit, chain, shared, findings, where)
    for step in steps:
        verdict = evaluate(step.principal, step.request, explain=False, memo=memo)
        result.judged.append(Judged(where, step, verdict.allowed))
        if verdict.allowed == step.made:
            continue
        explained = evaluate(step.principal, step.request, explain=True).decided_by
        what = _describe(step)
        if step.made:
            denies = [d for d in explained if ":Deny:" in d] or explained
            why = ", ".join(denies) if denies else "no statement allows it (implicit deny)"
            findings.append(_finding(where, what, f"denied by {why}: Terraform fails here", step.source))
        else:
            allows = ", ".join(d for d in explained if ":Allow:" in d)
            findings.append(_finding(where, what, f"allowed ({allows}): the plan path must write nothing", step.source))


def _chain_name(chain: Chain, unit: UnitRun) -> str:
    if chain.path == "plan":
        return f"{chain.name}, {'plan doer' if unit.iam_role else 'plan assumer'} -> state reader"
    if unit.iam_role:
        return "Terragrunt iam_role: doer -> state-mgmt"
    return "article's chain: assumer -> state-mgmt"


def _static_findings(
    where: str, shared: ProgramRun, model: IamModel, backend: BackendSettings, roles: dict[str, RoleModel]
) -> list[Finding]:
    """What fails before any authorization: names and regions that do not match what the program registered."""
    found: list[Finding] = []
    if backend.bucket != model.bucket_name:
        found.append(_finding(where, f"bucket = {backend.bucket!r}", f"the program registers {model.bucket_name}", TF))
    region = _bucket_region(shared)
    if region and backend.region != region:
        found.append(
            _finding(
                where,
                f"region = {backend.region!r}",
                f"the bucket is in {region}: the backend fails (requested bucket from one region, actual location "
                "another)",
                TF + "backend_state.go bucketRegionError",
            )
        )
    table = model.table_arn.rsplit("/", 1)[-1]
    if backend.dynamodb_table is not None and backend.dynamodb_table != table:
        found.append(
            _finding(where, f"dynamodb_table = {backend.dynamodb_table!r}", f"the program registers {table}", TF)
        )
    if backend.kms_key_id is not None and not any(p.fullmatch(backend.kms_key_id) for _, p in KMS_KEY_ID_FORMS):
        found.append(
            _finding(where, f"kms_key_id = {backend.kms_key_id!r}", "terraform init refuses it", KMS_KEY_ID_SOURCE)
        )
    if backend.role_arn is None or backend.role_arn not in roles:
        found.append(
            _finding(where, f"assume_role.role_arn = {backend.role_arn!r}", "no role the program registers", TF)
        )
    return found


def _bucket_region(run: ProgramRun) -> str | None:
    buckets = run.by_type("aws:s3/bucket:Bucket")
    if not buckets:
        return None
    providers = run.by_urn()
    provider = providers.get(buckets[0].provider_urn)
    return str(provider.inputs.get("region")) if provider and provider.inputs.get("region") else None


def _session(
    config: FederationConfig,
    model: IamModel,
    role: RoleModel,
    context: tuple[tuple[str, ContextValue], ...],
) -> Principal:
    """A session of a registered role, as plan.world builds one: its policies, the SCPs above a member account."""
    member = role.account != config.management_account_id
    scps = ((FULL_AWS_ACCESS, *model.scps),) if model.scps and member else None
    key = f"{role.name}@{role.account}"
    return Principal(key, role.arn, config.organization_id, role_policies(role), None, False, context, scps)


def _assume(
    label: str,
    caller: Principal,
    role: RoleModel,
    org: str,
    tags: dict[str, str],
    source_identity: str | None,
    source: str,
) -> list[Step]:
    """AssumeRole, with sts:TagSession for session tags and sts:SetSourceIdentity for a source identity (set here,
    or carried by the caller: IAM User Guide, 'Monitor and control actions taken with assumed roles')."""
    context: list[tuple[str, ContextValue]] = [("aws:ResourceOrgID", org)]
    context += [(f"aws:RequestTag/{k}", v) for k, v in tags.items()]
    if tags:
        context.append(("aws:TagKeys", tuple(sorted(tags))))
    carried = any(k == "aws:SourceIdentity" for k, _ in caller.context)
    if source_identity:
        context.append(("sts:SourceIdentity", source_identity))
    actions = ["sts:AssumeRole"]
    if tags:
        actions.append("sts:TagSession")
    if source_identity or carried:
        actions.append("sts:SetSourceIdentity")
    return [
        Step(label, caller, Request(action, role.arn, role.account, role.trust, tuple(context)), True, source)
        for action in actions
    ]


def _steps(
    config: FederationConfig,
    model: IamModel,
    roles: dict[str, RoleModel],
    start: RoleModel,
    unit: UnitRun,
    chain: Chain,
    shared: ProgramRun,
    findings: list[Finding],
    where: str,
) -> list[Step]:
    backend = unit.backend
    org = config.organization_id
    # A CI run's session says who started it when the config requires that (docs/sessions.md).
    said = (("aws:SourceIdentity", SOURCE_IDENTITY),) if config.sessions.require_source_identity else ()
    caller = _session(config, model, start, said)
    steps: list[Step] = []
    if unit.iam_role:
        doer = roles.get(unit.iam_role)
        if doer is None:
            findings.append(_finding(where, f"iam_role = {unit.iam_role!r}", "no role the program registers", TG))
            return steps
        source = TG + "iam_role (pkg/config: Terragrunt assumes it before running Terraform; no source identity)"
        steps += _assume("Terragrunt assumes iam_role", caller, doer, org, {}, None, source)
        caller = _session(config, model, doer, said)
    state_role = roles.get(backend.role_arn or "")
    if state_role is None:
        return steps
    source = TF + "backend.go assume_role (role_arn, session_name, source_identity, tags)"
    steps += _assume(
        "backend assumes assume_role.role_arn", caller, state_role, org, backend.tags, backend.source_identity, source
    )
    context: list[tuple[str, ContextValue]] = [(f"aws:PrincipalTag/{k}", v) for k, v in backend.tags.items()]
    if backend.source_identity or said:
        context.append(("aws:SourceIdentity", backend.source_identity or SOURCE_IDENTITY))
    session = _session(config, model, state_role, tuple(context))
    lock_free = chain.path == "plan" and "-lock=false" in unit.plan_arguments
    key_arn = _effective_key(shared, model, backend, state_role, findings, where)
    for workspace in ("default", WORKSPACE):
        steps += _state_steps(model, session, backend, workspace, chain, lock_free, key_arn)
    return steps


def _effective_key(
    run: ProgramRun,
    model: IamModel,
    backend: BackendSettings,
    state_role: RoleModel,
    findings: list[Finding],
    where: str,
) -> str | None:
    """The KMS key S3 encrypts the backend's objects with: kms_key_id resolved as KMS resolves it, or, when the
    backend sends no encryption header, the bucket's default key; None for SSE-S3 (no KMS request)."""
    if backend.encrypt and backend.kms_key_id is None:
        return None  # x-amz-server-side-encryption: AES256 (client.go s3EncryptionAlgorithm)
    if not backend.encrypt:
        return _default_key(run)
    key_id = backend.kms_key_id or ""
    keys = {
        str(k.state.get("keyId")): (str(k.state.get("arn")), run.account_of(k)) for k in run.by_type("aws:kms/key:Key")
    }
    arns = {arn: account for arn, account in keys.values()}
    if key_id in arns:
        return key_id
    # A bare alias or key id resolves in the caller's account; an ARN names its account and region.
    match = re.fullmatch(r"arn:[a-z-]+:kms:([a-z0-9-]+):(\d{12}):(alias/.+|key/.+)", key_id)
    region, account, name = match.groups() if match else (backend.region, state_role.account, key_id)
    if name.startswith("key/"):
        name = name[4:]
    if name in keys:
        return keys[name][0]
    for alias in run.by_type("aws:kms/alias:Alias"):
        if alias.inputs.get("name") == name and run.account_of(alias) == account:
            target = str(alias.inputs.get("targetKeyId"))
            arn = keys.get(target, (None, None))[0] or (target if target in arns else None)
            if arn and arn.split(":")[3] == region:
                return arn
    findings.append(
        _finding(
            where,
            f"kms_key_id = {key_id!r}",
            f"names no key the program registers in {account} {region} (S3 fails with KMS.NotFoundException)",
            "botocore kms GenerateDataKeyRequest.KeyId (key id, key ARN, alias name, alias ARN)",
        )
    )
    return None


def _default_key(run: ProgramRun) -> str | None:
    for configuration in run.by_type(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ):
        for rule in configuration.inputs.get("rules") or []:
            default = rule.get("applyServerSideEncryptionByDefault") or {}
            if default.get("sseAlgorithm") == "aws:kms" and default.get("kmsMasterKeyId"):
                return str(default["kmsMasterKeyId"])
    return None


def _encryption_headers(backend: BackendSettings) -> tuple[tuple[str, ContextValue], ...]:
    """The PutObject headers as condition keys (client.go RemoteClient.put and lockWithFile)."""
    if not backend.encrypt:
        return ()
    if backend.kms_key_id:
        return (
            ("s3:x-amz-server-side-encryption", "aws:kms"),
            ("s3:x-amz-server-side-encryption-aws-kms-key-id", backend.kms_key_id),
        )
    return (("s3:x-amz-server-side-encryption", "AES256"),)


def _state_key(backend: BackendSettings, workspace: str) -> str:
    # backend_state.go Backend.path: the default workspace at key, others at <workspace_key_prefix>/<name>/<key>.
    if workspace == "default":
        return backend.key
    prefix = backend.workspace_key_prefix if backend.workspace_key_prefix is not None else "env:"
    return f"{prefix}/{workspace}/{backend.key}" if prefix else f"{workspace}/{backend.key}"


def _state_steps(
    model: IamModel,
    session: Principal,
    backend: BackendSettings,
    workspace: str,
    chain: Chain,
    lock_free: bool,
    key_arn: str | None,
) -> list[Step]:
    bucket_arn = f"arn:aws:s3:::{backend.bucket}"
    key = _state_key(backend, workspace)
    lock_id = f"{backend.bucket}/{key}"  # client.go RemoteClient.lockPath
    table = backend.dynamodb_table is not None
    prefix = backend.workspace_key_prefix if backend.workspace_key_prefix is not None else "env:"
    applies: dict[When, Callable[[], bool]] = {
        "always": lambda: True,
        "lockfile": lambda: backend.use_lockfile,
        "table": lambda: table,
        "kms": lambda: key_arn is not None,
        "lockfile-kms": lambda: backend.use_lockfile and key_arn is not None,
        "workspace": lambda: workspace != "default",
        "workspace-table": lambda: workspace != "default" and table,
    }
    steps: list[Step] = []
    for row in REQUESTS:
        if not applies[row.when]():
            continue
        if row.target == "bucket":
            context: tuple[tuple[str, ContextValue], ...] = (
                ("s3:prefix", f"{prefix}/" if prefix else ""),
                ("s3:max-keys", "1000"),
            )
            request = Request(row.action, bucket_arn, model.bucket_account, model.bucket_policy, context)
        elif row.target in ("state", "lockfile"):
            name = key + (".tflock" if row.target == "lockfile" else "")
            context = _encryption_headers(backend) if row.action == "s3:PutObject" else ()
            if row.target == "lockfile" and row.action == "s3:PutObject":
                context += (("s3:if-none-match", "*"),)
            request = Request(row.action, f"{bucket_arn}/{name}", model.bucket_account, model.bucket_policy, context)
        elif row.target in ("lock-item", "digest-item"):
            item = lock_id + ("-md5" if row.target == "digest-item" else "")  # client.go stateIDSuffix
            context = (("dynamodb:LeadingKeys", (item,)),)
            request = Request(row.action, model.table_arn, model.table_account, model.table_policy, context)
        else:
            assert key_arn is not None
            # S3 calls KMS with the caller's credentials (a forward access session), so kms:ViaService is set.
            context = (
                ("kms:ViaService", f"s3.{backend.region}.amazonaws.com"),
                ("kms:CallerAccount", session.account),
            )
            owner = key_arn.split(":")[4]
            policy = model.key_policy if key_arn == model.key_arn else None
            request = Request(row.action, key_arn, owner, policy, context)
        made = chain.path == "apply" or (row.phase == "read") or (row.phase == "lock" and not lock_free)
        if not made and row.action not in WRITE_ACTIONS:
            continue  # a read the plan path does not make: the reader may or may not be allowed it
        label = f"{row.operation} ({workspace} workspace)"
        steps.append(Step(label, session, request, made, row.source))
    return steps


def _describe(step: Step) -> str:
    tags = [f"{k.split('/', 1)[1]}={v}" for k, v in step.principal.context if k.startswith("aws:PrincipalTag/")]
    who = step.principal.arn + (f" [{', '.join(tags)}]" if tags else "")
    context = ", ".join(f"{k}={v if isinstance(v, str) else list(v)}" for k, v in step.request.context)
    return f"{step.label}: {step.request.action} on {step.request.resource} as {who}" + (
        f" with {context}" if context else ""
    )
