"""The doer (spoken) role of one account, created through that account's provider."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pulumi
import pulumi_aws as aws

from federation import documents
from federation.config import Account, DoerPolicies
from iam.policies import PolicyDocument
from iam.providers import child_options


@dataclass(frozen=True)
class SharedFacts:
    """What every doer needs from the shared part of the federation.

    Plain values in a complete stack; in a member stack, outputs of the shared stack read through a StackReference.
    """

    doer_name: pulumi.Input[str]
    doer_path: pulumi.Input[str]
    assumer_arn: pulumi.Input[str]
    state_mgmt_arn: pulumi.Input[str]
    state_mgmt_trusts_doers: pulumi.Input[bool]
    require_source_identity: pulumi.Input[bool] = False


@dataclass(frozen=True)
class DoerRoleArgs:
    account: Account
    policies: DoerPolicies
    provider: aws.Provider
    shared: SharedFacts


def policy_json(build: Callable[..., PolicyDocument], *inputs: pulumi.Input[Any]) -> pulumi.Input[str]:
    """A document as JSON text: plain when every input is known now, an Output only when one of them is one.

    Plain text keeps a complete stack's documents visible in preview and costs the engine no extra round trip.
    """
    if any(isinstance(value, pulumi.Output) for value in inputs):
        return pulumi.Output.all(*inputs).apply(lambda values: json.dumps(build(*values)))
    return json.dumps(build(*inputs))


def attach_managed_policies(
    parent: pulumi.Resource,
    name: str,
    role: aws.iam.Role,
    policy_arns: dict[str, str],
    provider: aws.Provider,
    **keep: object,
) -> None:
    """One attachment per configured policy, keyed by its key: reordering or adding one touches only that one."""
    for key, policy_arn in sorted(policy_arns.items()):
        aws.iam.RolePolicyAttachment(
            f"{name}-{key}",
            aws.iam.RolePolicyAttachmentArgs(role=role.name, policy_arn=policy_arn),
            opts=child_options(parent, provider, **keep),
        )


class DoerRole(pulumi.ComponentResource):
    """Role trusted by the assumer only, with the configured managed policies attached."""

    # Attributes are declared in __init__, not on the class: the SDK resolves a component class's annotations
    # (typing.get_type_hints) on every registration, and there is one DoerRole per account.
    def __init__(self, name: str, args: DoerRoleArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("iam-federation:iam:DoerRole", name, None, opts)
        policies = args.policies
        # retain_on_delete lets an account move to another stack without its doer being deleted in AWS.
        keep = {"retain_on_delete": True} if args.account.retain_on_delete else {}
        self.role: aws.iam.Role = aws.iam.Role(
            f"{name}-role",
            name=args.shared.doer_name,
            path=args.shared.doer_path,
            max_session_duration=policies.max_session_duration,
            permissions_boundary=policies.permissions_boundary_arn,
            assume_role_policy=policy_json(
                documents.doer_trust, args.shared.assumer_arn, args.shared.require_source_identity
            ),
            description=f"Doer role of account {args.account.name}; trusted by the assumer role only.",
            opts=child_options(self, args.provider, **keep),
        )
        attach_managed_policies(self, name, self.role, policies.managed_policy_arns, args.provider, **keep)
        aws.iam.RolePolicy(
            f"{name}-state-access",
            role=self.role.name,
            name="state-mgmt-access",
            policy=policy_json(
                documents.doer_state_access, args.shared.state_mgmt_arn, args.shared.state_mgmt_trusts_doers
            ),
            opts=child_options(self, args.provider, **keep),
        )
        # One per account: the role's outputs are read from self.role, so the component records none of its own in
        # the state (measured: 7% of a 300-account run under mocks).
        self.register_outputs({})
