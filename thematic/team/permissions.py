"""Who may do what in a team project: roles, the signed-in user, and the permission table.

Every change to a project is one audited ``store.action(NAME, ...)``; the table below names, for each action
``NAME``, the roles allowed to run it. :class:`~thematic.team.store.TeamStore` checks it centrally before the
action starts, so a page or command that forgets to hide a button still cannot make the change. An action name that
is not in the table is refused for everyone (fail closed); ``tests/test_team_roles.py`` enumerates the action names
used in ``thematic/`` so that a new action without a rule fails the tests.

* **lead**: everything: create projects, import forms and codebooks, restructure the code tree, cluster,
  adjudicate, switch blind coding on and off (reveal), undo anyone's change, manage project members.
* **coder**: code (apply/remove codes, accept or reject suggestions), add codes while coding, write memos, undo
  their own changes. Row guards (:mod:`thematic.team.store`) also stop a coder writing another coder's codings,
  memos or suggestion decisions.
* **viewer**: read and export.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import ThematicError

ROLES = ("lead", "coder", "viewer")
RANK = {"viewer": 0, "coder": 1, "lead": 2}

LEAD = frozenset({"lead"})
CODER = frozenset({"lead", "coder"})
ANYONE = frozenset(ROLES)

#: action name (or ``prefix.*`` for names built at run time) -> roles allowed to run it.
PERMISSIONS: dict[str, frozenset[str]] = {
    # the project itself
    "project.create": LEAD,
    "project.setting": LEAD,  # title, blind mode on/off (revealing blind coding), consensus name
    "project.members": LEAD,
    "purge-history": LEAD,  # erasing undo data (thematic.purge.purge_history)
    # bringing data in
    "ingest": LEAD,
    "import.qdpx": LEAD,
    "codebook.import": LEAD,
    "codings.import": LEAD,
    "merge.project": LEAD,
    # the code tree: coders may add a code while coding; restructuring is the lead's
    "code.add": CODER,
    "code.ensure": CODER,
    "code.update": LEAD,
    "code.move": LEAD,
    "code.delete": LEAD,
    "code.merge": LEAD,
    "code.quotes": LEAD,
    "merge.code": LEAD,
    "merge.split": LEAD,
    "merge.mapping": LEAD,
    # clustering (candidate themes)
    "cluster.propose": LEAD,
    "cluster.merge": LEAD,
    "cluster.split": LEAD,
    "cluster.move": LEAD,
    "cluster.rename": LEAD,
    "cluster.reject": LEAD,
    "cluster.accept": LEAD,
    # coding
    "coder.add": CODER,
    "coding.apply": CODER,
    "coding.remove": CODER,
    "coding.recode": CODER,
    "coding.span": CODER,
    "coding.span_remove": CODER,
    "suggestion.accept": CODER,
    "suggestion.reject": CODER,
    "memo.add": CODER,
    "memo.update": CODER,
    "memo.delete": CODER,
    # agreement and adjudication
    "agreement.round": LEAD,
    "adjudication.decide": LEAD,
    "adjudication.revoke": LEAD,
    "adjudication.agreed": LEAD,
    # undo/redo: a coder only their own changes (TeamStore.undo narrows it), a lead project-wide
    "undo": CODER,
    "redo": CODER,
    # reading out
    "export.*": ANYONE,
    # families that are the lead's work whatever their next member is called (imports of other formats, new
    # clustering or adjudication steps): a new name here is allowed to a lead and refused to others
    "import.*": LEAD,
    "cluster.*": LEAD,
    "merge.*": LEAD,
    "adjudication.*": LEAD,
    "agreement.*": LEAD,
    "project.*": LEAD,
}

_NAME_OK = re.compile(r"[^\x00-\x1f\x7f/\\]{1,64}")


class PermissionDenied(ThematicError):
    """The signed-in user's role does not allow the change (one line: who, what, why)."""


@dataclass(frozen=True)
class User:
    """A signed-in person: the name goes into every audit event; the role decides what they may change."""

    name: str
    role: str

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ThematicError(f"unknown role {self.role!r}: use one of {', '.join(ROLES)}")
        if not _NAME_OK.fullmatch(self.name) or self.name != self.name.strip():
            raise ThematicError(f"{self.name!r} is not a usable name (1-64 characters, no slashes or control characters)")

    @property
    def is_lead(self) -> bool:
        return self.role == "lead"


def rule(action: str) -> frozenset[str] | None:
    """The roles allowed to run ``action`` (exact name first, then its ``prefix.*`` rule), or None if unknown."""
    if action in PERMISSIONS:
        return PERMISSIONS[action]
    head, _, _ = action.rpartition(".")
    while head:
        wild = PERMISSIONS.get(head + ".*")
        if wild is not None:
            return wild
        head, _, _ = head.rpartition(".")
    return None


def allowed(role: str, action: str) -> bool:
    roles = rule(action)
    return roles is not None and role in roles


def check(user: User, action: str, details: Mapping[str, Any] | None = None) -> None:
    """Raise :class:`PermissionDenied` unless ``user`` may run ``action``."""
    roles = rule(action)
    if roles is None:
        raise PermissionDenied(f"{user.name} ({user.role}): '{action}' has no permission rule, so it is refused")
    if user.role not in roles:
        who = " or ".join(r for r in ROLES if r in roles)
        raise PermissionDenied(f"{user.name} is a {user.role}: only a {who} may do '{action}'")


def cap(role: str, ceiling: str) -> str:
    """The lower of two roles (a project role never exceeds the account's role)."""
    return role if RANK[role] <= RANK[ceiling] else ceiling
