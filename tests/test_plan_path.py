"""The plan path (plan_path.enabled): a read-only way beside the apply path, and the proof that it stays read-only.

One program run of the example stack with the plan path on (and one of a member stack reading it); everything else is
parsed from what it registered, or evaluated on that model and on tampered copies of it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest

from federation import documents, names, snippets
from federation.config import READ_ONLY_MANAGED_POLICIES, ConfigError, FederationConfig
from federation.limits import measure
from iam.plan_policies import NEWER_THAN_LINTER
from plan.escalation import Escalation, analyse
from plan.evaluator import Principal, Request, evaluate
from plan.matrix import PLAN_READS, Matrix, access_matrix
from plan.model import IamModel, iam_model
from plan.runner import ProgramRun
from plan.world import PLAN, managed, published_policy
from policy.rules import RULES
from state_backend import policies as sb_policies
from tests.conftest import config_of, doc, example_section, run_section, statements, with_changes
from tests.test_policy_lint import TRUST_FALSE_POSITIVE, findings, registered_documents
from tests.test_policy_pack import validation_args, violations
from tests.test_snippets import DEV, aws_cli, hcl  # noqa: F401 - aws_cli is a fixture
from tests.test_stacks import member_section, run_member

PLAN_PATH = {"enabled": True, "permission_sets": ["AWSReadOnlyAccess"]}
SHARED_ID = "111111111111"
ACCOUNTS = {"shared": SHARED_ID, "dev": "222222222222", "stage": "333333333333", "prod": "444444444444"}
# No plan identity in the runners' account (the shared account) unless plan_path.runners_account_doer (a risk).
PLANNED = {name: account for name, account in ACCOUNTS.items() if name != "shared"}
PLAN_ASSUMER = f"arn:aws:iam::{SHARED_ID}:role/infrastructure-plan-assumer-role"
STATE_READER = f"arn:aws:iam::{SHARED_ID}:role/state-reader-role"
STATE_MGMT = f"arn:aws:iam::{SHARED_ID}:role/state-mgmt-role"
READ_ONLY_ACCESS = "arn:aws:iam::aws:policy/ReadOnlyAccess"
ASSUME = ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]


def plan_doer_arn(account: str) -> str:
    return f"arn:aws:iam::{ACCOUNTS[account]}:role/infrastructure-plan-doer-role"


# Identity Center in the runners' (shared) account: its plan permission set's role would read the runners' secrets
# without the guard (tests/test_runner_secrets.py), so the plan path is tested with the guard's perimeter around it.
GUARD = {"management_account_id": "999999999999", "organization_guard": {"enabled": True, "target_ids": ["r-ab12"]}}


def plan_section(**changes: Any) -> dict[str, Any]:
    return with_changes(example_section(), **{"plan_path": PLAN_PATH, **GUARD, **changes})


@pytest.fixture(scope="module")
def config() -> FederationConfig:
    return config_of(plan_section())


@pytest.fixture(scope="module")
def run() -> ProgramRun:
    return run_section(plan_section())


@pytest.fixture(scope="module")
def model(run: ProgramRun) -> IamModel:
    return iam_model(run)


@pytest.fixture(scope="module")
def matrix(config: FederationConfig, model: IamModel) -> Matrix:
    return access_matrix(config, model)


@pytest.fixture(scope="module")
def escalation(config: FederationConfig, matrix: Matrix) -> Escalation:
    return analyse(config, matrix)


def registered(run: ProgramRun, name: str) -> Any:
    (reg,) = [r for r in run.registrations if r.name == name]
    return reg


def policy_of(run: ProgramRun, name: str, key: str = "policy") -> dict[str, Any]:
    return doc(registered(run, name).inputs[key])


# --- config ----------------------------------------------------------------------------------------------------------


def test_off_by_default_and_off_changes_nothing(example_run: ProgramRun) -> None:
    default = config_of(example_section())
    assert default.plan_path.enabled is False
    off = config_of(with_changes(example_section(), plan_path={"enabled": False, "permission_sets": ["X"]}))
    assert documents.all_documents(off) == documents.all_documents(default)
    assert snippets.root_hcl(snippets.state_backend_facts(off)) == example_run.outputs["terragrunt_root_hcl"]
    assert not [r.name for r in example_run.registrations if "plan" in r.name or "reader" in r.name]
    assert not [key for key in example_run.outputs if "plan" in key or "reader" in key]


def test_turning_it_on_only_adds_resources_besides_the_backends_guards(
    example_run: ProgramRun, run: ProgramRun
) -> None:
    before = {r.urn: r.inputs for r in run_section(with_changes(example_section(), **GUARD)).registrations}
    after = {r.urn: r.inputs for r in run.registrations}
    assert set(before) <= set(after)
    changed = {urn.rsplit("::", 1)[1] for urn in before if before[urn] != after[urn]}
    # The guard's perimeter names the plan roles of the runners' account among its platform roles.
    assert changed == {"state-backend-policy", "state-backend-lock-table-policy", "organization-guard-scp"}
    added = {urn.rsplit("::", 1)[1] for urn in set(after) - set(before)}
    per_account = {f"plan-doer-{a}{part}" for a in PLANNED for part in ("", "-role", "-readonly", "-guard")}
    assert added == {
        "plan-assumer",
        "plan-assumer-role",
        "plan-assumer-assume-only",
        "state-backend-state-reader-role",
        "state-backend-state-reader-access",
        *per_account,
    }


def test_read_only_permission_sets_are_not_org_admins_so_no_risk_is_taken() -> None:
    config = config_of(
        plan_section(plan_path={**PLAN_PATH, "permission_sets": ["AWSReadOnlyAccess", "ViewOnlyAccess"]})
    )
    assert config.risks == []
    # The same set on the apply path is still refused: there it would be administrator of every account.
    with pytest.raises(ConfigError, match=r"sso.permission_sets\[1\] = 'AWSReadOnlyAccess'"):
        config_of(
            with_changes(example_section(), sso={"permission_sets": ["AWSAdministratorAccess", "AWSReadOnlyAccess"]})
        )


@pytest.mark.parametrize(
    ("plan_path", "expected"),
    [
        (
            {"enabled": True},
            "iam-federation:plan_path.permission_sets = []: with plan_path.enabled, name the read-only permission sets",
        ),
        (
            {**PLAN_PATH, "doer": {"name": "infrastructure-doer-role"}},
            "iam-federation:plan_path.doer.name = 'infrastructure-doer-role': same name as roles.doer.name",
        ),
        (
            {**PLAN_PATH, "state_reader": {"name": "state-mgmt-role"}},
            "iam-federation:plan_path.state_reader.name = 'state-mgmt-role': same name as roles.state_mgmt.name",
        ),
        (
            {**PLAN_PATH, "doer": {"managed_policy_arns": {"mine": "arn:aws:iam::111111111111:policy/plan"}}},
            "iam-federation:plan_path.doer.managed_policy_arns.mine = 'arn:aws:iam::111111111111:policy/plan': "
            "the offline plan cannot show that this policy grants reads only",
        ),
        ({**PLAN_PATH, "permission_sets": ["x" * 33]}, "iam-federation:plan_path.permission_sets[0] = 'xxxxxxxx"),
    ],
)
def test_config_errors_name_the_key(plan_path: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_of(with_changes(example_section(), plan_path=plan_path))
    (problem,) = caught.value.problems
    assert problem.startswith(expected), problem


def test_an_unreadable_plan_doer_policy_is_an_accepted_risk_in_the_shared_stack_only() -> None:
    custom = {"mine": "arn:aws:iam::111111111111:policy/plan"}
    config = config_of(
        plan_section(
            plan_path={**PLAN_PATH, "doer": {"managed_policy_arns": custom}},
            accepted_risks=["plan-doer-unverified-policy"],
        )
    )
    assert config.risks == ["plan-doer-unverified-policy"]
    with pytest.raises(ConfigError) as caught:
        config_of(member_section(plan_path={"enabled": True, "doer": {"managed_policy_arns": custom}}))
    (problem,) = caught.value.problems
    assert problem.startswith("iam-federation:plan_path.doer.managed_policy_arns.mine = 'arn:aws:iam::111111111111")
    assert "a member stack's plan doers may carry only AWS managed read-only policies" in problem


# --- what the program registers --------------------------------------------------------------------------------------


def test_plan_assumer_trusts_the_read_only_sets_only_and_assumes_plan_roles_only(run: ProgramRun) -> None:
    role = registered(run, "plan-assumer-role")
    assert role.inputs["name"] == "infrastructure-plan-assumer-role"
    assert registered(run, "plan-assumer").type == "iam-federation:iam:PlanAssumerRole"
    trust = statements(doc(role.inputs["assumeRolePolicy"]))
    assert set(trust) == {"SsoPlanPermissionSets"}  # no EC2: the runners' instance profile is the apply path's
    sso = trust["SsoPlanPermissionSets"]
    assert sso["Principal"] == {"AWS": f"arn:aws:iam::{SHARED_ID}:root"}
    base = f"arn:aws:iam::{SHARED_ID}:role/aws-reserved/sso.amazonaws.com"
    assert sso["Condition"]["ArnLike"]["aws:PrincipalArn"] == [
        f"{base}/AWSReservedSSO_AWSReadOnlyAccess_{'?' * 16}",
        f"{base}/*/AWSReservedSSO_AWSReadOnlyAccess_{'?' * 16}",
    ]
    assert sso["Condition"]["StringEquals"] == {"aws:PrincipalOrgID": "o-a1b2c3d4e5"}
    allowed = statements(policy_of(run, "plan-assumer-assume-only"))
    plan_doers = "arn:aws:iam::????????????:role/infrastructure-plan-doer-role"
    assert allowed["AssumePlanDoersInOrganization"]["Resource"] == plan_doers
    assert allowed["AssumePlanDoersInOrganization"]["Condition"] == {
        "StringEquals": {"aws:ResourceOrgID": "o-a1b2c3d4e5"}
    }
    assert allowed["AssumeStateReader"]["Resource"] == STATE_READER
    # The plan path reads no runner state: the reader is never tagged with the runners' (shared) account.
    assert allowed["NoRunnersAccountState"] == {
        "Sid": "NoRunnersAccountState",
        "Effect": "Deny",
        "Action": "sts:TagSession",
        "Resource": STATE_READER,
        "Condition": {"StringEquals": {"aws:RequestTag/StateAccount": SHARED_ID}},
    }
    assert {s["Effect"] for k, s in allowed.items() if k != "NoRunnersAccountState"} == {"Allow"}
    assert len(allowed) == 3


def test_extra_trust_statements_join_the_plan_assumer_trust(config: FederationConfig) -> None:
    oidc = {"Sid": "PullRequests", "Effect": "Allow", "Principal": {"Federated": "x"}, "Action": "sts:X"}
    trust = statements(documents.plan_assumer_trust(config, [oidc]))
    assert list(trust) == ["SsoPlanPermissionSets", "PullRequests"]
    # Appended as given, refusing session tags like every statement of this trust (second red team).
    assert trust["PullRequests"] == {**oidc, "Condition": {"Null": {"aws:TagKeys": "true"}}}
    assert trust["SsoPlanPermissionSets"]["Condition"]["Null"] == {"aws:TagKeys": "true"}
    assert "Condition" not in oidc


def test_every_account_has_a_plan_doer_keyed_by_its_name(run: ProgramRun) -> None:
    assert not [r for r in run.registrations if r.name.startswith("plan-doer-shared")]
    for account, account_id in PLANNED.items():
        component = registered(run, f"plan-doer-{account}")
        assert component.type == "iam-federation:iam:PlanDoerRole"
        role = registered(run, f"plan-doer-{account}-role")
        assert run.account_of(role) == account_id
        assert role.state["arn"] == plan_doer_arn(account)
        (trust,) = doc(role.inputs["assumeRolePolicy"])["Statement"]
        assert trust["Sid"] == "PlanAssumer" and trust["Principal"] == {"AWS": f"arn:aws:iam::{SHARED_ID}:root"}
        assert trust["Condition"] == {"ArnEquals": {"aws:PrincipalArn": PLAN_ASSUMER}}
        attachment = registered(run, f"plan-doer-{account}-readonly")
        assert attachment.inputs["policyArn"] == READ_ONLY_ACCESS


def test_the_plan_doers_guard_denies_iam_writes_and_every_other_role(run: ProgramRun) -> None:
    guard = statements(policy_of(run, "plan-doer-dev-guard"))
    assert guard["AssumeStateReader"] == {
        "Sid": "AssumeStateReader",
        "Effect": "Allow",
        "Action": ASSUME,
        "Resource": STATE_READER,
    }
    assert guard["NoOtherRoles"]["Effect"] == "Deny" and guard["NoOtherRoles"]["NotResource"] == STATE_READER
    assert guard["NoOtherRoles"]["Action"] == ASSUME
    writes = guard["NoIamWrites"]
    assert writes["Effect"] == "Deny" and writes["Resource"] == "*"
    for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:UpdateAssumeRolePolicy"):
        assert any(re.fullmatch(p.replace("*", ".*"), action) for p in writes["Action"]), action
    assert "iam:PassRole" in writes["Action"]
    # Reads stay allowed: terraform plan refreshes IAM resources.
    assert not any(re.fullmatch(p.replace("*", ".*"), "iam:GetRole") for p in writes["Action"])
    # ReadOnlyAccess grants "reads" that act: receiving hides a message, some Gets mint credentials or passwords.
    effectful = guard["NoEffectfulReads"]
    assert effectful["Effect"] == "Deny" and effectful["Resource"] == "*"
    assert {"sqs:ReceiveMessage", "cognito-identity:GetCredentialsForIdentity", "ec2:GetPasswordData"} <= set(
        effectful["Action"]
    )
    # The runners live in the shared account: only its plan doer (when asked for) carries the deny on their secrets.
    assert "NoRunnerSecrets" not in guard
    opted = plan_section(
        plan_path={"enabled": True, "permission_sets": ["AWSReadOnlyAccess"], "runners_account_doer": True},
        accepted_risks=["runners-account-plan-doer"],
    )
    shared = statements(policy_of(run_section(opted), "plan-doer-shared-guard"))
    runner = shared["NoRunnerSecrets"]
    assert runner["Condition"] == {"StringEquals": {"aws:ResourceTag/iam-federation:runner": "true"}}
    assert {"ec2:DescribeInstanceAttribute", "ec2:GetConsoleOutput", "ssm:GetParameter"} <= set(runner["Action"])


def test_the_state_reader_trusts_like_state_mgmt_with_the_plan_roles(run: ProgramRun, config: FederationConfig) -> None:
    reader = doc(registered(run, "state-backend-state-reader-role").inputs["assumeRolePolicy"])
    state_mgmt = documents.state_mgmt_trust(config)
    trust = statements(reader)
    assert list(trust) == ["PlanAssumer", "PlanDoersInOrganization"]
    assert trust["PlanAssumer"]["Condition"]["ArnEquals"] == {"aws:PrincipalArn": PLAN_ASSUMER}
    doers = trust["PlanDoersInOrganization"]["Condition"]
    assert doers["ArnLike"] == {"aws:PrincipalArn": "arn:aws:iam::????????????:role/infrastructure-plan-doer-role"}
    assert doers["StringEquals"]["aws:RequestTag/StateAccount"] == "${aws:PrincipalAccount}"
    # Everything else is state-mgmt's, by construction.
    mgmt = statements(state_mgmt)
    assert doers["ForAllValues:StringEquals"] == mgmt["DoersInOrganization"]["Condition"]["ForAllValues:StringEquals"]
    assert doers["StringEqualsIfExists"] == mgmt["DoersInOrganization"]["Condition"]["StringEqualsIfExists"]


def test_the_state_reader_reads_its_accounts_state_and_lock_digests_only(run: ProgramRun) -> None:
    access = statements(policy_of(run, "state-backend-state-reader-access"))
    bucket = f"arn:aws:s3:::terraform-state-{SHARED_ID}"
    assert access["ReadStateObjects"]["Action"] == ["s3:GetObject"]
    assert access["ReadStateObjects"]["Resource"] == f"{bucket}/${{aws:PrincipalTag/StateAccount}}/*"
    assert access["ReadLockItems"]["Action"] == ["dynamodb:GetItem"]
    assert access["ReadLockItems"]["Condition"] == {
        "Null": {"dynamodb:LeadingKeys": "false"},
        "ForAllValues:StringLike": {
            "dynamodb:LeadingKeys": [f"terraform-state-{SHARED_ID}/${{aws:PrincipalTag/StateAccount}}/*"]
        },
    }
    assert access["ReadReadableState"]["Resource"] == [f"{bucket}/{SHARED_ID}/outputs/*"]  # [shared/outputs/]
    granted = {a for s in access.values() for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])}
    assert granted == {"s3:ListBucket", "s3:GetObject", "dynamodb:GetItem"}


def test_the_reader_policy_refuses_to_inherit_a_state_mgmt_grant_it_cannot_narrow(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    widened = sb_policies.state_mgmt_permissions_policy

    def with_a_new_grant(**kwargs: Any) -> dict[str, Any]:
        document = widened(**kwargs)
        document["Statement"].append(
            {"Sid": "Tagging", "Effect": "Allow", "Action": "s3:PutObjectTagging", "Resource": "*"}
        )
        return document

    monkeypatch.setattr(sb_policies, "state_mgmt_permissions_policy", with_a_new_grant)
    with pytest.raises(ValueError, match="state-mgmt statement Tagging has no read-only counterpart"):
        documents.state_reader_permissions(config_of(plan_section()))


def test_the_bucket_and_table_let_the_reader_read_and_nothing_more(run: ProgramRun) -> None:
    bucket = statements(policy_of(run, "state-backend-policy"))
    assert bucket["DenyStateObjectsExceptStateRoles"]["Condition"] == {
        "ArnNotEquals": {"aws:PrincipalArn": sorted([STATE_MGMT, STATE_READER])}
    }
    reads_only = bucket["StateReaderReadsOnly"]
    assert reads_only["Effect"] == "Deny" and reads_only["Principal"] == "*"
    assert reads_only["NotAction"] == ["s3:GetObject", "s3:ListBucket"]
    assert reads_only["Condition"] == {"ArnEquals": {"aws:PrincipalArn": STATE_READER}}
    assert reads_only["Resource"] == [
        f"arn:aws:s3:::terraform-state-{SHARED_ID}",
        f"arn:aws:s3:::terraform-state-{SHARED_ID}/*",
    ]
    table = statements(policy_of(run, "state-backend-lock-table-policy"))
    assert STATE_READER in table["DenyTableExceptNamedRoles"]["Condition"]["ArnNotEquals"]["aws:PrincipalArn"]
    assert table["StateReaderGetItemOnly"]["Condition"] == {"ArnEquals": {"aws:PrincipalArn": STATE_READER}}
    denied = set(table["StateReaderGetItemOnly"]["Action"])
    assert denied == set(sb_policies.TABLE_POLICY_ACTIONS) - {"dynamodb:GetItem"}
    assert {"dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Scan", "dynamodb:UpdateItem"} <= denied


def test_a_state_key_lets_the_reader_decrypt_through_the_stores_only() -> None:
    section = plan_section(state_backend={"kms": {"enabled": True}, "readable_state": ["shared/outputs/"]})
    config = config_of(section)
    key_policy = statements(documents.all_documents(config)["state key policy"])
    reader = key_policy["StateReaderDecrypt"]
    assert reader["Principal"] == {"AWS": STATE_READER}
    assert reader["Action"] == ["kms:Decrypt", "kms:DescribeKey"]
    assert reader["Condition"]["StringEquals"]["kms:ViaService"] == [
        "s3.us-east-1.amazonaws.com",
        "dynamodb.us-east-1.amazonaws.com",
    ]
    access = statements(documents.state_reader_permissions(config, "arn:aws:kms:us-east-1:111111111111:key/k"))
    assert access["StateKeyDecrypt"]["Action"] == ["kms:Decrypt", "kms:DescribeKey"]


def test_the_organization_guard_protects_the_plan_roles_too() -> None:
    guard = {"enabled": True, "target_ids": ["r-ab12"]}
    config = config_of(plan_section(management_account_id="999999999999", organization_guard=guard))
    protected = statements(documents.organization_guard(config))["ProtectFederationRoles"]["Resource"]
    for name in ("infrastructure-plan-assumer-role", "infrastructure-plan-doer-role", "state-reader-role"):
        assert f"arn:aws:iam::????????????:role/{name}" in protected


def test_outputs_name_the_plan_roles(run: ProgramRun) -> None:
    outputs = run.outputs
    assert outputs["plan_assumer_role_arn"] == PLAN_ASSUMER
    assert outputs["state_reader_role_arn"] == STATE_READER
    assert outputs["plan_doer_role_arns"] == {a: plan_doer_arn(a) for a in sorted(PLANNED)}
    assert (outputs["plan_doer_role_name"], outputs["plan_doer_role_path"]) == ("infrastructure-plan-doer-role", "/")


def test_plan_documents_lint_clean(run: ProgramRun) -> None:
    plan_docs = {
        k: v for k, v in registered_documents(run).items() if re.match(r"(plan-|state-backend-state-reader)", k[0])
    }
    assert len(plan_docs) == 10  # plan assumer (2), 3 plan doers (2 each: none in the runners' account), reader (2)
    for (name, key), document in plan_docs.items():
        statements_ = len(json.loads(document)["Statement"])
        expected = [TRUST_FALSE_POSITIVE] * statements_ if key == "assumeRolePolicy" else []
        if name.endswith("-guard"):  # denies of actions newer than parliament's database: expected, and only those
            found = findings(document)
            unknown = {text.rsplit(" ", 1)[1] for kind, text in found if kind.startswith("UNKNOWN_")}
            # Each is an action of NEWER_THAN_LINTER, or the prefix of one parliament does not know at all.
            assert all(any(a == u or a.startswith(u + ":") for a in NEWER_THAN_LINTER) for u in unknown), unknown
            assert all(any(a == u or a.startswith(u + ":") for u in unknown) for a in NEWER_THAN_LINTER), unknown
            assert [f for f in found if not f[0].startswith("UNKNOWN_")] == expected, name
            continue
        assert findings(document) == expected, name
    for name in ("state-backend-policy", "state-backend-lock-table-policy"):
        assert findings(registered(run, name).inputs["policy"]) == [], name


def test_the_plan_path_passes_every_crossguard_rule(run: ProgramRun) -> None:
    found = {
        (rule, reg.name): violations(rule, validation_args(run, reg))
        for rule in RULES
        for reg in run.resources
        if reg.custom
    }
    assert {key: v for key, v in found.items() if v} == {}


def test_no_plan_document_grows_with_the_organization() -> None:
    def sizes(count: int) -> dict[str, int]:
        accounts = [{"name": f"a{i}", "id": f"{200000000000 + i}"} for i in range(count)]
        config = config_of(plan_section(accounts=accounts, stack={"kind": "complete", "max_accounts": 2000}))
        return {m.what: m.size for m in measure(config) if "plan" in m.what or "reader" in m.what}

    small = sizes(10)
    assert len(small) == 6
    assert small == sizes(1000)


# --- the access matrix and the escalation analysis -------------------------------------------------------------------


@pytest.mark.parametrize("arn", sorted(READ_ONLY_MANAGED_POLICIES))
def test_the_read_only_policies_are_modelled_from_their_published_documents(arn: str) -> None:
    document = published_policy(arn)
    assert document["Statement"] and managed(arn) is document
    principal = Principal("p", "arn:aws:iam::222222222222:role/p", "o-a1b2c3d4e5", (("p", document),))
    writes = [
        ("s3:PutObject", "arn:aws:s3:::bucket/key"),
        ("dynamodb:PutItem", "arn:aws:dynamodb:us-east-1:222222222222:table/t"),
        ("iam:CreateRole", "arn:aws:iam::222222222222:role/x"),
        ("iam:PassRole", "arn:aws:iam::222222222222:role/x"),
        ("sts:AssumeRole", "arn:aws:iam::222222222222:role/x"),
        ("ec2:TerminateInstances", "arn:aws:ec2:us-east-1:222222222222:instance/i-1"),
        ("kms:Decrypt", "arn:aws:kms:us-east-1:222222222222:key/k"),
    ]
    for action, resource in writes:
        assert not evaluate(principal, Request(action, resource, "222222222222", None)).allowed, (arn, action)
    assert evaluate(principal, Request("iam:ListRoles", "*", "222222222222", None)).allowed  # a read, to be sure


def plan_nodes(matrix: Matrix) -> list[str]:
    return [key for key, node in matrix.world.nodes.items() if node.owner.startswith(PLAN)]


def test_the_matrix_matches_the_promise_with_the_plan_path(matrix: Matrix) -> None:
    assert matrix.mismatches == []
    subjects = [*ACCOUNTS, "unmanaged", "outsider"]
    # A session tagged with the runners' account reads its readable prefixes only (second red team).
    reads = {(f"state-reader[{a}]", f"{k}:{a}") for a in subjects for k in PLAN_READS if a != "shared"}
    reads |= {(f"state-reader[{a}]", f"{k}-outputs:{a}") for a in ["shared"] for k in ("state-read", "state-list")}
    shared_outputs = {
        (f"state-reader[{a}]", f"{k}-outputs:shared") for a in subjects for k in ("state-read", "state-list")
    }
    allowed = {(c.principal, c.target) for c in matrix.judged if c.actual and c.principal in plan_nodes(matrix)}
    assert allowed == {
        ("sso-plan:AWSReadOnlyAccess", "assume:plan-assumer"),
        ("sso-plan:AWSReadOnlyAccess(regional path)", "assume:plan-assumer"),
        *{("plan-assumer", f"assume:plan-doer@{a}") for a in PLANNED},
        # Every account but the runners' (the shared account): its modules' state is never the plan path's.
        *{("plan-assumer", f"assume:state-reader[{a}]") for a in subjects if a != "shared"},
        *{(f"plan-doer@{a}", f"assume:state-reader[{a}]") for a in PLANNED},
        *reads,
        *shared_outputs,
    }


def test_who_reaches_the_plan_roles(matrix: Matrix) -> None:
    def reachers(target: str) -> set[str]:
        return {c.principal for c in matrix.judged if c.target == target and c.actual}

    assert reachers("assume:plan-assumer") == {
        "sso-plan:AWSReadOnlyAccess",
        "sso-plan:AWSReadOnlyAccess(regional path)",
    }
    assert reachers("assume:plan-doer@dev") == {"plan-assumer"}
    # An account that builds no plan doer may create a role of its name: it reads its own (empty) prefix, no more.
    assert reachers("assume:state-reader[unmanaged]") == {
        "plan-assumer",
        "new-role:infrastructure-plan-doer-role@unmanaged",
    }
    # The read-only sets do not reach the apply assumer, and the apply side does not reach the plan assumer.
    assert not matrix.cell("sso-plan:AWSReadOnlyAccess", "assume:assumer").actual
    assert not matrix.cell("sso:AWSAdministratorAccess", "assume:plan-assumer").actual
    assert not matrix.cell("sso-plan:AWSReadOnlyAccess_x", "assume:plan-assumer").actual


def test_no_plan_identity_writes_in_one_request(matrix: Matrix) -> None:
    world = matrix.world
    for cell in matrix.cells:
        if cell.principal in plan_nodes(matrix) and cell.actual:
            assert world.targets[cell.target].kind in ("assume-plan", "assume-reader", *PLAN_READS), cell
    reader = matrix.cell("state-reader[dev]", "state-write:dev")
    assert not reader.actual and "resource:Deny:StateReaderReadsOnly" in reader.decided_by
    assert not matrix.cell("state-reader[dev]", "state-lock-file:dev").actual  # plans run with -lock=false
    assert not matrix.cell("state-reader[dev]", "lock-write:dev").actual
    assert not matrix.cell("state-reader[dev]", "state-read:prod").actual
    # ReadOnlyAccess reads S3 and DynamoDB everywhere: the backend's guards keep the plan doer out of state anyway.
    plan_doer = matrix.cell("plan-doer@stage", "state-read:dev")
    assert not plan_doer.actual and "resource:Deny:DenyStateObjectsExceptStateRoles" in plan_doer.decided_by
    assert not matrix.cell("plan-doer@dev", "write:dev").actual


def test_no_plan_identity_reaches_a_write_in_any_number_of_steps(matrix: Matrix, escalation: Escalation) -> None:
    assert escalation.failures == []
    world = matrix.world
    for source in plan_nodes(matrix):
        reach = escalation.reaches[source]
        assert all(world.nodes[node].owner.startswith(PLAN) for node in reach.hops), source
        kinds = {world.targets[asset].kind for asset in reach.assets}
        assert kinds <= {"assume-plan", "assume-reader", *PLAN_READS}, (source, kinds)
    assert "state-read:prod" in escalation.reaches["sso-plan:AWSReadOnlyAccess"].assets  # it does read, in 3 steps


# --- mutations: widen one document, the plan must flag it -----------------------------------------------------------


def _statement(document: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in document["Statement"] if s.get("Sid") == sid)


def widen_plan_doer_trust(model: IamModel) -> None:
    statement = _statement(model.roles["plan-doer-dev-role"].trust, "PlanAssumer")
    statement["Principal"] = {"AWS": "*"}
    del statement["Condition"]


def widen_plan_assumer_trust(model: IamModel) -> None:
    del _statement(model.roles["plan-assumer-role"].trust, "SsoPlanPermissionSets")["Condition"]["ArnLike"]


def drop_reader_tag_condition(model: IamModel) -> None:
    condition = _statement(model.roles["state-backend-state-reader-role"].trust, "PlanDoersInOrganization")["Condition"]
    del condition["StringEquals"]["aws:RequestTag/StateAccount"]


def give_plan_doer_admin_and_iam_writes(model: IamModel) -> None:
    role = model.roles["plan-doer-dev-role"]
    role.managed_arns.append("arn:aws:iam::aws:policy/AdministratorAccess")
    guard = role.inline["plan-only"]
    guard["Statement"] = [s for s in guard["Statement"] if s["Sid"] != "NoIamWrites"]


def let_the_reader_put_state(model: IamModel) -> None:
    reader = model.roles["state-backend-state-reader-role"].inline["terraform-state-read"]
    _statement(reader, "ReadStateObjects")["Action"] = ["s3:GetObject", "s3:PutObject"]
    assert model.bucket_policy is not None
    model.bucket_policy["Statement"] = [
        s for s in model.bucket_policy["Statement"] if s["Sid"] != "StateReaderReadsOnly"
    ]


def let_the_reader_take_locks(model: IamModel) -> None:
    reader = model.roles["state-backend-state-reader-role"].inline["terraform-state-read"]
    _statement(reader, "ReadLockItems")["Action"] = ["dynamodb:GetItem", "dynamodb:PutItem"]
    assert model.table_policy is not None
    model.table_policy["Statement"] = [
        s for s in model.table_policy["Statement"] if s["Sid"] != "StateReaderGetItemOnly"
    ]


@pytest.mark.parametrize(
    ("mutation", "flagged_cell"),
    [
        (widen_plan_doer_trust, ("admin@outsider", "assume:plan-doer@dev")),
        (widen_plan_assumer_trust, ("sso:AWSAdministratorAccess", "assume:plan-assumer")),
        (drop_reader_tag_condition, ("plan-doer@dev", "assume:state-reader[prod]")),
        (give_plan_doer_admin_and_iam_writes, ("plan-doer@dev", "write:dev")),
        (let_the_reader_put_state, ("state-reader[dev]", "state-write:dev")),
        (let_the_reader_take_locks, ("state-reader[dev]", "lock-write:dev")),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_mutation_is_flagged(
    mutation: Callable[[IamModel], None], flagged_cell: tuple[str, str], config: FederationConfig, model: IamModel
) -> None:
    tampered = model.copy()
    mutation(tampered)
    matrix = access_matrix(config, tampered)
    assert flagged_cell in {(c.principal, c.target) for c in matrix.mismatches}
    assert matrix.cell(*flagged_cell).actual


def test_iam_writes_alone_are_caught_by_the_escalation_analysis(config: FederationConfig, model: IamModel) -> None:
    # Only iam:UpdateAssumeRolePolicy, and the guard lifted: no single cell of the matrix changes its verdict against
    # the promise (taking a role over is a step, not an asset), but the plan doer now becomes the apply doer.
    tampered = model.copy()
    role = tampered.roles["plan-doer-dev-role"]
    guard = role.inline["plan-only"]
    guard["Statement"] = [s for s in guard["Statement"] if s["Sid"] != "NoIamWrites"]
    guard["Statement"].append(
        {"Sid": "Iam", "Effect": "Allow", "Action": "iam:UpdateAssumeRolePolicy", "Resource": "*"}
    )
    for scp in tampered.scps:  # and the organization guard's statement that denies the take-over on its own
        scp["Statement"] = [s for s in scp["Statement"] if s["Sid"] != "ProtectFederationRoles"]
    matrix = access_matrix(config, tampered)
    assert matrix.mismatches == []
    failures = {(f.source, f.reached): f.path for f in analyse(config, matrix).failures}
    assert failures[("plan-doer@dev", "doer@dev")] == "plan-doer@dev -[take-over:doer@dev]-> doer@dev"
    assert ("sso-plan:AWSReadOnlyAccess", "write:dev") in failures  # reached in four steps


def test_the_guards_hold_when_one_side_is_widened(config: FederationConfig, model: IamModel) -> None:
    # Defence in depth: an IAM grant on the plan doer with its guard in place, a put grant on the reader with the
    # bucket's guard in place, a grant of the apply doers to the plan assumer: each alone changes nothing.
    tampered = model.copy()
    tampered.roles["plan-doer-dev-role"].inline["iam"] = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "Iam", "Effect": "Allow", "Action": "iam:*", "Resource": "*"}],
    }
    reader = tampered.roles["state-backend-state-reader-role"].inline["terraform-state-read"]
    _statement(reader, "ReadStateObjects")["Action"] = ["s3:GetObject", "s3:PutObject"]
    tampered.roles["plan-assumer-role"].inline["assume-plan-doers-and-state-reader"]["Statement"].append(
        {
            "Sid": "Doers",
            "Effect": "Allow",
            "Action": ASSUME,
            "Resource": "arn:aws:iam::????????????:role/infrastructure-doer-role",
        }
    )
    matrix = access_matrix(config, tampered)
    assert matrix.mismatches == []
    assert analyse(config, matrix).failures == []
    assert "resource:Deny:StateReaderReadsOnly" in matrix.cell("state-reader[dev]", "state-write:dev").decided_by
    assert "identity[plan-only]:Deny:NoIamWrites" in matrix.cell("plan-doer@dev", "take-over:doer@dev").decided_by


def test_an_accepted_unreadable_policy_is_a_named_risk_not_a_failure(model: IamModel) -> None:
    # The program attaches whatever plan_path.doer.managed_policy_arns names: the model gets the same ARN here.
    custom = "arn:aws:iam::111111111111:policy/plan-reads"
    config = config_of(
        plan_section(
            plan_path={**PLAN_PATH, "doer": {"managed_policy_arns": {"reads": custom}}},
            accepted_risks=["plan-doer-unverified-policy"],
        )
    )
    tampered = model.copy()
    for name, role in tampered.roles.items():
        if name.startswith("plan-doer-"):
            role.managed_arns = [custom]
    matrix = access_matrix(config, tampered)
    assert matrix.mismatches == []
    assert matrix.cell("plan-doer@dev", "write:dev").actual  # modelled as an administrator of its account
    escalation = analyse(config, matrix)
    assert escalation.failures == []
    risky = {(f.source, f.reached) for f in escalation.findings if f.risk == "plan-doer-unverified-policy"}
    assert ("plan-doer@dev", "write:dev") in risky
    assert "plan-doer-unverified-policy" in escalation.risks


# --- what users paste -------------------------------------------------------------------------------------------------


def test_root_hcl_switches_to_the_plan_path_on_tg_plan(run: ProgramRun) -> None:
    text = run.outputs["terragrunt_root_hcl"]
    root = hcl(text)
    (locals_,) = root["locals"]
    assert locals_["plan"] == '${get_env("TG_PLAN", "") == "1"}'
    assert locals_["doer_role_arn"] == "${local.plan ? local.account.plan_role_arn : local.account.doer_role_arn}"
    assert locals_["aws_profile"] == "${local.plan ? local.account.plan_aws_profile : local.account.aws_profile}"
    assert (locals_["state_mgmt_arn"], locals_["state_reader_arn"]) == (STATE_MGMT, STATE_READER)
    assert locals_["state_role_arn"] == "${local.plan ? local.state_reader_arn : local.state_mgmt_arn}"
    (remote_state,) = root["remote_state"]
    assert remote_state["config"]["assume_role"]["role_arn"] == "${local.state_role_arn}"
    (terraform,) = root["terraform"]
    committed, extra = terraform["extra_arguments"]
    assert committed["committed_providers_only"]["arguments"] == ["-lockfile=readonly"]
    # Terragrunt's extra_arguments attributes (docs/src/content/docs/04-reference/01-hcl/02-blocks.mdx).
    assert set(extra["plan_path_without_lock"]) <= {
        "commands",
        "arguments",
        "env_vars",
        "required_var_files",
        "optional_var_files",
    }
    assert extra["plan_path_without_lock"]["commands"] == ["plan"]
    assert extra["plan_path_without_lock"]["arguments"] == '${local.plan ? ["-lock=false"] : []}'


def test_account_hcl_holds_the_plan_locals_root_hcl_reads(run: ProgramRun) -> None:
    (account,) = hcl(run.outputs["terragrunt_account_hcl"]["dev"])["locals"]
    assert account["plan_role_arn"] == plan_doer_arn("dev")
    assert account["plan_aws_profile"] == "dev.plan"
    (root_locals,) = hcl(run.outputs["terragrunt_root_hcl"])["locals"]
    read = {m for v in root_locals.values() for m in re.findall(r"local\.account\.(\w+)", v)}
    assert read == set(account)


def test_every_plan_profile_resolves_to_its_plan_role(run: ProgramRun, aws_cli: Any) -> None:  # noqa: F811 - the imported fixture
    _, chains = aws_cli(run.outputs["aws_config_snippet"])
    read_only = f"sso:{SHARED_ID}:AWSReadOnlyAccess"
    assert chains["shared-AWSReadOnlyAccess"] == [read_only]
    assert chains["assumer.plan"] == [read_only, PLAN_ASSUMER]
    for account in PLANNED:
        assert chains[f"{account}.plan"] == [read_only, PLAN_ASSUMER, plan_doer_arn(account)]
    assert "shared.plan" not in chains  # no plan identity in the runners' account
    # The apply path's profiles are as they were.
    assert chains["dev"][-1] == "arn:aws:iam::222222222222:role/infrastructure-doer-role"


def test_a_plan_only_workstation_gets_its_own_sso_session(aws_cli: Any) -> None:  # noqa: F811 - the imported fixture
    config = config_of(plan_section(sso={"permission_sets": []}))
    account = snippets.AccountFacts(DEV.name, "222222222222", "us-east-1", DEV.doer_arn, plan_doer_arn("dev"))
    text = snippets.aws_config_snippet(config, [account])
    full, chains = aws_cli(text)
    assert list(full["sso_sessions"]) == ["sso"]
    assert chains["dev.plan"] == [f"sso:{SHARED_ID}:AWSReadOnlyAccess", PLAN_ASSUMER, plan_doer_arn("dev")]
    assert "assumer" not in chains and "dev" not in chains


# --- member stacks ---------------------------------------------------------------------------------------------------


def test_a_member_builds_plan_doers_from_the_shared_stacks_outputs(run: ProgramRun, aws_cli: Any) -> None:  # noqa: F811 - the imported fixture
    member = run_member(member_section(plan_path={"enabled": True}), run)
    role = registered(member, "plan-doer-sandbox-role")
    assert role.inputs["name"] == "infrastructure-plan-doer-role"
    (trust,) = doc(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Condition"] == {"ArnEquals": {"aws:PrincipalArn": PLAN_ASSUMER}}
    guard = statements(policy_of(member, "plan-doer-sandbox-guard"))
    assert guard["AssumeStateReader"]["Resource"] == STATE_READER
    sandbox = "arn:aws:iam::666666666666:role/infrastructure-plan-doer-role"
    assert member.outputs["plan_doer_role_arns"]["sandbox"] == sandbox
    _, chains = aws_cli(run.outputs["aws_config_snippet"] + "\n" + member.outputs["aws_config_snippet"])
    assert chains["sandbox.plan"] == [f"sso:{SHARED_ID}:AWSReadOnlyAccess", PLAN_ASSUMER, sandbox]
    # One model of both stacks: the matrix holds and the member's plan doers are in it.
    members = [{"name": "data", "id": "555555555555"}, {"name": "sandbox", "id": "666666666666"}]
    both = config_of(plan_section(accounts=[*example_section()["iam-federation:accounts"], *members]))
    model = iam_model(run, member)
    assert member.account_of(role) == "666666666666" and "plan-doer-sandbox-role" in model.roles
    matrix = access_matrix(both, model)
    assert matrix.mismatches == []
    # The member's plan doers are in the class of dev's: the verdicts of dev's representative cells stand for them.
    assert matrix.class_map.class_of["666666666666"] is matrix.class_map.class_of["222222222222"]
    assert analyse(both, matrix).failures == []


def test_a_member_with_the_plan_path_needs_it_in_its_shared_stack(tmp_path: Any) -> None:
    import yaml

    from plan.stacks import select_stacks
    from tests.conftest import EXAMPLE_STACK, MEMBER_STACK

    (tmp_path / "Pulumi.shared.yaml").write_text(EXAMPLE_STACK.read_text())
    member = yaml.safe_load(MEMBER_STACK.read_text())
    member["config"]["iam-federation:plan_path"] = {"enabled": True}
    (tmp_path / "Pulumi.members-a.yaml").write_text(yaml.safe_dump(member))
    with pytest.raises(ConfigError) as caught:
        select_stacks(tmp_path, "members-a")
    (problem,) = caught.value.problems
    assert problem.startswith(
        "Pulumi.members-a.yaml:8:5: iam-federation:plan_path.enabled = True: the shared stack 'shared'"
    )


def test_names_are_derived_from_config(config: FederationConfig) -> None:
    assert names.plan_assumer_arn(config) == PLAN_ASSUMER
    assert names.state_reader_arn(config) == STATE_READER
    assert names.plan_doer_arns(config)["prod"] == plan_doer_arn("prod")


def test_provider_mode_plan_previews_through_the_plan_doers() -> None:
    # `pulumi preview` with the plan identity: every account's provider assumes that account's plan doer, which the
    # plan assumer may assume and which can read but not write.
    # The shared account (the runners') has a plan doer only as an accepted risk; without it plan mode is refused.
    run = run_section(
        plan_section(
            providers={"mode": "plan"},
            plan_path={**PLAN_PATH, "runners_account_doer": True},
            accepted_risks=["runners-account-plan-doer", "runners-account-plan-permission-set"],
            organization_guard=None,
            management_account_id=None,
        )
    )
    providers = {r.name: r for r in run.by_type("pulumi:providers:aws")}
    for name, account in (("shared", SHARED_ID), ("dev", "222222222222")):
        (assume,) = json.loads(providers[f"aws-{name}"].inputs["assumeRoles"])
        assert assume["roleArn"] == f"arn:aws:iam::{account}:role/infrastructure-plan-doer-role"
    with pytest.raises(ConfigError) as refused:
        config_of(with_changes(example_section(), providers={"mode": "plan"}))
    assert "providers.mode = 'plan': needs plan_path.enabled" in str(refused.value)
    with pytest.raises(ConfigError) as refused:
        config_of(plan_section(providers={"mode": "plan"}))
    assert "the shared account (the runners') has no plan doer" in str(refused.value)
