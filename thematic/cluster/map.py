"""A picture of a run's candidate themes: a 2-D map of their centroids and their similarity, from cached vectors.

:func:`candidate_map` computes, for the open candidates of a run (the "Unclustered" group left out), each one's
centroid from the project's embedding cache, the cosine similarity between centroids, and a 2-D layout by
classical multidimensional scaling of the centroid distances (the top two principal axes of the centroids), so
that candidates close on the map say similar things. Nothing is re-embedded; at 10,000 segments it takes well
under a second. :func:`render` draws it with matplotlib (bubble area ~ segments, colour = proposed group, the
label beside each bubble, a similarity heatmap beside the map) and returns SVG or PNG bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from ..embed import Embedder, normalise
from ..store import Store
from .candidates import candidates, get_run, run_vectors, segment_ids


@dataclass(frozen=True)
class CandidateMap:
    run_id: int
    ids: list[int]
    labels: list[str]
    sizes: list[int]
    groups: list[str]  # the proposed group's label ('' when none)
    xy: np.ndarray  # (n, 2) layout
    similarity: np.ndarray  # (n, n) cosine similarity of centroids


def candidate_map(store: Store, run_id: int, *, embedder: Embedder | None = None) -> CandidateMap:
    """Centroids, similarities and a 2-D layout of the run's open candidates (from the vector cache)."""
    run = get_run(store, run_id)
    cands = candidates(store, run_id)
    leaves = [c for c in cands if c.level == 1 and not c.unclustered and c.size > 0]
    group_label = {c.id: c.label for c in cands if c.level == 0}
    members = {c.id: segment_ids(store, c.id) for c in leaves}
    every = [s for c in leaves for s in members[c.id]]
    if not leaves:
        return CandidateMap(run_id, [], [], [], [], np.zeros((0, 2)), np.zeros((0, 0)))
    _, vecs = run_vectors(store, run, every, embedder)
    cents, start = [], 0
    for c in leaves:
        n = len(members[c.id])
        cents.append(vecs[start : start + n].mean(axis=0))
        start += n
    C = normalise(np.vstack(cents))
    sim = np.clip(C @ C.T, -1.0, 1.0)
    xy = _layout(C)
    return CandidateMap(
        run_id, [c.id for c in leaves], [c.label for c in leaves], [c.size for c in leaves],
        [group_label.get(c.parent_id, "") if c.parent_id is not None else "" for c in leaves], xy, sim,
    )


def _layout(C: np.ndarray) -> np.ndarray:
    """Classical MDS of unit centroids: their top two principal axes (deterministic signs)."""
    if len(C) == 1:
        return np.zeros((1, 2))
    centred = C - C.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    xy = u[:, :2] * s[:2]
    if xy.shape[1] < 2:
        xy = np.hstack([xy, np.zeros((len(C), 2 - xy.shape[1]))])
    for j in range(2):  # the largest coordinate on each axis is positive: the same picture every time
        if xy[np.argmax(np.abs(xy[:, j])), j] < 0:
            xy[:, j] *= -1
    return xy  # type: ignore[no-any-return]


def render(cmap: CandidateMap, fmt: str = "svg", *, title: str = "") -> bytes:
    """The map (left) and the similarity heatmap (right) as ``svg`` or ``png`` bytes."""
    if fmt not in ("svg", "png"):
        raise ValueError(f"format {fmt!r}: svg or png")
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    n = len(cmap.ids)
    fig = Figure(figsize=(13, 6.2), layout="constrained")
    ax, hx = fig.subplots(1, 2, width_ratios=[1.25, 1])
    groups = sorted({g for g in cmap.groups})
    palette = matplotlib.colormaps["tab10"]
    colour = {g: palette(i % 10) for i, g in enumerate(groups)}
    if n:
        sizes = np.asarray(cmap.sizes, dtype=float)
        area = 60 + 1400 * sizes / max(float(sizes.max()), 1.0)
        for g in groups:
            rows = [i for i in range(n) if cmap.groups[i] == g]
            ax.scatter(cmap.xy[rows, 0], cmap.xy[rows, 1], s=area[rows], alpha=0.55, color=colour[g],
                       edgecolors="white", label=_short(g, 40) or "(no group)")
        for i in range(n):
            ax.annotate(f"{_short(cmap.labels[i], 32)} ({cmap.sizes[i]})", cmap.xy[i], fontsize=8,
                        ha="center", va="center")
        if len(groups) > 1:
            ax.legend(loc="best", fontsize=7, title="proposed group", title_fontsize=7, markerscale=0.4)
        im = hx.imshow(cmap.similarity, vmin=max(float(cmap.similarity.min()), -1.0), vmax=1.0, cmap="viridis")
        ticks = [f"{i + 1}. {_short(lab, 26)}" for i, lab in enumerate(cmap.labels)]
        hx.set_xticks(range(n), [str(i + 1) for i in range(n)], fontsize=6)
        hx.set_yticks(range(n), ticks, fontsize=6)
        fig.colorbar(im, ax=hx, shrink=0.8, label="cosine similarity of centroids")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title("Candidate themes: near = similar; area = segments", fontsize=10)
    hx.set_title("Similarity between candidates", fontsize=10)
    if title:
        fig.suptitle(title, fontsize=11)
    buf = io.BytesIO()
    # text stays text in the SVG (searchable, editable); fixed ids: the same run gives the same bytes
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "thematic"}):
        fig.savefig(buf, format=fmt, dpi=130 if fmt == "png" else None, metadata=_metadata(fmt))
    return buf.getvalue()


def _metadata(fmt: str) -> dict[str, str | None]:
    # no creation date in the file: the same run gives the same bytes
    return {"Date": None} if fmt == "svg" else {}


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"
