"""thematic workbench: ``streamlit run app.py [-- --project P.db]``.

Navigation only: one page per step of Braun & Clarke's thematic analysis, plus the project, coders, agreement and
audit pages. The pages live in ``views/`` (not ``pages/``, which Streamlit would treat as a legacy multipage
folder); what they share (the open project, the sidebar with undo/redo and the phase overview) lives in ``ui/``.
See ``ui/README.md``.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import streamlit as st

from ui import patches, sidebar, signin

patches.install()  # a click that a fragment's timer would deliver twice acts once (see ui/patches.py)
st.set_page_config(page_title="thematic", page_icon=":material/account_tree:", layout="wide")

# Team mode (`streamlit run app.py -- --team TEAM_DIR`): nothing of any project is drawn before sign-in; a no-op in
# single-user mode. See ui/signin.py.
signin.gate()

sections = {
    "Project": [
        st.Page("views/project.py", title="Project", icon=":material/folder_open:", default=True),
    ],
    "Analysis": [
        st.Page("views/familiarise.py", title="1 Familiarise", icon=":material/menu_book:"),
        st.Page("views/initial_codes.py", title="2 Generate initial codes", icon=":material/label:"),
        st.Page("views/themes.py", title="3 Search for themes", icon=":material/bubble_chart:"),
        st.Page("views/review.py", title="4 Review themes", icon=":material/fact_check:"),
        st.Page("views/define.py", title="5 Define and name", icon=":material/edit_note:"),
        st.Page("views/report.py", title="6 Report", icon=":material/summarize:"),
        st.Page("views/queries.py", title="Queries", icon=":material/query_stats:"),
    ],
    "Team": [
        st.Page("views/coders.py", title="Coders", icon=":material/group:"),
        st.Page("views/agreement.py", title="Agreement", icon=":material/handshake:"),
        st.Page("views/audit.py", title="Audit trail", icon=":material/history:"),
    ],
}
nav = st.navigation(sections)
sidebar.render(nav.title)
nav.run()
