"""`python -m plan`: the offline plan of a stack, or of a whole organization (no AWS, no Pulumi CLI).

Runs the real program under Pulumi's mock runtime, prints the planned resources by account and the access
matrix, writes report.json, trust-graph.mmd and trust-graph.png, and exits non-zero when any cell of the
matrix differs from what the config promises. It also writes what the user pastes next, from the stacks'
outputs: aws-config (~/.aws/config profiles, their sessions named after --who) and terragrunt/ (root.hcl,
<account>/account.hcl). A member stack
is planned after the shared stack it reads, and its matrix covers both; ``--stack all`` plans the shared stack
and every member stack reading it, each program once, with one matrix across all of them. Only stacks that belong
together are checked against each other.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import shutil
import sys
import time
from pathlib import Path

import pulumi

from federation.config import ConfigError, FederationConfig
from federation.snippets import for_person, session_name_of
from plan.check_prerequisites import notes
from plan.checks import PlanInput, checks_text, run_checks
from plan.diff import BaseError, changes_of, diff_text, export_of, load_base
from plan.escalation import analyse
from plan.matrix import access_matrix
from plan.model import iam_model
from plan.report import classes_text, escalation_text, matrix_text, mermaid, plan_text, write_png, write_report
from plan.review import policy_files, write_policy_files
from plan.runner import ProgramRun, run_program, stack_name_of
from plan.stacks import ALL, Selection, select_stacks
from plan.world import plan_scope


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def run_selection(selection: Selection) -> list[ProgramRun]:
    """Each selected program once: the shared stack, then every member with the shared stack's outputs."""
    shared = selection.shared
    runs = [run_program(shared.raw, stack=shared.name)]
    for member in selection.members:
        assert member.config.stack.shared_stack is not None
        outputs = {member.config.stack.shared_stack: runs[0].outputs}
        runs.append(run_program(member.raw, stack=member.name, stack_outputs=outputs))
    return runs


def handoff_files(runs: list[ProgramRun], who: str) -> dict[str, str]:
    """The stacks' outputs a user pastes next, by file: the shared stack's, then each member's additions.

    The profiles' sessions are named after who (the stack's output says <your-name> there: one text for every user).
    """
    files = {
        "aws-config": for_person("\n".join(run.outputs["aws_config_snippet"] for run in runs), who),
        "terragrunt/root.hcl": runs[0].outputs["terragrunt_root_hcl"],
    }
    for run in runs:
        files |= {
            f"terragrunt/{name}/account.hcl": text for name, text in run.outputs["terragrunt_account_hcl"].items()
        }
    return files


def _write_handoff(out: Path, runs: list[ProgramRun], selection: Selection, who: str) -> str:
    """Write the files and say where they go."""
    for name, text in handoff_files(runs, who).items():
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text)
    organization = selection.organization
    accounts = [a.name for a in organization.all_accounts]
    profile = "<account>" if organization.state_backend.state_mgmt_trusts_doers else "assumer"
    session = organization.sso.session_name
    return "\n".join(
        [
            "What to paste next (the stacks' outputs as planned; `pulumi stack output` shows them after `pulumi up`):",
            f"  {out / 'aws-config'}: append to ~/.aws/config, then: aws sso login --sso-session {session}",
            f"    (its sessions are named {session_name_of(who)!r} in CloudTrail; WHO=<your name> to change it)",
            f"  {out / 'terragrunt'}/: root.hcl for the root of your Terragrunt repository, and <account>/account.hcl"
            f" for {len(accounts)} account(s){': ' + ', '.join(accounts) if len(accounts) <= 8 else ''}",
            f"Then in <account>/<unit>/: AWS_PROFILE={profile} terragrunt plan   (docs/terragrunt.md)",
            *(
                ["Read-only (plan path): TG_PLAN=1 AWS_PROFILE=<account>.plan terragrunt plan   (docs/plan-path.md)"]
                if organization.plan_path.enabled
                else []
            ),
        ]
    )


