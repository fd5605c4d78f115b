"""Every policy document of the program, from validated config: the one mapping from config to documents.

Pure (no Pulumi): the components wire these into resources, the limit checks measure them, tests read them.
Where a component has an Output (an ARN AWS returns), it passes the resolved string in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from federation import names
from federation.config import FederationConfig
from iam import plan_policies
from iam import policies as iam_policies
from iam.policies import PolicyDocument
from state_backend import policies as sb_policies

# A KMS key ARN's length is fixed; the limit checks measure documents with one of the same length.
PLACEHOLDER_KEY_ARN = "arn:aws:kms:us-east-1:000000000000:key/00000000-0000-0000-0000-000000000000"


def sse_algorithm(config: FederationConfig) -> str:
    return "aws:kms" if config.state_backend.kms.enabled else "AES256"


def lock_table_arn(config: FederationConfig) -> str:
    return sb_policies.table_arn(config.region, config.shared_account.id, config.lock_table_name)


def web_identity_trusts(config: FederationConfig) -> list[iam_policies.WebIdentityTrust]:
    """The configured CI trusts as the policy builders take them, each with its provider's ARN."""
    arns = names.oidc_provider_arns(config)
    return [
        iam_policies.WebIdentityTrust(
            name=trust.name,
            provider_arn=arns[trust.name],
            issuer_url=trust.issuer,
            audience=trust.aud,
            apply_subjects=tuple(trust.apply_subjects),
            plan_subjects=tuple(trust.plan_subjects),
        )
        for trust in config.ci.oidc
    ]


def assumer_trust(config: FederationConfig) -> PolicyDocument:
    return iam_policies.assumer_trust_policy(
        sso_account_id=config.sso_account_id,
        permission_sets=config.sso.permission_sets,
        organization_id=config.organization_id,
        extra_principal_arns=config.ci.extra_trusted_principal_arns,
        web_identity=web_identity_trusts(config),
    )


def assumer_permissions(config: FederationConfig) -> PolicyDocument:
    return iam_policies.assumer_permissions_policy(
        doer_path=config.roles.doer.path,
        doer_name=config.roles.doer.name,
        state_mgmt_arn=names.state_mgmt_arn(config),
        organization_id=config.organization_id,
        runner_vpc_ids=config.ci.runner_vpc_ids,
    )


def doer_trust(assumer_arn: str, require_source_identity: bool = False) -> PolicyDocument:
    return iam_policies.doer_trust_policy(assumer_arn=assumer_arn, require_source_identity=require_source_identity)


def doer_state_access(state_mgmt_arn: str, trust_doers: bool) -> PolicyDocument:
    return iam_policies.doer_state_access_policy(state_mgmt_arn=state_mgmt_arn, allowed=trust_doers)


def state_mgmt_trust(config: FederationConfig) -> PolicyDocument:
    return sb_policies.state_mgmt_trust_policy(
        assumer_arn=names.assumer_arn(config),
        trust_doers=config.state_backend.state_mgmt_trusts_doers,
        isolate_accounts=config.state_backend.isolate_accounts,
        doer_path=config.roles.doer.path,
        doer_name=config.roles.doer.name,
        organization_id=config.organization_id,
        require_source_identity=config.sessions.require_source_identity,
    )


def state_mgmt_permissions(config: FederationConfig, kms_key_arn: str | None = None) -> PolicyDocument:
    return sb_policies.state_mgmt_permissions_policy(
        bucket=config.bucket_name,
        table_arn=lock_table_arn(config),
        region=config.region,
        bucket_account=config.shared_account.id,
        isolate_accounts=config.state_backend.isolate_accounts,
        readable_prefixes=config.readable_prefixes,
        kms_key_arn=kms_key_arn,
        list_all_keys=config.state_backend.list_keys == "bucket",
    )


def key_admin_arns(config: FederationConfig, shared_doer_arn: str) -> list[str]:
    """The roles Pulumi runs as in the shared account: the only ones that may disable, delete or re-policy the key."""
    return [names.bootstrap_role_arn(config, config.shared_account.id), shared_doer_arn]


