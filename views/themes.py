"""Phase 3, searching for themes: auto-cluster the segments into candidate themes (with progress), review the
candidates (accept as a code, rename, merge, split, reject, move segments), and arrange codes into a tree of
themes and subthemes."""

from __future__ import annotations

import streamlit as st

from ui import cluster_panel, tree_panel
from ui import store as ui_store

st.title("3 Search for themes")
store = ui_store.get_store()

tab_c, tab_t = st.tabs(["Candidate themes (auto-clustering)", "Arrange the theme tree"], key="th_tab", on_change="rerun")
with tab_c:
    if tab_c.open is not False:  # only the open tab does its work
        cluster_panel.render(store)
with tab_t:
    if tab_t.open is not False:  # only the open tab does its work
        tree_panel.render(store)
