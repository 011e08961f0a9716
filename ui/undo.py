"""Undo and redo for every page: one helper used by the sidebar, the coding panel and the Audit page.

Per coder (the default): Undo reverts the newest change of the coder this session works as (``?coder=``; changes
made with no coder chosen are the ``analyst``'s), never a colleague's; Redo re-applies that coder's newest undo.
The buttons name what they would revert, and a click reverts only the change its label named: if another change
of that coder landed since the page was drawn (another tab, the CLI), nothing is reverted and a line says so.

Project-wide (``coder=ALL``): the newest change in the whole project, whoever made it; the Audit page offers it to
the lead behind a confirmation.

The store does the work: ``Store.undo(actor=..., coder=...)``, ``Store.redo(...)``, ``Store.undoable(coder=...)``,
``Store.redoable(coder=...)`` (with ``coder``, only that coder's own changes; an undo that a colleague's later
change conflicts with is refused by the store, and shown here as one line).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import streamlit as st

from thematic.errors import ThematicError
from thematic.store import DEFAULT_ACTOR, AuditEvent, Store

from . import store as ui_store

ALL: Final = "*"  # project-wide: every coder's changes (the Audit page, for the lead)


def coder_scope() -> str:
    """Whose changes this session's Undo reverts: the chosen coder, else the unnamed ``analyst``."""
    return ui_store.actor() or DEFAULT_ACTOR


@dataclass(frozen=True)
class Targets:
    """What Undo and Redo would do now: the events the store would revert, and the changes they stand for."""

    undo_event: AuditEvent | None  # the event undo reverts (a change, or a redo of one)
    undo_root: AuditEvent | None  # the change itself (what the label names)
    redo_event: AuditEvent | None  # the undo event redo reverts
    redo_root: AuditEvent | None


def _root(store: Store, ev: AuditEvent | None) -> AuditEvent | None:
    if ev is None or ev.action not in ("undo", "redo"):
        return ev
    try:
        return store.event(int(ev.details["target"]))
    except (ThematicError, KeyError, ValueError, TypeError):
        return ev


def targets(store: Store, coder: str) -> Targets:
    """What undo/redo would revert for ``coder`` (a name, or :data:`ALL`)."""
    who = None if coder == ALL else coder
    u, r = store.undoable(coder=who), store.redoable(coder=who)
    return Targets(u, _root(store, u), r, _root(store, r))


def step(kind: str, expected: int | None, *, coder: str) -> tuple[bool, str]:
    """Undo or redo for ``coder``, but only the event ``expected`` (the one a button named when it was drawn).
    Returns (done, a line for the user); marks this session's cached reads stale when something changed."""
    store = ui_store.get_store()
    now = targets(store, coder)
    ev = now.undo_event if kind == "undo" else now.redo_event
    if ev is None or ev.id != expected:
        return False, ("The last change is no longer the one shown; nothing was undone." if kind == "undo"
                       else "Nothing to redo any more (another change was made).")
    who = None if coder == ALL else coder
    try:
        if kind == "undo":
            root = store.undo(actor=ui_store.actor(), coder=who)
        else:
            root = store.redo(actor=ui_store.actor(), coder=who)
    except ThematicError as exc:
        return False, f"Not {'undone' if kind == 'undo' else 'redone'}: {exc}"
    ui_store.changed()
    return True, f"{'Undone' if kind == 'undo' else 'Redone'}: {root.summary}"


def buttons(
    store: Store,
    *,
    key_prefix: str,
    coder: str | None = None,
    where: Any = None,
    on_done: Callable[[bool, str], None] | None = None,
    labels: tuple[str, str] = ("Undo", "Redo"),
) -> Targets:
    """Draw Undo and Redo (keys ``<prefix>_undo``, ``<prefix>_redo``) side by side, their tooltips naming the
    change. ``on_done(done, message)`` runs in the click's callback (show the message, ask for a rerun)."""
    who = coder or coder_scope()
    t = targets(store, who)
    target = where or st
    c1, c2 = target.columns(2)

    def click(kind: str, expected: int | None) -> None:
        done, message = step(kind, expected, coder=who)
        if on_done is not None:
            on_done(done, message)

    c1.button(
        labels[0], key=f"{key_prefix}_undo", icon=":material/undo:", disabled=t.undo_event is None,
        help=f"Undo: {t.undo_root.summary}" if t.undo_root else "Nothing of yours to undo",
        on_click=click, args=("undo", t.undo_event.id if t.undo_event else None), width="stretch",
    )
    c2.button(
        labels[1], key=f"{key_prefix}_redo", icon=":material/redo:", disabled=t.redo_event is None,
        help=f"Redo: {t.redo_root.summary}" if t.redo_root else "Nothing to redo",
        on_click=click, args=("redo", t.redo_event.id if t.redo_event else None), width="stretch",
    )
    return t
