"""How many candidates: the number of clusters chosen from the vectors, with the reason shown to the analyst.

:func:`choose_k` picks k by a documented rule on the vectors (never on any labels); :func:`auto_k` is the former
power law of the number of segments, kept as the ``size`` rule and as a reference point.

The rule, in full:

1. Duplicates count once. Identical answers ("None", a copied sentence) are one vector; left in, each pair is a
   perfect little cluster and the silhouette rises with k for no reason in the data (the bundled demo, 310
   segments of which 231 distinct, scored 0.26 at k=57 with duplicates and at most 0.13 without). The silhouette
   is computed on the distinct vectors of a seeded sample of at most 3,000 rows, and every bound below uses the
   number of distinct segments ``m`` (estimated from the sample when the set is larger).
2. The review load bounds k: at most ``k_max`` (60) candidates, at least ``per_candidate`` (5) segments each on
   average, and no more than ``2 sqrt(m)`` (31 for 240 distinct segments, 63 for 1,000), so that the number a
   person is asked to review grows with the data but slower than it.
3. k-means (2 seeded starts) for each k from 4 to that bound scores the mean cosine silhouette. When the best is
   at least 0.25 (Kaufman & Rousseeuw's threshold for substantial structure) the vectors have clear groups and
   the best k is taken. Otherwise (free-text feedback usually: 0.05-0.10 on the NHS data) there is no natural
   number, and the best silhouette is taken between the size rule's k (:func:`auto_k` of ``m``) and twice that,
   so that themes come out fine enough to merge rather than mixed (merging candidates is quicker for an analyst
   than splitting them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def auto_k(n: int) -> int:
    """Candidates for ``n`` segments: ~7 for 80, ~19 for 1,000, ~45 for 10,000, at most 60 (a human reviews them)."""
    if n < 6:
        return 1
    return int(min(60, max(2, round(1.2 * n**0.4)), max(2, n // 4)))


#: Mean silhouette from which vectors count as having clear groups (Kaufman & Rousseeuw: below 0.25, no
#: substantial structure).
CLEAR_STRUCTURE = 0.25
#: The review load grows as ``LOAD_SCALE * sqrt(distinct segments)`` at most.
LOAD_SCALE = 2.0


@dataclass(frozen=True)
class KChoice:
    """How many candidates, by which rule, why (one sentence), and the criterion at each k tried."""

    k: int
    rule: str
    reason: str
    scores: dict[int, float]


def review_load(n: int, *, k_max: int = 60, per_candidate: int = 5, load_scale: float | None = LOAD_SCALE) -> int:
    """The most candidates to propose for ``n`` (distinct) segments: min(k_max, n / per_candidate, 2 sqrt(n)).

    ``load_scale=None`` leaves out the square-root bound (the rule before it was added)."""
    hi = min(k_max, n // max(per_candidate, 1))
    if load_scale is not None:
        hi = min(hi, int(round(load_scale * math.sqrt(max(n, 0)))))
    return max(2, hi)


def k_range(n: int, *, k_max: int = 60, per_candidate: int = 5, load_scale: float | None = LOAD_SCALE) -> list[int]:
    """The k tried for ``n`` segments: 4 (or fewer) up to the review load (:func:`review_load`)."""
    hi = review_load(n, k_max=k_max, per_candidate=per_candidate, load_scale=load_scale)
    lo = min(4, hi)
    if hi - lo <= 16:
        return list(range(lo, hi + 1))
    grid = np.unique(np.round(np.geomspace(lo, hi, 17)).astype(int))
    return sorted({int(k) for k in grid} | {lo, hi})


def choose_k(
    X: np.ndarray, *, rows: np.ndarray | None = None, seed: int = 42, k_max: int = 60, per_candidate: int = 5,
    sample: int = 3000, rule: str = "silhouette", dedupe: bool = True, load_scale: float | None = LOAD_SCALE,
) -> KChoice:
    """Choose the number of candidates from the vectors (``X``, or only its ``rows``; a sample when many).

    ``silhouette``: the rule in this module's docstring. ``dedupe=False, load_scale=None`` is the rule as it was
    before duplicates counted once and the review load grew with the square root (kept for the benchmark).
    ``size``: the former rule, a power law of the number of segments (:func:`auto_k`).
    """
    n = len(X) if rows is None else len(rows)
    if rule == "size" or n < 12:
        k = auto_k(n)
        why = "size" if rule == "size" else "too few segments to compare"
        return KChoice(k, "size", f"from the number of segments ({n}; {why}: ~1.2 n^0.4)", {})
    if rule != "silhouette":
        raise ValueError(f"unknown k rule {rule!r} (silhouette or size)")
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(n, sample, replace=False)) if n > sample else np.arange(n)
    data = np.asarray(X[picked if rows is None else rows[picked]], dtype=np.float64)
    first = np.sort(np.unique(data, axis=0, return_index=True)[1])  # each distinct vector once, in row order
    distinct = len(first)
    if dedupe:
        data = data[first]
    # distinct segments in the whole set (estimated from the sample when there is one)
    m = distinct if n <= sample else max(distinct, int(round(n * distinct / len(picked))))
    size = m if dedupe else n
    ks = [k for k in k_range(size, k_max=k_max, per_candidate=per_candidate, load_scale=load_scale) if k < distinct]
    if not ks:
        k = max(1, min(auto_k(size), distinct))
        return KChoice(k, "size", f"from the number of segments ({n} with {distinct} distinct vectors)", {})
    scores: dict[int, float] = {}

    def score(k: int) -> None:
        lab = KMeans(n_clusters=k, n_init=2, random_state=seed).fit_predict(data)
        scores[k] = float(silhouette_score(data, lab, metric="cosine")) if len(set(lab.tolist())) > 1 else -1.0

    for k in ks:
        score(k)

    def refine(pool: list[int]) -> int:
        best = max(pool, key=lambda k: (round(scores[k], 4), -k))
        grid = sorted(pool)
        i = grid.index(best)  # a coarse grid: try every k between the best's neighbours too
        for k in range(grid[max(i - 1, 0)] + 1, grid[min(i + 1, len(grid) - 1)]):
            if k not in scores:
                score(k)
                pool.append(k)
        return max(pool, key=lambda k: (round(scores[k], 4), -k))

    best = refine(list(scores))
    if dedupe:
        counted = f"{distinct:,} distinct" + (f" in a sample of {len(picked):,}" if n > sample else " segments")
    else:
        counted = f"sample of {len(picked):,}" if n > sample else f"{n:,} segments"
    sq = f", at most {load_scale:g} sqrt({'distinct' if dedupe else 'n'})" if load_scale is not None else ""
    bound = f"at most {max(ks)} candidates: {per_candidate}+ segments each{sq}, {k_max} in all"
    if scores[best] >= CLEAR_STRUCTURE:
        reason = (f"chosen by silhouette: clear groups, best {scores[best]:.3f} at k={best} over "
                  f"k={min(ks)}..{max(ks)} ({bound}; {counted})")
        return KChoice(best, "silhouette", reason, scores)
    lo = min(auto_k(size), max(ks))
    hi = min(2 * lo, max(ks))
    band = [k for k in ks if lo <= k <= hi] or [min(ks, key=lambda k: abs(k - lo))]
    for k in (lo, hi):
        if k not in scores and k < distinct:
            score(k)
            band.append(k)
    best = refine(sorted(set(band)))
    reason = (f"chosen by silhouette within k={lo}..{hi}: no clear groups (best silhouette "
              f"{max(scores.values()):.3f} < {CLEAR_STRUCTURE}), so between the size rule and twice it, best "
              f"{scores[best]:.3f} at k={best} ({bound}; {counted})")
    return KChoice(best, "silhouette", reason, scores)
