"""The audit trail: who did what and when, newest first, with undo and redo."""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from ui import signin, undo
from ui import store as ui_store
from ui.widgets import md_escape

st.title("Audit trail")
store = ui_store.get_store()



def _flash(done: bool, message: str) -> None:
    st.session_state["audit_flash"] = message
    st.session_state["audit_undo_all_confirm"] = False  # ask again for the next one


def _undo_all(expected: int) -> None:
    done, message = undo.step("undo", expected, coder=undo.ALL)
    _flash(done, message)


def _anyone_panel(where: DeltaGenerator) -> None:
    with where.container(border=True):
        st.markdown("**Any change in the project** (for the lead)")
        t_all = undo.targets(store, undo.ALL)
        if t_all.undo_root is None or t_all.undo_event is None:
            st.caption("Nothing to undo.")
        else:
            root = t_all.undo_root
            st.caption(f"The newest change: *{md_escape(root.summary)}* by **{md_escape(root.actor)}**, "
                       f"{root.ts[:19].replace('T', ' ')} UTC. Undoing it may revert a colleague's work.")
            sure = st.checkbox("Yes, undo this change whoever made it", key="audit_undo_all_confirm")
            st.button("Undo the newest change", key="audit_undo_all", icon=":material/undo:", disabled=not sure,
                      on_click=_undo_all, args=(t_all.undo_event.id,))


lead = signin.project_role(store) in (None, "lead")  # team mode: undoing anyone's change is the lead's
mine, everyone = st.columns(2) if lead else (st.container(), None)
with mine.container(border=True):
    st.markdown(f"**Your changes** (as {md_escape(undo.coder_scope())})")
    t = undo.buttons(store, key_prefix="audit", where=st, on_done=_flash, labels=("Undo my last change", "Redo"))
    st.caption(f"Undo would revert: *{md_escape(t.undo_root.summary)}*" if t.undo_root else
               "Nothing of yours to undo.")
if everyone is not None:
    _anyone_panel(everyone)
flash = st.session_state.pop("audit_flash", None)
if flash:
    st.info(flash, icon=":material/info:")

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
