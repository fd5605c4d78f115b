"""The plan path's roles: the plan assumer in the shared account, and a plan doer in every account.

Components of their own beside AssumerRole and DoerRole, so that turning the plan path on only adds resources: no
URN of the apply path changes, and turning it off again removes exactly these.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_aws as aws

from federation import documents
from federation.config import Account, FederationConfig, PlanDoerPolicies
from iam.doer import attach_managed_policies, policy_json
from iam.providers import child_options


@dataclass(frozen=True)
class PlanAssumerRoleArgs:
    config: FederationConfig
    provider: aws.Provider
    # Further trust statements (pull-request CI identities), built by the CI side of the program.
    extra_trust_statements: Sequence[dict[str, Any]] = field(default_factory=tuple)
    # IAM refuses a trust naming a Federated principal that does not exist yet: the OIDC providers come first.
    trusted_providers: Sequence[pulumi.Resource] = field(default_factory=tuple)


class PlanAssumerRole(pulumi.ComponentResource):
    """Role + inline policy: it may assume the plan doers and the state reader, nothing else (no instance profile)."""

    def __init__(self, name: str, args: PlanAssumerRoleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iam-federation:iam:PlanAssumerRole", name, None, opts)
        config = args.config
        settings = config.plan_path.assumer
        self.role: aws.iam.Role = aws.iam.Role(
            f"{name}-role",
            name=settings.name,
            path=settings.path,
            max_session_duration=settings.max_session_duration,
            assume_role_policy=json.dumps(documents.plan_assumer_trust(config, args.extra_trust_statements)),
            description="Plan path: read-only permission sets and pull-request CI; assumes plan doers and the state "
            "reader only.",
            opts=child_options(self, args.provider, depends_on=list(args.trusted_providers)),
        )
        aws.iam.RolePolicy(
            f"{name}-assume-only",
            role=self.role.name,
            name="assume-plan-doers-and-state-reader",
            policy=json.dumps(documents.plan_assumer_permissions(config)),
            opts=child_options(self, args.provider),
        )
        self.register_outputs({"role_arn": self.role.arn, "role_name": self.role.name})


@dataclass(frozen=True)
class PlanFacts:
    """What every plan doer needs from the shared part of the federation (plain values, or a shared stack's outputs)."""

    plan_doer_name: pulumi.Input[str]
    plan_doer_path: pulumi.Input[str]
    plan_assumer_arn: pulumi.Input[str]
    state_reader_arn: pulumi.Input[str]
    state_reader_trusts_plan_doers: pulumi.Input[bool]


@dataclass(frozen=True)
class PlanDoerRoleArgs:
    account: Account
    policies: PlanDoerPolicies
    provider: aws.Provider
    plan: PlanFacts
    # The shared account's plan doer, where the runners live: the tag that marks their secrets.
    runner_tag: tuple[str, str] | None = None


class PlanDoerRole(pulumi.ComponentResource):
    """Role trusted by the plan assumer only: read-only managed policies, and a guard against every way to write."""

    def __init__(self, name: str, args: PlanDoerRoleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iam-federation:iam:PlanDoerRole", name, None, opts)
        policies, plan = args.policies, args.plan
        # Like the doer: an account moving to another stack keeps its plan doer in AWS.
        keep = {"retain_on_delete": True} if args.account.retain_on_delete else {}
        self.role: aws.iam.Role = aws.iam.Role(
            f"{name}-role",
            name=plan.plan_doer_name,
            path=plan.plan_doer_path,
            max_session_duration=policies.max_session_duration,
            permissions_boundary=policies.permissions_boundary_arn,
            assume_role_policy=policy_json(documents.plan_doer_trust, plan.plan_assumer_arn),
            description=f"Plan doer of account {args.account.name}: reads only; trusted by the plan assumer only.",
            opts=child_options(self, args.provider, **keep),
        )
        attach_managed_policies(self, name, self.role, policies.managed_policy_arns, args.provider, **keep)
        aws.iam.RolePolicy(
            f"{name}-guard",
            role=self.role.name,
            name="plan-only",
            policy=policy_json(
                documents.plan_doer_guard, plan.state_reader_arn, plan.state_reader_trusts_plan_doers, args.runner_tag
            ),
            opts=child_options(self, args.provider, **keep),
        )
        self.register_outputs({})
