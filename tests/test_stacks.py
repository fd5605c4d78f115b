"""Sharded stacks: a shared stack, member stacks reading it through a StackReference, and the guards across
stack files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import plan.__main__ as plan_main
from federation.config import ConfigError, MemberConfig
from plan.runner import ProgramRun, run_program, to_pulumi_config
from plan.stacks import StackFile, belonging_with, cross_stack_problems, read_stack_file, select_stacks
from tests.conftest import MEMBER_STACK, config_of, doc, example_section, run_section, with_changes

SHARED_STACK = "my-org/iam-federation/shared"
ASSUME = ["sts:AssumeRole", "sts:SetSourceIdentity", "sts:TagSession"]


def member_section(**changes: Any) -> dict[str, Any]:
    section = dict(yaml.safe_load(MEMBER_STACK.read_text())["config"])
    return with_changes(section, **changes)


def run_member(section: dict[str, Any], shared: ProgramRun) -> ProgramRun:
    return run_program(to_pulumi_config(section), stack="members-a", stack_outputs={SHARED_STACK: shared.outputs})


def one(run: ProgramRun, name: str) -> Any:
    (reg,) = [r for r in run.registrations if r.name == name]
    return reg


@pytest.fixture(scope="module")
def shared_run() -> ProgramRun:
    return run_section(example_section())


def test_member_config_loads() -> None:
    config = config_of(member_section())
    assert isinstance(config, MemberConfig)
    assert config.stack.shared_stack == SHARED_STACK
    assert [a.name for a in config.accounts] == ["data", "sandbox"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"sso": {"permission_sets": ["X"]}}, "iam-federation:sso: belongs to the shared stack, not to a member stack"),
        (
            {"shared_account": {"name": "s", "id": "111111111111"}},
            "iam-federation:shared_account: belongs to the shared",
        ),
        ({"stack": {"kind": "member"}}, "iam-federation:stack = {'kind': 'member'}: shared_stack: a member stack must"),
        ({"accounts": []}, "iam-federation:accounts = []: List should have at least 1 item"),
        ({"roles": {"doer": {"name": "x"}}}, "iam-federation:roles.doer.name: unknown key (check the spelling)"),
        (
            {"stack": {"kind": "member", "shared_stack": SHARED_STACK, "max_accounts": 1}},
            "iam-federation:accounts: this stack would hold 2 account providers, more than stack.max_accounts = 1",
        ),
    ],
)
def test_member_config_errors(change: dict[str, Any], expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_of(member_section(**change))
    assert any(expected in p for p in caught.value.problems), caught.value.problems


def test_a_shared_stack_holds_no_application_accounts() -> None:
    with pytest.raises(ConfigError) as caught:
        config_of(with_changes(example_section(), stack={"kind": "shared"}))
    assert (
        "iam-federation:accounts: a shared stack holds no application accounts (3 listed)" in caught.value.problems[0]
    )
    shared_only = config_of(with_changes(example_section(), stack={"kind": "shared"}, accounts=[]))
    assert shared_only.all_accounts == [shared_only.shared_account]


def test_the_per_stack_maximum_says_how_to_split() -> None:
    accounts = [{"name": f"a{i:03d}", "id": f"{200000000000 + i}"} for i in range(40)]
    with pytest.raises(ConfigError) as caught:
        config_of(with_changes(example_section(), accounts=accounts))
    (problem,) = caught.value.problems
    assert "41 account providers, more than stack.max_accounts = 40" in problem
    assert "Split the accounts over member stacks" in problem


def test_shared_stack_exports_what_members_read(shared_run: ProgramRun) -> None:
    outputs = shared_run.outputs
    assert outputs["doer_role_name"] == "infrastructure-doer-role"
    assert outputs["doer_role_path"] == "/"
    assert outputs["state_mgmt_trusts_doers"] is True
    assert outputs["organization_id"] == "o-a1b2c3d4e5"


def test_member_stack_creates_only_its_doers_from_the_shared_outputs(shared_run: ProgramRun) -> None:
    member = run_member(member_section(), shared_run)
    custom = sorted((r.type, r.name) for r in member.registrations if r.custom)
    assert custom == sorted(
        [("pulumi:providers:aws", f"aws-{n}") for n in ("data", "sandbox")]
        + [("aws:iam/role:Role", f"doer-{n}-role") for n in ("data", "sandbox")]
        + [("aws:iam/rolePolicyAttachment:RolePolicyAttachment", f"doer-{n}-admin") for n in ("data", "sandbox")]
        + [("aws:iam/rolePolicy:RolePolicy", f"doer-{n}-state-access") for n in ("data", "sandbox")]
    )
    role = one(member, "doer-data-role")
    assert role.inputs["name"] == "infrastructure-doer-role"
    assert member.account_of(role) == "555555555555"
    (trust,) = doc(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"AWS": "arn:aws:iam::111111111111:root"}
    assert trust["Condition"] == {"ArnEquals": {"aws:PrincipalArn": shared_run.outputs["assumer_role_arn"]}}
    (access,) = doc(one(member, "doer-data-state-access").inputs["policy"])["Statement"]
    assert access == {
        "Sid": "AssumeStateMgmt",
        "Effect": "Allow",
        "Action": ASSUME,
        "Resource": shared_run.outputs["state_mgmt_role_arn"],
    }
    assert member.outputs["doer_role_arns"] == {
        "data": "arn:aws:iam::555555555555:role/infrastructure-doer-role",
        "sandbox": "arn:aws:iam::666666666666:role/infrastructure-doer-role",
    }


def test_member_doers_follow_the_shared_stacks_choices() -> None:
    shared = run_section(
        with_changes(
            example_section(),
            roles={"doer": {"name": "tf-doer", "path": "/ci/"}},
            state_backend={"state_mgmt_trusts_doers": False},
        )
    )
    member = run_member(member_section(providers={"mode": "doer"}), shared)
    role = one(member, "doer-sandbox-role")
    assert (role.inputs["name"], role.inputs["path"]) == ("tf-doer", "/ci/")
    (access,) = doc(one(member, "doer-sandbox-state-access").inputs["policy"])["Statement"]
    assert access["Effect"] == "Deny"
    (assume,) = json.loads(one(member, "aws-sandbox").inputs["assumeRoles"])
    assert assume["roleArn"] == "arn:aws:iam::666666666666:role/ci/tf-doer"


def test_adding_a_member_stack_or_account_changes_nothing_in_the_shared_stack(shared_run: ProgramRun) -> None:
    # The shared program does not read member stacks, and nothing it writes lists accounts.
    again = run_section(example_section())
    assert {r.urn: r.inputs for r in again.registrations} == {r.urn: r.inputs for r in shared_run.registrations}
    bigger = member_section(
        accounts=[*member_section()["iam-federation:accounts"], {"name": "ml", "id": "777777777777"}]
    )
    before = run_member(member_section(), shared_run)
    after = run_member(bigger, shared_run)
    old = {r.urn: r.inputs for r in before.registrations}
    added = [r.urn for r in after.registrations if r.urn not in old]
    assert all("doer-ml" in urn or urn.endswith("::aws-ml") for urn in added) and len(added) == 5
    assert all(old[r.urn] == r.inputs for r in after.registrations if r.urn in old)


def test_retained_accounts_keep_their_doer_in_aws(shared_run: ProgramRun) -> None:
    accounts = member_section()["iam-federation:accounts"]
    accounts[0] = {**accounts[0], "retain_on_delete": True}
    member = run_member(member_section(accounts=accounts), shared_run)
    retained = {r.name for r in member.registrations if r.retain_on_delete}
    assert retained == {"doer-data-role", "doer-data-admin", "doer-data-state-access"}


def _write(directory: Path, name: str, section: dict[str, Any]) -> Path:
    path = directory / f"Pulumi.{name}.yaml"
    path.write_text(yaml.safe_dump({"config": section}))
    return path


def load_stack_file(path: Path) -> StackFile:
    stack = read_stack_file(path)
    assert isinstance(stack, StackFile), stack
    return stack


def other_organization(**changes: Any) -> dict[str, Any]:
    """The example with a new organization id and new account ids, keeping the example's account names."""
    section = with_changes(
        example_section(),
        organization_id="o-z9y8x7w6v5",
        shared_account={"name": "shared", "id": "911111111111"},
        accounts=[{"name": n, "id": f"9{i}2222222222"} for i, n in enumerate(("dev", "stage", "prod"))],
    )
    return with_changes(section, **changes)


