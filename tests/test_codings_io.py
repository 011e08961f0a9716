"""Codings spreadsheets: import (CSV/XLSX, header variants, segment by id/text/whole answer), errors, round trip."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import openpyxl
import pytest

from thematic import export
from thematic.cli import main
from thematic.codebook import ensure_path, find_code, list_codes
from thematic.codings_io import export_codings_csv, import_codings
from thematic.coding import apply_code, codings
from thematic.errors import InvalidInput
from thematic.store import Store

from .conftest import dump
from .helpers import SMALL, make_corpus


def _csv(path: Path, rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


def _pairs(store: Store, coder: str) -> set[tuple[int, str]]:
    """(segment, code path) of every coding of ``coder``."""
    paths = {c.id: c.path_str for c in list_codes(store)}
    return {(c.segment_id, paths[c.code_id]) for c in codings(store, coder=coder)}


@pytest.fixture
def proj(store: Store) -> tuple[Store, dict[tuple[str, str, int], int]]:
    ids = make_corpus(store, SMALL)
    ensure_path(store, "Content/Models")
    ensure_path(store, "Environment/Room")
    return store, ids


def test_csv_import_header_variants_and_segment_by_id_text_whole_answer(proj, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, ids = proj
    f = _csv(tmp_path / "a.csv", [
        ["Respondent", "QUESTION", "Segment", "Code_Path"],
        ["F1", "Q1", str(ids[("F1", "Q1", 0)]), "Content/Models"],          # by id
        ["F1", "q2", "too  hot in the room.", "environment/room"],         # by text: spaces, case
        ["F2", "Q1", "Soothing rhythm breathing was calming.", "Content/Breathing"],  # unknown code -> Imported/
        ["F1", "Q1", "The three circles made sense. Loved the breathing.", "Content/Models"],  # whole answer
        ["F3", "Q1", "Hearing the facilitator's lived experience.", ""],   # no code: skipped
        ["", "", "", ""],
    ])
    res = import_codings(store, f, coder="Ann")
    assert res.rows == 4 and res.skipped_blank == 1 and res.whole_answers == 1
    assert res.codes_created == ["Imported/Content/Breathing"]
    assert _pairs(store, "Ann") == {
        (ids[("F1", "Q1", 0)], "Content/Models"),
        (ids[("F1", "Q1", 1)], "Content/Models"),
        (ids[("F1", "Q2", 0)], "Environment/Room"),
        (ids[("F2", "Q1", 0)], "Imported/Content/Breathing"),
    }
    assert res.added == 4 and res.already_present == 0  # F1/Q1/0 twice in the file (by id, in the whole answer)
    assert {c.origin for c in codings(store, coder="Ann")} == {"import"}
    # Importing the same file again adds nothing.
    again = import_codings(store, f, coder="Ann")
    assert again.added == 0 and again.already_present == 4


def test_xlsx_import_with_title_rows_above_the_header(proj, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, ids = proj
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Coding sheet, round 1"])
    ws.append([])
    ws.append(["Form ID", "Question", "Segment text", "Code"])
    ws.append([None, None, None, None])
    ws.append(["F2", "Q2", "Nothing, it was great.", "Environment/Room"])
    path = tmp_path / "b.xlsx"
    wb.save(path)
    res = import_codings(store, path, coder="Bob")
    assert res.added == 1
    assert _pairs(store, "Bob") == {(ids[("F2", "Q2", 0)], "Environment/Room")}


def test_unmatched_rows_are_listed_and_nothing_is_imported(proj, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, ids = proj
    rows: list[list[object]] = [["form id", "question", "segment", "code path"]]
    rows.append(["F1", "Q1", "The three circles made sense.", "Content/Models"])
    rows += [["F1", "Q1", f"not there {i}", "Content/Models"] for i in range(7)]
    rows.append(["F9", "Q1", "x", "Content/Models"])
    rows.append(["F1", "Q9", "x", "Content/Models"])
    before = dump(store)
    with pytest.raises(InvalidInput) as err:
        import_codings(store, _csv(tmp_path / "bad.csv", rows), coder="Ann")
    msg = str(err.value)
    assert msg.startswith("bad.csv: 9 rows match no segment")
    assert "row 3: no segment 'not there 0'" in msg and "and 4 more" in msg and "nothing was imported" in msg
    assert dump(store) == before


def test_refuse_unknown_codes(proj, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, _ = proj
    f = _csv(tmp_path / "u.csv", [["form", "question", "text", "code"], ["F2", "Q2", "Nothing, it was great.", "New/Thing"]])
    before = dump(store)
    with pytest.raises(InvalidInput, match="1 codes are not in the codebook: New/Thing"):
        import_codings(store, f, coder="Ann", unknown_codes="refuse")
    assert dump(store) == before


def test_missing_columns_is_one_clear_error(proj, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, _ = proj
    f = _csv(tmp_path / "h.csv", [["form", "code"], ["F1", "X"]])
    with pytest.raises(InvalidInput, match="no header row"):
        import_codings(store, f, coder="Ann")


def test_import_is_one_undoable_step(proj, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, ids = proj
    before = dump(store)
    f = _csv(tmp_path / "a.csv", [["form id", "question", "segment id", "code path"],
                                  ["F1", "Q1", ids[("F1", "Q1", 0)], "Brand/New"]])
    import_codings(store, f, coder="Ann")
    assert find_code(store, "Imported/Brand/New") is not None
    store.undo()
    assert dump(store) == before


def test_round_trip_export_then_import_as_another_coder(proj, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, ids = proj
    models = ensure_path(store, "Content/Models")
    room = ensure_path(store, "Environment/Room")
    odd = ensure_path(store, "=SUM(A1)")  # a name a spreadsheet would run as a formula
    for key in ids:
        apply_code(store, ids[key], models if key[1] == "Q1" else room, "Ann")
    apply_code(store, ids[("F3", "Q1", 0)], odd, "Ann")
    apply_code(store, ids[("F1", "Q1", 0)], room, "Other")
    data = export.render(store, "codings-csv", coder="Ann")
    assert b"'=SUM(A1)" in data  # formula guard
    path = tmp_path / "ann.csv"
    assert export_codings_csv(store, path, coder="Ann") == len(codings(store, coder="Ann"))
    assert path.read_bytes() == data
    res = import_codings(store, path, coder="Ann copy", unknown_codes="refuse")
    assert res.added == len(codings(store, coder="Ann"))
    assert _pairs(store, "Ann copy") == _pairs(store, "Ann")
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert set(rows[0]) == {"form_id", "question", "segment_id", "segment_text", "code_path", "coder", "origin"}


def test_cli_import_and_export(tmp_path, capsys) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "p.db"
    with Store(path) as s:
        ids = make_corpus(s, SMALL)
        ensure_path(s, "T/X")
    f = _csv(tmp_path / "a.csv", [["form id", "question", "segment", "code path"],
                                  ["F1", "Q1", ids[("F1", "Q1", 1)], "T/X"]])
    assert main(["import-codings", str(path), str(f), "--coder", "A"]) == 0
    assert "imported 1 codings for A" in capsys.readouterr().out
    assert main(["export-codings", str(path), str(tmp_path / "out.csv"), "--coder", "A"]) == 0
    assert "wrote 1 codings" in capsys.readouterr().out
    bad = _csv(tmp_path / "b.csv", [["form id", "question", "segment", "code path"], ["F1", "Q1", "zzz", "T/Y"]])
    assert main(["import-codings", str(path), str(bad), "--coder", "A", "--unknown-codes", "refuse"]) == 2
    assert "row 2: no segment 'zzz'" in capsys.readouterr().err


def test_question_by_number_or_left_out_for_a_single_question(store: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ids = make_corpus(store, [("F1", {}, {"Q1": ["a b", "c"]}), ("F2", {}, {"Q1": ["d"]})], questions=("Q1",))
    f = _csv(tmp_path / "one.csv", [["form", "text", "code"], ["F1", "c", "X"], ["F2", "d", "X"]])
    assert import_codings(store, f, coder="Ann").added == 2
    f2 = _csv(tmp_path / "num.csv", [["form", "question", "text", "code"], ["F1", "1", "a b", "X"]])
    assert import_codings(store, f2, coder="Ann").added == 1
    assert {c.segment_id for c in codings(store, coder="Ann")} == set(ids.values())


def test_question_column_needed_with_several_questions(proj, tmp_path) -> None:  # type: ignore[no-untyped-def]
    store, _ = proj
    f = _csv(tmp_path / "noq.csv", [["form", "text", "code"], ["F1", "Too hot in the room.", "X"]])
    with pytest.raises(InvalidInput, match="add a 'question' column"):
        import_codings(store, f, coder="Ann")


def test_text_spanning_consecutive_segments(store: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    ids = make_corpus(store, [("F1", {}, {"Q1": ["One.", "Two.", "Three."]})], questions=("Q1",))
    f = _csv(tmp_path / "span.csv", [["form", "question", "text", "code"], ["F1", "Q1", "two. three.", "X"],
                                     ["F1", "Q1", "One. Tw0", "Y"]])
    with pytest.raises(InvalidInput, match="row 3: no segment 'One. Tw0'"):
        import_codings(store, f, coder="Ann")
    f = _csv(tmp_path / "span2.csv", [["form", "question", "text", "code"], ["F1", "Q1", "two. three.", "X"]])
    res = import_codings(store, f, coder="Ann")
    assert res.added == 2 and res.whole_answers == 0
    assert {c.segment_id for c in codings(store, coder="Ann")} == {ids[("F1", "Q1", 1)], ids[("F1", "Q1", 2)]}


def test_part_of_a_sentence_is_coded_as_a_highlighted_span(store: Store, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A coder working in Excel pastes the words they coded: text found once in the answer becomes a highlighted
    span at that place; text found twice is refused (which one was meant?); a span's text never matches by text."""
    from thematic.spans import codings_in

    ids = make_corpus(store, [("F1", {}, {"Q1": ["The breathing helped.", "The breathing was long."]})],
                      questions=("Q1",))
    f = _csv(tmp_path / "twice.csv", [["form", "question", "text", "code"], ["F1", "Q1", "the  breathing", "X"]])
    with pytest.raises(InvalidInput, match="row 2: 'the breathing' occurs 2 times"):
        import_codings(store, f, coder="Ann")
    f = _csv(tmp_path / "part.csv", [["form", "question", "text", "code"], ["F1", "Q1", "breathing  helped", "X"],
                                     ["F1", "Q1", "Helped. The", "Y"]])
    res = import_codings(store, f, coder="Ann")
    assert res.added == 2 and res.spans == 2 and "2 rows coded part of a sentence" in res.summary()
    answer_id, answer = store.query_one("SELECT id, text FROM answers")
    paths = {c.id: c.path_str for c in list_codes(store)}
    got = sorted((answer[c.start:c.end], paths[c.code_id]) for c in codings_in(store, [answer_id], coder="Ann"))
    assert got == [("breathing helped", "Imported/X"), ("helped. The", "Imported/Y")]
    assert not ({c.segment_id for c in codings(store, coder="Ann")} & set(ids.values()))  # no sentence coded
    # the span's own text is not matched by text again: the same row codes the same span, nothing more
    res = import_codings(store, _csv(tmp_path / "again.csv", [["form", "question", "text", "code"],
                                                              ["F1", "Q1", "breathing helped", "X"]]), coder="Bob")
    assert res.added == 1 and res.spans == 1
    assert store.scalar("SELECT count(*) FROM segments WHERE by_person = 1") == 2
