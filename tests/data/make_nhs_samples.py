"""Make the NHS fixtures from ../shared/data/nhs_patient_feedback_phase1.csv (run from the repo root).

* ``nhs_sample.csv``: ~300 rows stratified by question and subcategory (every stratum at least once, the rest
  proportional), in file order, byte-for-byte the original fields.
* ``nhs_named_staff.csv``: real rows that name staff ("Dr Khan", "Nurse Gabbitas", first names), for redaction.
"""

from __future__ import annotations

import csv
import random
import re
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parents[2] / "shared" / "data" / "nhs_patient_feedback_phase1.csv"
TOTAL = 300
SEED = 7


def main() -> None:
    with SOURCE.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = list(reader.fieldnames or [])
        rows = list(reader)
    rng = random.Random(SEED)
    strata: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        strata[(r["question"], r["subcategory"])].append(i)
    chosen: set[int] = set()
    for idx in strata.values():
        chosen.add(rng.choice(idx))
    rest = [i for i in range(len(rows)) if i not in chosen]
    chosen.update(rng.sample(rest, TOTAL - len(chosen)))
    _write(HERE / "nhs_sample.csv", fields, [rows[i] for i in sorted(chosen)])

    titled = re.compile(r"\b(?:Dr|Nurse|Mrs|Mr|Miss|Sister)\.? [A-Z][a-z]+")
    named = [r for r in rows if titled.search(r["feedback"])][:25]
    first_names = re.compile(r"\b(?:Natasha|Faye|Karen|Trevor|Dianne|Lisa|Paul)\b")
    named += [r for r in rows if first_names.search(r["feedback"]) and r not in named][:15]
    _write(HERE / "nhs_named_staff.csv", fields, named)


def _write(path: Path, fields: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    print(f"{path.name}: {len(rows)} rows")


if __name__ == "__main__":
    main()
