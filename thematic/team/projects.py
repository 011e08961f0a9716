"""Team projects: create, open for a user, list what a user may open, and each project's members.

A project's members live in the project file itself (table ``project_members``, migration 17), so they travel with
it and every change to them is an audited, undoable ``project.members`` action. A user's role in a project is the
role the project gives them, never above their account's role. Team leads may open every project of the team (they
create them and add the members); anyone else only the projects that list them.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import dataclass
from pathlib import Path

from .. import projectfile
from ..errors import Conflict, InvalidInput, NotFound
from ..projects import SUFFIX, clean_name
from ..store import Store, now
from .accounts import Team
from .permissions import ROLES, PermissionDenied, User, cap, check
from .store import TeamStore


@dataclass(frozen=True)
class Member:
    name: str
    role: str
    added_at: str


def project_path(team: Team, name: str) -> Path:
    base = team.projects_dir.resolve()
    path = (base / (clean_name(name) + SUFFIX)).resolve()
    if path.parent != base:
        raise InvalidInput(f"{name!r} does not name a project inside {base}")
    return path


# Documented cache: per project file, a read-only connection of its own and the members last read through it.
# Every page view of every signed-in session asks which projects its user may open; reading each file for it was
# most of an idle session's cost. ``PRAGMA data_version`` on that connection moves whenever another connection
# commits (any process), so the members are read again only after a change, and never served stale. The file is
# never opened by Python itself: closing such a descriptor would drop SQLite's locks (thematic.projectfile).
_MEMBERS: dict[Path, _Watched] = {}
_MEMBERS_LOCK = threading.Lock()
_MEMBERS_MAX = 1000


@dataclass
class _Watched:
    inode: tuple[int, int]
    conn: sqlite3.Connection
    version: int = -1
    found: list[Member] | None = None


def members_in_file(path: Path) -> list[Member]:
    """The members recorded in a project file, read without writing to it (an old file has none)."""
    path = path.resolve()
    try:
        st = path.stat()
    except OSError as exc:
        with _MEMBERS_LOCK:
            gone = _MEMBERS.pop(path, None)
        if gone is not None:
            gone.conn.close()
        raise InvalidInput(f"not a readable project file ({exc.strerror or exc})", path=path) from exc
    inode = (st.st_dev, st.st_ino)
    with _MEMBERS_LOCK:
        w = _MEMBERS.get(path)
        if w is not None and w.inode != inode:  # replaced (a restore): watch the new file
            _MEMBERS.pop(path).conn.close()
            w = None
        try:
            if w is None:
                if len(_MEMBERS) >= _MEMBERS_MAX:
                    for old in _MEMBERS.values():
                        old.conn.close()
                    _MEMBERS.clear()
                w = _MEMBERS[path] = _Watched(inode, projectfile.connect(path, "mode=ro", check_same_thread=False))
            version = int(w.conn.execute("PRAGMA data_version").fetchone()[0])
            if w.found is None or version != w.version:
                w.found, w.version = _read_members(w.conn), version
            return list(w.found)
        except sqlite3.DatabaseError as exc:
            gone = _MEMBERS.pop(path, None)
            if gone is not None:
                gone.conn.close()
            raise InvalidInput(f"not a readable project file ({exc})", path=path) from exc


def _read_members(conn: sqlite3.Connection) -> list[Member]:
    has = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'project_members'").fetchone()
    if has is None:
        return []
    rows = conn.execute("SELECT name, role, added_at FROM project_members ORDER BY name").fetchall()
    return [Member(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def members(store: Store) -> list[Member]:
    """The members of an open project, by name."""
    rows = store.query("SELECT name, role, added_at FROM main.project_members ORDER BY name")
    return [Member(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def role_in(team: Team, name: str, user: User) -> str:
    """``user``'s role in project ``name`` (:class:`PermissionDenied` when they are not a member)."""
    path = project_path(team, name)
    if not path.is_file():
        raise NotFound(f"no project named {clean_name(name)!r} in the team")
    account = team.account(user.name)
    if account is None:
        raise PermissionDenied(f"{user.name} has no account in this team any more")
    ceiling = account.role
    for m in members_in_file(path):
        if m.name == user.name:
            return cap(m.role, ceiling)
    if ceiling == "lead":
        return "lead"
    raise PermissionDenied(f"{user.name} is not a member of project {clean_name(name)!r}: ask a lead to add them")


