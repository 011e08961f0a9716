"""Code suggestions: rank the codebook's codes for each segment. Nothing is coded until a human accepts.

How a score is made:

* **zero-shot** - every candidate code (a code with no subcodes: leaves are what coders apply; a theme with no
  subthemes is a leaf too) gets a prototype vector: the mean of the normalised embeddings of its name (in a
  short sentence, with its parent's name for context), its definition, its "includes" note and each of its
  example segments. A segment's cosine similarity to every prototype goes through a softmax with temperature
  :data:`TEMPERATURE`, so a score is the share of belief the model puts on that code among all candidate codes,
  comparable from one segment to the next (the temperature was chosen by log-loss on the NHS benchmark, see
  ``bench/suggest_eval.py``).
* **learned (few-shot)** - once a coder has coded at least :data:`MIN_EXAMPLES` segments with some code, that
  coder's suggestions come from their own model (:mod:`thematic.learn`): a softmax regression on the segment
  vectors of everything they coded, whose weights start at the zero-shot prototypes and are held near them by a
  penalty, refitted (warm-started) after each coding. Codes the coder has coded at least :data:`MIN_EXAMPLES` times
  are marked few-shot; the others are still scored by the same model but say zero-shot, as their evidence is
  the codebook's. Each :class:`Suggestion` says which kind it is.

Suggestions never write codings. :func:`accept_suggestion` codes with origin ``"suggestion"``;
:func:`reject_suggestion` records (undoably, in ``suggestion_rejections``) that a coder does not want that code on
that segment, so it is not proposed to them again. Codes a coder already applied to a segment are not proposed to
them either.

Speed: code prototypes are computed once per codebook state (a fingerprint of the codes and their examples) and
the few-shot prototypes once per state of the coder's codings; segment vectors come from the project's embedding
cache (:mod:`thematic.embed`). For one segment with a loaded model a call is a few milliseconds.
"""

from __future__ import annotations

import hashlib
import threading
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from . import embed, learn
from .codebook import list_codes
from .coding import apply_code, ensure_coder, find_coder
from .embed import embed_segments, embed_texts, normalise
from .errors import InvalidInput, NotFound
from .store import Store, now

if TYPE_CHECKING:  # pragma: no cover
    from .embed import Embedder

Progress = Callable[[int, int, str], None]


def _no_progress(done: int, total: int, message: str = "") -> None:
    return None

ZERO_SHOT = "zero-shot"
FEW_SHOT = "few-shot"
#: Softmax temperature on cosine similarities (log-loss minimum on the NHS benchmark, 9 categories).
TEMPERATURE = 0.1
#: A code needs this many segments coded with it by a coder before its suggestions to that coder are few-shot.
MIN_EXAMPLES = 3
#: How many coded segments the zero-shot prototype counts as when mixed with a coder's centroid.
PRIOR_WEIGHT = 10.0
#: The sentence a code's name is embedded in (the name alone is a poor sentence for a sentence encoder).
NAME_TEMPLATE = "This comment is about {}."

_CACHE_SIZE = 8


@dataclass(frozen=True)
class Suggestion:
    segment_id: int
    rank: int
    code_id: int
    code_path: str
    score: float
    kind: str  # ZERO_SHOT or FEW_SHOT


@dataclass(frozen=True)
class CodeModel:
    """The candidate codes of one codebook state and their zero-shot prototypes (one unit row per code)."""

    fingerprint: str
    model_id: str
    code_ids: tuple[int, ...]
    paths: tuple[str, ...]
    prototypes: np.ndarray

    def index(self) -> dict[int, int]:
        return {cid: i for i, cid in enumerate(self.code_ids)}


# ---------------------------------------------------------------------- pure helpers (also used by the benchmark)


def code_texts(
    path: Sequence[str], definition: str = "", includes: str = "", examples: Sequence[str] = ()
) -> list[str]:
    """The texts whose embeddings make a code's zero-shot prototype.

    NFKC-normalised: some codebooks write "/" in names as the full-width "／" (U+FF0F), which the model's
    vocabulary lacks."""
    name = path[-1] if len(path) < 2 else f"{path[-2]}: {path[-1]}"
    texts = [NAME_TEMPLATE.format(name)]
    texts += [t for t in (definition.strip(), includes.strip()) if t]
    texts += [e.strip() for e in examples if e and e.strip()]
    return [unicodedata.normalize("NFKC", t) for t in texts]


