"""The map of candidate themes (from cached vectors, exportable) and each run's provenance line."""

from __future__ import annotations

import numpy as np

from tests.test_cluster import corpus
from tests.test_cluster_ops import EMB
from thematic import cluster as cl
from thematic.cluster import map as cmap
from thematic.store import Store


def test_map_from_cached_vectors_without_embedding_again(store: Store) -> None:
    corpus(store, 40)
    emb = type(EMB)(dim=128)
    run = cl.propose(store, seed=2, embedder=emb, params={"n_candidates": 5, "n_groups": 2})
    calls = emb.calls
    m = cmap.candidate_map(store, run.id, embedder=emb)
    assert emb.calls == calls  # every vector came from the project's cache
    leaves = [c for c in cl.candidates(store, run.id) if c.level == 1 and not c.unclustered]
    assert m.ids == [c.id for c in leaves] and m.sizes == [c.size for c in leaves]
    assert m.xy.shape == (len(leaves), 2) and m.similarity.shape == (len(leaves), len(leaves))
    # the similarity is the cosine of the members' mean vectors, computed here independently
    texts = {int(r[0]): r[1] for r in store.query("SELECT id, text FROM segments")}
    cents = []
    for c in leaves:
        v = emb.encode([texts[s] for s in cl.segment_ids(store, c.id)]).mean(axis=0)
        cents.append(v / np.linalg.norm(v))
    assert np.allclose(m.similarity, np.array(cents) @ np.array(cents).T, atol=1e-5)
    # nearer on the map = more similar: the most similar pair is closer than the least similar pair
    iu = np.triu_indices(len(leaves), 1)
    d = np.linalg.norm(m.xy[:, None] - m.xy[None], axis=2)[iu]
    sims = m.similarity[iu]
    assert d[np.argmax(sims)] < d[np.argmin(sims)]
    assert set(m.groups) <= {c.label for c in cl.candidates(store, run.id) if c.level == 0}


def test_map_exports_svg_and_png(store: Store) -> None:
    corpus(store, 30)
    run = cl.propose(store, seed=2, embedder=EMB, params={"n_candidates": 4})
    m = cmap.candidate_map(store, run.id, embedder=EMB)
    svg = cmap.render(m, "svg", title="Run")
    png = cmap.render(m, "png")
    assert svg.lstrip().startswith(b"<?xml") and b"<svg" in svg
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert cmap.render(m, "svg", title="Run") == svg  # the same run draws the same file
    for label in m.labels:  # every candidate is named on the picture
        assert label.split()[0].encode() in svg


def test_every_run_records_and_describes_its_provenance(store: Store) -> None:
    corpus(store, 30)
    run = cl.propose(store, seed=7, embedder=EMB, params={"n_candidates": 4})
    assert run.params["embedding"] == {"model_id": EMB.model_id, "backend": "HashingEmbedder", "device": "cpu"}
    line = cl.describe_run(run)
    assert "seed 7" in line and "4 candidates" in line and "set by the analyst" in line and EMB.model_id in line
    auto = cl.propose(store, seed=7, embedder=EMB)
    assert auto.params["k_rule"] and auto.params["k_reason"] in cl.describe_run(auto)
