"""The access-relevant part of what the program registered: roles, their documents, the bucket and the table.

Built from the mock run's RegisterResource requests only, never from the components' internals, so the access
matrix judges exactly what `pulumi up` would send to AWS.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from plan.runner import ProgramRun

Document = dict[str, Any]
_ROLE = "aws:iam/role:Role"


@dataclass
class RoleModel:
    arn: str
    account: str
    name: str
    trust: Document
    inline: dict[str, Document] = field(default_factory=dict)
    managed_arns: list[str] = field(default_factory=list)
    boundary_arn: str | None = None


@dataclass
class IamModel:
    roles: dict[str, RoleModel]
    bucket_name: str
    bucket_account: str
    bucket_policy: Document | None
    table_arn: str
    table_account: str
    table_policy: Document | None = None
    key_arn: str | None = None
    key_policy: Document | None = None
    # The service control policies the program registers (the organization guard), by the targets they attach to.
    scps: list[Document] = field(default_factory=list)
    # Role ARN -> names of the instance profiles that carry it (a role reachable by passing it to EC2).
    instance_profiles: dict[str, list[str]] = field(default_factory=dict)

    def role_named(self, logical: str) -> RoleModel:
        return self.roles[logical]

    def copy(self) -> IamModel:
        return copy.deepcopy(self)


def _doc(value: Any) -> Document:
    parsed = json.loads(value) if isinstance(value, str) else value
    if not isinstance(parsed, dict):
        raise ValueError(f"not a policy document: {value!r}")
    return parsed


def iam_model(run: ProgramRun, *more: ProgramRun) -> IamModel:
    """Roles keyed by their logical (Pulumi) name, e.g. ``assumer-role`` or ``doer-dev-role``.

    Several runs (a shared stack and its member stacks) make one model: together they are the organization.
    """
    roles: dict[str, RoleModel] = {}
    for part in more:
        roles.update(_roles(part))
    roles.update(_roles(run))
    (bucket,) = run.by_type("aws:s3/bucket:Bucket")
    (bucket_policy,) = run.by_type("aws:s3/bucketPolicy:BucketPolicy")
    (table,) = run.by_type("aws:dynamodb/table:Table")
    table_policies = run.by_type("aws:dynamodb/resourcePolicy:ResourcePolicy")
    keys = run.by_type("aws:kms/key:Key")
    profiles: dict[str, list[str]] = {}
    for part in (run, *more):
        by_name = {(part.account_of(r), str(r.inputs["name"])): str(r.state["arn"]) for r in part.by_type(_ROLE)}
        for profile in part.by_type("aws:iam/instanceProfile:InstanceProfile"):
            role = by_name[(part.account_of(profile), str(profile.inputs["role"]))]
            profiles.setdefault(role, []).append(str(profile.inputs["name"]))
    return IamModel(
        roles=roles,
        bucket_name=str(bucket.inputs["bucket"]),
        bucket_account=run.account_of(bucket),
        bucket_policy=_doc(bucket_policy.inputs["policy"]),
        table_arn=str(table.state["arn"]),
        table_account=run.account_of(table),
        table_policy=_doc(table_policies[0].inputs["policy"]) if table_policies else None,
        key_arn=str(keys[0].state["arn"]) if keys else None,
        key_policy=_doc(keys[0].inputs["policy"]) if keys else None,
        scps=[
            _doc(policy.inputs["content"])
            for part in (run, *more)
            for policy in part.by_type("aws:organizations/policy:Policy")
            if policy.inputs.get("type") == "SERVICE_CONTROL_POLICY"
        ],
        instance_profiles=profiles,
    )


def _roles(run: ProgramRun) -> dict[str, RoleModel]:
    roles: dict[str, RoleModel] = {}
    by_role_name: dict[tuple[str, str], RoleModel] = {}
    for reg in run.by_type(_ROLE):
        account = run.account_of(reg)
        role = RoleModel(
            arn=str(reg.state["arn"]),
            account=account,
            name=str(reg.inputs["name"]),
            trust=_doc(reg.inputs["assumeRolePolicy"]),
            boundary_arn=reg.inputs.get("permissionsBoundary"),
        )
        roles[reg.name] = role
        by_role_name[(account, role.name)] = role
    for reg in run.by_type("aws:iam/rolePolicy:RolePolicy"):
        target = by_role_name[(run.account_of(reg), str(reg.inputs["role"]))]
        target.inline[str(reg.inputs["name"])] = _doc(reg.inputs["policy"])
    for reg in run.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        target = by_role_name[(run.account_of(reg), str(reg.inputs["role"]))]
        target.managed_arns.append(str(reg.inputs["policyArn"]))
    return roles
