"""The properties decided for every request, stated once as data and derived from the config's promise
(docs/security.md, "The promise"), never from the program's output: each names the registered document it judges
(found in plan.model by ARN) and a promise document, in the same policy language, written here from the config.

Modes (each decided for all requests; a model of the query is a counterexample):
- ``admits-only``: whatever the document allows, the promise allows (sat: a request allowed beyond the promise);
- ``admits-all``: whatever the promise allows, the document allows (sat: someone promised is locked out);
- ``denies``: every request the promise lists is explicitly denied by the document (sat: one slips through).
A ``scope`` document narrows the requests considered (its Allow statements); ``role_resource`` says the request's
resource is a role ARN (the resource type of sts:AssumeRole, Service Authorization Reference, AWS STS).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from federation import names
from federation.config import FederationConfig
from iam.policies import issuer_host
from plan.aws_rules import DYNAMODB_COPY_ACTIONS, DYNAMODB_ITEM_ACTIONS
from plan.model import IamModel, RoleModel

Document = dict[str, Any]
VERSION = "2012-10-17"

# What the federation's sessions call on a role: AssumeRole, with a source identity and session tags (AWS STS API
# Reference, AssumeRole: SourceIdentity needs sts:SetSourceIdentity, Tags need sts:TagSession).
ASSUME = ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]
WEB_IDENTITY = "sts:AssumeRoleWithWebIdentity"
STATE_TAG = "StateAccount"
# DynamoDB's item actions and the table copies, as AWS documents them (plan/aws_rules.py): the promise's words, kept
# apart from the program's own lists (state_backend/policies.py) so a name the program forgets is not forgotten here.
TABLE_ITEMS = list(DYNAMODB_ITEM_ACTIONS)
TABLE_COPIES = list(DYNAMODB_COPY_ACTIONS)
TABLE_CONFIG = [
    "dynamodb:DeleteTable",
    "dynamodb:UpdateTable",
    "dynamodb:PutResourcePolicy",
    "dynamodb:DeleteResourcePolicy",
    "dynamodb:UpdateContinuousBackups",
    "dynamodb:UpdateTimeToLive",
]
# Unknown verdicts accepted by name (property name -> why); none is.
ACCEPTED_UNKNOWN: dict[str, str] = {}


@dataclass
class Property:
    name: str  # e.g. "doer trust admits only the assumer's sessions"
    subjects: list[str]  # the roles or resources it judges (a class: documents equal up to their account id)
    document: Document
    mode: str
    promise: Document
    source: str  # where the promise is written down
    scope: Document | None = None
    role_resource: bool = False
    account: str = ""  # the judged document's own account (normalised away when classes are formed)
    role_arn: str = ""  # the judged role: a trust's AssumeRole resource, or an identity policy's holder
    members: list[str] = field(default_factory=list)

    def class_key(self) -> str:
        text = json.dumps([self.name, self.mode, self.document, self.promise, self.scope], sort_keys=True)
        text += self.role_arn.replace(self.account, "") if self.account else self.role_arn
        return text.replace(self.account, "<own account>") if self.account else text


def _allow(principal: Any, actions: Any, condition: dict[str, Any] | None = None, **more: Any) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": actions, **more}
    if principal is not None:
        statement["Principal"] = principal
    if condition:
        statement["Condition"] = condition
    return statement


def _doc(*statements: dict[str, Any]) -> Document:
    return {"Version": VERSION, "Statement": list(statements)}


def _any_account_role(path: str, name: str) -> str:
    # Twelve ? pin the account segment: the promise means a role of this path and name in some account.
    return f"arn:aws:iam::{'?' * 12}:role{path}{name}"


def _said_who(config: FederationConfig) -> dict[str, Any]:
    return {"Null": {"sts:SourceIdentity": "false"}} if config.sessions.require_source_identity else {}


def _combined(role: RoleModel) -> Document:
    return _doc(*[s for doc in role.inline.values() for s in doc.get("Statement", [])])


def _tagged_by_own_account(extra: dict[str, Any]) -> dict[str, Any]:
    """A session of this role may only say StateAccount = its own account, by a request tag and by any tag it
    already carries (docs/security.md, state-mgmt trust)."""
    return {
        "StringEquals": {f"aws:RequestTag/{STATE_TAG}": "${aws:PrincipalAccount}"},
        "StringEqualsIfExists": {f"aws:PrincipalTag/{STATE_TAG}": "${aws:PrincipalAccount}"},
        **extra,
    }


def _trusts(config: FederationConfig, model: IamModel) -> list[Property]:
    by_arn = {role.arn: role for role in model.roles.values()}
    said_who = _said_who(config)
    out: list[Property] = []
    assumer = names.assumer_arn(config)
    for account, arn in names.doer_arns(config).items():
        if arn not in by_arn:
            continue
        promise = _doc(_allow({"AWS": assumer}, ASSUME, said_who))
        for mode in ("admits-only", "admits-all"):
            out.append(
                Property(
                    "doer trust admits exactly the assumer's sessions",
                    [f"doer@{account}"],
                    by_arn[arn].trust,
                    mode,
                    promise,
                    "docs/security.md: a doer is trusted by the assumer only; sessions.require_source_identity",
                    account=by_arn[arn].account,
                    role_arn=arn,
                )
            )
    org = config.organization_id
    doer = config.roles.doer
    state_mgmt = names.state_mgmt_arn(config)
    if state_mgmt in by_arn:
        statements = [_allow({"AWS": assumer}, ASSUME, said_who)]
        if config.state_backend.state_mgmt_trusts_doers:
            condition = {
                "ArnLike": {"aws:PrincipalArn": _any_account_role(doer.path, doer.name)},
                "StringEquals": {"aws:PrincipalOrgID": org},
                **said_who,
            }
            if config.state_backend.isolate_accounts:
                condition = _tagged_by_own_account(condition) | {
                    "StringEquals": {
                        "aws:PrincipalOrgID": org,
                        f"aws:RequestTag/{STATE_TAG}": "${aws:PrincipalAccount}",
                    }
                }
            statements.append(_allow("*", ASSUME, condition))
        out.append(
            Property(
                "state-mgmt trust admits the assumer, and doer-named roles of the organization only tagged with "
                "their own account",
                ["state-mgmt"],
                by_arn[state_mgmt].trust,
                "admits-only",
                _doc(*statements),
                "docs/security.md: state-mgmt trust, doer statement",
                role_arn=state_mgmt,
            )
        )
    if config.plan_path.enabled:
        plan_assumer = names.plan_assumer_arn(config)
        for account, arn in names.plan_doer_arns(config).items():
            if arn in by_arn:
                out.append(
                    Property(
                        "plan doer trust admits only the plan assumer's sessions",
                        [f"plan-doer@{account}"],
                        by_arn[arn].trust,
                        "admits-only",
                        _doc(_allow({"AWS": plan_assumer}, ASSUME)),
                        "docs/plan-path.md: plan doers trust the plan assumer only",
                        account=by_arn[arn].account,
                        role_arn=arn,
                    )
                )
        reader = names.state_reader_arn(config)
        if reader in by_arn:
            plan_doer = config.plan_path.doer
            condition = _tagged_by_own_account(
                {
                    "ArnLike": {"aws:PrincipalArn": _any_account_role(plan_doer.path, plan_doer.name)},
                    **said_who,
                }
            ) | {"StringEquals": {"aws:PrincipalOrgID": org, f"aws:RequestTag/{STATE_TAG}": "${aws:PrincipalAccount}"}}
            out.append(
                Property(
                    "state reader trust admits the plan assumer, and plan-doer-named roles of the organization "
                    "only tagged with their own account",
                    ["state-reader"],
                    by_arn[reader].trust,
                    "admits-only",
                    _doc(_allow({"AWS": plan_assumer}, ASSUME, said_who), _allow("*", ASSUME, condition)),
                    "docs/plan-path.md; sessions.require_source_identity (docs/sessions.md)",
                    role_arn=reader,
                )
            )
    return out


def _sso(config: FederationConfig, permission_sets: list[str]) -> list[dict[str, Any]]:
    """The configured permission sets' SSO roles in the organization, with a 16-character suffix (docs/security.md)."""
    if not permission_sets:
        return []
    base = f"arn:aws:iam::{config.sso_account_id}:role/aws-reserved/sso.amazonaws.com"
    patterns = [f"{base}{region}/AWSReservedSSO_{ps}_{'?' * 16}" for ps in permission_sets for region in ("", "/*")]
    condition = {
        "ArnLike": {"aws:PrincipalArn": patterns},
        "StringEquals": {"aws:PrincipalOrgID": config.organization_id},
    }
    return [_allow("*", ASSUME, condition)]


