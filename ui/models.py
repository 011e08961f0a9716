"""Heavy objects cached once per server: the sentence embedder.

``THEMATIC_FAKE_EMBEDDER=1`` swaps in the tiny deterministic :class:`~thematic.embed.HashingEmbedder` (for the
AppTest suite and dry runs); otherwise all-MiniLM-L6-v2 from the installed package, loaded lazily and offline, on
ONNX Runtime when it is installed (PyTorch otherwise). Both come from the one factory,
:func:`thematic.embed.default_embedder`.
"""

from __future__ import annotations

import gc

import streamlit as st

from thematic import embed
from thematic.embed import Embedder, MiniLMEmbedder
from thematic.errors import ModelMissing


def fake() -> bool:
    return embed.fake_requested()


@st.cache_resource(show_spinner=False)
def _embedder(kind: str) -> Embedder:
    model = embed.default_embedder()
    if not isinstance(model, MiniLMEmbedder):
        return model
    try:
        model.load()
    except ModelMissing:
        return model  # its first use raises the one-sentence error where the page shows errors
    # the model adds many long-lived objects (torch's most of all); without this, Python's full collections scan
    # them again and again and pause random clicks by 100-250 ms (measured in bench/app_bench.py). Freeze them.
    gc.collect()
    gc.freeze()
    return model


def embedder() -> Embedder:
    """The embedder every page shares (the model loads on first use, once per server)."""
    return _embedder("fake" if fake() else "minilm")
