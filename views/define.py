"""Phase 5, defining and naming themes: name, definition, what is in and what is out, and the illustrative
quotes each theme and subtheme will be reported with."""

from __future__ import annotations

import streamlit as st

from thematic import codebook, coding, corpus
from thematic.errors import ThematicError
from ui import store as ui_store
from ui.errors import show
from ui.widgets import md_escape

QUOTE_CHOICES = 60

st.title("5 Define and name themes")
store = ui_store.get_store()
codes = codebook.list_codes(store)
if not codes:
    st.info("No themes yet: accept candidate themes or arrange codes into themes in phase 3.")
    st.page_link("views/themes.py", label="3 Search for themes", icon=":material/bubble_chart:")
    st.stop()
counts = coding.code_counts(store)
only_top = st.toggle("Themes and subthemes only", value=True, key="df_top", persist_state="session")
shown = [c for c in codes if c.depth <= 1] if only_top else codes
todo = [c for c in shown if not c.definition]
st.caption(f"{len(shown) - len(todo)} of {len(shown)} defined.")
ids = [c.id for c in shown]
cid = st.selectbox(
    "Theme",
    ids,
    format_func=lambda i: ("    " * next(c.depth for c in shown if c.id == i))
    + next(c.path_str for c in shown if c.id == i)
    + ("" if next(c.definition for c in shown if c.id == i) else "  · no definition yet"),
    key="df_code",
    persist_state="session",
)
if cid is None:
    st.stop()
code = codebook.get_code(store, cid)


def save(code_id: int) -> None:
    kw = {f: st.session_state.get(f"df_{f}_{code_id}", "") for f in ("name", "definition", "includes", "excludes")}
    try:
        codebook.update_code(store, code_id, actor=ui_store.actor(), **kw)
    except ThematicError as exc:
        st.session_state["df_error"] = str(exc)
        return
    st.session_state["df_ok"] = "Saved."
    ui_store.changed()


def save_quotes(code_id: int) -> None:
    chosen = list(st.session_state.get(f"df_quotes_{code_id}") or [])
    try:
        codebook.set_quotes(store, code_id, chosen, actor=ui_store.actor())
    except ThematicError as exc:
        st.session_state["df_error"] = str(exc)
        return
    st.session_state["df_ok"] = f"{len(chosen)} quotes chosen."
    ui_store.changed()


show("df")
left, right = st.columns(2)
with left, st.form(f"df_form_{cid}", border=True):
    st.subheader("Name and definition")
    st.text_input("Name", value=code.name, key=f"df_name_{cid}")
    st.text_area("Definition: what the theme is about", value=code.definition, key=f"df_definition_{cid}")
    st.text_area("Includes: what belongs in it", value=code.includes, key=f"df_includes_{cid}")
    st.text_area("Excludes: what does not (and where it goes instead)", value=code.excludes, key=f"df_excludes_{cid}")
    st.form_submit_button("Save definition", key="df_save", type="primary", on_click=save, args=(cid,))

with right:
    st.subheader("Illustrative quotes")
    segs_n, resp_n = counts.get(cid, (0, 0))
    st.caption(f"{segs_n} coded segments from {resp_n} respondents. Pick the quotes the report will show, in order.")
    chosen = codebook.quotes(store, cid)
    pool = corpus.segments(store, code_id=cid, limit=QUOTE_CHOICES)
    options = list(dict.fromkeys([*chosen, *(s.id for s in pool)]))
    texts = {s.id: s for s in corpus.get_segments(store, options)} if options else {}
    if not options:
        st.info("Code some segments with this theme first.")
    else:
        with st.form(f"df_quotes_form_{cid}", border=False):
            st.multiselect(
                "Quotes",
                options,
                default=chosen,
                format_func=lambda i: f"“{texts[i].text[:140]}” ({texts[i].external_id})",
                key=f"df_quotes_{cid}",
            )
            st.form_submit_button("Save quotes", key="df_save_quotes", on_click=save_quotes, args=(cid,))
        for sid in chosen:
            s = texts.get(sid)
            if s:
                st.markdown("> " + md_escape(s.text))
                st.caption(f"Respondent {s.external_id} · {s.question}")
        if segs_n > QUOTE_CHOICES:
            st.caption(f"Showing the first {QUOTE_CHOICES} extracts as choices; review all of them on page 4.")

children = [c for c in codes if c.parent_id == cid]
if children:
    st.subheader("Under this theme")
    for c in children:
        st.markdown(f"- **{md_escape(c.name)}** — {md_escape(c.definition) if c.definition else '*no definition yet*'}")
