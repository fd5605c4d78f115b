"""`python -m federation.organization write`: stack files from `aws organizations list-accounts`, and the 60-account
journey of issue #17 (stacks written, the organization planned, one account added, a broken member stack)."""

from __future__ import annotations

import difflib
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import plan.__main__ as plan_main
from federation.config import Account, ConfigError, MemberConfig, parse_config
from federation.organization import Request, append_accounts, build, derive_name, main, parse_accounts, valid_name
from plan.runner import stack_file_config
from plan.stacks import ALL, select_stacks
from tests.conftest import EXAMPLE_STACK, MEMBER_STACK, ROOT

MANAGEMENT = "999999999999"
ORGANIZATION = "o-exampleorg1"
SHARED_ID = "100000000000"


def entry(account_id: str, name: str, state: str = "ACTIVE", joined: str = "CREATED") -> dict[str, Any]:
    """One account as `aws organizations list-accounts` prints it (botocore shape Account, State since 2025)."""
    return {
        "Id": account_id,
        "Arn": f"arn:aws:organizations::{MANAGEMENT}:account/{ORGANIZATION}/{account_id}",
        "Email": f"aws+{account_id}@example.com",
        "Name": name,
        "State": state,
        "JoinedMethod": joined,
        "JoinedTimestamp": "2024-03-01T10:00:00.123000+00:00",
    }


def organization(workloads: int, extra: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    accounts = [entry(MANAGEMENT, "Acme Management"), entry(SHARED_ID, "Shared Services")]
    accounts += [entry(f"2{n:011d}", f"Workload {n:02d}") for n in range(workloads)]
    return {"Accounts": accounts + (extra or [])}


def save(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data, indent=2))
    return path


def run(tmp_path: Path, capsys: pytest.CaptureFixture[str], *more: str) -> tuple[int, str, str]:
    (tmp_path / "stacks").mkdir(exist_ok=True)
    code = main(["write", "--accounts", str(tmp_path / "list-accounts.json"), "--dir", str(tmp_path / "stacks"), *more])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


FIRST = ("--shared-account", "Shared Services", "--region", "eu-west-1")


def texts(directory: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(directory.glob("Pulumi.*.yaml"))}


def accounts_of(path: Path) -> list[tuple[str, str]]:
    config = parse_config(stack_file_config(path))
    return [(a.name, a.id) for a in config.accounts]


def inserted_lines(before: str, after: str) -> list[str]:
    """The lines an edit added; fails if it changed or removed any line."""
    ops = difflib.SequenceMatcher(a=before.splitlines(), b=after.splitlines(), autojunk=False).get_opcodes()
    assert all(tag in ("equal", "insert") for tag, *_ in ops), ops
    return [line for tag, _, _, j1, j2 in ops if tag == "insert" for line in after.splitlines()[j1:j2]]


# --- reading the AWS CLI's output ---------------------------------------------------------------------------------


def test_reads_the_cli_shape_with_state_or_the_retired_status() -> None:
    with_status = {k: v for k, v in entry("200000000001", "Old").items() if k != "State"} | {"Status": "SUSPENDED"}
    accounts = parse_accounts({"Accounts": [entry("200000000000", "Dev"), with_status]}, "list-accounts.json")
    assert [(a.id, a.name, a.state) for a in accounts] == [
        ("200000000000", "Dev", "ACTIVE"),
        ("200000000001", "Old", "SUSPENDED"),
    ]
    assert {a.organization_id for a in accounts} == {ORGANIZATION}
    assert {a.management_id for a in accounts} == {MANAGEMENT}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"Id": "12345"}, "list-accounts.json: Accounts[1].Id = '12345': must be 12 digits"),
        ({"Id": 200000000000}, "Accounts[1].Id = 200000000000: must be 12 digits"),
        ({"State": "GONE"}, "Accounts[1].State = 'GONE': must be one of PENDING_ACTIVATION, ACTIVE, SUSPENDED"),
        ({"Arn": "arn:aws:iam::1:root"}, "Accounts[1].Arn = 'arn:aws:iam::1:root': must be arn:aws:organizations::"),
        ({"State": None}, "Accounts[1]: neither State nor Status"),
    ],
)
def test_a_bad_entry_names_the_file_and_the_key(change: dict[str, Any], expected: str) -> None:
    bad = {k: v for k, v in (entry("200000000001", "Bad") | change).items() if v is not None}
    with pytest.raises(ConfigError) as caught:
        parse_accounts({"Accounts": [entry("200000000000", "Dev"), bad]}, "list-accounts.json")
    assert len(caught.value.problems) == 1
    assert expected in caught.value.problems[0]


