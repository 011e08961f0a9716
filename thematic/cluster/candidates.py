"""Clustering runs and their candidate themes in the project: proposing, reading, and the shared helpers.

A *run* is one proposal: the model id, parameters and seed it used, and the segments it covered. Its candidates
are two levels: groups (level 0, the proposed superordinate themes) over candidates (level 1), plus an explicit
"Unclustered" candidate when some segments could not be placed. Every segment of a run belongs to exactly one
level-1 candidate (``cluster_members``). Proposing is one audited, undoable action; so is each operation in
:mod:`thematic.cluster.operations`.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..corpus import form_meta
from ..embed import Embedder, embed_texts
from ..errors import InvalidInput, NotFound, ThematicError
from ..store import Action, Store, now
from . import keywords as kw
from .labels import Labeller
from .pipeline import Params, Progress, propose_clusters, representatives


@dataclass(frozen=True)
class Run:
    id: int
    created_at: str
    actor: str
    model_id: str
    question_id: int | None
    seed: int
    params: dict[str, Any]
    n_segments: int
    seconds: float | None


@dataclass(frozen=True)
class Candidate:
    """A candidate theme (level 1) or a proposed superordinate group (level 0) with its figures."""

    id: int
    run_id: int
    level: int
    label: str
    keywords: list[str]
    parent_id: int | None
    status: str  # open, accepted, rejected, merged
    code_id: int | None
    unclustered: bool
    size: int  # segments
    respondents: int  # distinct forms
    representative_ids: list[int]
    by_question: dict[str, int] = field(default_factory=dict)  # question key -> segments
    by_meta: dict[str, dict[str, int]] = field(default_factory=dict)  # field -> value -> respondents
    children: list[int] = field(default_factory=list)
    position: int = 0

    @property
    def is_group(self) -> bool:
        return self.level == 0


# ---------------------------------------------------------------------- proposing


def propose(
    store: Store,
    *,
    question_id: int | None = None,
    seed: int = 42,
    embedder: Embedder | None = None,
    params: Params | dict[str, Any] | None = None,
    progress: Progress | None = None,
    actor: str | None = None,
    staff_names: Sequence[str] = (),
) -> Run:
    """Cluster the segments (of one question, or all) into candidate themes and record them as a new run.

    ``staff_names``: names kept out of every label and keyword (with those the name finder recognises), whether
    or not the import redacted them.
    """
    p = params if isinstance(params, Params) else Params.from_dict(params)
    if embedder is None:
        from ..embed import default_embedder

        embedder = default_embedder()
    # Spans a person highlighted (segments.by_person) are not the machine's units.
    where, args = (
        ("WHERE s.by_person = 0 AND a.question_id = ?", (question_id,)) if question_id is not None
        else ("WHERE s.by_person = 0", ())
    )
    if question_id is not None and store.scalar("SELECT 1 FROM questions WHERE id = ?", (question_id,)) is None:
        raise NotFound(f"no question with id {question_id}")
    ids, texts = _segments(store, where, args)
    if not ids:
        raise InvalidInput("there are no segments to cluster: import forms first")
    vectors = load_vectors(store, texts, embedder=embedder, progress=progress)
    result = propose_clusters(vectors, texts, seed=seed, params=p, progress=progress, staff_names=staff_names)
    n_open = len(result.candidates)
    result.params["embedding"] = {
        "model_id": embedder.model_id,
        "backend": str(getattr(embedder, "backend", type(embedder).__name__)),
        "device": str(getattr(embedder, "device", "cpu")),
    }
    summary = f"Propose {n_open} candidate themes from {len(ids)} segments"
    details = {"model_id": embedder.model_id, "seed": seed, "question_id": question_id, "params": result.params}
    with store.action("cluster.propose", summary, actor=actor, details=details) as act:
        run_id = act.insert(
            "INSERT INTO cluster_runs (created_at, actor, model_id, question_id, seed, params, n_segments, seconds) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (now(), actor or "", embedder.model_id, question_id, seed, json.dumps(result.params), len(ids),
             round(result.seconds, 3)),
        )
        group_ids: dict[int, int] = {}
        for pos, g in enumerate(result.groups):
            reps = [ids[i] for i in g.representatives]
            group_ids[g.index] = _insert_candidate(act, run_id, 0, g.label, g.keywords, reps, None, pos)
        cand_ids: dict[int, int] = {}
        for pos, c in enumerate(result.candidates):
            parent = group_ids.get(c.parent) if c.parent is not None else None
            cand_ids[c.index] = _insert_candidate(
                act, run_id, 1, c.label, c.keywords, [ids[i] for i in c.representatives], parent, pos
            )
        if result.unclustered is not None:
            u = result.unclustered
            cand_ids[-1] = _insert_candidate(
                act, run_id, 1, u.label, [], [ids[i] for i in u.representatives], None, len(result.candidates),
                unclustered=True,
            )
        act.bulk_insert(  # streamed, and undone by one logged rowid range (a million rows cost no more to log)
            "cluster_members",
            "INSERT INTO cluster_members (run_id, segment_id, candidate_id, score) VALUES (?, ?, ?, ?)",
            ((run_id, sid, cand_ids[lab], sc)
             for sid, lab, sc in zip(ids, result.labels.tolist(), result.scores.tolist())),
        )
        act.details["run_id"] = run_id
    return get_run(store, run_id)


def _segments(store: Store, where: str, args: tuple[Any, ...]) -> tuple[list[int], list[str]]:
    """Ids and texts of the segments to cluster, in id order (read row by row: no list of rows in between)."""
    ids: list[int] = []
    texts: list[str] = []
    with store.read() as conn:
        cur = conn.execute(
            f"SELECT s.id, s.text FROM segments s JOIN answers a ON a.id = s.answer_id {where} ORDER BY s.id", args
        )
        for sid, text in cur:
            ids.append(int(sid))
            texts.append(text)
    return ids, texts


#: Texts whose vectors are read (and, if missing, encoded) at a time by :func:`load_vectors`.
VECTOR_CHUNK = 50_000


def load_vectors(
    store: Store, texts: Sequence[str], *, embedder: Embedder, progress: Progress | None = None,
    chunk: int = VECTOR_CHUNK,
) -> np.ndarray:
    """The vectors of ``texts`` as one float32 array, read from the project's cache ``chunk`` texts at a time.

    The same vectors as :func:`thematic.embed.embed_texts` on all the texts at once, but memory stays at the
    array plus one chunk (a million 384-d vectors: 1.5 GB, where reading them all at once held three copies).
    """
    if len(texts) <= chunk:
        return embed_texts(store, texts, embedder=embedder, progress=progress)
    out: np.ndarray | None = None
    for start in range(0, len(texts), chunk):
        part = embed_texts(store, texts[start : start + chunk], embedder=embedder, progress=progress)
        if out is None:
            out = np.empty((len(texts), part.shape[1]), dtype=np.float32)
        out[start : start + len(part)] = part
    assert out is not None
    return out


def _insert_candidate(
    act: Action, run_id: int, level: int, label: str, words: Sequence[str], reps: Sequence[int],
    parent: int | None, position: int, *, unclustered: bool = False,
) -> int:
    return act.insert(
        "INSERT INTO cluster_candidates (run_id, parent_id, level, label, keywords, representatives, unclustered, "
        "position) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (run_id, parent, level, label, json.dumps(list(words)), json.dumps(list(reps)), int(unclustered), position),
    )


# ---------------------------------------------------------------------- reading


def _run(r: Any) -> Run:
    return Run(
        r["id"], r["created_at"], r["actor"], r["model_id"], r["question_id"], r["seed"],
        json.loads(r["params"] or "{}"), r["n_segments"], r["seconds"],
    )


def runs(store: Store) -> list[Run]:
    """Every run, newest first."""
    return [_run(r) for r in store.query("SELECT * FROM cluster_runs ORDER BY id DESC")]


def get_run(store: Store, run_id: int) -> Run:
    r = store.query_one("SELECT * FROM cluster_runs WHERE id = ?", (run_id,))
    if r is None:
        raise NotFound(f"no clustering run {run_id}")
    return _run(r)


def latest_run(store: Store, question_id: int | None = None, *, any_question: bool = True) -> Run | None:
    """The newest run (for ``question_id``, or over all questions when ``any_question`` is False)."""
    if question_id is None and any_question:
        r = store.query_one("SELECT * FROM cluster_runs ORDER BY id DESC LIMIT 1")
    else:
        r = store.query_one(
            "SELECT * FROM cluster_runs WHERE question_id IS ? ORDER BY id DESC LIMIT 1", (question_id,)
        )
    return None if r is None else _run(r)


_LIVE = ("open", "accepted")


@dataclass
class _Tally:
    """Per candidate: segments, distinct forms, and segments by question key (a group counts its live children)."""

    size: Counter[int] = field(default_factory=Counter)
    forms: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    by_q: dict[int, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))


def _read_run_rows(store: Store, run_id: int) -> tuple[list[Any], list[Any]]:
    """The run's candidate rows (in display order) and its members as (candidate, form, question key)."""
    with store.read() as conn:
        rows = conn.execute(
            "SELECT * FROM cluster_candidates WHERE run_id = ? ORDER BY level, position, id", (run_id,)
        ).fetchall()
        members = conn.execute(
            "SELECT m.candidate_id, a.form_id, q.key FROM cluster_members m JOIN segments s ON s.id = m.segment_id "
            "JOIN answers a ON a.id = s.answer_id JOIN questions q ON q.id = a.question_id WHERE m.run_id = ?",
            (run_id,),
        ).fetchall()
    return rows, members


