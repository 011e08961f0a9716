"""Benchmark: how often the code suggested first (or in the top 3) is the NHS data's own category label.

The data (``../shared/data/nhs_patient_feedback_phase1.csv``) labels each comment with one of 9 categories. Each
comment becomes one segment of an in-memory project, and :func:`thematic.suggest.suggest` runs on it, end to end,
with four codebooks:

* ``names``        - the 9 category names only;
* ``definitions``  - the 9 categories with their definition and includes note from
  ``codebooks/nhs_patient_experience.yaml`` (no subcategories, no examples);
* ``codebook``     - that whole codebook (44 subcategories with definitions and a few invented examples each); a
  suggested subcategory counts as its category, and the top 3 are the first 3 distinct categories;
* ``few-shot``     - after a coder has coded ``k`` random comments per category (``names`` and ``definitions``
  codebooks), scored on the other comments, next to the zero-shot figure on the same comments and a plain
  logistic regression trained on the same ``k`` per category;

side by side with the majority-class and random baselines. Also: calibration (mean top-1 score against top-1
accuracy), log-loss of the true category, and the time to suggest for every segment (vectors cached) and for one.

Run alone: ``python bench/suggest_eval.py [--limit N] [--k 10]``; prints a table, last line one JSON object.
``--curve`` prints only the coder's model learning curve (25/100/400/1,600 coded) beside zero-shot and the
80% ceiling.
``bench/cluster_bench.py`` calls :func:`evaluate`. Vectors of the comments are cached in
``bench/results/suggest_eval_<model>.npz`` (gitignored).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from thematic import suggest as sg  # noqa: E402
from thematic.codebook.files import Codebook, CodebookEntry, import_codebook, read_codebook  # noqa: E402
from thematic.coding import apply_code_many  # noqa: E402
from thematic.embed import Embedder, normalise  # noqa: E402
from thematic.store import Store  # noqa: E402

DATA = REPO.parent / "shared" / "data" / "nhs_patient_feedback_phase1.csv"
CODEBOOK = REPO / "codebooks" / "nhs_patient_experience.yaml"
RESULTS = REPO / "bench" / "results"
Progress = Callable[[int, int, str], None]


def norm_label(label: str) -> str:
    """Data labels and code names match after NFKC (older codebooks wrote '/' as the full-width '／') and strip."""
    return " ".join(unicodedata.normalize("NFKC", str(label)).split())


def code_name(label: str) -> str:
    """A category label as a code name (a name may hold '/': code paths escape it)."""
    return norm_label(label)


def path_parts(code_path: str) -> list[str]:
    """A suggestion's code path back to its names ('\\/' is a slash inside a name)."""
    from thematic.codebook import split_path

    return split_path(code_path)


# ---------------------------------------------------------------------- vectors


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class CachedEmbedder:
    """An :class:`Embedder` that answers from known vectors (given, or cached on disk) and encodes the rest."""

    def __init__(self, inner: Embedder, known: dict[str, np.ndarray] | None = None, path: Path | None = None) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.path = path
        self.known: dict[str, np.ndarray] = dict(known or {})
        self.encoded = 0
        if path is not None and path.exists():
            with np.load(path, allow_pickle=False) as z:
                self.known.update(zip((str(h) for h in z["hashes"]), z["vectors"]))
        self._dirty = False

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        hashes = [_hash(t) for t in texts]
        todo = list(dict.fromkeys(t for t, h in zip(texts, hashes) if h not in self.known))
        if todo:
            new = normalise(self.inner.encode(todo, progress))
            self.known.update(zip((_hash(t) for t in todo), new))
            self.encoded += len(todo)
            self._dirty = True
        dim = next(iter(self.known.values())).shape[0] if self.known else 0
        if not texts:
            return np.zeros((0, dim), dtype=np.float32)
        return np.vstack([self.known[h] for h in hashes]).astype(np.float32)

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        hashes = np.array(list(self.known.keys()))
        vectors = np.vstack(list(self.known.values())).astype(np.float32)
        tmp = self.path.with_name(self.path.stem + ".tmp.npz")
        np.savez(tmp, hashes=hashes, vectors=vectors)
        tmp.replace(self.path)
        self._dirty = False


