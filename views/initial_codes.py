"""Phase 2, generating initial codes: one segment at a time, in its answer's context, apply codes (or create one
on the spot), see codebook suggestions and accept or reject them, move on with the keyboard."""

from __future__ import annotations

from typing import Any

import streamlit as st

from thematic import codebook, coding, corpus, memos, reliability
from thematic.models import Segment
from ui import models
from ui import store as ui_store
from ui.errors import attempt, guard, show
from ui.widgets import highlight, md_escape, meta_line

st.title("2 Generate initial codes")
store = ui_store.get_store()
coder = ui_store.actor()
if not coder:
    st.info("Choose or type your coder name in the sidebar (**Coder**) to start coding.", icon=":material/person:")
    st.stop()
questions = corpus.questions(store)
if not questions:
    st.info("No forms yet: import them on the Project page.")
    st.stop()



def _restart() -> None:
    st.session_state["ic_pos"] = 0


qlabel: dict[int, str] = {0: "All questions", **{q.id: f"{q.position + 1}. {q.label}" for q in questions}}
c1, c2, c3, c4 = st.columns([3, 2, 1.3, 1.2], vertical_alignment="bottom")
qid = c1.selectbox("Question", list(qlabel), format_func=qlabel.get, key="ic_question", persist_state="session",
                   on_change=_restart)
search = c2.text_input('Only segments containing (words, "phrase")', key="ic_search", persist_state="session",
                       on_change=_restart)
uncoded = c3.toggle("Uncoded only", key="ic_uncoded", persist_state="session",
                    help="Segments you have not coded yet", on_change=_restart)
suggest_on = c4.toggle("Suggestions", value=True, key="ic_suggest", persist_state="session",
                       help="Rank the codebook's codes for this segment (sentence embeddings, offline)")
blind = reliability.blind_mode(store)

FILTER: dict[str, Any] = {
    "question_id": qid or None,
    "search": search or None,
    **({"coded": False, "coder": coder} if uncoded else {}),
}


def current() -> Segment | None:
    total = corpus.count_segments(store, **FILTER)
    if total == 0:
        return None
    pos = min(max(0, int(st.session_state.get("ic_pos", 0))), total - 1)
    st.session_state["ic_pos"] = pos
    segs = corpus.segments(store, **FILTER, offset=pos, limit=1)
    return segs[0] if segs else None


def _reset_inputs() -> None:
    st.session_state["ic_codes"] = []


def go(step: int) -> None:
    """Next/previous. With "uncoded only", a segment just coded leaves the list, so 'next' stays in place."""
    pos = int(st.session_state.get("ic_pos", 0))
    seg_id = st.session_state.get("ic_seg_id")
    if step > 0 and uncoded and seg_id is not None and coding.codings(store, coder=coder, segment_ids=[seg_id]):
        step = 0
    st.session_state["ic_pos"] = max(0, pos + step)
    _reset_inputs()


def apply_selected(then_next: bool) -> None:
    seg_id = st.session_state.get("ic_seg_id")
    picked = list(st.session_state.get("ic_codes") or [])
    if seg_id is None or not picked:
        if then_next:
            go(1)
        return
    by_path = {c.path_str: c.id for c in codebook.list_codes(store)}

    def run() -> int:
        with store.action("coding.apply", f"Code segment {seg_id} with {len(picked)} code(s)", actor=coder):
            n = 0
            for path in picked:
                cid = by_path.get(path)
                if cid is None:  # typed on the spot: create it (Theme/Code creates both levels)
                    cid = codebook.ensure_path(store, path, actor=coder)
                n += int(coding.apply_code(store, seg_id, cid, coder))
            return n

    if attempt("ic", run) is not None:
        ui_store.changed()
        if then_next:
            go(1)
        else:
            _reset_inputs()


def remove(seg_id: int, code_id: int) -> None:
    if attempt("ic", coding.remove_coding, store, seg_id, code_id, coder) is not None:
        ui_store.changed()


def accept(seg_id: int, code_id: int) -> None:
    from thematic import suggest

    if attempt("ic", suggest.accept_suggestion, store, seg_id, code_id, coder) is not None:
        ui_store.changed()


def reject(seg_id: int, code_id: int) -> None:
    from thematic import suggest

    if attempt("ic", suggest.reject_suggestion, store, seg_id, code_id, coder) is not None:
        ui_store.changed()


def undo_last(expected: int) -> None:
    """Undo from the coding panel (the sidebar's label is not redrawn by a fragment rerun)."""
    ev = store.undoable()
    if ev is None or ev.id != expected:
        st.session_state["ic_error"] = "The last change is no longer the one shown; nothing was undone."
        return
    if attempt("ic", store.undo, actor=coder) is not None:
        st.session_state["ic_ok"] = f"Undone: {ev.summary}"
        ui_store.changed()


def add_note(seg_id: int) -> None:
    body = st.session_state.get("ic_note", "")
    if attempt("ic", memos.add_memo, store, body, segment_id=seg_id, coder=coder) is not None:
        st.session_state["ic_note"] = ""
        st.session_state["ic_ok"] = "Note saved."
        ui_store.changed()