def _tally_members(rows: Sequence[Any], members: Sequence[Any]) -> _Tally:
    """Count each member for its candidate and, when that candidate is live, for its group too."""
    parent_of = {r["id"]: r["parent_id"] for r in rows}
    status_of = {r["id"]: r["status"] for r in rows}
    tally = _Tally()
    for cand, form, qkey in members:
        owners = [cand]
        parent = parent_of.get(cand)
        if parent is not None and status_of.get(cand) in _LIVE:
            owners.append(parent)
        for o in owners:
            tally.size[o] += 1
            tally.forms[o].add(form)
            tally.by_q[o][qkey] += 1
    return tally


def _children_of(rows: Sequence[Any], include_closed: bool) -> dict[int, list[int]]:
    """Each group's child candidates in display order (closed ones only ``include_closed``)."""
    children: dict[int, list[int]] = defaultdict(list)
    for r in rows:
        if r["parent_id"] is not None and (include_closed or r["status"] in _LIVE):
            children[r["parent_id"]].append(r["id"])
    return children


def _is_shown(row: Any, include_closed: bool, level: int | None) -> bool:
    if not include_closed and row["status"] in ("merged", "rejected"):
        return False
    return level is None or row["level"] == level


def _meta_spread(forms: set[int], meta: dict[int, dict[str, str]]) -> dict[str, dict[str, int]]:
    """Respondents by metadata field and value, fields sorted, values most common first."""
    spread: dict[str, Counter[str]] = defaultdict(Counter)
    for f in forms:
        for k, v in meta.get(f, {}).items():
            spread[k][v] += 1
    return {k: dict(v.most_common()) for k, v in sorted(spread.items())}


