"""Heavy objects cached once per server: the sentence embedder, one per device setting.

``THEMATIC_FAKE_EMBEDDER=1`` swaps in the tiny deterministic :class:`~thematic.embed.HashingEmbedder` (for the
AppTest suite and dry runs); otherwise all-MiniLM-L6-v2 from the installed package, loaded lazily and offline, on
ONNX Runtime when it is installed (PyTorch otherwise), or on a CUDA GPU in float16 when the device setting asks for
it (``auto`` picks the GPU when torch sees one). All come from the one factory, :func:`thematic.embed.default_embedder`.

The device setting (``auto``, ``cpu`` or ``cuda``) is chosen on the Themes page (:func:`device_setting`) and kept
in the session under :data:`DEVICE_KEY`; every page's embedder follows it. Vectors from every device share the
model id (float16 on a GPU: cosine >= 0.9999 to the CPU), so the project's cache serves them all.
"""

from __future__ import annotations

import gc

import streamlit as st

from thematic import embed
from thematic.embed import Embedder, MiniLMEmbedder
from thematic.errors import InvalidInput, ModelMissing

DEVICE_KEY = "embed_device"
DEVICE_LABELS = {"auto": "Auto (GPU if there is one)", "cpu": "CPU", "cuda": "CUDA GPU"}
BACKEND_NAMES = {"onnx": "ONNX Runtime", "onnx-int8": "ONNX Runtime int8", "torch": "PyTorch"}


def fake() -> bool:
    return embed.fake_requested()


def device() -> str:
    """The session's device setting (``auto`` until the analyst picks another)."""
    value = st.session_state.get(DEVICE_KEY, "auto")
    return value if value in embed.DEVICES else "auto"


@st.cache_resource(show_spinner=False)
def _embedder(kind: str, device: str) -> Embedder:
    model = embed.default_embedder(device=device)
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
    """The embedder every page shares for the session's device setting (loaded on first use, once per server).

    :class:`~thematic.errors.InvalidInput` (one line) when the setting is ``cuda`` and torch sees no GPU."""
    return _embedder("fake" if fake() else "minilm", device())


def used(setting: str | None = None) -> str:
    """What embeds with ``setting`` (default: the session's), in words: device, backend and precision.

    Once the model is loaded this is what actually runs (ONNX Runtime falls back to PyTorch when it cannot load);
    before, what will run. Raises :class:`~thematic.errors.InvalidInput` for ``cuda`` without a GPU."""
    setting = setting or device()
    if fake():
        return "the hashing test embedder (THEMATIC_FAKE_EMBEDDER is set), not MiniLM"
    model = embed.default_embedder(device=setting)  # constructed without loading the model
    if not isinstance(model, MiniLMEmbedder):
        return model.model_id
    where = "CUDA GPU" if model.device == "cuda" else "CPU"
    state = "" if model.loaded else " (loads on first use)"
    return f"{where} · {BACKEND_NAMES.get(model.backend, model.backend)} · {model.precision}{state}"


def device_setting(key: str) -> bool:
    """The device selectbox (widget ``key``) and a caption saying what will embed; False when the choice cannot
    run here (``cuda`` without a GPU: the reason is shown instead)."""
    if key not in st.session_state:
        st.session_state[key] = device()
    options: list[str] = list(DEVICE_LABELS)
    st.selectbox("Device", options, format_func=lambda d: DEVICE_LABELS[d], key=key,
                 on_change=lambda: st.session_state.__setitem__(DEVICE_KEY, st.session_state[key]),
                 help="Where segments are embedded. Auto: a CUDA GPU when torch sees one (float16), else the CPU. "
                      "Every device gives the same vectors to within 0.0001, so cached vectors are reused.")
    st.session_state[DEVICE_KEY] = st.session_state[key]
    try:
        st.caption(f"Embedding on: {used()}")
    except InvalidInput as exc:
        st.warning(str(exc), icon=":material/memory:")
        return False
    return True
