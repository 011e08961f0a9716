"""Phase 1, familiarising: read the answers (by question or by respondent), search, filter by metadata, see word
and phrase frequencies, and keep a reflexive journal and notes on answers."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from thematic import corpus, memos
from ui import store as ui_store
from ui.errors import guard
from ui.widgets import md_escape, meta_filter, meta_line, paginator, shown_as

st.title("1 Familiarise yourself with the data")
store = ui_store.get_store()
questions = corpus.questions(store)
if not questions:
    st.info("No forms yet: import them on the Project page.")
    st.page_link("views/project.py", label="Go to Project", icon=":material/folder_open:")
    st.stop()
qlabel = {q.id: f"{q.position + 1}. {q.label}" for q in questions}


@st.cache_data(ttl=300, max_entries=32, show_spinner="Counting words…")
def frequencies(key: tuple[str, int], question_id: int, ngram: int, top: int = 30) -> pd.DataFrame:
    """The most frequent words (ngram=1) or two-word phrases (ngram=2) in a question's answers, without English
    stop words; counts are occurrences and answers using the term."""
    from sklearn.feature_extraction.text import CountVectorizer

    texts = [a["text"] for a in corpus.answers(ui_store.get_store(), question_id=question_id)]
    if not texts:
        return pd.DataFrame(columns=["term", "occurrences", "answers"])
    vec = CountVectorizer(stop_words="english", ngram_range=(ngram, ngram), min_df=1, token_pattern=r"(?u)\b[a-zA-Z][a-zA-Z']+\b")
    try:
        x = vec.fit_transform(texts)
    except ValueError:  # only stop words
        return pd.DataFrame(columns=["term", "occurrences", "answers"])
    occ = x.sum(axis=0).A1
    docs = (x > 0).sum(axis=0).A1
    terms = vec.get_feature_names_out()
    df = pd.DataFrame({"term": terms, "occurrences": occ, "answers": docs})
    return df.sort_values(["occurrences", "term"], ascending=[False, True]).head(top).reset_index(drop=True)


def note_box(answer_id: int, notes: list[memos.Memo], prefix: str) -> None:
    """The notes on one answer, and a popover to add one."""
    for m in notes:
        st.caption(f":material/sticky_note_2: {m.coder or 'analyst'}: {m.body}")
    with (
        st.popover("Note", icon=":material/add_notes:", key=f"{prefix}_notepop_{answer_id}"),
        st.form(f"{prefix}_noteform_{answer_id}", border=False),
    ):
        body = st.text_area("A note on this answer", key=f"{prefix}_note_{answer_id}")
        if st.form_submit_button("Save note", key=f"{prefix}_notesave_{answer_id}"):
            with guard():
                memos.add_memo(store, body, answer_id=answer_id, coder=ui_store.actor())
                ui_store.changed()
                st.rerun()


def answer_notes() -> dict[int, list[memos.Memo]]:
    out: dict[int, list[memos.Memo]] = {}
    for m in memos.memos(store):
        if m.answer_id is not None:
            out.setdefault(m.answer_id, []).append(m)
    return out


def _first_page() -> None:
    st.session_state["fam_page"] = 1


tab_q, tab_r, tab_w, tab_j = st.tabs(
    ["By question", "By respondent", "Words and phrases", "Journal and notes"], key="fam_tab", on_change="rerun")

with tab_q:
    if tab_q.open is not False:  # only the open tab does its work
        c1, c2 = st.columns([2, 3])
        qid = c1.selectbox("Question", list(qlabel), format_func=shown_as(qlabel), key="fam_question",
                           persist_state="session", on_change=_first_page)
        search = c2.text_input(
            'Search (all words must occur; use "quotes" for a phrase)', key="fam_search", persist_state="session",
            on_change=_first_page,
        )
        with st.expander("Filter by respondent metadata", icon=":material/filter_alt:"):
            meta = meta_filter(store, "fam_meta")
        total = corpus.count_answers(store, question_id=qid, search=search or None, meta=meta or None)
        first = paginator("fam_page", total)
        rows = corpus.answers(store, question_id=qid, search=search or None, meta=meta or None, offset=first, limit=25)
        fmeta = corpus.form_meta(store, [r["form_id"] for r in rows])
        notes = answer_notes()
        for r in rows:
            with st.container(border=True):
                st.markdown(md_escape(r["text"]))
                c1, c2 = st.columns([5, 1])
                c1.caption(f"Respondent {r['external_id']} · {meta_line(fmeta.get(r['form_id'], {}))}")
                with c2:
                    note_box(r["id"], notes.get(r["id"], []), "fam_q")
        if not rows:
            st.info("No answers match.")

with tab_r:
    if tab_r.open is not False:  # only the open tab does its work
        n_forms = store.counts()["forms"]
        c1, c2 = st.columns([1, 3], vertical_alignment="bottom")
        idx = c1.number_input(
            f"Respondent (1 to {n_forms:,})", min_value=1, max_value=max(1, n_forms), step=1, key="fam_form_index",
            persist_state="session",
        )
        form = corpus.forms(store, offset=int(idx) - 1, limit=1)
        if form:
            f = form[0]
            c2.markdown(f"**Respondent {f.external_id}** · {meta_line(f.meta)}")
            notes = answer_notes()
            for a in corpus.answers(store, form_id=f.id):
                with st.container(border=True):
                    st.caption(md_escape(qlabel.get(a["question_id"], a["question"])))
                    st.markdown(md_escape(a["text"]))
                    note_box(a["id"], notes.get(a["id"], []), "fam_r")

with tab_w:
    if tab_w.open is not False:  # only the open tab does its work
        qid_w = st.selectbox("Question", list(qlabel), format_func=shown_as(qlabel), key="fam_words_question",
                             persist_state="session")
        key = (store.path, store.counts()["answers"])  # the texts change only when forms come or go, not on coding
        c1, c2 = st.columns(2)
        with c1:
            st.subheader("Words")
            st.dataframe(frequencies(key, qid_w, 1), hide_index=True, key="fam_words_df")
        with c2:
            st.subheader("Phrases (two words)")
            st.dataframe(frequencies(key, qid_w, 2), hide_index=True, key="fam_phrases_df")
        st.caption("English stop words are left out. Search for a term in the first tab to read it in context.")

with tab_j:
    if tab_j.open is not False:  # only the open tab does its work
        st.subheader("Reflexive journal")
        with st.form("fam_journal_form", clear_on_submit=True):
            phase = st.selectbox("Phase", list(memos.PHASES), format_func=lambda p: f"{p}. {memos.PHASES[p]}",
                                 key="fam_journal_phase")
            title = st.text_input("Title (optional)", key="fam_journal_title")
            body = st.text_area("Entry: what you noticed, assumptions, decisions", key="fam_journal_body")
            if st.form_submit_button("Add journal entry", key="fam_journal_add", icon=":material/edit:"):
                with guard() as g:
                    memos.add_memo(store, body, phase=int(phase), title=title, coder=ui_store.actor())
                if g.ok:
                    ui_store.changed()
                    st.toast("Journal entry saved")
        entries = memos.memos(store)
        journal = [m for m in entries if m.phase is not None]
        free = [m for m in entries if m.phase is None]
        for m in reversed(journal):
            with st.container(border=True):
                st.markdown(f"**Phase {m.phase}** · {m.title or 'untitled'} · {m.coder or 'analyst'} · {m.created_at[:16].replace('T', ' ')}")
                st.markdown(md_escape(m.body))
        st.subheader(f"Notes ({len(free)})")
        if free:
            st.dataframe(
                pd.DataFrame(
                    [{"when": m.created_at[:16].replace("T", " "), "by": m.coder or "analyst",
                      "on": ("answer" if m.answer_id else "segment" if m.segment_id else "code" if m.code_id else "-"),
                      "note": m.body} for m in reversed(free)]
                ),
                hide_index=True, key="fam_notes_df",
            )