def test_one_page_of_several_is_refused() -> None:
    with pytest.raises(ConfigError, match="NextToken: one page of several"):
        parse_accounts({"Accounts": [entry("200000000000", "Dev")], "NextToken": "abc"}, "list-accounts.json")


# --- names ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("aws_name", "expected"),
    [
        ("Acme Payments (Prod)", "acme-payments-prod"),
        ("123 Test", "account-123-test"),
        ("Ünïcode Team", "unicode-team"),
        ("x", "x-0007"),
        ("***", "account-200000000007"),
        ("A very long account name that keeps going on", "a-very-long-account-name-that-ke"),
        ("dev", "dev-0007"),  # taken
        ("Management", "management-0007"),  # the guard's provider name
    ],
)
def test_derived_names_follow_the_config_rule_and_are_unique(aws_name: str, expected: str) -> None:
    name = derive_name(aws_name, "200000000007", taken={"dev", "shared"})
    assert name == expected
    assert valid_name(name)


def test_a_name_yaml_would_read_as_a_boolean_is_quoted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save(tmp_path / "list-accounts.json", {"Accounts": [entry(SHARED_ID, "Shared"), entry("200000000000", "No")]})
    code, _, err = run(tmp_path, capsys, *FIRST[:1], "Shared", *FIRST[2:])
    assert code == 0, err
    member = tmp_path / "stacks" / "Pulumi.members-a.yaml"
    assert '- name: "no"' in member.read_text()
    assert accounts_of(member) == [("no", "200000000000")]


# --- writing and updating ------------------------------------------------------------------------------------------


def test_first_write_fills_member_stacks_in_order_and_skips_what_has_no_doer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    extra = [entry("300000000000", "Old Sandbox", state="SUSPENDED"), entry("300000000001", "Gone", state="CLOSED")]
    extra += [entry("300000000002", "Invited Team", joined="INVITED")]
    save(tmp_path / "list-accounts.json", organization(5, extra))
    code, out, err = run(tmp_path, capsys, *FIRST, "--max-accounts", "4")
    assert code == 0, err
    stacks = tmp_path / "stacks"
    assert sorted(texts(stacks)) == ["Pulumi.members-a.yaml", "Pulumi.members-b.yaml", "Pulumi.shared.yaml"]
    # Stable order: by account id, four per stack, the shared, management and inactive accounts in none.
    assert accounts_of(stacks / "Pulumi.members-a.yaml") == [(f"workload-{n:02d}", f"2{n:011d}") for n in range(4)]
    assert accounts_of(stacks / "Pulumi.members-b.yaml") == [
        ("workload-04", "200000000004"),
        ("invited-team", "300000000002"),
    ]
    shared = parse_config(stack_file_config(stacks / "Pulumi.shared.yaml"))
    assert not isinstance(shared, MemberConfig)
    assert (shared.stack.kind, shared.organization_id, shared.region) == ("shared", ORGANIZATION, "eu-west-1")
    assert (shared.shared_account.name, shared.shared_account.id) == ("shared-services", SHARED_ID)
    assert shared.management_account_id == MANAGEMENT and shared.accounts == []
    member = parse_config(stack_file_config(stacks / "Pulumi.members-a.yaml"))
    assert isinstance(member, MemberConfig)
    assert (member.stack.shared_stack, member.region, member.stack.max_accounts) == (
        "organization/iam-federation/shared",
        "eu-west-1",
        4,
    )
    assert "Old Sandbox (300000000000, SUSPENDED), Gone (300000000001, CLOSED)" in out
    assert "the management account Acme Management (999999999999) gets no doer" in out
    assert "1 invited account(s) have no OrganizationAccountAccessRole" in out and "invited-team" in out
    # The files load together as the organization plan loads them.
    selection = select_stacks(stacks, ALL, shared="shared")
    assert [s.name for s in selection.members] == ["members-a", "members-b"]
    assert selection.warnings == []
    # Ids are quoted in the files (an unquoted id may lose leading zeros).
    assert all('id: "' in line for line in texts(stacks)["Pulumi.members-a.yaml"].splitlines() if "id:" in line)