def _seed_from_cluster_bench(cache: CachedEmbedder, all_texts: Sequence[str]) -> int:
    """Reuse ``bench/results/nhs_raw_minilm.npy`` (unique stripped comments in first-seen order) if it checks out."""
    path = RESULTS / "nhs_raw_minilm.npy"
    if "MiniLM" not in cache.model_id or not path.exists():
        return 0
    unique = list(dict.fromkeys(t.strip() for t in all_texts if t and t.strip()))
    try:
        arr = np.load(path, mmap_mode="r")
    except (OSError, ValueError):
        return 0
    if arr.ndim != 2 or arr.shape[0] != len(unique):
        return 0
    probe = [0, len(unique) // 2, len(unique) - 1]
    check = normalise(cache.inner.encode([unique[i] for i in probe]))
    if not np.allclose((check * normalise(np.asarray(arr[probe]))).sum(axis=1), 1.0, atol=1e-3):
        return 0
    vecs = normalise(np.asarray(arr))
    added = 0
    for t, v in zip(unique, vecs):
        h = _hash(t)
        if h not in cache.known:
            cache.known[h] = v
            added += 1
    cache._dirty = cache._dirty or added > 0
    return added


# ---------------------------------------------------------------------- the project and the codebooks


def _project(texts: Sequence[str]) -> tuple[Store, list[int]]:
    store = Store(":memory:")
    ids = []
    with store.action("bench.corpus", f"{len(texts)} comments") as act:
        qid = act.insert("INSERT INTO questions (key, label, position) VALUES ('Q', 'Comment', 0)")
        for i, t in enumerate(texts):
            fid = act.insert("INSERT INTO forms (external_id) VALUES (?)", (f"R{i}",))
            aid = act.insert("INSERT INTO answers (form_id, question_id, text) VALUES (?, ?, ?)", (fid, qid, t))
            ids.append(
                act.insert(
                    'INSERT INTO segments (answer_id, position, start, "end", text) VALUES (?, 0, 0, ?, ?)',
                    (aid, len(t), t),
                )
            )
    return store, ids


def _codebooks(categories: Sequence[str], path: Path | None) -> dict[str, Codebook]:
    books = {"names": Codebook("names", codes=[CodebookEntry(code_name(c)) for c in categories])}
    if path is None or not path.exists():
        return books
    full = read_codebook(path)
    by_name = {norm_label(e.name): e for e in full.codes}
    if all(norm_label(c) in by_name for c in categories):
        books["definitions"] = Codebook(
            "definitions",
            codes=[
                CodebookEntry(
                    code_name(c), definition=by_name[norm_label(c)].definition, includes=by_name[norm_label(c)].includes
                )
                for c in categories
            ],
        )
        wanted = {norm_label(c) for c in categories}
        books["codebook"] = Codebook("codebook", codes=[e for e in full.codes if norm_label(e.name) in wanted])
    return books


def _ranked_categories(found: list[sg.Suggestion]) -> dict[int, list[str]]:
    """Per segment, the distinct categories (first path level) in rank order."""
    out: dict[int, list[str]] = {}
    for s in found:
        cat = norm_label(path_parts(s.code_path)[0])
        lst = out.setdefault(s.segment_id, [])
        if cat not in lst:
            lst.append(cat)
    return out


def _accuracy(ranked: dict[int, list[str]], truth: dict[int, str], ids: Sequence[int]) -> tuple[float, float]:
    top1 = np.mean([ranked[i][:1] == [truth[i]] for i in ids])
    top3 = np.mean([truth[i] in ranked[i][:3] for i in ids])
    return float(top1), float(top3)


# ---------------------------------------------------------------------- evaluation


def evaluate(
    texts: Sequence[str],
    labels: Sequence[str],
    embedder: Embedder,
    *,
    categories: Sequence[str] | None = None,
    k: int = 10,
    seed: int = 0,
    repeats: int = 5,
    vectors: np.ndarray | None = None,
    codebook_path: Path | None = CODEBOOK,
    subcategories: Sequence[str] | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Top-1/top-3 accuracy of suggestions against ``labels``; see the module docstring. ``vectors`` (one row per
    text, from the same model as ``embedder``) skip re-encoding the comments. Few-shot figures are means over
    ``repeats`` random draws of the k labelled comments per category (``_sd``: their standard deviation). With ``subcategories`` (one per text),
    the full codebook's suggested subcategory is also scored against them (``codebook_sub_top1``/``_top3``)."""
    report = progress or (lambda d, t, m="": None)
    subs_in = list(subcategories) if subcategories is not None else [""] * len(texts)
    pairs = [(str(t).strip(), norm_label(lab)) for t, lab in zip(texts, labels) if str(t).strip()]
    subs = [norm_label(sub) for t, sub in zip(texts, subs_in) if str(t).strip()]
    emb: Embedder = embedder
    if vectors is not None:
        rows = normalise(np.asarray(vectors))
        emb = CachedEmbedder(embedder, {_hash(str(t).strip()): v for t, v in zip(texts, rows) if str(t).strip()})
    cats = [norm_label(c) for c in categories] if categories is not None else sorted({lab for _, lab in pairs})
    keep = [i for i, (_, lab) in enumerate(pairs) if lab in cats]
    pairs, subs = [pairs[i] for i in keep], [subs[i] for i in keep]
    store, ids = _project([t for t, _ in pairs])
    truth = dict(zip(ids, (lab for _, lab in pairs)))
    sub_truth = dict(zip(ids, subs))
    freq = Counter(truth.values())
    n = len(ids)
    res: dict[str, Any] = {"n": n, "categories": len(cats), "k": k}
    res["majority_top1"] = freq.most_common(1)[0][1] / n
    res["majority_top3"] = sum(c for _, c in freq.most_common(3)) / n
    res["random_top1"] = 1 / len(cats)
    res["random_top3"] = min(3, len(cats)) / len(cats)

    books = _codebooks(cats, codebook_path)
    by_cat: dict[str, list[int]] = {}
    for sid in ids:
        by_cat.setdefault(truth[sid], []).append(sid)
    splits = []  # (train, rest) per repeat: k random comments per category, and the others
    for r in range(repeats):
        rng = np.random.default_rng(seed + r)
        train = sorted(int(s) for c in cats for s in rng.choice(by_cat[c], min(k, len(by_cat[c]) - 1), replace=False))
        splits.append((train, sorted(set(ids) - set(train))))
    steps = len(books) + 2
    for step, (name, cb) in enumerate(books.items()):
        report(step, steps, f"Suggesting with the '{name}' codebook")
        store.undo() if step else None  # each codebook on its own: undo the previous import
        import_codebook(store, cb)
        leaves = sum(1 for _, e in cb.walk() if not e.children)
        sg.clear_caches()
        t0 = time.perf_counter()
        found = sg.suggest(store, top=leaves, embedder=emb)
        res[f"{name}_seconds"] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()  # again, with the codebook's prototypes and the segments' vectors cached
        found = sg.suggest(store, top=leaves, embedder=emb)
        res[f"{name}_warm_seconds"] = round(time.perf_counter() - t0, 3)
        ranked = _ranked_categories(found)
        res[f"{name}_top1"], res[f"{name}_top3"] = _accuracy(ranked, truth, ids)
        if name == "codebook" and subcategories is not None:
            leaves_ranked: dict[int, list[str]] = {}
            for sug in found:
                leaves_ranked.setdefault(sug.segment_id, []).append(norm_label(path_parts(sug.code_path)[-1]))
            res["codebook_sub_top1"], res["codebook_sub_top3"] = _accuracy(leaves_ranked, sub_truth, ids)
            sub_freq = Counter(sub_truth.values())
            res["subcategories"] = len(sub_freq)
            res["sub_majority_top1"] = sub_freq.most_common(1)[0][1] / n
            res["sub_majority_top3"] = sum(c for _, c in sub_freq.most_common(3)) / n
        if name != "codebook":
            first = {s.segment_id: s.score for s in found if s.rank == 1}
            res[f"{name}_mean_top1_score"] = float(np.mean(list(first.values())))
            p_true = [s.score for s in found if norm_label(path_parts(s.code_path)[0]) == truth[s.segment_id]]
            res[f"{name}_logloss"] = float(-np.mean(np.log(np.maximum(p_true, 1e-12))))
            # Few-shot: a coder codes k comments per category, the rest are scored (mean over the repeats).
            code_of = {norm_label(path_parts(p)[0]): cid for cid, p in zip(*_code_paths(store))}
            zero, fews, share, conf = [], [], [], []
            for r, (train, rest) in enumerate(splits):
                zero.append(_accuracy(ranked, truth, rest))
                with store.action("bench.train", f"code {k} per category", actor="bench"):
                    for c in cats:
                        apply_code_many(store, [s for s in train if truth[s] == c], code_of[c], "bench")
                few = sg.suggest(store, segment_ids=rest, top=leaves, coder="bench", embedder=emb)
                share.append(float(np.mean([s.kind == sg.FEW_SHOT for s in few])))
                conf.append(float(np.mean([s.score for s in few if s.rank == 1])))
                fews.append(_accuracy(_ranked_categories(few), truth, rest))
                if name == "names" and r == 0:
                    t0 = time.perf_counter()
                    for sid in rest[:50]:
                        sg.suggest(store, segment_ids=[sid], top=3, coder="bench", embedder=emb)
                    res["one_segment_ms"] = round(1000 * (time.perf_counter() - t0) / min(50, len(rest)), 2)
                store.undo()  # the training codings
            _mean_into(res, f"{name}_zero_shot_on_rest", zero)
            _mean_into(res, f"{name}_few_shot", fews)
            res[f"{name}_few_shot_share"] = float(np.mean(share))
            res[f"{name}_few_shot_mean_top1_score"] = float(np.mean(conf))
    report(steps - 1, steps, "Logistic regression baseline")
    _mean_into(res, "logreg", [_logreg(store, train, rest, truth, emb) for train, rest in splits])
    res["n_few_shot_eval"] = len(splits[0][1])
    res["repeats"] = repeats
    report(steps, steps, "Done")
    store.close()
    return res


def _code_paths(store: Store) -> tuple[list[int], list[str]]:
    from thematic.codebook import list_codes

    codes = list_codes(store)
    return [c.id for c in codes], [c.path_str for c in codes]


def _mean_into(res: dict[str, Any], key: str, runs: Sequence[tuple[float, float]]) -> None:
    arr = np.array(runs, dtype=float)
    res[f"{key}_top1"], res[f"{key}_top3"] = float(arr[:, 0].mean()), float(arr[:, 1].mean())
    res[f"{key}_top1_sd"], res[f"{key}_top3_sd"] = float(arr[:, 0].std()), float(arr[:, 1].std())


def _logreg(
    store: Store, train: Sequence[int], rest: Sequence[int], truth: dict[int, str], emb: Embedder
) -> tuple[float, float]:
    """A supervised baseline on the same k labelled comments per category: logistic regression on the vectors."""
    from sklearn.linear_model import LogisticRegression

    from thematic.embed import embed_segments

    _, x_train = embed_segments(store, list(train), embedder=emb)
    _, x_rest = embed_segments(store, list(rest), embedder=emb)
    model = LogisticRegression(C=10.0, max_iter=2000).fit(x_train, [truth[s] for s in train])
    order = np.argsort(-model.decision_function(x_rest), axis=1)[:, :3]
    classes = list(model.classes_)
    ranked = {sid: [classes[j] for j in row] for sid, row in zip(rest, order)}
    return _accuracy(ranked, truth, rest)


# ---------------------------------------------------------------------- running alone


def load_nhs(limit: int | None = None, seed: int = 0) -> tuple[list[str], list[str], list[str], list[str]]:
    """(texts, labels, subcategories, every comment of the file) - a stratified sample of ``limit`` rows if given."""
    import pandas as pd

    df = pd.read_csv(DATA)
    df = df[df["feedback"].notna() & df["label"].notna()]
    everything = [str(t) for t in df["feedback"]]
    df = df[df["feedback"].astype(str).str.strip() != ""]
    if limit is not None and limit < len(df):
        frac = limit / len(df)
        keep = [
            i
            for _, g in df.groupby("label")
            for i in g.sample(max(1, round(len(g) * frac)), random_state=seed).index
        ]
        df = df.loc[sorted(keep)]
    return (
        [str(t) for t in df["feedback"]],
        [str(lab) for lab in df["label"]],
        [str(sub) for sub in df["subcategory"].fillna("")],
        everything,
    )


ROWS = [
    ("majority class", "majority"),
    ("random", "random"),
    ("zero-shot: category names", "names"),
    ("zero-shot: names + definitions", "definitions"),
    ("zero-shot: full codebook (44 subcategories)", "codebook"),
    ("zero-shot on the few-shot test set: names", "names_zero_shot_on_rest"),
    ("few-shot (k per category) + names prior", "names_few_shot"),
    ("zero-shot on the few-shot test set: definitions", "definitions_zero_shot_on_rest"),
    ("few-shot (k per category) + definitions prior", "definitions_few_shot"),
    ("logistic regression on the same k per category", "logreg"),
]


def table(res: dict[str, Any]) -> str:
    lines = [f"{'':52} {'top-1':>7} {'top-3':>7}", "-" * 68]
    for label, key in ROWS:
        if f"{key}_top1" in res:
            sd = f"  (sd {res[f'{key}_top1_sd']:.3f} / {res[f'{key}_top3_sd']:.3f})" if f"{key}_top1_sd" in res else ""
            lines.append(f"{label:52} {res[f'{key}_top1']:7.3f} {res[f'{key}_top3']:7.3f}{sd}")
    if "codebook_sub_top1" in res:
        lines.append("-" * 68)
        lines.append(f"{'subcategory (' + str(res['subcategories']) + ' in the data): majority class':52} "
                     f"{res['sub_majority_top1']:7.3f} {res['sub_majority_top3']:7.3f}")
        lines.append(f"{'subcategory: full codebook, zero-shot':52} {res['codebook_sub_top1']:7.3f} "
                     f"{res['codebook_sub_top3']:7.3f}")
    lines.append("-" * 68)
    lines.append(
        f"comments: {res['n']} ({res['n_few_shot_eval']} in each few-shot test set, k = {res['k']} per category, "
        f"mean of {res['repeats']} draws)"
    )
    for name in ("names", "definitions"):
        if f"{name}_logloss" in res:
            lines.append(
                f"calibration ({name}): mean top-1 score {res[f'{name}_mean_top1_score']:.3f} vs top-1 accuracy "
                f"{res[f'{name}_top1']:.3f}; log-loss {res[f'{name}_logloss']:.3f} (uniform: {np.log(res['categories']):.3f}); "
                f"few-shot: mean top-1 score {res[f'{name}_few_shot_mean_top1_score']:.3f} vs accuracy "
                f"{res[f'{name}_few_shot_top1']:.3f}"
            )
    secs = ", ".join(
        f"{n}: {res[f'{n}_seconds']}s first, {res[f'{n}_warm_seconds']}s again"
        for n in ("names", "definitions", "codebook")
        if f"{n}_seconds" in res
    )
    lines.append(f"suggest for every comment (all ranks): {secs}; one segment: {res.get('one_segment_ms')} ms")
    return "\n".join(lines)


def learning_curves(seed: int = 0) -> dict[str, Any]:
    """The coder's model learning curve alone (:func:`bench.proposals.learning_curve`: the shipped codebook as
    prior, 25/100/400/1,600 coded comments, a fixed held-out 20%, zero-shot and the 80% logistic-regression ceiling
    beside it) on ``bench/results/nhs_raw_minilm.npy`` (made by cluster_bench if missing)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import cluster_bench as cb
    import proposals as pr

    from thematic.embed import MiniLMEmbedder

    texts, sub, cat = cb.load()
    X, _, _ = cb.vectors_for(texts)
    return pr.learning_curve(X, cat, sub, MiniLMEmbedder(), seed=seed, log=lambda m: None)


def curve_table(r: dict[str, Any]) -> str:
    lines = [f"Coder's model, held-out {r['n_test']} comments (top-1 / top-3)",
             f"{'':<20}" + "".join(f"{h:>22}" for h in ("categories", "subcategories"))]

    def row(name: str, x: dict[str, float]) -> str:
        return f"{name:<20}{x['cat_top1']:>14.3f} / {x['cat_top3']:.3f}{x['sub_top1']:>14.3f} / {x['sub_top3']:.3f}"

    lines.append(row("zero-shot", r["zero_shot"]))
    lines += [row(f"{n:>5} coded", x) for n, x in r["learned"].items()]
    lines.append(row("ceiling (80%, LR)", r["ceiling_80pct"]))
    lines.append(f"at 400 coded, top-1 {r['cat_top1_at_400_vs_ceiling']:.3f} of the ceiling (categories), "
                 f"{r['sub_top1_at_400_vs_ceiling']:.3f} (subcategories); target >= 0.90")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="a stratified sample of N comments (default: all)")
    parser.add_argument("--k", type=int, default=10, help="labelled comments per category for few-shot (default 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--codebook", type=Path, default=CODEBOOK, help="the NHS codebook (default: the shipped one)")
    parser.add_argument("--repeats", type=int, default=5, help="random draws of the k labelled comments (default 5)")
    parser.add_argument("--curve", action="store_true",
                        help="only the learning curve of the coder's model, beside zero-shot and the 80%% ceiling")
    args = parser.parse_args(argv)
    if not DATA.exists():
        print(f"no data at {DATA}", file=sys.stderr)
        return 2
    if args.curve:
        res = learning_curves()
        print(curve_table(res))
        print(json.dumps(res))
        return 0
    from thematic.commands import progress_line
    from thematic.embed import MiniLMEmbedder

    texts, labels, subcategories, everything = load_nhs(args.limit, args.seed)
    inner = MiniLMEmbedder()
    cache = CachedEmbedder(inner, path=RESULTS / f"suggest_eval_{inner.model_id.split('/')[-1]}.npz")
    if any(_hash(t.strip()) not in cache.known for t in texts if t.strip()):
        seeded = _seed_from_cluster_bench(cache, everything)
        if seeded:
            print(f"reused {seeded} vectors from bench/results/nhs_raw_minilm.npy", file=sys.stderr)
    t0 = time.perf_counter()
    res = evaluate(
        texts, labels, cache, k=args.k, seed=args.seed, repeats=args.repeats, codebook_path=args.codebook, subcategories=subcategories, progress=progress_line()
    )
    res["total_seconds"] = round(time.perf_counter() - t0, 1)
    res["texts_encoded"] = cache.encoded
    cache.save()
    print(table(res))
    print(json.dumps({key: (round(v, 4) if isinstance(v, float) else v) for key, v in res.items()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