def test_an_account_in_two_stacks_or_the_shared_account_in_a_member_is_refused(tmp_path: Path) -> None:
    shared = load_stack_file(_write(tmp_path, "shared", example_section()))
    clash = member_section(
        accounts=[
            {"name": "dev2", "id": "222222222222"},
            {"name": "hub", "id": "111111111111"},
            {"name": "dev", "id": "999999999999"},
        ]
    )
    member = load_stack_file(_write(tmp_path, "members-a", clash))
    problems = cross_stack_problems([shared, member])
    assert problems == [
        "Pulumi.members-a.yaml: iam-federation:accounts[0].id = '222222222222': already held by stack 'shared'",
        "Pulumi.members-a.yaml: iam-federation:accounts[1].id = '111111111111': is the shared account of stack "
        "'shared'; a member stack holds application accounts only",
        "Pulumi.members-a.yaml: iam-federation:accounts[1].id = '111111111111': already held by stack 'shared'",
        "Pulumi.members-a.yaml: iam-federation:accounts[2].name = 'dev': already used by stack 'shared'",
    ]


def test_plan_of_a_member_runs_the_shared_stack_first_and_covers_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(tmp_path, "shared", example_section())
    member = _write(tmp_path, "members-a", member_section())
    code = plan_main.main(["--stack-file", str(member), "--out", str(tmp_path / "out"), "--no-png"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "It reads stack 'shared', planned first" in out
    assert "Plan: 10 resources to create" in out
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    # The member's accounts have the same documents as the shared stack's: one class, decided by representatives.
    (apps,) = [c for c in report["classes"] if "sandbox" in c["members"]]
    assert set(apps["members"]) == {"dev", "stage", "prod", "data", "sandbox"}
    first, second = apps["representatives"][:2]
    cells = {(c["principal"], c["target"]): c for c in report["cells"]}
    assert cells[("assumer(runner)", f"assume:doer@{first}")]["actual"] == "allow"
    assert cells[(f"doer@{first}", f"assume:state-mgmt[{first}]")]["actual"] == "allow"
    mine_only = cells[(f"doer@{first}", f"assume:state-mgmt[{second}]")]
    assert mine_only["actual"] == "deny" and mine_only["stands_for"] == 5 * 4  # every ordered pair of the class
    assert cells[("admin@outsider", f"assume:doer@{first}")]["actual"] == "deny"
    assert report["mismatches"] == []
    assert [f for f in report["escalation"]["findings"] if f["risk"] is None] == []
    # The shared stack's profiles and root.hcl, with the member's doer profiles and account files added.
    config = (tmp_path / "out" / "aws-config").read_text()
    assert "[profile assumer]" in config and "[profile dev]" in config and "[profile sandbox]" in config
    files = {p.parent.name for p in (tmp_path / "out" / "terragrunt").glob("*/account.hcl")}
    assert files == {"shared", "dev", "stage", "prod", "data", "sandbox"}
    assert (tmp_path / "out" / "terragrunt" / "root.hcl").exists()


def test_plan_refuses_an_account_held_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _write(tmp_path, "shared", example_section())
    member = _write(tmp_path, "members-a", member_section(accounts=[{"name": "qa", "id": "333333333333"}]))
    code = plan_main.main(["--stack-file", str(member), "--out", str(tmp_path / "out"), "--no-png"])
    err = capsys.readouterr().err
    assert code == 2
    assert (
        "Pulumi.members-a.yaml:3:5: iam-federation:accounts[0].id = '333333333333': already held by stack 'shared'"
        in err
    )


@pytest.mark.parametrize("stack", ["members-a", "all"])
def test_a_member_in_another_region_than_its_shared_stack_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], stack: str
) -> None:
    _write(tmp_path, "shared", example_section())
    _write(tmp_path, "members-a", member_section(region="eu-west-1"))
    code = plan_main.main(["--dir", str(tmp_path), "--stack", stack, "--out", str(tmp_path / "out"), "--no-png"])
    err = capsys.readouterr().err
    assert code == 2
    assert "iam-federation:region = 'eu-west-1': the shared stack 'shared' it reads is in 'us-east-1'" in err
    assert "Pulumi.members-a.yaml:" in err


