"""Coders: who coded what, blind mode, and codings in and out of spreadsheets (assistants who code in Excel)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from thematic import codings_io, merge, reliability
from ui import signin
from ui import store as ui_store
from ui.errors import attempt, guard, show

st.title("Coders")
store = ui_store.get_store()
actor = ui_store.actor()

# ---------------------------------------------------------------------- blind mode


def _set_blind() -> None:
    on = bool(st.session_state.get("coders_blind"))
    result = attempt("coders", reliability.set_blind_mode, ui_store.get_store(), on, actor=ui_store.actor())
    if result is None and "coders_error" not in st.session_state:
        st.session_state["coders_ok"] = f"Blind mode is {'on' if on else 'off'}."
    ui_store.changed()


show("coders")
blind = reliability.blind_mode(store)
lead = signin.may(store, "project.setting")  # in team mode only a lead switches blind coding (and reveals)
if lead:
    st.session_state["coders_blind"] = blind
    st.toggle(
        "Blind coding",
        key="coders_blind",
        on_change=_set_blind,
        help="While on, each coder sees only their own codings when coding, so that two coders code independently "
        "and their agreement means something. Turn it off to compare and adjudicate.",
    )
if blind and not lead:
    st.caption("Blind coding is **on**: you see only your own codings (and no other coder) until the lead reveals.")
else:
    st.caption(
        "Blind mode is **on**: coders see only their own codings." if blind
        else "Blind mode is off: coders see everyone's codings."
    )

# ---------------------------------------------------------------------- who coded what

st.subheader("Who coded what")
summary = reliability.coder_summary(store)
if summary:
    st.dataframe(pd.DataFrame(summary), hide_index=True, key="coders_table", width="stretch")
else:
    role = signin.project_role(store)
    st.info("No codings yet: coders code on page 2." if role == "lead" else
            "No codings of yours yet: code on page 2." if role else
            "No coders yet. Choose or type your name in the sidebar (**Coder**), then code on page 2.")

# ---------------------------------------------------------------------- import

if not signin.may(store, "codings.import"):  # importing and merging codings is the lead's (team mode)
    st.subheader("Export codings")
    mine = [row["coder"] for row in summary if row["codings"]]
    if mine:
        st.download_button(
            "Download codings (CSV)",
            data=lambda: codings_io.render_codings_csv(ui_store.get_store(), coder=None),
            file_name=f"codings-{(actor or 'mine').replace(' ', '_')}.csv", mime="text/csv",
            key="coders_download", icon=":material/download:",
            help="The codings you may see" + (" (only your own while blind coding is on)." if blind else "."),
        )
    else:
        st.caption("Nothing to export yet.")
    st.stop()

st.subheader("Import a coder's spreadsheet")
st.caption(
    "Columns: form id, question, segment (its id, or its exact text), code path (Theme/Subtheme/Code). "
    "Header names may vary (e.g. 'Respondent', 'Quote', 'Code'). A row whose text is a whole answer, or several "
    "consecutive segments, codes each of them. If any row matches no segment, nothing is imported and the rows "
    "are listed."
)
with st.form("coders_import", clear_on_submit=False):
    upload = st.file_uploader("Spreadsheet (.xlsx or .csv)", type=["xlsx", "csv"], key="coders_file")
    c1, c2 = st.columns(2)
    who = c1.text_input("Whose codings are these?", value=actor or "", key="coders_import_coder")
    unknown = c2.radio(
        "Codes not in the codebook",
        ["create", "refuse"],
        format_func=lambda v: "create them under 'Imported/'" if v == "create" else "refuse the file",
        key="coders_unknown",
        horizontal=True,
    )
    go = st.form_submit_button("Import codings", icon=":material/upload:")
if go:
    if upload is None:
        st.error("Choose a spreadsheet first.")
    else:
        with guard():
            result = codings_io.import_codings(store, upload, coder=who, unknown_codes=unknown, actor=actor)
            ui_store.changed()
            st.success(result.summary().capitalize() + ". Undo reverts the whole import.", icon=":material/check_circle:")

# ---------------------------------------------------------------------- export

st.subheader("Export codings")
names = [row["coder"] for row in summary if row["codings"]]
if names:
    c1, c2 = st.columns([2, 3], vertical_alignment="bottom")
    pick = c1.selectbox("Coder", ["All coders", *names], key="coders_export_coder")
    chosen = None if pick == "All coders" else pick
    c2.download_button(
        "Download codings (CSV)",
        data=lambda: codings_io.render_codings_csv(ui_store.get_store(), coder=chosen),
        file_name=f"codings-{(chosen or 'all').replace(' ', '_')}.csv",
        mime="text/csv",
        key="coders_download",
        icon=":material/download:",
        help="The same columns the import reads: a coder can code in Excel and send it back.",
    )
else:
    st.caption("Nothing to export yet.")

# ---------------------------------------------------------------------- merging

st.subheader("Merge")
with st.expander("Another copy of this project, coded elsewhere", icon=":material/merge:"):
    st.caption(
        "Brings in every coding, code, memo and chosen quote of the other copy (same forms). Coders with the same "
        "name are the same coder; give a prefix to keep the incoming ones apart. Nothing is lost: if a coded "
        "segment of the other copy cannot be matched here, nothing is merged and the segments are listed."
    )
    with st.form("coders_merge_project"):
        other = st.file_uploader("The other copy (.db)", type=["db", "sqlite", "sqlite3"], key="coders_other")
        prefix = st.text_input("Prefix for incoming coder names (optional)", key="coders_prefix",
                               placeholder="e.g. site2: (leave empty to merge coders by name)")
        go_merge = st.form_submit_button("Merge the copy", icon=":material/merge:")
    if go_merge:
        if other is None:
            st.error("Choose the other copy first.")
        else:
            with guard():
                report = merge.merge_project(store, other, coder_prefix=prefix, actor=actor)
                ui_store.changed()
                st.success(report.summary() + ". Undo reverts the whole merge.", icon=":material/check_circle:")
                for w in report.warnings:
                    st.caption(w)

with st.expander("Two codebooks, by a mapping table", icon=":material/table_rows:"):
    st.caption(
        "A CSV with columns from_path,to_path (e.g. 'Anna/Room temperature,Environment/Room'). Each 'from' code is "
        "merged into its 'to' code (created if new); every coding moves, duplicates collapse, definitions are kept "
        "as memos."
    )
    with st.form("coders_merge_mapping"):
        mapping = st.file_uploader("Mapping (.csv)", type=["csv"], key="coders_mapping")
        go_map = st.form_submit_button("Merge codes", icon=":material/merge_type:")
    if go_map:
        if mapping is None:
            st.error("Choose the mapping file first.")
        else:
            with guard():
                report = merge.merge_by_mapping(store, mapping, actor=actor)
                ui_store.changed()
                st.success(report.summary() + ". Undo reverts all of it.", icon=":material/check_circle:")
