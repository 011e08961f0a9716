"""``team ...``: a team folder for the server (accounts, roles, projects and their members, backups).

These commands are for the person who runs the server: they act on the folder's files directly (whoever can read
the folder can read every project), so they ask for no password, except a new user's own. Changes to a project's
members name a lead of the team (``--as``) in the project's audit trail.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from ..errors import InvalidInput, NotFound
from ..team import accounts, projects
from ..team.backup import backup_team
from ..team.permissions import ROLES, User


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    team = sub.add_parser("team", help="team mode: accounts, roles, projects, backups (see docs/deploy/)")
    tsub = team.add_subparsers(dest="team_command", metavar="TEAM_COMMAND", required=True)

    p = tsub.add_parser("init", help="create a team folder: a projects folder and an accounts file (owner-only)")
    p.add_argument("team_dir")
    p.add_argument("--idle-minutes", type=float, default=accounts.DEFAULT_IDLE_MINUTES,
                   help="sign a browser out after this long without activity (default 30)")
    p.add_argument("--sign-in", choices=accounts.SIGN_IN_METHODS, default="password",
                   help="password: this folder's accounts; oidc: the organisation's identity provider through "
                        "Streamlit's st.login (roles still come from this folder; see docs/deploy/)")
    p.set_defaults(func=cmd_init)

    p = tsub.add_parser("add-user", help="add an account; the password is read from the terminal or a file")
    p.add_argument("team_dir")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--password-file", default=None, help="read the password from the first line of this file")
    p.add_argument("--no-password", action="store_true",
                   help="an account that signs in only through the identity provider (NAME: their e-mail address)")
    p.set_defaults(func=cmd_add_user)

    p = tsub.add_parser("set-password", help="give an account a new password")
    p.add_argument("team_dir")
    p.add_argument("name")
    p.add_argument("--password-file", default=None)
    p.set_defaults(func=cmd_set_password)

    p = tsub.add_parser("remove-user", help="remove an account (their audit events keep their name)")
    p.add_argument("team_dir")
    p.add_argument("name")
    p.set_defaults(func=cmd_remove_user)

    p = tsub.add_parser("list", help="the accounts and their roles, and each project's members")
    p.add_argument("team_dir")
    p.set_defaults(func=cmd_list)

    p = tsub.add_parser("settings", help="change the team's idle sign-out time")
    p.add_argument("team_dir")
    p.add_argument("--idle-minutes", type=float, required=True)
    p.set_defaults(func=cmd_settings)

    p = tsub.add_parser("create-project", help="create a project in the team folder with a lead as first member")
    p.add_argument("team_dir")
    p.add_argument("project")
    p.add_argument("--as", dest="lead", required=True, help="the lead who creates it")
    p.add_argument("--title", default=None)
    p.set_defaults(func=cmd_create_project)

    p = tsub.add_parser("add-member", help="add an account to a project (role at most their account's role)")
    p.add_argument("team_dir")
    p.add_argument("project")
    p.add_argument("name")
    p.add_argument("--role", choices=ROLES, default=None, help="default: the account's role")
    p.add_argument("--as", dest="lead", required=True, help="the lead who adds them (named in the audit trail)")
    p.set_defaults(func=cmd_add_member)

    p = tsub.add_parser("remove-member", help="remove an account from a project")
    p.add_argument("team_dir")
    p.add_argument("project")
    p.add_argument("name")
    p.add_argument("--as", dest="lead", required=True)
    p.set_defaults(func=cmd_remove_member)

    p = tsub.add_parser("backup", help="online backup of every project and the accounts (safe while serving)")
    p.add_argument("team_dir")
    p.add_argument("dest", help="a folder; each backup goes into a new DEST/<UTC time>/ folder")
    p.set_defaults(func=cmd_backup)


def read_password(path: str | None, name: str, *, confirm: bool = True) -> str:
    """The password from the first line of ``path`` (``-``: standard input), else typed twice at the terminal."""
    if path is not None:
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"cannot read the password file ({exc})", path=path) from exc
        lines = text.splitlines()
        if not lines or not lines[0]:
            raise InvalidInput("the password file is empty (the password is its first line)", path=path)
        return lines[0]
    if not sys.stdin.isatty():
        raise InvalidInput("no terminal to read a password from: use --password-file FILE")
    first = getpass.getpass(f"password for {name}: ")
    if confirm and getpass.getpass("again: ") != first:
        raise InvalidInput("the two passwords differ; nothing changed")
    return first


def _lead(team: accounts.Team, name: str) -> User:
    acc = team.account(name)
    if acc is None:
        raise NotFound(f"no user named {name!r} in {team.path}")
    return User(acc.name, acc.role)


def cmd_init(args: argparse.Namespace) -> int:
    team = accounts.init_team(args.team_dir, idle_minutes=args.idle_minutes, sign_in=args.sign_in)
    print(f"created team folder {team.path} (projects in {team.projects_dir}); add a lead with: "
          f"python -m thematic team add-user {team.path} NAME --role lead")
    return 0


def cmd_add_user(args: argparse.Namespace) -> int:
    team = accounts.Team(args.team_dir)
    User(args.name, args.role)  # a bad name is refused before asking for a password
    if team.account(args.name) is not None:
        raise InvalidInput(f"a user named {args.name!r} already exists (remove-user first to replace them)")
    if args.no_password and args.password_file:
        raise InvalidInput("give either --no-password or --password-file, not both")
    password = None if args.no_password else read_password(args.password_file, args.name)
    acc = team.add_user(args.name, args.role, password)
    print(f"added {acc.name} ({acc.role})")
    return 0


def cmd_set_password(args: argparse.Namespace) -> int:
    team = accounts.Team(args.team_dir)
    if team.account(args.name) is None:
        raise NotFound(f"no user named {args.name!r} in {team.path}")
    team.set_password(args.name, read_password(args.password_file, args.name))
    print(f"new password set for {args.name}")
    return 0


def cmd_remove_user(args: argparse.Namespace) -> int:
    acc = accounts.Team(args.team_dir).remove_user(args.name)
    print(f"removed {acc.name} ({acc.role}); they can no longer sign in")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    team = accounts.Team(args.team_dir)
    users = team.users()
    print(f"users ({len(users)}):")
    for u in users:
        print(f"  {u.name:<24} {u.role:<7} since {u.created}")
    print(f"sign-in: {team.sign_in}; idle sign-out after {team.idle_minutes:g} minutes")
    names = sorted((p.stem for p in team.projects_dir.glob(f"*{projects.SUFFIX}") if p.is_file()), key=str.casefold)
    print(f"projects ({len(names)}):")
    for name in names:
        try:
            ms = projects.members_in_file(projects.project_path(team, name))
        except InvalidInput as exc:
            print(f"  {name}: {exc}")
            continue
        listed = ", ".join(f"{m.name} ({m.role})" for m in ms) or "no members (leads only)"
        print(f"  {name}: {listed}")
    return 0


def cmd_settings(args: argparse.Namespace) -> int:
    team = accounts.Team(args.team_dir)
    team.set_idle_minutes(args.idle_minutes)
    print(f"idle sign-out after {team.idle_minutes:g} minutes (applies at each browser's next click)")
    return 0


def cmd_create_project(args: argparse.Namespace) -> int:
    team = accounts.Team(args.team_dir)
    path = projects.create_project(team, args.project, _lead(team, args.lead), title=args.title)
    print(f"created {path}")
    return 0


def cmd_add_member(args: argparse.Namespace) -> int:
    team = accounts.Team(args.team_dir)
    acc = team.account(args.name)
    if acc is None:
        raise NotFound(f"no user named {args.name!r} in {team.path} (add them first with team add-user)")
    role = args.role or acc.role
    with projects.open_project(team, args.project, _lead(team, args.lead)) as store:
        projects.add_member(store, team, args.name, role)
    print(f"{args.name} is a {role} in {args.project}")
    return 0


def cmd_remove_member(args: argparse.Namespace) -> int:
    team = accounts.Team(args.team_dir)
    with projects.open_project(team, args.project, _lead(team, args.lead)) as store:
        projects.remove_member(store, args.name)
    print(f"{args.name} is no longer a member of {args.project}")
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    team = accounts.Team(args.team_dir)
    result = backup_team(team, args.dest)
    print(f"backed up {len(result.projects)} project(s) and the accounts to {result.folder} ({result.bytes} bytes)")
    return 0
