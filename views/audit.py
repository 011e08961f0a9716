"""The audit trail: who did what and when, newest first, with undo and redo."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import store as ui_store
from ui.errors import guard

st.title("Audit trail")
store = ui_store.get_store()

undo_ev, redo_ev = store.undoable(), store.redoable()
c1, c2, c3 = st.columns([1, 1, 4], vertical_alignment="center")
if c1.button("Undo last change", key="audit_undo", icon=":material/undo:", disabled=undo_ev is None):
    with guard():
        ev = store.undo(actor=ui_store.actor())
        ui_store.changed()
        st.session_state["audit_flash"] = f"Undone: {ev.summary}"
        st.rerun()
if c2.button("Redo", key="audit_redo", icon=":material/redo:", disabled=redo_ev is None):
    with guard():
        ev = store.redo(actor=ui_store.actor())
        ui_store.changed()
        st.session_state["audit_flash"] = f"Redone: {ev.summary}"
        st.rerun()
flash = st.session_state.pop("audit_flash", None)
if flash:
    c3.success(flash)

PER_PAGE = 50


def _move(step: int) -> None:
    st.session_state["audit_offset"] = max(0, int(st.session_state.get("audit_offset", 0)) + step * PER_PAGE)


offset = int(st.session_state.get("audit_offset", 0))
page = store.audit_log(limit=PER_PAGE + 1, offset=offset)
more = len(page) > PER_PAGE
page = page[:PER_PAGE]
n1, n2, n3 = st.columns([1, 1, 4], vertical_alignment="center")
n1.button("Newer", key="audit_newer", icon=":material/arrow_upward:", disabled=offset == 0, on_click=_move, args=(-1,))
n2.button("Older", key="audit_older", icon=":material/arrow_downward:", disabled=not more, on_click=_move, args=(1,))
n3.caption(f"Events {offset + 1:,}–{offset + len(page):,}, newest first" if page else "No events yet")
rows = [
    {
        "#": e.id,
        "when (UTC)": e.ts[:19].replace("T", " "),
        "who": e.actor,
        "action": e.action,
        "what": e.summary,
        "state": "undone" if e.undone else ("" if not e.undo_of else "reverts #" + str(e.undo_of)),
    }
    for e in page
]
st.dataframe(pd.DataFrame(rows), hide_index=True, key="audit_df", width="stretch")