def state_key_policy(
    config: FederationConfig, shared_doer_arn: str, state_mgmt_arn: str, state_reader_arn: str | None = None
) -> PolicyDocument:
    """state_reader_arn: the plan path's reader as AWS returned it (None when the plan path is off)."""
    admins = key_admin_arns(config, shared_doer_arn)
    return sb_policies.state_key_policy(
        admin_arns=admins,
        auditor_arns=[arn for arn in config.state_backend.kms.key_admin_arns if arn not in admins],
        state_mgmt_arn=state_mgmt_arn,
        account_id=config.shared_account.id,
        region=config.region,
        state_reader_arn=state_reader_arn,
        plan_doer_arn=shared_plan_doer_arn(config),
    )


def shared_plan_doer_arn(config: FederationConfig) -> str | None:
    """Plan mode's identity in the shared account (`pulumi preview` with the plan path): it reads the backend's
    settings, so the backend's allow-lists name it (None when the plan path is off)."""
    return names.plan_doer_arns(config)[config.shared_account.name] if config.plan_path.enabled else None


def bucket_policy(config: FederationConfig) -> PolicyDocument:
    return sb_policies.state_bucket_policy(
        bucket=config.bucket_name,
        state_mgmt_arn=names.state_mgmt_arn(config),
        deployer_arns=names.deployer_arns(config),
        sse_algorithm=sse_algorithm(config),
        state_reader_arn=names.state_reader_arn_if_enabled(config),
        plan_doer_arn=shared_plan_doer_arn(config),
    )


def lock_table_policy(config: FederationConfig, table_arn: str) -> PolicyDocument:
    return sb_policies.lock_table_policy(
        table_arn=table_arn,
        state_mgmt_arn=names.state_mgmt_arn(config),
        deployer_arns=names.deployer_arns(config),
        state_reader_arn=names.state_reader_arn_if_enabled(config),
        plan_doer_arn=shared_plan_doer_arn(config),
    )


def organization_guard(config: FederationConfig) -> PolicyDocument:
    roles = config.roles
    bootstrap = ("/", config.providers.bootstrap_role_name)
    doer = (roles.doer.path, roles.doer.name)
    plan = config.plan_path
    plan_roles = [(p.path, p.name) for p in (plan.doer, plan.assumer, plan.state_reader)] if plan.enabled else []
    return iam_policies.organization_guard_policy(
        protected_roles=[
            doer,
            (roles.assumer.path, roles.assumer.name),
            (roles.state_mgmt.path, roles.state_mgmt.name),
            bootstrap,
            *plan_roles,
        ],
        # The bootstrap role deploys on the first run; each account's doer deploys (and so edits) its account's
        # federation roles after that (providers.mode = doer).
        deployer_roles=[bootstrap, doer],
        runner_role=(roles.assumer.path, roles.assumer.name),
        runner_instance_profile=(roles.assumer.path, config.ci.instance_profile_name),
        runner_launcher_arns=config.organization_guard.runner_launcher_arns,
        backend_resources=[sb_policies.bucket_arn(config.bucket_name), lock_table_arn(config)],
        runners_account_id=config.shared_account.id,
        platform_arns=runners_account_platform_arns(config),
        assume_only_arns=[*runners_account_assume_only_arns(config), *runners_account_break_glass_arns(config)],
        backend_role_arns=runners_account_backend_role_arns(config),
        perimeter_backend_resources=runners_account_backend_resources(config),
    )


def runners_account_platform_arns(config: FederationConfig) -> list[str]:
    """The roles that act freely in the runners' account (the shared account) when the guard's perimeter is on.

    The deployers (bootstrap role, shared doer: Terraform and Pulumi run as them there), the runners' launchers,
    the configured platform roles (trust root: docs/security.md) and the shared account's plan doer (ReadOnlyAccess
    under its guard). Roles untrusted people hold are not here: the assumer and plan assumer may only assume roles
    (runners_account_assume_only_arns), state-mgmt and the state reader act only on the backend
    (runners_account_backend_role_arns). Every other principal of that account is denied everything but assuming
    a role, and that only when it is break-glass.
    """
    arns = [
        *names.deployer_arns(config),
        *config.organization_guard.runner_launcher_arns,
        *config.organization_guard.platform_arns,
    ]
    if config.plan_path.enabled and config.plan_path.runners_account_doer:
        arns.append(names.plan_doer_arns(config)[config.shared_account.name])
    return sorted(set(arns))


