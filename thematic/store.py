"""The project store: one SQLite file per project (or ``":memory:"`` for tests).

What it guarantees:

* WAL journal, foreign keys on, a busy timeout so that two processes can code the same file.
* Opening never writes to a file that is not a project: a project carries its own ``PRAGMA application_id``
  (migration 10; earlier ones are known by their bookkeeping tables), and another program's SQLite file, a
  truncated file or an unreadable one is refused first (:func:`check_project_file`).
* The schema is versioned by recorded migrations (:mod:`thematic.schema`); an existing file is copied to
  ``<name>.bak-v<old>`` before it is migrated.
* Every change happens inside :meth:`Store.action`: one ``BEGIN IMMEDIATE`` transaction that also writes one
  audit event. Either all of it is committed before the call returns, or none of it is.
* :meth:`Store.undo` reverts the last event exactly (rows, ids and all); :meth:`Store.redo` reapplies it.

Domain modules (``corpus``, ``codebook``, ``coding`` ...) take a ``Store`` as their first argument; there is no
global store.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from . import schema
from .errors import (
    NotAProject,
    NotFound,
    NothingToUndo,
    ProjectDamaged,
    SchemaTooNew,
    ThematicError,
    from_sqlite,
)

DEFAULT_ACTOR = "analyst"


def now() -> str:
    """Timestamps are ISO 8601 in UTC with microseconds, so that they sort."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class AuditEvent:
    id: int
    ts: str
    actor: str
    action: str
    summary: str
    details: dict[str, Any]
    undo_of: int | None
    undone_by: int | None

    @property
    def undone(self) -> bool:
        return self.undone_by is not None


