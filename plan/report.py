"""Text, JSON and diagram renderings of an offline plan: the resources and the access matrix."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from plan.matrix import Matrix
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


def matrix_text(matrix: Matrix) -> str:
    """Principals down, targets across (numbered); A = allowed, . = denied; !A / !D = differs from expected."""
    lines = ["Access matrix (A allowed, . denied, !A allowed but must be denied, !D denied but must be allowed)"]
    for i, target in enumerate(matrix.targets, 1):
        lines.append(f"  T{i:<3} {target}")
    width = max(len(p) for p in matrix.principals)
    header = " " * (width + 4) + "".join(f"T{i:<3}" for i in range(1, len(matrix.targets) + 1))
    lines += ["", header]
    index = {(c.principal, c.target): c for c in matrix.cells}
    for principal in matrix.principals:
        row = f"  {principal:<{width}}  "
        for target in matrix.targets:
            cell = index.get((principal, target))
            if cell is None:
                mark = "-"
            elif cell.ok:
                mark = "A" if cell.actual else "."
            else:
                mark = "!A" if cell.actual else "!D"
            row += f"{mark:<4}"
        lines.append(row.rstrip())
    lines.append("")
    allowed = [c for c in matrix.cells if c.actual]
    lines.append(f"Allowed cells and the statements that decided them ({len(allowed)} of {len(matrix.cells)}):")
    for cell in allowed:
        lines.append(f"  {cell.principal} -> {cell.target}: {', '.join(cell.decided_by)}")
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
    """Denied cells by what denied them: each explicit Deny statement, then the implicit denials."""
    by_deny: dict[str, list[str]] = defaultdict(list)
    implicit = 0
    for cell in matrix.cells:
        if cell.actual:
            continue
        denies = [reason for reason in cell.decided_by if ":Deny:" in reason]
        if denies:
            by_deny[", ".join(denies)].append(f"{cell.principal} -> {cell.target}")
        else:
            implicit += 1
    lines = ["Denied cells and what denied them (every cell with its statements is in report.json):"]
    for deny, cells in sorted(by_deny.items()):
        principals = sorted({c.split(" -> ")[0] for c in cells})
        lines.append(f"  {deny}: {len(cells)} cell(s), principals {', '.join(principals)}")
    lines.append(
        f"  no Allow matched in the trust/resource policy or the caller's policies (implicit deny): {implicit} cells"
    )
    return lines


def _node_id(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", label)


def _reached(target: str) -> str:
    if target.startswith("assume:"):
        return target.removeprefix("assume:")
    return "lock table" if target.startswith("dynamodb:") else "state bucket"


def trust_edges(matrix: Matrix) -> list[tuple[str, str]]:
    """Who reaches what, from the actual verdicts: role assumptions, and data access to the state stores."""
    # The CI runner is a session of the assumer role: in the graph it is the assumer.
    edges = (
        (cell.principal.replace("ci-runner(assumer)", "assumer"), _reached(cell.target))
        for cell in matrix.cells
        if cell.actual
    )
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


def _layer(label: str) -> int:
    if label.startswith(("ec2", "sso", "extra")):
        return 0
    if label == "assumer":
        return 1
    if label.startswith("doer") or label == "state-mgmt":
        return 2 if label.startswith("doer") else 3
    return 4


def write_png(matrix: Matrix, path: Path) -> None:
    """The trust graph as a layered picture: callers, assumer, doers, state-mgmt, state."""
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
            position[label] = (layer * 3.0, (tallest - 1) / 2 - i + (len(members) - 1) / 2 - (tallest - 1) / 2)
    fig, ax = plt.subplots(figsize=(15, max(4, tallest * 0.9)))
    for a, b in edges:
        (x1, y1), (x2, y2) = position[a], position[b]
        ax.annotate("", xy=(x2 - 0.55, y2), xytext=(x1 + 0.55, y1), arrowprops={"arrowstyle": "->", "color": "#555"})
    colours = {0: "#dbeafe", 1: "#fde68a", 2: "#bbf7d0", 3: "#fbcfe8", 4: "#e5e7eb"}
    for label, (x, y) in position.items():
        ax.text(
            x,
            y,
            label,
            ha="center",
            va="center",
            fontsize=8,
            bbox={"boxstyle": "round", "facecolor": colours[_layer(label)], "edgecolor": "#333"},
        )
    ax.set_xlim(-1.5, 4 * 3.0 + 1.5)
    ax.set_ylim(-tallest / 2 - 0.5, tallest / 2 + 0.5)
    ax.axis("off")
    ax.set_title("Who can reach what (actual verdicts of the access matrix)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def report_json(stack: str, run: ProgramRun, matrix: Matrix) -> dict[str, Any]:
    return {
        "stack": stack,
        "resources": resource_rows(run),
        "outputs": run.outputs,
        "access_matrix": matrix.as_dict(),
        "mismatches": [c for c in matrix.as_dict()["cells"] if not c["ok"]],
    }