def test_plan_of_a_member_without_its_shared_stack_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    member = _write(tmp_path, "members-a", member_section())
    assert plan_main.main(["--stack-file", str(member), "--no-png", "--out", str(tmp_path / "o")]) == 2
    assert "no shared or complete stack file Pulumi.shared.yaml" in capsys.readouterr().err


def test_the_problem_names_the_key_that_holds_the_account(tmp_path: Path) -> None:
    # Two complete stacks of one organization: the shared account is shared_account, not accounts[0].
    first = load_stack_file(_write(tmp_path, "acme", example_section()))
    again = with_changes(example_section(), accounts=[{"name": "qa", "id": "333333333333"}])
    second = load_stack_file(_write(tmp_path, "shared", again))
    assert cross_stack_problems([first, second]) == [
        "Pulumi.shared.yaml: iam-federation:shared_account.id = '111111111111': already held by stack 'acme'",
        "Pulumi.shared.yaml: iam-federation:shared_account.name = 'shared': already used by stack 'acme'",
        "Pulumi.shared.yaml: iam-federation:accounts[0].id = '333333333333': already held by stack 'acme'",
    ]


def test_stacks_belong_together_by_organization_or_by_the_shared_stack_a_member_names(tmp_path: Path) -> None:
    shared = load_stack_file(_write(tmp_path, "shared", example_section()))
    member = load_stack_file(_write(tmp_path, "members-a", member_section()))
    same_org = load_stack_file(
        _write(tmp_path, "legacy", with_changes(other_organization(), organization_id="o-a1b2c3d4e5"))
    )
    acme = load_stack_file(_write(tmp_path, "acme", other_organization()))
    acme_member = load_stack_file(
        _write(tmp_path, "acme-ou", member_section(stack={"kind": "member", "shared_stack": "org/iam-federation/acme"}))
    )
    stacks = [shared, member, same_org, acme, acme_member]
    assert [s.name for s in belonging_with(shared, stacks)] == ["shared", "legacy", "members-a"]
    assert [s.name for s in belonging_with(member, stacks)] == ["shared", "legacy", "members-a"]
    assert [s.name for s in belonging_with(acme, stacks)] == ["acme", "acme-ou"]
    # The example and acme hold the same account names (and acme-ou the example member's ids): no problem across.
    assert cross_stack_problems(belonging_with(acme, stacks)) == []


