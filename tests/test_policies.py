"""The pure policy documents, statement by statement."""

from __future__ import annotations

import json

from iam import policies as iam_policies
from state_backend import policies as sb_policies
from tests.conftest import statements

ORG = "o-a1b2c3d4e5"
ASSUMER = "arn:aws:iam::111111111111:role/infrastructure-assumer-role"
STATE_MGMT = "arn:aws:iam::111111111111:role/state-mgmt-role"
ASSUME = ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]


def test_assumer_trust_has_ec2_sso_and_extra_principals() -> None:
    document = iam_policies.assumer_trust_policy(
        sso_account_id="111111111111",
        permission_sets=["AWSAdministratorAccess"],
        organization_id=ORG,
        extra_principal_arns=["arn:aws:iam::999999999999:role/b", "arn:aws:iam::999999999999:role/a"],
    )
    assert document["Version"] == "2012-10-17"
    by_sid = statements(document)
    assert set(by_sid) == {"CiRunnerInstances", "SsoPermissionSets", "ExtraPrincipals"}
    ec2 = by_sid["CiRunnerInstances"]
    assert ec2 == {
        "Sid": "CiRunnerInstances",
        "Effect": "Allow",
        "Principal": {"Service": "ec2.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    sso = by_sid["SsoPermissionSets"]
    assert sso["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}
    assert sso["Action"] == ASSUME
    assert sso["Condition"] == {
        "ArnLike": {
            "aws:PrincipalArn": [
                "arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_AWSAdministratorAccess_"
                + "?" * 16,
                "arn:aws:iam::111111111111:role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_AWSAdministratorAccess_"
                + "?" * 16,
            ]
        },
        "StringEquals": {"aws:PrincipalOrgID": ORG},
    }
    extra = by_sid["ExtraPrincipals"]
    assert extra["Principal"] == {"AWS": ["arn:aws:iam::999999999999:role/a", "arn:aws:iam::999999999999:role/b"]}
    assert "Condition" not in extra


def test_assumer_trust_without_sso_or_extras_is_ec2_only() -> None:
    document = iam_policies.assumer_trust_policy(
        sso_account_id="111111111111", permission_sets=[], organization_id=ORG, extra_principal_arns=[]
    )
    assert [s["Sid"] for s in document["Statement"]] == ["CiRunnerInstances"]


def test_assumer_may_only_assume_doers_in_the_org_and_state_mgmt() -> None:
    document = iam_policies.assumer_permissions_policy(
        doer_path="/", doer_name="infrastructure-doer-role", state_mgmt_arn=STATE_MGMT, organization_id=ORG
    )
    by_sid = statements(document)
    assert set(by_sid) == {"AssumeDoersInOrganization", "AssumeStateMgmt"}
    assert all(s["Effect"] == "Allow" and s["Action"] == ASSUME for s in by_sid.values())
    doers = by_sid["AssumeDoersInOrganization"]
    assert doers["Resource"] == "arn:aws:iam::????????????:role/infrastructure-doer-role"
    assert doers["Condition"] == {"StringEquals": {"aws:ResourceOrgID": ORG}}
    assert by_sid["AssumeStateMgmt"]["Resource"] == STATE_MGMT
    assert "Condition" not in by_sid["AssumeStateMgmt"]


def test_doer_trusts_the_assumer_only() -> None:
    document = iam_policies.doer_trust_policy(assumer_arn=ASSUMER)
    (only,) = document["Statement"]
    assert only["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}
    assert only["Condition"] == {"ArnEquals": {"aws:PrincipalArn": ASSUMER}}
    assert only["Effect"] == "Allow" and only["Action"] == ASSUME


def test_doer_state_access_reaches_state_mgmt_only_or_is_denied_it() -> None:
    (allowed,) = iam_policies.doer_state_access_policy(state_mgmt_arn=STATE_MGMT, allowed=True)["Statement"]
    assert allowed == {"Sid": "AssumeStateMgmt", "Effect": "Allow", "Action": ASSUME, "Resource": STATE_MGMT}
    (denied,) = iam_policies.doer_state_access_policy(state_mgmt_arn=STATE_MGMT, allowed=False)["Statement"]
    assert denied == {"Sid": "NoStateMgmt", "Effect": "Deny", "Action": ASSUME, "Resource": STATE_MGMT}


def test_state_mgmt_trust_with_and_without_doers() -> None:
    kwargs = {"assumer_arn": ASSUMER, "doer_path": "/ci/", "doer_name": "doer", "organization_id": ORG}
    assumer_only = statements(
        sb_policies.state_mgmt_trust_policy(trust_doers=False, isolate_accounts=False, **kwargs)  # type: ignore[arg-type]
    )
    assert set(assumer_only) == {"Assumer"}
    assert assumer_only["Assumer"] == iam_policies.doer_trust_policy(assumer_arn=ASSUMER)["Statement"][0]
    assert assumer_only["Assumer"]["Condition"] == {"ArnEquals": {"aws:PrincipalArn": ASSUMER}}
    legacy = statements(
        sb_policies.state_mgmt_trust_policy(trust_doers=True, isolate_accounts=False, **kwargs)  # type: ignore[arg-type]
    )
    # A "*" principal is only acceptable with both narrowing conditions.
    assert legacy["DoersInOrganization"]["Principal"] == {"AWS": "*"}
    assert legacy["DoersInOrganization"]["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": ORG},
        "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::????????????:role/ci/doer"},
    }


def test_isolated_state_mgmt_trust_ties_the_session_tag_to_the_callers_account() -> None:
    kwargs = {"assumer_arn": ASSUMER, "doer_path": "/", "doer_name": "doer", "organization_id": ORG}
    trust = statements(
        sb_policies.state_mgmt_trust_policy(trust_doers=True, isolate_accounts=True, **kwargs)  # type: ignore[arg-type]
    )
    assert trust["Assumer"]["Condition"] == {
        "ArnEquals": {"aws:PrincipalArn": ASSUMER},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["StateAccount"]},
        # Set now, never carried in (a transitive tag from an earlier hop): the second red team's chain.
        "Null": {"aws:RequestTag/StateAccount": "false", "aws:PrincipalTag/StateAccount": "true"},
    }
    assert set(trust["DoersInOrganization"]["Action"]) == {"sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"}
    assert trust["DoersInOrganization"]["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": ORG, "aws:RequestTag/StateAccount": "${aws:PrincipalAccount}"},
        "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::????????????:role/doer"},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["StateAccount"]},
        "StringEqualsIfExists": {"aws:PrincipalTag/StateAccount": "${aws:PrincipalAccount}"},
    }