def prototype(vectors: np.ndarray) -> np.ndarray:
    """The mean of normalised vectors, normalised."""
    return normalise(normalise(vectors).mean(axis=0))


def shrink(zero: np.ndarray, centroid: np.ndarray, n: int, prior_weight: float = PRIOR_WEIGHT) -> np.ndarray:
    """A few-shot prototype: the coder's centroid of ``n`` segments, with the zero-shot prototype as a prior."""
    w = n / (n + prior_weight)
    return normalise((1.0 - w) * normalise(zero) + w * normalise(centroid))


def scores(vectors: np.ndarray, prototypes: np.ndarray, temperature: float = TEMPERATURE) -> np.ndarray:
    """Softmax over codes of cosine similarity / temperature; one row per segment, rows sum to 1."""
    sims = normalise(vectors) @ normalise(prototypes).T
    logits = sims / temperature
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


def top_k(probs: np.ndarray, k: int) -> np.ndarray:
    """Column indices of the ``k`` highest scores per row, best first (ties broken by column order)."""
    k = min(k, probs.shape[1])
    if k <= 0:
        return np.zeros((probs.shape[0], 0), dtype=int)
    order = np.argsort(-probs, axis=1, kind="stable")
    return order[:, :k]


# ---------------------------------------------------------------------- embedder and caches

_code_models: OrderedDict[tuple[str, str], CodeModel] = OrderedDict()
_few_shot: OrderedDict[tuple[str, ...], tuple[np.ndarray, np.ndarray]] = OrderedDict()
_cache_lock = threading.Lock()  # the app serves several sessions from threads


def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    with _cache_lock:
        cache[key] = value
        cache.move_to_end(key)
        while len(cache) > _CACHE_SIZE:
            cache.popitem(last=False)


def _recall(cache: OrderedDict[Any, Any], key: Any) -> Any:
    with _cache_lock:
        value = cache.get(key)
        if value is not None:
            cache.move_to_end(key)
        return value


_learned: dict[tuple[str, ...], tuple[str, learn.CoderModel, np.ndarray]] = {}
_vectors: dict[tuple[str, str], dict[int, np.ndarray]] = {}


def clear_caches() -> None:
    with _cache_lock:
        _code_models.clear()
        _few_shot.clear()
        _learned.clear()
        _vectors.clear()


def codebook_fingerprint(store: Store) -> str:
    """A hash of everything a zero-shot prototype depends on: the codes, their tree and their examples."""
    with store.read() as conn:
        return _fingerprint(conn)


def _fingerprint(conn: Any) -> str:
    h = hashlib.sha256()
    for r in conn.execute("SELECT id, parent_id, name, definition, includes FROM codes ORDER BY id"):
        h.update(repr(tuple(r)).encode())
    h.update(b"|examples|")
    for r in conn.execute("SELECT code_id, text FROM code_examples ORDER BY id"):
        h.update(repr(tuple(r)).encode())
    return h.hexdigest()