def test_an_unrelated_or_broken_stack_file_does_not_block_a_plan(tmp_path: Path) -> None:
    _write(tmp_path, "shared", example_section())
    _write(tmp_path, "acme", other_organization())
    _write(tmp_path, "half", with_changes(other_organization(), region="moon-1"))
    (tmp_path / "Pulumi.typo.yaml").write_text("config:\n  iam-federation:region: [unclosed\n")
    selection = select_stacks(tmp_path, "acme")
    assert (selection.shared.name, selection.members) == ("acme", [])
    assert [w.split(":")[0] for w in selection.warnings] == ["Pulumi.half.yaml", "Pulumi.typo.yaml"]
    assert "iam-federation:region = 'moon-1'" in selection.warnings[0]
    with pytest.raises(ConfigError) as caught:
        select_stacks(tmp_path, "half")
    assert caught.value.problems[0].startswith("Pulumi.half.yaml:22:3: iam-federation:region = 'moon-1'")


def test_a_member_whose_shared_stack_is_broken_names_the_shared_files_problem(tmp_path: Path) -> None:
    _write(tmp_path, "shared", with_changes(example_section(), organization_id="org"))
    _write(tmp_path, "members-a", member_section())
    with pytest.raises(ConfigError) as caught:
        select_stacks(tmp_path, "members-a")
    assert caught.value.problems[0].startswith("Pulumi.shared.yaml:14:3: iam-federation:organization_id = 'org'")


