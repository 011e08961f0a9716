"""Clustering benchmark: thematic's candidate themes vs BERTopic's default pipeline on the NHS feedback data.

Both run in this process on the same MiniLM embeddings. Per size it prints cold time (embedding included), warm
time (embeddings cached), peak memory, number of candidates/topics, outlier share, ARI and AMI against the human
``subcategory`` (44) and ``label`` (9 categories), and the ratios ours/BERTopic. The last line is one JSON object.

* Data: ``../shared/data/nhs_patient_feedback_phase1.csv``, empty and duplicate comments removed (8,779 left).
* Sizes: ``1000`` (a seeded sample), ``full``, ``50000`` (the set repeated with distinct ids: for time and
  memory; texts repeat, so ours embeds each distinct text once, BERTopic's default embeds every document).
* Ours runs the real path: :func:`thematic.cluster.propose` on a project (segments in SQLite, the embedding cache,
  run and candidates written in one undoable action). "Warm" has every vector in the project's cache; "cold"
  starts from an empty cache and unloaded lemmatiser and adds the MiniLM embedding time.
* BERTopic default: ``BERTopic()`` (UMAP 5d + HDBSCAN min_cluster_size=10 + CountVectorizer + c-TF-IDF) with the
  embeddings precomputed; its cold time adds the embedding time of every document; its warm time is the same fit
  (it has no cache to reuse). A warm-up fit on 600 comments runs first so numba's JIT compile is not counted.
* Embedding time is measured with MiniLM on this machine (``--measure-embedding``, default for sizes up to the full
  set), otherwise estimated from the per-text rate recorded when the vector cache was made (said so in the output).
* Memory: ``tracemalloc`` peak of the run (Python and NumPy allocations; not torch/BLAS internals) and the
  process's peak RSS so far (``ru_maxrss``, which includes the loaded model and everything before).

Proposal figures (``bench/proposals.py``; ``--only-proposals`` runs just these): the k-choice table (chosen k
vs the best k in 4..60 vs the former rule, at 80 / 300 / 1,000 / full), the suggestion learning curve beside
zero-shot and the 80% ceiling, the refit time after one coding at 10,000 segments, the candidate map's time, and
cold embedding with PyTorch, ONNX Runtime and ONNX int8 in the same run.

One million segments (``--million``, or ``--million-only``): time and peak memory of the real CLI path,
``python -m thematic cluster`` in a child process, on a project of 1,000,000 segments whose vectors are all cached
(the warm path: re-clustering). The project is SYNTHETIC, built once in bulk into ``bench/results/million.db``
(about 4 minutes): the NHS comments resampled, each numbered to be distinct, and cached vectors made from the NHS
MiniLM vectors plus seeded noise (see :func:`build_million`). Peak memory is the child's VmHWM (polled) and
``ru_maxrss``; CPU seconds are given beside wall time because the 2 cores are shared. Target: <= 4 GB.

Run: ``.venv/bin/python bench/cluster_bench.py [--sizes 1000,full,50000] [--skip-baseline-at 50000]
[--quick] [--no-suggest] [--only-proposals] [--only-k] [--million | --million-only]``. Vectors are cached in ``bench/results/nhs_raw_minilm.npy`` (gitignored).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from thematic import cluster as cl  # noqa: E402
from thematic import (
    embed,
    nlp,
)
from thematic.cluster import keywords as kw  # noqa: E402
from thematic.store import Store  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "nhs_patient_feedback_phase1.csv"
RESULTS = REPO / "bench" / "results"
VECTORS = RESULTS / "nhs_raw_minilm.npy"  # unique stripped comments in first-seen order (suggest_eval reuses it)
SIDECAR = RESULTS / "nhs_raw_minilm.json"


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def load() -> tuple[list[str], list[str], list[str]]:
    import pandas as pd

    d = pd.read_csv(DATA)
    t = d["feedback"].fillna("").astype(str).str.strip()
    d = d[t != ""].assign(feedback=t[t != ""]).drop_duplicates("feedback")
    return d["feedback"].tolist(), d["subcategory"].astype(str).tolist(), d["label"].astype(str).tolist()


def vectors_for(texts: list[str]) -> tuple[np.ndarray, float, str]:
    """All vectors (cached on disk) and MiniLM seconds per text with where that figure comes from."""
    if VECTORS.exists() and SIDECAR.exists():
        meta = json.loads(SIDECAR.read_text())
        arr = np.load(VECTORS)
        if arr.shape[0] == len(texts) and meta.get("n") == len(texts):
            return embed.normalise(arr), float(meta["seconds"]) / len(texts), f"recorded {meta['when']}"
    log(f"embedding {len(texts)} comments with MiniLM (cached for next time) ...")
    m = embed.MiniLMEmbedder()
    m.load()
    t0 = time.perf_counter()
    arr = m.encode(texts)
    secs = time.perf_counter() - t0
    RESULTS.mkdir(parents=True, exist_ok=True)
    np.save(VECTORS, arr)
    SIDECAR.write_text(json.dumps({"n": len(texts), "seconds": secs, "when": time.strftime("%Y-%m-%d %H:%M")}))
    return arr, secs / len(texts), "measured now"


class Precomputed:
    """The MiniLM model id, answering from vectors in hand (counts what it was asked to encode)."""

    model_id = embed.MINILM_ID

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table
        self.asked = 0

    def encode(self, texts: Sequence[str], progress: Any = None) -> np.ndarray:
        self.asked += len(texts)
        return np.vstack([self.table[t] for t in texts])


def project(texts: Sequence[str]) -> Store:
    """An in-memory project with one question and one form per text (ids r0, r1 ...)."""
    store = Store(":memory:")
    with store.action("bench.corpus", "Benchmark corpus") as act:
        qid = act.insert("INSERT INTO questions (key, label, position) VALUES ('Q', 'Feedback', 0)")
        act.executemany("INSERT INTO forms (id, external_id) VALUES (?, ?)", [(i + 1, f"r{i}") for i in range(len(texts))])
        act.executemany("INSERT INTO answers (id, form_id, question_id, text) VALUES (?, ?, ?, ?)",
                        [(i + 1, i + 1, qid, t) for i, t in enumerate(texts)])
        act.executemany('INSERT INTO segments (id, answer_id, position, start, "end", text) VALUES (?, ?, 0, 0, ?, ?)',
                        [(i + 1, i + 1, len(t), t) for i, t in enumerate(texts)])
    return store


def measured(fn: Callable[[], Any]) -> tuple[Any, float, float]:
    gc.collect()
    tracemalloc.start()
    t0 = time.perf_counter()
    out = fn()
    secs = time.perf_counter() - t0
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return out, secs, peak / 2**20


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def scores(pred: Sequence[int], sub: Sequence[str], cat: Sequence[str]) -> dict[str, float]:
    from sklearn.metrics import adjusted_mutual_info_score as ami
    from sklearn.metrics import adjusted_rand_score as ari

    return {"ami_sub": ami(sub, pred), "ari_sub": ari(sub, pred), "ami_cat": ami(cat, pred), "ari_cat": ari(cat, pred)}


def run_ours(texts: list[str], table: dict[str, np.ndarray], embed_secs: float, seed: int) -> dict[str, Any]:
    store = project(texts)
    emb = Precomputed(table)
    kw._LEMMAS.clear()  # cold: the lemmatiser is loaded and every word lemmatised again
    nlp._loaded.clear()  # and the spaCy pipelines are loaded again
    run, cold, _ = measured(lambda: cl.propose(store, seed=seed, embedder=emb))
    assert emb.asked == len(set(texts)), "each distinct text is embedded once"
    asked = emb.asked
    warm_run, warm, peak = measured(lambda: cl.propose(store, seed=seed, embedder=emb))
    assert emb.asked == asked, "the warm run must not embed"
    labels = cluster_labels(store, warm_run.id)
    unclustered = sum(1 for x in labels if x < 0)
    leaves = [c for c in cl.candidates(store, warm_run.id) if c.level == 1 and not c.unclustered]
    groups = [c for c in cl.candidates(store, warm_run.id) if c.level == 0]
    store.close()
    return {
        "cold_s": embed_secs + cold, "cluster_cold_s": cold, "warm_s": warm, "peak_mb": peak, "rss_mb": max_rss_mb(),
        "topics": len(leaves), "groups": len(groups), "outlier_share": unclustered / len(texts),
        "unclustered_explicit": unclustered, **scores(labels, SUB, CAT),
    }


def cluster_labels(store: Store, run_id: int) -> list[int]:
    unc = {c.id for c in cl.candidates(store, run_id) if c.unclustered}
    return [-1 if a["candidate_id"] in unc else a["candidate_id"] for a in cl.assignments(store, run_id)]


def run_bertopic(texts: list[str], X: np.ndarray, embed_secs: float) -> dict[str, Any]:
    from bertopic import BERTopic

    (topics, _), secs, peak = measured(lambda: BERTopic().fit_transform(texts, X))
    lab = np.asarray(topics)
    return {
        "cold_s": embed_secs + secs, "cluster_cold_s": secs, "warm_s": secs, "peak_mb": peak, "rss_mb": max_rss_mb(),
        "topics": len(set(lab.tolist()) - {-1}), "outlier_share": float((lab == -1).mean()),
        **scores(lab.tolist(), SUB, CAT),
    }


SUB: list[str] = []
CAT: list[str] = []


def main(argv: Sequence[str] | None = None) -> int:
    global SUB, CAT
    ap = argparse.ArgumentParser(description="thematic clustering vs BERTopic default")
    ap.add_argument("--sizes", default="1000,full,50000")
    ap.add_argument("--skip-baseline-at", default="50000", help="sizes (comma list) where BERTopic is not run")
    ap.add_argument("--quick", action="store_true", help="estimate embedding time from the recorded rate")
    ap.add_argument("--no-suggest", action="store_true", help="skip bench/suggest_eval.py")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--only-proposals", action="store_true",
                    help="skip the comparison with BERTopic; run the proposal figures only (see bench/proposals.py)")
    ap.add_argument("--no-proposals", action="store_true", help="skip the proposal figures")
    ap.add_argument("--k-sizes", default="80,300,1000,full", help="sample sizes of the k-choice table")
    ap.add_argument("--k-seeds", type=int, default=5, help="samples per size in the k-choice table (full set: 3)")
    ap.add_argument("--only-k", action="store_true", help="only the k-choice table")
    ap.add_argument("--backends", default="torch,onnx,onnx-int8", help="embedding backends compared (cold)")
    ap.add_argument("--million", action="store_true",
                    help="also run `python -m thematic cluster` on 1,000,000 synthetic segments, vectors cached "
                    "(time and peak memory; the project is built once in bench/results/million.db)")
    ap.add_argument("--million-only", action="store_true", help="only the --million figures")
    ap.add_argument("--million-n", type=int, default=1_000_000, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if not DATA.exists():
        log(f"no data at {DATA}")
        return 2
    texts, sub, cat = load()
    X, rate, rate_src = vectors_for(texts)
    if args.only_k:
        sys.path.insert(0, str(REPO / "bench"))
        import proposals as pr

        kc = pr.k_table(X, sub, [s.strip() for s in args.k_sizes.split(",") if s.strip()], args.seed, log, args.k_seeds)
        print_k_table(kc)
        print(json.dumps(_round({"n_unique_comments": len(texts), "k_choice": kc})))
        return 0
    if args.million_only:
        results = {"n_unique_comments": len(texts), "million": million_figures(texts, X, args.million_n, args.seed)}
        print_million(results["million"])
        print(json.dumps(_round(results)))
        return 0
    if args.only_proposals:
        results = {"n_unique_comments": len(texts), "proposals": proposals_figures(texts, sub, cat, X, args)}
        print_proposals(results["proposals"])
        print(json.dumps(_round(results)))
        return 0
    table = dict(zip(texts, X))
    from bertopic import BERTopic  # imported once, outside every timing

    log("warming up (numba compiles UMAP/HDBSCAN once per machine; not counted) ...")
    BERTopic().fit_transform(texts[:600], X[:600])

    skip = {s.strip() for s in args.skip_baseline_at.split(",") if s.strip()}
    results: dict[str, Any] = {"n_unique_comments": len(texts), "sizes": {}}
    rng = np.random.default_rng(args.seed)
    for size in [s.strip() for s in args.sizes.split(",") if s.strip()]:
        if size == "full":
            idx = np.arange(len(texts))
        elif int(size) <= len(texts):
            idx = np.sort(rng.choice(len(texts), int(size), replace=False))
        else:
            idx = np.resize(np.arange(len(texts)), int(size))  # repeated: distinct ids, same texts
        t_s = [texts[i] for i in idx]
        SUB, CAT = [sub[i] for i in idx], [cat[i] for i in idx]
        n_unique = len(set(t_s))
        how = "estimated"
        if not args.quick and len(idx) <= len(texts):
            m = embed.MiniLMEmbedder()
            m.load()
            t0 = time.perf_counter()
            m.encode(sorted(set(t_s)))
            e_ours = time.perf_counter() - t0
            e_bert = e_ours * len(t_s) / n_unique
            how = "measured"
            rate, rate_src = e_ours / n_unique, f"measured in this run at size {size}"  # later estimates use it
        else:
            e_ours, e_bert = rate * n_unique, rate * len(t_s)
            how = f"estimated: {1000 * rate:.1f} ms/text ({rate_src})"
        log(f"size {size}: {len(t_s)} segments ({n_unique} distinct); embedding {e_ours:.1f}s ({how})")
        row: dict[str, Any] = {"n": len(t_s), "embedding_s": e_ours, "embedding_how": how}
        row["ours"] = run_ours(t_s, table, e_ours, args.seed)
        log(f"  ours: {fmt(row['ours'])}")
        if size in skip:
            row["bertopic"] = {"skipped": f"BERTopic default (UMAP + HDBSCAN on {len(t_s)} docs) not run at this size "
                               "(--skip-baseline-at): too slow on 2 shared cores"}
        else:
            row["bertopic"] = run_bertopic(t_s, X[idx], e_bert)
            log(f"  bertopic: {fmt(row['bertopic'])}")
            o, b = row["ours"], row["bertopic"]
            row["ratio"] = {
                "ami_sub": o["ami_sub"] / max(b["ami_sub"], 1e-9), "ami_cat": o["ami_cat"] / max(b["ami_cat"], 1e-9),
                "speedup_cold": b["cold_s"] / o["cold_s"], "speedup_warm": b["warm_s"] / o["warm_s"],
            }
        results["sizes"][size] = row
    results["embedding_rate_s_per_text"], results["embedding_rate_source"] = rate, rate_src
    if not args.no_suggest and (REPO / "bench" / "suggest_eval.py").exists():
        try:
            sys.path.insert(0, str(REPO / "bench"))
            import suggest_eval

            log("suggestion accuracy (bench/suggest_eval.py) on the full set ...")
            results["suggest"] = suggest_eval.evaluate(texts, cat, embed.MiniLMEmbedder(), vectors=X)
        except Exception as exc:  # report, never hide
            results["suggest"] = {"error": f"{type(exc).__name__}: {exc}"}
    if not args.no_proposals:
        results["proposals"] = proposals_figures(texts, sub, cat, X, args)
    if args.million:
        results["million"] = million_figures(texts, X, args.million_n, args.seed)
    print_table(results)
    if "proposals" in results:
        print_proposals(results["proposals"])
    if "million" in results:
        print_million(results["million"])
    print(json.dumps(_round(results)))
    return 0


def proposals_figures(texts: list[str], sub: list[str], cat: list[str], X: np.ndarray, args: Any) -> dict[str, Any]:
    """k choice, learning curve, refit time, embedding backends and map time (see bench/proposals.py)."""
    sys.path.insert(0, str(REPO / "bench"))
    import proposals as pr

    out: dict[str, Any] = {}
    log("k choice: chosen k vs best k in 4..60 vs the former rule ...")
    out["k_choice"] = pr.k_table(X, sub, [s.strip() for s in args.k_sizes.split(",") if s.strip()], args.seed, log,
                                 args.k_seeds)
    prior = embed.MiniLMEmbedder()  # embeds the codebook's texts only
    log("suggestions that learn: learning curve ...")
    out["learning_curve"] = pr.learning_curve(X, cat, sub, prior, log=log)
    log("refit after one coding at 10,000 segments ...")
    out["refit"] = pr.refit_ms(texts, X, sub, prior)
    log(f"  {out['refit']}")
    log("candidate map at 10,000 segments ...")
    out["map"] = pr.map_ms(texts, X)
    log(f"  {out['map']}")
    chosen = (out["k_choice"].get("full", {}).get("samples") or [{}])[0].get("chosen_k", 40)
    which = [b.strip() for b in args.backends.split(",") if b.strip()]
    log(f"embedding backends, cold, {len(texts)} comments: {', '.join(which)} ...")
    import embed_speed

    out["backends"] = embed_speed.compare(texts, sub, cat, k=int(chosen), seed=args.seed, backends=which, log=log)
    return out


def print_proposals(p: dict[str, Any]) -> None:
    print_k_table(p["k_choice"])
    lc = p["learning_curve"]
    print(f"\nSuggestions that learn (held-out {lc['n_test']} comments; shipped codebook as prior)")
    print(f"{'model':<28} {'cat top-1':>10} {'cat top-3':>10} {'sub top-1':>10} {'sub top-3':>10}")
    rows = [("zero-shot", lc["zero_shot"])] + [(f"coder model, {n} coded", r) for n, r in lc["learned"].items()]
    rows.append(("logistic regression, 80%", lc["ceiling_80pct"]))
    for name, r in rows:
        print(f"{name:<28} {r['cat_top1']:>10.3f} {r['cat_top3']:>10.3f} {r['sub_top1']:>10.3f} {r['sub_top3']:>10.3f}")
    if "cat_top1_at_400_vs_ceiling" in lc:
        print(f"at 400 coded: top-1 {lc['cat_top1_at_400_vs_ceiling']:.2f} of the ceiling (categories), "
              f"{lc['sub_top1_at_400_vs_ceiling']:.2f} (subcategories); target >= 0.90")
    r = p["refit"]
    print(f"refit + suggest after one coding at {r['n_segments']:,} segments, {r['n_coded']} coded: "
          f"median {r['ms_median']:.0f} ms, max {r['ms_max']:.0f} ms (target <= 100 ms)")
    m = p["map"]
    print(f"candidate map at {m['n_segments']:,} segments ({m['candidates']} candidates): {m['compute_ms']:.0f} ms "
          f"from cached vectors, SVG drawn in {m['svg_ms']:.0f} ms")
    b = p["backends"]
    print(f"\nEmbedding backends, cold, {b['n_texts']} comments (same run; AMI at k={b['k']})")
    for name, r in b.items():
        if not isinstance(r, dict):
            continue
        extra = (f" x{r['speedup_vs_torch']:.2f} vs torch, cosine min {r['cos_min']:.5f} mean {r['cos_mean']:.5f}"
                 if "speedup_vs_torch" in r else "")
        print(f"  {name:<10} {r['encode_s']:>7.1f}s {r['texts_per_s']:>7.0f}/s load {r['load_s']:.1f}s  "
              f"AMI {r['ami_sub']:.3f}  suggest top-1 {r['suggest_cat_top1']:.3f} top-3 {r['suggest_cat_top3']:.3f}"
              + extra)


def print_million(m: dict[str, Any]) -> None:
    print(f"\n{m['n']:,} segments, warm (vectors cached; synthetic: {m['synthetic']})")
    print(f"  python -m thematic cluster: {m['wall_s']:.0f} s wall ({m['cpu_s']:.0f} s CPU; load average "
          f"{m['load_avg_1m']:.1f} on the machine), peak RSS {m['peak_rss_mb']:,.0f} MB "
          f"(target <= {MEMORY_LIMIT_MB} MB on 2 cores: {'met' if m['within_4gb'] else 'MISSED'}), exit {m['rc']}")
    for t, msg in m["stages"]:
        print(f"  {t:>8.1f}s  {msg}")


def print_k_table(kc: dict[str, Any]) -> None:
    print("\nNumber of candidates: AMI (44 subcategories) at the chosen k / best AMI over k in 4..60 on the same "
          "sample; mean and worst over samples (target: >= 0.95 on every sample)")
    print(f"{'size':>6} {'samples':>8} {'chosen k':>12} {'today mean':>11} {'worst':>6} {'prev. silh.':>12} "
          f"{'worst':>6} {'size rule':>10} {'worst':>6} {'best k':>12} {'best fixed k (labels)':>22}")
    for size, r in kc.items():
        ks = [s["chosen_k"] for s in r["samples"]]
        best = [s["best_k"] for s in r["samples"]]
        print(f"{size:>6} {len(r['samples']):>8} {min(ks):>5}..{max(ks):<6} {r['chosen_mean']:>11.3f} "
              f"{r['chosen_worst']:>6.3f} {r['prev_mean']:>12.3f} {r['prev_worst']:>6.3f} {r['old_mean']:>10.3f} "
              f"{r['old_worst']:>6.3f} {min(best):>5}..{max(best):<6} "
              + (f"{r['fixed_k_ceiling']['k']:>6}: {r['fixed_k_ceiling']['mean']:.3f} / {r['fixed_k_ceiling']['worst']:.3f}"
                 if "fixed_k_ceiling" in r else ""))


def fmt(r: dict[str, Any]) -> str:
    return (f"cold {r['cold_s']:.1f}s warm {r['warm_s']:.1f}s peak {r['peak_mb']:.0f}MB topics {r['topics']} "
            f"outliers {100 * r['outlier_share']:.1f}% AMI sub {r['ami_sub']:.3f} cat {r['ami_cat']:.3f}")


def print_table(res: dict[str, Any]) -> None:
    print(f"MiniLM embedding rate {1000 * res['embedding_rate_s_per_text']:.1f} ms/text ({res['embedding_rate_source']})")
    cols = ["cold_s", "warm_s", "peak_mb", "rss_mb", "topics", "outlier_share", "ami_sub", "ari_sub", "ami_cat", "ari_cat"]
    print(f"{'size':>6} {'method':<9}" + "".join(f"{c:>14}" for c in cols))
    for size, row in res["sizes"].items():
        for name in ("ours", "bertopic"):
            r = row[name]
            if "skipped" in r:
                print(f"{size:>6} {name:<9} skipped: {r['skipped']}")
                continue
            print(f"{size:>6} {name:<9}" + "".join(f"{r[c]:>14.3f}" if isinstance(r[c], float) else f"{r[c]:>14}" for c in cols))
        if "ratio" in row:
            rt = row["ratio"]
            print(f"{size:>6} {'ratio':<9} AMI sub x{rt['ami_sub']:.2f}, AMI cat x{rt['ami_cat']:.2f}, "
                  f"cold speed-up x{rt['speedup_cold']:.2f}, warm speed-up x{rt['speedup_warm']:.2f}")
    if "suggest" in res:
        s = res["suggest"]
        print("suggestions: " + ", ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in s.items()
                                          if not isinstance(v, (dict, list))))


def _round(x: Any) -> Any:
    if isinstance(x, float):
        return round(x, 4)
    if isinstance(x, dict):
        return {k: _round(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_round(v) for v in x]
    return x


# ---------------------------------------------------------------------- one million segments (time and memory)

MILLION_DB = RESULTS / "million.db"
MEMORY_LIMIT_MB = 4096  # the target: the whole warm `cluster` path within 4 GB on the 2-core machine


def build_million(texts: list[str], X: np.ndarray, n: int, seed: int, path: Path) -> dict[str, Any]:
    """A project file of ``n`` segments with every vector cached, built in bulk (about a minute).

    SYNTHETIC, said so in the output: the texts are the NHS comments resampled with replacement, each made
    distinct by a number in brackets (digits are never keywords or label words), one form and one segment per
    text; each cached vector is its comment's MiniLM vector plus seeded Gaussian noise (sd 0.01 per dimension,
    cosine ~0.98 to the original), renormalised. Embedding a million real comments on 2 cores would take over an
    hour; this measures the warm path (vectors cached), which is what re-clustering costs.
    """
    meta_path = path.with_suffix(".json")
    want = {"n": n, "seed": seed, "n_source": len(texts), "model_id": embed.default_embedder().model_id}
    if path.exists() and meta_path.exists() and json.loads(meta_path.read_text()) == want:
        return want | {"built_s": 0.0, "reused": True}
    for p in (path, Path(str(path) + "-wal"), Path(str(path) + "-shm"), meta_path):
        p.unlink(missing_ok=True)
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(texts), n)
    seg = [f"{texts[i]} [{k + 1}]" for k, i in enumerate(pick.tolist())]
    store = Store(path)
    with store.action("bench.corpus", f"Benchmark corpus: {n:,} synthetic segments") as act:
        qid = act.insert("INSERT INTO questions (key, label, position) VALUES ('Q', 'Feedback', 0)")
        act.bulk_insert("forms", "INSERT INTO forms (id, external_id) VALUES (?, ?)",
                        ((i + 1, f"r{i}") for i in range(n)))
        act.bulk_insert("answers", "INSERT INTO answers (id, form_id, question_id, text) VALUES (?, ?, ?, ?)",
                        ((i + 1, i + 1, qid, t) for i, t in enumerate(seg)))
        act.bulk_insert("segments", 'INSERT INTO segments (id, answer_id, position, start, "end", text) '
                        "VALUES (?, ?, 0, 0, ?, ?)", ((i + 1, i + 1, len(t), t) for i, t in enumerate(seg)))
    model_id = want["model_id"]
    step = 50_000
    for s in range(0, n, step):
        base = X[pick[s : s + step]].astype(np.float32)
        noisy = embed.normalise(base + rng.normal(0, 0.01, base.shape).astype(np.float32))
        embed._write_cache(store, model_id, [(embed.text_hash(t), v) for t, v in zip(seg[s : s + step], noisy)])
    store.close()
    meta_path.write_text(json.dumps(want))
    return want | {"built_s": time.perf_counter() - t0, "reused": False}


def _watch(child: Any, peak: list[int], stop: Any, kill_kb: int) -> None:
    """Poll the child's peak resident memory (VmHWM, kB) until ``stop`` is set; kill it past ``kill_kb``."""
    while not stop.is_set():
        try:
            for line in Path(f"/proc/{child.pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak[0] = max(peak[0], int(line.split()[1]))
        except OSError:
            return
        if peak[0] > kill_kb:
            child.kill()
            return
        stop.wait(0.2)


def run_million(path: Path, seed: int, kill_mb: int = 8192) -> dict[str, Any]:
    """``python -m thematic cluster`` on the project in a child process: wall time, peak RSS, time per stage.

    The child is stopped if its resident memory passes ``kill_mb`` (so a regression cannot take the machine)."""
    import subprocess
    import threading

    env = {k: v for k, v in os.environ.items() if k != "THEMATIC_FAKE_EMBEDDER"}
    cmd = [sys.executable, "-m", "thematic", "cluster", str(path), "--seed", str(seed)]
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = [0]
    stop = threading.Event()
    watcher = threading.Thread(target=_watch, args=(child, peak, stop, kill_mb * 1024), daemon=True)
    watcher.start()
    stages: list[tuple[float, str]] = []
    err_lines: list[str] = []

    def read_err() -> None:
        assert child.stderr is not None
        buf = ""
        while ch := child.stderr.read(1):
            if ch in "\r\n":
                msg = buf.strip()
                if msg:
                    err_lines.append(msg)
                    stage = msg.split(" ")[0:3]
                    name = " ".join(stage)
                    if not stages or not stages[-1][1].startswith(name):
                        stages.append((time.perf_counter() - t0, msg))
                buf = ""
            else:
                buf += ch

    reader = threading.Thread(target=read_err, daemon=True)
    reader.start()
    out = child.stdout.read() if child.stdout else ""
    rc = child.wait()
    wall = time.perf_counter() - t0
    stop.set()
    watcher.join()
    reader.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak_mb = max(peak[0] / 1024, (after.ru_maxrss if rc == 0 else 0) / 1024)
    first = out.splitlines()[0] if out else ""
    return {"rc": rc, "wall_s": wall, "cpu_s": cpu, "load_avg_1m": os.getloadavg()[0], "peak_rss_mb": peak_mb, "within_4gb": rc == 0 and peak_mb <= MEMORY_LIMIT_MB,
            "killed_over_mb": kill_mb if peak_mb > kill_mb else None, "run": first,
            "stages": [(round(t, 1), m[:80]) for t, m in stages], "stderr_tail": err_lines[-3:]}


def million_figures(texts: list[str], X: np.ndarray, n: int, seed: int) -> dict[str, Any]:
    log(f"{n:,} segments: building the project (synthetic: NHS comments resampled, cached vectors with noise) ...")
    built = build_million(texts, X, n, seed, MILLION_DB if n == 1_000_000 else RESULTS / f"million_{n}.db")
    log(f"  built in {built['built_s']:.0f}s" + (" (reused)" if built.get("reused") else ""))
    path = MILLION_DB if n == 1_000_000 else RESULTS / f"million_{n}.db"
    log("  python -m thematic cluster (warm: every vector cached) in a child process ...")
    res = run_million(path, seed)
    for t, m in res["stages"]:
        log(f"    {t:>7.1f}s  {m}")
    log(f"  rc {res['rc']}, {res['wall_s']:.0f}s wall, {res['cpu_s']:.0f}s CPU, peak RSS {res['peak_rss_mb']:.0f} MB "
        f"(target <= {MEMORY_LIMIT_MB} MB): {res['run']}")
    return {"n": n, "synthetic": "NHS comments resampled + numbered; cached vectors = NHS MiniLM vectors + "
            "seeded noise (sd 0.01), renormalised", "build": built} | res


if __name__ == "__main__":
    raise SystemExit(main())