def _oidc(config: FederationConfig, which: str) -> list[dict[str, Any]]:
    arns = names.oidc_provider_arns(config)
    out = []
    for trust in config.ci.oidc:
        subjects = trust.apply_subjects if which == "apply" else trust.plan_subjects
        if subjects:
            host = issuer_host(trust.issuer)
            condition = {"StringEquals": {f"{host}:aud": trust.aud}, "StringLike": {f"{host}:sub": list(subjects)}}
            out.append(_allow({"Federated": arns[trust.name]}, WEB_IDENTITY, condition))
    return out


def _assumers(config: FederationConfig, model: IamModel) -> list[Property]:
    by_arn = {role.arn: role for role in model.roles.values()}
    out: list[Property] = []
    org = config.organization_id
    assumer = by_arn.get(names.assumer_arn(config))
    if assumer is not None:
        admitted = [
            _allow({"Service": "ec2.amazonaws.com"}, "sts:AssumeRole"),
            *_sso(config, config.sso.permission_sets),
            *(
                [_allow({"AWS": sorted(config.ci.extra_trusted_principal_arns)}, ASSUME)]
                if config.ci.extra_trusted_principal_arns
                else []
            ),
            *_oidc(config, "apply"),
        ]
        for mode in ("admits-only", "admits-all"):
            out.append(
                Property(
                    "assumer trust admits exactly the runners, the configured permission sets' SSO roles and "
                    "principals, and the apply subjects",
                    ["assumer"],
                    assumer.trust,
                    mode,
                    _doc(*admitted),
                    "docs/security.md: the trust root",
                    role_arn=assumer.arn,
                )
            )
        doer = config.roles.doer
        out.append(
            Property(
                "assumer reaches only doer-named roles of the organization and state-mgmt",
                ["assumer"],
                _combined(assumer),
                "admits-only",
                _doc(
                    _allow(
                        None,
                        ASSUME,
                        {"StringEquals": {"aws:ResourceOrgID": org}},
                        Resource=_any_account_role(doer.path, doer.name),
                    ),
                    _allow(None, ASSUME, Resource=names.state_mgmt_arn(config)),
                ),
                "docs/security.md: the assumer may only assume doers and state-mgmt",
                role_resource=True,
                role_arn=assumer.arn,
            )
        )
    if config.plan_path.enabled:
        plan_assumer = by_arn.get(names.plan_assumer_arn(config))
        if plan_assumer is not None:
            out.append(
                Property(
                    "plan assumer trust admits only the plan permission sets' SSO roles and the plan subjects",
                    ["plan-assumer"],
                    plan_assumer.trust,
                    "admits-only",
                    _doc(*_sso(config, config.plan_path.permission_sets), *_oidc(config, "plan")),
                    "docs/plan-path.md",
                    role_arn=plan_assumer.arn,
                )
            )
            plan_doer = config.plan_path.doer
            out.append(
                Property(
                    "plan assumer reaches only plan-doer-named roles of the organization, the state reader and the "
                    "guard reader",
                    ["plan-assumer"],
                    _combined(plan_assumer),
                    "admits-only",
                    _doc(
                        _allow(
                            None,
                            ASSUME,
                            {"StringEquals": {"aws:ResourceOrgID": org}},
                            Resource=_any_account_role(plan_doer.path, plan_doer.name),
                        ),
                        _allow(None, ASSUME, Resource=names.state_reader_arn(config)),
                        # docs/security.md, providers in plan mode: the guard's read-only role, when configured.
                        *[_allow(None, ASSUME, Resource=arn) for arn in [names.guard_reader_arn(config)] if arn],
                    ),
                    "docs/plan-path.md",
                    role_resource=True,
                    role_arn=plan_assumer.arn,
                )
            )
    return out


