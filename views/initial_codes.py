"""Phase 2, generating initial codes: one segment at a time, in its answer's context, apply codes (or create one
on the spot), see codebook suggestions and accept or reject them, move on with the keyboard."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from functools import partial
from typing import Any

import streamlit as st

from thematic import codebook, coding, corpus, memos, reliability, spans
from thematic.models import Code, Segment
from ui import models, sidebar
from ui import store as ui_store
from ui.components.code_picker import code_picker, strip_new
from ui.components.code_tree import colours
from ui.components.highlighter import from_utf16, highlighter, selection_in
from ui.errors import attempt, guard, show
from ui.widgets import highlight, md_escape, meta_line, shown_as

st.title("2 Generate initial codes")
store = ui_store.get_store()
coder: str = ui_store.actor() or ""  # str for the functions below: the page stops here without one
if not coder:
    st.info("Choose or type your coder name in the sidebar (**Coder**) to start coding.", icon=":material/person:")
    st.stop()
questions = corpus.questions(store)
if not questions:
    st.info("No forms yet: import them on the Project page.")
    st.stop()



def _restart() -> None:
    st.session_state["ic_pos"] = 0


MODES = {"queue": "Segment by segment", "highlight": "Highlight in whole answers"}
mode = st.segmented_control(
    "How to code", list(MODES), format_func=shown_as(MODES), key="ic_mode", default="queue", persist_state="session",
    help="Segment by segment: the machine's sentences, one at a time, keyboard first. Highlight: read a whole form "
    "and select any span with the mouse to code it; click coded text to uncode it.",
) or "queue"
qlabel: dict[int, str] = {0: "All questions", **{q.id: f"{q.position + 1}. {q.label}" for q in questions}}
c1, c2, c3, c4 = st.columns([3, 2, 1.3, 1.2], vertical_alignment="bottom")
qid = c1.selectbox("Question", list(qlabel), format_func=shown_as(qlabel), key="ic_question", persist_state="session",
                   on_change=_restart)
search, uncoded, suggest_on = "", False, False
if mode == "queue":  # the queue's own filters; highlighting shows whole forms
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
    "person_spans": False,  # the queue walks the machine's segments; highlighted spans are coded in place
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
    """Empty the code picker (a fresh component key) and what it had chosen."""
    st.session_state["ic_picked"] = []
    st.session_state["ic_synced"] = []
    st.session_state["ic_gen"] = int(st.session_state.get("ic_gen", 0)) + 1


def _picked_from(key: str) -> None:
    value = st.session_state.get(key)
    chosen = value.get("chosen") if isinstance(value, dict) else getattr(value, "chosen", None)
    st.session_state["ic_picked"] = list(chosen or [])
    st.session_state["ic_synced"] = list(chosen or [])  # what the picker said when ic_picked was last taken from it


def go(step: int) -> None:
    """Next/previous. With "uncoded only", a segment just coded leaves the list, so 'next' stays in place."""
    pos = int(st.session_state.get("ic_pos", 0))
    seg_id = st.session_state.get("ic_seg_id")
    if step > 0 and uncoded and seg_id is not None and coding.codings(store, coder=coder, segment_ids=[seg_id]):
        step = 0
    st.session_state["ic_pos"] = max(0, pos + step)
    st.session_state["ic_focus"] = False  # moved with ← / →: the arrows keep moving (the picker stays unfocused)
    _reset_inputs()


def _picker_key(seg_id: object) -> str:
    return f"ic_codes_{seg_id}_{int(st.session_state.get('ic_gen', 0))}"


NOTHING_PICKED = "Nothing picked: choose a code first, or use Next to skip."


def apply_selected(then_next: bool) -> None:
    seg_id = st.session_state.get("ic_seg_id")
    # Read the picker itself: when a pick and the click arrive in one rerun (a busy server coalesces them), the
    # button's callback may run before the picker's on_change, and the pick would be dropped silently.
    state = st.session_state.get(_picker_key(seg_id))
    chosen = state.get("chosen") if isinstance(state, dict) else getattr(state, "chosen", None)
    if chosen is not None and list(chosen) != st.session_state.get("ic_synced", []):
        _picked_from(_picker_key(seg_id))  # the picker changed and its on_change has not run yet
    picked = list(st.session_state.get("ic_picked") or [])
    if seg_id is None:
        return
    if not picked:  # never skip a segment silently: a pick that has not arrived must not look like "coded"
        st.session_state["ic_warn"] = NOTHING_PICKED
        st.session_state["ic_focus"] = True
        return
    by_path = {c.path_str: c.id for c in codebook.list_codes(store)}

    def ref(entry: str) -> int | Callable[[], int]:
        path, is_new = strip_new(entry)
        cid = None if is_new else by_path.get(path)
        if cid is None:  # typed on the spot: created inside the step (Theme/Code creates both levels)
            return partial(codebook.ensure_path, store, path, actor=coder)
        return cid

    if attempt("ic", coding.apply_codes, store, seg_id, [ref(e) for e in picked], coder) is not None:
        ui_store.changed()
        if then_next:
            go(1)
        else:
            _reset_inputs()
        st.session_state["ic_focus"] = True  # the picker takes the cursor again (Ctrl+Enter flows on)
        sidebar.rerun_with_undo(PANEL_KEY)  # the sidebar's Undo names this coding at once


def remove(seg_id: int, code_id: int) -> None:
    if attempt("ic", coding.remove_coding, store, seg_id, code_id, coder) is not None:
        ui_store.changed()
        sidebar.rerun_with_undo(PANEL_KEY)


def accept(seg_id: int, code_id: int) -> None:
    from thematic import suggest

    if attempt("ic", suggest.accept_suggestion, store, seg_id, code_id, coder) is not None:
        ui_store.changed()
        sidebar.rerun_with_undo(PANEL_KEY)


def reject(seg_id: int, code_id: int) -> None:
    from thematic import suggest

    if attempt("ic", suggest.reject_suggestion, store, seg_id, code_id, coder) is not None:
        ui_store.changed()
        sidebar.rerun_with_undo(PANEL_KEY)


UNDO = ui_store.optional("ui.undo")  # the shared undo helper (per-coder undo), once it is part of the app


def _last_change() -> Any:
    """The change of this coder that the panel's Undo would revert (None: nothing of theirs)."""
    if UNDO is not None:
        return UNDO.targets(store, UNDO.coder_scope()).undo_root
    last = store.undoable()
    return last if last is not None and last.actor == coder else None


