"""How many candidates: the number of clusters chosen from the vectors, with the reason shown to the analyst.

:func:`choose_k` picks k by a documented rule on the vectors (never on any labels); :func:`auto_k` is the former
power law of the number of segments, kept as the ``size`` rule and as a reference point.
"""

from __future__ import annotations

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


@dataclass(frozen=True)
class KChoice:
    """How many candidates, by which rule, why (one sentence), and the criterion at each k tried."""

    k: int
    rule: str
    reason: str
    scores: dict[int, float]


def k_range(n: int, *, k_max: int = 60, per_candidate: int = 5) -> list[int]:
    """The k tried for ``n`` segments: 4 (or fewer) up to the review load, min(k_max, n / per_candidate)."""
    hi = max(2, min(k_max, n // max(per_candidate, 1)))
    lo = min(4, hi)
    if hi - lo <= 16:
        return list(range(lo, hi + 1))
    grid = np.unique(np.round(np.geomspace(lo, hi, 17)).astype(int))
    return sorted({int(k) for k in grid} | {lo, hi})


def choose_k(
    X: np.ndarray, *, seed: int = 42, k_max: int = 60, per_candidate: int = 5, sample: int = 3000, rule: str = "silhouette"
) -> KChoice:
    """Choose the number of candidates from the vectors.

    ``silhouette``: k-means (2 seeded starts) for each k in :func:`k_range` on a seeded sample of at most
    ``sample`` rows, scored by the mean silhouette (cosine) of the sample. The range's upper end is the review
    load: no more than ``k_max`` candidates and at least ``per_candidate`` segments each on average. When the
    vectors have clear groups (best silhouette >= :data:`CLEAR_STRUCTURE`, Kaufman & Rousseeuw's threshold for
    structure), the best k is taken. Free-text feedback rarely has them (MiniLM silhouettes of 0.05-0.10 on the
    NHS data): there is then no natural number, and the best silhouette is taken between the size rule's k
    (:func:`auto_k`) and twice that, so that themes come out fine enough to merge rather than mixed (merging
    candidates is quicker for an analyst than splitting them).
    ``size``: the former rule, a power law of the number of segments (:func:`auto_k`).
    """
    n = len(X)
    if rule == "size" or n < 12:
        k = auto_k(n)
        why = "size" if rule == "size" else "too few segments to compare"
        return KChoice(k, "size", f"from the number of segments ({n}; {why}: ~1.2 n^0.4)", {})
    if rule != "silhouette":
        raise ValueError(f"unknown k rule {rule!r} (silhouette or size)")
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    rng = np.random.default_rng(seed)
    rows = np.sort(rng.choice(n, sample, replace=False)) if n > sample else np.arange(n)
    data = np.asarray(X[rows], dtype=np.float64)
    distinct = len(np.unique(data, axis=0))
    ks = [k for k in k_range(n, k_max=k_max, per_candidate=per_candidate) if k < distinct]
    if not ks:
        k = max(1, min(auto_k(n), distinct))
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
    bound = f"at most {max(ks)} candidates, {per_candidate}+ segments each"
    where = "; sample of " + str(len(rows)) if n > sample else ""
    if scores[best] >= CLEAR_STRUCTURE:
        reason = (f"chosen by silhouette: clear groups, best {scores[best]:.3f} at k={best} over "
                  f"k={min(ks)}..{max(ks)} ({bound}{where})")
        return KChoice(best, "silhouette", reason, scores)
    lo = min(auto_k(n), max(ks))
    hi = min(2 * lo, max(ks))
    band = [k for k in ks if lo <= k <= hi] or [min(ks, key=lambda k: abs(k - lo))]
    for k in (lo, hi):
        if k not in scores and k < distinct:
            score(k)
            band.append(k)
    best = refine(sorted(set(band)))
    reason = (f"chosen by silhouette within k={lo}..{hi}: no clear groups (best silhouette "
              f"{max(scores.values()):.3f} < {CLEAR_STRUCTURE}), so between the size rule and twice it, best "
              f"{scores[best]:.3f} at k={best} ({bound}{where})")
    return KChoice(best, "silhouette", reason, scores)