def code_model(store: Store, *, embedder: Embedder | None = None, progress: Progress | None = None) -> CodeModel:
    """The candidate codes and their zero-shot prototypes, computed once per codebook state."""
    emb = embedder or embed.default_embedder()
    fp = codebook_fingerprint(store)
    key = (fp, emb.model_id)
    cached = _recall(_code_models, key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    with store.read() as conn:  # the codes as the fingerprint saw them (a snapshot)
        fp = _fingerprint(conn)
        codes = list_codes(store)
        examples: dict[int, list[str]] = {}
        for r in store.query("SELECT code_id, text FROM code_examples ORDER BY id"):
            examples.setdefault(int(r[0]), []).append(str(r[1]))
    key = (fp, emb.model_id)
    parents = {c.parent_id for c in codes if c.parent_id is not None}
    leaves = [c for c in codes if c.id not in parents]
    if not leaves:
        raise NotFound("the project has no codes to suggest: import a codebook first (python -m thematic suggest "
                       "P.db --codebook FILE ...)")
    groups = [code_texts(c.path, c.definition, c.includes, examples.get(c.id, [])) for c in leaves]
    flat = [t for g in groups for t in g]
    vecs = embed_texts(store, flat, embedder=emb, progress=progress)
    protos, start = [], 0
    for g in groups:
        protos.append(prototype(vecs[start : start + len(g)]))
        start += len(g)
    model = CodeModel(
        fingerprint=fp,
        model_id=emb.model_id,
        code_ids=tuple(c.id for c in leaves),
        paths=tuple(c.path_str for c in leaves),
        prototypes=np.vstack(protos).astype(np.float32),
    )
    _remember(_code_models, key, model)
    return model


def coder_prototypes(
    store: Store, model: CodeModel, coder: str | None, *, embedder: Embedder | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(prototypes, few-shot mask) for ``coder``: codes they coded at least MIN_EXAMPLES times move to few-shot."""
    zero = model.prototypes
    none = np.zeros(len(model.code_ids), dtype=bool)
    if coder is None:
        return zero, none
    sig = store.query_one(
        "SELECT count(*), coalesce(sum(c.segment_id * 1000003 + c.code_id), 0), coalesce(max(c.id), 0) "
        "FROM codings c JOIN coders k ON k.id = c.coder_id WHERE k.name = ?",
        (coder,),
    )
    if sig is None or int(sig[0]) == 0:
        return zero, none
    project = store.path if not store.in_memory else f"memory:{id(store)}"
    key = (project, model.fingerprint, model.model_id, coder, repr(tuple(sig)))
    cached = _recall(_few_shot, key)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    index = model.index()
    rows = store.query(
        "SELECT c.segment_id, c.code_id FROM codings c JOIN coders k ON k.id = c.coder_id WHERE k.name = ?",
        (coder,),
    )
    by_code: dict[int, list[int]] = {}
    for sid, cid in rows:
        if cid in index:
            by_code.setdefault(int(cid), []).append(int(sid))
    enough = {cid: sids for cid, sids in by_code.items() if len(sids) >= MIN_EXAMPLES}
    protos, mask = zero.copy(), none.copy()
    if enough:
        wanted = sorted({s for sids in enough.values() for s in sids})
        ids, vecs = embed_segments(store, wanted, embedder=embedder or embed.default_embedder())
        row_of = {sid: i for i, sid in enumerate(ids)}
        for cid, sids in enough.items():
            v = vecs[[row_of[s] for s in sids]]
            protos[index[cid]] = shrink(zero[index[cid]], prototype(v), len(sids))
            mask[index[cid]] = True
    _remember(_few_shot, key, (protos, mask))
    return protos, mask


def _project_key(store: Store) -> str:
    return store.path if not store.in_memory else f"memory:{id(store)}"


def _segment_vectors(store: Store, seg_ids: Sequence[int], embedder: Embedder) -> np.ndarray:
    """Vectors of segments, kept in memory per project and model (a refit after one coding reads one new row)."""
    key = (_project_key(store), embedder.model_id)
    with _cache_lock:
        table = _vectors.setdefault(key, {})
        missing = [s for s in dict.fromkeys(seg_ids) if s not in table]
    if missing:
        ids, vecs = embed_segments(store, missing, embedder=embedder)
        with _cache_lock:
            table.update(zip(ids, vecs))
            if len(_vectors) > _CACHE_SIZE:
                _vectors.pop(next(iter(_vectors)))
    return np.vstack([table[s] for s in seg_ids]) if seg_ids else np.zeros((0, 0), dtype=np.float32)


def coder_model(
    store: Store, model: CodeModel, coder: str | None, *, embedder: Embedder | None = None
) -> tuple[learn.CoderModel | None, np.ndarray]:
    """``coder``'s learned model (None while they have fewer than MIN_EXAMPLES codings with every code) and the
    mask of codes they coded at least MIN_EXAMPLES times. Refitted, warm-started, when their codings change."""
    none = np.zeros(len(model.code_ids), dtype=bool)
    if coder is None:
        return None, none
    rows = store.query(
        "SELECT c.segment_id, c.code_id FROM codings c JOIN coders k ON k.id = c.coder_id WHERE k.name = ? "
        "ORDER BY c.segment_id, c.code_id",
        (coder,),
    )
    index = model.index()
    pairs = [(int(s), index[int(c)]) for s, c in rows if int(c) in index]
    counts = np.bincount([p[1] for p in pairs], minlength=len(model.code_ids)) if pairs else none.astype(int)
    mask = counts >= MIN_EXAMPLES
    if not mask.any():
        return None, none
    sig = hashlib.sha256(repr(pairs).encode()).hexdigest()
    key = (_project_key(store), model.fingerprint, model.model_id, coder)
    with _cache_lock:
        cached = _learned.get(key)
    if cached is not None and cached[0] == sig:
        return cached[1], cached[2]
    vecs = _segment_vectors(store, [s for s, _ in pairs], embedder or embed.default_embedder())
    fitted = learn.fit(vecs, [c for _, c in pairs], model.prototypes, TEMPERATURE,
                       warm=cached[1] if cached is not None else None)
    with _cache_lock:
        _learned[key] = (sig, fitted, mask)
        while len(_learned) > _CACHE_SIZE * 4:
            _learned.pop(next(iter(_learned)))
    return fitted, mask


# ---------------------------------------------------------------------- suggesting


def _segment_ids(store: Store, segment_ids: Sequence[int] | None, question_id: int | None) -> list[int]:
    base = (
        "SELECT s.id FROM segments s JOIN answers a ON a.id = s.answer_id JOIN questions q ON q.id = a.question_id"
    )
    order = " ORDER BY a.form_id, q.position, s.position"
    if segment_ids is None:
        if question_id is None:
            # Spans a person highlighted are not the machine's units.
            return [int(r[0]) for r in store.query(base + " WHERE s.by_person = 0" + order)]
        if store.query_one("SELECT 1 FROM questions WHERE id = ?", (question_id,)) is None:
            raise NotFound(f"no question {question_id} in this project")
        return [int(r[0]) for r in store.query(base + " WHERE s.by_person = 0 AND a.question_id = ?" + order, (question_id,))]
    ids = list(dict.fromkeys(int(i) for i in segment_ids))
    found: set[int] = set()
    for start in range(0, len(ids), 900):
        part = ids[start : start + 900]
        sql = base + f" WHERE s.id IN ({','.join('?' * len(part))})"
        params: list[Any] = list(part)
        if question_id is not None:
            sql += " AND a.question_id = ?"
            params.append(question_id)
        found.update(int(r[0]) for r in store.query(sql, params))
    if question_id is None:
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFound(f"no segment {missing[0]} in this project")
    return [i for i in ids if i in found]


def _excluded(store: Store, coder: str | None, segment_ids: Sequence[int]) -> set[tuple[int, int]]:
    """(segment, code) pairs not to propose to ``coder``: already coded by them, or rejected by them."""
    if coder is None:
        return set()
    who = find_coder(store, coder)
    sql = (
        "SELECT segment_id, code_id FROM codings WHERE coder_id = ?{w} "
        "UNION SELECT segment_id, code_id FROM suggestion_rejections WHERE coder_id = ?{w}"
    )
    if len(segment_ids) <= 400:  # the coding page asks for one segment: look at that one only
        marks = ",".join("?" * len(segment_ids))
        w = f" AND segment_id IN ({marks})"
        rows = store.query(sql.format(w=w), (who, *segment_ids, who, *segment_ids))
    else:
        rows = store.query(sql.format(w=""), (who, who))
    return {(int(s), int(c)) for s, c in rows}


def suggest(
    store: Store,
    *,
    segment_ids: Sequence[int] | None = None,
    question_id: int | None = None,
    top: int = 3,
    coder: str | None = None,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> list[Suggestion]:
    """The ``top`` codes for each segment (all segments, those of a question, or the given ids), best first.

    With ``coder``, codes that coder already applied or rejected on a segment are left out, and once they have
    coded at least :data:`MIN_EXAMPLES` segments with some code, their own learned model scores every code. Writes nothing but the embedding cache.
    """
    if top < 1:
        raise InvalidInput(f"top must be at least 1 (got {top})")
    report: Progress = progress or _no_progress
    emb = embedder or embed.default_embedder()
    ids = _segment_ids(store, segment_ids, question_id)
    if not ids:
        return []

    def codebook_progress(done: int, total: int, message: str = "") -> None:
        report(done, total, "Embedding the codebook")

    def segment_progress(done: int, total: int, message: str = "") -> None:
        report(min(done, total), total, "Embedding segments")

    model = code_model(store, embedder=emb, progress=codebook_progress)
    learned, few = coder_model(store, model, coder, embedder=emb)
    total = len(ids)
    _, vecs = embed_segments(
        store, ids, embedder=emb, progress=segment_progress
    )
    excluded = _excluded(store, coder, ids)
    out: list[Suggestion] = []
    step = 2048
    for start in range(0, total, step):
        chunk = ids[start : start + step]
        part = vecs[start : start + step]
        probs = learned.scores(part) if learned is not None else scores(part, model.prototypes)
        # Leave room for the codes that will be skipped for this coder.
        order = top_k(probs, top + (len(model.code_ids) if excluded else 0))
        for row, sid in enumerate(chunk):
            rank = 0
            for col in order[row]:
                cid = model.code_ids[col]
                if (sid, cid) in excluded:
                    continue
                rank += 1
                out.append(
                    Suggestion(
                        segment_id=sid,
                        rank=rank,
                        code_id=cid,
                        code_path=model.paths[col],
                        score=float(probs[row, col]),
                        kind=FEW_SHOT if few[col] else ZERO_SHOT,
                    )
                )
                if rank == top:
                    break
        report(min(start + step, total), total, "Suggesting codes")
    return out


# ---------------------------------------------------------------------- accepting and rejecting


def _check(store: Store, segment_id: int, code_id: int) -> str:
    if store.query_one("SELECT 1 FROM segments WHERE id = ?", (segment_id,)) is None:
        raise NotFound(f"no segment {segment_id} in this project")
    for c in list_codes(store):
        if c.id == code_id:
            return c.path_str
    raise NotFound(f"no code with id {code_id}")


def _rejection(store: Store, segment_id: int, code_id: int, coder: str) -> int | None:
    row = store.query_one(
        "SELECT r.id FROM suggestion_rejections r JOIN coders k ON k.id = r.coder_id "
        "WHERE r.segment_id = ? AND r.code_id = ? AND k.name = ?",
        (segment_id, code_id, coder),
    )
    return None if row is None else int(row[0])


def accept_suggestion(store: Store, segment_id: int, code_id: int, coder: str) -> bool:
    """Code the segment as suggested (origin ``"suggestion"``), in one undoable step. False if already coded."""
    path = _check(store, segment_id, code_id)
    coded = store.query_one(
        "SELECT 1 FROM codings WHERE segment_id = ? AND code_id = ? AND coder_id = ?",
        (segment_id, code_id, find_coder(store, coder)),
    )
    rejected = _rejection(store, segment_id, code_id, coder)
    if coded is not None and rejected is None:
        return False
    with store.action(
        "suggestion.accept",
        f"Accept suggestion '{path}' for segment {segment_id}",
        actor=coder,
        details={"segment_id": segment_id, "code_id": code_id, "origin": "suggestion"},
    ) as act:
        if rejected is not None:  # the coder changed their mind
            act.execute("DELETE FROM suggestion_rejections WHERE id = ?", (rejected,))
        apply_code(store, segment_id, code_id, coder, origin="suggestion")
    return coded is None


def reject_suggestion(store: Store, segment_id: int, code_id: int, coder: str) -> bool:
    """Record that ``coder`` does not want this code on this segment (undoable). False if already rejected."""
    path = _check(store, segment_id, code_id)
    if _rejection(store, segment_id, code_id, coder) is not None:
        return False
    with store.action(
        "suggestion.reject",
        f"Reject suggestion '{path}' for segment {segment_id}",
        actor=coder,
        details={"segment_id": segment_id, "code_id": code_id},
    ) as act:
        coder_id = ensure_coder(store, coder)
        act.execute(
            "INSERT INTO suggestion_rejections (segment_id, code_id, coder_id, created_at) VALUES (?, ?, ?, ?)",
            (segment_id, code_id, coder_id, now()),
        )
    return True


def rejections(store: Store, *, coder: str | None = None) -> list[tuple[int, int, str, str]]:
    """(segment id, code id, coder, when) of every rejected suggestion, newest first."""
    sql = (
        "SELECT r.segment_id, r.code_id, k.name, r.created_at FROM suggestion_rejections r "
        "JOIN coders k ON k.id = r.coder_id"
    )
    params: tuple[Any, ...] = ()
    if coder is not None:
        sql += " WHERE k.name = ?"
        params = (coder,)
    return [(int(a), int(b), str(c), str(d)) for a, b, c, d in store.query(sql + " ORDER BY r.id DESC", params)]
