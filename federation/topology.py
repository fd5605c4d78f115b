"""The whole federation wired from a validated config: providers, assumer, doers, state backend, outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pulumi_aws as aws

from federation import names, snippets
from federation.config import FederationConfig
from iam.assumer import AssumerRole, AssumerRoleArgs
from iam.doer import DoerRole, DoerRoleArgs
from iam.providers import account_providers
from state_backend.backend import StateBackend, StateBackendArgs


@dataclass(frozen=True)
class Topology:
    config: FederationConfig
    providers: dict[str, aws.Provider]
    assumer: AssumerRole
    backend: StateBackend
    doers: dict[str, DoerRole]

    def outputs(self) -> dict[str, Any]:
        config = self.config
        return {
            "assumer_role_arn": self.assumer.role.arn,
            "instance_profile_name": self.assumer.instance_profile.name,
            "doer_role_arns": {name: doer.role.arn for name, doer in sorted(self.doers.items())},
            "state_mgmt_role_arn": self.backend.state_mgmt_role.arn,
            "state_bucket_name": self.backend.bucket.bucket,
            "lock_table_name": self.backend.table.name,
            "aws_config_snippet": snippets.aws_config_snippet(config),
            "terragrunt_root_hcl": snippets.terragrunt_root_hcl(config),
            "terragrunt_iam_role_arns": names.doer_arns(config),
        }


def build_topology(config: FederationConfig) -> Topology:
    providers = account_providers(config)
    shared = providers[config.shared_account.name]
    assumer = AssumerRole("assumer", AssumerRoleArgs(config=config, provider=shared))
    doers = {
        account.name: DoerRole(
            f"doer-{account.name}",
            DoerRoleArgs(
                account=account,
                config=config,
                provider=providers[account.name],
                assumer_arn=assumer.role.arn,
            ),
        )
        for account in config.all_accounts
    }
    backend = StateBackend(
        "state-backend",
        StateBackendArgs(
            config=config,
            provider=shared,
            assumer_arn=assumer.role.arn,
            shared_doer_arn=doers[config.shared_account.name].role.arn,
        ),
    )
    return Topology(config=config, providers=providers, assumer=assumer, backend=backend, doers=doers)
