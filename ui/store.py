"""The open project for this browser tab, and the data version cheap reads are cached under.

Projects live in one folder (:mod:`thematic.projects`) and are named, never addressed by a path typed into the page:

* the folder is ``--projects DIR`` (``streamlit run app.py -- --projects DIR``), else ``THEMATIC_PROJECTS``, else
  the folder of ``--project``/``THEMATIC_PROJECT`` when that is a path, else ``projects/`` beside ``app.py``;
* the open project is the ``?project=NAME`` query parameter of the page address, so a reload, a bookmark or a
  second tab on another project all keep their project; a page whose address has no ``project`` gets the one
  this tab had open (kept in session state), else the server's default (``--project``/``THEMATIC_PROJECT``, a
  name or a path, else ``demo``) and the address is completed with it.

A name in the address that is not a project is shown as one error line; it is never replaced by another project
(work must not silently land in the wrong file) and never created. Only the server's default project is created
when missing (``demo`` from the demo workbook, any other empty).

The :class:`~thematic.store.Store` is cached with ``st.cache_resource`` keyed by its path (it is thread-safe: one
RLock, ``check_same_thread=False``), so every session and every rerun share one connection per file.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

import streamlit as st

from thematic import projects
from thematic.errors import ThematicError
from thematic.store import Store
from thematic.team import Team
from thematic.team import create_project as create_team_project
from ui import signin

APP_DIR = Path(__file__).resolve().parents[1]
DEMO_NAME = "demo"
NAME_KEY = "project_name"
PARAM = "project"
VERSION_KEY = "_data_version"


def _argv() -> argparse.Namespace:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--project", default=None)
    parser.add_argument("--projects", default=None)
    try:
        args, _ = parser.parse_known_args(sys.argv[1:])
    except SystemExit:  # a malformed command line must not stop the app
        return argparse.Namespace(project=None, projects=None)
    return args


def _default_arg() -> str | None:
    return os.environ.get("THEMATIC_PROJECT") or _argv().project or None


def _is_path(value: str) -> bool:
    return "/" in value or "\\" in value or os.sep in value


def projects_dir() -> Path:
    """The one folder the app opens and creates projects in."""
    team = signin.team_dir()
    if team is not None:  # team mode: the team folder's projects, nothing else
        return Team(team).projects_dir.resolve()
    chosen = _argv().projects or os.environ.get("THEMATIC_PROJECTS")
    if chosen:
        return Path(chosen).expanduser().resolve()
    default = _default_arg()
    if default and _is_path(default):
        return Path(default).expanduser().resolve().parent
    return (APP_DIR / projects.DEFAULT_FOLDER).resolve()


def default_name() -> str:
    """The project a tab opens when its address names none: the server's choice, else ``demo``."""
    default = _default_arg()
    if not default:
        return DEMO_NAME
    return Path(default).name.removesuffix(projects.SUFFIX) if _is_path(default) else default.removesuffix(
        projects.SUFFIX)


def project_name() -> str:
    """This tab's project: the address's ``?project=``, else the one this session had, else the default.
    The address always ends up naming it (so a reload keeps it)."""
    raw = st.query_params.get(PARAM)
    name = str(raw) if raw else str(st.session_state.get(NAME_KEY) or default_name())
    st.session_state[NAME_KEY] = name
    if raw != name:
        st.query_params[PARAM] = name
    return name


def project_path() -> Path | None:
    """The file of this tab's project, or None when its name is not a valid project name."""
    try:
        return projects.resolve(projects_dir(), project_name())
    except ThematicError:
        return None


@st.cache_resource(show_spinner="Opening the project…", max_entries=8)
def _open(path: str) -> Store:
    p = Path(path)
    if not p.is_file():
        raise ThematicError(f"there is no project named '{p.stem}' in the projects folder")
    return Store(p)