def _candidate_from_row(
    row: Any, run_id: int, tally: _Tally, children: dict[int, list[int]], by_meta: dict[str, dict[str, int]]
) -> Candidate:
    cid = row["id"]
    return Candidate(
        id=cid, run_id=run_id, level=row["level"], label=row["label"], keywords=json.loads(row["keywords"]),
        parent_id=row["parent_id"], status=row["status"], code_id=row["code_id"], unclustered=bool(row["unclustered"]),
        size=tally.size[cid], respondents=len(tally.forms[cid]), representative_ids=json.loads(row["representatives"]),
        by_question=dict(tally.by_q[cid].most_common()),
        by_meta=by_meta,
        children=children.get(cid, []), position=row["position"],
    )


def candidates(
    store: Store, run_id: int, *, include_closed: bool = False, level: int | None = None, with_meta: bool = False
) -> list[Candidate]:
    """The run's groups (level 0) and candidates (level 1), groups first, each in proposal order.

    Closed candidates (merged into another, or rejected) are left out unless ``include_closed``; accepted ones stay.
    The spread over metadata groups (``by_meta``) reads every form's metadata, so it is filled only ``with_meta``.
    """
    get_run(store, run_id)
    rows, members = _read_run_rows(store, run_id)
    meta = form_meta(store) if with_meta else {}
    tally = _tally_members(rows, members)
    children = _children_of(rows, include_closed)
    return [
        _candidate_from_row(
            r, run_id, tally, children, _meta_spread(tally.forms[r["id"]], meta) if with_meta else {}
        )
        for r in rows
        if _is_shown(r, include_closed, level)
    ]


