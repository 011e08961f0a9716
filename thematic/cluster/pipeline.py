"""The clustering algorithm: segment vectors in, candidate themes (two levels) out. No database here.

It is a BERTopic pipeline with components chosen for feedback forms (short texts, 80 to 50,000 of them, a human
who will review every candidate):

* embeddings: precomputed (:mod:`thematic.embed`), so re-clustering never re-embeds;
* dimensionality reduction: none by default (``"pca"`` optional): MiniLM's 384 normalised dimensions cluster
  as well as a UMAP projection on this kind of data and cost nothing, where UMAP costs most of BERTopic's time;
* clustering: :class:`SampledKMeans`, k-means on normalised vectors with k chosen from the data (:func:`.kchoice.choose_k`: the
  best silhouette over a range bounded by the review load) unless the analyst sets it, fitted on a
  seeded sample of at most ``sample_size`` vectors and extended to the rest by nearest centroid with two
  full-data refinement passes. No topic -1 by construction; segments without any letter or digit (``"-"``,
  ``"?"``) form an explicit "Unclustered" group, and ``outliers="unclustered"`` also moves segments far from
  every centroid there, counted;
* vectorizer and c-TF-IDF: words lemmatised once per distinct word, stop words and form boilerplate removed,
  unigrams and bigrams, BERTopic's ``ClassTfidfTransformer(reduce_frequent_words=True)``;
* representation: a label that is a short keyphrase in the respondents' own words (:mod:`.labels`), keywords
  beside it, and 3-5 representative segments (nearest the centroid, distinct texts); no person's name is ever
  part of a label or keyword;
* second level: ward-linkage agglomerative clustering of the candidates' centroids into a few parents, each
  labelled by c-TF-IDF over its children's segments.

Memory: the vectors are one float32 array and nothing copies all of them (k-means, scores and keywords work over
row chunks; BERTopic is handed row numbers), so a million cached segments cluster within about 3.3 GB in all
(``bench/cluster_bench.py --million``).

Deterministic for a given seed.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from . import keywords as kw
from .kchoice import KChoice, choose_k
from .labels import Labeller

Progress = Callable[[int, int, str], None]
UNCLUSTERED = -1
_CONTENT = re.compile(r"[^\W_]", re.UNICODE)


@dataclass(frozen=True)
class Params:
    """Everything that shapes a proposal; recorded with each run."""

    n_candidates: int | None = None  # None: chosen from the data (k_rule)
    k_rule: str = "silhouette"  # "silhouette" (best over a range, see choose_k) or "size" (the old power law)
    k_max: int = 60  # the most candidates a person is asked to review
    segments_per_candidate: int = 5  # at least this many segments per candidate on average
    n_groups: int | None = None  # None: about sqrt(n_candidates); 0: no second level
    reduction: str = "none"  # "none" or "pca"
    pca_dims: int = 50
    sample_size: int = 10_000  # k-means is fitted on at most this many vectors
    n_init: int = 1
    outliers: str = "reassign"  # "reassign" (every segment with content is placed) or "unclustered"
    outlier_similarity: float = 0.3  # with outliers="unclustered": below this cosine to its centroid
    top_keywords: int = 10
    representatives: int = 5
    use_bertopic: bool = True  # run the leaf level through BERTopic (False: same components, called directly)

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Params:
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in (d or {}).items() if k in known})

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Node:
    """A candidate (level 1) or a group of candidates (level 0). ``members`` are row indices into the input."""

    index: int
    label: str
    keywords: list[str]
    members: list[int]
    representatives: list[int]
    parent: int | None = None
    children: list[int] = field(default_factory=list)
    unclustered: bool = False


@dataclass
class Proposal:
    labels: np.ndarray  # per row: candidate index, or -1 (Unclustered)
    scores: np.ndarray  # cosine similarity of each row to its candidate's centroid
    candidates: list[Node]
    groups: list[Node]
    unclustered: Node | None
    params: dict[str, Any]
    seconds: float


def auto_groups(k: int) -> int:
    if k < 4:
        return 0
    return int(min(10, max(2, round(math.sqrt(k)))))


def has_content(text: str) -> bool:
    return bool(_CONTENT.search(text))


def _noop(done: int, total: int, message: str = "") -> None:
    return None


# ---------------------------------------------------------------------- components


class SampledKMeans:
    """k-means on a seeded sample, extended to all rows by nearest centroid; a BERTopic clustering component.

    ``exclude``: rows that must not be clustered (label -1, the explicit Unclustered group).
    """

    def __init__(
        self,
        n_clusters: int,
        *,
        seed: int = 42,
        sample_size: int = 10_000,
        n_init: int = 1,
        exclude: np.ndarray | None = None,
        outliers: str = "reassign",
        outlier_similarity: float = 0.3,
    ) -> None:
        self.n_clusters = n_clusters
        self.seed = seed
        self.sample_size = sample_size
        self.n_init = n_init
        self.exclude = exclude
        self.outliers = outliers
        self.outlier_similarity = outlier_similarity
        self.labels_: np.ndarray = np.zeros(0, dtype=np.int64)
        self.cluster_centers_: np.ndarray = np.zeros((0, 0))

    def fit(self, X: np.ndarray, y: Any = None) -> SampledKMeans:
        from sklearn.cluster import KMeans

        X = np.asarray(X, dtype=np.float32)
        n = len(X)
        labels = np.full(n, UNCLUSTERED, dtype=np.int64)
        ok = np.ones(n, dtype=bool) if self.exclude is None else ~np.asarray(self.exclude, dtype=bool)
        rows = np.nonzero(ok)[0]
        k = max(1, min(self.n_clusters, len(rows)))
        if len(rows) == 0:
            self.labels_, self.cluster_centers_ = labels, np.zeros((0, X.shape[1]), dtype=np.float32)
            return self
        rng = np.random.default_rng(self.seed)
        if len(rows) > self.sample_size:
            fit_rows = np.sort(rng.choice(len(rows), self.sample_size, replace=False))
        else:
            fit_rows = np.arange(len(rows))
        sample = X[rows[fit_rows]]
        k = min(k, len(np.unique(sample, axis=0)))  # no more clusters than distinct vectors
        # float64: scikit-learn's k-means++ on float32 upcasts chunk by chunk and runs ~4x slower
        km = KMeans(n_clusters=k, n_init=self.n_init, random_state=self.seed).fit(sample.astype(np.float64))
        del sample
        centers = km.cluster_centers_.astype(np.float32)
        # the rows are read from X chunk by chunk (never one copy of all of them: at a million rows that is 1.5 GB)
        every = None if len(rows) == n else rows
        assign = _nearest(X, centers, rows=every)
        passes = 2 if len(fit_rows) < len(rows) else 0
        for _ in range(passes):  # refine on all rows
            centers = _means(X, assign, centers, rows=every)
            assign = _nearest(X, centers, rows=every)
        assign, centers = _relabel_dense(assign, centers)
        labels[rows] = assign
        self.cluster_centers_ = centers
        if self.outliers == "unclustered":
            sims = _cosine_to_centroid(X, labels, centers)
            far = (labels >= 0) & (sims < self.outlier_similarity)
            labels[far] = UNCLUSTERED
        self.labels_ = labels
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        return _nearest(np.asarray(X, dtype=np.float32), self.cluster_centers_)


def _rows_of(X: np.ndarray, rows: np.ndarray | None, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of ``X`` (of ``X[rows]`` when ``rows`` is given), without copying the rest."""
    return X[start:stop] if rows is None else X[rows[start:stop]]