def undo_last(expected: int) -> None:
    """Undo from the coding panel (the sidebar's label is not redrawn by a fragment rerun): only the change the
    button named."""
    if UNDO is not None:
        t = UNDO.targets(store, UNDO.coder_scope())
        done, message = UNDO.step("undo", t.undo_event.id if t.undo_root is not None and t.undo_root.id == expected
                                  and t.undo_event is not None else None, coder=UNDO.coder_scope())
        st.session_state["ic_ok" if done else "ic_error"] = message
        if done:
            sidebar.rerun_with_undo(PANEL_KEY)
        return
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
        sidebar.rerun_with_undo(PANEL_KEY)


PANEL_KEY = "ic_panel"


@st.fragment(key=PANEL_KEY)
def panel() -> None:
    # Every block above the code picker is drawn on every run, empty or not: an element that appears above the
    # picker (a message, a colleague's codes) would move it, and a moved component is mounted afresh, dropping the
    # chips the analyst had picked while the server still holds them (bench/team_bench.py --driver browser).
    with st.container():
        show("ic")
    total_q = corpus.count_segments(store, question_id=FILTER["question_id"], person_spans=False)
    done_q = corpus.count_segments(store, question_id=FILTER["question_id"], coded=True, coder=coder,
                                   person_spans=False)
    n = corpus.count_segments(store, **FILTER)
    st.progress(done_q / total_q if total_q else 0.0,
                text=f"You have coded {done_q:,} of {total_q:,} segments · {total_q - done_q:,} remaining")
    seg = current()
    if seg is None:
        st.success("Nothing left to code with these filters.", icon=":material/done_all:")
        return
    if st.session_state.get("ic_seg_id") != seg.id:
        st.session_state["ic_picked"] = []  # what was chosen for another segment is never applied here
        st.session_state["ic_synced"] = []
    st.session_state["ic_seg_id"] = seg.id
    pos = int(st.session_state["ic_pos"])

    nav1, nav2, nav3 = st.columns([1, 1, 4], vertical_alignment="center")
    nav1.button("Previous", key="ic_prev", icon=":material/arrow_back:", on_click=go, args=(-1,),
                disabled=pos == 0, shortcut="Left", help="Previous segment (← key)")
    nav2.button("Next", key="ic_next", icon=":material/arrow_forward:", on_click=go, args=(1,),
                disabled=pos >= n - 1 and not uncoded, shortcut="Right", help="Next segment (→ key)")
    nav3.caption(f"Segment {pos + 1:,} of {n:,} · id {seg.id} · respondent {seg.external_id}")
    last = _last_change()
    if last is not None:
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
    with st.container():  # always drawn (see above): the codes already on this segment
        if mine:
            st.markdown("**Your codes here**")
            cols = st.columns(min(4, len(mine)))
            for i, c in enumerate(mine):
                cols[i % len(cols)].button(
                    names.get(c.code_id, f"#{c.code_id}"), key=f"ic_remove_{c.code_id}", icon=":material/close:",
                    help="Remove this code from the segment", on_click=remove, args=(seg.id, c.code_id),
                )
        if others:
            st.caption("Other coders: " + "; ".join(f"{c.coder}: {names.get(c.code_id, c.code_id)}"
                                                     for c in others))

    # One code at a time, by pointing at it: no "Select all", no "Select N matches", Enter never adds a code
    # the analyst did not highlight or type exactly (see ui.components.code_picker).
    mine_paths = {names.get(c.code_id) for c in mine}
    picker_key = _picker_key(seg.id)
    with st.container(key="ic_codes"):
        code_picker(
            picker_key,
            [p for p in names.values() if p not in mine_paths],
            label="Apply codes (type to find one, ↓ and Enter to add it; a name no code has creates it; "
            "Theme/Code creates both levels)",
            on_change=lambda: _picked_from(picker_key),
            autofocus=bool(st.session_state.get("ic_focus")),
        )
    b1, b2, _ = st.columns([1, 1.4, 3])
    b1.button("Apply", key="ic_apply", on_click=apply_selected, args=(False,))
    b2.button("Apply and next", key="ic_apply_next", type="primary", on_click=apply_selected, args=(True,),
              shortcut="Ctrl+Enter", help="Ctrl+Enter")
    warn = st.session_state.pop("ic_warn", None)
    if warn:  # under the buttons, so the picker above does not move
        st.warning(warn, icon=":material/touch_app:")

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
    # The spinner only the first time in a session (the model loads, the codebook is embedded); after that a
    # segment scores in milliseconds, and a spinner's timer thread on every coding rerun was a measurable part
    # of the server's CPU with ten analysts coding (bench/team_bench.py).
    first = not st.session_state.get("ic_scored")
    with guard(), (st.spinner("Scoring the codebook…") if first else contextlib.nullcontext()):
        found = sugg_mod.suggest(store, segment_ids=[seg_id], top=3, coder=coder, embedder=models.embedder())
        st.session_state["ic_scored"] = True
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




