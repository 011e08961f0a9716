"""Phase 4, reviewing themes: each theme's coded extracts, counts, themes by question and by respondent group,
overlap between themes, segments not yet coded, and warnings for thin or near-duplicate themes."""

from __future__ import annotations

import difflib

import pandas as pd
import streamlit as st

from thematic import codebook, coding, corpus
from ui import store as ui_store
from ui.widgets import paginator, quote

THIN = 3
OVERLAP_WARN = 0.5
NAME_SIMILAR = 0.8

st.title("4 Review themes")
store = ui_store.get_store()
codes = codebook.list_codes(store)
if not codes:
    st.info("No themes yet: create codes while coding (phase 2) or accept candidates (phase 3).")
    st.stop()
counts = coding.code_counts(store)
depth = st.segmented_control(
    "Compare", ["Themes", "Themes and subthemes"], default="Themes", key="rv_depth", persist_state="session"
) or "Themes"
max_depth = 0 if depth == "Themes" else 1
level = [c for c in codes if c.depth <= max_depth]
label = {c.id: c.path_str for c in codes}

tab_x, tab_q, tab_g, tab_o, tab_u, tab_w = st.tabs(
    ["Extracts", "By question", "By group", "Overlap", "Not coded yet", "Warnings"], key="rv_tab", on_change="rerun")

with tab_x:
    if tab_x.open is not False:  # only the open tab does its work
        ids = [c.id for c in codes]
        pick = st.selectbox(
            "Theme or code",
            ids,
            format_func=lambda i: f"{label[i]} ({counts.get(i, (0, 0))[0]} segments, {counts.get(i, (0, 0))[1]} respondents)",
            key="rv_code",
            persist_state="session",
            on_change=lambda: st.session_state.update(rv_page=1),
        )
        if pick is not None:
            code = next(c for c in codes if c.id == pick)
            segs_n, resp_n = counts.get(code.id, (0, 0))
            m1, m2, m3 = st.columns(3)
            m1.metric("Segments", f"{segs_n:,}")
            m2.metric("Respondents", f"{resp_n:,}")
            m3.metric("Subcodes", len(codebook.descendant_ids(store, code.id)))
            if code.definition:
                st.caption(f"Definition: {code.definition}")
            total = corpus.count_segments(store, code_id=code.id)
            first = paginator("rv_page", total)
            segs = corpus.segments(store, code_id=code.id, offset=first, limit=25)
            metas = corpus.form_meta(store, [s.form_id for s in segs])
            for s in segs:
                with st.container(border=True):
                    quote(s, metas.get(s.form_id, {}))
            if not segs:
                st.info("No extracts coded with this theme yet.")


@st.cache_data(ttl=60, max_entries=32, show_spinner=False)
def by_group(key: tuple[str, int, int], group: str) -> dict[int, dict[str, tuple[int, int]]]:
    return coding.code_counts_by_group(ui_store.get_store(), group)


def heatmap(data: dict[int, dict[str, tuple[int, int]]], measure: int, columns: list[str], wkey: str) -> None:
    rows = {label[c.id]: {g: v[measure] for g, v in data.get(c.id, {}).items()} for c in level}
    df = pd.DataFrame.from_dict(rows, orient="index").fillna(0).astype(int)
    if columns:
        df = df.reindex(columns=[c for c in columns if c in df.columns] + [c for c in df.columns if c not in columns])
    if df.empty or df.shape[1] == 0:
        st.info("Nothing coded yet.")
        return
    st.dataframe(df.style.background_gradient(cmap="Blues", axis=None), key=wkey)


key = ui_store.version(store)
with tab_q:
    if tab_q.open is not False:  # only the open tab does its work
        measure = st.radio("Count", ["Respondents", "Segments"], key="rv_measure_q", horizontal=True)
        heatmap(by_group(key, "question"), 1 if measure == "Respondents" else 0, [q.key for q in corpus.questions(store)], "rv_heat_question")
        st.caption("Columns are questions; a theme can draw on answers to several questions.")

with tab_g:
    if tab_g.open is not False:  # only the open tab does its work
        fields = corpus.meta_fields(store)
        if not fields:
            st.info("The forms carry no respondent metadata.")
        else:
            field = st.selectbox("Respondent group", fields, key="rv_group", persist_state="session")
            measure_g = st.radio("Count", ["Respondents", "Segments"], key="rv_measure_g", horizontal=True)
            heatmap(by_group(key, field), 1 if measure_g == "Respondents" else 0,
                    [v for v, _ in corpus.meta_values(store, field)], "rv_heat_group")

overlap = coding.code_overlap(store, [c.id for c in level]) if (tab_o.open is not False or tab_w.open is not False) else {}
with tab_o:
    if tab_o.open is not False:  # only the open tab does its work
        if not overlap:
            st.info("No two themes share a segment.")
        else:
            rows = []
            for (a, b), n in sorted(overlap.items(), key=lambda kv: -kv[1]):
                smaller = max(1, min(counts.get(a, (0, 0))[0], counts.get(b, (0, 0))[0]))
                rows.append({"theme A": label[a], "theme B": label[b], "segments coded with both": n,
                             "share of the smaller theme": n / smaller})
            st.dataframe(
                pd.DataFrame(rows), hide_index=True, key="rv_overlap_df",
                column_config={"share of the smaller theme": st.column_config.ProgressColumn(format="percent", min_value=0,
                                                                                            max_value=1)},
            )

with tab_u:
    if tab_u.open is not False:  # only the open tab does its work
        n_un = corpus.count_segments(store, coded=False)
        st.metric("Segments with no code yet", f"{n_un:,}")
        first_u = paginator("rv_uncoded_page", n_un)
        segs_u = corpus.segments(store, coded=False, offset=first_u, limit=25)
        metas_u = corpus.form_meta(store, [s.form_id for s in segs_u])
        for s in segs_u:
            with st.container(border=True):
                quote(s, metas_u.get(s.form_id, {}))
        if segs_u:
            st.page_link("views/initial_codes.py", label="Code them in phase 2", icon=":material/label:")

with tab_w:
    if tab_w.open is not False:  # only the open tab does its work
        warned = 0
        for c in level:
            resp = counts.get(c.id, (0, 0))[1]
            if resp < THIN:
                warned += 1
                st.warning(f"**{c.path_str}** is thin: {resp} respondent(s) (fewer than {THIN}). Merge it, or keep it "
                           "and say why.", icon=":material/warning:")
        for (a, b), n in overlap.items():
            smaller = max(1, min(counts.get(a, (0, 0))[0], counts.get(b, (0, 0))[0]))
            if n / smaller >= OVERLAP_WARN:
                warned += 1
                st.warning(f"**{label[a]}** and **{label[b]}** share {n} segments ({n / smaller:.0%} of the smaller): "
                           "are they one theme?", icon=":material/join:")
        for i, a in enumerate(level):
            for b in level[i + 1 :]:
                ratio = difflib.SequenceMatcher(None, a.name.casefold(), b.name.casefold()).ratio()
                if ratio >= NAME_SIMILAR:
                    warned += 1
                    st.warning(f"**{a.path_str}** and **{b.path_str}** have similar names ({ratio:.0%}).",
                               icon=":material/content_copy:")
        if not warned:
            st.success("No thin or near-duplicate themes.", icon=":material/check_circle:")
