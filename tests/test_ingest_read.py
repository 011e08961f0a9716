"""Reading files into forms (nothing written): formats, encodings, headers, layouts, guesses, bad inputs."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from datetime import datetime
from pathlib import Path

import openpyxl
import pytest

from thematic.errors import Conflict, InvalidInput
from thematic.ingest import Mapping, read_forms, sniff
from thematic.ingest.layout import is_blank

DATA = Path(__file__).resolve().parent / "data"
DEMO = Path(__file__).resolve().parents[1] / "thematic" / "data" / "cmt_workshop_evaluations.xlsx"
Q1 = "What was most helpful?"
Q2 = "What was unhelpful?"


def write_csv(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def answers(result, question: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [f.answers[question][0] for f in result.forms if question in f.answers]


# ---------------------------------------------------------------------------------------------- CSV text


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
def test_encodings_keep_pound_and_smart_quotes(tmp_path: Path, encoding: str) -> None:
    text = f"ID,Profession,{Q1}\r\n1,Nurse,“The breathing” – worth £10 of anyone’s time\r\n2,Admin,Café chat\r\n"
    r = read_forms(write_csv(tmp_path / "f.csv", text, encoding))
    assert answers(r, Q1) == ["“The breathing” – worth £10 of anyone’s time", "Café chat"]
    assert r.mapping.question_columns == (Q1,)  # the BOM is not part of the first header
    assert r.mapping.id_column == "ID"
    assert r.encoding == {"cp1252": "cp1252", "utf-16": "utf-16"}.get(encoding, "utf-8-sig")


@pytest.mark.parametrize("delim", [",", ";", "\t"])
def test_delimiters(tmp_path: Path, delim: str) -> None:
    rows = [["Form", "Gender", Q1, Q2], ["A1", "F", "The circles, and the breathing; both", "Nothing"],
            ["A2", "M", "Group work", "Room too hot, honestly"]]
    text = "\n".join(delim.join(f'"{c}"' if ("," in c or ";" in c) else c for c in row) for row in rows) + "\n"
    r = read_forms(write_csv(tmp_path / "f.csv", text))
    assert r.delimiter == delim
    assert answers(r, Q1) == ["The circles, and the breathing; both", "Group work"]
    assert [f.meta for f in r.forms] == [{"Gender": "F"}, {"Gender": "M"}]


def test_text_kept_exactly_but_crlf_in_cells_becomes_lf(tmp_path: Path) -> None:
    text = f'ID,{Q1}\r\n1,"  Line one\r\nline two 😊  "\r\n2,None\r\n3,Nothing\r\n4,N/A\r\n5,"   "\r\n6,-\r\n'
    r = read_forms(write_csv(tmp_path / "f.csv", text), question_columns=[Q1])
    assert answers(r, Q1) == ["  Line one\nline two 😊  ", "None", "Nothing"]
    assert r.blanks == 3 and r.empty_forms == 3 and len(r.forms) == 6


def test_blank_tokens() -> None:
    for blank in (None, "", "  ", "N/A", "n/a", "NA", "na", "-", "—", " n/a "):
        assert is_blank(blank), blank
    for answer in ("None", "Nothing", "none", "No", "0", "Nil"):
        assert not is_blank(answer), answer


def test_header_not_in_row_one_and_trailing_blanks(tmp_path: Path) -> None:
    text = (
        "CMT evaluation forms 2025,,,,\n,,,,\n"
        f"Ref,Workshop date,Profession,{Q1},{Q2},,\n"
        "R1,14/03/2025,Nurse,The three circles of threat drive and soothe,Nothing,,\n"
        "R2,25/04/2025,Doctor,Soothing rhythm breathing helped me slow down,Too much content,,\n"
        ",,,,,,\n,,,,\n"
    )
    r = read_forms(write_csv(tmp_path / "f.csv", text))
    assert r.mapping.header_row == 3 and r.mapping.id_column == "Ref"
    assert r.mapping.question_columns == (Q1, Q2)
    assert [f.external_id for f in r.forms] == ["R1", "R2"] and [f.row for f in r.forms] == [4, 5]
    assert r.forms[0].meta == {"Workshop date": "2025-03-14", "Profession": "Nurse"}


def test_no_id_column_uses_row_numbers_and_warns(tmp_path: Path) -> None:
    text = f"Team,{Q1}\nA,The breathing exercise was calming\nB,The group discussion about self-criticism\n"
    r = read_forms(write_csv(tmp_path / "f.csv", text))
    assert [f.external_id for f in r.forms] == ["row-2", "row-3"]
    assert any("row-17" in w for w in r.warnings)


def test_two_row_header_in_csv(tmp_path: Path) -> None:
    text = (
        ",,Morning,,Afternoon,\n"
        "ID,Gender,Comments,Rating,Comments,Rating\n"
        "1,F,Lovely intro to the three circles,5,Too long after lunch,3\n"
        "2,M,Breathing,4,Group work was good,4\n"
    )
    path = write_csv(tmp_path / "f.csv", text)
    p = sniff(path)
    assert p.header_rows == (1, 2)
    assert [c.name for c in p.columns] == [
        "ID", "Gender", "Morning / Comments", "Morning / Rating", "Afternoon / Comments", "Afternoon / Rating",
    ]
    # the preview's mapping (header row 2, the last header row) reads the same columns back
    r = read_forms(path, p.mapping)
    assert r.mapping.question_columns == ("Morning / Comments", "Afternoon / Comments")
    assert r.forms[0].answers["Afternoon / Comments"][0] == "Too long after lunch"


def test_duplicate_id_with_different_answers_names_both_rows(tmp_path: Path) -> None:
    text = f"ID,{Q1}\nF1,The breathing\nF2,Circles\nF1,Something else\n"
    with pytest.raises(Conflict, match=r"'F1'.*rows 2 and 4"):
        read_forms(write_csv(tmp_path / "f.csv", text), question_columns=[Q1])
    text = f"ID,{Q1}\nF1,The breathing\nF2,Circles\nF1,The breathing\n"
    r = read_forms(write_csv(tmp_path / "g.csv", text), question_columns=[Q1])
    assert len(r.forms) == 2 and r.duplicates == 1


def test_long_layout(tmp_path: Path) -> None:
    text = (
        "Respondent,Question,Answer,Profession\n"
        f"P1,{Q1},The compassionate self exercise and the group,Nurse\n"
        f"P1,{Q2},Nothing,Nurse\n"
        f"P2,{Q1},Soothing rhythm breathing for sure,Physio\n"
        f"P2,{Q2},N/A,Physio\n"
        f"P3,{Q1},The lived experience facilitator's story,OT\n"
    )
    r = read_forms(write_csv(tmp_path / "f.csv", text))
    m = r.mapping
    assert (m.layout, m.id_column, m.question_columns, m.answer_column) == ("long", "Respondent", ("Question",), "Answer")
    assert r.questions == [Q1, Q2]
    assert [(f.external_id, sorted(f.answers), f.meta) for f in r.forms] == [
        ("P1", [Q1, Q2], {"Profession": "Nurse"}),
        ("P2", [Q1], {"Profession": "Physio"}),
        ("P3", [Q1], {"Profession": "OT"}),
    ]
    assert r.blanks == 1 and r.forms[0].answers[Q2] == ("Nothing", 3)
    bad = text + f"P1,{Q1},A different answer,Nurse\n"
    with pytest.raises(Conflict, match=r"'P1'.*rows 2 and 7"):
        read_forms(write_csv(tmp_path / "g.csv", bad))


def test_overrides_and_unknown_columns(tmp_path: Path) -> None:
    text = f"ID,Site,{Q1},{Q2}\n1,Leeds,Long enough free text answer here,Other long free text answer\n"
    path = write_csv(tmp_path / "f.csv", text)
    r = read_forms(path, question_columns=[Q1], meta_columns=["Site", Q2])
    assert r.mapping.question_columns == (Q1,) and r.forms[0].meta["Site"] == "Leeds"
    r = read_forms(path, Mapping(layout="wide", id_column=None, question_columns=(Q2,), meta_columns=()))
    assert r.forms[0].external_id == "row-2" and list(r.forms[0].answers) == [Q2]
    with pytest.raises(InvalidInput, match="no column 'Nope'"):
        read_forms(path, question_columns=["Nope"])
    with pytest.raises(InvalidInput, match="no sheets"):
        read_forms(path, sheet="Sheet1")


def test_nhs_sample_reads_every_answer_byte_for_byte() -> None:
    import csv

    path = DATA / "nhs_sample.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    r = read_forms(path)
    assert r.mapping.layout == "long" and r.mapping.id_column == "row_index"
    got = {(f.external_id, q): t for f in r.forms for q, (t, _row) in f.answers.items()}
    want = {(x["row_index"], x["question"]): x["feedback"].replace("\r\n", "\n") for x in rows if not is_blank(x["feedback"])}
    assert got == want
    assert r.forms[0].meta["organization"].startswith("Trust")


# ---------------------------------------------------------------------------------------------- XLSX


def test_demo_workbook_title_rows_dates_and_roles() -> None:
    p = sniff(DEMO)
    assert p.kind == "xlsx" and p.sheet == "Evaluations" and p.header_row == 4
    m = p.mapping
    assert m.id_column == "Form ID" and set(m.meta_columns) == {"Workshop date", "Profession", "Gender"}
    assert len(m.question_columns) == 5 and m.question_columns[0].startswith("Today, what interested me")
    r = read_forms(DEMO)
    assert len(r.forms) == 60 and r.empty_forms == 1
    assert {f.meta["Workshop date"] for f in r.forms} == {"2025-03-14", "2025-04-25", "2025-05-23", "2025-06-20"}
    texts = [t for f in r.forms for t, _ in f.answers.values()]
    assert any("£" in t for t in texts) and any("\n" in t for t in texts) and any("😊" in t for t in texts)
    assert "  Room 4 was much better than the last venue.  " in texts


def make_xlsx(path: Path, rows: list[list[object]], merges: tuple[str, ...] = (), sheet: str = "Data",
              first_sheet_empty: bool = False) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    if first_sheet_empty:
        ws.title = "Notes"
        ws = wb.create_sheet(sheet)
    else:
        ws.title = sheet
    for row in rows:
        ws.append(row)
    for m in merges:
        ws.merge_cells(m)
    wb.save(path)
    return path


def test_xlsx_merged_two_row_header_numbers_and_sheet_choice(tmp_path: Path) -> None:
    rows: list[list[object]] = [
        ["Form ID", "Date", "Questions", None, None],
        [None, None, Q1, Q2, "Any other comments?"],
        [12.0, datetime(2025, 3, 14), "The breathing practice in pairs", None, "Thanks"],
        [13, datetime(2025, 3, 14, 13, 30), "Three circles", "Too hot", None],
        [None, None, None, None, None],
    ]
    path = make_xlsx(tmp_path / "f.xlsx", rows, merges=("C1:E1", "A1:A2", "B1:B2"), first_sheet_empty=True)
    p = sniff(path)
    assert p.sheets == ["Notes", "Data"] and p.sheet == "Data" and p.header_rows == (1, 2)
    assert [c.name for c in p.columns] == ["Form ID", "Date", Q1, Q2, "Any other comments?"]
    r = read_forms(path, question_columns=[Q1, Q2, "Any other comments?"])
    assert read_forms(path, p.mapping).mapping.question_columns == r.mapping.question_columns
    assert [f.external_id for f in r.forms] == ["12", "13"]  # 12.0 is "12"
    assert [f.meta["Date"] for f in r.forms] == ["2025-03-14", "2025-03-14 13:30"]
    with pytest.raises(InvalidInput, match="no sheet 'Other'"):
        sniff(path, sheet="Other")


def test_merged_header_spanning_columns_gets_unique_names(tmp_path: Path) -> None:
    rows: list[list[object]] = [["ID", "Comments", None], [1, "Breathing was the best part of it", "Room too hot today"]]
    p = sniff(make_xlsx(tmp_path / "f.xlsx", rows, merges=("B1:C1",)))
    assert [c.name for c in p.columns] == ["ID", "Comments", "Comments (2)"]


def test_file_object_with_name(tmp_path: Path) -> None:
    buf = io.BytesIO(DEMO.read_bytes())
    buf.name = "upload.xlsx"
    r = read_forms(buf)
    assert r.name == "upload.xlsx" and len(r.forms) == 60
    assert r.sha256 == read_forms(DEMO).sha256


# ---------------------------------------------------------------------------------------------- bad inputs


def test_bad_inputs_each_give_one_clear_line(tmp_path: Path) -> None:
    cases = {
        "missing": (tmp_path / "nope.csv", "file not found"),
        "empty": (write_csv(tmp_path / "empty.csv", ""), "empty"),
        "binary xlsx": (tmp_path / "fake.xlsx", "not an Excel workbook"),
        "header only": (write_csv(tmp_path / "h.csv", f"ID,{Q1}\n"), "no forms"),
        "binary csv": (tmp_path / "bin.csv", "binary file"),
        "no free text": (write_csv(tmp_path / "n.csv", "ID,Gender\n1,F\n2,M\n"), "no free-text column"),
        "old xls": (tmp_path / "old.xls", ".xls"),
        "zip not workbook": (tmp_path / "z.xlsx", "not an Excel workbook"),
    }
    (tmp_path / "fake.xlsx").write_bytes(bytes(range(256)) * 20)
    (tmp_path / "bin.csv").write_bytes(b"\x00\x01\x02abc" * 100)
    (tmp_path / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500)
    with zipfile.ZipFile(tmp_path / "z.xlsx", "w") as zf:
        zf.writestr("hello.txt", "hi")
    for what, (path, message) in cases.items():
        with pytest.raises(InvalidInput) as exc:
            read_forms(path)
        assert message in str(exc.value), what
        assert "\n" not in str(exc.value)


def test_zip_bomb_is_refused_quickly(tmp_path: Path) -> None:
    path = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
            block = b"<row/>" * 100_000
            for _ in range(400):  # 240 MB of XML, a few hundred KB compressed
                part.write(block)
    assert path.stat().st_size < 5_000_000
    tracemalloc.start()
    try:
        with pytest.raises(InvalidInput, match="refused"):
            sniff(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 20_000_000  # refused from the zip directory, before inflating the 240 MB part


def test_big_csv_streams(tmp_path: Path) -> None:
    """A 30 MB CSV: read while streaming (the raw text is never held whole)."""
    path = tmp_path / "big.csv"
    line = "Lovely staff, “kind” and helpful – £0 parking, café open. The breathing exercise was good too.\n"
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write(f"ID,Team,{Q1}\n")
        i = 0
        while fh.tell() < 30 * 1024 * 1024:
            i += 1
            fh.write(f"F{i},T{i % 7},{line.replace(',', ';')[:-1]} {i}\n")
    r = read_forms(path)
    assert len(r.forms) == i and r.answers == i
    assert r.forms[-1].answers[Q1][0].endswith(f" {i}") and r.forms[-1].meta == {"Team": f"T{i % 7}"}


def test_columns_left_out_are_reported_not_dropped_silently(tmp_path: Path) -> None:
    text = f"ID,Site,{Q1}\n1,Leeds,The breathing exercise\n2,York,Circles,a stray cell\n"
    r = read_forms(write_csv(tmp_path / "f.csv", text), question_columns=[Q1], meta_columns=[])
    assert "column 'Site' was not imported (2 non-empty cells)" in r.warnings
    assert "column 'Column D' was not imported (1 non-empty cells)" in r.warnings


def test_metadata_merged_down_over_rows_is_given_to_each_row(tmp_path: Path) -> None:
    rows: list[list[object]] = [
        ["ID", "Workshop date", Q1],
        ["A1", datetime(2025, 3, 14), "The breathing exercise in pairs"],
        ["A2", None, "The group discussion about self-criticism"],
        ["A3", datetime(2025, 4, 25), "Long answer merged down"],
        ["A4", None, None],
    ]
    path = make_xlsx(tmp_path / "f.xlsx", rows, merges=("B2:B3", "C4:C5", "B4:B9"))
    r = read_forms(path, question_columns=[Q1])
    # B4:B9 runs past the last form: the blank rows below stay blank (no forms made of a merged cell alone)
    assert [f.meta.get("Workshop date") for f in r.forms] == ["2025-03-14", "2025-03-14", "2025-04-25", "2025-04-25"]
    assert [len(f.answers) for f in r.forms] == [1, 1, 1, 0]  # a merged answer is not copied


def test_damaged_sheet_names_the_row(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xlsx"
    with zipfile.ZipFile(DEMO) as zin, zipfile.ZipFile(broken, "w") as zout:
        for info in zin.infolist():
            data = zin.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2] + b"<<<garbage" + data[len(data) // 2 :]
            zout.writestr(info, data)
    with pytest.raises(InvalidInput, match=r"broken\.xlsx, row \d+: cannot read sheet 'Evaluations'"):
        read_forms(broken)


def test_a_mostly_utf8_file_is_refused_not_read_as_cp1252_and_encoding_overrides(tmp_path: Path) -> None:
    good = f"ID,{Q1}\n1,I’m glad I came\n2,Café chat\n".encode("utf-8")
    path = tmp_path / "f.csv"
    path.write_bytes(good + b"3,caf\xe9\n")
    with pytest.raises(InvalidInput, match=r"byte 0xE9 at offset \d+ \(row 4\)"):
        read_forms(path)
    r = read_forms(path, encoding="cp1252")  # the analyst's explicit choice is honoured
    assert r.encoding == "cp1252" and answers(r, Q1)[0] == "I’m glad I came".encode("utf-8").decode("cp1252")
    only_cp1252 = tmp_path / "g.csv"
    only_cp1252.write_bytes(f"ID,{Q1}\n1,I’m glad\n2,café\n".encode("cp1252"))
    assert answers(read_forms(only_cp1252), Q1) == ["I’m glad", "café"]
    with pytest.raises(InvalidInput, match="not utf-8 text: byte 0x92 at offset"):
        read_forms(only_cp1252, encoding="utf-8")


def test_a_cell_over_the_length_limit_is_refused_with_row_and_column(tmp_path: Path) -> None:
    from thematic.limits import MAX_CELL_LENGTH

    path = write_csv(tmp_path / "f.csv", f"ID,Profession,{Q1}\n1,Nurse,fine\n2,{'N' * (MAX_CELL_LENGTH + 1)},ok\n")
    with pytest.raises(InvalidInput, match=rf"f.csv, row 3, column 'Profession': the cell holds {MAX_CELL_LENGTH + 1:,} "):
        read_forms(path, question_columns=[Q1])
    write_csv(tmp_path / "g.csv", f"ID,Profession,{Q1}\n1,Nurse,{'y' * MAX_CELL_LENGTH}\n")
    assert len(answers(read_forms(tmp_path / "g.csv", question_columns=[Q1]), Q1)[0]) == MAX_CELL_LENGTH


def test_a_nul_character_in_a_utf16_file_is_refused_with_its_row(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "f.csv", f"ID,{Q1}\n1,fine answer\n2,bad\x00answer\n", "utf-16")
    with pytest.raises(InvalidInput, match=r"f.csv, row 3: a NUL character in a cell"):
        read_forms(path)
