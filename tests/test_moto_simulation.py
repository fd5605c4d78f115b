"""Every registered resource materialized in moto, in its provider's account, and the data paths where moto is
faithful (FACTS.md): S3 identity-policy scoping, versioning, deletion protection, account separation.

No allow/deny verdict about trust policies, bucket policy conditions or DynamoDB authorization is taken from moto;
those come from the evaluator (tests/test_access_matrix.py).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core import set_initial_no_auth_action_count

from plan.materialize import Materialized, assume_role
from plan.runner import ProgramRun
from tests.conftest import example_section, run_section, with_changes
from tests.moto_world import MotoWorlds
from tests.test_oidc import documented_ci

SHARED, DEV = "111111111111", "222222222222"
BUCKET = "terraform-state-111111111111"
TABLE = "terraform-state-lock-111111111111"


@pytest.fixture(scope="module")
def program(example_run: ProgramRun) -> ProgramRun:
    return example_run


@pytest.fixture(scope="module")
def worlds() -> Iterator[MotoWorlds]:
    # Module scope: moto patches botocore for as long as a world is open; no other module should run inside it.
    worlds = MotoWorlds()
    yield worlds
    worlds.close()


@pytest.fixture
def world(worlds: MotoWorlds, program: ProgramRun) -> Iterator[Materialized]:
    """The example's world for this test alone: it may write to it."""
    with worlds.fresh(program) as world:
        yield world


@pytest.fixture
def shared_world(worlds: MotoWorlds, program: ProgramRun) -> Materialized:
    """The example's world, built once for the tests that only read it."""
    return worlds.shared(program)


def assume(caller: boto3.Session, role_arn: str) -> boto3.Session:
    return assume_role(caller, role_arn, "test-session")


def test_every_resource_lands_in_its_providers_account(shared_world: Materialized, program: ProgramRun) -> None:
    world = shared_world
    expected_created = [r for r in program.registrations if r.type.startswith("aws:")]
    assert len(world.created) == len(expected_created)
    roles = {
        account: sorted(r["RoleName"] for r in session.client("iam").list_roles()["Roles"])
        for account, session in world.sessions.items()
    }
    assert roles == {
        SHARED: ["infrastructure-assumer-role", "infrastructure-doer-role", "state-mgmt-role"],
        DEV: ["infrastructure-doer-role"],
        "333333333333": ["infrastructure-doer-role"],
        "444444444444": ["infrastructure-doer-role"],
    }
    dev_iam = world.sessions[DEV].client("iam")
    doer = dev_iam.get_role(RoleName="infrastructure-doer-role")["Role"]
    assert doer["Arn"] == f"arn:aws:iam::{DEV}:role/infrastructure-doer-role"
    trust = doer["AssumeRolePolicyDocument"]
    trust = json.loads(trust) if isinstance(trust, str) else trust
    assert trust["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{SHARED}:root"}
    assert trust["Statement"][0]["Condition"] == {
        "ArnEquals": {"aws:PrincipalArn": f"arn:aws:iam::{SHARED}:role/infrastructure-assumer-role"}
    }
    attached = dev_iam.list_attached_role_policies(RoleName="infrastructure-doer-role")["AttachedPolicies"]
    assert [p["PolicyArn"] for p in attached] == ["arn:aws:iam::aws:policy/AdministratorAccess"]
    shared_iam = world.sessions[SHARED].client("iam")
    profile = shared_iam.get_instance_profile(InstanceProfileName="infrastructure-assumer")["InstanceProfile"]
    assert [r["RoleName"] for r in profile["Roles"]] == ["infrastructure-assumer-role"]
    assert [b["Name"] for b in world.sessions[SHARED].client("s3").list_buckets()["Buckets"]] == [BUCKET]
    assert world.sessions[DEV].client("s3").list_buckets()["Buckets"] == []
    assert world.sessions[SHARED].client("dynamodb").list_tables()["TableNames"] == [TABLE]
    assert world.sessions[DEV].client("dynamodb").list_tables()["TableNames"] == []


def test_world_knows_only_the_aws_managed_policies_the_run_attaches(shared_world: Materialized) -> None:
    # moto_world's shortcut (plan/materialize.py): the run attaches AdministratorAccess and nothing else.
    for session in shared_world.sessions.values():
        known = [p["Arn"] for p in session.client("iam").list_policies(Scope="AWS")["Policies"]]
        assert known == ["arn:aws:iam::aws:policy/AdministratorAccess"]


