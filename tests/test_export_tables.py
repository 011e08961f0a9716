"""Excel workbook and CSV of coded extracts: sheets, headers, counts, formula neutralisation."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator

import pytest

from tests.test_export_tree import CMT, add_corpus, build_project
from thematic import export
from thematic.codebook import list_codes
from thematic.coding import code_counts, code_counts_by_group
from thematic.export.safety import cell
from thematic.store import Store


@pytest.fixture(scope="module")
def proj() -> Iterator[Store]:
    s = Store(":memory:")
    build_project(s, codebook=CMT, n_forms=30)
    yield s
    s.close()


def test_cell_neutralises_formulas() -> None:
    for bad in ("=1+1", "+44 20", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert cell(bad) == "'" + bad
    assert cell("fine = ok") == "fine = ok" and cell(3) == 3 and cell(None) is None


def test_workbook_sheets_headers_and_counts(proj: Store) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(export.render(proj, "xlsx")))
    assert wb.sheetnames == ["About", "Codebook", "Coded extracts", "Theme x question", "Theme x metadata"]
    for ws in wb:
        assert ws.freeze_panes == "A2"
        assert ws.cell(1, 1).font.b
    cb = wb["Codebook"]
    assert [c.value for c in cb[1]] == ["Theme", "Subtheme", "Code", "Definition", "Includes", "Excludes",
                                        "Segments", "Respondents"]
    assert cb.max_row == 1 + 16
    assert cb.column_dimensions["D"].width >= 50 and cb.cell(2, 4).alignment.wrap_text
    totals = code_counts(proj)
    by_path = {c.path: c.id for c in list_codes(proj)}
    for row in cb.iter_rows(min_row=2, values_only=True):
        path = tuple(x for x in row[:3] if x)
        assert (row[6], row[7]) == totals[by_path[path]]
    ex = wb["Coded extracts"]
    head = [c.value for c in ex[1]]
    assert head[:7] == ["form id", "question", "segment", "segment text", "codes", "coder", "origin"]
    assert {"gender", "profession"} <= set(head)
    n_rows = proj.scalar("SELECT count(*) FROM (SELECT DISTINCT segment_id, coder_id FROM codings)")
    assert ex.max_row == 1 + n_rows
    texts = [r[3] for r in ex.iter_rows(min_row=2, values_only=True)]
    assert any(t.startswith("'=SUM(A1:A2)") for t in texts)  # shown as text, never a formula
    assert not any(str(t).startswith("=") for t in texts)
    qx = wb["Theme x question"]
    by_q = code_counts_by_group(proj, "question")
    first = list(qx.iter_rows(min_row=2, max_row=2, values_only=True))[0]
    cid = by_path[(first[0],)]
    assert first[3] == by_q[cid].get("interested", (0, 0))[1] and first[-1] == totals[cid][1]
    mx = [r for r in wb["Theme x metadata"].iter_rows(values_only=True)]
    titles = [r[0] for r in mx if r and r[0] and str(r[0]).endswith("(respondents (forms))")]
    assert titles == ["gender (respondents (forms))", "profession (respondents (forms))"]


def test_segments_mode_and_about_sheet(proj: Store) -> None:
    import openpyxl

    wb = openpyxl.load_workbook(io.BytesIO(export.render(proj, "xlsx", counts="segments")))
    about = {r[0]: r[1] for r in wb["About"].iter_rows(min_row=2, values_only=True)}
    assert about["Project"].startswith("Compassionate") and about["Forms"] == 30
    assert "coded segments" in about["Counts are"]
    qx = list(wb["Theme x question"].iter_rows(min_row=2, max_row=2, values_only=True))[0]
    cid = {c.path: c.id for c in list_codes(proj)}[(qx[0],)]
    assert qx[-1] == code_counts(proj)[cid][0]


def test_csv_has_bom_and_opens_as_the_same_rows(proj: Store) -> None:
    data = export.render(proj, "csv")
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][:5] == ["form id", "question", "segment", "segment text", "codes"]
    assert any(r[3].startswith("'=SUM") for r in rows[1:])
    assert all("/" in r[4] for r in rows[1:])  # code paths
    alice = list(csv.reader(io.StringIO(export.render(proj, "csv", coder="alice").decode("utf-8-sig"))))
    assert 1 < len(alice) < len(rows) and {r[5] for r in alice[1:]} == {"alice"}


def test_large_project_streams(store: Store) -> None:
    """Write-only mode: a thousand coded segments export completely."""
    import openpyxl

    segs = add_corpus(store, 1000)
    from thematic.codebook import add_code
    from thematic.coding import apply_code_many

    cid = add_code(store, "Everything")
    apply_code_many(store, segs, cid, "alice")
    data = export.render(store, "xlsx")
    wb = openpyxl.load_workbook(io.BytesIO(data), read_only=True)
    assert sum(1 for _ in wb["Coded extracts"].iter_rows(values_only=True)) == 1 + len(segs)


def test_control_characters_never_break_an_export(store: Store) -> None:
    """Text pasted from other programs can carry control characters that XLSX, DOCX and SVG (XML) forbid."""
    import docx
    import openpyxl
    from lxml import etree

    from thematic.codebook import add_code
    from thematic.coding import apply_code

    segs = add_corpus(store, 2)
    with store.action("test.edit", "Put a control character in an answer") as act:
        act.execute("UPDATE answers SET text = 'Bell\x07 and tab\x0b' WHERE id = 1")
        act.execute("UPDATE segments SET start = 0, \"end\" = 15, text = 'Bell\x07 and tab\x0b' WHERE id = ?",
                    (segs[0],))
    store.set_setting("title", "Study\x01 one")
    apply_code(store, segs[0], add_code(store, "Theme"), "alice")
    wb = openpyxl.load_workbook(io.BytesIO(export.render(store, "xlsx")))
    assert list(wb["Coded extracts"].iter_rows(min_row=2, values_only=True))[0][3] == "Bell\ufffd and tab\ufffd"
    assert "Bell" in export.render(store, "csv").decode("utf-8-sig")
    docx.Document(io.BytesIO(export.render(store, "docx")))
    root = etree.fromstring(export.render(store, "svg"))
    assert root.findtext("{http://www.w3.org/2000/svg}title") == "Study one"
    etree.fromstring(zipfile.ZipFile(io.BytesIO(export.render(store, "qdpx"))).read("project.qde"))


def test_depth_three_adds_code_rows_to_the_count_sheets(store: Store) -> None:
    import openpyxl

    build_project(store, themes=2, subthemes=2, n_forms=6, codes_per_sub=2)
    for depth, rows in ((2, 2 + 2), (3, 2 + 2 + 4)):
        wb = openpyxl.load_workbook(io.BytesIO(export.render(store, "xlsx", depth=depth)))
        assert wb["Theme x question"].max_row == 1 + rows
        assert wb["Codebook"].max_row == 1 + 8  # the codebook sheet always lists every code


def test_metadata_sheet_has_a_missing_column_so_each_row_adds_up(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Forms with no value for a field (an empty cell) are counted in a "(missing)" column, not dropped."""
    import openpyxl

    from thematic.codebook import add_code
    from thematic.coding import apply_code_many

    from .helpers import forms_missing_profession

    with Store(":memory:") as s:
        forms_missing_profession(tmp_path, s)
        code = add_code(s, "Liked")
        apply_code_many(s, [int(r[0]) for r in s.query("SELECT id FROM segments")], code, "alice")
        wb = openpyxl.load_workbook(io.BytesIO(export.render(s, "xlsx")))
    rows = list(wb["Theme x metadata"].iter_rows(values_only=True))
    head = [r for r in rows if r and r[0] == "Theme"][1]  # the first is the sheet's own header
    groups = [h for h in head[3:] if h]
    assert groups == ["Nurse (n=2)", "Doctor (n=1)", "(missing) (n=2)"]
    liked = next(r for r in rows if r and r[0] == "Liked")
    assert list(liked[3:6]) == [2, 1, 2]  # respondents per group: 5 in all, as the codebook sheet says


def test_a_highlighted_span_is_listed_in_reading_order_by_where_it_is() -> None:
    from thematic.codebook import add_code
    from thematic.coding import apply_code
    from thematic.spans import code_span

    from .helpers import make_corpus

    with Store(":memory:") as s:
        ids = make_corpus(s, [("F1", {}, {"Q1": ["The breathing helped.", "The room was cold."]})], questions=("Q1",))
        x = add_code(s, "X")
        apply_code(s, ids[("F1", "Q1", 1)], x, "ann")
        answer_id = int(s.scalar("SELECT id FROM answers"))
        code_span(s, answer_id, 4, 13, "ann", code_id=x)  # "breathing"
        rows = list(csv.reader(io.StringIO(export.render(s, "csv").decode("utf-8-sig"))))
    assert [(r[2], r[3]) for r in rows[1:]] == [("characters 5-13", "breathing"), ("2", "The room was cold.")]
