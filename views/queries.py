"""Queries: keyword in context across every question, codes by a metadata field (counts with row and column
percentages), and which codes occur together; each downloadable as an Excel workbook (``thematic.queries``)."""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from thematic import coding, corpus, queries
from ui import store as ui_store
from ui.errors import guard
from ui.widgets import md_escape

SHOWN = 300  # occurrences listed on the page; the Excel download has every one

st.title("Queries")
store = ui_store.get_store()


@st.cache_data(max_entries=32, show_spinner="Searching…")
def _kwic(key: tuple[str, int, int], words: str, question_id: int | None, width: int) -> queries.Kwic:
    return queries.kwic(ui_store.get_store(), words, width=width, question_id=question_id, limit=SHOWN)


@st.cache_data(max_entries=16, show_spinner="Counting…")
def _crosstab(key: tuple[str, int, int], field: str, unit: str, coder: str | None, depth: int | None) -> queries.Table:
    return queries.crosstab(ui_store.get_store(), field, unit=unit, coder=coder, max_depth=depth)


@st.cache_data(max_entries=16, show_spinner="Counting…")
def _cooc(key: tuple[str, int, int], unit: str, coder: str | None, depth: int | None) -> queries.Table:
    return queries.cooccurrence(ui_store.get_store(), unit=unit, coder=coder, max_depth=depth)


def _frame(t: queries.Table, what: str) -> pd.DataFrame:
    values = {"Count": t.counts, "Row %": t.row_pct(), "Column %": t.column_pct()}[what]
    df = pd.DataFrame(values, index=t.labels(), columns=t.columns)
    if what == "Count":
        df["Total"] = t.row_totals
    df.index.name = "Code"
    return df


def _download(data_fn: Callable[[], bytes], name: str, key: str) -> None:
    st.download_button("Download as Excel", data=data_fn, file_name=name, key=key, icon=":material/download:",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", on_click="ignore")


version = ui_store.version(store)
coders = coding.coders(store)
DEPTHS = {"Themes": 0, "Themes and subthemes": 1, "All codes": None}
tab_kwic, tab_cross, tab_cooc = st.tabs(["Keyword in context", "Codes by respondent group", "Co-occurrence"],
                                        key="qy_tab", on_change="rerun")

with tab_kwic:
    if tab_kwic.open is not False:
        c1, c2, c3 = st.columns([3, 2, 1], vertical_alignment="bottom")
        words = c1.text_input("Word or phrase (whole words, any case)", key="qy_words", persist_state="session")
        qs = corpus.questions(store)
        qid = c2.selectbox("Question", [None, *[q.id for q in qs]], key="qy_question", persist_state="session",
                           format_func=lambda i: "All questions" if i is None else
                           next(q.label or q.key for q in qs if q.id == i))
        width = int(c3.number_input("Context (characters)", 20, 200, 60, step=10, key="qy_width"))
        if words.strip():
            with guard():
                k = _kwic(version, words, qid, width)
                st.caption(f"{k.total:,} occurrence{'' if k.total == 1 else 's'} in {k.answers:,} "
                           f"answer{'' if k.answers == 1 else 's'}" + (
                               f"; the first {len(k.hits):,} are listed, the Excel file has all" if len(k.hits) < k.total
                               else ""))
                if k.hits:
                    df = pd.DataFrame([{"respondent": h.respondent, "left": h.left, "match": h.match,
                                        "right": h.right, "question": h.question} for h in k.hits])
                    st.dataframe(df, hide_index=True, key="qy_kwic_table", width="stretch", column_config={
                        "respondent": st.column_config.TextColumn("respondent", width=110),
                        "left": st.column_config.TextColumn("…left", width=300, alignment="right"),
                        "match": st.column_config.TextColumn("match", width=100, alignment="center"),
                        "right": st.column_config.TextColumn("right…", width=300),
                        "question": st.column_config.TextColumn("question", width=220)})
                    _download(lambda: queries.to_xlsx(queries.kwic(store, words, width=width, question_id=qid, limit=None)),
                              "keyword_in_context.xlsx", "qy_kwic_xlsx")
        else:
            st.caption("Type a word or phrase to see every place respondents used it, in every question.")

with tab_cross:
    if tab_cross.open is not False:
        fields = corpus.meta_fields(store)
        if not fields:
            st.info("The forms carry no metadata (profession, site, …) to compare groups by.")
        else:
            c1, c2, c3, c4, c5 = st.columns([2, 1.4, 1.6, 1.6, 1.4], vertical_alignment="bottom")
            field = c1.selectbox("Respondent field", fields, key="qy_field", persist_state="session")
            unit = c2.radio("Count", list(queries.UNITS), key="qy_unit", horizontal=False)
            depth_label = c3.selectbox("Codes", list(DEPTHS), key="qy_depth", index=1)
            who = c4.selectbox("Codings of", ["(everyone)", *coders], key="qy_coder")
            show_as = c5.radio("Show", ["Count", "Row %", "Column %"], key="qy_show")
            coder = None if who == "(everyone)" else who
            with guard():
                t = _crosstab(version, str(field), str(unit), coder, DEPTHS[str(depth_label)])
                if not t.rows:
                    st.info("No codes yet.")
                else:
                    st.dataframe(_frame(t, str(show_as)), key="qy_cross_table", width="stretch")
                    st.caption(md_escape(t.note) + " Base: " + "; ".join(
                        f"{md_escape(c)}: {n:,}" for c, n in zip(t.columns, t.column_bases)) + ".")
                    _download(lambda: queries.to_xlsx(t), f"codes_by_{field}.xlsx".replace(" ", "_"),
                              "qy_cross_xlsx")

with tab_cooc:
    if tab_cooc.open is not False:
        c1, c2, c3 = st.columns(3, vertical_alignment="bottom")
        unit_c = c1.radio("Count", ["segments", "respondents"], key="qy_co_unit", horizontal=True)
        depth_c = c2.selectbox("Codes", list(DEPTHS), key="qy_co_depth", index=1)
        who_c = c3.selectbox("Codings of", ["(everyone)", *coders], key="qy_co_coder")
        with guard():
            t2 = _cooc(version, str(unit_c), None if who_c == "(everyone)" else who_c, DEPTHS[str(depth_c)])
            if not t2.rows:
                st.info("No codes yet.")
            else:
                # Columns by outline number (the row labels carry number and name); a code and its own ancestor
                # are not compared: blank.
                df2 = pd.DataFrame([[None if t2.related[i][j] else n for j, n in enumerate(row)]
                                    for i, row in enumerate(t2.counts)], index=t2.labels(), columns=t2.numbers,
                                   dtype="Int64")
                df2.index.name = "Code"
                st.dataframe(df2.style.format(na_rep="", precision=0), key="qy_cooc_table", width="stretch")
                st.caption(md_escape(t2.note))
                _download(lambda: queries.to_xlsx(t2), "code_cooccurrence.xlsx", "qy_cooc_xlsx")