def describe_run(run: Run) -> str:
    """One line of provenance: how many candidates and how that number was chosen, model, backend, seed."""
    p = run.params
    k = p.get("n_candidates_used", "?")
    how = p.get("k_reason") or ("set by the analyst" if p.get("n_candidates") else "chosen from the number of segments")
    emb = p.get("embedding") or {}
    model = str(run.model_id).split("/")[-1]
    backend = f", {emb.get('backend')} on {emb.get('device', 'cpu')}" if emb.get("backend") else ""
    groups = p.get("n_groups_used")
    grouped = f" in {groups} groups" if groups else ""
    bertopic = "BERTopic with k-means" if p.get("use_bertopic", True) else "k-means"
    return (f"Run {run.id}: {k} candidates{grouped} from {run.n_segments:,} segments; k {how}. "
            f"{bertopic} (sample {p.get('sample_size', '?'):,}, reduction {p.get('reduction', 'none')}), "
            f"embeddings {model}{backend}, seed {run.seed}.")


def status_counts(store: Store, run_id: int, *, level: int = 1) -> dict[str, int]:
    """How many candidates of a run are open, accepted, merged or rejected (one query, for progress lines)."""
    rows = store.query(
        "SELECT status, count(*) FROM cluster_candidates WHERE run_id = ? AND level = ? GROUP BY status",
        (run_id, level),
    )
    return {str(r[0]): int(r[1]) for r in rows}


def get_candidate(store: Store, candidate_id: int) -> Candidate:
    row = store.query_one("SELECT run_id FROM cluster_candidates WHERE id = ?", (candidate_id,))
    if row is None:
        raise NotFound(f"no candidate theme {candidate_id}")
    for c in candidates(store, row["run_id"], include_closed=True, with_meta=True):
        if c.id == candidate_id:
            return c
    raise NotFound(f"no candidate theme {candidate_id}")  # pragma: no cover


def segment_ids(store: Store, candidate_id: int) -> list[int]:
    """The segments of a candidate (of a group: of its open and accepted children)."""
    row = store.query_one("SELECT level FROM cluster_candidates WHERE id = ?", (candidate_id,))
    if row is None:
        raise NotFound(f"no candidate theme {candidate_id}")
    if row["level"] == 1:
        rows = store.query(
            "SELECT segment_id FROM cluster_members WHERE candidate_id = ? ORDER BY segment_id", (candidate_id,)
        )
    else:
        rows = store.query(
            "SELECT m.segment_id FROM cluster_members m JOIN cluster_candidates c ON c.id = m.candidate_id "
            "WHERE c.parent_id = ? AND c.status IN ('open', 'accepted') ORDER BY m.segment_id",
            (candidate_id,),
        )
    return [int(r[0]) for r in rows]


def assignments(store: Store, run_id: int) -> list[dict[str, Any]]:
    """Each segment of the run with its form's id (as imported), its question key and its candidate."""
    get_run(store, run_id)
    rows = store.query(
        "SELECT m.segment_id, f.external_id, q.key, m.candidate_id FROM cluster_members m "
        "JOIN segments s ON s.id = m.segment_id JOIN answers a ON a.id = s.answer_id "
        "JOIN forms f ON f.id = a.form_id JOIN questions q ON q.id = a.question_id "
        "WHERE m.run_id = ? ORDER BY m.segment_id",
        (run_id,),
    )
    return [{"segment_id": r[0], "form_id": r[1], "question": r[2], "candidate_id": r[3]} for r in rows]


