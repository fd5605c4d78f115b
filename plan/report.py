"""Text, JSON and diagram renderings of an offline plan: the resources and the access matrix."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from plan.escalation import Escalation, Finding
from plan.matrix import STATE_DATA, Matrix
from plan.runner import PROVIDER_TYPE, ProgramRun, Registration

_PHYSICAL_KEYS = ("name", "bucket", "role")


def _short_type(type_: str) -> str:
    # aws:iam/role:Role -> aws:iam:Role, the way `pulumi preview` prints it.
    match = re.fullmatch(r"(\w+):([\w/]+)/\w+:(\w+)", type_)
    return f"{match.group(1)}:{match.group(2)}:{match.group(3)}" if match else type_


def _physical(reg: Registration) -> str:
    for key in _PHYSICAL_KEYS:
        value = reg.inputs.get(key)
        if isinstance(value, str) and value:
            return value
    return "-"


def resource_rows(run: ProgramRun) -> list[dict[str, Any]]:
    rows = []
    for reg in run.registrations:
        if reg.type == "pulumi:pulumi:Stack":
            continue
        account = run.account_of(reg) if reg.provider else ""
        if reg.type == PROVIDER_TYPE:
            account = json.loads(reg.inputs["allowedAccountIds"])[0]
        rows.append(
            {
                "account": account or "(component)",
                "type": _short_type(reg.type),
                "name": reg.name,
                "physical_name": _physical(reg) if reg.custom else "-",
                "protected": reg.protect,
                "retain_on_delete": reg.retain_on_delete,
                "urn": reg.urn,
            }
        )
    return rows


def plan_text(run: ProgramRun, account_names: dict[str, str]) -> str:
    """The planned resources grouped by account, one line each, the way `pulumi preview` would list them."""
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in resource_rows(run):
        groups[row["account"]].append(row)
    lines = [f"Plan: {sum(len(g) for g in groups.values())} resources to create"]
    order = sorted(groups, key=lambda a: (a == "(component)", account_names.get(a, a)))
    for account in order:
        label = f"{account_names[account]} ({account})" if account in account_names else "components"
        lines.append("")
        lines.append(f"  {label}")
        for row in sorted(groups[account], key=lambda r: (r["type"], r["name"])):
            flag = "  [protected, retain-on-delete]" if row["protected"] else ""
            lines.append(f"    + {row['type']:<44} {row['name']:<36} {row['physical_name']}{flag}")
    return "\n".join(lines)


def classes_text(matrix: Matrix) -> str:
    lines = ["Account classes (derived from the documents; one representative decides for its class):"]
    for cls in matrix.classes:
        names = ", ".join(a.name for a in cls.members[:6]) + (", ..." if len(cls.members) > 6 else "")
        lines.append(f"  {cls.key}: {len(cls.members)} account(s) ({names})")
    return "\n".join(lines)


def matrix_text(matrix: Matrix) -> str:
    """The judged cells: what is allowed (by target, with who), what denied it, and every mismatch."""
    judged = matrix.judged
    total = sum(matrix.stands_for(c) for c in judged)
    lines = [
        f"Access matrix: {len(judged)} judged cells on the representatives, standing for {total:,} cells of the "
        "organization"
    ]
    allowed: dict[str, list[str]] = defaultdict(list)
    for cell in judged:
        if cell.actual:
            allowed[cell.target].append(cell.principal)
    lines.append(f"Allowed ({sum(len(v) for v in allowed.values())} cells), by target:")
    for target, principals in allowed.items():
        lines.append(f"  {target} <- {', '.join(principals)}")
    lines.append("")
    lines += _denials(matrix)
    if matrix.mismatches:
        lines.append("")
        lines.append(f"MISMATCHES ({len(matrix.mismatches)}):")
        for cell in matrix.mismatches:
            want = "allow" if cell.expected else "deny"
            got = "allow" if cell.actual else "deny"
            lines.append(
                f"  {cell.principal} -> {cell.target}: expected {want}, got {got} ({', '.join(cell.decided_by)})"
            )
    for note in matrix.notes:
        lines.append(f"Note: {note}")
    return "\n".join(lines)


def _denials(matrix: Matrix) -> list[str]:
    """Denied judged cells by what denied them: each explicit Deny statement, then the implicit denials."""
    by_deny: dict[str, list[str]] = defaultdict(list)
    implicit = 0
    for cell in matrix.judged:
        if cell.actual:
            continue
        denies = sorted({reason for reason in cell.decided_by if ":Deny:" in reason})
        if denies:
            by_deny[", ".join(denies)].append(cell.principal)
        else:
            implicit += 1
    lines = ["Denied cells and what denied them (every cell with its statements is in report.json):"]
    for deny, principals in sorted(by_deny.items()):
        lines.append(f"  {deny}: {len(principals)} cell(s), principals {', '.join(sorted(set(principals)))}")
    lines.append(
        f"  no Allow matched in the trust/resource policy or the caller's policies (implicit deny): {implicit} cells"
    )
    return lines


def escalation_text(matrix: Matrix, escalation: Escalation, shown: int = 3) -> str:
    """Reach in any number of steps: findings by source with their shortest paths, named risks, who reaches what."""
    world = matrix.world
    lines = ["Escalation analysis (assume, take over a trust, create a trusted name, pass a role to EC2; any steps):"]
    by_source: dict[str, list[Finding]] = defaultdict(list)
    for finding in escalation.findings:
        by_source[finding.source].append(finding)
    if not by_source:
        lines.append("  No principal outside the trust root reaches beyond its own account's state.")
    for source, findings in by_source.items():
        risks = sorted({f.risk or "FAILURE" for f in findings})
        lines.append(f"  {source}: reaches {len(findings)} thing(s) beyond its promise [{', '.join(risks)}]")
        for finding in sorted(findings, key=lambda f: len(f.path))[:shown]:
            lines.append(f"    {finding.path}")
        if len(findings) > shown:
            lines.append(f"    ... and {len(findings) - shown} more in report.json")
    if escalation.risks:
        lines.append("Named risks:")
        for risk, why in sorted(escalation.risks.items()):
            lines.append(f"  {risk}: {why}")
    lines.append("Who reaches each protected asset (outside the trust root; the trust root reaches every one):")
    for key, target in world.targets.items():
        if target.owner is None:
            continue
        reachers = [s for s in escalation.who_reaches(key) if not world.nodes[s].root and world.nodes[s].source]
        lines.append(f"  {key}: {', '.join(reachers) if reachers else '(trust root only)'}")
    return "\n".join(lines)


ASSUME_KINDS = ("assume", "assume-state", "assume-plan", "assume-reader")


def _reached(target: str) -> str:
    return "lock table" if target.startswith("lock") else "state bucket"


def _collapsed(matrix: Matrix) -> dict[str, str]:
    """Node key -> label in the picture: a class of more than a dozen accounts is drawn once, with its size."""
    labels = {}
    class_of = {a.id: c for c in matrix.classes for a in c.members}
    for key, node in matrix.world.nodes.items():
        cls = class_of.get(node.subject)
        if cls is not None and len(cls.members) > 12:
            labels[key] = matrix.world.template[key].format(f"{cls.key} x{len(cls.members)}")
        else:
            labels[key] = key
    return labels


def trust_edges(matrix: Matrix) -> list[tuple[str, str]]:
    """Who reaches what, from the actual verdicts: role assumptions, and data access to the state stores."""
    labels = _collapsed(matrix)
    edges = []
    for cell in matrix.cells:
        target = matrix.world.targets[cell.target]
        if not cell.actual or target.kind not in (*ASSUME_KINDS, *STATE_DATA):
            continue
        source = labels[cell.principal]
        if target.kind in ASSUME_KINDS:
            edges.append((source, labels[target.leads_to[0]]))
        else:
            edges.append((source, _reached(target.kind)))
    return list(dict.fromkeys(edges))


def mermaid(matrix: Matrix) -> str:
    lines = ["flowchart LR"]
    nodes: dict[str, str] = {}
    for a, b in trust_edges(matrix):
        for label in (a, b):
            nodes.setdefault(label, _node_id(label))
    for label, node in nodes.items():
        shape = f'[("{label}")]' if label in ("state bucket", "lock table") else f'["{label}"]'
        lines.append(f"  {node}{shape}")
    for a, b in trust_edges(matrix):
        verb = "reads/writes" if b in ("state bucket", "lock table") else "assumes"
        lines.append(f"  {nodes[a]} -- {verb} --> {nodes[b]}")
    return "\n".join(lines) + "\n"


def _node_id(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", label)


def _layer(label: str) -> int:
    if label in ("state bucket", "lock table"):
        return 4
    if label.startswith(("assumer", "plan-assumer")):
        return 1
    if label.startswith(("doer", "bootstrap", "plan-doer")):
        return 2
    if label.startswith(("state-mgmt", "state-reader")):
        return 3
    return 0  # callers: CI, SSO, modelled principals and the roles they create


def write_png(matrix: Matrix, path: Path) -> None:
    """The trust graph as a layered picture: callers, assumer, doers, state-mgmt sessions, state."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    edges = trust_edges(matrix)
    labels = list(dict.fromkeys([x for edge in edges for x in edge]))
    layers: dict[int, list[str]] = defaultdict(list)
    for label in labels:
        layers[_layer(label)].append(label)
    position: dict[str, tuple[float, float]] = {}
    tallest = max(len(v) for v in layers.values())
    for layer, members in layers.items():
        for i, label in enumerate(members):
            position[label] = (layer * 3.0, (len(members) - 1) / 2 - i)
    fig, ax = plt.subplots(figsize=(15, max(4, tallest * 0.6)))
    for a, b in edges:
        (x1, y1), (x2, y2) = position[a], position[b]
        ax.annotate("", xy=(x2 - 0.6, y2), xytext=(x1 + 0.6, y1), arrowprops={"arrowstyle": "->", "color": "#555"})
    colours = {0: "#dbeafe", 1: "#fde68a", 2: "#bbf7d0", 3: "#fbcfe8", 4: "#e5e7eb"}
    for label, (x, y) in position.items():
        ax.text(
            x,
            y,
            label,
            ha="center",
            va="center",
            fontsize=7,
            bbox={"boxstyle": "round", "facecolor": colours[_layer(label)], "edgecolor": "#333"},
        )
    ax.set_xlim(-1.5, 4 * 3.0 + 1.5)
    ax.set_ylim(-tallest / 2 - 0.5, tallest / 2 + 0.5)
    ax.axis("off")
    ax.set_title("Who can reach what (actual verdicts; classes of more than 12 accounts drawn once)")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(path: Path, stack: str, run: ProgramRun, matrix: Matrix, escalation: Escalation) -> None:
    """report.json, written as it is produced (compact, one pass): cells are never all held as dicts at once."""
    with path.open("w") as out:
        out.write(f'{{"stack": {json.dumps(stack)}, "resources": ')
        json.dump(resource_rows(run), out, separators=(",", ":"))
        out.write(', "outputs": ')
        json.dump(run.outputs, out, separators=(",", ":"), default=str)
        out.write(', "classes": ')
        json.dump(matrix.as_dict()["classes"], out, separators=(",", ":"))
        out.write(', "cells": [')
        for i, cell in enumerate(matrix.cells):
            row = {
                "principal": cell.principal,
                "target": cell.target,
                "expected": None if cell.expected is None else ("allow" if cell.expected else "deny"),
                "actual": "allow" if cell.actual else "deny",
                "ok": cell.ok,
                "stands_for": matrix.stands_for(cell),
                "decided_by": cell.decided_by,
            }
            out.write(("," if i else "") + json.dumps(row, separators=(",", ":")))
        out.write('], "mismatches": ')
        json.dump([{"principal": c.principal, "target": c.target} for c in matrix.mismatches], out)
        out.write(', "escalation": {"findings": ')
        json.dump([f.as_dict() for f in escalation.findings], out, separators=(",", ":"))
        out.write(', "risks": ')
        json.dump(escalation.risks, out)
        out.write("}}\n")
