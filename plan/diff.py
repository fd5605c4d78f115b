"""`make plan BASE=<file>`: what the program registers, compared with what is deployed.

The base is a `pulumi stack export` (deployment.resources[]: urn, type, inputs, outputs, protect, id) or the
state.json an earlier `make plan` wrote beside its report (the same shape, made from that plan's registrations). Each
resource is a create, update, replace, delete or same, decided per URN from the inputs, with replacement taken from
the provider's force-new inputs (plan/forcenew.py, each row citing terraform-provider-aws). The check fails on a
replacement or deletion of a stateful or physically named resource unless `accepted_replacements` names it, and on
a create that would collide with a physical name the same run deletes later (an account rename). Two changes the
provider makes beyond the inputs are modelled: a provider's defaultTags change updates tagsAll on each taggable resource
it manages (plan/forcenew.py TAGGABLE_TYPES), and a change of a regional resource's effective region replaces it.

What this cannot see: drift (a refresh would), values the provider's Check fills in beyond plan/forcenew.py's
SCHEMA_DEFAULTS, and diffs the provider suppresses other than equivalent JSON documents.
"""

from __future__ import annotations

import fnmatch
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from federation.config import AnyConfig
from plan.checks import Finding, PlanInput
from plan.forcenew import (
    GUARDED_TYPES,
    IGNORED_INPUTS,
    REGIONAL_TYPES,
    SCHEMA_DEFAULTS,
    TAGGABLE_TYPES,
    TAGS_ALL_SOURCE,
    force_new_inputs,
)
from plan.runner import ProgramRun, Registration

CHECK = "day-two"
STACK_TYPE = "pulumi:pulumi:Stack"
# Pulumi marks a secret value in a state file with this signature key (sdk/go/common/resource/sig).
SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"
ACTIONS = ("create", "update", "replace", "delete", "same")
ENGINE_ORDER = (
    "pulumi/pulumi pkg/resource/deploy: a run creates and updates first and deletes what the program no longer "
    "registers at the end"
)
DELETE_BEFORE_REPLACE = (
    "pulumi-terraform-bridge pkg/tfbridge/schema.go nameRequiresDeleteBeforeReplace: an explicitly named resource is "
    "replaced delete-first"
)


class BaseError(ValueError):
    """A base file this plan cannot read."""


@dataclass(frozen=True)
class BaseResource:
    urn: str
    type: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    protect: bool = False
    id: str = ""
    custom: bool = True
    provider: str = ""  # the provider's URN (a state file holds "<urn>::<id>")

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


@dataclass(frozen=True)
class Base:
    source: str
    resources: dict[str, BaseResource]

    @functools.cached_property
    def role_arns(self) -> frozenset[str]:
        """The ARN of every IAM role the base holds (from its outputs; a plan's state.json has them too)."""
        return frozenset(str(r.outputs.get("arn")) for r in self.resources.values() if r.type == "aws:iam/role:Role")

    @functools.cached_property
    def stacks(self) -> frozenset[str]:
        """The stacks the base holds (a stack export: one)."""
        return frozenset(stack_of(urn) for urn in self.resources)