DEPLOYERS = ["arn:aws:iam::111111111111:role/OrganizationAccountAccessRole", "arn:aws:iam::111111111111:role/doer"]


def test_bucket_policy_is_an_allow_list_of_roles_each_narrowed() -> None:
    by_sid = statements(
        sb_policies.state_bucket_policy(
            bucket="b", state_mgmt_arn=STATE_MGMT, deployer_arns=DEPLOYERS, sse_algorithm="AES256"
        )
    )
    assert all(s["Effect"] == "Deny" and s["Principal"] == "*" for s in by_sid.values())
    tls = by_sid["DenyInsecureTransport"]
    assert tls["Action"] == "s3:*"
    assert tls["Resource"] == ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # Every S3 action, on the bucket and on the objects, to anyone but the named roles: nothing S3 adds escapes.
    others = by_sid["DenyBucketExceptNamedRoles"]
    assert (others["Action"], others["Resource"]) == ("s3:*", ["arn:aws:s3:::b", "arn:aws:s3:::b/*"])
    assert others["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": sorted([STATE_MGMT, *DEPLOYERS])}}
    objects = by_sid["DenyStateObjectsExceptStateRoles"]
    assert (objects["Action"], objects["Resource"]) == ("s3:*", "arn:aws:s3:::b/*")
    assert objects["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": [STATE_MGMT]}}
    # On the bucket itself state-mgmt only lists keys (Terraform's Workspaces); the deployers are not narrowed there:
    # Pulumi reads the bucket with HeadBucket, which needs s3:ListBucket.
    listing = by_sid["StateMgmtListsOnlyOnTheBucket"]
    assert (listing["NotAction"], listing["Resource"]) == (["s3:ListBucket"], "arn:aws:s3:::b")
    assert listing["Condition"] == {"ArnEquals": {"aws:PrincipalArn": STATE_MGMT}}
    assert not any(DEPLOYERS[0] in json.dumps(s.get("Condition", {}).get("ArnEquals", {})) for s in by_sid.values())
    assert "StateReaderReadsOnly" not in by_sid and "PlanDoerReadsSettingsOnly" not in by_sid
    sse = by_sid["DenyWrongEncryptionHeader"]
    assert sse["Condition"]["StringNotEquals"] == {"s3:x-amz-server-side-encryption": "AES256"}
    assert sse["Condition"]["Null"] == {"s3:x-amz-server-side-encryption": "false"}
    assert by_sid["DenyCustomerProvidedKeys"]["Condition"] == {
        "Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}
    }


