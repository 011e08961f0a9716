"""The Project page's form import: preview the file, correct the guessed mapping, check, then write
(:mod:`thematic.ingest`). Nothing reaches the project before the analyst presses **Import forms**."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st

from thematic import ingest
from thematic.demo import DEMO_WORKBOOK
from thematic.errors import ThematicError
from thematic.ingest.preview import ROLES, mapping_from_roles, role_in
from thematic.store import Store

from . import store as ui_store
from .errors import guard
from .progress import bar

ROLE_HELP = {
    "question": "an open question (one answer per row)",
    "meta": "respondent metadata (profession, gender, date …)",
    "id": "the respondent / form id",
    "ignore": "not imported",
    "answer": "the answer text (long layout)",
    "question_key": "names the question each row answers (long layout)",
}


class Named(io.BytesIO):
    """Bytes with a file name, as the reader expects of an upload."""

    def __init__(self, data: bytes, name: str) -> None:
        super().__init__(data)
        self.name = name


@st.cache_data(max_entries=8, show_spinner="Reading the file…")
def _sniff(data: bytes, name: str, sheet: str | None, header_row: int | None) -> Any:
    from thematic.ingest import sniff

    return sniff(Named(data, name), sheet, header_row=header_row)


def _file() -> tuple[bytes, str] | None:
    """The forms file: an upload, or one of the example files shipped with the app. (No typed server paths: anyone
    who can reach the page could otherwise read any file the server can.)"""
    examples = example_files()
    choices = ["Upload a file", *[p.name for p in examples]]
    src = st.radio("Forms file", choices, key="project_source", horizontal=True,
                   help="XLSX (any sheet) or CSV; wide (a row per form) or long (a row per answer)")
    if src == "Upload a file":
        up = st.file_uploader("XLSX or CSV file", type=["xlsx", "xlsm", "csv", "tsv", "txt"], key="project_upload")
        return None if up is None else (up.getvalue(), up.name)
    path = next(p for p in examples if p.name == src)
    return path.read_bytes(), path.name


def render(store: Store) -> None:
    picked = _file()
    if picked is None:
        return
    data, name = picked
    digest = hashlib.sha256(data).hexdigest()[:16]
    with guard() as g:
        preview = _sniff(data, name, None, None)
    if not g.ok:
        return
    c1, c2, c3, c4 = st.columns(4)
    sheet = preview.sheet
    if preview.sheets and len(preview.sheets) > 1:
        sheet = c1.selectbox("Sheet", preview.sheets, index=preview.sheets.index(preview.sheet), key=f"project_sheet_{digest}")
    header_row = c2.number_input("Header row", min_value=1, value=int(preview.header_row), key=f"project_header_{digest}_{sheet}")
    if sheet != preview.sheet or header_row != preview.header_row:
        with guard() as g:
            preview = _sniff(data, name, sheet, int(header_row))
        if not g.ok:
            return
    layout = c3.radio("Layout", ["wide", "long"], index=0 if preview.layout == "wide" else 1,
                      key=f"project_layout_{digest}_{sheet}", horizontal=True,
                      help="wide: a row per form, a column per question; long: a row per answer")
    unit = c4.radio("Code", ["sentence", "response"], key="project_unit", horizontal=True,
                    format_func=lambda u: "sentences" if u == "sentence" else "whole answers",
                    help="The unit coders code: each sentence (or list item) of an answer, or the whole answer")
    for w in preview.warnings:
        st.warning(w)

    st.caption(f"**{preview.name}** · {preview.kind.upper()}" + (f" · sheet {sheet}" if sheet else "")
               + f" · header on row {preview.header_row} · {len(preview.columns)} columns. "
               "Check the guessed role of each column; change any that is wrong.")
    roles = list(ROLES[str(layout)])
    guessed = [{"column": c.name, "role": role_in(c.role, str(layout)), "filled": c.filled,
                "distinct": c.distinct, "examples": " | ".join(c.examples[:3])} for c in preview.columns]
    edited = st.data_editor(
        pd.DataFrame(guessed),
        key=f"project_roles_{digest}_{sheet}_{layout}",
        hide_index=True,
        disabled=["column", "filled", "distinct", "examples"],
        column_config={"role": st.column_config.SelectboxColumn(
            "role", options=roles, required=True, help="; ".join(f"{r}: {ROLE_HELP[r]}" for r in roles))},
        width="stretch",
    )
    with st.expander("First rows of the file", icon=":material/table:"):
        st.dataframe(pd.DataFrame(preview.rows), hide_index=True, key="project_rows_df")

    with guard() as g:
        mapping = mapping_from_roles([(str(r["column"]), str(r["role"])) for _, r in edited.iterrows()],
                                            str(layout), sheet=sheet, header_row=int(header_row))
    if not g.ok:
        return

    redact = st.toggle("Redact person names (staff list, titles such as 'Dr Khan', and names spaCy finds)",
                       key="project_redact")
    staff = ""
    if redact:
        staff = st.text_area("Staff names, one a line (full names; first names are matched too)", key="project_staff")

    b1, b2, _ = st.columns([2, 2, 3])
    check = b1.button("Check (writes nothing)", key="project_check", icon=":material/fact_check:")
    go = b2.button("Import forms", key="project_import", type="primary", icon=":material/upload:")
    if check or go:
        with guard() as g:
            prog, widget = bar("Reading forms")
            result = ingest.read_forms(Named(data, name), mapping, progress=prog)
            widget.empty()
        if not g.ok:
            return
        st.info(
            f"{len(result.forms):,} forms · {len(result.questions)} questions · {result.answers:,} answers · "
            f"{result.blanks:,} blank cells skipped · {result.empty_forms} forms with no answer · "
            f"{result.duplicates} duplicate rows", icon=":material/info:")
        for w in result.warnings:
            st.warning(w)
        if go:
            _write(store, result, unit=str(unit), redact=bool(redact), staff=staff)
    last = st.session_state.get("project_report")
    if last:
        st.success(last[0], icon=":material/check_circle:")
        st.code("\n".join(last[1:]), language=None)


def _write(store: Store, result: Any, *, unit: str, redact: bool, staff: str) -> None:
    names = [n.strip() for n in staff.splitlines() if n.strip()]
    try:
        prog, widget = bar("Importing")
        report = ingest.add_forms(store, result, unit=unit, redact=redact, staff_names=names,
                                  actor=ui_store.actor(), progress=prog)
        widget.empty()
    except ThematicError as exc:
        st.error(str(exc))
        return
    ui_store.changed()
    st.session_state["project_report"] = report.lines()
    st.rerun()


def example_files() -> list[Path]:
    """The demo workbook (package data) and any other example spreadsheet in ``examples/``."""
    found = [p for p in (ui_store.APP_DIR / "examples").glob("*") if p.suffix.lower() in (".xlsx", ".csv")]
    return sorted({*found, DEMO_WORKBOOK} if DEMO_WORKBOOK.is_file() else found)