def runners_account_assume_only_arns(config: FederationConfig) -> list[str]:
    """The assumer (every runner, every apply job) and the plan assumer (every pull request): in the runners'
    account they may assume roles, nothing else, whatever a resource policy there grants the account."""
    arns = [names.assumer_arn(config)]
    if config.plan_path.enabled:
        arns.append(names.plan_assumer_arn(config))
    return sorted(arns)


def runners_account_backend_role_arns(config: FederationConfig) -> list[str]:
    """state-mgmt (every application account's admin, through its doer) and the state reader (every plan
    identity): in the runners' account they act on the state backend only (runners_account_backend_resources)."""
    arns = [names.state_mgmt_arn(config)]
    if config.plan_path.enabled:
        arns.append(names.state_reader_arn(config))
    return sorted(arns)


def runners_account_backend_resources(config: FederationConfig) -> list[str]:
    """What the backend roles may act on in the runners' account: the bucket and its objects, the lock table and
    what is under it, and (with KMS) the shared account's keys in the stack's region (the key's id is known only
    after it is created; the key policy and the roles' own policies name the key itself)."""
    bucket = sb_policies.bucket_arn(config.bucket_name)
    resources = [bucket, f"{bucket}/*", *sb_policies.table_resources(lock_table_arn(config), everything_under=True)]
    if config.state_backend.kms.enabled:
        resources.append(f"arn:aws:kms:{config.region}:{config.shared_account.id}:key/*")
    return resources


def runners_account_break_glass_arns(config: FederationConfig) -> list[str]:
    """Who of the runners' account may only assume roles from there: the trusted SSO roles (apply and plan
    permission sets, when Identity Center's account is the runners' account) and extra CI principals there."""
    shared = config.shared_account.id
    arns: list[str] = []
    if config.sso_account_id == shared:
        sets = [*config.sso.permission_sets, *(config.plan_path.permission_sets if config.plan_path.enabled else [])]
        for permission_set in sorted(set(sets)):
            arns += iam_policies.sso_role_arn_patterns(shared, permission_set)
    arns += [arn for arn in config.ci.extra_trusted_principal_arns if arn.split(":")[4] == shared]
    return sorted(set(arns))


def oidc_plan_statements(config: FederationConfig) -> list[dict[str, Any]]:
    """The plan assumer's trust of pull-request CI tokens: every trust's plan_subjects."""
    return iam_policies.oidc_trust_statements(web_identity_trusts(config), "plan")


def plan_assumer_trust(config: FederationConfig, extra_statements: Sequence[dict[str, Any]] = ()) -> PolicyDocument:
    """extra_statements: further trust of the plan assumer (pull-request CI identities), built elsewhere."""
    return plan_policies.plan_assumer_trust_policy(
        sso_account_id=config.sso_account_id,
        permission_sets=config.plan_path.permission_sets,
        organization_id=config.organization_id,
        extra_statements=extra_statements,
    )


def plan_assumer_permissions(config: FederationConfig) -> PolicyDocument:
    doer = config.plan_path.doer
    return plan_policies.plan_assumer_permissions_policy(
        plan_doer_path=doer.path,
        plan_doer_name=doer.name,
        state_reader_arn=names.state_reader_arn(config),
        organization_id=config.organization_id,
        guard_reader_arn=names.guard_reader_arn(config),
        runners_account_id=config.shared_account.id if config.state_backend.isolate_accounts else None,
    )


def plan_permission_set_inline(config: FederationConfig) -> PolicyDocument:
    """What to paste into each read-only permission set of plan_path.permission_sets (docs/plan-path.md)."""
    return plan_policies.plan_permission_set_policy(plan_assumer_arn=names.plan_assumer_arn(config))


