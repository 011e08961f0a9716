"""Redaction that leaves nothing behind: metadata columns and the file name are redacted, --drop-column never
stores a column, and purge-history erases a mistaken unredacted import from the file's bytes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from thematic.cli import main
from thematic.ingest import ingest_file
from thematic.ingest.forms import FormRecord
from thematic.ingest.load import write_forms
from thematic.purge import purge_history
from thematic.redact import CATEGORICAL, FREE_TEXT, IDENTIFYING, Redactor, meta_column_kind
from thematic.store import Store

from .conftest import dump

REPO = Path(__file__).resolve().parents[1]
NAMES = ["Okonkwo", "Winterbottom", "Pemberton", "Wrobel", "Qureshi", "Sarah"]
CSV = """Form ID,Respondent name,Facilitator,Profession,What was good?,What could be better?
F1,Jonathan Pemberton-Blake,Sarah Okonkwo,Nurse,Mrs Winterbottom explained the three circles really well.,The room was too hot.
F2,Agnieszka Wrobel,Sarah Okonkwo,Doctor,Loved the soothing rhythm breathing.,More time for practice please.
F3,Imran Qureshi,Dr Sarah Okonkwo,Nurse,Hearing the facilitator's lived experience.,Nothing really.
"""


def _file(tmp_path: Path) -> Path:
    path = tmp_path / "forms_Sarah_Okonkwo.csv"
    path.write_text(CSV, encoding="utf-8")
    return path


def _bytes(db: Path) -> bytes:
    """The raw bytes of the project and its write-ahead log and shared-memory files, as `strings` would see."""
    return b"".join(p.read_bytes() for p in (db, Path(f"{db}-wal"), Path(f"{db}-shm")) if p.exists())


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "thematic", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})


def test_import_unredacted_undo_reimport_redacted_purge_leaves_no_name_in_the_file(tmp_path: Path) -> None:
    src = _file(tmp_path)
    assert _cli("init", "p.db", cwd=tmp_path).returncode == 0
    assert _cli("ingest", "p.db", src.name, cwd=tmp_path).returncode == 0  # the mistake: no --redact
    db = tmp_path / "p.db"
    assert all(n.encode() in _bytes(db) for n in NAMES)
    assert _cli("undo", "p.db", cwd=tmp_path).returncode == 0
    r = _cli("ingest", "p.db", src.name, "--redact", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "Respondent name (identifying)" in r.stdout and "Profession (categorical)" in r.stdout
    assert b"Winterbottom" in _bytes(db)  # the undo data of the first import still holds it
    r = _cli("purge-history", "p.db", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    with Store.open(db) as s:
        s.counts()  # open and read: the file as the app would leave it
        raw = _bytes(db)
        found = [n for n in NAMES if n.encode() in raw or n.encode("utf-16-le") in raw]
        assert found == []
        # what the analysis needs is still there
        assert s.counts()["forms"] == 3 and s.counts()["answers"] == 6
        meta = {(r[0], r[1]) for r in s.query("SELECT field, value FROM form_meta")}
        assert ("Profession", "Nurse") in meta and ("Facilitator", "[NAME]") in meta
        assert ("Respondent name", "[NAME]") in meta
        assert s.query_one("SELECT name FROM sources")[0] == "forms_[NAME].csv"
        assert "Mrs [NAME] explained" in s.scalar("SELECT group_concat(text) FROM answers")
        # the audit trail keeps a line per change, redacted
        summaries = [e.summary for e in s.audit_log()]
        assert summaries[:4] == ["Purged undo history", "Imported 3 forms from forms_[NAME].csv",
                                 "Undo: Imported 3 forms from forms_[NAME].csv", "Imported 3 forms from forms_[NAME].csv"]
        assert s.undoable() is None and s.redoable() is None  # the purged changes can no longer be undone or redone


def test_purge_before_a_date_keeps_later_undo_data(tmp_path: Path) -> None:
    db = tmp_path / "p.db"
    with Store(db) as s:
        s.set_setting("title", "t1")
        s.conn.execute("UPDATE audit SET ts = '2020-01-01T00:00:00+00:00'")
        s.set_setting("title", "t2")
        counts = purge_history(s, before="2021-01-01")
        assert counts["events"] == 1
        assert s.undo().summary == "Set title"
        assert s.get_setting("title") == "t1"
        with pytest.raises(Exception, match="nothing to undo"):
            s.undo()


def test_purge_history_refuses_a_bad_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "p.db"
    with Store(db) as s:
        s.set_setting("title", "t")
    before = db.read_bytes()
    assert main(["purge-history", str(db), "--before", "last week"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a date" in err
    assert db.read_bytes() == before


def test_drop_column_never_stores_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "p.db"
    assert main(["init", str(db)]) == 0
    src = _file(tmp_path)
    assert main(["ingest", str(db), str(src), "--drop-column", "Respondent name", "--drop-column", "Facilitator"]) == 0
    assert "columns not stored: Respondent name, Facilitator" in capsys.readouterr().out
    with Store.open(db) as s:
        assert {r[0] for r in s.query("SELECT DISTINCT field FROM form_meta")} == {"Profession"}
        s.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw = _bytes(db)
    assert b"Pemberton" not in raw and b"Qureshi" not in raw and b"Wrobel" not in raw


def test_drop_column_that_does_not_exist_is_one_line_and_changes_nothing(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "p.db"
    assert main(["init", str(db)]) == 0
    with Store.open(db) as s:
        before = dump(s)
    assert main(["ingest", str(db), str(_file(tmp_path)), "--drop-column", "Shoe size"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Shoe size" in err
    with Store.open(db) as s:
        assert dump(s) == before


def test_a_dropped_question_column_is_not_stored(tmp_path: Path) -> None:
    with Store(tmp_path / "p.db") as s:
        report = ingest_file(s, _file(tmp_path), drop_columns=["What could be better?"], unit="response")
        assert report.answers == 3
        assert [r[0] for r in s.query("SELECT key FROM questions")] == ["What was good?"]


@pytest.mark.parametrize(
    ("field", "values", "kind"),
    [
        ("Respondent name", ["Jo Bloggs", "Al Smith"], IDENTIFYING),
        ("Facilitator", ["Sarah Okonkwo"] * 20, IDENTIFYING),  # few distinct values, still names
        ("Trainer", ["A", "B"], IDENTIFYING),
        ("Email", ["a@b.nhs.uk"], IDENTIFYING),
        ("Completed by", ["Jo"], IDENTIFYING),
        ("Respondent type", ["Patient", "Carer"], CATEGORICAL),
        ("Patient group", ["Adult", "Child"], CATEGORICAL),
        ("Profession", ["Nurse", "Doctor", "Nurse"], CATEGORICAL),
        ("Date", ["2024-01-02", "2024-01-03"], CATEGORICAL),
        ("Are you a patient?", ["Yes", "No", "Yes"], CATEGORICAL),
        ("Patient", ["Yes", "No"], CATEGORICAL),
        ("Patient", ["Mary Jones", "Ali Khan"], IDENTIFYING),
        ("What is your name?", ["Mary"], IDENTIFYING),
        ("Other comments", ["Dr Khan was lovely and the whole team made me welcome",
                            "I would like more sessions on the breathing please"], FREE_TEXT),
    ],
)
def test_metadata_column_kinds(field: str, values: list[str], kind: str) -> None:
    assert meta_column_kind(field, values) == kind


def test_file_names_lose_their_names() -> None:
    r = Redactor(["Jane Smith"])
    assert r.redact_file_name("forms_Sarah_Okonkwo.csv") == ("forms_[NAME].csv", 1)
    assert r.redact_file_name("feedback-jane-smith-2024.xlsx") == ("feedback-[NAME]-2024.xlsx", 1)
    assert r.redact_file_name("cohort_3_2024.csv") == ("cohort_3_2024.csv", 0)


def test_forms_numbered_by_row_take_the_redacted_file_name(tmp_path: Path) -> None:
    with Store(tmp_path / "p.db") as s:
        ingest_file(s, _file(tmp_path), id_column="", redact=True, unit="response")
        other = tmp_path / "sub"
        other.mkdir()
        (other / "forms_Sarah_Okonkwo.csv").write_text(CSV.replace("room", "hall"), encoding="utf-8")
        ingest_file(s, other / "forms_Sarah_Okonkwo.csv", id_column="", redact=True, unit="response")
        ids = [r[0] for r in s.query("SELECT external_id FROM forms")]
        assert len(ids) == 6 and not any("Okonkwo" in i or "Sarah" in i for i in ids)
        assert any(i.startswith("forms_[NAME]") for i in ids)


def test_project_is_synchronous_full(tmp_path: Path) -> None:
    with Store(tmp_path / "p.db") as s:
        assert s.scalar("PRAGMA synchronous") == 2  # FULL: a committed change survives a power cut


def test_write_forms_is_the_public_writer_and_undo_removes_exactly(store: Store) -> None:
    before = dump(store)
    forms = [FormRecord("R1", 2, {"Q": ("One. Two.", 2)}, {"Site": "North"}),
             FormRecord("R2", 3, {"Q": ("Three.", 3), "Q2": ("Four.", 3)}, {})]
    with store.action("refi.import", "Imported a REFI project") as act:
        written = write_forms(act, forms, [(4, 9), (6,), (5,)], questions=["Q"])
    assert (written.forms, written.answers, written.segments, written.questions_added) == (2, 3, 4, 2)
    assert [r[0] for r in store.query("SELECT text FROM segments ORDER BY id")] == ["One.", " Two.", "Three.", "Four."]
    store.undo()
    assert dump(store) == before


def test_purge_drops_cached_vectors_of_text_the_project_no_longer_holds(tmp_path: Path) -> None:
    """A vector (and its SHA-256 key) identifies its text: after an unredacted import is undone and the forms are
    imported again redacted, purge-history leaves no vector of the unredacted text in the file."""
    from thematic.embed import HashingEmbedder, embed_segments, text_hash

    db = tmp_path / "p.db"
    src = _file(tmp_path)
    with Store(db) as s:
        ingest_file(s, src)  # the mistake: no redaction
        unredacted = [str(r[0]) for r in s.query("SELECT text FROM segments")]
        embed_segments(s, embedder=HashingEmbedder())
        assert any("Winterbottom" in t for t in unredacted)
        s.undo()
        ingest_file(s, src, redact=True)
        embed_segments(s, embedder=HashingEmbedder())
        current = {str(r[0]) for r in s.query("SELECT text FROM segments")}
    assert main(["purge-history", str(db)]) == 0
    with Store.open(db) as s:
        cached = {str(r[0]) for r in s.query("SELECT text_hash FROM embeddings")}
    gone = {text_hash(t) for t in unredacted if t not in current}
    assert gone and not (gone & cached)  # the text that was redacted away has no vector left
    assert cached == {text_hash(t) for t in current}  # what the project holds keeps its vectors
