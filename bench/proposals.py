"""The machine's proposals on the NHS data: k choice, suggestions that learn, embedding backends, map speed.

Called by ``bench/cluster_bench.py`` (``--proposals``, on by default); each function returns a dict of figures.

* :func:`k_table` - per sample size (80, 300, 1,000, full; 5 seeded samples of the distinct comments, the full
  set with 3 k-means seeds): AMI against the 44 subcategories at the k :func:`thematic.cluster.kchoice.choose_k`
  picks, at the previous silhouette rule's k and at the former power-law k, each relative to the best AMI over
  every k in 4..60 on the same sample (the same clustering component, ``SampledKMeans``, at each k); mean and
  worst over the samples. The labels are used for this evaluation only, never by the rule.
* :func:`learning_curve` - the shipped codebook (``codebooks/nhs_patient_experience.yaml``, 44 subcategories under
  9 categories) as prior; a coder codes 25, 100, 400, 1,600 random comments (their subcategory); top-1/top-3 on a
  fixed held-out 20% for categories and subcategories: zero-shot, the coder's model (:mod:`thematic.learn`), and
  a logistic regression trained on the other 80% (the ceiling).
* :func:`refit_ms` - the real path at 10,000 segments: a coder with 1,600 codings codes one more segment, then
  asks for suggestions for the next one (the model refits, warm-started): milliseconds, median of 7.
* :func:`backends` - cold embedding of the distinct comments with PyTorch, ONNX Runtime and ONNX int8 in this
  process (model load timed apart), cosine to the PyTorch vectors, AMI at one fixed k and zero-shot suggestion
  accuracy (categories) with each backend's vectors.
* :func:`map_ms` - the candidate map (centroids + layout + similarity) of a 10,000-segment run from cached vectors.
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
CODEBOOK = REPO / "codebooks" / "nhs_patient_experience.yaml"


def _norm(s: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", str(s)).replace("\uff0f", "/").split()).casefold()


def _ami(a: Sequence[Any], b: Sequence[Any]) -> float:
    from sklearn.metrics import adjusted_mutual_info_score

    return float(adjusted_mutual_info_score(a, b))


# ---------------------------------------------------------------------- k choice


def k_table(
    X: np.ndarray, sub: Sequence[str], sizes: Sequence[str], seed: int = 42, log: Any = print, seeds: int = 5,
) -> dict[str, Any]:
    """Per size, over ``seeds`` samples (the full set: ``seeds`` k-means seeds, at most 3): AMI at the k each rule
    chooses relative to the best AMI over k in 4..60 on that sample; mean and worst. Rules: today's
    (:func:`choose_k`), the previous silhouette rule (duplicates counted, review load n/5 only) and the size rule."""
    from thematic.cluster.kchoice import auto_k, choose_k
    from thematic.cluster.pipeline import SampledKMeans

    out: dict[str, Any] = {}
    for size in sizes:
        n = len(X) if size == "full" else int(size)
        runs: list[dict[str, Any]] = []
        sweeps: list[dict[int, float]] = []
        for s in range(seeds if n < len(X) else min(seeds, 3)):
            rng = np.random.default_rng(seed + s)
            idx = np.arange(len(X)) if n >= len(X) else np.sort(rng.choice(len(X), n, replace=False))
            x, y = X[idx], [sub[i] for i in idx]
            km_seed = seed if n < len(X) else seed + s  # the full set has one sample: vary k-means instead

            t0 = time.perf_counter()
            new = choose_k(x, seed=km_seed)
            choose_s = time.perf_counter() - t0
            prev = choose_k(x, seed=km_seed, dedupe=False, load_scale=None)
            old_k = auto_k(len(idx))
            sweep = {k: _ami(y, SampledKMeans(k, seed=km_seed).fit(x).labels_) for k in range(4, min(60, len(idx) - 1) + 1)}
            best_k = max(sweep, key=lambda k: sweep[k])
            best = sweep[best_k]

            for k in (new.k, prev.k, old_k):  # a k outside 4..60 (fewer than 4 candidates)
                if k not in sweep:
                    sweep[k] = _ami(y, SampledKMeans(k, seed=km_seed).fit(x).labels_)
            rel = {k: a / best for k, a in sweep.items()}

            sweeps.append({k: r for k, r in rel.items() if 4 <= k <= 60})
            runs.append({"sample_seed": seed + s, "kmeans_seed": km_seed, "best_k": best_k, "ami_best": best,
                         "chosen_k": new.k, "chosen_vs_best": rel[new.k], "prev_k": prev.k,
                         "prev_vs_best": rel[prev.k], "old_k": old_k, "old_vs_best": rel[old_k],
                         "choose_s": choose_s, "reason": new.reason})
            log(f"  k at {size} (sample {s}): chosen {new.k} ({rel[new.k]:.3f} of best), previous silhouette rule "
                f"{prev.k} ({rel[prev.k]:.3f}), size rule {old_k} ({rel[old_k]:.3f}); best k {best_k} AMI {best:.3f}")
        row: dict[str, Any] = {"n": n, "samples": runs}
        for key in ("chosen", "prev", "old"):
            vals = [r[f"{key}_vs_best"] for r in runs]
            row[f"{key}_mean"], row[f"{key}_worst"] = float(np.mean(vals)), float(min(vals))
        row["within_5pct_every_sample"] = row["chosen_worst"] >= 0.95
        # the ceiling of any rule that gives one k per size: the k best on average, chosen with the labels
        common = set.intersection(*(set(w) for w in sweeps))
        fixed = max(common, key=lambda k: float(np.mean([w[k] for w in sweeps])))
        row["fixed_k_ceiling"] = {"k": fixed, "mean": float(np.mean([w[fixed] for w in sweeps])),
                                  "worst": float(min(w[fixed] for w in sweeps))}
        out[size] = row
    return out


# ---------------------------------------------------------------------- suggestions that learn


def _prior(embedder: Any) -> tuple[np.ndarray, list[str], list[str]]:
    """Zero-shot prototypes of the shipped codebook's leaves, with each leaf's category and subcategory names."""
    from thematic import suggest as sg
    from thematic.codebook.files import import_codebook, read_codebook
    from thematic.store import Store

    store = Store(":memory:")
    import_codebook(store, read_codebook(CODEBOOK))
    model = sg.code_model(store, embedder=embedder)
    from thematic.codebook import split_path

    parts = [split_path(p) for p in model.paths]
    store.close()
    return model.prototypes, [_norm(p[0]) for p in parts], [_norm(p[-1]) for p in parts]


def _top(probs: np.ndarray, names: Sequence[str], k: int) -> list[list[str]]:
    """Per row, the first ``k`` distinct names (a leaf's category, or its own name) in score order."""
    order = np.argsort(-probs, axis=1, kind="stable")
    out = []
    for row in order:
        seen: list[str] = []
        for j in row:
            if names[j] not in seen:
                seen.append(names[j])
                if len(seen) == k:
                    break
        out.append(seen)
    return out


def _acc(ranked: list[list[str]], truth: Sequence[str]) -> tuple[float, float]:
    return (float(np.mean([r[:1] == [t] for r, t in zip(ranked, truth)])),
            float(np.mean([t in r[:3] for r, t in zip(ranked, truth)])))


def learning_curve(
    X: np.ndarray, cat: Sequence[str], sub: Sequence[str], embedder: Any, *, steps: Sequence[int] = (25, 100, 400, 1600),
    seed: int = 0, log: Any = print,
) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    from thematic import learn
    from thematic import suggest as sg

    protos, leaf_cat, leaf_sub = _prior(embedder)
    leaf_of = {s: i for i, s in enumerate(leaf_sub)}
    cat_n, sub_n = [_norm(c) for c in cat], [_norm(s) for s in sub]
    rows = np.array([i for i, s in enumerate(sub_n) if s in leaf_of and leaf_cat[leaf_of[s]] == cat_n[i]])
    rng = np.random.default_rng(seed)
    rows = rows[rng.permutation(len(rows))]
    n_test = len(rows) // 5
    test, pool = rows[:n_test], rows[n_test:]
    Xt = X[test]
    t_cat, t_sub = [cat_n[i] for i in test], [sub_n[i] for i in test]

    def measure(probs: np.ndarray) -> dict[str, float]:
        c1, c3 = _acc(_top(probs, leaf_cat, 3), t_cat)
        s1, s3 = _acc(_top(probs, leaf_sub, 3), t_sub)
        return {"cat_top1": c1, "cat_top3": c3, "sub_top1": s1, "sub_top3": s3}

    res: dict[str, Any] = {"n_labelled_in_codebook": int(len(rows)), "n_test": int(n_test),
                           "n_unmatched": int(len(cat) - len(rows))}
    res["zero_shot"] = measure(sg.scores(Xt, protos))
    log(f"  zero-shot: {res['zero_shot']}")
    curve = {}
    for n in steps:
        tr = pool[:n]
        t0 = time.perf_counter()
        model = learn.fit(X[tr], [leaf_of[sub_n[i]] for i in tr], protos, sg.TEMPERATURE)
        fit_s = time.perf_counter() - t0
        curve[str(n)] = measure(model.scores(Xt)) | {"fit_ms": 1000 * fit_s}
        log(f"  after {n} coded: {curve[str(n)]}")
    res["learned"] = curve
    # the ceiling: logistic regression trained on every other labelled comment (80%)
    ceiling: dict[str, float] = {}
    for level, names in (("cat", cat_n), ("sub", sub_n)):
        clf = LogisticRegression(C=10.0, max_iter=2000).fit(X[pool], [names[i] for i in pool])
        probs = clf.predict_proba(Xt)
        classes = list(clf.classes_)
        ranked = [[classes[j] for j in row[:3]] for row in np.argsort(-probs, axis=1)]
        t1, t3 = _acc(ranked, t_cat if level == "cat" else t_sub)
        ceiling[f"{level}_top1"], ceiling[f"{level}_top3"] = t1, t3
    res["ceiling_80pct"] = ceiling
    at400 = curve.get("400")
    if at400:
        res["cat_top1_at_400_vs_ceiling"] = at400["cat_top1"] / ceiling["cat_top1"]
        res["sub_top1_at_400_vs_ceiling"] = at400["sub_top1"] / ceiling["sub_top1"]
    log(f"  ceiling (80%): {ceiling}")
    return res


def refit_ms(texts: Sequence[str], X: np.ndarray, sub: Sequence[str], embedder: Any, n_segments: int = 10_000,
             n_coded: int = 1600) -> dict[str, Any]:
    """The coding page's path at ``n_segments``: code one segment, then suggestions for the next (refit included)."""
    from thematic import suggest as sg
    from thematic.codebook import list_codes
    from thematic.codebook.files import import_codebook, read_codebook
    from thematic.coding import apply_code, apply_code_many
    from thematic.embed import embed_texts
    from thematic.store import Store

    store = Store(":memory:")
    idx = np.resize(np.arange(len(texts)), n_segments)
    seg_texts = [f"{texts[i]}" if k < len(texts) else f"{texts[i]} ({k})" for k, i in enumerate(idx)]
    with store.action("bench.corpus", "corpus") as act:
        qid = act.insert("INSERT INTO questions (key, label, position) VALUES ('Q', 'Feedback', 0)")
        act.executemany("INSERT INTO forms (id, external_id) VALUES (?, ?)", [(i + 1, f"r{i}") for i in range(n_segments)])
        act.executemany("INSERT INTO answers (id, form_id, question_id, text) VALUES (?, ?, ?, ?)",
                        [(i + 1, i + 1, qid, t) for i, t in enumerate(seg_texts)])
        act.executemany('INSERT INTO segments (id, answer_id, position, start, "end", text) VALUES (?, ?, 0, 0, ?, ?)',
                        [(i + 1, i + 1, len(t), t) for i, t in enumerate(seg_texts)])
    # the vector cache as the app has it: every segment embedded once (here: the same vectors, no re-encoding)
    from thematic.embed import _write_cache, text_hash

    _write_cache(store, embedder.model_id, [(text_hash(t), X[i]) for t, i in zip(seg_texts, idx)])
    import_codebook(store, read_codebook(CODEBOOK))
    leaves = {_norm(c.name): c.id for c in list_codes(store) if not any(d.parent_id == c.id for d in list_codes(store))}
    coded = [(k + 1, leaves[_norm(sub[i])]) for k, i in enumerate(idx) if _norm(sub[i]) in leaves][: n_coded + 20]
    by_code: dict[int, list[int]] = {}
    for s, c in coded[:n_coded]:
        by_code.setdefault(c, []).append(s)
    for c, segs in by_code.items():
        apply_code_many(store, segs, c, "coder")
    embed_texts(store, ["warm"], embedder=embedder)
    sg.suggest(store, segment_ids=[coded[n_coded][0]], coder="coder", embedder=embedder)  # first fit: cold
    times = []
    for s, c in coded[n_coded : n_coded + 7]:
        apply_code(store, s, c, "coder")
        t0 = time.perf_counter()
        sg.suggest(store, segment_ids=[s + 1], coder="coder", embedder=embedder)
        times.append(1000 * (time.perf_counter() - t0))
    store.close()
    return {"n_segments": n_segments, "n_coded": n_coded, "ms_median": float(np.median(times)),
            "ms_max": float(max(times))}


def map_ms(texts: Sequence[str], X: np.ndarray, n_segments: int = 10_000) -> dict[str, Any]:
    from thematic import cluster as cl
    from thematic.cluster import map as cmap
    from thematic.embed import _write_cache, text_hash
    from thematic.store import Store

    store = Store(":memory:")
    idx = np.resize(np.arange(len(texts)), n_segments)
    seg = [texts[i] if k < len(texts) else f"{texts[i]} ({k})" for k, i in enumerate(idx)]
    with store.action("bench.corpus", "corpus") as act:
        qid = act.insert("INSERT INTO questions (key, label, position) VALUES ('Q', 'Feedback', 0)")
        act.executemany("INSERT INTO forms (id, external_id) VALUES (?, ?)", [(i + 1, f"r{i}") for i in range(n_segments)])
        act.executemany("INSERT INTO answers (id, form_id, question_id, text) VALUES (?, ?, ?, ?)",
                        [(i + 1, i + 1, qid, t) for i, t in enumerate(seg)])
        act.executemany('INSERT INTO segments (id, answer_id, position, start, "end", text) VALUES (?, ?, 0, 0, ?, ?)',
                        [(i + 1, i + 1, len(t), t) for i, t in enumerate(seg)])

    class Cached:
        model_id = "sentence-transformers/all-MiniLM-L6-v2"

        def encode(self, batch: Sequence[str], progress: Any = None) -> np.ndarray:
            raise AssertionError("the map must not embed")

    _write_cache(store, Cached.model_id, [(text_hash(t), X[i]) for t, i in zip(seg, idx)])
    run = cl.propose(store, embedder=Cached(), params={"n_candidates": 40, "use_bertopic": False})
    t0 = time.perf_counter()
    m = cmap.candidate_map(store, run.id, embedder=Cached())
    compute = time.perf_counter() - t0
    t0 = time.perf_counter()
    svg = cmap.render(m, "svg")
    draw = time.perf_counter() - t0
    store.close()
    return {"n_segments": n_segments, "candidates": len(m.ids), "compute_ms": 1000 * compute, "svg_ms": 1000 * draw,
            "svg_kb": len(svg) / 1024}