def _shown(selection: Selection, runs: list[ProgramRun]) -> ProgramRun:
    """The resources this plan is about: one stack's, or for 'all' every stack's (URNs carry the stack)."""
    if selection.name != ALL:
        return runs[-1]
    return ProgramRun(
        registrations=[r for run in runs for r in run.registrations],
        outputs={stack.name: run.outputs for stack, run in zip(selection.stacks, runs, strict=True)},
    )


def _header(selection: Selection) -> str:
    shared = selection.shared
    if selection.name == ALL:
        members = ", ".join(m.name for m in selection.members) or "none"
        return (
            f"Offline plan of organization {selection.organization.organization_id}: stack '{shared.name}' "
            f"({shared.path}) first, then the member stacks reading it ({members}).\n"
            "Each program runs once; one access matrix covers all of them."
            + "".join(
                f"\nLeft out, another organization's: {s.path.name}"
                + (f" (organization {s.config.organization_id})" if isinstance(s.config, FederationConfig) else "")
                for s in selection.foreign
            )
        )
    target = selection.members[-1] if selection.members else shared
    lines = [f"Offline plan of stack '{target.name}' ({target.path})."]
    if selection.members:
        lines.append(f"It reads stack '{shared.name}', planned first; the access matrix covers both.")
    return "\n".join(lines)


