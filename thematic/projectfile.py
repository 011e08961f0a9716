"""Recognising a thematic project file before anything is written to it: another program's SQLite file, a damaged
(truncated) one and a busy one are each refused in one line (:func:`check_project_file`).

**No raw reads of a file SQLite holds.** POSIX advisory locks belong to the process: closing *any* descriptor of a
file drops every lock the process holds on it, SQLite's included (https://www.sqlite.org/howtocorrupt.html, 2.2).
A server that read a project's header with ``open()`` while its sessions had connections to the file lost their
locks; another process (the CLI, a second server) could then checkpoint under a reader ("database disk image is
malformed", found by ``bench/team_bench.py --driver browser``) or delete the write-ahead log of a writer. So every
connection this process keeps to a project registers the file (:func:`hold`, by device and inode), and the raw
reads (:func:`read_head`) skip a file that is held, under the same lock as the registering.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from . import schema
from .errors import NotAProject, ProjectDamaged, ThematicError, from_sqlite

DEFAULT_BUSY_TIMEOUT = 60.0  # seconds a write waits for another process's write lock
_SQLITE_READONLY_ROLLBACK = 776  # a hot journal that a read-only connection may not roll back
_THEMATIC_TABLES = frozenset({"migrations", "audit", "undo_log", "undo_state", "project"})


def busy_timeout(given: float | None) -> float:
    """Seconds a write waits for another process's lock: ``given``, else ``THEMATIC_BUSY_TIMEOUT``, else 60."""
    if given is not None:
        return max(0.0, float(given))
    env = os.environ.get("THEMATIC_BUSY_TIMEOUT", "")
    try:
        return max(0.0, float(env)) if env else DEFAULT_BUSY_TIMEOUT
    except ValueError:
        return DEFAULT_BUSY_TIMEOUT


# Documented cache: the files (device, inode) this process keeps SQLite connections to, with how many.
_HELD: dict[tuple[int, int], int] = {}
_HELD_LOCK = threading.Lock()


def _inode(path: Path) -> tuple[int, int] | None:
    try:
        st = os.stat(path)  # a stat opens no descriptor
    except OSError:
        return None
    return st.st_dev, st.st_ino


def hold(path: str | Path, *, create: bool = False) -> Callable[[], None]:
    """Register that this process is about to keep an SQLite connection to ``path`` (call it before connecting;
    with ``create`` a missing file is created empty first, as SQLite would). Returns the release, to call after
    closing the connection."""
    p = Path(path)
    with _HELD_LOCK:
        if create and not p.exists():
            p.touch()  # no connection to it yet: creating it here drops no lock
        key = _inode(p)
        if key is None:
            return lambda: None
        _HELD[key] = _HELD.get(key, 0) + 1

    released = False

    def release() -> None:
        nonlocal released
        with _HELD_LOCK:
            if released:
                return
            released = True
            left = _HELD.get(key, 0) - 1
            if left > 0:
                _HELD[key] = left
            else:
                _HELD.pop(key, None)

    return release


def held(path: str | Path) -> bool:
    """Whether this process keeps an SQLite connection to ``path``."""
    key = _inode(Path(path))
    with _HELD_LOCK:
        return key is not None and key in _HELD


def read_head(path: str | Path, n: int = 100) -> bytes | None:
    """The first ``n`` bytes of ``path``, or None when this process holds the file (it was checked when it was
    opened, and reading it now would drop SQLite's locks). OSError as ``open`` raises it."""
    p = Path(path)
    with _HELD_LOCK:
        key = _inode(p)
        if key is not None and key in _HELD:
            return None
        with p.open("rb") as fh:
            return fh.read(n)


class _HeldConnection(sqlite3.Connection):
    """A connection whose close also releases its :func:`hold` on the file."""

    _release: Callable[[], None] = staticmethod(lambda: None)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._release()


