"""Phase 5, defining and naming themes: name, definition, what is in and what is out, and the illustrative
quotes each theme and subtheme will be reported with."""

from __future__ import annotations

import streamlit as st

from thematic import codebook, coding, corpus
from thematic.errors import ThematicError
from thematic.export.report import written_definitions
from ui import store as ui_store
from ui.errors import show
from ui.widgets import md_escape

QUOTE_CHOICES = 25  # extracts listed at once; the search reaches every coded extract

st.title("5 Define and name themes")
store = ui_store.get_store()
codes = codebook.list_codes(store)
if not codes:
    st.info("No themes yet: accept candidate themes or arrange codes into themes in phase 3.")
    st.page_link("views/themes.py", label="3 Search for themes", icon=":material/bubble_chart:")
    st.stop()
counts = coding.code_counts(store)
written = written_definitions(store)  # the machine's text on an accepted candidate is not a definition
only_top = st.toggle("Themes and subthemes only", value=True, key="df_top", persist_state="session")
shown = [c for c in codes if c.depth <= 1] if only_top else codes
todo = [c for c in shown if c.id not in written]
st.caption(f"{len(shown) - len(todo)} of {len(shown)} defined.")
ids = [c.id for c in shown]
cid = st.selectbox(
    "Theme",
    ids,
    format_func=lambda i: ("    " * next(c.depth for c in shown if c.id == i))
    + next(c.path_str for c in shown if c.id == i)
    + ("" if i in written else "  · no definition yet"),
    key="df_code",
    persist_state="session",
)
if cid is None:
    st.stop()
code = codebook.get_code(store, cid)


def save(code_id: int, machine_text: bool) -> None:
    kw: dict[str, str | None] = {
        f: st.session_state.get(f"df_{f}_{code_id}", "") for f in ("name", "definition", "includes", "excludes")}
    if machine_text and not (kw["definition"] or "").strip():
        kw["definition"] = None  # nothing written yet: leave the clustering note where it is
    try:
        codebook.update_code(store, code_id, actor=ui_store.actor(), **kw)
    except ThematicError as exc:
        st.session_state["df_error"] = str(exc)
        return
    st.session_state["df_ok"] = "Saved."
    ui_store.changed()


def save_quotes(code_id: int) -> None:
    """Save the ticked extracts as the theme's quotes: those already chosen keep their order, new ones follow in
    the order shown."""
    shown_ids = list(st.session_state.get(f"df_quote_rows_{code_id}") or [])
    before = list(st.session_state.get(f"df_quote_before_{code_id}") or [])
    ticked = {sid for sid in shown_ids if st.session_state.get(f"df_quote_{code_id}_{sid}")}
    chosen = [sid for sid in before if sid in ticked or sid not in shown_ids]
    chosen += [sid for sid in shown_ids if sid in ticked and sid not in chosen]
    try:
        codebook.set_quotes(store, code_id, chosen, actor=ui_store.actor())
    except ThematicError as exc:
        st.session_state["df_error"] = str(exc)
        return
    st.session_state["df_ok"] = f"{len(chosen)} quote{'' if len(chosen) == 1 else 's'} chosen."
    ui_store.changed()


show("df")
left, right = st.columns(2)
with left, st.form(f"df_form_{cid}", border=True):
    st.subheader("Name and definition")
    st.text_input("Name", value=code.name, key=f"df_name_{cid}")
    machine = bool(code.definition) and cid not in written
    st.text_area("Definition: what the theme is about", value="" if machine else code.definition,
                 key=f"df_definition_{cid}")
    if machine:
        st.caption(f"Not a definition yet: the clustering noted *{md_escape(code.definition)}*")
    st.text_area("Includes: what belongs in it", value=code.includes, key=f"df_includes_{cid}")
    st.text_area("Excludes: what does not (and where it goes instead)", value=code.excludes, key=f"df_excludes_{cid}")
    st.form_submit_button("Save definition", key="df_save", type="primary", on_click=save, args=(cid, machine))

with right:
    st.subheader("Illustrative quotes")
    segs_n, resp_n = counts.get(cid, (0, 0))
    st.caption(f"{segs_n} coded segments from {resp_n} respondents. Pick the quotes the report will show, in order.")
    chosen = codebook.quotes(store, cid)
    words = st.text_input("Find coded extracts containing (words, \"phrase\")", key=f"df_quote_search_{cid}",
                          placeholder="search every segment coded with this theme or below it")
    search = words.strip() or None
    matching = corpus.count_segments(store, code_id=cid, search=search)
    pool = [s.id for s in corpus.segments(store, code_id=cid, search=search, limit=QUOTE_CHOICES)]
    rows = list(dict.fromkeys([*chosen, *pool]))
    texts = {s.id: s for s in corpus.get_segments(store, rows)} if rows else {}
    if not rows:
        st.info("No coded extracts contain these words." if search else "Code some segments with this theme first.")
    else:
        st.session_state[f"df_quote_rows_{cid}"] = rows
        st.session_state[f"df_quote_before_{cid}"] = chosen
        # Tick boxes in a form: nothing changes size when focus moves, so the first click on Save always lands.
        with st.form(f"df_quotes_form_{cid}", border=True):
            st.form_submit_button("Save quotes", key="df_save_quotes", type="primary", on_click=save_quotes,
                                  args=(cid,), icon=":material/format_quote:")
            for sid in rows:
                seg = texts[sid]
                label = f"{md_escape(seg.text)}  \n:gray[respondent {md_escape(seg.external_id)} · {md_escape(seg.question)}]"
                st.checkbox(label, value=sid in chosen, key=f"df_quote_{cid}_{sid}")
        more = matching - len(pool)
        st.caption((f"{len(chosen)} chosen (ticked at the top, in report order). " if chosen else "")
                   + (f"Showing {len(pool)} of {matching:,} matching extracts: narrow the search to see others."
                      if more > 0 else f"{matching:,} matching extract{'' if matching == 1 else 's'} shown."))

children = [c for c in codes if c.parent_id == cid]
if children:
    st.subheader("Under this theme")
    for c in children:
        st.markdown(f"- **{md_escape(c.name)}** — {md_escape(c.definition) if c.id in written else '*no definition yet*'}")