def _nearest(X: np.ndarray, centers: np.ndarray, chunk: int = 8192, rows: np.ndarray | None = None) -> np.ndarray:
    """Index of the nearest centre (Euclidean) for each row (of ``X[rows]``), in chunks to bound memory."""
    half_norms = 0.5 * (centers**2).sum(axis=1)
    n = len(X) if rows is None else len(rows)
    out = np.empty(n, dtype=np.int64)
    for s in range(0, n, chunk):
        out[s : s + chunk] = np.argmax(_rows_of(X, rows, s, s + chunk) @ centers.T - half_norms, axis=1)
    return out


#: Rows summed at a time by :func:`_means` (in float64: 65,536 x 384 is 200 MB).
MEANS_CHUNK = 65_536


def _means(
    X: np.ndarray, assign: np.ndarray, old: np.ndarray, rows: np.ndarray | None = None, chunk: int = MEANS_CHUNK
) -> np.ndarray:
    """Mean of the rows (of ``X[rows]``) assigned to each centre; a centre with none keeps its old place."""
    from scipy import sparse

    k = len(old)
    m = len(assign)
    sums = np.zeros((k, old.shape[1]), dtype=np.float64)
    for s in range(0, m, chunk):  # one pass when m <= chunk
        a = assign[s : s + chunk]
        onehot = sparse.csr_matrix((np.ones(len(a)), (a, np.arange(len(a)))), shape=(k, len(a)))
        part = np.asarray(onehot @ _rows_of(X, rows, s, s + chunk).astype(np.float64))  # np.add.at: ~30x slower
        sums = part if m <= chunk else sums + part
    counts = np.bincount(assign, minlength=k)[:, None]
    return np.where(counts > 0, sums / np.maximum(counts, 1), old).astype(np.float32)