def not_in(arns: list[str]) -> dict[str, Any]:
    return {"ArnNotEquals": {"aws:PrincipalArn": arns}}


def _guards(config: FederationConfig, model: IamModel) -> list[Property]:
    """The bucket's and table's allow-lists (docs/security.md, "bucket policy" and "lock table policy")."""
    out: list[Property] = []
    state_mgmt = names.state_mgmt_arn(config)
    reader = names.state_reader_arn(config) if config.plan_path.enabled else None
    plan_doer = names.plan_doer_arns(config)[config.shared_account.name] if config.plan_path.enabled else None
    deployers = names.deployer_arns(config)
    state_roles = [state_mgmt, *([reader] if reader else [])]
    named = sorted({*state_roles, *deployers, *([plan_doer] if plan_doer else [])})
    bucket = f"arn:aws:s3:::{model.bucket_name}"
    if model.bucket_policy is not None:
        everything = [bucket, f"{bucket}/*"]
        must_deny: list[dict[str, Any]] = [
            _allow("*", "s3:*", not_in(named), Resource=everything),
            _allow("*", "s3:*", not_in(state_roles), Resource=f"{bucket}/*"),
            {"Effect": "Allow", "Principal": {"AWS": state_mgmt}, "NotAction": "s3:ListBucket", "Resource": bucket},
        ]
        if reader:
            must_deny.append(
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": reader},
                    "NotAction": ["s3:GetObject", "s3:ListBucket"],
                    "Resource": everything,
                }
            )
        if plan_doer:
            must_deny.append(
                {"Effect": "Allow", "Principal": {"AWS": plan_doer}, "NotAction": "s3:Get*", "Resource": bucket}
            )
        out.append(
            Property(
                "bucket policy denies the bucket to all but the named roles, its objects to all but state-mgmt and "
                "the reader, and each named role all but its own actions",
                [model.bucket_name],
                model.bucket_policy,
                "denies",
                _doc(*must_deny),
                "docs/security.md: bucket policy",
            )
        )
    if model.table_policy is not None:
        table = model.table_arn
        must_deny = [
            _allow("*", "dynamodb:*", not_in(named), Resource=[table, f"{table}/*"]),
            _allow({"AWS": deployers}, [*TABLE_ITEMS, *TABLE_COPIES], Resource=table),
            _allow({"AWS": state_mgmt}, TABLE_CONFIG, Resource=table),
        ]
        if reader:
            must_deny.append(
                _allow({"AWS": reader}, [a for a in TABLE_ITEMS if a != "dynamodb:GetItem"], Resource=table)
            )
        if plan_doer:
            must_deny.append(_allow({"AWS": plan_doer}, [*TABLE_ITEMS, *TABLE_CONFIG], Resource=table))
        out.append(
            Property(
                "lock table policy denies the table to all but the named roles, items to all but state-mgmt (the "
                "reader: GetItem only), settings to state-mgmt, items and copies to the deployers",
                [table.split("/")[-1]],
                model.table_policy,
                "denies",
                _doc(*must_deny),
                "docs/security.md: lock table policy",
            )
        )
    return out