def _organization(tmp_path: Path) -> None:
    """The example shared stack with two member stacks reading it, and an unrelated organization beside them."""
    _write(tmp_path, "shared", example_section())
    _write(tmp_path, "members-a", member_section())
    _write(tmp_path, "members-b", member_section(accounts=[{"name": "ml", "id": "777777777777"}]))
    _write(tmp_path, "acme", other_organization())


def test_plan_all_runs_each_program_once_with_one_model_and_one_matrix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _organization(tmp_path)
    ran: list[str] = []
    models: list[int] = []
    real_run, real_model = plan_main.run_program, plan_main.iam_model

    def counting_run(config: dict[str, str], stack: str = "shared", **kwargs: Any) -> ProgramRun:
        ran.append(stack)
        return real_run(config, stack=stack, **kwargs)

    def counting_model(*runs: ProgramRun) -> Any:
        models.append(len(runs))
        return real_model(*runs)

    monkeypatch.setattr(plan_main, "run_program", counting_run)
    monkeypatch.setattr(plan_main, "iam_model", counting_model)
    out = tmp_path / "out"
    code = plan_main.main(
        ["--dir", str(tmp_path), "--stack", "all", "--shared", "shared", "--out", str(out), "--no-png"]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    assert ran == ["shared", "members-a", "members-b"]
    assert models == [3]
    assert "first, then the member stacks reading it (members-a, members-b)" in printed
    assert "Left out, another organization's: Pulumi.acme.yaml (organization o-z9y8x7w6v5)" in printed
    report = json.loads((out / "report.json").read_text())
    assert report["stack"] == "all"
    assert {r["account"] for r in report["resources"]} >= {"111111111111", "555555555555", "777777777777"}
    # Cells between member stacks, which no single member plan evaluates: the accounts of both member stacks are
    # one class with the shared stack's, and its cell between two different accounts decides every such pair.
    (apps,) = [c for c in report["classes"] if "ml" in c["members"]]
    assert {"data", "sandbox", "ml"} <= set(apps["members"])
    first, second = apps["representatives"][:2]
    cells = {(c["principal"], c["target"]): c for c in report["cells"]}
    between = cells[(f"doer@{first}", f"assume:doer@{second}")]
    size = len(apps["members"])
    assert between["actual"] == "deny" and between["stands_for"] == size * (size - 1)
    assert cells[("assumer(runner)", f"assume:doer@{first}")]["actual"] == "allow"
    assert report["mismatches"] == []


def test_plan_all_refuses_a_second_shared_stack_of_the_organization(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _organization(tmp_path)
    _write(tmp_path, "legacy", with_changes(other_organization(), organization_id="o-a1b2c3d4e5"))
    argv = ["--dir", str(tmp_path), "--stack", "all", "--shared", "shared", "--no-png", "--out", str(tmp_path / "o")]
    assert plan_main.main(argv) == 2
    err = capsys.readouterr().err
    assert (
        "Pulumi.legacy.yaml:14:3: iam-federation:organization_id = 'o-a1b2c3d4e5': a second shared or complete" in err
    )