def test_rerun_is_a_no_op_and_a_new_account_changes_one_stack_by_one_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save(tmp_path / "list-accounts.json", organization(6))
    assert run(tmp_path, capsys, *FIRST, "--max-accounts", "4")[0] == 0
    stacks = tmp_path / "stacks"
    before = texts(stacks)
    code, out, _ = run(tmp_path, capsys)
    assert code == 0 and texts(stacks) == before
    assert out.startswith("Nothing to write")
    # An account with a lower id than all others joins: it is appended, nothing moves.
    save(tmp_path / "list-accounts.json", organization(6, [entry("012345678901", "Data Lake")]))
    code, out, _ = run(tmp_path, capsys)
    assert code == 0
    after = texts(stacks)
    changed = [name for name in after if after[name] != before.get(name)]
    assert changed == ["Pulumi.members-b.yaml"]
    assert inserted_lines(before[changed[0]], after[changed[0]]) == [
        "    - name: data-lake",
        '      id: "012345678901"',
    ]
    assert "Pulumi.members-b.yaml: 1 account(s) appended: data-lake (012345678901)" in out


def test_what_the_user_wrote_stays(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save(tmp_path / "list-accounts.json", organization(2))
    assert run(tmp_path, capsys, *FIRST)[0] == 0
    member = tmp_path / "stacks" / "Pulumi.members-a.yaml"
    # The user renames an account (its AWS name stays), comments an entry, adds a key and a comment of their own.
    text = member.read_text().replace("- name: workload-01", "- name: payments  # ours", 1)
    text = text.replace('      id: "200000000000"', '      id: "200000000000"\n      retain_on_delete: true', 1)
    text = text.replace("  iam-federation:roles:", "  # our note\n  iam-federation:roles:", 1)
    text += "  aws:region: eu-west-1\n"
    member.write_text(text)
    save(tmp_path / "list-accounts.json", organization(3))
    code, _, err = run(tmp_path, capsys)
    assert code == 0, err
    after = member.read_text()
    assert inserted_lines(text, after) == ["    - name: workload-02", '      id: "200000000002"']
    assert accounts_of(member) == [
        ("workload-00", "200000000000"),
        ("payments", "200000000001"),
        *[("workload-02", "200000000002")],
    ]
    # The user's name for an id is kept; the derived name would have been workload-01 again.
    assert "workload-01" not in after


def test_the_map_form_and_flow_entries_get_entries_in_their_own_style(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save(tmp_path / "list-accounts.json", organization(1))
    assert run(tmp_path, capsys, *FIRST)[0] == 0
    member = tmp_path / "stacks" / "Pulumi.members-a.yaml"
    text = member.read_text()
    block = '    - name: workload-00\n      id: "200000000000"\n'
    for form, expected in [
        ('    workload-00:\n      id: "200000000000"\n', ["    workload-01:", '      id: "200000000001"']),
        ('    - {name: workload-00, id: "200000000000"}\n', ['    - {name: workload-01, id: "200000000001"}']),
    ]:
        member.write_text(text.replace(block, form))
        save(tmp_path / "list-accounts.json", organization(2))
        code, _, err = run(tmp_path, capsys)
        assert code == 0, err
        assert inserted_lines(text.replace(block, form), member.read_text()) == expected
        assert sorted(accounts_of(member)) == [("workload-00", "200000000000"), ("workload-01", "200000000001")]
        save(tmp_path / "list-accounts.json", organization(1))


def test_an_accounts_list_it_cannot_append_to_is_refused_naming_file_line_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save(tmp_path / "list-accounts.json", organization(1))
    assert run(tmp_path, capsys, *FIRST)[0] == 0
    member = tmp_path / "stacks" / "Pulumi.members-a.yaml"
    flow = member.read_text().replace(
        '\n    - name: workload-00\n      id: "200000000000"\n', ' [{name: workload-00, id: "200000000000"}]\n'
    )
    member.write_text(flow)
    save(tmp_path / "list-accounts.json", organization(2))
    code, _, err = run(tmp_path, capsys)
    assert code == 2
    line = next(i for i, text in enumerate(flow.splitlines(), 1) if "iam-federation:accounts:" in text)
    assert f"Pulumi.members-a.yaml:{line}:28: iam-federation:accounts: not a block list" in err
    assert member.read_text() == flow


def test_refusals_name_the_file_and_the_key(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    save(tmp_path / "list-accounts.json", organization(1))
    # The shipped example (another organization) in the place of the shared stack.
    (stacks / "Pulumi.shared.yaml").write_text(EXAMPLE_STACK.read_text())
    code, _, err = run(tmp_path, capsys, *FIRST)
    assert code == 2
    assert "Pulumi.shared.yaml: iam-federation:stack.kind = 'complete'" in err
    text = EXAMPLE_STACK.read_text().replace("kind: complete", "kind: shared")
    text = text.replace(
        '  iam-federation:accounts:\n    - name: dev\n      id: "222222222222"\n    - name: stage\n'
        '      id: "333333333333"\n    - name: prod\n      id: "444444444444"\n',
        "",
    )
    (stacks / "Pulumi.shared.yaml").write_text(text)
    code, _, err = run(tmp_path, capsys, *FIRST)
    assert code == 2
    assert "Pulumi.shared.yaml: iam-federation:organization_id = 'o-a1b2c3d4e5': list-accounts.json lists" in err
    # A stack file that does not load: which accounts it holds is unknown, so nothing is written.
    (stacks / "Pulumi.shared.yaml").unlink()
    (stacks / "Pulumi.members-x.yaml").write_text(MEMBER_STACK.read_text().replace('"555555555555"', "555555555555"))
    code, _, err = run(tmp_path, capsys, *FIRST)
    assert code == 2
    assert "Pulumi.members-x.yaml: cannot be read" in err and "accounts[0].id = 555555555555" in err
    assert sorted(p.name for p in stacks.iterdir()) == ["Pulumi.members-x.yaml"]
    (stacks / "Pulumi.members-x.yaml").unlink()
    code, _, err = run(tmp_path, capsys, "--shared-account", "nobody", "--region", "eu-west-1")
    assert code == 2 and "--shared-account 'nobody': no account of list-accounts.json" in err
    code, _, err = run(tmp_path, capsys, "--shared-account", "Shared Services", "--region", "moon-1")
    assert code == 2 and "Pulumi.shared.yaml: iam-federation:region = 'moon-1'" in err
    assert list(stacks.iterdir()) == []


def test_accounts_of_an_ou_fill_their_own_stacks_and_never_move(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save(tmp_path / "list-accounts.json", organization(4))
    ou = save(tmp_path / "sandbox.json", {"Accounts": [entry("200000000001", "Workload 01")]})
    code, _, err = run(tmp_path, capsys, *FIRST, "--ou", f"sandbox={ou}")
    assert code == 0, err
    stacks = tmp_path / "stacks"
    assert accounts_of(stacks / "Pulumi.members-sandbox-a.yaml") == [("workload-01", "200000000001")]
    assert [i for _, i in accounts_of(stacks / "Pulumi.members-a.yaml")] == [
        "200000000000",
        "200000000002",
        "200000000003",
    ]
    # Moved to the sandbox OU in AWS: it stays where it is (moving it between stacks would replace its doer).
    save(tmp_path / "sandbox.json", {"Accounts": [entry("200000000001", "x"), entry("200000000002", "y")]})
    before = texts(stacks)
    code, out, _ = run(tmp_path, capsys, "--ou", f"sandbox={ou}")
    assert code == 0 and texts(stacks) == before and out.startswith("Nothing to write")
    save(tmp_path / "sandbox.json", {"Accounts": [entry("200000000099", "Not Listed")]})
    code, _, err = run(tmp_path, capsys, "--ou", f"sandbox={ou}")
    assert code == 2 and "sandbox.json: Accounts[0].Id = '200000000099': not in list-accounts.json" in err


def test_dry_run_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save(tmp_path / "list-accounts.json", organization(2))
    code, out, _ = run(tmp_path, capsys, *FIRST, "--dry-run")
    assert code == 0 and out.startswith("Would write (--dry-run):")
    assert list((tmp_path / "stacks").iterdir()) == []


def test_build_never_writes(tmp_path: Path) -> None:
    save(tmp_path / "list-accounts.json", organization(1))
    (tmp_path / "stacks").mkdir()
    outcome = build(
        Request(tmp_path / "stacks", tmp_path / "list-accounts.json", shared_account=SHARED_ID, region="us-east-1")
    )
    assert sorted(p.name for p in outcome.files) == ["Pulumi.members-a.yaml", "Pulumi.shared.yaml"]
    assert list((tmp_path / "stacks").iterdir()) == []


# --- the journey: 60 accounts --------------------------------------------------------------------------------------


def _plan(stacks: Path, out: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str, dict[str, Any]]:
    code = plan_main.main(["--dir", str(stacks), "--stack", "all", "--shared", "shared", "--out", str(out), "--no-png"])
    captured = capsys.readouterr()
    report = json.loads((out / "report.json").read_text()) if (out / "report.json").exists() else {}
    return code, captured.out, captured.err, report


def _broken(stacks: Path) -> None:
    member = stacks / "Pulumi.members-b.yaml"
    member.write_text(member.read_text().replace('"200000000044"', "200000000044"))


def test_sixty_accounts_journey(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue #17's evidence: stacks written from the CLI's JSON, the organization planned OK, one account added."""
    save(tmp_path / "list-accounts.json", organization(60))
    code, out, err = run(tmp_path, capsys, *FIRST)
    assert code == 0, err
    stacks = tmp_path / "stacks"
    assert sorted(texts(stacks)) == ["Pulumi.members-a.yaml", "Pulumi.members-b.yaml", "Pulumi.shared.yaml"]
    assert [len(accounts_of(stacks / f"Pulumi.members-{s}.yaml")) for s in "ab"] == [40, 20]

    code, out, err, report = _plan(stacks, tmp_path / "plan-1", capsys)
    assert code == 0, out[-2000:] + err
    assert "warning" not in err
    assert "for 61 account(s)" in out  # the shared account and the 60 application accounts
    assert "OK: all" in out and "FAILED" not in out
    before = {r["urn"] for r in report["resources"]}

    save(tmp_path / "list-accounts.json", organization(60, [entry("400000000000", "New Team")]))
    old = texts(stacks)
    code, out, err = run(tmp_path, capsys)
    assert code == 0, err
    new = texts(stacks)
    assert [n for n in new if new[n] != old.get(n)] == ["Pulumi.members-b.yaml"]
    assert len(inserted_lines(old["Pulumi.members-b.yaml"], new["Pulumi.members-b.yaml"])) == 2

    code, out, err, report = _plan(stacks, tmp_path / "plan-2", capsys)
    assert code == 0, out[-2000:] + err
    after = {r["urn"] for r in report["resources"]}
    assert before <= after
    added = after - before
    # Exactly the new account's resources: the same as a neighbour's in members-b, with its name.
    neighbour = {u.replace("workload-59", "new-team") for u in before if "workload-59" in u}
    assert added == neighbour and len(added) >= 4
    assert {r["account"] for r in report["resources"] if r["urn"] in added} <= {"400000000000", "(component)"}


def test_a_broken_member_stack_is_named_by_the_organization_plan(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What the plan does today with a broken member stack: it names the file. (Whether it also fails: below.)"""
    save(tmp_path / "list-accounts.json", organization(45))
    assert run(tmp_path, capsys, *FIRST)[0] == 0
    _broken(tmp_path / "stacks")
    _, _, err, _ = _plan(tmp_path / "stacks", tmp_path / "plan", capsys)
    assert "Pulumi.members-b.yaml" in err
    assert "200000000044" in err


def test_a_broken_member_stack_fails_the_organization_plan(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    save(tmp_path / "list-accounts.json", organization(45))
    assert run(tmp_path, capsys, *FIRST)[0] == 0
    _broken(tmp_path / "stacks")
    code, out, err, _ = _plan(tmp_path / "stacks", tmp_path / "plan", capsys)
    assert code != 0
    assert "OK:" not in out
    assert "Pulumi.members-b.yaml" in err


# --- the commands the docs give ------------------------------------------------------------------------------------


def _shell_lines(text: str) -> list[str]:
    lines, inside = [], False
    for line in text.splitlines():
        if line.startswith("```"):
            inside = not inside and line.strip() in ("```sh", "```bash", "```shell")
        elif inside:
            lines.append(line.strip())
    return lines


def test_the_docs_run_the_programs_through_the_virtualenv() -> None:
    """issue #17 item 6: `python -m federation doctor` and `python -m orchestrate` fail with the system Python."""
    bare = re.compile(r"(?:^|[\s;&|(])python3? -m (?:federation|orchestrate|plan)\b")
    found = [
        f"{path.relative_to(ROOT)}: {line}"
        for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
        for line in _shell_lines(path.read_text())
        if bare.search(line)
    ]
    assert found == []


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize(
    ("target", "expected"),
    [
        (
            ["doctor", "STACK=acme", "PROFILE=assumer"],
            "venv/bin/python -m federation doctor --stack-file ./Pulumi.acme.yaml",
        ),
        (
            ["orchestrate", "OP=up", "ARGS=--parallel 3"],
            "venv/bin/python -m orchestrate up --all --stacks-dir . --parallel 3",
        ),
        (["stacks", "ACCOUNTS=org.json"], "venv/bin/python -m federation.organization write --accounts 'org.json'"),
    ],
)
def test_the_make_targets_use_the_virtualenv(target: list[str], expected: str) -> None:
    done = subprocess.run(
        ["make", "-n", "-s", *target], cwd=ROOT, capture_output=True, text=True, check=False, timeout=60
    )
    command = " ".join(done.stdout.replace("\\\n", " ").split())
    assert expected in command, done.stdout + done.stderr


def test_an_account_that_leaves_or_is_suspended_stays_and_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    save(tmp_path / "list-accounts.json", organization(3))
    assert run(tmp_path, capsys, *FIRST)[0] == 0
    before = texts(tmp_path / "stacks")
    data = organization(3)
    data["Accounts"] = [a for a in data["Accounts"] if a["Id"] != "200000000002"]
    next(a for a in data["Accounts"] if a["Id"] == "200000000001")["State"] = "SUSPENDED"
    save(tmp_path / "list-accounts.json", data)
    code, out, _ = run(tmp_path, capsys)
    assert code == 0 and texts(tmp_path / "stacks") == before
    assert "kept: Workload 01 (200000000001) stays in Pulumi.members-a.yaml though it is SUSPENDED" in out
    assert "kept: 200000000002 stays in Pulumi.members-a.yaml though list-accounts.json does not list it" in out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # No newline at the end of the file: the last entry gets one, then the new entry follows.
        (
            'config:\n  iam-federation:accounts:\n  - name: x\n    id: "1"',
            'config:\n  iam-federation:accounts:\n  - name: x\n    id: "1"\n  - name: new\n    id: "123456789012"\n',
        ),
        # Windows line endings stay; a commented-out entry and the next key stay after the new entry.
        (
            'config:\r\n  iam-federation:accounts:\r\n    - name: x  # ours\r\n      id: "1"\r\n    # - name: old\r\n'
            "  iam-federation:tags: {}\r\n",
            'config:\r\n  iam-federation:accounts:\r\n    - name: x  # ours\r\n      id: "1"\r\n'
            '    - name: new\r\n      id: "123456789012"\r\n    # - name: old\r\n  iam-federation:tags: {}\r\n',
        ),
        # A block scalar inside the last entry: the new entry goes after all of it.
        (
            'config:\n  accounts:\n    - name: x\n      id: "1"\n      note: |\n        two\n        lines\n'
            "  tags: {}\n",
            'config:\n  accounts:\n    - name: x\n      id: "1"\n      note: |\n        two\n        lines\n'
            '    - name: new\n      id: "123456789012"\n  tags: {}\n',
        ),
    ],
)
def test_append_accounts_keeps_the_file_as_written(text: str, expected: str) -> None:
    assert append_accounts(text, [Account(name="new", id="123456789012")], "Pulumi.m.yaml") == expected


def test_append_accounts_refuses_a_file_without_an_accounts_list() -> None:
    with pytest.raises(ConfigError, match=r"Pulumi.m.yaml: iam-federation:accounts: not found under config:"):
        append_accounts("config:\n  region: us-east-1\n", [Account(name="new", id="1" * 12)], "Pulumi.m.yaml")


def test_an_edit_that_changes_anything_else_is_refused() -> None:
    """The safety net under append_accounts: the edit must add the entries and change no other line or value."""
    from federation.organization import _check_only_appended

    before = 'config:\n  iam-federation:accounts:\n    - name: x\n      id: "1"\n  iam-federation:region: us-east-1\n'
    new = [Account(name="new", id="123456789012")]
    good = before.replace('"1"\n', '"1"\n    - name: new\n      id: "123456789012"\n')
    _check_only_appended(before, good, new, "Pulumi.m.yaml")
    for bad in [
        good.replace("us-east-1", "eu-west-1"),  # another key changed
        good.replace("- name: x", "- name: y"),  # an existing entry changed
        good.replace('    - name: new\n      id: "123456789012"\n', ""),  # the entry missing
        good.replace("  iam-federation:region", "  # note\n  iam-federation:region").replace("us-east-1\n", ""),
    ]:
        with pytest.raises(ConfigError, match="could not append without changing other lines"):
            _check_only_appended(before, bad, new, "Pulumi.m.yaml")