# ---------------------------------------------------------------------------------------- highlight-to-code


def _hl_go(step: int, total: int) -> None:
    st.session_state["hl_pos"] = max(0, min(total - 1, int(st.session_state.get("hl_pos", 0)) + step))
    st.session_state["hl_sel"] = None
    st.session_state["hl_click"] = None


def _hl_selected(key: str, texts: dict[int, str]) -> None:
    st.session_state["hl_sel"] = selection_in(st.session_state.get(key), texts)
    st.session_state["hl_click"] = None


def _hl_clicked(key: str) -> None:
    value = st.session_state.get(key)
    clicked = value.get("clicked") if isinstance(value, dict) else getattr(value, "clicked", None)
    st.session_state["hl_click"] = clicked if isinstance(clicked, dict) else None


def _hl_code(how: str) -> None:
    sel = st.session_state.get("hl_sel")
    if not sel:
        return
    kw: dict[str, Any]
    if how == "existing":
        cid = st.session_state.get("hl_code")
        if cid is None:
            st.session_state["hl_error"] = "Choose a code first."
            return
        kw = {"code_id": int(cid)}
    elif how == "new":
        name = str(st.session_state.get("hl_new") or "").strip()
        if not name:
            st.session_state["hl_error"] = "Type the new code's name first."
            return
        parent = st.session_state.get("hl_new_parent")
        kw = {"new_code": name, "parent_id": int(parent) if parent else None}
    else:  # in vivo: the respondent's own words name the code
        kw = {"new_code": " ".join(str(sel["text"]).split())}
    done = attempt("hl", spans.code_span, store, int(sel["answer"]), int(sel["start"]), int(sel["end"]), coder, **kw)
    if done is not None:
        st.session_state["hl_ok"] = f"Coded \u201c{sel['text'][:60]}\u201d."
        st.session_state["hl_sel"] = None
        st.session_state["hl_new"] = ""
        ui_store.changed()
        sidebar.rerun_with_undo(HL_KEY)


def _hl_uncode(seg_id: int, code_id: int) -> None:
    if attempt("hl", spans.uncode, store, seg_id, code_id, coder) is not None:
        st.session_state["hl_click"] = None
        st.session_state["hl_ok"] = "Uncoded."
        ui_store.changed()
        sidebar.rerun_with_undo(HL_KEY)


HL_KEY = "hl_panel"