def test_bucket_and_table_settings_read_back_from_moto(shared_world: Materialized) -> None:
    world = shared_world
    s3 = world.sessions[SHARED].client("s3")
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    rules = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    ownership = s3.get_bucket_ownership_controls(Bucket=BUCKET)["OwnershipControls"]["Rules"]
    assert ownership == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"][0]
    assert lifecycle["NoncurrentVersionExpiration"]["NoncurrentDays"] == 90
    sids = [s["Sid"] for s in json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]]
    assert sids == [
        "DenyInsecureTransport",
        "DenyBucketExceptNamedRoles",
        "DenyStateObjectsExceptStateRoles",
        "StateMgmtListsOnlyOnTheBucket",
        "DenyCustomerProvidedKeys",
        "DenyWrongEncryptionHeader",
    ]
    dynamodb = world.sessions[SHARED].client("dynamodb")
    table = dynamodb.describe_table(TableName=TABLE)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "LockID", "KeyType": "HASH"}]
    assert table["DeletionProtectionEnabled"] is True
    backups = dynamodb.describe_continuous_backups(TableName=TABLE)["ContinuousBackupsDescription"]
    assert backups["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"] == "ENABLED"


def test_moto_rejects_a_malformed_document(worlds: MotoWorlds, program: ProgramRun) -> None:
    broken = copy.deepcopy(program)
    role = next(r for r in broken.registrations if r.name == "doer-dev-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])
    trust["Statement"][0]["Efect"] = trust["Statement"][0].pop("Effect")
    role.inputs["assumeRolePolicy"] = json.dumps(trust)
    with pytest.raises(ClientError) as caught, worlds.fresh(broken):
        pass
    assert caught.value.response["Error"]["Code"] == "MalformedPolicyDocument"


def test_deletion_protection_stops_deleting_the_lock_table(world: Materialized) -> None:
    dynamodb = world.sessions[SHARED].client("dynamodb")
    with pytest.raises(ClientError):
        dynamodb.delete_table(TableName=TABLE)
    assert dynamodb.list_tables()["TableNames"] == [TABLE]


def test_versioning_keeps_a_deleted_state_file(world: Materialized) -> None:
    s3 = world.sessions[SHARED].client("s3")
    s3.delete_bucket_policy(Bucket=BUCKET)  # moto ignores its conditions: see the module docstring
    s3.put_object(Bucket=BUCKET, Key="dev/terraform.tfstate", Body=b'{"version": 4, "serial": 1}')
    s3.put_object(Bucket=BUCKET, Key="dev/terraform.tfstate", Body=b'{"version": 4, "serial": 2}')
    s3.delete_object(Bucket=BUCKET, Key="dev/terraform.tfstate")
    listing = s3.list_object_versions(Bucket=BUCKET, Prefix="dev/")
    assert len(listing["DeleteMarkers"]) == 1 and listing["DeleteMarkers"][0]["IsLatest"]
    versions = sorted(listing["Versions"], key=lambda v: v["LastModified"])
    assert len(versions) == 2
    older = s3.get_object(Bucket=BUCKET, Key="dev/terraform.tfstate", VersionId=versions[0]["VersionId"])
    assert json.loads(older["Body"].read())["serial"] in (1, 2)


def test_lock_items_use_the_lockid_key(world: Materialized) -> None:
    dynamodb = world.sessions[SHARED].client("dynamodb")
    item = {"LockID": {"S": f"{BUCKET}/dev/terraform.tfstate"}, "Info": {"S": "{}"}}
    dynamodb.put_item(TableName=TABLE, Item=item, ConditionExpression="attribute_not_exists(LockID)")
    with pytest.raises(ClientError) as caught:  # a second holder cannot take the lock
        dynamodb.put_item(TableName=TABLE, Item=item, ConditionExpression="attribute_not_exists(LockID)")
    assert caught.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
    dynamodb.delete_item(TableName=TABLE, Key={"LockID": item["LockID"]})


def test_state_mgmt_session_reaches_state_objects_and_nothing_else(world: Materialized) -> None:
    admin = world.sessions[SHARED]
    admin.client("s3").delete_bucket_policy(Bucket=BUCKET)  # moto ignores its conditions: see the module docstring
    admin.client("s3").create_bucket(Bucket="some-other-bucket")
    # moto neither carries session tags nor binds policy variables: bind ${aws:PrincipalTag/StateAccount} to the dev
    # account, as AWS does for a session tagged StateAccount=<dev>, and let moto enforce the bound key scoping.
    iam = admin.client("iam")
    policy = iam.get_role_policy(RoleName="state-mgmt-role", PolicyName="terraform-state-access")["PolicyDocument"]
    bound = json.dumps(policy).replace("${aws:PrincipalTag/StateAccount}", DEV)
    iam.put_role_policy(RoleName="state-mgmt-role", PolicyName="terraform-state-access", PolicyDocument=bound)
    state_mgmt = assume(admin, f"arn:aws:iam::{SHARED}:role/state-mgmt-role")
    assumer = assume(admin, f"arn:aws:iam::{SHARED}:role/infrastructure-assumer-role")
    dev_key, prod_key = f"{DEV}/network/terraform.tfstate", "444444444444/network/terraform.tfstate"

    @set_initial_no_auth_action_count(0)
    def exercise() -> None:
        s3 = state_mgmt.client("s3")
        s3.put_object(Bucket=BUCKET, Key=dev_key, Body=b'{"version": 4}')
        assert s3.get_object(Bucket=BUCKET, Key=dev_key)["Body"].read() == b'{"version": 4}'
        s3.put_object(Bucket=BUCKET, Key=dev_key + ".tflock", Body=b'{"ID": "lock"}')
        s3.delete_object(Bucket=BUCKET, Key=dev_key + ".tflock")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{DEV}/")["Contents"]]
        assert keys == [dev_key]
        for denied in (
            lambda: s3.put_object(Bucket=BUCKET, Key=prod_key, Body=b"x"),
            lambda: s3.get_object(Bucket=BUCKET, Key=prod_key),
        ):
            with pytest.raises(ClientError) as other_account:
                denied()
            assert other_account.value.response["Error"]["Code"] == "AccessDenied"
        with pytest.raises(ClientError) as other:
            s3.put_object(Bucket="some-other-bucket", Key="x", Body=b"x")
        assert other.value.response["Error"]["Code"] == "AccessDenied"
        with pytest.raises(ClientError) as config_change:
            s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
        assert config_change.value.response["Error"]["Code"] == "AccessDenied"
        with pytest.raises(ClientError) as by_assumer:
            assumer.client("s3").get_object(Bucket=BUCKET, Key=dev_key)
        assert by_assumer.value.response["Error"]["Code"] == "AccessDenied"

    exercise()


def test_hardened_backend_materializes_with_its_key_and_logging(worlds: MotoWorlds) -> None:
    from tests.conftest import with_changes

    backend = {"kms": {"enabled": True}, "access_logging": {"target_bucket": "org-logs-bucket"}}
    program = run_section(with_changes(example_section(), state_backend=backend))
    with worlds.fresh(program) as world:
        (key_arn,) = [v for v in world.keys.values() if v.startswith("arn:")]
        session = world.sessions[SHARED]
        kms = session.client("kms")
        assert kms.get_key_rotation_status(KeyId=key_arn)["KeyRotationEnabled"] is True
        policy = json.loads(kms.get_key_policy(KeyId=key_arn, PolicyName="default")["Policy"])
        assert [s["Sid"] for s in policy["Statement"]] == [
            "KeyAdministration",
            "KeyAdministrationByArn",
            "StateMgmtUse",
            "DynamoDbOnBehalfOfAdmins",
        ]
        alias = next(a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == f"alias/{BUCKET}")
        assert key_arn.endswith(alias["TargetKeyId"])
        (rule,) = session.client("s3").get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"][
            "Rules"
        ]
        assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
        assert rule["BucketKeyEnabled"] is True
        sse = session.client("dynamodb").describe_table(TableName=TABLE)["Table"]["SSEDescription"]
        assert sse["KMSMasterKeyArn"] == key_arn
        logging = session.client("s3").get_bucket_logging(Bucket=BUCKET)["LoggingEnabled"]
        assert logging == {"TargetBucket": "org-logs-bucket", "TargetPrefix": "terraform-state/"}


