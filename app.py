"""thematic workbench: ``streamlit run app.py [-- --project P.db]``.

Navigation only: one page per step of Braun & Clarke's thematic analysis, plus the project, coders, agreement and
audit pages. The pages live in ``pages/``; what they share (the open project, the sidebar with undo/redo and the
phase overview) lives in ``ui/``. See ``ui/README.md``.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from pathlib import Path  # noqa: E402

import streamlit as st  # noqa: E402

from ui import sidebar  # noqa: E402

st.set_page_config(page_title="thematic", page_icon=":material/account_tree:", layout="wide")

HERE = Path(__file__).resolve().parent


def _page(path: str, title: str, icon: str, **kw: object) -> st.Page | None:
    """A page, if its file exists (the agreement pages come from another part of the build)."""
    return st.Page(path, title=title, icon=icon, **kw) if (HERE / path).exists() else None  # type: ignore[arg-type]


sections = {
    "Project": [
        _page("pages/project.py", "Project", ":material/folder_open:", default=True),
    ],
    "Analysis": [
        _page("pages/familiarise.py", "1 Familiarise", ":material/menu_book:"),
        _page("pages/initial_codes.py", "2 Generate initial codes", ":material/label:"),
        _page("pages/themes.py", "3 Search for themes", ":material/bubble_chart:"),
        _page("pages/review.py", "4 Review themes", ":material/fact_check:"),
        _page("pages/define.py", "5 Define and name", ":material/edit_note:"),
        _page("pages/report.py", "6 Report", ":material/summarize:"),
    ],
    "Team": [
        _page("pages/coders.py", "Coders", ":material/group:"),
        _page("pages/agreement.py", "Agreement", ":material/handshake:"),
        _page("pages/audit.py", "Audit trail", ":material/history:"),
    ],
}
nav = st.navigation({name: [p for p in pages if p is not None] for name, pages in sections.items()})
st.session_state["_app_ran"] = True  # see ui.store._leave_legacy_multipage_mode
sidebar.render(nav.title)
nav.run()