@st.fragment(key=HL_KEY)
def highlight_panel() -> None:
    with st.container():  # drawn on every run: a message never moves the highlighter (see panel())
        show("hl")
    total = int(store.scalar("SELECT count(*) FROM forms"))
    if total == 0:
        st.info("No forms yet.")
        return
    pos = min(max(0, int(st.session_state.get("hl_pos", 0))), total - 1)
    st.session_state["hl_pos"] = pos
    form = corpus.forms(store, offset=pos, limit=1)[0]
    n1, n2, n3 = st.columns([1.4, 1.4, 3.2], vertical_alignment="center")
    n1.button("Previous form", key="hl_prev", icon=":material/arrow_back:", on_click=_hl_go, args=(-1, total),
              disabled=pos == 0, shortcut="Left", help="Previous form (← key)")
    n2.button("Next form", key="hl_next", icon=":material/arrow_forward:", on_click=_hl_go, args=(1, total),
              disabled=pos >= total - 1, shortcut="Right", help="Next form (→ key)")
    meta = corpus.form_meta(store, [form.id]).get(form.id, {})
    n3.caption(md_escape(f"Form {pos + 1:,} of {total:,} · respondent {form.external_id} · {meta_line(meta)}"))
    ans = corpus.answers(store, form_id=form.id, question_id=qid or None)
    texts = {int(a["id"]): str(a["text"]) for a in ans}
    codes = codebook.list_codes(store)
    label = {c.id: c.label for c in codes}
    colour = colours(codes)
    marks: dict[int, list[dict[str, Any]]] = {}
    found = spans.codings_in(store, texts, coder=coder if blind else None)
    for c in found:
        marks.setdefault(c.answer_id, []).append({
            "seg": c.segment_id, "code": c.code_id, "name": label.get(c.code_id, f"#{c.code_id}"),
            "colour": colour.get(c.code_id, ""), "start": c.start, "end": c.end, "mine": c.coder == coder,
            "coder": c.coder,
        })
    data = [
        {"id": a["id"], "label": qlabel.get(a["question_id"], a["question"]), "text": a["text"],
         "marks": marks.get(int(a["id"]), [])}
        for a in ans
    ]
    sel = st.session_state.get("hl_sel")
    if sel and int(sel["answer"]) not in texts:
        sel = st.session_state["hl_sel"] = None
    key = f"hl_text_{form.id}"
    left, right = st.columns([2.7, 1.3], gap="medium")
    with left:
        st.caption("Select words with the mouse to code them; click coded text (or a code in the margin) to uncode "
                   "it.")
        highlighter(key, data, pending=sel, on_select=lambda: _hl_selected(key, texts),
                    on_click=lambda: _hl_clicked(key))
    with right:  # beside the text, so coding a selection needs no scrolling and nothing under the mouse moves
        if sel:
            selection_box(sel, codes, label)
        click = st.session_state.get("hl_click")
        if click:
            uncode_box(click, found, texts, label)
        if not sel and not click:
            st.caption("Nothing selected.")


def selection_box(sel: dict[str, Any], codes: list[Code], label: dict[int, str]) -> None:
    with st.container(border=True, key="hl_box"):
        st.markdown(f"**Selected** ({sel['end'] - sel['start']} characters): \u201c{md_escape(sel['text'])}\u201d")
        st.selectbox("Existing code", [c.id for c in codes], format_func=shown_as(label), index=None,
                     key="hl_code", placeholder="Choose a code…")
        st.button("Code", key="hl_apply", type="primary", on_click=_hl_code, args=("existing",),
                  icon=":material/label:")
        st.text_input("New code", key="hl_new", placeholder="Name of a new code")
        st.selectbox("Under", [c.id for c in codes], format_func=shown_as(label), index=None, key="hl_new_parent",
                     placeholder="Top level")
        st.button("Create and code", key="hl_new_go", on_click=_hl_code, args=("new",), icon=":material/add:")
        st.button(f"In vivo: a new code named \u201c{' '.join(sel['text'].split())[:60]}\u201d", key="hl_invivo",
                  on_click=_hl_code, args=("invivo",), icon=":material/format_quote:")
        st.button("Cancel", key="hl_cancel", type="tertiary", on_click=lambda: st.session_state.update(hl_sel=None))


def uncode_box(click: dict[str, Any], found: list[spans.SpanCoding], texts: dict[int, str],
               label: dict[int, str]) -> None:
    if "seg" in click:
        here = [c for c in found if c.segment_id == int(click["seg"]) and c.code_id == int(click["code"])]
    else:
        aid, off = int(click.get("answer", -1)), int(click.get("offset", -1))
        off = from_utf16(texts.get(aid, ""), off)
        here = [c for c in found if c.answer_id == aid and c.start <= off < c.end]
    if not here:
        return
    with st.container(border=True, key="hl_uncode_box"):
        st.markdown("**Coded here**")
        for c in here:
            name = label.get(c.code_id, f"#{c.code_id}")
            snippet = md_escape(c.text[:80])
            if c.coder == coder:
                st.button(f"Uncode \u201c{snippet}\u201d from {name}", key=f"hl_uncode_{c.segment_id}_{c.code_id}",
                          icon=":material/close:", on_click=_hl_uncode, args=(c.segment_id, c.code_id))
            else:
                st.caption(f"{c.coder}: {name} \u2014 \u201c{snippet}\u201d (another coder's coding)")


if mode == "highlight":
    highlight_panel()
else:
    panel()
