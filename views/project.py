"""Project: open, create or upload a project (by name, in the projects folder), import forms (preview, correct the guessed mapping, then write),
set the title, import a codebook."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import streamlit as st

from thematic import codebook, projects, reliability
from thematic.commands import read_codebook_file
from thematic.team import add_member as team_add_member
from thematic.team import members as team_members
from thematic.team import remove_member, set_member_role
from thematic.team.permissions import ROLES, cap
from ui import ingest_panel, signin
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
    team_mode = signin.team_dir() is not None
    where = "" if team_mode else f" (in the projects folder `{folder}`)"  # team mode: no server paths in the page
    st.write(f"Open: **{md_escape(name)}**{where}. The page address names it, so a "
             "reload or a bookmark keeps it, and another tab can have another project open.")
    if store is not None:
        counts = store.counts()
        cols = st.columns(6)
        for col, label in zip(cols, ("forms", "questions", "answers", "segments", "codes", "codings")):
            col.metric(label.capitalize(), f"{counts[label]:,}")
    known = projects.names(folder)
    if team_mode:  # the projects open to this user; leads create projects on the server (team create-project)
        known = [n for n in known if n in signin.visible_project_names()]
        open_tab = st.container()
        new_tab = upload_tab = None
    else:
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
        if team_mode:
            st.caption("You see the projects you are a member of. Leads create projects on the server: "
                       "`python -m thematic team create-project`.")
    if new_tab is not None and upload_tab is not None:
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
role = signin.project_role(store)  # None in single-user mode
with st.container(border=True):
    st.subheader("Title")
    title = store.get_setting("title", "") or ""
    if signin.may(store, "project.setting"):
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
    else:  # coders and viewers: the lead sets the title and reveals blind coding
        st.write(f"**{md_escape(title)}**" if title else "No title yet.")
        st.caption("Blind coding is **on**: you see only your own codings until the lead reveals everyone's."
                   if reliability.blind_mode(store) else "Blind coding is off: everyone's codings are shown.")


# ------------------------------------------------------------------ members (team mode)
def _members_panel() -> None:
    team = signin.team()
    if team is None or store is None:
        return
    with st.container(border=True):
        st.subheader("Members")
        rows = team_members(store)
        st.table(pd.DataFrame([(m.name, m.role) for m in rows], columns=["Name", "Role"]), hide_index=True,
                 width="content")
        if not signin.may(store, "project.members"):
            st.caption(f"You are a **{role}** in this project. A lead adds members and changes their roles.")
            return
        accounts = {a.name: a.role for a in team.users()}
        names = [m.name for m in rows]
        flash = st.session_state.pop("project_members_flash", None)
        add_tab, role_tab, remove_tab = st.tabs(["Add a member", "Change a role", "Remove a member"],
                                                key="project_members_tabs")
        with add_tab:
            outside = [n for n in accounts if n not in names]
            if not outside:
                st.caption("Every account of the team is a member. New accounts: `python -m thematic team add-user`.")
            else:
                with st.form("project_member_add", border=False):
                    c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
                    who = c1.selectbox("Account", outside, key="project_member_add_name",
                                       format_func=lambda n: f"{n} ({accounts[n]} in the team)")
                    as_role = c2.selectbox("Role", ROLES, index=1, key="project_member_add_role")
                    if c3.form_submit_button("Add", key="project_member_add_go", icon=":material/person_add:"):
                        with guard():
                            team_add_member(store, team, str(who), cap(str(as_role), accounts[str(who)]))
                            st.session_state["project_members_flash"] = (
                                f"Added {who} as {cap(str(as_role), accounts[str(who)])}.")
                            ui_store.changed()
                            st.rerun()
        with role_tab, st.form("project_member_role", border=False):
            c1, c2, c3 = st.columns([2, 1, 1], vertical_alignment="bottom")
            who = c1.selectbox("Member", names, key="project_member_role_name")
            to = c2.selectbox("New role", ROLES, key="project_member_role_to")
            if c3.form_submit_button("Change", key="project_member_role_go", icon=":material/manage_accounts:"):
                with guard():
                    set_member_role(store, team, str(who), str(to))
                    st.session_state["project_members_flash"] = f"{who} is now a {to} in this project."
                    ui_store.changed()
                    st.rerun()
        with remove_tab, st.form("project_member_remove", border=False):
            c1, c2 = st.columns([3, 1], vertical_alignment="bottom")
            who = c1.selectbox("Member", names, key="project_member_remove_name")
            if c2.form_submit_button("Remove", key="project_member_remove_go", icon=":material/person_remove:"):
                with guard():
                    remove_member(store, str(who))
                    st.session_state["project_members_flash"] = (
                        f"Removed {who}: they can no longer open this project (their codings stay). Undo puts "
                        "them back.")
                    ui_store.changed()
                    st.rerun()
        st.caption("A role in a project is never above the account's role in the team. Each change is in the audit "
                   "trail and can be undone.")
        if flash:
            st.success(flash)


_members_panel()
if not signin.may(store, "ingest"):
    st.stop()  # importing forms and codebooks is the lead's

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
