"""Theme-tree diagrams: pure layout, SVG/PNG/PDF/DOT/Mermaid backends, legibility for small and large trees."""

from __future__ import annotations

import io
import random
from pathlib import Path

import pytest

from thematic.codebook import add_code
from thematic.coding import apply_code_many
from thematic.store import Store, now

REPO = Path(__file__).resolve().parents[1]
CMT = REPO / "codebooks" / "cmt_for_all.yaml"

QUESTIONS = [("interested", "What interested you most and why?"), ("unhelpful", "What was unhelpful?")]
PROFESSIONS = ["Nurse", "Psychologist", "Occupational therapist", "Support worker", "Doctor"]
TEXTS = [
    "Learning about the three circles made sense of my stress at work.",
    "The breathing exercise was calming and I will use it with patients.",
    "Sharing with colleagues in a safe space felt supportive.",
    "=SUM(A1:A2) the room was too cold",
    "I want follow-up sessions to keep practising.",
    "The facilitators were warm and knowledgeable, with lived experience.",
]


def add_corpus(store: Store, n_forms: int = 40) -> list[int]:
    """Forms with two answers each, one segment per sentence, and profession/gender metadata."""
    segs: list[int] = []
    with store.action("test.ingest", "Add test corpus") as act:
        qids = [act.insert("INSERT INTO questions (key, label, position) VALUES (?, ?, ?)", (k, lab, i))
                for i, (k, lab) in enumerate(QUESTIONS)]
        for f in range(n_forms):
            fid = act.insert("INSERT INTO forms (external_id, source_row) VALUES (?, ?)", (f"R{f + 1:03d}", f + 2))
            act.execute("INSERT INTO form_meta VALUES (?, 'profession', ?)", (fid, PROFESSIONS[f % len(PROFESSIONS)]))
            act.execute("INSERT INTO form_meta VALUES (?, 'gender', ?)", (fid, "Female" if f % 3 else "Male"))
            for qi, qid in enumerate(qids):
                a, b = TEXTS[(f + qi) % len(TEXTS)], TEXTS[(f * 7 + qi + 1) % len(TEXTS)]
                text = f"{a} {b}"
                aid = act.insert("INSERT INTO answers (form_id, question_id, text) VALUES (?, ?, ?)", (fid, qid, text))
                segs.append(act.insert(
                    "INSERT INTO segments (answer_id, position, start, \"end\", text) VALUES (?, 0, 0, ?, ?)",
                    (aid, len(a) + 1, a + " ")))
                segs.append(act.insert(
                    "INSERT INTO segments (answer_id, position, start, \"end\", text) VALUES (?, 1, ?, ?, ?)",
                    (aid, len(a) + 1, len(text), b)))
    return segs


def build_project(store: Store, themes: int = 4, subthemes: int = 12, n_forms: int = 40, seed: int = 1,
                  codebook: Path | None = None, codes_per_sub: int = 0) -> None:
    """A coded project: the CMT codebook (4 x 12) when available, else generated names; seeded random codings."""
    store.set_setting("title", "Compassionate Mind Training for All: staff evaluation")
    segs = add_corpus(store, n_forms)
    if codebook is not None and codebook.exists():
        from thematic.codebook_files import import_codebook, read_codebook
        import_codebook(store, read_codebook(codebook))
    else:
        words = ["Understanding", "Practice", "Group", "Delivery", "Barriers", "Wellbeing", "Workplace",
                 "Self-criticism", "Relationships", "Follow-up support"]
        per = [subthemes // themes + (1 if i < subthemes % themes else 0) for i in range(themes)]
        for t in range(themes):
            tid = add_code(store, f"{words[t % len(words)]} and the experience of theme {t + 1}",
                           definition=f"Definition of theme {t + 1}.")
            for s in range(per[t]):
                sid = add_code(store, f"Subtheme {t + 1}.{s + 1}: a longer descriptive name that needs wrapping",
                               parent_id=tid, definition=f"What subtheme {t + 1}.{s + 1} covers.")
                for c in range(codes_per_sub):
                    add_code(store, f"Code {t + 1}.{s + 1}.{c + 1}", parent_id=sid)
    rng = random.Random(seed)
    leaves = [r[0] for r in store.query("SELECT id FROM codes WHERE id NOT IN (SELECT parent_id FROM codes "
                                         "WHERE parent_id IS NOT NULL) ORDER BY id")]
    for i, cid in enumerate(leaves):
        chosen = rng.sample(segs, k=min(len(segs), rng.randint(2, 14)))
        apply_code_many(store, chosen, cid, "alice" if i % 2 else "bob")
