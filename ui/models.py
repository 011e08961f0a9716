"""Heavy objects cached once per server: the sentence embedder.

``THEMATIC_FAKE_EMBEDDER=1`` swaps in the tiny deterministic :class:`~thematic.embed.HashingEmbedder` (for the
AppTest suite and dry runs); otherwise all-MiniLM-L6-v2 from the installed package, loaded lazily and offline.
"""

from __future__ import annotations

import os

import streamlit as st

from thematic.embed import Embedder, HashingEmbedder, MiniLMEmbedder


def fake() -> bool:
    return os.environ.get("THEMATIC_FAKE_EMBEDDER", "") not in ("", "0")


@st.cache_resource(show_spinner=False)
def _embedder(kind: str) -> Embedder:
    if kind == "fake":
        return HashingEmbedder()
    return MiniLMEmbedder()


def embedder() -> Embedder:
    """The embedder every page shares (the model loads on first use, once per server)."""
    return _embedder("fake" if fake() else "minilm")