def visible_projects(team: Team, user: User) -> list[str]:
    """The names of the projects ``user`` may open, sorted case-insensitively (nothing else is shown to them)."""
    out: list[str] = []
    if not team.projects_dir.is_dir():
        return out
    for p in team.projects_dir.iterdir():
        if p.suffix != SUFFIX or not p.is_file() or p.is_symlink():
            continue
        try:
            role_in(team, p.stem, user)
        except (PermissionDenied, InvalidInput, NotFound):
            continue
        out.append(clean_name(p.stem))
    return sorted(out, key=str.casefold)


def open_project(team: Team, name: str, user: User) -> TeamStore:
    """Open project ``name`` for ``user`` in their role there."""
    role = role_in(team, name, user)
    return TeamStore(project_path(team, name), User(user.name, role))


def create_project(team: Team, name: str, lead: User, *, title: str | None = None) -> Path:
    """A new, empty project in the team folder with ``lead`` as its first member (only a lead may create one)."""
    check(lead, "project.create")
    path = project_path(team, name)
    if path.exists():
        raise Conflict(f"a project named {clean_name(name)!r} already exists; open it or choose another name")
    team.projects_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    Store(path).close()
    path.chmod(0o600)
    with TeamStore(path, lead) as store, store.action(
        "project.create", f"Create project '{clean_name(name)}'", details={"name": clean_name(name)},
        keep_if_unchanged=True,
    ) as act:
        act.execute("INSERT INTO project_members (name, role, added_at) VALUES (?, 'lead', ?)", (lead.name, now()))
        if title:
            act.execute("INSERT INTO project (key, value) VALUES ('title', ?)", (title,))
    return path


def _may_manage(store: Store) -> None:
    """A non-lead is refused before anything is looked up (TeamStore checks the action again when it starts)."""
    if isinstance(store, TeamStore):
        check(store.user, "project.members")


def _check_role(team: Team, name: str, role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
    account = team.account(name)
    if account is None:
        raise NotFound(f"no user named {name!r} in the team (add them first: python -m thematic team add-user)")
    if cap(role, account.role) != role:
        raise InvalidInput(f"{name} is a {account.role} in the team and cannot be a {role} in a project")


def _keep_a_lead(store: Store, name: str, new_role: str | None) -> None:
    """Refuse a change that would leave the project without a lead among its members."""
    leads = [m.name for m in members(store) if m.role == "lead"]
    if leads == [name] and new_role != "lead":
        raise InvalidInput(f"{name} is the project's only lead: make another member a lead first")


def add_member(store: Store, team: Team, name: str, role: str) -> Member:
    """Add ``name`` (an account of the team) to the project in ``role`` (at most their account's role); an existing
    member's role changes to ``role``."""
    _may_manage(store)
    _check_role(team, name, role)
    current = {m.name: m.role for m in members(store)}.get(name)
    if current is not None:
        return set_member_role(store, team, name, role)
    with store.action("project.members", f"Add {name} as {role}", details={"name": name, "role": role}) as act:
        act.execute("INSERT INTO project_members (name, role, added_at) VALUES (?, ?, ?)", (name, role, now()))
    return Member(name, role, now())


def set_member_role(store: Store, team: Team, name: str, role: str) -> Member:
    """Change a member's role in the project (a lead's change, audited and undoable like adding one)."""
    _may_manage(store)
    _check_role(team, name, role)
    found = {m.name: m for m in members(store)}.get(name)
    if found is None:
        raise NotFound(f"{name!r} is not a member of this project")
    if found.role == role:
        return found
    _keep_a_lead(store, name, role)
    with store.action(
        "project.members", f"Change {name}'s role from {found.role} to {role}",
        details={"name": name, "role": role, "was": found.role},
    ) as act:
        act.execute("UPDATE project_members SET role = ? WHERE name = ?", (role, name))
    return Member(name, role, found.added_at)


def remove_member(store: Store, name: str) -> None:
    """Take ``name`` off the project's members (their codings and memos stay, under their name)."""
    _may_manage(store)
    if name in {m.name for m in members(store)}:
        _keep_a_lead(store, name, None)
    with store.action("project.members", f"Remove {name}", details={"name": name, "removed": True}) as act:
        if act.execute("DELETE FROM project_members WHERE name = ?", (name,)).rowcount == 0:
            raise NotFound(f"{name!r} is not a member of this project")