def test_oidc_providers_materialize_with_the_arn_the_assumer_trusts(worlds: MotoWorlds) -> None:
    program = run_section(with_changes(example_section(), ci=documented_ci(), accounts=[]))
    registered = {str(r.state["arn"]) for r in program.by_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider")}
    with worlds.fresh(program) as world:
        iam = world.sessions[SHARED].client("iam")
        made = {p["Arn"] for p in iam.list_open_id_connect_providers()["OpenIDConnectProviderList"]}
        github = iam.get_open_id_connect_provider(
            OpenIDConnectProviderArn=f"arn:aws:iam::{SHARED}:oidc-provider/token.actions.githubusercontent.com"
        )
        trust = iam.get_role(RoleName="infrastructure-assumer-role")["Role"]["AssumeRolePolicyDocument"]
    # moto forms the ARN from the URL as IAM does: the one the mock runner computed and the trust names.
    assert (
        made
        == registered
        == {
            f"arn:aws:iam::{SHARED}:oidc-provider/token.actions.githubusercontent.com",
            f"arn:aws:iam::{SHARED}:oidc-provider/gitlab.com",
        }
    )
    assert github["ClientIDList"] == ["sts.amazonaws.com"]
    federated = {s["Principal"]["Federated"] for s in trust["Statement"] if "Federated" in s["Principal"]}
    assert federated == made