def _state_scope(config: FederationConfig, model: IamModel) -> list[Property]:
    by_arn = {role.arn: role for role in model.roles.values()}
    role = by_arn.get(names.state_mgmt_arn(config))
    if role is None or not config.state_backend.isolate_accounts:
        return []
    bucket = f"arn:aws:s3:::{model.bucket_name}"
    readable = config.readable_prefixes  # <account id>/<path>/
    own = "${aws:PrincipalTag/StateAccount}"
    return [
        Property(
            "state-mgmt's objects are exactly <bucket>/<its StateAccount>/ (and reads of readable_state)",
            ["state-mgmt"],
            _combined(role),
            "admits-only",
            _doc(
                _allow(None, ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"], Resource=f"{bucket}/{own}/*"),
                *([_allow(None, "s3:GetObject", Resource=[f"{bucket}/{p}*" for p in readable])] if readable else []),
            ),
            "docs/security.md: state-mgmt permissions",
            scope=_doc(_allow(None, "s3:*", Resource=f"{bucket}/*")),
            role_arn=role.arn,
        )
    ]


# docs/security.md, organization guard: what nobody but the deployers does to a federation role.
ROLE_CHANGES = [
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
    "iam:PutRolePolicy",
    "iam:DeleteRolePolicy",
    "iam:AttachRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:DeleteRolePermissionsBoundary",
    "iam:TagRole",
    "iam:UntagRole",
]
BACKEND_POLICY_CHANGES = [
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "dynamodb:PutResourcePolicy",
    "dynamodb:DeleteResourcePolicy",
]


def _guard(config: FederationConfig, model: IamModel) -> list[Property]:
    """The organization guard (SCP): it binds every IAM principal of the accounts below it, root users included
    (AWS Organizations User Guide, "Service control policies"), so the requests considered are IAM principals'."""
    if not config.organization_guard.enabled or not model.scps:
        return []
    roles = config.roles
    bootstrap = ("/", config.providers.bootstrap_role_name)
    protected = [
        (roles.doer.path, roles.doer.name),
        (roles.assumer.path, roles.assumer.name),
        (roles.state_mgmt.path, roles.state_mgmt.name),
        bootstrap,
    ]
    if config.plan_path.enabled:
        plan = config.plan_path
        protected += [(r.path, r.name) for r in (plan.doer, plan.assumer, plan.state_reader)]
    deployers = sorted({_any_account_role(*bootstrap), _any_account_role(roles.doer.path, roles.doer.name)})
    launchers = sorted({*deployers, *config.organization_guard.runner_launcher_arns})
    iam_principal = {"Null": {"aws:PrincipalArn": "false"}}
    must_deny = _doc(
        _allow(
            None,
            ROLE_CHANGES,
            {"ArnNotLike": {"aws:PrincipalArn": deployers}},
            Resource=sorted({_any_account_role(p, n) for p, n in protected}),
        ),
        _allow(
            None,
            "iam:PassRole",
            {"ArnNotLike": {"aws:PrincipalArn": launchers}},
            Resource=_any_account_role(roles.assumer.path, roles.assumer.name),
        ),
        _allow(
            None,
            BACKEND_POLICY_CHANGES,
            {"ArnNotLike": {"aws:PrincipalArn": deployers}},
            Resource=[f"arn:aws:s3:::{model.bucket_name}", model.table_arn],
        ),
    )
    return [
        Property(
            "organization guard denies changes to the federation's roles, passing the runners' role and rewriting "
            "the backend's policies to all but the deployers (and launchers)",
            [f"scp-{i}"],
            scp,
            "denies",
            must_deny,
            "docs/security.md: organization guard",
            scope=_doc(_allow(None, "*", iam_principal, Resource="*")),
        )
        for i, scp in enumerate(model.scps)
    ]


# docs/security.md, state key: what the key admins may do (describe, list, rotate, tag); state-mgmt's use of it.
KEY_AUDIT = ["kms:Describe*", "kms:Get*", "kms:List*", "kms:EnableKeyRotation", "kms:TagResource"]
KEY_USE = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
KEY_READ = ["kms:Decrypt", "kms:DescribeKey"]
# What a refresh reads of the key (terraform-provider-aws internal/service/kms/key.go resourceKeyRead): plan mode's
# identity in the shared account (the shared plan doer) reads these and nothing else.
KEY_SETTINGS_READ = ["kms:DescribeKey", "kms:GetKeyPolicy", "kms:GetKeyRotationStatus", "kms:ListResourceTags"]


def _key(config: FederationConfig, model: IamModel) -> list[Property]:
    """The key policy is the key's only grant (it names no account root, so no IAM policy can add to it: AWS KMS
    Developer Guide, "Key policies in AWS KMS"): whatever it allows, the promise must."""
    if model.key_policy is None:
        return []
    region = config.region
    via = {"StringEquals": {"kms:ViaService": [f"s3.{region}.amazonaws.com", f"dynamodb.{region}.amazonaws.com"]}}
    statements = [_allow({"AWS": names.deployer_arns(config)}, "kms:*", Resource="*")]
    if config.state_backend.kms.key_admin_arns:
        statements.append(_allow({"AWS": sorted(config.state_backend.kms.key_admin_arns)}, KEY_AUDIT, Resource="*"))
    statements.append(_allow({"AWS": names.state_mgmt_arn(config)}, KEY_USE, via, Resource="*"))
    if config.plan_path.enabled:
        # docs/plan-path.md: the state reader decrypts through the stores, nothing else.
        statements.append(_allow({"AWS": names.state_reader_arn(config)}, KEY_READ, via, Resource="*"))
        plan_doer = names.plan_doer_arns(config)[config.shared_account.name]
        statements.append(_allow({"AWS": plan_doer}, KEY_SETTINGS_READ, Resource="*"))
    return [
        Property(
            "key policy lets only the deployers administer the state key; key admins describe, list, rotate and "
            "tag it; state-mgmt uses it only through S3 and DynamoDB",
            ["state-key"],
            model.key_policy,
            "admits-only",
            _doc(*statements),
            "docs/security.md: state key",
        )
    ]


# docs/plan-path.md, plan doer: "Deny every IAM write (iam:Create*, Put*, Attach*, Update*, Delete*, Detach*, Tag*,
# PassRole, ...) and Deny assuming any role but the state reader", whatever the managed policies grant.
IAM_WRITES = ["iam:Create*", "iam:Put*", "iam:Attach*", "iam:Update*", "iam:Delete*", "iam:Detach*", "iam:Tag*"]
IAM_WRITES += ["iam:Untag*", "iam:PassRole", "iam:Add*", "iam:Remove*", "iam:Set*", "iam:Upload*"]


def _plan_doers(config: FederationConfig, model: IamModel) -> list[Property]:
    if not config.plan_path.enabled:
        return []
    by_arn = {role.arn: role for role in model.roles.values()}
    reader = names.state_reader_arn(config)
    must_deny = _doc(
        _allow(None, ASSUME, NotResource=reader),
        _allow(None, IAM_WRITES, Resource="*"),
    )
    return [
        Property(
            "plan doer's guard denies every IAM write and assuming any role but the state reader",
            [f"plan-doer@{account}"],
            _combined(by_arn[arn]),
            "denies",
            must_deny,
            "docs/plan-path.md: plan doer, inline guard plan-only",
            account=by_arn[arn].account,
            role_arn=arn,
        )
        for account, arn in names.plan_doer_arns(config).items()
        if arn in by_arn
    ]


def properties(config: FederationConfig, model: IamModel) -> list[Property]:
    """Every property of this organization, identical documents (up to their own account id) merged into one."""
    found = [*_trusts(config, model), *_assumers(config, model), *_state_scope(config, model), *_guards(config, model)]
    found += _guard(config, model) + _key(config, model) + _plan_doers(config, model)
    classes: dict[str, Property] = {}
    for prop in found:
        key = prop.class_key()
        if key in classes:
            classes[key].members += prop.subjects
        else:
            prop.members = list(prop.subjects)
            classes[key] = prop
    return list(classes.values())