def plan_doer_trust(plan_assumer_arn: str) -> PolicyDocument:
    return plan_policies.plan_doer_trust_policy(plan_assumer_arn=plan_assumer_arn)


def plan_doer_guard(
    state_reader_arn: str, trust_plan_doers: bool, runner_tag: tuple[str, str] | None = None
) -> PolicyDocument:
    return plan_policies.plan_doer_guard_policy(
        state_reader_arn=state_reader_arn, state_reader_allowed=trust_plan_doers, runner_tag=runner_tag
    )


def runner_tag(config: FederationConfig) -> tuple[str, str]:
    return (config.ci.runner_tag_key, config.ci.runner_tag_value)


def state_reader_trust(config: FederationConfig) -> PolicyDocument:
    # One switch for both chains: plan doers reach the state reader exactly when doers reach state-mgmt.
    return sb_policies.state_reader_trust_policy(
        plan_assumer_arn=names.plan_assumer_arn(config),
        trust_plan_doers=config.state_backend.state_mgmt_trusts_doers,
        isolate_accounts=config.state_backend.isolate_accounts,
        plan_doer_path=config.plan_path.doer.path,
        plan_doer_name=config.plan_path.doer.name,
        organization_id=config.organization_id,
        require_source_identity=config.sessions.require_source_identity,
    )


def state_reader_permissions(config: FederationConfig, kms_key_arn: str | None = None) -> PolicyDocument:
    return sb_policies.state_reader_permissions_policy(
        bucket=config.bucket_name,
        bucket_account=config.shared_account.id,
        table_arn=lock_table_arn(config),
        region=config.region,
        isolate_accounts=config.state_backend.isolate_accounts,
        readable_prefixes=config.readable_prefixes,
        kms_key_arn=kms_key_arn,
        list_all_keys=config.state_backend.list_keys == "bucket",
        runners_account_id=config.shared_account.id,
    )


def plan_documents(config: FederationConfig, kms_key_arn: str | None = None) -> dict[str, PolicyDocument]:
    """The plan path's own documents, by a readable name (none when it is off)."""
    if not config.plan_path.enabled:
        return {}
    return {
        "plan assumer trust policy": plan_assumer_trust(config, oidc_plan_statements(config)),
        "plan assumer inline policy": plan_assumer_permissions(config),
        "plan doer trust policy": plan_doer_trust(names.plan_assumer_arn(config)),
        "plan doer inline policy": plan_doer_guard(
            names.state_reader_arn(config), config.state_backend.state_mgmt_trusts_doers, runner_tag(config)
        ),
        "state-reader trust policy": state_reader_trust(config),
        "state-reader inline policy": state_reader_permissions(config, kms_key_arn),
    }


def all_documents(config: FederationConfig) -> dict[str, PolicyDocument]:
    """Every document the program writes, with the ARNs AWS will return, by a readable name."""
    assumer = names.assumer_arn(config)
    key = PLACEHOLDER_KEY_ARN if config.state_backend.kms.enabled else None
    result = {
        "assumer trust policy": assumer_trust(config),
        "assumer inline policy": assumer_permissions(config),
        "doer trust policy": doer_trust(assumer, config.sessions.require_source_identity),
        "state-mgmt trust policy": state_mgmt_trust(config),
        "state-mgmt inline policy": state_mgmt_permissions(config, key),
        "bucket policy": bucket_policy(config),
        "lock table policy": lock_table_policy(config, lock_table_arn(config)),
    }
    result["doer inline policy"] = doer_state_access(
        names.state_mgmt_arn(config), config.state_backend.state_mgmt_trusts_doers
    )
    if config.state_backend.kms.enabled:
        shared_doer = names.doer_arns(config)[config.shared_account.name]
        result["state key policy"] = state_key_policy(
            config, shared_doer, names.state_mgmt_arn(config), names.state_reader_arn_if_enabled(config)
        )
    if config.organization_guard.enabled:
        result["organization guard"] = organization_guard(config)
    result.update(plan_documents(config, key))
    return result
