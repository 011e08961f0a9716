"""Beside a clustering run: where it came from (provenance) and a map of its candidate themes.

``show(store, run_id)`` writes one caption line saying how the run was made (model, backend, how many candidates
and how that number was chosen, seed) and, when the analyst asks for it, the map of candidates
(:mod:`thematic.cluster.map`: centroids laid out in 2-D, area = segments, colour = proposed group, with a
similarity heatmap), downloadable as SVG or PNG. Nothing is computed until the map is switched on.
"""

from __future__ import annotations

import streamlit as st

from thematic import cluster
from thematic.cluster import map as cmap
from thematic.store import Store

from . import models
from .errors import guard


@st.cache_data(ttl=300, max_entries=8, show_spinner=False)
def _pictures(path: str, run_id: int, version: tuple[str, int, int]) -> tuple[bytes, bytes]:
    from . import store as ui_store

    store = ui_store.get_store()
    m = cmap.candidate_map(store, run_id, embedder=models.embedder())
    title = f"Run {run_id}"
    return cmap.render(m, "png", title=title), cmap.render(m, "svg", title=title)


def show(store: Store, run_id: int) -> None:
    """The provenance line of the run, and its map of candidates on request."""
    from . import store as ui_store

    run = cluster.get_run(store, run_id)
    st.caption(cluster.describe_run(run))
    if not st.toggle("Map of candidate themes", key=f"cl_map_{run_id}",
                     help="Candidates near each other say similar things; bubble area is the number of segments"):
        return
    with guard():
        png, svg = _pictures(store.path, run_id, ui_store.version(store))
        st.image(png, width="stretch")
        c1, c2 = st.columns(2)
        c1.download_button("Download map (SVG)", svg, file_name=f"candidates-run-{run_id}.svg",
                           mime="image/svg+xml", key=f"cl_map_svg_{run_id}")
        c2.download_button("Download map (PNG)", png, file_name=f"candidates-run-{run_id}.png",
                           mime="image/png", key=f"cl_map_png_{run_id}")