def test_bucket_policy_narrows_the_reader_and_the_plan_doer() -> None:
    reader, plan_doer = "arn:aws:iam::111111111111:role/reader", "arn:aws:iam::111111111111:role/plan-doer"
    by_sid = statements(
        sb_policies.state_bucket_policy(
            bucket="b",
            state_mgmt_arn=STATE_MGMT,
            deployer_arns=DEPLOYERS,
            sse_algorithm="aws:kms",
            state_reader_arn=reader,
            plan_doer_arn=plan_doer,
        )
    )
    named = by_sid["DenyBucketExceptNamedRoles"]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert named == sorted([STATE_MGMT, reader, plan_doer, *DEPLOYERS])
    # The plan doer is no state role: it gets no object.
    assert by_sid["DenyStateObjectsExceptStateRoles"]["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": sorted([STATE_MGMT, reader])}
    }
    assert by_sid["StateReaderReadsOnly"]["NotAction"] == ["s3:GetObject", "s3:ListBucket"]
    plan = by_sid["PlanDoerReadsSettingsOnly"]
    assert (plan["NotAction"], plan["Resource"]) == (["s3:Get*"], "arn:aws:s3:::b")
    assert plan["Condition"] == {"ArnEquals": {"aws:PrincipalArn": plan_doer}}


def test_lock_table_policy_is_an_allow_list_within_what_dynamodb_accepts() -> None:
    table = sb_policies.table_arn("us-east-1", "111111111111", "locks")
    reader, plan_doer = "arn:aws:iam::111111111111:role/reader", "arn:aws:iam::111111111111:role/plan-doer"
    document = sb_policies.lock_table_policy(
        table_arn=table,
        state_mgmt_arn=STATE_MGMT,
        deployer_arns=DEPLOYERS,
        state_reader_arn=reader,
        plan_doer_arn=plan_doer,
    )
    by_sid = statements(document)
    everyone = by_sid["DenyTableExceptNamedRoles"]
    assert (everyone["Action"], everyone["Resource"]) == ("dynamodb:*", [table, f"{table}/*"])
    assert everyone["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": sorted([STATE_MGMT, reader, plan_doer, *DEPLOYERS])}
    }
    accepted = set(sb_policies.TABLE_POLICY_ACTIONS)

    def denied(sid: str) -> set[str]:
        statement = by_sid[sid]
        assert statement["Resource"] == [table, f"{table}/index/*"]
        return set(statement["Action"])

    # Deployers: no item action, no copy of the items; every table setting stays theirs.
    assert denied("DeployersNoItems") == set(sb_policies.TABLE_ITEM_ACTIONS) | set(sb_policies.TABLE_COPY_ACTIONS)
    assert by_sid["DeployersNoItems"]["Condition"] == {"ArnEquals": {"aws:PrincipalArn": sorted(DEPLOYERS)}}
    assert {"dynamodb:UpdateTable", "dynamodb:PutResourcePolicy"}.isdisjoint(denied("DeployersNoItems"))
    # state-mgmt: items only; the reader: GetItem only; the plan doer: reading the table's settings only.
    assert denied("StateMgmtItemsOnly") == accepted - set(sb_policies.TABLE_ITEM_ACTIONS)
    assert denied("StateReaderGetItemOnly") == accepted - {"dynamodb:GetItem"}
    assert denied("PlanDoerReadsSettingsOnly") == accepted - set(sb_policies.TABLE_READ_ACTIONS)
    assert "dynamodb:Scan" in denied("PlanDoerReadsSettingsOnly")


def test_every_action_the_table_policy_names_is_one_dynamodb_accepts() -> None:
    """DynamoDB refuses the whole PutResourcePolicy for one name outside its list (issue #15 item 1)."""
    document = sb_policies.lock_table_policy(
        table_arn=sb_policies.table_arn("us-east-1", "111111111111", "locks"),
        state_mgmt_arn=STATE_MGMT,
        deployer_arns=DEPLOYERS,
        state_reader_arn="arn:aws:iam::111111111111:role/reader",
        plan_doer_arn="arn:aws:iam::111111111111:role/plan-doer",
    )
    named = {
        a for s in document["Statement"] for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])
    }
    assert named - set(sb_policies.TABLE_POLICY_ACTIONS) == {sb_policies.TABLE_POLICY_WILDCARD}
    refused = {"dynamodb:CreateGlobalTable", "dynamodb:StartAwsBackupJob", "dynamodb:ConditionCheckItem"}
    assert refused.isdisjoint(sb_policies.TABLE_POLICY_ACTIONS)
    assert not any("NotAction" in s for s in document["Statement"])


