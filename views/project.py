"""Project: open, create or upload a project (by name, in the projects folder), import forms (preview, correct the guessed mapping, then write),
set the title, import a codebook."""

from __future__ import annotations

import re
from pathlib import Path

import streamlit as st

from thematic import codebook, projects, reliability
from thematic.commands import read_codebook_file
from ui import ingest_panel
from ui import store as ui_store
from ui.errors import guard
from ui.widgets import md_escape


@st.cache_data(show_spinner=False, max_entries=16)
def _shipped_codebook(path: str, mtime: float) -> codebook.Codebook:
    """A shipped codebook, parsed once per file version (not on every rerun of the page)."""
    return read_codebook_file(path)


st.title("Project")
name = ui_store.project_name()
folder = ui_store.projects_dir()
store = ui_store.try_store()


def _upload_name(file_name: str) -> str:
    """A project name suggested by an uploaded file's name (characters a name cannot hold become '-')."""
    stem = re.sub(r"[^A-Za-z0-9 _.()\-]+", "-", Path(file_name).stem).strip(" .-_") or "uploaded"
    return stem[: projects.MAX_NAME]


# ------------------------------------------------------------------ which project
with st.container(border=True):
    st.subheader("Project")
    st.write(f"Open: **{md_escape(name)}** (in the projects folder `{folder}`). The page address names it, so a "
             "reload or a bookmark keeps it, and another tab can have another project open.")
    if store is not None:
        counts = store.counts()
        cols = st.columns(6)
        for col, label in zip(cols, ("forms", "questions", "answers", "segments", "codes", "codings")):
            col.metric(label.capitalize(), f"{counts[label]:,}")
    known = projects.names(folder)
    open_tab, new_tab, upload_tab = st.tabs(["Open", "New project", "Upload a project file"], key="project_which")
    with open_tab:
        if known:
            c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
            picked = c1.selectbox("Project", known, index=known.index(name) if name in known else 0,
                                  key="project_target")
            if c2.button("Open", key="project_open", icon=":material/folder_open:"):
                with guard():
                    if picked == name and store is not None:
                        st.info(f"'{picked}' is already open.")
                    else:
                        ui_store.open_project(str(picked))
                        st.session_state["project_flash"] = f"Opened '{picked}'"
                        st.rerun()
        else:
            st.caption("No projects in the folder yet: create one.")
    with new_tab, st.form("project_new_form", border=False):
        c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
        new_name = c1.text_input("Name of the new project", key="project_new_name", max_chars=projects.MAX_NAME,
                                 placeholder="e.g. ward-evaluation-2025")
        if c2.form_submit_button("Create", key="project_create", icon=":material/add:"):
            with guard():
                ui_store.create_project(new_name)
                st.session_state["project_flash"] = f"Created '{projects.clean_name(new_name)}'"
                st.rerun()
    with upload_tab:
        st.caption("A thematic project file (.db) from a colleague or a backup. It is checked before it is copied "
                   "into the projects folder; an existing project is never replaced.")
        up = st.file_uploader("Project file", type=["db"], key="project_db_upload")
        if up is not None:
            c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
            as_name = c1.text_input("Save it as the project", value=_upload_name(up.name), key="project_db_name",
                                    max_chars=projects.MAX_NAME)
            if c2.button("Add and open", key="project_db_add", icon=":material/upload_file:"):
                with guard():
                    projects.add_file(folder, as_name, up.getvalue())
                    ui_store.open_project(as_name)
                    st.session_state["project_flash"] = f"Added and opened '{projects.clean_name(as_name)}'"
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