def load_base(path: Path) -> Base:
    """A `pulumi stack export` or a plan's state.json. One clear error for anything else."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise BaseError(f"BASE={path}: cannot read it as JSON ({error})") from error
    if not isinstance(data, dict):
        raise BaseError(f"BASE={path}: not a stack export (expected an object with 'deployment')")
    if "deployment" not in data:
        hint = (
            " (a plan's report.json lists resources without their inputs: pass the state.json beside it)"
            if "cells" in data
            else ""
        )
        raise BaseError(f"BASE={path}: no 'deployment' key: pass `pulumi stack export` output{hint}")
    resources: dict[str, BaseResource] = {}
    deployment = data["deployment"] or {}
    if not isinstance(deployment, dict):
        raise BaseError(f"BASE={path}: 'deployment' is not an object")
    for i, raw in enumerate(deployment.get("resources") or []):
        if not isinstance(raw, dict) or "urn" not in raw or "type" not in raw:
            raise BaseError(f"BASE={path}: deployment.resources[{i}] has no urn or type")
        # apitype.ResourceV3 (pulumi/pulumi sdk/go/common/apitype/core.go): `delete: true` marks the old copy of a
        # replaced resource still to be deleted; it shares its URN with the live one, which is the one compared.
        # Every other field the engine writes (dependencies, created, modified, sourcePosition, ...) is not read.
        if raw.get("delete"):
            continue
        resources[str(raw["urn"])] = BaseResource(
            urn=str(raw["urn"]),
            type=str(raw["type"]),
            inputs=dict(raw.get("inputs") or {}),
            outputs=dict(raw.get("outputs") or {}),
            protect=bool(raw.get("protect", False)),
            id=str(raw.get("id", "")),
            custom=bool(raw.get("custom", True)),
            provider=str(raw.get("provider") or "").rsplit("::", 1)[0],
        )
    return Base(str(path), resources)


def export_of(runs: Iterable[ProgramRun]) -> dict[str, Any]:
    """The plan's registrations in `pulumi stack export`'s shape (version 3), to be the next plan's base.

    outputs hold the mock's computed state (ARNs as AWS forms them), which is what a real export holds after `up`.
    """
    resources = [
        {
            "urn": r.urn,
            "custom": r.custom,
            "type": r.type,
            "id": str(r.state.get("id", "")) if r.custom else "",
            "inputs": r.inputs,
            "outputs": {**r.inputs, **r.state} if r.custom else {},
            "parent": r.parent,
            "provider": r.provider,
            "protect": r.protect,
            "retainOnDelete": r.retain_on_delete,
        }
        for run in runs
        for r in run.registrations
    ]
    return {"version": 3, "deployment": {"manifest": {"note": "written by `make plan`"}, "resources": resources}}


def _normal(value: Any) -> Any:
    """A value as the provider compares it: JSON text (policies; a provider's nested inputs) by what it says."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return _normal(json.loads(value))
        except json.JSONDecodeError:
            return value
    if isinstance(value, dict):
        if SECRET_SIGNATURE in value:
            return SECRET_SIGNATURE  # a secret in the base: its plaintext is not there to compare
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


def _is_default(value: Any, default: object) -> bool:
    # A provider's configuration is kept as text in a real state file ("true"), the program's as values.
    if isinstance(default, bool):
        return _normal(value) in (default, str(default).lower())
    return bool(_normal(value) == default)


def changed_inputs(type_: str, old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The inputs that differ. `region` of a regional type is judged by diff() (its effective value)."""
    defaults = SCHEMA_DEFAULTS.get(type_, {})
    # Keys the provider's Check filled from the schema's defaults in the base's run (pulumi-terraform-bridge
    # pkg/tfbridge/schema.go defaultsKey "__defaults"): left out by the program, they are filled the same again.
    defaulted = set(old.get("__defaults") or []) if isinstance(old.get("__defaults"), list) else set()
    changed = []
    for key in sorted(set(old) | set(new)):
        if key in IGNORED_INPUTS or (key == "region" and type_ in REGIONAL_TYPES):
            continue
        if key not in new and (key in defaulted or (key in defaults and _is_default(old[key], defaults[key]))):
            continue
        before, after = _normal(old.get(key)), _normal(new.get(key))
        if SECRET_SIGNATURE in (before, after):
            continue
        if before != after:
            changed.append(key)
    return changed


@dataclass
class Change:
    urn: str
    type: str
    action: str
    changed: list[str] = field(default_factory=list)
    replaced_by: dict[str, str] = field(default_factory=dict)  # input -> the force-new rule's source
    protected: bool = False  # protected in the base (the engine refuses to delete or replace it)
    note: str = ""

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


def _region_change(base: Base, old: BaseResource, reg: Registration, providers: dict[str, Registration]) -> bool:
    """Whether a regional resource's effective region changes: its region input, or else its provider's."""
    if reg.type not in REGIONAL_TYPES:
        return False
    base_provider = base.resources.get(old.provider)
    before = (
        old.inputs.get("region")
        or old.outputs.get("region")
        or (base_provider.inputs.get("region") if base_provider else None)
    )
    provider = providers.get(reg.provider_urn)
    after = reg.inputs.get("region") or (provider.inputs.get("region") if provider else None)
    return bool(before and after and before != after)


def _default_tags(inputs: dict[str, Any]) -> dict[str, Any]:
    tags = (_normal(inputs.get("defaultTags")) or {}).get("tags") if inputs.get("defaultTags") else None
    return dict(tags) if isinstance(tags, dict) else {}


def _tags_all_changes(base: Base, changes: list[Change], registered: dict[str, Registration]) -> None:
    """A provider whose defaultTags change updates every taggable resource it manages whose merged tags change."""
    retagged: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for change in changes:
        if change.type.startswith("pulumi:providers:") and "defaultTags" in change.changed:
            old = base.resources[change.urn].inputs
            retagged[change.urn] = (_default_tags(old), _default_tags(registered[change.urn].inputs))
    if not retagged:
        return
    for change in changes:
        reg = registered.get(change.urn)
        if change.type not in TAGGABLE_TYPES or reg is None or reg.provider_urn not in retagged:
            continue
        if change.action not in ("same", "update"):
            continue
        old_defaults, new_defaults = retagged[reg.provider_urn]
        old_tags = _normal(base.resources[change.urn].inputs.get("tags")) or {}
        new_tags = _normal(reg.inputs.get("tags")) or {}
        if {**old_defaults, **old_tags} != {**new_defaults, **new_tags}:
            change.action = "update"
            change.changed = [*change.changed, "tagsAll"]
            change.note = TAGS_ALL_SOURCE


def diff(base: Base, registrations: Iterable[Registration]) -> list[Change]:
    """One Change per URN of the base or the program, in the program's order, then the deletions."""
    changes: list[Change] = []
    seen: set[str] = set()
    registrations = list(registrations)
    registered = {r.urn: r for r in registrations}
    providers = {r.urn: r for r in registrations if r.type.startswith("pulumi:providers:")}
    for reg in registrations:
        if reg.type == STACK_TYPE or reg.urn in seen:
            continue
        seen.add(reg.urn)
        old = base.resources.get(reg.urn)
        if old is None:
            changes.append(Change(reg.urn, reg.type, "create"))
            continue
        if not reg.custom:
            changes.append(Change(reg.urn, reg.type, "same"))
            continue
        changed = changed_inputs(reg.type, old.inputs, reg.inputs)
        if _region_change(base, old, reg, providers):
            changed = sorted([*changed, "region"])
        if not changed:
            changes.append(Change(reg.urn, reg.type, "same", protected=old.protect))
            continue
        rules = force_new_inputs(reg.type)
        if rules is None:
            changes.append(
                Change(
                    reg.urn,
                    reg.type,
                    "replace",
                    changed,
                    {k: "plan/forcenew.py has no row for this type: assumed to replace" for k in changed},
                    old.protect,
                )
            )
            continue
        forcing = {key: rules[key] for key in changed if key in rules}
        changes.append(Change(reg.urn, reg.type, "replace" if forcing else "update", changed, forcing, old.protect))
    for urn, old in base.resources.items():
        if urn in seen or old.type == STACK_TYPE or old.type.startswith("pulumi:providers:pulumi"):
            continue
        changes.append(Change(urn, old.type, "delete", protected=old.protect))
    _tags_all_changes(base, changes, registered)
    return changes


def _accepted(config: AnyConfig, name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in config.accepted_replacements)


def _physical(type_: str, values: dict[str, Any], account: str) -> tuple[str, str, str] | None:
    """(type, account, physical name) of a guarded resource: what AWS refuses twice."""
    key = {"aws:s3/bucket:Bucket": "bucket"}.get(type_, "name")
    if type_ not in GUARDED_TYPES or key not in values:
        return None
    # Buckets are named globally; the others within their account.
    return type_, "" if type_ == "aws:s3/bucket:Bucket" else account, str(values[key])


def findings(plan: PlanInput, base: Base, changes: list[Change]) -> list[Finding]:
    configs = [stack.config for stack in plan.selection.stacks]

    def accepted(name: str) -> bool:
        return any(_accepted(c, name) for c in configs)

    result: list[Finding] = []
    registered = {r.urn: (run, r) for run in plan.runs for r in run.registrations}
    deleted_physical: dict[tuple[str, str, str], str] = {}
    for change in changes:
        if change.action != "delete":
            continue
        old = base.resources[change.urn]
        account = _base_account(base, old)
        physical = _physical(old.type, old.inputs, account)
        if physical:
            deleted_physical[physical] = change.name
    for change in changes:
        why = GUARDED_TYPES.get(change.type)
        if change.action in ("replace", "delete") and why and not accepted(change.name):
            what = (
                "replace: " + ", ".join(f"{k} ({v})" for k, v in sorted(change.replaced_by.items()))
                if change.action == "replace"
                else "delete: the program no longer registers it (its URN changed or it was removed)"
            )
            result.append(
                Finding(
                    CHECK,
                    change.urn,
                    what,
                    f"{why}; add {change.name!r} to accepted_replacements to do it knowingly"
                    + ("; the base protects it: `pulumi state unprotect` it first" if change.protected else ""),
                    next(iter(change.replaced_by.values()), ENGINE_ORDER),
                )
            )
        if change.action == "create" and change.urn in registered:
            run, reg = registered[change.urn]
            physical = _physical(reg.type, reg.inputs, run.account_of(reg) if reg.provider else "")
            if physical and physical in deleted_physical:
                result.append(
                    Finding(
                        CHECK,
                        change.urn,
                        f"create {physical[2]!r} while {deleted_physical[physical]!r} (the same name in the same "
                        "account) is deleted only after it",
                        "AWS refuses the second role or bucket of one name (EntityAlreadyExists / "
                        "BucketAlreadyOwnedByYou); an account's name keys its URNs: keep it, or move the old "
                        "resources to the new names with `pulumi state rename` before `up`",
                        ENGINE_ORDER,
                    )
                )
    for c in configs:
        names = {ch.name for ch in changes} | {r.name for r in base.resources.values()}
        for i, pattern in enumerate(c.accepted_replacements):
            if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
                result.append(
                    Finding(
                        CHECK,
                        "config",
                        f"accepted_replacements[{i}] = {pattern!r}",
                        "names no resource of the base or the program (a typo accepts nothing)",
                        "plan/diff.py",
                    )
                )
    return result


def _base_account(base: Base, resource: BaseResource) -> str:
    arn = str(resource.outputs.get("arn", ""))
    return arn.split(":")[4] if arn.count(":") >= 5 else ""


def stack_of(urn: str) -> str:
    # urn:pulumi:<stack>::<project>::<type>::<name>
    return urn.split("::", 1)[0].split(":", 2)[-1]


def compared(plan: PlanInput, base: Base) -> list[Registration]:
    """The registrations of the stacks the base holds: a stack export is one stack's, a plan's state.json may hold
    several (STACK=all); the stacks only read (a member's shared stack) are not compared."""
    return [r for run in plan.runs for r in run.registrations if stack_of(r.urn) in base.stacks]


def changes_of(plan: PlanInput) -> list[Change] | None:
    base = plan.extras.get("base")
    if not isinstance(base, Base):
        return None
    return diff(base, compared(plan, base))


def check(plan: PlanInput) -> list[Finding]:
    base = plan.extras.get("base")
    changes = changes_of(plan)
    if not isinstance(base, Base) or changes is None:
        return []
    return findings(plan, base, changes)


def diff_text(base: Base, changes: list[Change], accepted: Iterable[str] = ()) -> str:
    counts = {action: sum(1 for c in changes if c.action == action) for action in ACTIONS}
    held = sum(r.type != STACK_TYPE for r in base.resources.values())
    lines = [
        f"Compared with the deployed base {base.source} ({held} resources): "
        + ", ".join(f"{counts[a]} {a}" for a in ACTIONS)
    ]
    patterns = list(accepted)
    for change in changes:
        if change.action == "same":
            continue
        detail = ""
        if change.action == "update":
            detail = f" (in place: {', '.join(change.changed)})"
        elif change.action == "replace":
            detail = f" (forced by {', '.join(sorted(change.replaced_by))})"
        if change.type in GUARDED_TYPES and change.action in ("replace", "delete"):
            ok = any(fnmatch.fnmatchcase(change.name, p) for p in patterns)
            detail += " [accepted]" if ok else " [stateful or physically named]"
        lines.append(f"  {change.action:<8} {change.type} {change.name}{detail}")
    return "\n".join(lines)