# ---------------------------------------------------------------------- helpers for operations


def run_vectors(
    store: Store, run: Run, seg_ids: Sequence[int], embedder: Embedder | None = None
) -> tuple[list[str], np.ndarray]:
    """Texts and vectors of segments for the run's model: from the cache, encoding only what it lacks."""
    rows = {
        int(r["id"]): r["text"]
        for r in store.query(
            f"SELECT id, text FROM segments WHERE id IN ({','.join('?' * len(seg_ids))})", list(seg_ids)
        )
    } if seg_ids else {}
    texts = [rows[i] for i in seg_ids]
    if embedder is None or embedder.model_id != run.model_id:
        from ..embed import MINILM_ID, default_embedder

        if embedder is None and run.model_id == MINILM_ID:
            embedder = default_embedder()
        else:
            embedder = _CacheOnly(run.model_id)
    return texts, embed_texts(store, texts, embedder=embedder)


class _CacheOnly:
    """An embedder for a run whose model is not at hand: answers only from the cache."""

    def __init__(self, model_id: str) -> None:
        self.model_id = model_id

    def encode(self, texts: Sequence[str], progress: Callable[[int, int, str], None] | None = None) -> np.ndarray:
        raise ThematicError(
            f"this run used the embedding model {self.model_id!r}, which is not available here; pass its embedder"
        )


def refresh(act: Action, run: Run, candidate_ids: Sequence[int], *, relabel: Sequence[int] = ()) -> None:
    """Recompute keywords and representatives of ``candidate_ids`` (labels too for ``relabel``) after a change."""
    store = act.store
    rows = act.execute(
        "SELECT m.segment_id, m.candidate_id, s.text FROM cluster_members m JOIN segments s ON s.id = m.segment_id "
        "JOIN cluster_candidates c ON c.id = m.candidate_id WHERE m.run_id = ? AND c.unclustered = 0 "
        "ORDER BY m.segment_id",
        (run.id,),
    ).fetchall()
    if not rows:
        return
    texts = [r["text"] for r in rows]
    docs = kw.lemmatise(texts)
    labels = [int(r["candidate_id"]) for r in rows]
    words = kw.ctfidf(docs, labels, top_n=int(run.params.get("top_keywords", 10)))
    labeller = Labeller(texts, name_hashes=run.params.get("label_name_hashes", []), seed=run.seed)
    n_reps = int(run.params.get("representatives", 5))
    for cid in candidate_ids:
        idx = np.array([i for i, lab in enumerate(labels) if lab == cid], dtype=np.int64)
        if len(idx) == 0:
            continue
        seg = [int(rows[i]["segment_id"]) for i in idx]
        try:
            _, vecs = run_vectors(store, run, seg)
            centre = vecs.mean(axis=0)
            centre /= max(float(np.linalg.norm(centre)), 1e-12)
            scores = np.zeros(len(rows), dtype=np.float32)
            scores[idx] = vecs @ centre
            act.executemany(
                "UPDATE cluster_members SET score = ? WHERE run_id = ? AND segment_id = ?",
                [(float(scores[i]), run.id, int(rows[i]["segment_id"])) for i in idx],
            )
        except ThematicError:  # vectors unavailable: keep the members' order
            scores = np.zeros(len(rows), dtype=np.float32)
        reps = representatives(idx, scores, texts, n_reps)
        kws = labeller.clean_keywords([w for w, _ in words.get(cid, [])])
        act.execute(
            "UPDATE cluster_candidates SET keywords = ?, representatives = ? WHERE id = ?",
            (json.dumps(kws), json.dumps([int(rows[i]["segment_id"]) for i in reps]), cid),
        )
        if cid in relabel:
            act.execute("UPDATE cluster_candidates SET label = ? WHERE id = ?", (labeller.label(idx.tolist(), reps), cid))