def test_state_mgmt_permissions_are_one_accounts_state_and_locks() -> None:
    table = sb_policies.table_arn("us-east-1", "111111111111", "locks")
    assert table == "arn:aws:dynamodb:us-east-1:111111111111:table/locks"
    by_sid = statements(
        sb_policies.state_mgmt_permissions_policy(
            bucket="b",
            bucket_account="111111111111",
            table_arn=table,
            region="us-east-1",
            isolate_accounts=True,
            readable_prefixes=[],
        )
    )
    own = "${aws:PrincipalTag/StateAccount}"
    pinned = {"StringEquals": {"aws:ResourceAccount": "111111111111"}}  # a re-created bucket elsewhere gets nothing
    assert by_sid["ListStatePrefix"]["Action"] == "s3:ListBucket"
    assert by_sid["ListStatePrefix"]["Condition"] == {**pinned, "StringLike": {"s3:prefix": [f"{own}/*"]}}
    assert by_sid["StateObjects"]["Action"] == ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    assert by_sid["StateObjects"]["Resource"] == f"arn:aws:s3:::b/{own}/*"
    assert by_sid["StateObjects"]["Condition"] == pinned
    assert by_sid["LockItems"]["Action"] == ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
    assert by_sid["LockItems"]["Resource"] == table
    # ForAllValues holds when the key is absent (a Scan): the Null condition keeps the grant to named items.
    assert by_sid["LockItems"]["Condition"] == {
        "ForAllValues:StringLike": {"dynamodb:LeadingKeys": [f"b/{own}/*"]},
        "Null": {"dynamodb:LeadingKeys": "false"},
    }
    assert set(by_sid) == {"ListStatePrefix", "StateObjects", "LockItems"}


