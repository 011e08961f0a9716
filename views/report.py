"""Phase 6, producing the report: the theme tree (inline SVG preview), every export format as a download built on
click, and the participant figures (profession bar chart, gender pie chart)."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from thematic import coding, corpus, export, queries
from ui import downloads
from ui import store as ui_store
from ui.errors import guard
from ui.widgets import shown_as

st.title("6 Produce the report")
store = ui_store.get_store()

c1, c2, c3, c4, c5 = st.columns([1, 1.5, 1.2, 1, 1])
counts = c1.selectbox("Counts", ["respondents", "segments", "none"], key="rp_counts", persist_state="session")
depth = c2.selectbox("Depth", [2, 1, 3], key="rp_depth", persist_state="session",
                     format_func=shown_as({1: "Themes", 2: "Themes and subthemes", 3: "With codes"}))
orientation = c3.selectbox("Layout", ["auto", "tb", "lr"], key="rp_orientation", persist_state="session",
                           format_func=shown_as({"auto": "Automatic", "tb": "Top to bottom", "lr": "Left to right"}))
coders = coding.coders(store)
coder = c4.selectbox("Codings of", ["(everyone)", *coders], key="rp_coder", persist_state="session")
greyscale = c5.toggle("Greyscale", key="rp_grey", persist_state="session")
options = {"counts": counts, "depth": int(depth or 2), "orientation": orientation, "greyscale": bool(greyscale),
           "coder": None if coder == "(everyone)" else coder}


@st.cache_data(ttl=120, max_entries=16, show_spinner="Drawing the theme tree…")
def svg(key: tuple[str, int, int], opts: tuple[tuple[str, object], ...]) -> str:
    return export.render(ui_store.get_store(), "svg", **dict(opts)).decode("utf-8")


tab_tree, tab_dl, tab_people = st.tabs(["Theme tree", "Downloads", "Respondents"], key="rp_tab", on_change="rerun")
with tab_tree:
    if tab_tree.open is not False:  # only the open tab does its work
        if store.counts()["codes"] == 0:
            st.info("No themes yet: the tree appears here once there are codes.")
        else:
            with guard():
                image = svg(ui_store.version(store), tuple(sorted(options.items())))
                st.image(image, width="stretch")

with tab_dl:
    if tab_dl.open is not False:  # only the open tab does its work
        st.caption("Each file is built when you click it, with the options above, and noted in the audit trail.")
        for name, fmt in export.FORMATS.items():
            a, b = st.columns([1.3, 3], vertical_alignment="center")
            opts = dict(options)
            if name == "qdpx":  # positions are counted differently by the program that will read it
                target = b.selectbox("For", list(export.QDPX_TARGETS), key="rp_qdpx_for", persist_state="session",
                                     help="NVivo, ATLAS.ti and MAXQDA count positions in UTF-16 units, QualCoder "
                                     "in characters: the codings land on the right words only if this matches.")
                opts["offsets"] = export.QDPX_TARGETS[target or next(iter(export.QDPX_TARGETS))]
            a.download_button(
                f"{name.upper()}",
                data=downloads.deferred(store, name, opts, ui_store.actor()),
                file_name=downloads.file_name(store, name),
                mime=fmt.mime,
                key=f"rp_download_{name}",
                icon=":material/download:",
                on_click="ignore",
                width="stretch",
            )
            b.caption(fmt.description)


def _field(fields: list[str], hints: tuple[str, ...]) -> int | None:
    for i, f in enumerate(fields):
        if any(h in f.casefold() for h in hints):
            return i
    return None


with tab_people:
    if tab_people.open is not False:  # only the open tab does its work
        fields = corpus.meta_fields(store)
        if not fields:
            st.info("The forms carry no respondent metadata.")
        else:
            left, right = st.columns(2)
            with left:
                bar_field = st.selectbox("Bar chart of", fields, index=_field(fields, ("profession", "role", "job", "staff"))
                                         or 0, key="rp_bar_field")
                df = pd.DataFrame(queries.meta_counts(store, bar_field), columns=[bar_field, "respondents"])
                st.altair_chart(
                    alt.Chart(df).mark_bar(color="#4477AA").encode(
                        x=alt.X("respondents:Q", title="Respondents"),
                        y=alt.Y(f"{bar_field}:N", sort="-x", title=bar_field.capitalize()),
                        tooltip=[bar_field, "respondents"],
                    ).properties(title=f"Respondents by {bar_field}"),
                    width="stretch", key="rp_bar_chart",
                )
            with right:
                pie_field = st.selectbox("Pie chart of", fields, index=_field(fields, ("gender", "sex")) or 0,
                                         key="rp_pie_field")
                dp = pd.DataFrame(queries.meta_counts(store, pie_field), columns=[pie_field, "respondents"])
                st.altair_chart(
                    alt.Chart(dp).mark_arc(innerRadius=0).encode(
                        theta=alt.Theta("respondents:Q"),
                        color=alt.Color(f"{pie_field}:N", scale=alt.Scale(scheme="tableau10"), title=pie_field.capitalize()),
                        tooltip=[pie_field, "respondents"],
                    ).properties(title=f"Respondents by {pie_field}"),
                    width="stretch", key="rp_pie_chart",
                )
            total = store.counts()["forms"]
            st.caption(f"{total:,} respondents; forms without a value count as {queries.MISSING}. Right-click a chart "
                       "(or use its menu) to save it as SVG/PNG.")
            st.dataframe(df, hide_index=True, key="rp_bar_table", width="content")