def connect(path: str | Path, query: str = "", *, timeout: float = 5.0, check_same_thread: bool = True
            ) -> sqlite3.Connection:
    """An SQLite connection to the file ``path`` (URI query ``query``, e.g. ``"mode=ro"``) that holds the file
    (:func:`hold`) until it is closed."""
    p = Path(path)
    target = "file:" + urllib.parse.quote(str(p.resolve())) + (f"?{query}" if query else "")
    release = hold(p)
    try:
        conn = sqlite3.connect(target, uri=True, factory=_HeldConnection, timeout=timeout,
                               check_same_thread=check_same_thread)
    except BaseException:
        release()
        raise
    conn._release = release  # type: ignore[attr-defined]
    return conn


def check_project_file(path: Path, *, timeout: float = DEFAULT_BUSY_TIMEOUT, create: bool = False) -> None:
    """Refuse a file that is not a thematic project, or is damaged, reading it only (nothing is written).

    A project is an SQLite file whose ``PRAGMA application_id`` is :data:`schema.APPLICATION_ID` (set by
    migration 10) or, for files made by thematic before that migration, one holding thematic's own
    bookkeeping tables (``migrations``, ``audit``, ``undo_log`` ...). An SQLite file with no tables at all is
    accepted only when ``create`` (it becomes a new project). A file shorter than its header says is damaged."""
    head = read_head(path)
    # A file this process holds open was checked when it was first opened: it is read through a read-only
    # connection (which writes nothing), the header left alone.
    wal_mode = _check_header(path, head) if head is not None else False
    app_id, tables = _marker(path, timeout, wal_mode)
    if recognised(app_id, tables):
        return
    if app_id == 0 and not tables and create:
        return
    if app_id:
        what = f"an SQLite database of another program, application id {app_id:#x}"
    elif tables:
        more = " ..." if len(tables) > 4 else ""
        what = f"an SQLite database of another program, with tables {', '.join(sorted(tables)[:4])}{more}"
    else:
        what = "an empty SQLite database"
    raise NotAProject(f"{path} is not a thematic project ({what}); nothing was changed")


def recognised(app_id: int, tables: set[str] | frozenset[str]) -> bool:
    """The one rule for what a project is: thematic's application id, or (a project made before migration 10
    set it) no application id and thematic's own bookkeeping tables."""
    return app_id == schema.APPLICATION_ID or (app_id == 0 and tables >= _THEMATIC_TABLES)


def _check_header(path: Path, header: bytes) -> bool:
    """The SQLite file header (its first 100 bytes): the magic string, and a file at least as long as the header
    says. Returns whether the file is in WAL mode."""
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        raise NotAProject(f"{path} is not a thematic project (not an SQLite file)")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    counter_valid = header[24:28] == header[92:96]  # else the page count in the header is not to be trusted
    size = path.stat().st_size
    wal_mode = header[18] == 2
    wal = Path(str(path) + "-wal")
    if wal.exists() and wal.stat().st_size > 0:
        return wal_mode  # pages may still be in the WAL (a checkpoint cut short): SQLite recovers them
    if counter_valid and size < pages * page_size:
        raise ProjectDamaged(
            f"{path} is damaged: the file is {size:,} bytes but its header says {pages * page_size:,} (truncated?)"
        )
    return wal_mode


def _marker(path: Path, timeout: float, wal_mode: bool) -> tuple[int, set[str]]:
    """The file's application id and table names, read without writing to the file.

    A rollback-journal file is opened read-only (so that not even a hot journal is rolled back into it). A WAL
    file is opened by an ordinary connection that only reads: a read-only one would leave the -wal and -shm side
    files behind when it closes, while this one removes them, as the last connection does."""
    try:
        conn = connect(path, "" if wal_mode else "mode=ro", timeout=timeout)
    except sqlite3.Error as exc:
        raise from_sqlite(exc, path) or ThematicError(f"cannot open {path}: {exc}") from exc
    try:
        app_id = int(conn.execute("PRAGMA application_id").fetchone()[0])
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    except sqlite3.Error as exc:
        if getattr(exc, "sqlite_errorcode", None) == _SQLITE_READONLY_ROLLBACK:  # projects are never in this mode
            raise NotAProject(
                f"{path} is not a thematic project (an SQLite database another program left in the middle of a "
                "write, with a -journal file beside it); nothing was changed"
            ) from exc
        raise from_sqlite(exc, path) or ThematicError(f"cannot read {path}: {exc}") from exc
    finally:
        conn.close()
    return app_id, tables
