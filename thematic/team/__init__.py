"""Team mode: several analysts on one server, each signed in, with roles and blind coding enforced.

* :mod:`.accounts`: the team folder, accounts (argon2id hashes) and settings;
* :mod:`.permissions`: roles, :class:`User` and the permission table checked for every action;
* :mod:`.store`: :class:`TeamStore`, a project opened for a signed-in user;
* :mod:`.projects`: team projects and their members;
* :mod:`.sessions`: sign-in throttling and idle expiry;
* :mod:`.backup`: online backup of every project.

This package never imports streamlit; ``ui/signin.py`` is the app's side.
"""

from __future__ import annotations

from .accounts import Account, Team, init_team
from .permissions import PERMISSIONS, ROLES, PermissionDenied, User, check
from .projects import (
    Member,
    add_member,
    create_project,
    members,
    open_project,
    remove_member,
    set_member_role,
    visible_projects,
)
from .store import TeamStore

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "Account",
    "Member",
    "PermissionDenied",
    "Team",
    "TeamStore",
    "User",
    "add_member",
    "check",
    "create_project",
    "init_team",
    "members",
    "open_project",
    "remove_member",
    "set_member_role",
    "visible_projects",
]
