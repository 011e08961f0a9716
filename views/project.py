"""Project: open or create a project file, import forms (preview, correct the guessed mapping, then write),
set the title, import a codebook."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from thematic import codebook, reliability
from thematic.commands import read_codebook_file
from ui import ingest_panel
from ui import store as ui_store
from ui.errors import guard


@st.cache_data(show_spinner=False, max_entries=16)
def _shipped_codebook(path: str, mtime: float) -> codebook.Codebook:
    """A shipped codebook, parsed once per file version (not on every rerun of the page)."""
    return read_codebook_file(path)


st.title("Project")
path = ui_store.project_path()
store = ui_store.try_store()

# ------------------------------------------------------------------ which file
with st.container(border=True):
    st.subheader("Project file")
    st.write(f"Open: `{path}`")
    if store is not None:
        counts = store.counts()
        cols = st.columns(6)
        for col, name in zip(cols, ("forms", "questions", "answers", "segments", "codes", "codings")):
            col.metric(name.capitalize(), f"{counts[name]:,}")
    known = sorted({str(p) for p in (ui_store.APP_DIR / "projects").glob("*.db")} | {str(path)})
    c1, c2, c3 = st.columns([2, 2, 1], vertical_alignment="bottom")
    picked = c1.selectbox("Open a project file", known, index=known.index(str(path)), key="project_target")
    typed = c2.text_input("…or type a path (a new file is created)", key="project_new_path",
                          placeholder="e.g. projects/evaluation.db")
    target = typed.strip() or picked
    if c3.button("Open", key="project_open", icon=":material/folder_open:"):
        with guard():
            t = Path(str(target)).expanduser()
            if t.suffix.lower() != ".db":
                st.error(f"{t.name}: a project file ends in .db")
            elif t.resolve() == path.resolve():
                st.info(f"{t} is already open.")
            else:
                created = not t.exists()
                ui_store.open_project(t)
                st.session_state["project_flash"] = f"{'Created' if created else 'Opened'} {t}"
                st.rerun()
    flash = st.session_state.pop("project_flash", None)
    if flash:
        st.success(flash)
if store is None:
    st.stop()

# ------------------------------------------------------------------ title
with st.container(border=True):
    st.subheader("Title")
    title = store.get_setting("title", "") or ""
    with st.form("project_title_form", border=False):
        new_title = st.text_input("Study title (shown at the top of the theme tree and reports)", value=title,
                                  key="project_title")
        blind = st.toggle(
            "Blind coding: coders see only their own codings",
            value=reliability.blind_mode(store),
            key="project_blind",
        )
        if st.form_submit_button("Save settings", key="project_title_save"):
            with guard():
                if new_title.strip() != title:
                    store.set_setting("title", new_title.strip(), actor=ui_store.actor())
                if blind != reliability.blind_mode(store):
                    reliability.set_blind_mode(store, blind, actor=ui_store.actor())
                ui_store.changed()
                st.rerun()

# ------------------------------------------------------------------ forms
with st.container(border=True):
    st.subheader("Import forms")
    ingest_panel.render(store)

# ------------------------------------------------------------------ codebook
with st.container(border=True):
    st.subheader("Import a codebook")
    st.caption("A starting set of codes (YAML or CSV from `codebooks/`, or REFI-QDA .qdc). Existing codes are reused.")
    shipped = sorted(p for p in (ui_store.APP_DIR / "codebooks").glob("*")
                     if p.suffix.lower() in (".yaml", ".yml", ".csv", ".qdc"))
    source = st.radio("Source", ["Shipped codebook", "Upload a file"], key="project_cb_source", horizontal=True)
    book = None
    if source == "Shipped codebook":
        pick = st.selectbox("Codebook", shipped, format_func=lambda p: p.name, key="project_cb_file")
        if pick is not None:
            with guard():
                book = _shipped_codebook(str(pick), pick.stat().st_mtime)
    else:
        up = st.file_uploader("Codebook file", type=["yaml", "yml", "csv", "qdc"], key="project_cb_upload")
        if up is not None:
            with guard():
                book = read_codebook_file(up)
    if book is not None:
        st.caption(f"**{book.title or book.name}**: {len(book)} codes, {len(book.codes)} at the top level")
        with st.expander("Codes in this codebook"):
            st.text("\n".join("  " * (len(p) - 1) + "• " + e.name for p, e in book.walk()))
        if st.button("Import codebook", key="project_cb_import", icon=":material/download:"):
            with guard():
                n = codebook.import_codebook(store, book, actor=ui_store.actor())
                ui_store.changed()
                st.success(f"Imported '{book.name}': {n} new codes.")
