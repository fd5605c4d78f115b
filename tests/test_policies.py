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
    }
    assert set(trust["DoersInOrganization"]["Action"]) == {"sts:AssumeRole", "sts:TagSession", "sts:SetSourceIdentity"}
    assert trust["DoersInOrganization"]["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": ORG, "aws:RequestTag/StateAccount": "${aws:PrincipalAccount}"},
        "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::????????????:role/doer"},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["StateAccount"]},
        "StringEqualsIfExists": {"aws:PrincipalTag/StateAccount": "${aws:PrincipalAccount}"},
    }


DEPLOYERS = ["arn:aws:iam::111111111111:role/OrganizationAccountAccessRole", "arn:aws:iam::111111111111:role/doer"]


def test_bucket_policy_denies_plain_http_other_principals_wrong_encryption_and_config_changes() -> None:
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
    others = by_sid["DenyStateObjectsExceptStateMgmt"]
    # Every object action, not a list of three: replication, restores, version deletes, multipart uploads too.
    assert (others["Action"], others["Resource"]) == (["s3:*"], "arn:aws:s3:::b/*")
    assert others["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": STATE_MGMT}}
    listing = by_sid["DenyListingExceptStateMgmt"]
    assert set(listing["Action"]) == {"s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads"}
    assert listing["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": STATE_MGMT}}
    config = by_sid["DenyBucketConfigExceptDeployers"]
    assert config["Resource"] == "arn:aws:s3:::b"
    assert {
        "s3:PutBucket*",
        "s3:DeleteBucket*",
        "s3:PutLifecycleConfiguration",
        "s3:PutReplicationConfiguration",
    } <= set(config["Action"])
    assert config["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": sorted(DEPLOYERS)}}
    sse = by_sid["DenyWrongEncryptionHeader"]
    assert sse["Condition"]["StringNotEquals"] == {"s3:x-amz-server-side-encryption": "AES256"}
    assert sse["Condition"]["Null"] == {"s3:x-amz-server-side-encryption": "false"}


def test_lock_table_policy_guards_every_item_action_and_the_table_settings() -> None:
    table = sb_policies.table_arn("us-east-1", "111111111111", "locks")
    items, config = sb_policies.lock_table_policy(table_arn=table, state_mgmt_arn=STATE_MGMT, deployer_arns=DEPLOYERS)[
        "Statement"
    ]
    assert {"dynamodb:Scan", "dynamodb:Query", "dynamodb:PartiQLSelect", "dynamodb:ConditionCheckItem"} <= set(
        items["Action"]
    )
    assert {"dynamodb:BatchWriteItem", "dynamodb:ExportTableToPointInTime"} <= set(items["Action"])
    assert items["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": STATE_MGMT}}
    assert {"dynamodb:DeleteResourcePolicy", "dynamodb:UpdateTable", "dynamodb:DeleteTable"} <= set(config["Action"])
    assert config["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": sorted(DEPLOYERS)}}


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
            readable_account_ids=[],
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
            readable_account_ids=["111111111111"],
            kms_key_arn="k",
        )
    )
    assert by_sid["ReadReadableState"] == {
        "Sid": "ReadReadableState",
        "Effect": "Allow",
        "Action": "s3:GetObject",
        "Resource": ["arn:aws:s3:::b/111111111111/*"],
        "Condition": {"StringEquals": {"aws:ResourceAccount": "111111111111"}},
    }
    assert by_sid["ListReadableState"]["Condition"]["StringLike"] == {"s3:prefix": ["111111111111/*"]}
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
            readable_account_ids=["1"],
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
        runner_tag=("iam-federation:runner", "true"),
        backend_resources=["arn:aws:s3:::b", "arn:aws:dynamodb:us-east-1:111111111111:table/t"],
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
    runners = by_sid["ProtectRunnerInstances"]
    assert {"ec2:ModifyInstanceAttribute", "ec2:CreateLaunchTemplateVersion", "ssm:SendCommand"} <= set(
        runners["Action"]
    )
    assert runners["Condition"]["StringEquals"] == {"aws:ResourceTag/iam-federation:runner": "true"}
    assert runners["Condition"]["ArnNotLike"] == passing["Condition"]["ArnNotLike"]
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