class Action:
    """The handle given inside :meth:`Store.action`: run SQL and add details to the audit event."""

    def __init__(self, store: Store, event_id: int) -> None:
        self.store = store
        self.event_id = event_id
        self.details: dict[str, Any] = {}

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> sqlite3.Cursor:
        return self.store.conn.execute(sql, params)

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        return self.store.conn.executemany(sql, rows)

    def insert(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> int:
        cur = self.store.conn.execute(sql, params)
        assert cur.lastrowid is not None
        return int(cur.lastrowid)


class Store:
    """A project. ``Store(path)`` opens (and creates) a file; ``Store(":memory:")`` is for tests."""

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        create: bool = True,
        migrate: bool = True,
        busy_timeout: float | None = None,
    ) -> None:
        """Open (or, with ``create``, create) a project file.

        An existing file is checked before anything is written to it: a file that is not a thematic project
        (another program's SQLite database) is a :class:`NotAProject`, a truncated or corrupt one a
        :class:`ProjectDamaged`. ``busy_timeout`` is how long a write waits for another process's write lock
        (seconds; default ``THEMATIC_BUSY_TIMEOUT`` from the environment, else 60) before SQLite gives up."""
        self.path = str(path)
        self.in_memory = self.path == ":memory:"
        timeout = _busy_timeout(busy_timeout)
        if not self.in_memory:
            p = Path(self.path)
            if not create and not p.exists():
                raise NotFound(f"no project at {self.path} (create one with: python -m thematic init {self.path})")
            if p.exists() and p.is_dir():
                raise ThematicError(f"{self.path} is a folder, not a project file")
            if p.exists() and not p.is_file():
                raise NotAProject(f"{self.path} is not a regular file (a device, pipe or socket), not a project")
            if p.exists() and p.stat().st_size > 0:
                check_project_file(p, timeout=timeout, create=create)
        self._lock = threading.RLock()
        self._depth = 0
        self._action: Action | None = None
        self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=timeout)
        try:
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            if not self.in_memory:
                self.conn.execute("PRAGMA journal_mode = WAL")
                self.conn.execute("PRAGMA synchronous = NORMAL")
            if migrate:
                self.migrate()
        except BaseException as exc:
            self.conn.close()
            mapped = from_sqlite(exc, self.path)
            if mapped is not None:
                raise mapped from exc
            raise

    # ------------------------------------------------------------------ lifecycle

    @classmethod
    def open(cls, path: str | Path) -> Store:
        """Open an existing project; a missing file is a :class:`NotFound`, never a new empty project."""
        return cls(path, create=False)

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self) -> list[int]:
        """Apply the recorded migrations this file lacks, in order; return their versions.

        A migration counts as applied when the ``migrations`` table records it (not merely when the file's
        version is higher), so that a migration added between two others is still applied."""
        with self._lock:
            current = self.version
            latest = schema.latest_version()
            if current > latest:
                raise SchemaTooNew(
                    f"{self.path} uses schema version {current}; this thematic knows up to {latest}: upgrade thematic"
                )
            todo = [m for m in schema.MIGRATIONS if m.version not in self._applied()]
            if not todo:
                return []
            if current > 0 and not self.in_memory:
                self.backup(f"{self.path}.bak-v{current}")
            done = []
            for m in todo:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    if m.version in self._applied():  # another process got there first
                        self.conn.execute("ROLLBACK")
                        continue
                    m.fn(self.conn)
                    self.conn.execute(
                        "CREATE TABLE IF NOT EXISTS migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)"
                    )
                    self.conn.execute("INSERT INTO migrations VALUES (?, ?, ?)", (m.version, m.name, now()))
                    schema.install_undo_triggers(self.conn)
                    self.conn.execute(f"PRAGMA user_version = {max(int(m.version), self.version)}")
                    self.conn.execute("COMMIT")
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
                done.append(m.version)
            return done

    def _applied(self) -> set[int]:
        exists = self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'migrations'").fetchone()
        if exists is None:
            return set()
        return {int(r[0]) for r in self.conn.execute("SELECT version FROM migrations")}

    def backup(self, target: str | Path) -> Path:
        """A consistent copy of the project (SQLite's online backup), safe while others write."""
        target = Path(target)
        tmp = target.with_name(target.name + ".tmp")
        dest = sqlite3.connect(str(tmp))
        try:
            with self._lock:
                self.conn.backup(dest)
        finally:
            dest.close()
        shutil.move(str(tmp), str(target))
        return target

    # ------------------------------------------------------------------ reading

    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self.conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> sqlite3.Row | None:
        with self._lock:
            return self.conn.execute(sql, params).fetchone()

    def scalar(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Any:
        row = self.query_one(sql, params)
        return None if row is None else row[0]

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several reads in a row."""
        with self._lock:
            if self._depth:
                yield self.conn
                return
            self.conn.execute("BEGIN")
            try:
                yield self.conn
            finally:
                self.conn.execute("COMMIT")

    # ------------------------------------------------------------------ writing

    @contextmanager
    def action(
        self,
        action: str,
        summary: str,
        *,
        actor: str | None = None,
        details: Mapping[str, Any] | None = None,
        keep_if_unchanged: bool = False,
    ) -> Iterator[Action]:
        """One audited, undoable change. Nested calls join the outer action (one event, one transaction).

        An action that changed no tracked row leaves no audit event unless ``keep_if_unchanged``."""
        with self._lock:
            if self._action is not None:
                self._depth += 1
                try:
                    yield self._action
                finally:
                    self._depth -= 1
                return
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                cur = self.conn.execute(
                    "INSERT INTO audit (ts, actor, action, summary, details) VALUES (?, ?, ?, ?, ?)",
                    (now(), actor or DEFAULT_ACTOR, action, summary, json.dumps(dict(details or {}))),
                )
                event_id = int(cur.lastrowid or 0)
                self.conn.execute("UPDATE undo_state SET event_id = ? WHERE id = 1", (event_id,))
                handle = Action(self, event_id)
                self._action = handle
                self._depth = 1
                yield handle
                changed = self.conn.execute("SELECT 1 FROM undo_log WHERE event_id = ? LIMIT 1", (event_id,)).fetchone()
                if changed is None and not keep_if_unchanged:
                    # Nothing tracked changed (an import of what was already there, a no-op edit): no event.
                    self.conn.execute("DELETE FROM audit WHERE id = ?", (event_id,))
                elif handle.details:
                    merged = dict(details or {})
                    merged.update(handle.details)
                    self.conn.execute("UPDATE audit SET details = ? WHERE id = ?", (json.dumps(merged), event_id))
                self.conn.execute("UPDATE undo_state SET event_id = NULL WHERE id = 1")
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            finally:
                self._action = None
                self._depth = 0

    # ------------------------------------------------------------------ audit, undo, redo

    def audit_log(self, limit: int = 100, offset: int = 0) -> list[AuditEvent]:
        rows = self.query("SELECT * FROM audit ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset))
        return [_event(r) for r in rows]

    def event(self, event_id: int) -> AuditEvent:
        row = self.query_one("SELECT * FROM audit WHERE id = ?", (event_id,))
        if row is None:
            raise NotFound(f"no audit event {event_id}")
        return _event(row)

    def undoable(self) -> AuditEvent | None:
        """The event :meth:`undo` would revert: the newest change (or redo) that is still in effect."""
        row = self.query_one(
            "SELECT * FROM audit WHERE undone_by IS NULL AND action != 'undo' "
            "AND EXISTS (SELECT 1 FROM undo_log WHERE event_id = audit.id) ORDER BY id DESC LIMIT 1"
        )
        return None if row is None else _event(row)

    def redoable(self) -> AuditEvent | None:
        """The undo event :meth:`redo` would revert: the newest undo still in effect with no new change after it."""
        row = self.query_one(
            "SELECT * FROM audit WHERE action = 'undo' AND undone_by IS NULL "
            "AND id > coalesce((SELECT max(id) FROM audit WHERE action NOT IN ('undo', 'redo') "
            "AND EXISTS (SELECT 1 FROM undo_log WHERE event_id = audit.id)), 0) ORDER BY id DESC LIMIT 1"
        )
        return None if row is None else _event(row)

    def undo(self, *, actor: str | None = None) -> AuditEvent:
        """Revert the newest change still in effect; returns the change (as it now stands) that was undone.

        The target is chosen inside the write transaction, so another process's newer change cannot slip in."""
        with self.action("undo", "Undo", actor=actor) as act:
            target = self.undoable()
            if target is None:
                raise NothingToUndo("nothing to undo")
            root = self.event(int(target.details["target"])) if target.action == "redo" else target
            self._revert(act, target, f"Undo: {root.summary}", actor, root.id, undone=True)
        return self.event(root.id)

    def redo(self, *, actor: str | None = None) -> AuditEvent:
        """Reapply the change the newest undo reverted, if no other change was made since."""
        with self.action("redo", "Redo", actor=actor) as act:
            undo_event = self.redoable()
            if undo_event is None:
                raise NothingToUndo("nothing to redo")
            root = self.event(int(undo_event.details["target"]))
            self._revert(act, undo_event, f"Redo: {root.summary}", actor, root.id, undone=False)
        return self.event(root.id)

    def _revert(
        self, act: Action, target: AuditEvent, summary: str, actor: str | None, root: int, *, undone: bool
    ) -> None:
        """Run ``target``'s inverse statements inside ``act``; mark the target and the root change."""
        stmts = [
            r[0]
            for r in self.conn.execute(
                "SELECT stmt FROM undo_log WHERE event_id = ? ORDER BY id DESC", (target.id,)
            ).fetchall()
        ]
        act.execute("PRAGMA defer_foreign_keys = ON")
        for stmt in stmts:
            act.execute(stmt)
        act.execute(
            "UPDATE audit SET summary = ?, actor = ?, undo_of = ? WHERE id = ?",
            (summary, actor or target.actor, target.id, act.event_id),
        )
        act.details["target"] = root
        act.execute("UPDATE audit SET undone_by = ? WHERE id = ?", (act.event_id, target.id))
        act.execute("UPDATE audit SET undone_by = ? WHERE id = ?", (act.event_id if undone else None, root))

    # ------------------------------------------------------------------ project settings and status

    def get_setting(self, key: str, default: str | None = None) -> str | None:
        row = self.query_one("SELECT value FROM project WHERE key = ?", (key,))
        return default if row is None else row[0]

    def set_setting(self, key: str, value: str, *, actor: str | None = None) -> None:
        with self.action("project.setting", f"Set {key}", actor=actor, details={"key": key, "value": value}) as a:
            a.execute(
                "INSERT INTO project (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def counts(self) -> dict[str, int]:
        """What ``python -m thematic status`` prints."""
        tables = ["forms", "questions", "answers", "segments", "codes", "codings", "memos", "coders"]
        with self.read() as conn:
            return {t: int(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables}


def _event(row: sqlite3.Row) -> AuditEvent:
    return AuditEvent(
        id=row["id"],
        ts=row["ts"],
        actor=row["actor"],
        action=row["action"],
        summary=row["summary"],
        details=json.loads(row["details"] or "{}"),
        undo_of=row["undo_of"],
        undone_by=row["undone_by"],
    )


DEFAULT_BUSY_TIMEOUT = 60.0  # seconds a write waits for another process's write lock
_SQLITE_READONLY_ROLLBACK = 776  # a hot journal that a read-only connection may not roll back
_THEMATIC_TABLES = frozenset({"migrations", "audit", "undo_log", "undo_state", "project"})


def _busy_timeout(given: float | None) -> float:
    if given is not None:
        return max(0.0, float(given))
    env = os.environ.get("THEMATIC_BUSY_TIMEOUT", "")
    try:
        return max(0.0, float(env)) if env else DEFAULT_BUSY_TIMEOUT
    except ValueError:
        return DEFAULT_BUSY_TIMEOUT


def check_project_file(path: Path, *, timeout: float = DEFAULT_BUSY_TIMEOUT, create: bool = False) -> None:
    """Refuse a file that is not a thematic project, or is damaged, reading it only (nothing is written).

    A project is an SQLite file whose ``PRAGMA application_id`` is :data:`schema.APPLICATION_ID` (set by
    migration 10) or, for files made by thematic before that migration, one holding thematic's own
    bookkeeping tables (``migrations``, ``audit``, ``undo_log`` ...). An SQLite file with no tables at all is
    accepted only when ``create`` (it becomes a new project). A file shorter than its header says is damaged."""
    wal_mode = _check_header(path)
    app_id, tables = _marker(path, timeout, wal_mode)
    if app_id == schema.APPLICATION_ID:
        return
    if app_id == 0 and _THEMATIC_TABLES <= tables:
        return  # a project made before the application id was set
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


def _check_header(path: Path) -> bool:
    """The SQLite file header: the magic string, and a file at least as long as the header says. Returns whether
    the file is in WAL mode."""
    with path.open("rb") as fh:
        header = fh.read(100)
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
    target = "file:" + urllib.parse.quote(str(path.resolve())) + ("" if wal_mode else "?mode=ro")
    try:
        conn = sqlite3.connect(target, uri=True, timeout=timeout)
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
