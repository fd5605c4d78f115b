"""`make plan` writes every registered policy document to build/plan-<stack>/policies/ for review.

The files are compared with the documents read straight from the registrations (not with plan/review.py's own
reading): every JSON input of every custom resource that holds a Statement has exactly one file, with the same
content, and nothing else is written but the OIDC providers' settings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import plan.__main__ as plan_main
from plan.runner import run_program, to_pulumi_config
from tests.conftest import example_section, with_changes
from tests.test_stacks import _write

KEY_ADMIN = "arn:aws:iam::111111111111:role/security-admin"


def hardened() -> dict[str, Any]:
    """Every kind of document: trust, inline, bucket, table, key, SCP, plan path, OIDC trusts."""
    section = example_section()
    backend = {**section["iam-federation:state_backend"], "kms": {"enabled": True, "key_admin_arns": [KEY_ADMIN]}}
    ci = {
        **section["iam-federation:ci"],
        "oidc": [
            {
                "name": "github",
                "provider": "github",
                "apply_subjects": ["repo:acme@1/infra@2:environment:production"],
                "plan_subjects": ["repo:acme@1/infra@2:pull_request"],
            }
        ],
    }
    return with_changes(
        section,
        state_backend=backend,
        ci=ci,
        plan_path={"enabled": True, "permission_sets": ["AWSReadOnlyAccess"]},
        management_account_id="999999999999",
        organization_guard={"enabled": True, "target_ids": ["r-ab12"]},
    )


def plan_into(tmp_path: Path, section: dict[str, Any], out: Path) -> None:
    path = _write(tmp_path, "shared", section)
    code = plan_main.main(["--stack-file", str(path), "--out", str(out), "--no-png"])
    assert code in (0, 1)  # the documents are written whatever the verdict


def written(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): p.read_text() for p in sorted(folder.rglob("*.json"))}


NAMES = {"111111111111": "shared", "222222222222": "dev", "333333333333": "stage", "444444444444": "prod"}
NAMES["999999999999"] = "999999999999"  # the management account is no account of the stack: its id names it


def test_every_registered_document_is_written_once_with_stable_names(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "policies" / "gone").mkdir(parents=True)
    (out / "policies" / "gone" / "old-role.json").write_text("{}\n")
    plan_into(tmp_path, hardened(), out)
    files = written(out / "policies")
    assert "gone/old-role.json" not in files

    run = run_program(to_pulumi_config(hardened()))
    expected: dict[str, Any] = {}
    for reg in run.registrations:
        if not reg.custom:
            continue
        for field in ("assumeRolePolicy", "policy", "content"):
            value = reg.inputs.get(field)
            if isinstance(value, str) and "Statement" in json.loads(value):
                name = reg.name if field != "assumeRolePolicy" else f"{reg.name}.assumeRolePolicy"
                expected[f"{NAMES[run.account_of(reg)]}/{name}.json"] = json.loads(value)
        if reg.type == "aws:iam/openIdConnectProvider:OpenIdConnectProvider":
            settings = {k: reg.inputs.get(k) for k in ("url", "clientIdLists", "thumbprintLists")}
            expected[f"{NAMES[run.account_of(reg)]}/{reg.name}.json"] = settings
    assert set(files) == set(expected)
    for name, text in files.items():
        assert json.loads(text) == expected[name], name
        assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n", name
    # Each kind a reviewer looks for is there, in the account it lands in.
    for name in (
        "shared/assumer-role.assumeRolePolicy.json",
        "shared/assumer-assume-only.json",
        "shared/state-backend-policy.json",
        "shared/state-backend-lock-table-policy.json",
        "shared/state-backend-key.json",
        "prod/doer-prod-role.assumeRolePolicy.json",
        "prod/plan-doer-prod-role.assumeRolePolicy.json",
    ):
        assert name in files, sorted(files)
    (scp,) = [n for n in files if n.startswith("999999999999/")]
    assert json.loads(files[scp])["Statement"], scp
    oidc = [n for n in files if json.loads(files[n]).get("url") == "https://token.actions.githubusercontent.com"]
    assert len(oidc) == 1 and oidc[0].startswith("shared/"), oidc
    trust = json.loads(files["shared/assumer-role.assumeRolePolicy.json"])
    subjects = json.dumps(trust)
    assert "repo:acme@1/infra@2:environment:production" in subjects


def test_reordering_accounts_changes_no_file(tmp_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    plan_into(tmp_path, hardened(), first)
    section = hardened()
    section["iam-federation:accounts"] = list(reversed(section["iam-federation:accounts"]))
    plan_into(tmp_path, section, second)
    assert written(first / "policies") == written(second / "policies")


@pytest.mark.parametrize("moved", ["dev"])
def test_a_removed_account_leaves_no_stale_document(tmp_path: Path, moved: str) -> None:
    out = tmp_path / "out"
    plan_into(tmp_path, hardened(), out)
    assert any(n.startswith(f"{moved}/") for n in written(out / "policies"))
    section = hardened()
    section["iam-federation:accounts"] = [a for a in section["iam-federation:accounts"] if a["name"] != moved]
    plan_into(tmp_path, section, out)
    assert not any(n.startswith(f"{moved}/") for n in written(out / "policies"))
