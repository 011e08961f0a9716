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

Run: ``.venv/bin/python bench/cluster_bench.py [--sizes 1000,full,50000] [--skip-baseline-at 50000]
[--quick] [--no-suggest]``. Vectors are cached in ``bench/results/nhs_raw_minilm.npy`` (gitignored).
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
from thematic import embed  # noqa: E402
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
    kw._NLP = None
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
    args = ap.parse_args(argv)
    if not DATA.exists():
        log(f"no data at {DATA}")
        return 2
    texts, sub, cat = load()
    X, rate, rate_src = vectors_for(texts)
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
    print_table(results)
    print(json.dumps(_round(results)))
    return 0


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


if __name__ == "__main__":
    raise SystemExit(main())
