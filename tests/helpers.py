"""Small builders for tests that need a corpus without going through ingest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from thematic.store import Store


def make_corpus(
    store: Store,
    forms: Sequence[tuple[str, Mapping[str, str], Mapping[str, Sequence[str]]]],
    questions: Sequence[str] = ("Q1", "Q2"),
) -> dict[tuple[str, str, int], int]:
    """Insert forms directly: ``(external_id, meta, {question: [segment texts]})``.

    Each answer is its segments joined by a space. Returns segment ids keyed by (form id, question, position).
    """
    ids: dict[tuple[str, str, int], int] = {}
    with store.action("test.corpus", "Test corpus") as act:
        qids = {}
        for i, q in enumerate(questions):
            qids[q] = act.insert("INSERT INTO questions (key, label, position) VALUES (?, ?, ?)", (q, q, i))
        for ext, meta, answers in forms:
            fid = act.insert("INSERT INTO forms (external_id) VALUES (?)", (ext,))
            for k, v in meta.items():
                act.execute("INSERT INTO form_meta (form_id, field, value) VALUES (?, ?, ?)", (fid, k, v))
            for q, segs in answers.items():
                text = " ".join(segs)
                aid = act.insert("INSERT INTO answers (form_id, question_id, text) VALUES (?, ?, ?)", (fid, qids[q], text))
                start = 0
                for pos, seg in enumerate(segs):
                    ids[(ext, q, pos)] = act.insert(
                        'INSERT INTO segments (answer_id, position, start, "end", text) VALUES (?, ?, ?, ?, ?)',
                        (aid, pos, start, start + len(seg), seg),
                    )
                    start += len(seg) + 1
    return ids


SMALL = [
    ("F1", {"profession": "Nurse", "gender": "Female"},
     {"Q1": ["The three circles made sense.", "Loved the breathing."], "Q2": ["Too hot in the room."]}),
    ("F2", {"profession": "Doctor", "gender": "Male"},
     {"Q1": ["Soothing rhythm breathing was calming."], "Q2": ["Nothing, it was great."]}),
    ("F3", {"profession": "Nurse", "gender": "Male"},
     {"Q1": ["Hearing the facilitator's lived experience."]}),
]


def forms_missing_profession(folder: Path, store: Store) -> None:
    """Five one-question forms, two with an empty Profession cell, ingested through the real CSV reader."""
    from thematic.ingest import ingest_file

    src = folder / "forms.csv"
    src.write_text("Form ID,Profession,What was good?\nF1,Nurse,The breathing.\nF2,,The room.\n"
                   "F3,Doctor,The talk.\nF4,,The videos.\nF5,Nurse,Lunch.\n", encoding="utf-8")
    ingest_file(store, src, id_column="Form ID", question_columns=["What was good?"])
