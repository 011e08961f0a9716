"""Importing into a project: counts, exact text, idempotence, append, conflicts, undo, redaction, the CLI."""

from __future__ import annotations

import csv
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import dump
from thematic.errors import Conflict
from thematic.ingest import add_forms, ingest_file, read_forms
from thematic.ingest.layout import is_blank
from thematic.store import Store

REPO = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
DEMO = REPO / "thematic" / "data" / "cmt_workshop_evaluations.xlsx"
Q1 = "What was most helpful?"
Q2 = "What was unhelpful?"


def norm(text: str) -> str:
    """What ingest stores for a cell: the text exactly, except CRLF (or CR) inside a cell becomes LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def stored_answers(store: Store) -> dict[tuple[str, str], str]:
    rows = store.query(
        "SELECT f.external_id, q.key, a.text FROM answers a JOIN forms f ON f.id = a.form_id "
        "JOIN questions q ON q.id = a.question_id"
    )
    return {(r[0], r[1]): r[2] for r in rows}


def assert_segments_tile(store: Store) -> None:
    for a in store.query("SELECT id, text FROM answers"):
        segs = store.query('SELECT start, "end", text FROM segments WHERE answer_id = ? ORDER BY position', (a["id"],))
        assert segs, a["text"]
        assert "".join(s["text"] for s in segs) == a["text"]
        assert all(a["text"][s["start"] : s["end"]] == s["text"] for s in segs)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8", newline="")
    return path


def test_nhs_sample_into_a_project(store: Store) -> None:
    path = DATA / "nhs_sample.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    report = ingest_file(store, path, unit="response")
    want = {(r["row_index"], r["question"]): norm(r["feedback"]) for r in rows if not is_blank(r["feedback"])}
    assert stored_answers(store) == want
    counts = store.counts()
    assert counts["forms"] == report.forms_added == len(rows)
    assert counts["answers"] == counts["segments"] == len(want) == report.answers
    assert counts["questions"] == len({r["question"] for r in rows})
    meta = store.query("SELECT value FROM form_meta WHERE field = 'subcategory'")
    assert {m[0] for m in meta} == {r["subcategory"].strip() for r in rows}  # metadata is stripped


def test_455_forms_by_5_questions_exact_counts_and_bytes(store: Store, tmp_path: Path) -> None:
    src = DATA / "nhs_sample.csv"
    with src.open(encoding="utf-8", newline="") as fh:
        comments = [r["feedback"] for r in csv.DictReader(fh)]
    rng = random.Random(455)
    questions = [f"Q{i} what did you think?" for i in range(1, 6)]
    table = []
    for i in range(455):
        cells = [rng.choice(comments) if rng.random() > 0.1 else rng.choice(["", "N/A", " "]) for _ in questions]
        table.append([f"F{i:04d}", rng.choice(["Nurse", "Doctor", "Admin"]), *cells])
    path = tmp_path / "forms.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Form ID", "Profession", *questions])
        w.writerows(table)
    t = time.perf_counter()
    report = ingest_file(store, path, unit="sentence")
    elapsed = time.perf_counter() - t
    print(f"\n455 x 5 ingest (sentences): {elapsed:.2f} s")
    want = {(row[0], q): norm(text) for row in table for q, text in zip(questions, row[2:]) if not is_blank(text)}
    assert stored_answers(store) == want
    counts = store.counts()
    assert counts == {
        "forms": 455, "questions": 5, "answers": len(want), "segments": report.segments,
        "codes": 0, "codings": 0, "memos": 0, "coders": 0,
    }
    assert report.blanks == 455 * 5 - len(want)
    # Every answer is cut into sentences that put together give it back exactly; several comments hold more
    # than one sentence, and no segment is only spaces.
    assert_segments_tile(store)
    assert counts["segments"] > counts["answers"]
    assert store.scalar("SELECT count(*) FROM segments WHERE trim(text) = ''") == 0


def test_reimport_adds_nothing_and_second_file_appends(store: Store, tmp_path: Path) -> None:
    a = write(tmp_path / "2024.csv", f"ID,Cohort,{Q1}\nA1,2024,The breathing exercise\nA2,2024,Group work\n")
    ingest_file(store, a, unit="response")
    before = dump(store)
    again = ingest_file(store, a, unit="response")
    assert again.already_imported and again.forms_added == 0 and dump(store) == before
    # the same forms in another file (one more column of blanks): skipped by id with identical answers
    b = write(tmp_path / "2024-copy.csv", f"ID,Cohort,{Q1},{Q2}\nA1,2024,The breathing exercise,\nA3,2024,Circles,Too hot\n")
    r = ingest_file(store, b, unit="response")
    assert (r.forms_added, r.forms_skipped, r.answers, r.questions_added) == (1, 1, 2, 1)
    c = write(tmp_path / "2025.csv", f"ID,Cohort,{Q1}\nB1,2025,Self-compassion\n")
    ingest_file(store, c, unit="response")
    assert store.counts()["forms"] == 4 and store.scalar("SELECT count(*) FROM sources") == 3


def test_same_id_different_answers_conflicts_and_changes_nothing(store: Store, tmp_path: Path) -> None:
    ingest_file(store, write(tmp_path / "a.csv", f"ID,{Q1}\nA1,The breathing exercise\n"), question_columns=[Q1])
    before = dump(store)
    with pytest.raises(Conflict, match=r"'A1' in row 3 of b\.csv.*row 2 of a\.csv"):
        ingest_file(store, write(tmp_path / "b.csv", f"ID,{Q1}\nA9,New\nA1,Different words\n"), question_columns=[Q1])
    assert dump(store) == before


def test_blank_form_keeps_metadata(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", f"ID,Profession,{Q1}\nA1,Nurse,Breathing\nA2,Doctor,N/A\n")
    report = ingest_file(store, path, question_columns=[Q1], unit="response")
    assert report.empty_forms == 1 and report.forms_added == 2 and report.answers == 1
    assert store.query_one(
        "SELECT m.value FROM forms f JOIN form_meta m ON m.form_id = f.id WHERE f.external_id = 'A2'"
    )[0] == "Doctor"


def test_undo_removes_the_import_exactly(store: Store) -> None:
    store.set_setting("title", "t")
    before = dump(store)
    report = ingest_file(store, DEMO, unit="sentence")
    assert report.forms_added == 60 and store.counts()["segments"] == report.segments > report.answers
    assert_segments_tile(store)
    event = store.undo()
    assert event.action == "ingest"
    assert dump(store) == before
    store.redo()
    assert store.counts()["forms"] == 60


def test_redaction_stores_no_original(store: Store, tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.csv",
        f"ID,{Q1}\nA1,Dr Khan was great. Priya Shah explained the circles.\nA2,Natasha was lovely\n",
    )
    report = ingest_file(store, path, question_columns=[Q1], redact=True, staff_names=["Priya Shah"])
    assert report.redactions == 3
    everything = repr(dump(store)) + repr(store.query("SELECT * FROM audit")) + repr(store.query("SELECT * FROM undo_log"))
    for name in ("Khan", "Priya", "Shah", "Natasha"):
        assert name not in everything
    assert stored_answers(store)[("A1", Q1)] == "Dr [NAME] was great. [NAME] explained the circles."
    assert_segments_tile(store)
    # importing the same forms again (another file) compares redacted text: skipped, not a conflict
    again = ingest_file(store, write(tmp_path / "b.csv", path.read_text() + "\n"), question_columns=[Q1], redact=True,
                        staff_names=["Priya Shah"])
    assert again.forms_skipped == 2 and again.forms_added == 0


def test_read_result_can_be_corrected_before_writing(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", f"ID,Site,{Q1}\n1,Leeds,Long enough answer about breathing\n")
    result = read_forms(path)
    assert store.counts()["forms"] == 0  # reading writes nothing
    report = add_forms(store, result, unit="response", actor="sam")
    assert store.audit_log(1)[0].actor == "sam" and report.event_id == store.audit_log(1)[0].id


# ---------------------------------------------------------------------------------------------- CLI


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thematic", *args], cwd=cwd, capture_output=True, text=True, timeout=300,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"},
    )


def test_cli_ingest_and_failures_leave_the_project_unchanged(tmp_path: Path) -> None:
    assert run("init", "p.db", cwd=tmp_path).returncode == 0
    r = run("ingest", "p.db", str(DEMO), "--unit", "response", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "forms added      60" in r.stdout and "header row 4" in r.stdout
    with Store.open(tmp_path / "p.db") as s:
        counts, before = s.counts(), dump(s)
    (tmp_path / "fake.xlsx").write_bytes(b"\x89PNG not a workbook" * 50)
    write(tmp_path / "dup.csv", "Form ID,Notes\nCMT-2503-001,A different answer to the same form\n")
    failures = [
        (["fake.xlsx"], "not an Excel workbook"),
        (["missing.csv"], "file not found"),
        (["dup.csv", "--question-column", "Notes"], "CMT-2503-001"),
        ([str(DEMO), "--question-column", "Nope"], "no column 'Nope'"),
    ]
    for args, message in failures:
        r = run("ingest", "p.db", *args, cwd=tmp_path)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr.count("\n") == 1 and message in r.stderr and "Traceback" not in r.stderr
    with Store.open(tmp_path / "p.db") as s:
        assert s.counts() == counts and dump(s) == before
    r = run("ingest", "p.db", str(DEMO), cwd=tmp_path)
    assert r.returncode == 0 and "already imported" in r.stdout


def test_demo_project(tmp_path: Path) -> None:
    from thematic.demo import create_demo_project

    path = create_demo_project(tmp_path / "demo.db", unit="response")
    with Store.open(path) as s:
        assert s.counts()["forms"] == 60 and s.get_setting("title", "").startswith("CMT for All")
    with pytest.raises(Exception, match="already exists"):
        create_demo_project(path)


def test_files_without_ids_append_with_distinct_row_ids(store: Store, tmp_path: Path) -> None:
    a = write(tmp_path / "spring.csv", f"Team,{Q1}\nA,The breathing exercise helped me\nB,Group discussion\n")
    b = write(tmp_path / "autumn.csv", f"Team,{Q1}\nC,The three circles model\nD,Group discussion\n")
    ra = ingest_file(store, a, unit="response")
    rb = ingest_file(store, b, unit="response")
    assert (ra.forms_added, rb.forms_added, rb.forms_skipped) == (2, 2, 0)
    ids = [r[0] for r in store.query("SELECT external_id FROM forms ORDER BY id")]
    assert ids == ["row-2", "row-3", "autumn:row-2", "autumn:row-3"]
    assert any("autumn:row-N" in w for w in rb.warnings)


def test_question_columns_named_on_a_file_that_looks_long_read_it_wide(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    """A file with a 'question' column of a few values (which trust asked) and a free-text 'feedback' column: naming
    --question-column feedback means a row per form, not 'every answer is a question'."""
    from thematic.cli import main
    from thematic.store import Store

    src = tmp_path / "nhs.csv"
    rows = ["row_index,feedback,question"] + [f"{i},Comment number {i} about the ward.,Trust A - Q{i % 2 + 1}"
                                              for i in range(30)]
    src.write_text("\n".join(rows) + "\n", encoding="utf-8")
    db = tmp_path / "p.db"
    assert main(["init", str(db)]) == 0
    assert main(["ingest", str(db), str(src), "--id-column", "row_index", "--question-column", "feedback"]) == 0
    out = capsys.readouterr().out
    assert "layout wide" in out and "questions: feedback\n" in out
    with Store.open(db) as s:
        assert s.counts()["questions"] == 1 and s.counts()["forms"] == 30
