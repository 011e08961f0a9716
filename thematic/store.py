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
* :meth:`Store.undo` reverts the last event exactly (rows, ids and all); :meth:`Store.redo` reapplies it. With
  ``coder=`` only that coder's own changes (``audit.actor``) are considered. Before reverting, the rows the
  inverse statements change (cascades included) are compared with the rows later changes still in effect logged
  (``undo_log.tbl/lo/hi``); any overlap refuses the undo (:class:`UndoConflict`) and nothing changes. A change of
  more than :data:`UNDO_CHUNK_ROWS` rows is reverted in chunks, each a short transaction recording its progress
  (``undo_state.pending``); :meth:`Store.finish_pending` (or the next undo/redo) finishes one left part-way.
* :meth:`Action.bulk_insert` logs a whole INSERT ... executemany as one rowid range instead of a row each.
* :func:`thematic.purge.purge_history` drops undo data, redacts the audit lines and VACUUMs.

Domain modules (``corpus``, ``codebook``, ``coding`` ...) take a ``Store`` as their first argument; there is no
global store.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import schema, undo_conflicts
from .errors import (
    NotAProject,
    NotFound,
    NothingToUndo,
    SchemaTooNew,
    ThematicError,
    from_sqlite,
)
from .projectfile import busy_timeout as busy_timeout_seconds
from .projectfile import check_project_file, hold
from .undo_sql import run_undo_stmt

DEFAULT_ACTOR = "analyst"
# An undo/redo touching more rows than this runs in chunks of this many rows, each its own short transaction.
UNDO_CHUNK_ROWS = 2000


UndoConflict = undo_conflicts.UndoConflict  # re-exported: callers catch thematic.store.UndoConflict


