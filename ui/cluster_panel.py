"""Candidate themes from auto-clustering (thematic.cluster)."""

from __future__ import annotations

from thematic.store import Store

from . import store as ui_store
from .errors import missing


def render(store: Store) -> None:
    cluster = ui_store.optional("thematic.cluster")
    if cluster is None:
        missing("Auto-clustering", "thematic.cluster")
        return
