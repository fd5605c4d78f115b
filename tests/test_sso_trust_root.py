"""Identity Center's account: the trust root's (shared or management) plans OK, guard on; any other is a named risk."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from federation import documents
from federation.config import ConfigError
from plan.escalation import analyse
from plan.matrix import access_matrix, verdict
from plan.model import iam_model
from plan.world import ASSUME_ANY_ROLE
from tests.conftest import config_of, example_section, run_section, with_changes

MANAGEMENT = "999999999999"
PLAN = {"enabled": True, "permission_sets": ["AWSReadOnlyAccess"]}


def test_sso_outside_the_trust_root_is_refused_with_one_line_naming_the_key() -> None:
    section = with_changes(example_section(), sso={"account_id": "444444444444", "permission_sets": ["Admin"]})
    with pytest.raises(ConfigError) as caught:
        config_of(section)
    (line,) = [p for p in caught.value.problems if "sso.account_id" in p]
    assert line.startswith(
        "iam-federation:sso.account_id = '444444444444': not the shared account or management_account_id"
    )
    assert "'sso-outside-trust-root'" in line
    accepted = config_of(with_changes(section, accepted_risks=["sso-outside-trust-root"]))
    assert "sso-outside-trust-root" in accepted.risks
    # Identity Center in the management account is the trust root once management_account_id says so.
    managed = with_changes(section, sso={"account_id": MANAGEMENT, "permission_sets": ["Admin"]})
    with pytest.raises(ConfigError):
        config_of(managed)
    assert config_of(with_changes(managed, management_account_id=MANAGEMENT)).risks == []


@pytest.mark.parametrize("guard", [False, True], ids=["no-guard", "guard"])
def test_identity_center_in_the_management_account_plans_ok(guard: bool) -> None:
    """issue #17 item 3: 130 false reaches sso-plan:AWSReadOnlyAccess -[assume:bootstrap@shared]-> on the code
    before (the read-only set was modelled with sts:AssumeRole on every role, and every OrganizationAccountAccess
    Role trusts the management account's root). Modelled now with exactly the grant the docs give to paste."""
    changes: dict[str, Any] = {
        "management_account_id": MANAGEMENT,
        "sso": {"account_id": MANAGEMENT, "permission_sets": ["AWSAdministratorAccess"]},
        "plan_path": PLAN,
    }
    if guard:
        changes["organization_guard"] = {"enabled": True, "target_ids": ["r-ab12"]}
    section = with_changes(example_section(), **changes)
    config = config_of(section)
    matrix = access_matrix(config, iam_model(run_section(section)))
    escalation = analyse(config, matrix)
    assert matrix.mismatches == []
    assert escalation.failures == [], [f.path for f in escalation.failures][:3]
    node = matrix.world.nodes["sso-plan:AWSReadOnlyAccess"]
    grant = dict(node.principal.identity_policies)["assume-roles"]
    assert grant == documents.plan_permission_set_inline(config)
    (statement,) = grant["Statement"]
    assert statement["Resource"] == "arn:aws:iam::111111111111:role/infrastructure-plan-assumer-role"
    assert matrix.allowed("sso-plan:AWSReadOnlyAccess", "assume:plan-assumer")
    assert not matrix.allowed("sso-plan:AWSReadOnlyAccess", "assume:bootstrap@shared")
    # A wider grant pasted in the management account would reach every OrganizationAccountAccessRole.
    wide = dataclasses.replace(
        node.principal, identity_policies=(*node.principal.identity_policies[:-1], ("assume-roles", ASSUME_ANY_ROLE))
    )
    target = matrix.world.targets["assume:bootstrap@shared"]
    assert verdict(dataclasses.replace(node, principal=wide), target).allowed
