"""The real program under Pulumi's mock runtime: resources, providers, documents, names and outputs."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pulumi
import pytest

from plan.runner import ProgramRun, Registration
from tests.conftest import doc, run_section, statements, with_changes

SHARED_ID, DEV_ID = "111111111111", "222222222222"
ACCOUNTS = {"shared": SHARED_ID, "dev": DEV_ID, "stage": "333333333333", "prod": "444444444444"}
ASSUMER_ARN = f"arn:aws:iam::{SHARED_ID}:role/infrastructure-assumer-role"
STATE_MGMT_ARN = f"arn:aws:iam::{SHARED_ID}:role/state-mgmt-role"
ASSUME = ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]


def one(run: ProgramRun, type_: str, name: str) -> Registration:
    matches = [r for r in run.registrations if r.type == type_ and r.name == name]
    assert len(matches) == 1, f"{type_} {name}: {len(matches)} registrations"
    return matches[0]


def aws_resources(run: ProgramRun) -> list[Registration]:
    return [r for r in run.registrations if r.type.startswith("aws:")]


# --- providers ---------------------------------------------------------------------------------------------------


def test_exactly_one_provider_per_account_pinned_to_it(example_run: ProgramRun) -> None:
    providers = example_run.by_type("pulumi:providers:aws")
    assert sorted(p.name for p in providers) == sorted(f"aws-{n}" for n in ACCOUNTS)
    for provider in providers:
        account = ACCOUNTS[provider.name.removeprefix("aws-")]
        assert json.loads(provider.inputs["allowedAccountIds"]) == [account]
        assert provider.inputs["region"] == "us-east-1"
        (assume,) = json.loads(provider.inputs["assumeRoles"])
        assert assume["roleArn"] == f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
        assert assume["sessionName"] == "iam-federation-pulumi"
        tags = json.loads(provider.inputs["defaultTags"])["tags"]
        assert tags == {"Project": "iam-federation", "ManagedBy": "pulumi/iam-federation"}


def test_doer_mode_assumes_each_accounts_doer(section: dict[str, Any]) -> None:
    run = run_section(with_changes(section, providers={"mode": "doer"}))
    for provider in run.by_type("pulumi:providers:aws"):
        account = ACCOUNTS[provider.name.removeprefix("aws-")]
        (assume,) = json.loads(provider.inputs["assumeRoles"])
        assert assume["roleArn"] == f"arn:aws:iam::{account}:role/infrastructure-doer-role"


def test_every_aws_resource_has_an_explicit_provider_in_the_right_account(example_run: ProgramRun) -> None:
    resources = aws_resources(example_run)
    assert resources, "no AWS resources registered"
    for resource in resources:
        assert resource.provider, f"{resource.name} uses the default provider"
        account = example_run.account_of(resource)
        if resource.name.startswith("doer-"):
            owner = resource.name.split("-")[1]
            assert account == ACCOUNTS[owner], resource.name
        else:
            assert account == SHARED_ID, resource.name


def test_example_stack_disables_default_providers(section: dict[str, Any]) -> None:
    assert section["pulumi:disable-default-providers"] == ["*"]


def test_flipping_provider_mode_changes_only_the_providers(section: dict[str, Any]) -> None:
    bootstrap = run_section(section)
    doer = run_section(with_changes(section, providers={"mode": "doer"}))
    before = {r.urn: r for r in bootstrap.registrations}
    after = {r.urn: r for r in doer.registrations}
    assert set(before) == set(after)
    changed = {urn for urn in before if before[urn].inputs != after[urn].inputs}
    assert changed == {r.urn for r in bootstrap.by_type("pulumi:providers:aws")}
    for urn in changed:
        old, new = before[urn].inputs, after[urn].inputs
        assert {k for k in old if old[k] != new.get(k)} == {"assumeRoles"}
    # Same provider URN and the same provider for every resource: the engine sees an update, not a replacement.
    assert all(before[urn].provider_urn == after[urn].provider_urn for urn in before)


# --- components --------------------------------------------------------------------------------------------------


def test_components_and_their_children(example_run: ProgramRun) -> None:
    components = {r.name: r.type for r in example_run.registrations if not r.custom}
    assert components["assumer"] == "iam-federation:iam:AssumerRole"
    assert components["state-backend"] == "iam-federation:state_backend:StateBackend"
    for name in ACCOUNTS:
        assert components[f"doer-{name}"] == "iam-federation:iam:DoerRole"
    by_urn = example_run.by_urn()
    for resource in aws_resources(example_run):
        parent = by_urn[resource.parent]
        assert parent.type.startswith("iam-federation:"), f"{resource.name} is not parented to a component"
        assert resource.name.startswith(parent.name + "-"), f"{resource.name} not prefixed by {parent.name}"


def test_assumer_role_trust_permissions_and_instance_profile(example_run: ProgramRun) -> None:
    role = one(example_run, "aws:iam/role:Role", "assumer-role")
    assert role.inputs["name"] == "infrastructure-assumer-role"
    assert role.inputs["maxSessionDuration"] == 3600
    trust = statements(doc(role.inputs["assumeRolePolicy"]))
    assert trust["CiRunnerInstances"]["Principal"] == {"Service": "ec2.amazonaws.com"}
    patterns = trust["SsoPermissionSets"]["Condition"]["ArnLike"]["aws:PrincipalArn"]
    assert len(patterns) == 2
    assert {p.split("AWSReservedSSO_")[1].rsplit("_", 1)[0] for p in patterns} == {"AWSAdministratorAccess"}
    assert trust["SsoPermissionSets"]["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}
    assert "ExtraPrincipals" not in trust

    policy = one(example_run, "aws:iam/rolePolicy:RolePolicy", "assumer-assume-only")
    perms = statements(doc(policy.inputs["policy"]))
    doers = "arn:aws:iam::????????????:role/infrastructure-doer-role"
    assert {s["Resource"] for s in perms.values()} == {doers, STATE_MGMT_ARN}
    assert all(s["Action"] == ASSUME for s in perms.values())
    attachments = [r for r in example_run.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment")]
    assert not [a for a in attachments if a.name.startswith("assumer")], "the assumer must get no managed policy"

    profile = one(example_run, "aws:iam/instanceProfile:InstanceProfile", "assumer-instance-profile")
    assert profile.inputs["name"] == "infrastructure-assumer"
    assert profile.inputs["role"] == "infrastructure-assumer-role"


def test_extra_principals_join_the_assumer_trust(section: dict[str, Any]) -> None:
    extra = "arn:aws:iam::555555555555:role/github-runner"
    run = run_section(
        with_changes(
            section, ci={"extra_trusted_principal_arns": [extra]}, accepted_risks=["extra-principal-account-admins"]
        )
    )
    trust = statements(doc(one(run, "aws:iam/role:Role", "assumer-role").inputs["assumeRolePolicy"]))
    assert trust["ExtraPrincipals"]["Principal"] == {"AWS": [extra]}


def test_doers_trust_the_assumer_arn_and_carry_policies(example_run: ProgramRun) -> None:
    for name, account in ACCOUNTS.items():
        role = one(example_run, "aws:iam/role:Role", f"doer-{name}-role")
        assert role.state["arn"] == f"arn:aws:iam::{account}:role/infrastructure-doer-role"
        (trust,) = doc(role.inputs["assumeRolePolicy"])["Statement"]
        assert trust["Principal"] == {"AWS": f"arn:aws:iam::{SHARED_ID}:root"}
        assert trust["Condition"] == {"ArnEquals": {"aws:PrincipalArn": ASSUMER_ARN}}
        assert trust["Action"] == ASSUME
        attachment = one(example_run, "aws:iam/rolePolicyAttachment:RolePolicyAttachment", f"doer-{name}-admin")
        assert attachment.inputs == {
            "role": "infrastructure-doer-role",
            "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess",
        }
        access = one(example_run, "aws:iam/rolePolicy:RolePolicy", f"doer-{name}-state-access")
        (statement,) = doc(access.inputs["policy"])["Statement"]
        assert statement == {"Sid": "AssumeStateMgmt", "Effect": "Allow", "Action": ASSUME, "Resource": STATE_MGMT_ARN}


def test_doer_boundary_and_policies_from_config(section: dict[str, Any]) -> None:
    boundary = "arn:aws:iam::111111111111:policy/doer-boundary"
    roles = {
        "doer": {
            "permissions_boundary_arn": boundary,
            "max_session_duration": 7200,
            "managed_policy_arns": {
                "power": "arn:aws:iam::aws:policy/PowerUserAccess",
                "iam": "arn:aws:iam::aws:policy/IAMFullAccess",
            },
        }
    }
    run = run_section(with_changes(section, roles=roles))
    role = one(run, "aws:iam/role:Role", "doer-dev-role")
    assert role.inputs["permissionsBoundary"] == boundary
    assert role.inputs["maxSessionDuration"] == 7200
    names = {a.name for a in run.by_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") if "dev" in a.name}
    assert names == {"doer-dev-power", "doer-dev-iam"}


def test_state_mgmt_trusting_only_the_assumer_denies_doers_the_way(section: dict[str, Any]) -> None:
    run = run_section(with_changes(section, state_backend={"state_mgmt_trusts_doers": False}))
    role = one(run, "aws:iam/role:Role", "state-backend-state-mgmt-role")
    trust = statements(doc(role.inputs["assumeRolePolicy"]))
    assert set(trust) == {"Assumer"}
    assert trust["Assumer"]["Principal"] == {"AWS": f"arn:aws:iam::{SHARED_ID}:root"}
    assert trust["Assumer"]["Condition"] == {
        "ArnEquals": {"aws:PrincipalArn": ASSUMER_ARN},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["StateAccount"]},
        "Null": {"aws:RequestTag/StateAccount": "false", "aws:PrincipalTag/StateAccount": "true"},
    }
    for name in ACCOUNTS:
        access = one(run, "aws:iam/rolePolicy:RolePolicy", f"doer-{name}-state-access")
        (statement,) = doc(access.inputs["policy"])["Statement"]
        assert statement == {"Sid": "NoStateMgmt", "Effect": "Deny", "Action": ASSUME, "Resource": STATE_MGMT_ARN}


def test_state_backend_bucket(example_run: ProgramRun) -> None:
    bucket = one(example_run, "aws:s3/bucket:Bucket", "state-backend-bucket")
    assert bucket.inputs["bucket"] == "terraform-state-111111111111"
    assert bucket.inputs.get("forceDestroy") is False
    assert bucket.protect and bucket.retain_on_delete
    versioning = one(example_run, "aws:s3/bucketVersioning:BucketVersioning", "state-backend-versioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    sse = one(
        example_run,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "state-backend-encryption",
    )
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    pab_type = "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock"
    pab = one(example_run, pab_type, "state-backend-public-access-block")
    for key in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"):
        assert pab.inputs[key] is True, key
    ownership = one(example_run, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "state-backend-ownership")
    assert ownership.inputs["rule"]["objectOwnership"] == "BucketOwnerEnforced"
    lifecycle = one(
        example_run, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "state-backend-lifecycle"
    )
    (rule,) = lifecycle.inputs["rules"]
    assert rule["status"] == "Enabled"
    assert rule["noncurrentVersionExpiration"]["noncurrentDays"] == 90
    policy = one(example_run, "aws:s3/bucketPolicy:BucketPolicy", "state-backend-policy")
    by_sid = statements(doc(policy.inputs["policy"]))
    assert by_sid["DenyInsecureTransport"]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert by_sid["DenyStateObjectsExceptStateRoles"]["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": [STATE_MGMT_ARN]}
    }
    for child in (versioning, sse, pab, ownership, lifecycle, policy):
        assert child.inputs["bucket"] == "terraform-state-111111111111"


def test_state_backend_lock_table(example_run: ProgramRun) -> None:
    table = one(example_run, "aws:dynamodb/table:Table", "state-backend-lock-table")
    assert table.inputs["name"] == "terraform-state-lock-111111111111"
    assert table.inputs["hashKey"] == "LockID"
    assert table.inputs["attributes"] == [{"name": "LockID", "type": "S"}]
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert table.inputs["pointInTimeRecovery"] == {"enabled": True}
    assert table.inputs["serverSideEncryption"] == {"enabled": True}
    assert table.inputs["deletionProtectionEnabled"] is True
    assert table.protect and table.retain_on_delete
    policy = one(example_run, "aws:dynamodb/resourcePolicy:ResourcePolicy", "state-backend-lock-table-policy")
    assert policy.inputs["resourceArn"] == table.state["arn"]
    by_sid = statements(doc(policy.inputs["policy"]))
    deployers = [
        f"arn:aws:iam::{SHARED_ID}:role/OrganizationAccountAccessRole",
        f"arn:aws:iam::{SHARED_ID}:role/infrastructure-doer-role",
    ]
    everyone = by_sid["DenyTableExceptNamedRoles"]
    assert everyone["Effect"] == "Deny" and everyone["Principal"] == "*" and everyone["Action"] == "dynamodb:*"
    assert everyone["Resource"] == [table.state["arn"], f"{table.state['arn']}/*"]
    assert everyone["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": sorted([STATE_MGMT_ARN, *deployers])}}
    no_items = by_sid["DeployersNoItems"]
    assert {"dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Scan", "dynamodb:PartiQLSelect"} <= set(
        no_items["Action"]
    )
    assert no_items["Condition"] == {"ArnEquals": {"aws:PrincipalArn": sorted(deployers)}}
    assert "dynamodb:GetItem" not in by_sid["StateMgmtItemsOnly"]["Action"]


GUARDS = {
    "aws:s3/bucketPolicy:BucketPolicy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration",
    "aws:dynamodb/resourcePolicy:ResourcePolicy",
    "aws:iam/role:Role",
    "aws:iam/rolePolicy:RolePolicy",
}


def backend_children(run: ProgramRun) -> list[Registration]:
    (backend,) = [r for r in run.registrations if r.type == "iam-federation:state_backend:StateBackend"]
    return [r for r in run.registrations if r.parent == backend.urn]


def test_destroy_keeps_the_whole_state_backend_and_nothing_else(example_run: ProgramRun) -> None:
    """`pulumi destroy` deletes the unprotected siblings of a protected resource: every guard is protected too."""
    children = backend_children(example_run)
    assert GUARDS | {"aws:s3/bucket:Bucket", "aws:dynamodb/table:Table"} <= {r.type for r in children}
    assert [r.name for r in children if not (r.protect and r.retain_on_delete)] == []
    outside = [r for r in example_run.resources if r.custom and r not in children]
    assert outside and [r.name for r in outside if r.protect or r.retain_on_delete] == []


def test_with_a_key_the_key_and_its_alias_are_kept_too(section: dict[str, Any]) -> None:
    run = run_section(with_changes(section, state_backend={"kms": {"enabled": True}}))
    kept = {r.type for r in backend_children(run) if r.protect and r.retain_on_delete}
    assert {"aws:kms/key:Key", "aws:kms/alias:Alias"} <= kept


def test_protection_can_be_switched_off_but_aws_guards_stay(section: dict[str, Any]) -> None:
    run = run_section(with_changes(section, state_backend={"protect": False}))
    assert not [r for r in run.registrations if r.protect or r.retain_on_delete]
    table = one(run, "aws:dynamodb/table:Table", "state-backend-lock-table")
    assert table.inputs["deletionProtectionEnabled"] is True
    assert one(run, "aws:s3/bucket:Bucket", "state-backend-bucket").inputs.get("forceDestroy") is False


def test_state_mgmt_role(example_run: ProgramRun) -> None:
    role = one(example_run, "aws:iam/role:Role", "state-backend-state-mgmt-role")
    assert role.state["arn"] == STATE_MGMT_ARN
    trust = statements(doc(role.inputs["assumeRolePolicy"]))
    assert trust["Assumer"]["Principal"] == {"AWS": f"arn:aws:iam::{SHARED_ID}:root"}
    assert trust["Assumer"]["Condition"]["ArnEquals"] == {"aws:PrincipalArn": ASSUMER_ARN}
    assert trust["DoersInOrganization"]["Condition"]["StringEquals"]["aws:RequestTag/StateAccount"] == (
        "${aws:PrincipalAccount}"
    )
    assert trust["DoersInOrganization"]["Condition"]["ArnLike"] == {
        "aws:PrincipalArn": "arn:aws:iam::????????????:role/infrastructure-doer-role"
    }
    access = one(example_run, "aws:iam/rolePolicy:RolePolicy", "state-backend-state-mgmt-access")
    perms = statements(doc(access.inputs["policy"]))
    assert perms["LockItems"]["Resource"] == (
        "arn:aws:dynamodb:us-east-1:111111111111:table/terraform-state-lock-111111111111"
    )
    # Scoped to the account the session is tagged with; the shared account's state is readable by every account.
    assert perms["StateObjects"]["Resource"] == (
        "arn:aws:s3:::terraform-state-111111111111/${aws:PrincipalTag/StateAccount}/*"
    )
    assert perms["ReadReadableState"]["Resource"] == [
        f"arn:aws:s3:::terraform-state-111111111111/{SHARED_ID}/outputs/*"
    ]


# --- names -------------------------------------------------------------------------------------------------------


def urns(run: ProgramRun) -> Counter[str]:
    return Counter(r.urn for r in run.registrations)


def test_no_two_resources_share_a_urn(example_run: ProgramRun) -> None:
    duplicates = [urn for urn, count in urns(example_run).items() if count > 1]
    assert duplicates == []


def test_adding_an_account_adds_only_its_resources(section: dict[str, Any]) -> None:
    before = run_section(section)
    accounts = [*section["iam-federation:accounts"], {"name": "sandbox", "id": "555555555555"}]
    after = run_section(with_changes(section, accounts=accounts))
    added = set(urns(after)) - set(urns(before))
    assert set(urns(before)) <= set(urns(after))
    assert added and all(urn.endswith(("::aws-sandbox",)) or "doer-sandbox" in urn for urn in added)
    assert len(added) == 5  # provider, component, role, policy attachment, state access policy
    # Nothing that existed changes its inputs: the assumer and state-mgmt do not list accounts.
    old = {r.urn: r.inputs for r in before.registrations}
    assert all(old[r.urn] == r.inputs for r in after.registrations if r.urn in old)


def test_reordering_accounts_changes_nothing(section: dict[str, Any]) -> None:
    before = run_section(section)
    after = run_section(with_changes(section, accounts=list(reversed(section["iam-federation:accounts"]))))
    assert {r.urn: r.inputs for r in before.registrations} == {r.urn: r.inputs for r in after.registrations}


# --- bad config --------------------------------------------------------------------------------------------------


def test_bad_config_stops_the_program_before_any_resource(section: dict[str, Any]) -> None:
    from plan import runner

    seen: list[runner.Registration] = []
    original = runner.RecordingMonitor.RegisterResource

    def spy(self: runner.RecordingMonitor, request: Any) -> Any:
        response = original(self, request)
        seen.extend(self.registrations[-1:])
        return response

    runner.RecordingMonitor.RegisterResource = spy  # type: ignore[method-assign]
    try:
        with pytest.raises(pulumi.RunError) as caught:
            run_section(with_changes(section, accounts=[{"name": "dev", "id": "12"}]))
    finally:
        runner.RecordingMonitor.RegisterResource = original  # type: ignore[method-assign]
    assert "iam-federation:accounts[0].id = '12': must be exactly 12 digits" in str(caught.value)
    assert [r.type for r in seen] == ["pulumi:pulumi:Stack"]


# --- outputs -----------------------------------------------------------------------------------------------------


def test_outputs_name_every_role_and_store(example_run: ProgramRun) -> None:
    outputs = example_run.outputs
    assert outputs["assumer_role_arn"] == ASSUMER_ARN
    assert outputs["state_mgmt_role_arn"] == STATE_MGMT_ARN
    assert outputs["instance_profile_name"] == "infrastructure-assumer"
    assert outputs["state_bucket_name"] == "terraform-state-111111111111"
    assert outputs["lock_table_name"] == "terraform-state-lock-111111111111"
    expected = {n: f"arn:aws:iam::{a}:role/infrastructure-doer-role" for n, a in ACCOUNTS.items()}
    assert outputs["doer_role_arns"] == expected
    assert outputs["terragrunt_iam_role_arns"] == expected