@st.fragment
def panel() -> None:
    show("ic")
    total_q = corpus.count_segments(store, question_id=FILTER["question_id"])
    done_q = corpus.count_segments(store, question_id=FILTER["question_id"], coded=True, coder=coder)
    n = corpus.count_segments(store, **FILTER)
    st.progress(done_q / total_q if total_q else 0.0,
                text=f"You have coded {done_q:,} of {total_q:,} segments · {total_q - done_q:,} remaining")
    seg = current()
    if seg is None:
        st.success("Nothing left to code with these filters.", icon=":material/done_all:")
        return
    st.session_state["ic_seg_id"] = seg.id
    pos = int(st.session_state["ic_pos"])

    nav1, nav2, nav3 = st.columns([1, 1, 4], vertical_alignment="center")
    nav1.button("Previous", key="ic_prev", icon=":material/arrow_back:", on_click=go, args=(-1,),
                disabled=pos == 0, shortcut="Left", help="Previous segment (← key)")
    nav2.button("Next", key="ic_next", icon=":material/arrow_forward:", on_click=go, args=(1,),
                disabled=pos >= n - 1 and not uncoded, shortcut="Right", help="Next segment (→ key)")
    nav3.caption(f"Segment {pos + 1:,} of {n:,} · id {seg.id} · respondent {seg.external_id}")
    last = store.undoable()
    if last is not None and last.actor == coder:
        nav3.button(f"Undo: {last.summary}", key="ic_undo", type="tertiary", icon=":material/undo:",
                    on_click=undo_last, args=(last.id,), help="Undo your last change")

    ans = corpus.answers(store, form_id=seg.form_id, question_id=seg.question_id)
    meta = corpus.form_meta(store, [seg.form_id]).get(seg.form_id, {})
    with st.container(border=True):
        st.caption(md_escape(f"{qlabel.get(seg.question_id, seg.question)} · {meta_line(meta)}"))
        if ans:
            st.markdown(highlight(ans[0]["text"], seg.start, seg.end), unsafe_allow_html=True)
        else:
            st.markdown(md_escape(seg.text))

    codes = codebook.list_codes(store)
    names = {c.id: c.path_str for c in codes}
    applied = reliability.visible_codings(store, coder, blind=blind, segment_ids=[seg.id])
    mine = [c for c in applied if c.coder == coder]
    others = [c for c in applied if c.coder != coder]
    if mine:
        st.markdown("**Your codes here**")
        cols = st.columns(min(4, len(mine)))
        for i, c in enumerate(mine):
            cols[i % len(cols)].button(
                names.get(c.code_id, f"#{c.code_id}"), key=f"ic_remove_{c.code_id}", icon=":material/close:",
                help="Remove this code from the segment", on_click=remove, args=(seg.id, c.code_id),
            )
    if others:
        st.caption("Other coders: " + "; ".join(f"{c.coder}: {names.get(c.code_id, c.code_id)}" for c in others))

    with st.form("ic_form", border=False, enter_to_submit=False):
        mine_paths = {names.get(c.code_id) for c in mine}
        st.multiselect(
            "Apply codes (type a new name to create one; Theme/Code creates both levels)",
            [p for p in names.values() if p not in mine_paths],
            key="ic_codes",
            accept_new_options=True,
            placeholder="Choose codes…",
        )
        b1, b2, _ = st.columns([1, 1.4, 3])
        b1.form_submit_button("Apply", key="ic_apply", on_click=apply_selected, args=(False,))
        b2.form_submit_button("Apply and next", key="ic_apply_next", type="primary", on_click=apply_selected,
                              args=(True,), shortcut="Ctrl+Enter", help="Ctrl+Enter")

    if suggest_on and codes:
        suggestions(seg.id)

    with st.expander("Note on this segment", icon=":material/sticky_note_2:"):
        for m in memos.memos(store, segment_id=seg.id):
            st.caption(f"{m.coder or 'analyst'}: {m.body}")
        st.text_area("Note", key="ic_note", label_visibility="collapsed", placeholder="A note on this segment")
        st.button("Save note", key="ic_note_save", on_click=add_note, args=(seg.id,))


def suggestions(seg_id: int) -> None:
    sugg_mod = ui_store.optional("thematic.suggest")
    if sugg_mod is None:
        return
    st.markdown("**Suggested codes**")
    with guard(), st.spinner("Scoring the codebook…"):
        found = sugg_mod.suggest(store, segment_ids=[seg_id], top=3, coder=coder, embedder=models.embedder())
        if not found:
            st.caption("No suggestions (every code applied or rejected).")
        for i, s in enumerate(found):
            c1, c2, c3, c4 = st.columns([4, 1.2, 1, 1], vertical_alignment="center")
            c1.markdown(f"{s.code_path}")
            c2.progress(min(1.0, float(s.score)), text=f"{s.score:.0%} · {s.kind}")
            c3.button("Accept", key=f"ic_sugg_accept_{i}", icon=":material/check:", on_click=accept,
                      args=(seg_id, s.code_id))
            c4.button("Reject", key=f"ic_sugg_reject_{i}", icon=":material/block:", on_click=reject,
                      args=(seg_id, s.code_id))


panel()
