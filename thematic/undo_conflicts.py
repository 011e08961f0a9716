"""Whether an undo or redo would overwrite someone else's later change (it is then refused, nothing changed).

The undo triggers (:mod:`thematic.schema`) log, for every change, the rows it touched as ``undo_log.tbl/lo/hi``
ranges. An undo of change *T* is allowed only if no change made after *T* and still in effect touched a row
*T*'s inverse statements would change (cascades included), or (for a redo of an insert's undo) points at a row
the inverse would delete. :class:`thematic.store.Store` calls these inside its write transaction.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from . import schema
from .errors import Conflict


class UndoConflict(Conflict):
    """An undo or redo would overwrite a later change made by someone else; nothing was changed."""


def later_events() -> str:
    """SQL for the changes made after ``:t`` that are still in effect, less undos/redos of changes after ``:t``
    (an undone change and its undo cancel out; a redo counts through the change it reapplies)."""
    return ("SELECT id FROM audit WHERE id > :t AND id != :u AND undone_by IS NULL "
            "AND coalesce(undo_of, 0) <= :t")


def check_conflicts(conn: sqlite3.Connection, target_id: int, summary: str, action: str, *,
                    leaves: frozenset[str], references: bool, exclude: int = -1) -> None:
    """Refuse when a later change still in effect touched a row the inverse of event ``target_id`` would change,
    or (with ``references``) holds a row pointing at a row the inverse would delete (a cascade would remove it)."""
    hit = _overlap(conn, "a.event_id = :src", {"src": target_id, "t": target_id, "u": exclude}, leaves=leaves)
    if hit is None and references:
        hit = _referencing(conn, target_id, exclude)
    if hit is not None:
        _refuse(conn, summary, action, hit)


def check_undo_rows(conn: sqlite3.Connection, event_id: int, mark: int, target_id: int, summary: str,
                    action: str) -> None:
    """After running inverse statements: every row they changed (cascades included, as the triggers logged
    them under ``event_id`` after log id ``mark``) must be untouched by later changes of others."""
    hit = _overlap(conn, "a.event_id = :src AND a.id > :mark",
                   {"src": event_id, "mark": mark, "t": target_id, "u": event_id})
    if hit is not None:
        _refuse(conn, summary, action, hit)


def leaf_tables(conn: sqlite3.Connection) -> frozenset[str]:
    """Tracked tables no foreign key points at (codings, memos, quotes ...): a row of theirs is known by its
    content, not its id, so an undo may re-insert one under a new id when its old id was taken since."""
    tables = schema.tracked_tables(conn)
    referenced = {str(fk["table"]) for t in tables for fk in conn.execute(f'PRAGMA foreign_key_list("{t}")')}
    return frozenset(t for t in tables if t not in referenced)


def _overlap(conn: sqlite3.Connection, where: str, params: dict[str, Any], *,
             leaves: frozenset[str] | None = None) -> int | None:
    if leaves is not None:
        # ``a`` holds a change's inverse statements. A row one of them re-inserts into a leaf table was gone
        # since that change, so a later change to a row with the same id concerns another row (SQLite reuses
        # the highest ids): not a conflict; the row is re-inserted under a new id (undo_sql.run_undo_stmt).
        names = ", ".join("'" + t.replace("'", "''") + "'" for t in leaves) or "''"
        where = f"{where} AND NOT (a.stmt LIKE 'INSERT%' AND a.tbl IN ({names}))"
    later = later_events()
    row = conn.execute(
        f"SELECT b.event_id FROM undo_log a JOIN undo_log b ON b.tbl = a.tbl AND b.lo BETWEEN a.lo AND a.hi "
        f"WHERE {where} AND b.event_id IN ({later}) AND b.event_id != a.event_id LIMIT 1",
        params,
    ).fetchone()
    if row is not None:
        return int(row[0])
    for r in conn.execute(
        f"SELECT event_id, tbl, lo, hi FROM undo_log WHERE hi > lo AND event_id IN ({later})", params
    ).fetchall():
        found = conn.execute(
            f"SELECT 1 FROM undo_log a WHERE {where} AND a.tbl = :tbl AND a.lo <= :hi AND a.hi >= :lo LIMIT 1",
            {**params, "tbl": r["tbl"], "lo": r["lo"], "hi": r["hi"]},
        ).fetchone()
        if found is not None and int(r["event_id"]) != params["src"]:
            return int(r["event_id"])
    return None


def _referencing(conn: sqlite3.Connection, target_id: int, exclude: int) -> int | None:
    """A later change still in effect whose row points (by foreign key) at a row ``target_id`` inserted."""
    parents = {
        str(r[0]) for r in conn.execute(
            "SELECT DISTINCT tbl FROM undo_log WHERE event_id = ? AND stmt LIKE 'DELETE%'", (target_id,)
        )
    }
    if not parents:
        return None
    later = later_events()
    for child in schema.tracked_tables(conn):
        for fk in conn.execute(f'PRAGMA foreign_key_list("{child}")').fetchall():
            parent, col, to = fk["table"], fk["from"], fk["to"]
            if parent not in parents or to not in (None, "id"):
                continue
            q = child.replace('"', '""')
            row = conn.execute(
                f'SELECT b.event_id FROM undo_log b JOIN "{q}" c ON c.rowid BETWEEN b.lo AND b.hi '
                f"WHERE b.tbl = :child AND b.event_id IN ({later}) AND EXISTS (SELECT 1 FROM undo_log p "
                f"WHERE p.tbl = :parent AND p.event_id = :t AND p.stmt LIKE 'DELETE%' "
                f'AND c."{col}" BETWEEN p.lo AND p.hi) LIMIT 1',
                {"child": child, "parent": parent, "t": target_id, "u": exclude},
            ).fetchone()
            if row is not None:
                return int(row[0])
    return None


def _refuse(conn: sqlite3.Connection, summary: str, action: str, later_id: int) -> None:
    other = conn.execute("SELECT id, actor, summary, ts FROM audit WHERE id = ?", (later_id,)).fetchone()
    what = "undo" if action != "undo" else "redo"
    raise UndoConflict(
        f"cannot {what} '{summary}': a later change #{other['id']} by {other['actor']} "
        f"('{other['summary']}', {str(other['ts'])[:16].replace('T', ' ')}) changed the same data; undo that first"
    )