@st.cache_resource(show_spinner="Creating the project…", max_entries=4)
def _create_default(path: str) -> bool:
    """Create the server's default project once (``demo`` from the demo workbook, any other empty)."""
    p = Path(path)
    if p.exists():
        return False
    p.parent.mkdir(parents=True, exist_ok=True)
    if p.stem == DEMO_NAME:
        from thematic import demo

        result = demo.create_demo_project(p)
        close = getattr(result, "close", None)
        if callable(close):
            close()
    else:
        Store(p).close()
    return True


def _store_for(name: str) -> Store:
    path = projects.resolve(projects_dir(), name)
    if signin.team_dir() is not None:  # team mode: the project opened for the signed-in user (ui/signin.py)
        return signin.team_store(path)
    # Only the server's default project is created when missing; a name from an address must exist.
    if not path.exists() and projects.clean_name(name) == default_name():
        _create_default(str(path))
    return _open(str(path))


def try_store(where: Any = None) -> Store | None:
    """The store of this tab's project, or None after showing why it cannot be opened."""
    name = project_name()
    try:
        return _store_for(name)
    except ThematicError as exc:
        (where or st).error(f"Cannot open the project '{name}': {exc}. Open another one on the Project page.",
                            icon=":material/error:")
        return None


def get_store() -> Store:
    """The store of the project open in this tab (opened once per file per server); a page stops with one
    error line if the file cannot be opened."""
    store = try_store()
    if store is None:
        st.stop()
    assert store is not None
    return store


# Session state that is not about one project and survives a switch to another one.
KEEP_ON_SWITCH = frozenset({"coder", NAME_KEY, VERSION_KEY, "project_flash"})


def open_project(name: str) -> Store:
    """Switch this tab to the existing project ``name`` in the projects folder (the address follows). Every
    widget's state of the previous project is dropped (a title, a chosen code id, filters would otherwise be
    shown, or saved, into the new project)."""
    clean = projects.clean_name(name)
    path = projects.resolve(projects_dir(), clean)
    if signin.team_dir() is not None:  # team mode: only the team's projects open to this user; none is created here
        store: Store = signin.team_store(signin.team_path(path))
    else:
        store = _open(str(path))
    if clean != st.session_state.get(NAME_KEY):
        for k in list(st.session_state.keys()):
            if k not in KEEP_ON_SWITCH:
                del st.session_state[k]
    st.session_state[NAME_KEY] = clean
    st.query_params[PARAM] = clean
    changed()
    return store


def create_project(name: str) -> Store:
    """Create the empty project ``name`` in the projects folder and switch this tab to it (in team mode only a
    lead may, and becomes its first member)."""
    team, user = signin.team_dir(), signin.current_user()
    if team is not None:
        if user is None:
            raise ThematicError("not signed in")
        create_team_project(Team(team), name, user)
    else:
        projects.create(projects_dir(), name, actor=actor())
    return open_project(name)


def changed() -> None:
    """Call after a write so that this session's cached reads are recomputed."""
    st.session_state[VERSION_KEY] = int(st.session_state.get(VERSION_KEY, 0)) + 1


def version(store: Store | None = None) -> tuple[str, int, int]:
    """A cache key for reads: the file, the newest audit event (moves with every write from any session or the
    CLI, including undo) and this session's change counter."""
    s = store or get_store()
    head = s.audit_log(limit=1)
    # signin.cache_scope: in team mode the reader is part of the key (blind coding filters what each user reads).
    return (signin.cache_scope(s), head[0].id if head else 0, int(st.session_state.get(VERSION_KEY, 0)))


def actor() -> str | None:
    """Who the audit trail names for this session's changes: the chosen coder, if any."""
    name = st.session_state.get("coder")
    return str(name) if name else None


def optional(module: str) -> Any | None:
    """Import a library module that another engineer may not have delivered yet; None when absent."""
    import importlib

    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name and (exc.name == module or module.startswith(exc.name + ".")):
            return None
        raise
