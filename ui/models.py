"""Heavy objects cached once per server: the sentence embedder.

``THEMATIC_FAKE_EMBEDDER=1`` swaps in the tiny deterministic :class:`~thematic.embed.HashingEmbedder` (for the
AppTest suite and dry runs); otherwise all-MiniLM-L6-v2 from the installed package, loaded lazily and offline.
"""

from __future__ import annotations

import gc
import os

import streamlit as st

from thematic.embed import Embedder, HashingEmbedder, MiniLMEmbedder
from thematic.errors import ModelMissing


def fake() -> bool:
    return os.environ.get("THEMATIC_FAKE_EMBEDDER", "") not in ("", "0")


@st.cache_resource(show_spinner=False)
def _embedder(kind: str) -> Embedder:
    if kind == "fake":
        return HashingEmbedder()
    model = MiniLMEmbedder()
    try:
        model.load()
    except ModelMissing:
        return model  # its first use raises the one-sentence error where the page shows errors
    # torch and the model add ~500k long-lived objects; without this, Python's full collections scan them again
    # and again and pause random clicks by 100-250 ms (measured in bench/app_bench.py). Freeze them out of the GC.
    gc.collect()
    gc.freeze()
    return model


def embedder() -> Embedder:
    """The embedder every page shares (the model loads on first use, once per server)."""
    return _embedder("fake" if fake() else "minilm")