def now() -> str:
    """Timestamps are ISO 8601 in UTC with microseconds, so that they sort."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


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

    def bulk_insert(self, table: str, sql: str, rows: Any) -> int:
        """``executemany(sql, rows)`` of INSERTs into ``table`` only, undone by ONE logged rowid range instead of
        a statement per row (far less to write, and an undo that deletes by range). The new rows must take
        rowids above every existing one (ids left to SQLite, or given as ``max(id) + 1, + 2 ...``); that is
        checked, and the action fails if it does not hold. Returns the number of rows inserted."""
        conn = self.store.conn
        q = table.replace('"', '""')
        lo = int(conn.execute(f'SELECT coalesce(max(rowid), 0) + 1 FROM "{q}"').fetchone()[0])
        conn.execute("UPDATE undo_state SET bulk = 1 WHERE id = 1")
        try:
            n = conn.executemany(sql, rows).rowcount
        finally:
            conn.execute("UPDATE undo_state SET bulk = 0 WHERE id = 1")
        hi = int(conn.execute(f'SELECT coalesce(max(rowid), 0) FROM "{q}"').fetchone()[0])
        if n <= 0:
            return 0
        got = int(conn.execute(f'SELECT count(*) FROM "{q}" WHERE rowid BETWEEN ? AND ?', (lo, hi)).fetchone()[0])
        if got != n or hi - lo + 1 != n:
            raise ThematicError(f"bulk insert into {table}: {n} rows did not take the rowids {lo}..{hi}")
        conn.execute(
            "INSERT INTO undo_log (event_id, stmt, tbl, lo, hi) VALUES (?, ?, ?, ?, ?)",
            (self.event_id, f'DELETE FROM "{q}" WHERE rowid BETWEEN {lo} AND {hi}', table, lo, hi),
        )
        return n


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
        timeout = busy_timeout_seconds(busy_timeout)
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
        self._leaves: frozenset[str] | None = None
        self._depth = 0
        self._action: Action | None = None
        # registered before connecting: no raw read of this file in this process drops the connection's locks
        self._release = (lambda: None) if self.in_memory else hold(self.path, create=create)
        try:
            self.conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=timeout)
        except BaseException:
            self._release()
            raise
        try:
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            if not self.in_memory:
                self.conn.execute("PRAGMA journal_mode = WAL")
                self.conn.execute("PRAGMA synchronous = FULL")  # a committed action survives a power cut
            if migrate:
                self.migrate()
        except BaseException as exc:
            self.conn.close()
            self._release()
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
            self._release()

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

    def undoable(self, coder: str | None = None) -> AuditEvent | None:
        """The event :meth:`undo` would revert: the newest change (or redo) still in effect -- of anyone, or with
        ``coder`` only that coder's own (``audit.actor == coder``)."""
        by, params = ("AND actor = ? ", (coder,)) if coder is not None else ("", ())
        row = self.query_one(
            "SELECT * FROM audit WHERE undone_by IS NULL AND action != 'undo' " + by + "AND " + _NOT_PENDING
            + "AND EXISTS (SELECT 1 FROM undo_log WHERE event_id = audit.id) ORDER BY id DESC LIMIT 1",
            params,
        )
        return None if row is None else _event(row)

    def redoable(self, coder: str | None = None) -> AuditEvent | None:
        """The undo event :meth:`redo` would revert: the newest undo still in effect with no new change after it
        (with ``coder``: that coder's newest undo, with no newer change of that coder's own; a newer change by
        someone else to other rows does not block it)."""
        by, params = ("AND actor = ? ", (coder, coder)) if coder is not None else ("", ())
        row = self.query_one(
            "SELECT * FROM audit WHERE action = 'undo' AND undone_by IS NULL " + by + "AND " + _NOT_PENDING
            + "AND EXISTS (SELECT 1 FROM undo_log WHERE event_id = audit.id) "
            + "AND id > coalesce((SELECT max(id) FROM audit WHERE action NOT IN ('undo', 'redo') " + by
            + "AND EXISTS (SELECT 1 FROM undo_log WHERE event_id = audit.id)), 0) ORDER BY id DESC LIMIT 1",
            params,
        )
        return None if row is None else _event(row)

    def pending_undo(self) -> AuditEvent | None:
        """An undo or redo of a large change that was started in chunks and not yet finished (the process was
        stopped, or a conflicting change stopped it); :meth:`finish_pending` (or the next undo/redo) ends it."""
        row = self.query_one("SELECT * FROM audit WHERE id = (SELECT pending FROM undo_state WHERE id = 1)")
        return None if row is None else _event(row)

    def undo(self, *, actor: str | None = None, coder: str | None = None) -> AuditEvent:
        """Revert the newest change still in effect (of ``coder`` only, when given); returns the change (as it
        now stands) that was undone.

        Refused (:class:`UndoConflict`, nothing changed) when a later change by someone else touched the rows the
        undo would change -- it is never silently overwritten. A large change (an import) is reverted in chunks of
        short transactions, so that other writers never wait long; an unfinished one (of this coder, or of anyone
        without ``coder``) is finished first, and that is all the call does."""
        finished = self._finish_own(coder)
        if finished is not None:
            return finished
        return self._undo_or_redo(undone=True, actor=actor, coder=coder)

    def redo(self, *, actor: str | None = None, coder: str | None = None) -> AuditEvent:
        """Reapply the change the newest undo (of ``coder``, when given) reverted, if nothing since conflicts."""
        finished = self._finish_own(coder)
        if finished is not None:
            return finished
        return self._undo_or_redo(undone=False, actor=actor, coder=coder)

    def _undo_or_redo(
        self, *, undone: bool, actor: str | None, coder: str | None,
        find: Callable[[str | None], AuditEvent | None] | None = None,
    ) -> AuditEvent:
        word = "undo" if undone else "redo"
        who = f" by {coder}" if coder is not None else ""
        if find is None:
            find = self.undoable if undone else self.redoable
        seen = find(coder)
        if seen is None:
            raise NothingToUndo(f"nothing to {word}{who}")
        big = self._log_size(seen.id) > UNDO_CHUNK_ROWS
        if big:
            # checked on a snapshot, without the write lock (the chunks check again as they go)
            with self.read():
                undo_conflicts.check_conflicts(self.conn, seen.id, seen.summary, seen.action, leaves=self._leaf_tables(), references=undone)
        try:
            return self._start(word, undone, seen, big, find, actor, coder)
        except sqlite3.IntegrityError as exc:  # a deferred foreign key at commit: data it needs was removed since
            raise UndoConflict(f"cannot {word} '{seen.summary}': a later change removed data it needs ({exc})") from exc

    def _start(self, word: str, undone: bool, seen: AuditEvent, big: bool, find: Callable[[str | None], AuditEvent | None],
               actor: str | None, coder: str | None) -> AuditEvent:
        who = f" by {coder}" if coder is not None else ""
        with self.action(word, word.capitalize(), actor=actor or coder, keep_if_unchanged=True) as act:
            target = find(coder)  # chosen again inside the write transaction: nothing can slip in
            if target is None:
                raise NothingToUndo(f"nothing to {word}{who}")
            root_id = int(target.details["target"]) if target.action in ("undo", "redo") else target.id
            root = self.event(root_id)
            summary = f"{word.capitalize()}: {root.summary}"
            act.execute(
                "UPDATE audit SET summary = ?, actor = ?, undo_of = ? WHERE id = ?",
                (summary, actor or coder or target.actor, target.id, act.event_id),
            )
            act.details["target"] = root.id
            if big and target.id != seen.id:
                raise UndoConflict(f"another change was made while preparing the {word}; try again")
            if big and self.conn.execute("SELECT pending FROM undo_state WHERE id = 1").fetchone()[0] is not None:
                other = self.pending_undo()
                raise UndoConflict(f"another large undo/redo is under way ('{other.summary if other else '?'}'); "
                                   "it must be finished first (python -m thematic undo P.db)")
            if big:
                act.details["pending"] = {"below": None, "lo": None, "undone": undone}
                act.execute("UPDATE undo_state SET pending = ? WHERE id = 1", (act.event_id,))
                act.execute("UPDATE audit SET undone_by = ? WHERE id = ?", (act.event_id, target.id))
                if undone:
                    act.execute("UPDATE audit SET undone_by = ? WHERE id = ?", (act.event_id, root.id))
            else:
                undo_conflicts.check_conflicts(self.conn, target.id, target.summary, target.action, leaves=self._leaf_tables(), references=False, exclude=act.event_id)
                mark = self._last_log_id()
                self._revert(act, target, word)
                undo_conflicts.check_undo_rows(self.conn, act.event_id, mark, target.id, target.summary, target.action)
                act.execute("UPDATE audit SET undone_by = ? WHERE id = ?", (act.event_id, target.id))
                act.execute("UPDATE audit SET undone_by = ? WHERE id = ?", (act.event_id if undone else None, root.id))
                big = False
            event_id = act.event_id
        if big:
            self._run_pending(event_id)
        return self.event(root.id)

    def _finish_own(self, coder: str | None) -> AuditEvent | None:
        """Finish the undo/redo under way if it is ``coder``'s (or anyone's, without ``coder``). Another coder's
        unfinished one does not stand in the way: it concerns other rows, and each undo checks its own."""
        pending = self.pending_undo()
        if pending is None or (coder is not None and pending.actor != coder):
            return None
        return self.finish_pending()

    def abandon_pending(self, *, actor: str | None = None) -> AuditEvent | None:
        """Give up the undo/redo left part-way (see :meth:`pending_undo`): what it had already reverted is put
        back, as one more audited step (itself undoable), so that the project is as it was before it started.
        Returns the change concerned, or None when nothing was under way."""
        pending = self.pending_undo()
        if pending is None:
            return None
        with self.read():  # refuse before anything changes when putting it back would overwrite a later change
            undo_conflicts.check_conflicts(self.conn, pending.id, pending.summary, pending.action, leaves=self._leaf_tables(), references=pending.action == "redo")
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                row = self.conn.execute("SELECT pending FROM undo_state WHERE id = 1").fetchone()
                if row[0] != pending.id:  # finished or abandoned meanwhile
                    self.conn.execute("COMMIT")
                    return self.event(int(pending.details["target"]))
                details = dict(self.event(pending.id).details)
                details.pop("pending", None)
                details["abandoned"] = True
                # from here on it is an ordinary undo (or redo) of part of the change: revert it like any other
                self.conn.execute("UPDATE audit SET details = ? WHERE id = ?", (json.dumps(details), pending.id))
                self.conn.execute("UPDATE undo_state SET pending = NULL WHERE id = 1")
                self.conn.execute("COMMIT")
            except BaseException:
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                raise
        self._undo_or_redo(undone=pending.action == "redo", actor=actor, coder=None,
                           find=lambda _coder: self.event(pending.id))
        back = self.event(pending.id).undone_by
        if back is not None and self.pending_undo() is None:
            # The part-way step and the step that put it back cancel out: neither is offered for undo or redo
            # any more (their audit lines stay), and the next undo is of the change itself again.
            with self._lock:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    self.conn.execute("DELETE FROM undo_log WHERE event_id IN (?, ?)", (pending.id, back))
                    self.conn.execute("COMMIT")
                except BaseException:
                    self.conn.execute("ROLLBACK")
                    raise
        return self.event(int(pending.details["target"]))

    def finish_pending(self, *, actor: str | None = None) -> AuditEvent | None:
        """Finish an undo or redo left part-way (see :meth:`pending_undo`); returns the change it concerns."""
        pending = self.pending_undo()
        if pending is None:
            return None
        self._run_pending(pending.id)
        return self.event(int(pending.details["target"]))

    # -- reverting

    def _log_size(self, event_id: int) -> int:
        """How many rows reverting ``event_id`` touches directly (a logged rowid range counts its rows)."""
        return int(self.scalar(
            "SELECT coalesce(sum(CASE WHEN hi > lo THEN hi - lo + 1 ELSE 1 END), 0) FROM undo_log WHERE event_id = ?",
            (event_id,),
        ))

    def _last_log_id(self) -> int:
        return int(self.conn.execute("SELECT coalesce(max(id), 0) FROM undo_log").fetchone()[0])

    def _revert(self, act: Action, target: AuditEvent, word: str) -> None:
        """Run ``target``'s inverse statements inside ``act`` (its triggers log the inverse of the inverse)."""
        items = self.conn.execute(
            "SELECT stmt, tbl, lo, hi FROM undo_log WHERE event_id = ? ORDER BY id DESC", (target.id,)
        ).fetchall()
        act.execute("PRAGMA defer_foreign_keys = ON")
        for item in items:
            try:
                run_undo_stmt(self.conn, item, self._leaf_tables())
            except sqlite3.IntegrityError as exc:
                raise UndoConflict(
                    f"cannot {word} '{target.summary}': a later change reused its rows ({exc})"
                ) from exc

    def _run_pending(self, event_id: int) -> None:
        """Revert a large change in chunks of at most :data:`UNDO_CHUNK_ROWS` rows, each its own short write
        transaction that also records how far it got, so that a stopped process leaves a consistent project
        and the next call goes on from there (each chunk is idempotent: it starts where the last commit ended)."""
        while True:
            started = time.monotonic()
            with self._lock:
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    while True:
                        done = self._chunk(event_id)
                        try:
                            self.conn.execute("COMMIT")
                            break
                        except sqlite3.IntegrityError as exc:
                            # A deferred foreign key fails at COMMIT and leaves the transaction open. Mid-way, the
                            # chunk ended between a re-inserted row and the row it refers to (a cascade's children
                            # are logged after their parent, so they come back first): go on in this transaction.
                            if not done and self.conn.in_transaction:
                                continue
                            raise UndoConflict(
                                f"the undo/redo under way stopped part-way: a later change removed data it needs "
                                f"({exc}); undo that change, then run undo again to finish"
                            ) from exc
                except BaseException:
                    if self.conn.in_transaction:
                        self.conn.execute("ROLLBACK")
                    raise
            if done:
                return
            # Leave the lock free for a while, so that a writer waiting in SQLite's busy handler (which polls at
            # growing intervals, up to 100 ms) gets its turn instead of waiting for the whole undo.
            time.sleep(min(0.1, time.monotonic() - started))

    def _chunk(self, event_id: int) -> bool:
        """One chunk of a pending undo/redo (inside the caller's transaction); True when it finished."""
        ev = _event(self.conn.execute("SELECT * FROM audit WHERE id = ?", (event_id,)).fetchone())
        state = ev.details.get("pending")
        if state is None:
            return True
        target = _event(self.conn.execute("SELECT * FROM audit WHERE id = ?", (ev.undo_of,)).fetchone())
        below = state["below"] if state["below"] is not None else self._last_log_id() + 1
        lo = state["lo"]
        self.conn.execute("UPDATE undo_state SET event_id = ? WHERE id = 1", (event_id,))
        self.conn.execute("PRAGMA defer_foreign_keys = ON")
        mark = self._last_log_id()
        budget = UNDO_CHUNK_ROWS
        finished = False
        try:
            items: list[sqlite3.Row] = []
            while budget > 0:
                if not items:
                    items = self.conn.execute(
                        "SELECT id, stmt, tbl, lo, hi FROM undo_log WHERE event_id = ? AND id < ? ORDER BY id DESC "
                        "LIMIT ?", (target.id, below, budget),
                    ).fetchall()[::-1]
                if not items:
                    finished = True
                    break
                item = items[-1]
                if item["hi"] is not None and item["hi"] > item["lo"] and item["stmt"].startswith("DELETE"):
                    # a logged range of inserted rows: delete it a part at a time, lowest rowids first (so that
                    # the table's highest rowid, and with it new rows' ids, stays put until the range is gone)
                    start = item["lo"] if lo is None else lo
                    stop = min(int(item["hi"]), start + budget - 1)
                    table = str(item["tbl"]).replace('"', '""')
                    self.conn.execute(f'DELETE FROM "{table}" WHERE rowid BETWEEN ? AND ?', (start, stop))
                    budget -= stop - start + 1
                    if stop >= int(item["hi"]):
                        below, lo = int(item["id"]), None
                        items.pop()
                    else:
                        lo = stop + 1
                else:
                    run_undo_stmt(self.conn, item, self._leaf_tables())
                    budget -= 1
                    below, lo = int(item["id"]), None
                    items.pop()
        except sqlite3.IntegrityError as exc:
            raise UndoConflict(
                f"the {ev.action} of '{target.summary}' stopped part-way: a later change reused its rows ({exc}); "
                f"undo that change, then run {ev.action} again to finish"
            ) from exc
        try:
            undo_conflicts.check_undo_rows(self.conn, event_id, mark, target.id, target.summary, target.action)
        except UndoConflict as exc:
            raise UndoConflict(f"{exc.message} -- the {ev.action} stopped part-way; run {ev.action} again to finish "
                               "once that change is undone") from exc
        self.conn.execute("UPDATE undo_state SET event_id = NULL WHERE id = 1")
        details = dict(ev.details)
        if finished:
            details.pop("pending")
            self.conn.execute("UPDATE undo_state SET pending = NULL WHERE id = 1")
            if not state.get("undone", True):
                self.conn.execute("UPDATE audit SET undone_by = NULL WHERE id = ?", (int(details["target"]),))
        else:
            details["pending"] = {"below": below, "lo": lo, "undone": state.get("undone", True)}
        self.conn.execute("UPDATE audit SET details = ? WHERE id = ?", (json.dumps(details), event_id))
        return finished

    def _leaf_tables(self) -> frozenset[str]:
        """Tracked tables no foreign key points at (cached per connection; see :func:`undo_conflicts.leaf_tables`)."""
        if self._leaves is None:
            self._leaves = undo_conflicts.leaf_tables(self.conn)
        return self._leaves

    # ------------------------------------------------------------------ purging history

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


# The undo/redo under way in chunks (at most one) is named in ``undo_state.pending``; its details say how far.
_NOT_PENDING = "id IS NOT (SELECT pending FROM undo_state WHERE id = 1) "


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
