"""Every policy document the program registers, as files a reviewer reads and diffs in a pull request.

Read from the registrations (what the engine would receive), never from the components: a document is any input
of a custom resource whose value is JSON text holding a ``Statement`` (a role's ``assumeRolePolicy``, an inline or
managed ``policy``, a bucket, table or key ``policy``, an SCP's ``content``, a role's ``inlinePolicies[].policy``),
plus the identity settings of each OIDC provider (not a policy, but what every OIDC trust rests on).

File names are stable: ``<account name>/<resource logical name>[.<field>].json``. Logical names carry account
names, never positions, so reordering accounts changes no file; the field is left out for the resource's own
document (``policy``, ``content``) and kept for a document beside other inputs (``assumeRolePolicy``). Pure
functions, no Pulumi import.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from plan.runner import ProgramRun, Registration

# The input that IS the resource's document: its file is named after the resource alone.
OWN_DOCUMENT_FIELDS = ("policy", "content")
# Resources whose settings are reviewed as a document although they hold no policy: type -> inputs written.
# Source: pulumi-aws aws.iam.OpenIdConnectProvider (url, clientIdLists, thumbprintLists).
SETTINGS_DOCUMENTS: Mapping[str, tuple[str, ...]] = {
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": ("url", "clientIdLists", "thumbprintLists"),
}


def _policy(value: Any) -> dict[str, Any] | None:
    if not isinstance(value, str) or not value.lstrip().startswith("{"):
        return None
    try:
        parsed = json.loads(value)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) and "Statement" in parsed else None


def _documents_in(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], dict[str, Any]]]:
    document = _policy(value)
    if document is not None:
        yield path, document
    elif isinstance(value, Mapping):
        for key in sorted(value):
            yield from _documents_in(value[key], (*path, str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            # A list item is named by its own name (inlinePolicies[].name), else by its position.
            label = str(item["name"]) if isinstance(item, Mapping) and isinstance(item.get("name"), str) else str(i)
            yield from _documents_in(item, (*path, label))


def file_name(resource: str, path: tuple[str, ...]) -> str:
    own = not path or (len(path) == 1 and path[0] in OWN_DOCUMENT_FIELDS)
    suffix = "" if own else "." + ".".join(path)
    return f"{resource}{suffix}.json"


def registered_documents(registration: Registration) -> dict[str, dict[str, Any]]:
    """The documents of one registration, by file name (without the account folder)."""
    if not registration.custom:
        return {}
    found = {file_name(registration.name, path): doc for path, doc in _documents_in(registration.inputs, ())}
    settings = SETTINGS_DOCUMENTS.get(registration.type)
    if settings:
        found[file_name(registration.name, ())] = {k: registration.inputs.get(k) for k in settings}
    return found


def policy_files(runs: Iterable[ProgramRun], account_names: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    """Every document of every run, by ``<account name>/<file name>``; an account without a name keeps its id.

    Raises ValueError when two registrations would write one file (two stacks registering one logical name in one
    account): a reviewer must never read one document in place of another.
    """
    files: dict[str, dict[str, Any]] = {}
    origin: dict[str, str] = {}
    for run in runs:
        for registration in run.registrations:
            documents = registered_documents(registration)
            if not documents:
                continue
            # Every resource here has an explicit provider pinned to one account; a default provider would not.
            account = run.account_of(registration) if registration.provider else "default-provider"
            folder = account_names.get(account, account)
            for name, document in documents.items():
                key = f"{folder}/{name}"
                if key in files:
                    raise ValueError(f"{key}: written by both {origin[key]} and {registration.urn}")
                files[key], origin[key] = document, registration.urn
    return files


def document_text(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def write_policy_files(folder: Path, files: Mapping[str, Mapping[str, Any]]) -> None:
    """Replace ``folder`` with exactly these files: an earlier plan's documents (a removed account) go first."""
    shutil.rmtree(folder, ignore_errors=True)
    for name, document in sorted(files.items()):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(document_text(document))
