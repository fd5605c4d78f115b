"""The pure policy documents, statement by statement."""

from __future__ import annotations

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
    assert doers["Resource"] == "arn:aws:iam::*:role/infrastructure-doer-role"
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
    assumer_only = statements(sb_policies.state_mgmt_trust_policy(trust_doers=False, **kwargs))  # type: ignore[arg-type]
    assert set(assumer_only) == {"Assumer"}
    assert assumer_only["Assumer"] == iam_policies.doer_trust_policy(assumer_arn=ASSUMER)["Statement"][0]
    assert assumer_only["Assumer"]["Condition"] == {"ArnEquals": {"aws:PrincipalArn": ASSUMER}}
    both = statements(sb_policies.state_mgmt_trust_policy(trust_doers=True, **kwargs))  # type: ignore[arg-type]
    doers = both["DoersInOrganization"]
    # A "*" principal is only acceptable with both narrowing conditions.
    assert doers["Principal"] == {"AWS": "*"}
    assert doers["Condition"] == {
        "StringEquals": {"aws:PrincipalOrgID": ORG},
        "ArnLike": {"aws:PrincipalArn": "arn:aws:iam::*:role/ci/doer"},
    }


def test_bucket_policy_denies_plain_http_other_principals_and_wrong_encryption() -> None:
    by_sid = statements(sb_policies.state_bucket_policy(bucket="b", state_mgmt_arn=STATE_MGMT, sse_algorithm="AES256"))
    assert all(s["Effect"] == "Deny" and s["Principal"] == "*" for s in by_sid.values())
    tls = by_sid["DenyInsecureTransport"]
    assert tls["Action"] == "s3:*"
    assert tls["Resource"] == ["arn:aws:s3:::b", "arn:aws:s3:::b/*"]
    assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    others = by_sid["DenyStateObjectsExceptStateMgmt"]
    assert others["Resource"] == "arn:aws:s3:::b/*"
    assert {"s3:GetObject*", "s3:PutObject*", "s3:DeleteObject*"} <= set(others["Action"])
    assert others["Condition"] == {"ArnNotEquals": {"aws:PrincipalArn": STATE_MGMT}}
    sse = by_sid["DenyWrongEncryptionHeader"]
    assert sse["Condition"]["StringNotEquals"] == {"s3:x-amz-server-side-encryption": "AES256"}
    assert sse["Condition"]["Null"] == {"s3:x-amz-server-side-encryption": "false"}


def test_state_mgmt_permissions_are_exactly_state_and_locks() -> None:
    table = sb_policies.table_arn("us-east-1", "111111111111", "locks")
    assert table == "arn:aws:dynamodb:us-east-1:111111111111:table/locks"
    by_sid = statements(sb_policies.state_mgmt_permissions_policy(bucket="b", table_arn=table))
    assert by_sid["ListStateBucket"]["Action"] == "s3:ListBucket"
    assert by_sid["ListStateBucket"]["Resource"] == "arn:aws:s3:::b"
    assert by_sid["StateObjects"]["Action"] == ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    assert by_sid["StateObjects"]["Resource"] == "arn:aws:s3:::b/*"
    assert by_sid["LockItems"]["Action"] == ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
    assert by_sid["LockItems"]["Resource"] == table
    assert set(by_sid) == {"ListStateBucket", "StateObjects", "LockItems"}


def test_sso_patterns_require_the_exact_suffix_length() -> None:
    plain, regional = iam_policies.sso_role_arn_patterns("111111111111", "Admin")
    assert plain.endswith("/sso.amazonaws.com/AWSReservedSSO_Admin_" + "?" * 16)
    assert regional.endswith("/sso.amazonaws.com/*/AWSReservedSSO_Admin_" + "?" * 16)
