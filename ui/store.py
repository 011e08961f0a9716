"""The open project for this browser session, and the data version cheap reads are cached under.

Which file is open, in order of precedence:

1. ``st.session_state["project_path"]`` (set by the Project page when the analyst opens or creates a file);
2. the ``THEMATIC_PROJECT`` environment variable;
3. ``streamlit run app.py -- --project P.db``;
4. ``projects/demo.db`` beside ``app.py``, created from the demo workbook on first run.

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

from thematic.errors import ThematicError
from thematic.store import Store
from ui import signin

APP_DIR = Path(__file__).resolve().parents[1]
DEMO_PATH = APP_DIR / "projects" / "demo.db"
PATH_KEY = "project_path"
VERSION_KEY = "_data_version"


def _argv_project() -> str | None:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--project", default=None)
    try:
        args, _ = parser.parse_known_args(sys.argv[1:])
    except SystemExit:  # a malformed command line must not stop the app
        return None
    return args.project


def default_path() -> Path:
    """The project the app opens when the analyst has not chosen one in this session."""
    env = os.environ.get("THEMATIC_PROJECT")
    if env:
        return Path(env).expanduser()
    arg = _argv_project()
    if arg:
        return Path(arg).expanduser()
    return DEMO_PATH


def project_path() -> Path:
    chosen = st.session_state.get(PATH_KEY)
    return Path(chosen) if chosen else default_path()


@st.cache_resource(show_spinner="Opening the project…", max_entries=8)
def _open(path: str) -> Store:
    p = Path(path)
    if p.resolve() == DEMO_PATH.resolve() and not p.exists():
        _create_demo(p)
    p.parent.mkdir(parents=True, exist_ok=True)
    return Store(p)


def _create_demo(path: Path) -> None:
    """Build ``projects/demo.db`` from the demo workbook (thematic.demo), if that module is installed."""
    try:
        from thematic import demo
    except ImportError:
        return  # an empty project; the Project page explains how to import forms
    path.parent.mkdir(parents=True, exist_ok=True)
    result = demo.create_demo_project(path)
    close = getattr(result, "close", None)
    if callable(close):
        close()


def try_store(where: Any = None) -> Store | None:
    """The store of this session's project, or None after showing why it cannot be opened."""
    path = project_path()
    try:
        if signin.team_dir() is not None:  # team mode: the project opened for the signed-in user (ui/signin.py)
            return signin.team_store(path)
        return _open(str(path.resolve()))
    except ThematicError as exc:
        (where or st).error(f"Cannot open the project {path}: {exc}. Open another one on the Project page.",
                            icon=":material/error:")
        return None


def get_store() -> Store:
    """The store of the project open in this session (opened once per file per server); a page stops with one
    error line if the file cannot be opened."""
    store = try_store()
    if store is None:
        st.stop()
    assert store is not None
    return store


def open_project(path: str | Path) -> Store:
    """Switch this session to another project file (created if it does not exist)."""
    p = Path(path).expanduser().resolve()
    if signin.team_dir() is not None:  # team mode: only the team's projects open to this user; none is created here
        p = signin.team_path(p)
    store = signin.team_store(p) if signin.team_dir() is not None else _open(str(p))
    st.session_state[PATH_KEY] = str(p)
    changed()
    return store


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