def day_two_text(plan: PlanInput) -> str:
    """With a base: each resource's create / update / replace / delete; always: what the prerequisites assumed."""
    base = plan.extras.get("base")
    changes = changes_of(plan)
    lines = []
    if base is not None and changes is not None:
        accepted = [p for stack in plan.selection.stacks for p in stack.config.accepted_replacements]
        lines.append(diff_text(base, changes, accepted))
    lines += [f"note: {line}" for line in notes(plan)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m plan", description=__doc__)
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--stack", default="shared", help=f"Pulumi.<stack>.yaml in --dir, or '{ALL}'")
    which.add_argument("--stack-file", type=Path, help="a stack file (its directory holds the stacks it reads)")
    parser.add_argument("--dir", type=Path, default=Path("."), help="where the Pulumi.<stack>.yaml files are")
    parser.add_argument(
        "--shared", help=f"with --stack {ALL}: the shared or complete stack (needed when the folder holds several)"
    )
    parser.add_argument(
        "--out", type=Path, help=f"output directory (default build/plan-<stack>; {ALL}: build/plan-all/<organization>)"
    )
    parser.add_argument("--no-png", action="store_true", help="skip the PNG picture")
    parser.add_argument(
        "--base",
        type=Path,
        help="what is deployed: a `pulumi stack export` or an earlier plan's state.json (README, 'Day two')",
    )
    parser.add_argument(
        "--who",
        default=os.environ.get("IAM_FEDERATION_WHO") or getpass.getuser(),
        help="your name, for the session names of the aws-config profiles (default: $IAM_FEDERATION_WHO, your login)",
    )
    args = parser.parse_args(argv)
    try:
        session_name_of(args.who)
    except ValueError as error:
        return _fail(f"--who: {error}")

    started = time.perf_counter()
    directory, stack = (
        (args.stack_file.parent, stack_name_of(args.stack_file)) if args.stack_file else (args.dir, args.stack)
    )
    target = directory / f"Pulumi.{stack}.yaml"
    if stack != ALL and not target.exists():
        return _fail(f"stack file {target} not found")
    try:
        base = load_base(args.base) if args.base else None
    except BaseError as error:
        return _fail(str(error))
    try:
        selection = select_stacks(directory, stack, shared=args.shared)
    except ConfigError as error:
        if stack != ALL:
            return _fail(f"{target}: {error}")
        # All or nothing: nothing of the organization is planned or written while one of its files is wrong.
        lines = "\n".join(f"  - {p}" for p in error.problems)
        return _fail(f"the organization plan of {directory} stops here; nothing was planned or written:\n{lines}")
    for warning in selection.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    try:
        runs = run_selection(selection)
    except (pulumi.RunError, ConfigError) as error:
        return _fail(f"{selection.stacks[-1].path}: {error}")
    # One folder per organization: a second organization in the folder never overwrites the first one's plan.
    out: Path = args.out or Path("build") / (
        f"plan-{ALL}/{selection.organization.organization_id}" if stack == ALL else f"plan-{stack}"
    )

    organization = selection.organization
    model = iam_model(*runs)
    matrix = access_matrix(organization, model)
    escalation = analyse(organization, matrix)
    plan_input = PlanInput(selection=selection, runs=runs, model=model, extras={"base": base} if base else {})
    checks = run_checks(plan_input)
    findings = [finding for found in checks.values() for finding in found]
    shown = _shown(selection, runs)
    names = {a.id: a.name for a in organization.all_accounts}
    print(_header(selection))
    print("The real program ran under Pulumi's mock runtime; nothing here ran against AWS or the Pulumi CLI.")
    # The verdict first: the details below run to hundreds of lines; the same lines close the output.
    failed = len(matrix.mismatches) + len(escalation.failures) + len(findings)
    print(
        f"Verdict: {'FAILED' if failed else 'OK'} ({len(matrix.mismatches)} matrix mismatch(es), "
        f"{len(escalation.failures)} reach(es) beyond the promise, {len(findings)} deployability finding(s)); "
        f"details below and in {out / 'report.json'}, {out / 'checks.json'}\n"
    )
    print(plan_text(shown, names))
    print()
    print(classes_text(matrix))
    print()
    print(matrix_text(matrix))
    print()
    print(escalation_text(matrix, escalation))
    print()
    print(checks_text(checks, plan_input.extras.get("notes")))
    if day_two := day_two_text(plan_input):
        print(day_two)

    out.mkdir(parents=True, exist_ok=True)
    # An earlier plan's files to paste go first: they may name accounts since removed, or a failed plan's config.
    shutil.rmtree(out / "terragrunt", ignore_errors=True)
    (out / "aws-config").unlink(missing_ok=True)
    write_report(out / "report.json", stack, shown, matrix, escalation)
    (out / "trust-graph.mmd").write_text(mermaid(matrix))
    (out / "checks.json").write_text(
        json.dumps({name: [f.as_dict() for f in found] for name, found in checks.items()}, indent=2) + "\n"
    )
    # The next plan's base, in `pulumi stack export`'s shape: make plan BASE=<out>/state.json.
    (out / "state.json").write_text(json.dumps(export_of(runs), separators=(",", ":"), default=str) + "\n")
    # Every registered policy document, for review in a pull request (written whatever the verdict).
    write_policy_files(out / "policies", policy_files(runs, names))
    written = ["report.json", "checks.json", "state.json", "trust-graph.mmd", "policies/"]
    if not args.no_png:
        write_png(matrix, out / "trust-graph.png")
        written.append("trust-graph.png")
    print(f"\nWrote {', '.join(str(out / w) for w in written)} in {time.perf_counter() - started:.1f} s")
    if matrix.mismatches:
        print(f"FAILED: {len(matrix.mismatches)} cell(s) of the access matrix differ from the config's promise")
    if escalation.failures:
        first = min(escalation.failures, key=lambda f: len(f.path))
        print(f"FAILED: {len(escalation.failures)} reach(es) beyond the promise, e.g. {first.path}")
    if findings:
        print(f"FAILED: {len(findings)} deployability finding(s), e.g. {findings[0].line()}")
    if matrix.mismatches or escalation.failures or findings:
        return 1
    print(_write_handoff(out, runs, selection, args.who))
    print(f"OK: all {len(matrix.judged)} judged cells of the access matrix match the config's promise")
    risks = f" (named risks: {', '.join(sorted(escalation.risks))})" if escalation.risks else ""
    print(f"OK: no principal outside the trust root reaches beyond its own account's state{risks}")
    if organization.plan_path.enabled:
        nodes = matrix.world.nodes
        taken = sorted({f.risk for f in escalation.findings if f.risk and plan_scope(nodes[f.source].owner)})
        but = f", except through the named risks: {', '.join(taken)}" if taken else ""
        print(f"OK: plan identities write nothing and reach no apply role, in any number of steps{but}")
    if checks:
        print(f"OK: {len(checks)} deployability check(s) found nothing AWS, the provider or Terraform would refuse")
    return 0


if __name__ == "__main__":
    sys.exit(main())
