"""Classes of accounts that no document tells apart, so that one representative decides for all of them.

Two application accounts are in one class when swapping their ids changes no document the program registered:
their doers' documents are the same once each account's own id is written as <SELF>, no document names either id,
and no wildcard in an account position (``arn:aws:iam::2*:role/...``) matches one and not the other. Then every
verdict about one is the verdict about the other (the evaluator sees the same documents and the same request with
the ids swapped), so the plan evaluates a few representatives per class and applies the result to the class.
tests/test_classes.py checks this against the all-pairs evaluation cell for cell.

Three representatives per class are enough for the escalation analysis too: any step of a path relates at most
two accounts, and the source's own account plus two others of each class witness every kind of step.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from plan.evaluator import Document
from plan.model import IamModel, RoleModel
from plan.world import Account

REPRESENTATIVES = 3
_ACCOUNT_FIELD = re.compile(r"^arn:aws:[a-z0-9-]*:[a-z0-9-]*:([0-9*?]+):")
_ACCOUNT_VALUE = re.compile(r"^[0-9*?]{1,12}$")
_ACCOUNT_ID = re.compile(r"(?<![0-9])[0-9]{12}(?![0-9])")


@dataclass(frozen=True)
class AccountClass:
    key: str
    members: tuple[Account, ...]

    @property
    def representatives(self) -> tuple[Account, ...]:
        return self.members[:REPRESENTATIVES]


def _strings(value: object) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def _account_patterns(documents: list[Document]) -> set[str]:
    """Account positions written with wildcards that single out some accounts (a bare '*' singles out none)."""
    patterns: set[str] = set()
    for document in documents:
        for text in _strings(document):
            match = _ACCOUNT_FIELD.match(text)
            field = match.group(1) if match else text if _ACCOUNT_VALUE.match(text) else None
            if field and any(c in field for c in "*?") and field.strip("*") != "":
                patterns.add(field)
    return patterns


def _matches(pattern: str, account_id: str) -> bool:
    return re.fullmatch(pattern.replace("*", ".*").replace("?", "."), account_id) is not None


def _own_documents(role: RoleModel) -> str:
    return json.dumps(
        {
            "name": role.name,
            "arn": role.arn,
            "trust": role.trust,
            "inline": role.inline,
            "managed": sorted(role.managed_arns),
            "boundary": role.boundary_arn,
        },
        sort_keys=True,
    )


def account_classes(accounts: list[Account], model: IamModel) -> list[AccountClass]:
    """The accounts split into classes derived from the documents; only application accounts ever share a class."""
    roles_by_account: dict[str, list[RoleModel]] = {}
    for role in model.roles.values():
        roles_by_account.setdefault(role.account, []).append(role)
    resource_documents = [d for d in (model.bucket_policy, model.table_policy, model.key_policy, *model.scps) if d]
    # Which account ids each document names, outside the documents of that account's own roles.
    named: Counter[str] = Counter()
    for role in model.roles.values():
        for document in (role.trust, *role.inline.values()):
            named.update(set(_ACCOUNT_ID.findall(json.dumps(document))) - {role.account})
    for document in resource_documents:
        named.update(set(_ACCOUNT_ID.findall(json.dumps(document))))
    documents: list[Document] = [d for r in model.roles.values() for d in (r.trust, *r.inline.values())]
    patterns = _account_patterns([*documents, *resource_documents])

    signatures: dict[str, list[Account]] = {}
    for account in accounts:
        own = "".join(sorted(_own_documents(r) for r in roles_by_account.get(account.id, [])))
        if account.kind != "application" or named[account.id]:
            key = f"{account.kind}:{account.name}"
        else:
            singled_out = sorted(p for p in patterns if _matches(p, account.id))
            key = "application:" + json.dumps([own.replace(account.id, "<SELF>"), singled_out])
        signatures.setdefault(key, []).append(account)
    classes: list[AccountClass] = []
    for i, (signature, members) in enumerate(signatures.items()):
        label = members[0].name if len(members) == 1 else f"application-{i}"
        del signature
        classes.append(AccountClass(label, tuple(members)))
    return classes


def representative_accounts(classes: list[AccountClass]) -> list[Account]:
    return [account for cls in classes for account in cls.representatives]


@dataclass(frozen=True)
class ClassMap:
    """Which representative stands for an account, given the account it is seen from."""

    class_of: dict[str, AccountClass]

    @staticmethod
    def of(classes: list[AccountClass]) -> ClassMap:
        return ClassMap({account.id: cls for cls in classes for account in cls.members})

    def representative(self, account: str, seen_from: str | None) -> str:
        """The representative of ``account``: itself if it is one; else keeping equality with ``seen_from``.

        Within a class, the account seen from maps to the first representative and any other member to the second,
        so the pair (same account / two accounts of a class) is what the representatives answer for.
        """
        cls = self.class_of.get(account)
        if cls is None or len(cls.members) <= REPRESENTATIVES:
            return account
        reps = [a.id for a in cls.representatives]
        if seen_from is None or self.class_of.get(seen_from) is not cls:
            return reps[0]
        if account == seen_from:
            return reps[0]
        return reps[1]

    def pair(self, first: str, second: str) -> tuple[str, str]:
        """Representatives of two accounts that keep whether they are one account, or two of one class."""
        cls = self.class_of.get(first)
        rep_first = first if cls is None or len(cls.members) <= REPRESENTATIVES else cls.representatives[0].id
        return rep_first, self.representative(second, first)
