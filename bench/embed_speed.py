"""Embedding speed and quality per backend: PyTorch (sentence-transformers, the baseline), ONNX Runtime float (the
default) and ONNX Runtime int8, on the NHS feedback comments, in one process, interleaved.

For each backend: texts per second encoding the distinct comments cold (the model loaded first and timed apart; a
warm-up of 32 texts not counted), the speed-up over PyTorch measured in the same run, the per-comment cosine to
the PyTorch vectors (mean, 1st percentile, minimum), AMI against the 44 human subcategories of a seeded k-means
(scikit-learn, ``k`` clusters) on that backend's vectors and the same for PyTorch's, and zero-shot suggestion
accuracy with the shipped codebook (``codebooks/nhs_patient_experience.yaml``) as top-1/top-3 on the 9 categories
and the 44 subcategories. Targets: >= 3x PyTorch with AMI and suggestion accuracy within 0.01 of PyTorch's and
per-comment cosine >= 0.99.

With ``--rounds R`` every backend encodes the whole set R times, in turn (torch, onnx, int8, torch, ...), and the
fastest round of each counts: on a shared machine the load changes while it runs, and taking turns spreads it
fairly. The load average before and after is printed with the figures.

Run: ``.venv/bin/python bench/embed_speed.py [--sample 2000] [--rounds 2] [--backends torch,onnx,onnx-int8]``.
``bench/cluster_bench.py`` calls :func:`compare`. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from thematic import embed  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "nhs_patient_feedback_phase1.csv"
CODEBOOK = REPO / "codebooks" / "nhs_patient_experience.yaml"
BASELINE = "torch"


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load_nhs() -> tuple[list[str], list[str], list[str]]:
    """The distinct non-empty comments (first seen order) with their subcategory and category."""
    import pandas as pd

    d = pd.read_csv(DATA)
    t = d["feedback"].fillna("").astype(str).str.strip()
    d = d[t != ""].assign(feedback=t[t != ""]).drop_duplicates("feedback")
    return d["feedback"].tolist(), d["subcategory"].astype(str).tolist(), d["label"].astype(str).tolist()


def _norm(s: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", str(s)).replace("\uff0f", "/").split()).casefold()


def _codebook_prior(emb: Any) -> tuple[np.ndarray, list[str], list[str]]:
    """The shipped codebook's zero-shot prototypes (embedded by ``emb``) with each leaf's category and own name."""
    from thematic import suggest as sg
    from thematic.codebook import split_path
    from thematic.codebook.files import import_codebook, read_codebook
    from thematic.store import Store

    store = Store(":memory:")
    try:
        import_codebook(store, read_codebook(CODEBOOK))
        model = sg.code_model(store, embedder=emb)
    finally:
        store.close()
    parts = [split_path(p) for p in model.paths]
    return model.prototypes, [_norm(p[0]) for p in parts], [_norm(p[-1]) for p in parts]


def _top_k(scores: np.ndarray, names: Sequence[str], truth: Sequence[str]) -> tuple[float, float]:
    """Top-1 and top-3 accuracy of the distinct ``names`` ranked by ``scores`` (a leaf's category, or its name)."""
    hit1 = hit3 = 0
    for row, t in zip(np.argsort(-scores, axis=1, kind="stable"), truth):
        seen: list[str] = []
        for j in row:
            if names[j] not in seen:
                seen.append(names[j])
                if len(seen) == 3:
                    break
        hit1 += seen[:1] == [t]
        hit3 += t in seen
    return hit1 / len(truth), hit3 / len(truth)


def quality(vectors: np.ndarray, emb: Any, sub: Sequence[str], cat: Sequence[str], k: int, seed: int) -> dict[str, float]:
    """AMI of a seeded k-means at ``k`` against the subcategories, and zero-shot suggestion accuracy."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_mutual_info_score

    from thematic import suggest as sg

    labels = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(vectors).labels_
    protos, leaf_cat, leaf_sub = _codebook_prior(emb)
    scores = sg.scores(vectors, protos)
    c1, c3 = _top_k(scores, leaf_cat, [_norm(c) for c in cat])
    s1, s3 = _top_k(scores, leaf_sub, [_norm(s) for s in sub])
    return {"ami_sub": float(adjusted_mutual_info_score(sub, labels)), "suggest_cat_top1": c1,
            "suggest_cat_top3": c3, "suggest_sub_top1": s1, "suggest_sub_top3": s3}


def compare(texts: Sequence[str], sub: Sequence[str], cat: Sequence[str], *, k: int = 40, seed: int = 42,
            backends: Sequence[str] = ("torch", "onnx", "onnx-int8"), rounds: int = 1,
            log: Callable[[str], None] = _err) -> dict[str, Any]:
    """Encode ``texts`` with each backend (``rounds`` interleaved passes, the fastest counts) and score each.

    Returns ``{"n_texts", "rounds", "k", "load_before", "load_after", <backend>: {...}, "fastest_ok": name}``; a
    backend's row has ``model_id``, ``load_s``, ``encode_s``, ``texts_per_s`` and its :func:`quality`, and beside
    PyTorch's row ``speedup_vs_torch``, ``cos_mean``/``cos_p1``/``cos_min`` and the differences ``d_*`` of each
    quality figure from PyTorch's. ``fastest_ok`` is the fastest backend meeting every quality bar."""
    order = list(dict.fromkeys([BASELINE, *backends])) if BASELINE in backends else list(backends)
    texts = list(texts)
    out: dict[str, Any] = {"n_texts": len(texts), "rounds": rounds, "k": k, "load_before": os.getloadavg()[0]}
    models: dict[str, embed.MiniLMEmbedder] = {}
    for name in order:
        m = embed.MiniLMEmbedder(backend=name)
        t0 = time.perf_counter()
        m.load()  # a first use exports/quantises into the model cache: timed apart from encoding
        m.encode(texts[:32])
        models[name] = m
        out[name] = {"model_id": m.model_id, "backend": m.backend, "load_s": time.perf_counter() - t0}
    secs: dict[str, list[float]] = {n: [] for n in order}
    vecs: dict[str, np.ndarray] = {}
    for r in range(rounds):
        for name in order:
            t0 = time.perf_counter()
            vecs[name] = models[name].encode(texts)
            secs[name].append(time.perf_counter() - t0)
            log(f"  round {r + 1}: {name} {secs[name][-1]:.1f}s ({len(texts) / secs[name][-1]:.0f} texts/s)")
    out["load_after"] = os.getloadavg()[0]
    for name in order:
        row = out[name]
        row["encode_s"] = min(secs[name])
        row["encode_s_rounds"] = secs[name]
        row["texts_per_s"] = len(texts) / row["encode_s"]
        row |= quality(vecs[name], models[name], sub, cat, k, seed)
    if BASELINE in vecs:
        base = out[BASELINE]
        for name in order:
            if name == BASELINE:
                continue
            row = out[name]
            cos = (vecs[name] * vecs[BASELINE]).sum(axis=1)
            row |= {"speedup_vs_torch": base["encode_s"] / row["encode_s"], "cos_mean": float(cos.mean()),
                    "cos_p1": float(np.percentile(cos, 1)), "cos_min": float(cos.min())}
            for q in ("ami_sub", "suggest_cat_top1", "suggest_cat_top3", "suggest_sub_top1", "suggest_sub_top3"):
                row[f"d_{q}"] = row[q] - base[q]
            row["quality_ok"] = bool(row["cos_p1"] >= 0.99 and all(abs(row[f"d_{q}"]) <= 0.01 for q in (
                "ami_sub", "suggest_cat_top1", "suggest_cat_top3", "suggest_sub_top1", "suggest_sub_top3")))
        ok = [n for n in order if n != BASELINE and out[n]["quality_ok"]]
        out["fastest_ok"] = max(ok, key=lambda n: out[n]["speedup_vs_torch"]) if ok else None
    return out


def table(res: dict[str, Any]) -> str:
    lines = [f"Embedding {res['n_texts']:,} distinct NHS comments cold, fastest of {res['rounds']} interleaved "
             f"round(s); load average {res['load_before']:.1f} before, {res['load_after']:.1f} after (2 cores)",
             f"{'backend':<10} {'texts/s':>8} {'x torch':>8} {'cos mean':>9} {'cos p1':>8} {'cos min':>8} "
             f"{'AMI':>6} {'cat t1':>7} {'cat t3':>7} {'sub t1':>7} {'sub t3':>7}  model id"]
    for name, r in res.items():
        if not isinstance(r, dict):
            continue
        x = f"x{r['speedup_vs_torch']:.2f}" if "speedup_vs_torch" in r else "1 (base)"
        cos = (f"{r['cos_mean']:>9.5f} {r['cos_p1']:>8.5f} {r['cos_min']:>8.5f}" if "cos_mean" in r
               else f"{'':>9} {'':>8} {'':>8}")
        lines.append(f"{name:<10} {r['texts_per_s']:>8.1f} {x:>8} {cos} {r['ami_sub']:>6.3f} "
                     f"{r['suggest_cat_top1']:>7.3f} {r['suggest_cat_top3']:>7.3f} {r['suggest_sub_top1']:>7.3f} "
                     f"{r['suggest_sub_top3']:>7.3f}  {r['model_id']}")
    lines.append("targets: >= x3.00 vs torch; per-comment cosine p1 >= 0.99; AMI and suggestion accuracy within "
                 f"0.01 of torch. Fastest backend meeting the quality bars: {res.get('fastest_ok')}")
    return "\n".join(lines)


def _round(x: Any) -> Any:
    if isinstance(x, float):
        return round(x, 5)
    if isinstance(x, dict):
        return {k: _round(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_round(v) for v in x]
    return x


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="embedding backends: speed vs PyTorch and quality, same run")
    ap.add_argument("--sample", type=int, default=0, help="a seeded sample of this many comments (0: all)")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--backends", default="torch,onnx,onnx-int8")
    ap.add_argument("--k", type=int, default=40, help="k-means clusters for the AMI figure")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args(argv)
    if not DATA.exists():
        _err(f"no data at {DATA}")
        return 2
    texts, sub, cat = load_nhs()
    if 0 < args.sample < len(texts):
        idx = np.sort(np.random.default_rng(args.seed).choice(len(texts), args.sample, replace=False))
        texts, sub, cat = [texts[i] for i in idx], [sub[i] for i in idx], [cat[i] for i in idx]
    res = compare(texts, sub, cat, k=args.k, seed=args.seed, rounds=args.rounds,
                  backends=[b.strip() for b in args.backends.split(",") if b.strip()])
    print(table(res))
    print(json.dumps(_round(res)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
