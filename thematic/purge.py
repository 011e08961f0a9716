"""Purging the undo history: what makes a mistaken unredacted import leave nothing behind in the file's bytes.

Undo data holds the old text of every change, so redacting the data itself is not enough: :func:`purge_history` drops the
undo data, passes the audit lines through a redactor, lets the caller drop derived data (cached vectors), and
VACUUMs the file and empties its write-ahead log.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from .errors import Conflict
from .store import Action, Store


def purge_history(
    store: Store,
    *,
    before: str | None = None,
    redact: Callable[[list[str]], list[str]] | None = None,
    prune: Callable[[Action], int] | None = None,
    actor: str | None = None,
) -> dict[str, int]:
    """Drop the undo/redo data of the changes made before ``before`` (an ISO date or timestamp; all when None),
    pass every audit summary and text detail through ``redact`` (the summary lines stay, redacted), then
    VACUUM and truncate the write-ahead log, so that no deleted or overwritten text survives in the file's
    bytes. The changes purged can no longer be undone or redone. Recorded as one (not undoable) audit event.

    ``prune`` runs inside the same transaction to drop derived data of text the project no longer holds (the
    CLI passes :func:`thematic.embed.prune_cache`: cached vectors of removed or unredacted text) and returns how
    many rows it dropped.

    Returns counts: ``events`` (whose undo data went), ``entries`` (undo statements removed), ``redacted``
    (audit lines changed), ``derived`` (rows ``prune`` dropped)."""
    if store.pending_undo() is not None:
        raise Conflict("an undo is under way in chunks; finish it first (python -m thematic undo)")
    cutoff = before if before is not None else "9999"
    with store.action("purge-history", "Purged undo history" + (f" before {before}" if before else ""),
                     actor=actor, keep_if_unchanged=True, details={"before": before}) as act:
        events = int(act.execute(
            "SELECT count(DISTINCT event_id) FROM undo_log WHERE event_id IN (SELECT id FROM audit WHERE ts < ?)",
            (cutoff,)).fetchone()[0])
        entries = act.execute(
            "DELETE FROM undo_log WHERE event_id IN (SELECT id FROM audit WHERE ts < ? AND id != ?)",
            (cutoff, act.event_id),
        ).rowcount
        changed = 0
        if redact is not None:
            rows = act.execute("SELECT id, summary, details FROM audit WHERE id != ?", (act.event_id,)).fetchall()
            texts: list[str] = []
            for r in rows:
                texts.append(r["summary"])
                texts.extend(_strings(json.loads(r["details"] or "{}")))
            done = iter(redact(texts))
            for r in rows:
                summary = next(done)
                details = _replace_strings(json.loads(r["details"] or "{}"), done)
                new_details = json.dumps(details)
                if summary != r["summary"] or new_details != (r["details"] or "{}"):
                    act.execute("UPDATE audit SET summary = ?, details = ? WHERE id = ?", (summary, new_details, r["id"]))
                    changed += 1
        derived = prune(act) if prune is not None else 0
        act.details.update({"events": events, "entries": entries, "redacted": changed, "derived": derived})
    compact(store)
    return {"events": events, "entries": entries, "redacted": changed, "derived": derived}


def _strings(value: Any) -> list[str]:
    """The strings inside a JSON value, depth first (keys excluded)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _replace_strings(value: Any, new: Iterator[str]) -> Any:
    """``value`` with its strings replaced, in :func:`_strings` order, from ``new``."""
    if isinstance(value, str):
        return next(new)
    if isinstance(value, dict):
        return {k: _replace_strings(v, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_strings(v, new) for v in value]
    return value


def compact(store: Store) -> None:
    """VACUUM (rewrite the file without free pages, which may hold deleted text) and empty the write-ahead log."""
    with store._lock:
        store.conn.execute("VACUUM")
        if not store.in_memory:
            busy = store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            if busy:
                raise Conflict("the project is open elsewhere; the write-ahead log could not be emptied "
                               "(close the other windows and run the command again)")