def test_readable_state_is_read_only_and_the_key_only_through_the_stores() -> None:
    by_sid = statements(
        sb_policies.state_mgmt_permissions_policy(
            bucket="b",
            bucket_account="111111111111",
            table_arn="t",
            region="eu-west-1",
            isolate_accounts=True,
            readable_prefixes=["111111111111/outputs/"],
            kms_key_arn="k",
        )
    )
    assert by_sid["ReadReadableState"] == {
        "Sid": "ReadReadableState",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": ["arn:aws:s3:::b/111111111111/outputs/*"],
        "Condition": {"StringEquals": {"aws:ResourceAccount": "111111111111"}},
    }
    assert by_sid["ListReadableState"]["Condition"]["StringLike"] == {"s3:prefix": ["111111111111/outputs/*"]}
    assert by_sid["StateKey"]["Condition"] == {
        "StringEquals": {"kms:ViaService": ["s3.eu-west-1.amazonaws.com", "dynamodb.eu-west-1.amazonaws.com"]}
    }


def test_legacy_layout_reaches_every_key() -> None:
    by_sid = statements(
        sb_policies.state_mgmt_permissions_policy(
            bucket="b",
            bucket_account="1",
            table_arn="t",
            region="us-east-1",
            isolate_accounts=False,
            readable_prefixes=["1/outputs/"],
        )
    )
    assert by_sid["StateObjects"]["Resource"] == "arn:aws:s3:::b/*"
    assert "Condition" not in by_sid["LockItems"] and "s3:prefix" not in json.dumps(by_sid["ListStatePrefix"])
    assert set(by_sid) == {"ListStatePrefix", "StateObjects", "LockItems"}


def test_organization_guard_keeps_roles_to_their_deployers() -> None:
    document = iam_policies.organization_guard_policy(
        protected_roles=[("/", "doer"), ("/", "assumer")],
        deployer_roles=[("/", "OrganizationAccountAccessRole"), ("/", "doer")],
        runner_role=("/", "assumer"),
        runner_instance_profile=("/", "runners"),
        runner_launcher_arns=["arn:aws:iam::111111111111:role/launcher"],
        backend_resources=["arn:aws:s3:::b", "arn:aws:dynamodb:us-east-1:111111111111:table/t"],
        runners_account_id="111111111111",
        platform_arns=["arn:aws:iam::111111111111:role/doer", "arn:aws:iam::111111111111:role/assumer"],
        assume_only_arns=["arn:aws:iam::111111111111:role/ci"],
    )
    by_sid = statements(document)
    roles = by_sid["ProtectFederationRoles"]
    assert roles["Effect"] == "Deny"
    assert roles["Resource"] == ["arn:aws:iam::????????????:role/assumer", "arn:aws:iam::????????????:role/doer"]
    assert {"iam:UpdateAssumeRolePolicy", "iam:CreateRole", "iam:DeleteRole", "iam:PutRolePolicy"} <= set(
        roles["Action"]
    )
    deployers = ["arn:aws:iam::????????????:role/OrganizationAccountAccessRole", "arn:aws:iam::????????????:role/doer"]
    assert roles["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": deployers}}
    passing = by_sid["PassRunnerRoleOnlyToLaunchers"]
    assert (passing["Action"], passing["Resource"]) == ("iam:PassRole", "arn:aws:iam::????????????:role/assumer")
    assert passing["Condition"] == {
        "ArnNotLike": {"aws:PrincipalArn": sorted([*deployers, "arn:aws:iam::111111111111:role/launcher"])}
    }
    assert by_sid["ProtectRunnerInstanceProfile"]["Resource"] == "arn:aws:iam::*:instance-profile/runners"
    # The runners' account is platform-only: an allow-list of principals, no list of EC2 or SSM actions.
    perimeter = by_sid["RunnersAccountPlatformOnly"]
    assert (perimeter["Effect"], perimeter["Resource"]) == ("Deny", "*")
    assert perimeter["NotAction"] == ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]
    platform = ["arn:aws:iam::111111111111:role/assumer", "arn:aws:iam::111111111111:role/doer"]
    assert perimeter["Condition"] == {
        "StringEquals": {"aws:PrincipalAccount": "111111111111"},
        "ArnNotLike": {"aws:PrincipalArn": platform},
    }
    leaving = by_sid["RunnersAccountAssumeOnlyPlatformAndBreakGlass"]
    assert leaving["Action"] == perimeter["NotAction"]
    assert leaving["Condition"]["ArnNotLike"] == {
        "aws:PrincipalArn": sorted([*platform, "arn:aws:iam::111111111111:role/ci"])
    }
    assert "ProtectRunnerInstances" not in by_sid and "ProtectRunnerTag" not in by_sid
    # SCPs bind the account root user and AssumeRoot sessions, which resource policies cannot deny.
    backend = by_sid["ProtectStateBackendPolicies"]
    assert backend["Resource"] == ["arn:aws:dynamodb:us-east-1:111111111111:table/t", "arn:aws:s3:::b"]
    assert set(backend["Action"]) == {
        "s3:PutBucketPolicy",
        "s3:DeleteBucketPolicy",
        "dynamodb:PutResourcePolicy",
        "dynamodb:DeleteResourcePolicy",
    }
    assert backend["Condition"] == {"ArnNotLike": {"aws:PrincipalArn": deployers}}


def test_sso_patterns_require_the_exact_suffix_length() -> None:
    plain, regional = iam_policies.sso_role_arn_patterns("111111111111", "Admin")
    assert plain.endswith("/sso.amazonaws.com/AWSReservedSSO_Admin_" + "?" * 16)
    assert regional.endswith("/sso.amazonaws.com/*/AWSReservedSSO_Admin_" + "?" * 16)


def test_key_stays_manageable_when_both_admin_roles_are_re_created() -> None:
    """KMS stores a role named in Principal as its unique id; the account principal narrowed by aws:PrincipalArn is
    matched at request time, so roles re-created under the same ARNs manage the key again."""
    by_sid = statements(
        sb_policies.state_key_policy(
            admin_arns=DEPLOYERS,
            auditor_arns=[],
            state_mgmt_arn=STATE_MGMT,
            account_id="111111111111",
            region="us-east-1",
        )
    )
    by_arn = by_sid["KeyAdministrationByArn"]
    assert by_arn["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}
    assert by_arn["Condition"] == {"ArnEquals": {"aws:PrincipalArn": sorted(DEPLOYERS)}}
    assert by_arn["Action"] == by_sid["KeyAdministration"]["Action"]
    assert {"kms:PutKeyPolicy", "kms:Decrypt", "kms:Encrypt"}.isdisjoint(by_arn["Action"])
    assert "kms:Put*" in by_arn["Action"]  # PutKeyPolicy, what the lockout safety check asks of the caller
    # Only state-mgmt uses the key for data; no statement lets the account at large use it.
    data = {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}
    users = [sid for sid, s in by_sid.items() if data & set(s["Action"])]
    assert sorted(users) == ["DynamoDbOnBehalfOfAdmins", "StateMgmtUse"]
    for sid, statement in by_sid.items():
        if statement["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}:
            assert "aws:PrincipalArn" in statement["Condition"]["ArnEquals"], sid