def _relabel_dense(assign: np.ndarray, centers: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop empty clusters and number the rest 0..k-1 (largest first, ties by old index)."""
    counts = np.bincount(assign, minlength=len(centers))
    order = [i for i in np.argsort(-counts, kind="stable") if counts[i] > 0]
    remap = np.full(len(centers), -1, dtype=np.int64)
    remap[order] = np.arange(len(order))
    return remap[assign], centers[order]


def _unit(v: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(norms, 1e-12)


def _cosine_to_centroid(X: np.ndarray, labels: np.ndarray, centers: np.ndarray, chunk: int = 65_536) -> np.ndarray:
    """Each row's cosine to its own centre (0 for rows without one), in chunks to bound memory."""
    sims = np.zeros(len(X), dtype=np.float32)
    units = _unit(centers)
    for s in range(0, len(X), chunk):
        lab = labels[s : s + chunk]
        ok = lab >= 0
        if ok.any():
            sims[s : s + chunk][ok] = (_unit(X[s : s + chunk][ok]) * units[lab[ok]]).sum(axis=1)
    return sims


def _reducer(params: Params, seed: int, n: int, dim: int) -> Any:
    if params.reduction == "pca" and n > params.pca_dims and dim > params.pca_dims:
        from sklearn.decomposition import PCA

        return PCA(n_components=params.pca_dims, random_state=seed)
    if params.reduction not in ("none", "pca"):
        raise ValueError(f"unknown reduction {params.reduction!r} (none or pca)")
    return None


# ---------------------------------------------------------------------- the pipeline


def propose_clusters(
    vectors: np.ndarray,
    texts: Sequence[str],
    *,
    seed: int = 42,
    params: Params | None = None,
    progress: Progress | None = None,
    staff_names: Sequence[str] = (),
) -> Proposal:
    """Candidate themes for ``texts`` (rows of ``vectors``, L2-normalised).

    ``staff_names``: people whose names must never appear in a label or keyword (names the name finder
    recognises are left out too); only one-way fingerprints of the name words found are recorded.
    """
    p = params or Params()
    report = progress or _noop
    t0 = time.perf_counter()
    X = np.asarray(vectors, dtype=np.float32)
    n = len(texts)
    if X.shape[0] != n:
        raise ValueError(f"{X.shape[0]} vectors for {n} texts")
    steps = 5
    report(0, steps, "Clustering: preparing words")
    docs = kw.lemmatise(texts)
    empty = np.array([not has_content(t) for t in texts], dtype=bool)
    n_ok = int((~empty).sum())
    report(1, steps, "Clustering: choosing the number of candidates" if not p.n_candidates else
           "Clustering: finding candidates")
    choice = _choose_k(X, empty, n_ok, p, seed)
    k = max(1, min(choice.k, n_ok)) if n_ok else 0
    labels, topic_words = _assign(X, docs, empty, n_ok, k, p, seed, lambda: report(2, steps, "Clustering: keywords"))
    report(3, steps, "Clustering: representatives")
    centroids, scores = _centroids_and_scores(X, labels)
    labeller = Labeller(texts, staff_names=staff_names, seed=seed)
    candidates = _candidate_nodes(labels, scores, texts, topic_words, labeller, p)
    report(4, steps, "Clustering: grouping candidates")
    groups = _groups(candidates, centroids, docs, labels, p, seed, labeller)
    unclustered = _unclustered_node(labels, p)
    report(steps, steps, "Clustering: done")
    recorded = p.to_dict() | {"n_candidates_used": len(candidates), "n_groups_used": len(groups),
                              "k_rule": choice.rule, "k_reason": choice.reason,
                              "k_scores": {str(a): round(b, 4) for a, b in choice.scores.items()},
                              "label_name_hashes": labeller.name_fingerprints()}
    return Proposal(labels, scores, candidates, groups, unclustered, recorded, time.perf_counter() - t0)


def _choose_k(X: np.ndarray, empty: np.ndarray, n_ok: int, p: Params, seed: int) -> KChoice:
    """The analyst's number of candidates, else one chosen from the segments with content."""
    if p.n_candidates:
        return KChoice(int(p.n_candidates), "analyst", "set by the analyst", {})
    if n_ok:
        return choose_k(X, rows=np.nonzero(~empty)[0], seed=seed, k_max=p.k_max,
                        per_candidate=p.segments_per_candidate, rule=p.k_rule)
    return KChoice(0, "none", "no segment with content", {})


def _assign(
    X: np.ndarray,
    docs: list[list[str]],
    empty: np.ndarray,
    n_ok: int,
    k: int,
    p: Params,
    seed: int,
    on_keywords: Callable[[], None],
) -> tuple[np.ndarray, dict[int, list[tuple[str, float]]]]:
    """Each segment's cluster (``UNCLUSTERED`` for none) and each cluster's weighted keywords."""
    reducer = _reducer(p, seed, n_ok, X.shape[1] if X.ndim == 2 else 0)
    space = X
    if reducer is not None:
        reducer.fit(X[~empty])
        space = _unit(reducer.transform(X)).astype(np.float32)
    clusterer = SampledKMeans(
        max(k, 1),
        seed=seed,
        sample_size=p.sample_size,
        n_init=p.n_init,
        exclude=empty,
        outliers=p.outliers,
        outlier_similarity=p.outlier_similarity,
    )
    if n_ok == 0:
        return np.full(X.shape[0], UNCLUSTERED, dtype=np.int64), {}
    if p.use_bertopic and n_ok >= 2 and len({w for d in docs for w in d}) >= 2:  # BERTopic needs 2+ words
        return _fit_bertopic(X, docs, clusterer, p)
    labels = clusterer.fit(space).labels_
    on_keywords()
    return labels, kw.ctfidf(docs, labels.tolist(), top_n=p.top_keywords)


def _centroids_and_scores(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit centroids of the clusters found, and each segment's cosine to its own centroid."""
    k_found = int(labels.max()) + 1 if (labels >= 0).any() else 0
    if not k_found:
        return np.zeros((0, X.shape[1] if X.ndim == 2 else 0), dtype=np.float32), np.zeros(len(labels), dtype=np.float32)
    centroids = np.vstack([_unit(X[labels == c].mean(axis=0)) for c in range(k_found)])
    return centroids, _cosine_to_centroid(X, labels, centroids)


def _candidate_nodes(
    labels: np.ndarray,
    scores: np.ndarray,
    texts: Sequence[str],
    topic_words: dict[int, list[tuple[str, float]]],
    labeller: Labeller,
    p: Params,
) -> list[Node]:
    """One labelled node per cluster found, with its representatives and cleaned keywords."""
    k_found = int(labels.max()) + 1 if (labels >= 0).any() else 0
    nodes = []
    for c in range(k_found):
        members = np.nonzero(labels == c)[0]
        reps = representatives(members, scores, texts, p.representatives)
        words = labeller.clean_keywords([w for w, _ in topic_words.get(c, [])], members.tolist())[: p.top_keywords]
        label = labeller.label(members.tolist(), reps)
        nodes.append(Node(c, label, words, members.tolist(), reps))
    return nodes


def _unclustered_node(labels: np.ndarray, p: Params) -> Node | None:
    """The explicit "Unclustered" node for segments no cluster took, if any."""
    if not (labels == UNCLUSTERED).any():
        return None
    members = np.nonzero(labels == UNCLUSTERED)[0]
    first = members[: p.representatives].tolist()
    return Node(-1, "Unclustered", [], members.tolist(), first, unclustered=True)


def _fit_bertopic(
    X: np.ndarray, docs: list[list[str]], clusterer: SampledKMeans, p: Params
) -> tuple[np.ndarray, dict[int, list[tuple[str, float]]]]:
    """The leaf level through BERTopic with our components; returns labels (largest first) and c-TF-IDF words."""
    from bertopic import BERTopic
    from bertopic.vectorizers import ClassTfidfTransformer
    from sklearn.feature_extraction.text import CountVectorizer

    reducer = _reducer(p, clusterer.seed, len(X), X.shape[1])
    # Without a reduction, BERTopic is handed row numbers in place of the reduced vectors and the clusterer reads
    # the vectors themselves: BERTopic copies what the reducer returns (np.nan_to_num), 1.5 GB at a million rows.
    model = BERTopic(
        embedding_model=None,
        umap_model=reducer or _RowNumbers(),
        hdbscan_model=clusterer if reducer is not None else _OnVectors(clusterer, X),
        vectorizer_model=CountVectorizer(analyzer=_analyze),
        ctfidf_model=ClassTfidfTransformer(reduce_frequent_words=True),
        top_n_words=p.top_keywords * 2,
        calculate_probabilities=False,
        verbose=False,
    )
    joined = [" ".join(d) + " " + _SEP for d in docs]  # BERTopic joins a topic's documents with spaces
    topics, _ = model.fit_transform(joined, embeddings=X)
    raw = np.asarray(topics, dtype=np.int64)
    # BERTopic numbers topics by size already; make the numbering dense and stable (size desc, then first row).
    ids = sorted({int(t) for t in raw if t >= 0}, key=lambda t: (-int((raw == t).sum()), int(np.argmax(raw == t))))
    remap = {t: i for i, t in enumerate(ids)}
    labels = np.array([remap.get(int(t), UNCLUSTERED) for t in raw], dtype=np.int64)
    words: dict[int, list[tuple[str, float]]] = {}
    for t, i in remap.items():
        got = model.get_topic(t) or []
        pairs = [(str(w), float(s)) for w, s in got if w]
        words[i] = kw._dedupe(pairs, p.top_keywords)
    return labels, words


class _RowNumbers:
    """A BERTopic dimensionality "reduction" that gives each row its number (a column of n floats)."""

    def fit(self, X: np.ndarray, y: Any = None) -> _RowNumbers:
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return np.arange(len(X), dtype=np.float64)[:, None]


class _OnVectors:
    """A BERTopic clustering component that clusters the vectors of the row numbers it is given."""

    def __init__(self, clusterer: SampledKMeans, vectors: np.ndarray) -> None:
        self.clusterer = clusterer
        self.vectors = vectors
        self.labels_: np.ndarray = np.zeros(0, dtype=np.int64)

    def fit(self, rows: np.ndarray, y: Any = None) -> _OnVectors:
        if len(rows) != len(self.vectors):
            raise ValueError(f"{len(rows)} rows for {len(self.vectors)} vectors")
        self.labels_ = self.clusterer.fit(self.vectors).labels_
        return self

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return self.clusterer.predict(self.vectors[np.asarray(rows)[:, 0].astype(np.int64)])


_SEP = "qqsepqq"  # alphanumeric: BERTopic strips other characters before vectorizing


def _analyze(doc: str) -> list[str]:
    """Lemmas and bigrams of adjacent lemmas, never across the boundary between two joined documents."""
    out: list[str] = []
    for part in doc.split(_SEP):
        words = part.split()
        out += words
        out += [a + " " + b for a, b in zip(words, words[1:])]
    return out


def representatives(members: np.ndarray, scores: np.ndarray, texts: Sequence[str], n: int) -> list[int]:
    """Up to ``n`` rows nearest the centroid, one per distinct text (casefolded)."""
    order = members[np.argsort(-scores[members], kind="stable")]
    seen: set[str] = set()
    picked: list[int] = []
    for i in order:
        key = " ".join(texts[i].casefold().split())
        if key in seen:
            continue
        seen.add(key)
        picked.append(int(i))
        if len(picked) == n:
            break
    return picked


def _groups(
    candidates: list[Node], centroids: np.ndarray, docs: list[list[str]], labels: np.ndarray, p: Params, seed: int,
    labeller: Labeller,
) -> list[Node]:
    k = len(candidates)
    g = auto_groups(k) if p.n_groups is None else min(p.n_groups, k)
    if g < 2 or k < 3:
        return []
    from sklearn.cluster import AgglomerativeClustering

    parent_of = AgglomerativeClustering(n_clusters=g, linkage="ward").fit_predict(centroids)
    sizes = {c.index: len(c.members) for c in candidates}
    gids = sorted(set(parent_of.tolist()), key=lambda q: -sum(sizes[i] for i in range(k) if parent_of[i] == q))
    remap = {q: i for i, q in enumerate(gids)}
    row_group = np.array([remap[int(parent_of[lab])] if lab >= 0 else -1 for lab in labels], dtype=np.int64)
    words = kw.ctfidf(docs, row_group.tolist(), top_n=p.top_keywords)
    groups = []
    for q, gi in remap.items():
        children = [i for i in range(k) if parent_of[i] == q]
        for i in children:
            candidates[i].parent = gi
        members = sorted(m for i in children for m in candidates[i].members)
        reps = [candidates[i].representatives[0] for i in children if candidates[i].representatives][:5]
        gw = labeller.clean_keywords([w for w, _ in words.get(gi, [])], members)
        label = labeller.label(members, reps)
        groups.append(Node(gi, label, gw, members, reps, children=children))
    groups.sort(key=lambda node: node.index)
    return groups
