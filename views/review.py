"""Phase 4, reviewing themes: each theme's coded extracts, counts, themes by question and by respondent group,
overlap between themes, segments not yet coded, and warnings for thin or near-duplicate themes."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from thematic import codebook, coding, corpus, reliability, review, spans
from thematic.models import Code, Coding
from ui import store as ui_store
from ui.errors import attempt, show
from ui.widgets import highlight, meta_line, paginator, quote, shown_as

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

def _uncode(seg_id: int, code_id: int) -> None:
    if attempt("rv", spans.uncode, store, seg_id, code_id, str(ui_store.actor())) is not None:
        st.session_state["rv_ok"] = "Uncoded."
        ui_store.changed()


def _recode(seg_id: int, code_id: int) -> None:
    target = st.session_state.get("rv_recode_to")
    if target is None:
        st.session_state["rv_error"] = "Choose the code to recode it to first (Recode to, above the extracts)."
        return
    if attempt("rv", spans.recode, store, seg_id, code_id, int(target), str(ui_store.actor())) is not None:
        st.session_state["rv_ok"] = f"Recoded to {label.get(int(target), target)}."
        ui_store.changed()


def _quote(code_id: int, seg_id: int, on: bool) -> None:
    chosen = codebook.quotes(store, code_id)
    new = [*chosen, seg_id] if on else [s for s in chosen if s != seg_id]
    if attempt("rv", codebook.set_quotes, store, code_id, new, actor=ui_store.actor()) is None:
        return
    st.session_state["rv_ok"] = "Marked as a quote." if on else "No longer a quote."
    ui_store.changed()


def extracts(code: Code) -> None:
    """Every extract coded with the theme (or beneath it), each inside its whole answer with the form's metadata;
    the analyst can uncode it, recode it, or mark it as one of the theme's quotes. Search reaches every extract."""
    show("rv")
    coder = ui_store.actor()
    search = st.text_input('Only extracts containing (words, "phrase")', key="rv_search",
                           on_change=lambda: st.session_state.update(rv_page=1))
    total = corpus.count_segments(store, code_id=code.id, search=search or None)
    first = paginator("rv_page", total)
    segs = corpus.segments(store, code_id=code.id, search=search or None, offset=first, limit=25)
    metas = corpus.form_meta(store, [s.form_id for s in segs])
    texts = spans.answer_texts(store, [s.answer_id for s in segs])
    under = {code.id, *codebook.descendant_ids(store, code.id)}
    on_seg: dict[int, list[Coding]] = {}
    blind = reliability.blind_mode(store) and bool(coder)  # blind coding: only your own codings are shown
    for c in coding.codings(store, coder=str(coder) if blind else None, segment_ids=[s.id for s in segs]):
        on_seg.setdefault(c.segment_id, []).append(c)
    quoted = set(codebook.quotes(store, code.id))
    if coder:
        st.selectbox("Recode to", [c.id for c in codes], format_func=shown_as(label), index=None, key="rv_recode_to",
                     placeholder="Choose a code, then press Recode on an extract",
                     help="Moves your coding of that extract from its code to this one (undoable)")
    target = st.session_state.get("rv_recode_to")
    for s in segs:
        with st.container(border=True, key=f"rv_x_{s.id}"):
            text = texts.get(s.answer_id, s.text)
            st.markdown(highlight(text, s.start, s.end), unsafe_allow_html=True)
            st.caption(f"Respondent {s.external_id} · {s.question} · {meta_line(metas.get(s.form_id, {}))}")
            here = on_seg.get(s.id, [])
            st.caption("Coded: " + "; ".join(f"{label.get(c.code_id, c.code_id)} ({c.coder})" for c in here))
            mine = [c for c in here if c.code_id in under and c.coder == coder]
            q = s.id in quoted
            cols = st.columns([1.2, 2.2, 2.2] if mine else [1], vertical_alignment="bottom")
            cols[0].button("Unmark quote" if q else "Mark as quote", key=f"rv_quote_{s.id}",
                           icon=":material/format_quote:", on_click=_quote, args=(code.id, s.id, not q),
                           type="primary" if q else "secondary")
            for c in mine[:1]:
                cols[1].button(f"Uncode from {label.get(c.code_id, c.code_id)}", key=f"rv_uncode_{s.id}_{c.code_id}",
                               icon=":material/close:", on_click=_uncode, args=(s.id, c.code_id))
                cols[2].button(f"Recode to {label[target]}" if target in label else "Recode…",
                               key=f"rv_recode_{s.id}_{c.code_id}", icon=":material/swap_horiz:",
                               on_click=_recode, args=(s.id, c.code_id),
                               help=None if target in label else "Choose the code in 'Recode to' above first")
    if not segs:
        st.info("No extracts coded with this theme yet." if not search else "No extract of this theme has those words.")
    if not coder:
        st.caption("Choose your coder name in the sidebar to uncode or recode your own codings.")


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
            extracts(code)


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

overlap = coding.code_overlap(store, [c.id for c in level]) if tab_o.open is not False else {}
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
        found = review.warnings(store, max_depth=max_depth)
        for w in found:
            if w.kind == "thin":
                st.warning(f"**{label[w.codes[0]]}** is thin: {int(w.value)} respondent(s) (fewer than "
                           f"{review.THIN_RESPONDENTS}). Merge it, or keep it and say why.", icon=":material/warning:")
            elif w.kind == "overlap":
                a, b = w.codes
                st.warning(f"**{label[a]}** and **{label[b]}** share {w.shared} segments ({w.value:.0%} of the "
                           "smaller): are they one theme?", icon=":material/join:")
            else:
                a, b = w.codes
                st.warning(f"**{label[a]}** and **{label[b]}** have similar names ({w.value:.0%}).",
                           icon=":material/content_copy:")
        if not found:
            st.success("No thin or near-duplicate themes.", icon=":material/check_circle:")
