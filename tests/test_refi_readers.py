"""REFI-QDA as other tools read it: a project with two coders, four kinds of memo, a form without answers and text
with emoji, a ZWJ sequence, combining accents and CJK goes out in either offset unit, through an independent reader
(pyrefiqda, generated from the schema), and back into thematic with the same coders, dates, offsets and memos."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import pytest
from lxml import etree

from tests.conftest import SHARED, dump
from thematic import export
from thematic.cli import main
from thematic.codebook import add_code, find_code, list_codes
from thematic.coding import apply_code
from thematic.errors import InvalidInput
from thematic.ingest import ingest_file
from thematic.memos import add_memo, memos
from thematic.refi import import_qdpx, read_qdc
from thematic.refi._common import portable_name
from thematic.store import Store

REFI = SHARED / "refi-qda"
NS = "{urn:QDA-XML:project:1.0}"
STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
TEXTS = {
    "R1": ("The nurse 👩\u200d⚕\ufe0f was kind. Waiting was long 😀.", "Café staff were naïve."),
    "R2": ("Combining: e\u0301 and n\u0303 matter. 看护很好。", "Thank you 🙏🏽 all."),
    "R3": ("", ""),  # a respondent who left both questions blank: a form with metadata and no answers
}


def _study(tmp_path: Path) -> Store:
    path = tmp_path / "forms.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["ID", "Ward", "What mattered most?", "Anything else?"])
        for ext, (a, b) in TEXTS.items():
            w.writerow([ext, "A&E" if ext == "R1" else "Maternity", a, b])
    s = Store(":memory:")
    s.set_setting("title", "Ward feedback")
    ingest_file(s, path, id_column="ID", question_columns=["What mattered most?", "Anything else?"],
                meta_columns=["Ward"], unit="sentence")
    seg = {r["text"].split()[0]: r["id"] for r in s.query("SELECT id, text FROM segments")}
    kind, wait = add_code(s, "Kindness"), add_code(s, "Waiting")
    thanks = add_code(s, "Thanks", parent_id=kind)
    for coder, segment, code in (("alice", "The", kind), ("alice", "Waiting", wait), ("bob", "The", kind),
                                 ("bob", "看护很好。", kind), ("alice", "Thank", thanks), ("bob", "Combining:", wait)):
        apply_code(s, seg[segment], code, coder)
    add_memo(s, "First reading: staff kindness stands out.", phase=1, coder="alice")
    add_memo(s, "Kindness includes small gestures.", code_id=kind, coder="bob", title="On kindness")
    add_memo(s, "The emoji softens the complaint?", segment_id=seg["The"], coder="bob")
    answer = s.scalar("SELECT answer_id FROM segments WHERE id = ?", (seg["Thank"],))
    add_memo(s, "Whole answer is gratitude.", answer_id=answer, coder="alice")
    return s


def _schema(name: str) -> etree.XMLSchema:
    if not (REFI / name).exists():
        pytest.skip("../shared/refi-qda is not beside the repo")
    return etree.XMLSchema(etree.parse(str(REFI / name)))


def _slice(text: str, start: int, end: int, offsets: str) -> str:
    if offsets == "codepoints":
        return text[start:end]
    return text.encode("utf-16-le")[2 * start:2 * end].decode("utf-16-le")


def _codings(s: Store) -> set[tuple[str, ...]]:
    """Every coding as the analyst sees it: form, question, offsets, text, code, coder, date to the second."""
    return {tuple(map(str, r)) for r in s.query(
        "SELECT f.external_id, q.key, g.start, g.\"end\", g.text, k.name, c.name, substr(x.created_at, 1, 19) "
        "FROM codings x JOIN segments g ON g.id = x.segment_id JOIN answers a ON a.id = g.answer_id "
        "JOIN forms f ON f.id = a.form_id JOIN questions q ON q.id = a.question_id JOIN codes k ON k.id = x.code_id "
        "JOIN coders c ON c.id = x.coder_id")}


def _memos(s: Store) -> set[tuple[str, ...]]:
    return {tuple(map(str, r)) for r in s.query(
        "SELECT m.body, m.title, m.phase, k.name, g.text, a.text, c.name FROM memos m LEFT JOIN codes k "
        "ON k.id = m.code_id LEFT JOIN segments g ON g.id = m.segment_id LEFT JOIN answers a ON a.id = m.answer_id "
        "LEFT JOIN coders c ON c.id = m.coder_id")}


@pytest.mark.parametrize("offsets", ["utf16", "codepoints"])
def test_every_selection_carries_its_coder_and_date_and_points_at_its_text(tmp_path: Path, offsets: str) -> None:
    s = _study(tmp_path)
    zf = zipfile.ZipFile(io.BytesIO(export.render(s, "qdpx", offsets=offsets)))
    qde = zf.read("project.qde")
    assert _schema("Project.xsd").validate(etree.fromstring(qde))
    root = etree.fromstring(qde)
    users = {u.get("guid"): u.get("name") for u in root.iter(f"{NS}User")}
    assert sorted(users.values()) == ["alice", "bob"]
    seen = set()
    for src in root.iter(f"{NS}TextSource"):
        assert not set(src.get("name")) & set('?*:"<>|/\\') and len(src.get("name")) <= 100
        text = zf.read("sources/" + src.get("plainTextPath").removeprefix("internal://")).decode("utf-8")
        for sel in src.findall(f"{NS}PlainTextSelection"):
            coder = users[sel.get("creatingUser")]
            assert STAMP.match(sel.get("creationDateTime"))
            piece = _slice(text, int(sel.get("startPosition")), int(sel.get("endPosition")), offsets)
            for c in sel.findall(f"{NS}Coding"):
                assert users[c.get("creatingUser")] == coder and STAMP.match(c.get("creationDateTime"))
                seen.add((piece, coder))
    want = {(r[0], r[1]) for r in s.query("SELECT g.text, c.name FROM codings x JOIN segments g ON g.id = "
                                          "x.segment_id JOIN coders c ON c.id = x.coder_id")}
    assert seen == want and ("The nurse 👩\u200d⚕\ufe0f was kind. ", "bob") in seen
    assert all(STAMP.match(n.get("creationDateTime")) for n in root.iter(f"{NS}Note"))


def test_offsets_default_to_utf16_units_and_differ_only_past_the_bmp(tmp_path: Path) -> None:
    s = _study(tmp_path)

    def starts(offsets: str | None) -> dict[str, int]:
        data = export.render(s, "qdpx", **({"offsets": offsets} if offsets else {}))
        root = etree.fromstring(zipfile.ZipFile(io.BytesIO(data)).read("project.qde"))
        return {sel.get("name"): int(sel.get("startPosition")) for sel in root.iter(f"{NS}PlainTextSelection")}

    default, utf16, points = starts(None), starts("utf16"), starts("codepoints")
    assert default == utf16
    assert points["Waiting was long 😀."] == 25 and utf16["Waiting was long 😀."] == 26  # 👩 is two UTF-16 units
    assert points["看护很好。"] == utf16["看护很好。"] == 29  # CJK and combining marks are one unit either way


def test_pyrefiqda_reads_users_codes_sources_selections_codings_cases_and_notes(tmp_path: Path) -> None:
    pyrefiqda = pytest.importorskip("pyrefiqda")
    s = _study(tmp_path)
    path = tmp_path / "study.qdpx"
    path.write_bytes(export.render(s, "qdpx"))
    p = pyrefiqda.RefiProject.load(path, extract_dir=str(tmp_path / "x"))
    users = {u.guid: u.name for u in p.users.user}
    assert sorted(users.values()) == ["alice", "bob"]

    def codes(cs: list) -> list:
        return [c for c in cs for c in [c, *codes(c.code)]]

    assert len(codes(p.code_book.codes.code)) == 3
    sources = p.sources.text_source
    sels = [sel for src in sources for sel in src.plain_text_selection]
    assert len(sources) == 4  # two respondents x two questions; R3 answered nothing
    assert len(sels) == s.scalar("SELECT count(*) FROM (SELECT DISTINCT segment_id, coder_id FROM codings)") == 6
    assert all(users[sel.creating_user] for sel in sels)
    assert sum(len(sel.coding) for sel in sels) == s.scalar("SELECT count(*) FROM codings") == 6
    cases = {c.name: c for c in p.cases.case}
    assert sorted(cases) == ["R1", "R2", "R3"] and not cases["R3"].source_ref and cases["R3"].variable_value
    assert len(p.notes.note) == 4


@pytest.mark.parametrize("offsets", ["utf16", "codepoints"])
def test_back_into_thematic_with_the_same_coders_dates_offsets_and_memos(tmp_path: Path, offsets: str) -> None:
    s = _study(tmp_path)
    first = export.render(s, "qdpx", offsets=offsets)
    fresh = Store(":memory:")
    stats = import_qdpx(fresh, first)
    assert (stats["forms"], stats["answers"], stats["coders"], stats["memos"]) == (3, 4, 2, 4)
    assert _codings(fresh) == _codings(s)
    assert _memos(fresh) == _memos(s)
    assert fresh.query("SELECT value FROM form_meta JOIN forms ON forms.id = form_id "
                       "WHERE external_id = 'R3'")[0][0] == "Maternity"
    assert stats["notes"] == ["1 case(s) could not be linked to any source (no SourceRef, and no source named "
                              "after them): kept as forms with their variables and no answers"]
    assert export.render(fresh, "qdpx", offsets=offsets) == first


def test_a_note_on_an_uncoded_segment_keeps_its_span(tmp_path: Path) -> None:
    s = _study(tmp_path)
    seg = s.query_one("SELECT id, text FROM segments WHERE text LIKE 'Café%'")
    add_memo(s, "Naïve? Check the transcript.", segment_id=seg["id"])
    data = export.render(s, "qdpx")
    root = etree.fromstring(zipfile.ZipFile(io.BytesIO(data)).read("project.qde"))
    note = next(n for n in root.iter(f"{NS}Note") if n.findtext(f"{NS}PlainTextContent", "").startswith("Naïve?"))
    assert note.find(f"{NS}PlainTextSelection") is not None
    fresh = Store(":memory:")
    import_qdpx(fresh, data)
    m = next(m for m in memos(fresh) if m.body.startswith("Naïve?"))
    assert fresh.scalar("SELECT text FROM segments WHERE id = ?", (m.segment_id,)) == seg["text"]


def test_cases_without_source_refs_are_linked_by_name_or_kept_with_a_line(tmp_path: Path) -> None:
    """QualCoder exports cases with their variables but no SourceRef."""
    s = _study(tmp_path)
    zf = zipfile.ZipFile(io.BytesIO(export.render(s, "qdpx")))
    root = etree.fromstring(zf.read("project.qde"))
    for ref in list(root.iter(f"{NS}SourceRef")):
        ref.getparent().remove(ref)
    extra = etree.SubElement(root.find(f"{NS}Cases"), f"{NS}Case", guid="00000000-0000-4000-8000-000000000099",
                             name="Z9")
    vv = etree.SubElement(extra, f"{NS}VariableValue")
    etree.SubElement(vv, f"{NS}VariableRef", targetGUID=root.find(f"{NS}Variables/{NS}Variable[@name='Ward']")
                     .get("guid"))
    etree.SubElement(vv, f"{NS}TextValue").text = "Surgery"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for n in zf.namelist():
            out.writestr(n, etree.tostring(root) if n == "project.qde" else zf.read(n))
    fresh = Store(":memory:")
    stats = import_qdpx(fresh, buf.getvalue())
    meta = dict(fresh.query("SELECT external_id, value FROM forms JOIN form_meta ON form_id = forms.id"))
    assert meta == {"R1": "A&E", "R2": "Maternity", "R3": "Maternity", "Z9": "Surgery"}
    assert fresh.scalar("SELECT count(*) FROM answers") == 4 and stats["forms"] == 4
    assert stats["notes"][0].startswith("2 case(s) could not be linked")


FOREIGN = """<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="qc" origin="QualCoder 3.6">
 <Users><User guid="00000000-0000-4000-8000-000000000001" name="Ann"/>
  <User guid="00000000-0000-4000-8000-000000000002" name="Ben"/></Users>
 <CodeBook><Codes><Code guid="00000000-0000-4000-8000-000000000003" name="Care" isCodable="true"/></Codes></CodeBook>
 <Sources><TextSource guid="00000000-0000-4000-8000-000000000007" name="Interview 1">
   <PlainTextContent>Hi 😀 there. Gamma delta! Epsilon.</PlainTextContent>
   <PlainTextSelection guid="00000000-0000-4000-8000-000000000008" startPosition="0" endPosition="11"
     creatingUser="00000000-0000-4000-8000-000000000002" creationDateTime="2024-03-01T10:00:00Z">
     <Coding guid="00000000-0000-4000-8000-000000000009"><CodeRef targetGUID="00000000-0000-4000-8000-000000000003"/>
     </Coding></PlainTextSelection>
   <PlainTextSelection guid="00000000-0000-4000-8000-000000000013" startPosition="25" endPosition="33">
     <Description>Odd ending</Description></PlainTextSelection>
   <NoteRef targetGUID="00000000-0000-4000-8000-000000000010"/>
 </TextSource></Sources>
 <Notes>
  <Note guid="00000000-0000-4000-8000-000000000010" creatingUser="00000000-0000-4000-8000-000000000001"
    creationDateTime="2024-03-02T09:30:00Z"><PlainTextContent>An annotation</PlainTextContent>
   <PlainTextSelection guid="00000000-0000-4000-8000-000000000011" startPosition="12" endPosition="24"/></Note>
  <Note guid="00000000-0000-4000-8000-000000000012" name="Journal one" plainTextPath="internal://j1.txt"
    creatingUser="00000000-0000-4000-8000-000000000001" creationDateTime="2024-03-03T08:00:00+01:00"/>
 </Notes>
 <NoteRef targetGUID="00000000-0000-4000-8000-000000000012"/>
</Project>"""


def test_qualcoder_style_file_user_on_selection_annotations_and_journals(store: Store) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("project.qde", FOREIGN)
        zf.writestr("sources/j1.txt", "Journal text")
    stats = import_qdpx(store, buf.getvalue())  # origin QualCoder: offsets are code points
    assert stats["codings"] == 1 and stats["memos"] == 3
    row = store.query_one("SELECT g.text, c.name, x.created_at FROM codings x JOIN segments g ON g.id = x.segment_id "
                          "JOIN coders c ON c.id = x.coder_id")
    # the space after it has no letter and no selection, so it joins the segment before it
    assert tuple(row) == ("Hi 😀 there. ", "Ben", "2024-03-01T10:00:00.000000+00:00")
    by_body = {m.body: m for m in memos(store)}
    annotated = store.scalar("SELECT text FROM segments WHERE id = ?", (by_body["An annotation"].segment_id,))
    assert annotated == "Gamma delta! "
    assert store.scalar("SELECT text FROM segments WHERE id = ?", (by_body["Odd ending"].segment_id,)) == "Epsilon."
    journal = by_body["Journal text"]
    assert journal.title == "Journal one" and journal.segment_id is None and journal.answer_id is None
    assert journal.created_at == "2024-03-03T07:00:00.000000+00:00"
    split = FOREIGN.replace('endPosition="11"', 'endPosition="4"').encode()  # UTF-16 unit 4 is inside 😀
    before = dump(store)
    with pytest.raises(InvalidInput, match="inside a character.*--offsets codepoints"):
        import_qdpx(store, split, offsets="utf16")
    assert dump(store) == before


TAGUETTE = """<?xml version="1.0" encoding="utf-8"?>
<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="Taguette 1.4.1"><Codes>
 <Code guid="1" name="staff.kindness" isCodable="true"><Description>Warmth from staff</Description></Code>
 <Code guid="2" name="staff" isCodable="true"><Description>Anything about staff</Description></Code>
 <Code guid="3" name="staff.rudeness" isCodable="true"/>
 <Code guid="4" name="waiting" isCodable="true"/>
</Codes></CodeBook>"""


def test_taguette_dotted_names_import_flat_with_a_note_or_nested_on_request(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    qdc = tmp_path / "taguette.qdc"
    qdc.write_text(TAGUETTE, encoding="utf-8")  # Taguette's guids ("1") are not valid for the schema; read anyway
    flat, nested = tmp_path / "flat.db", tmp_path / "nested.db"
    for db in (flat, nested):
        assert main(["init", str(db)]) == 0
    assert main(["import-codebook", str(flat), str(qdc)]) == 0
    out = capsys.readouterr().out
    assert "4 codes, 4 new" in out and "2 code name(s) contain a dot" in out and "--dotted-hierarchy" in out
    assert main(["import-codebook", str(nested), str(qdc), "--dotted-hierarchy"]) == 0
    assert "contain a dot" not in capsys.readouterr().out
    with Store(nested) as s:
        assert [c.path_str for c in list_codes(s)] == ["staff", "staff/kindness", "staff/rudeness", "waiting"]
        assert find_code(s, "staff").definition == "Anything about staff"
        assert find_code(s, "staff/kindness").definition == "Warmth from staff"
    with Store(flat) as s:
        assert find_code(s, "staff.kindness") is not None


def test_a_code_name_over_the_limit_is_refused_not_cut(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    long = "x" * 201
    qdc = tmp_path / "long.qdc"
    qdc.write_text(TAGUETTE.replace('name="waiting"', f'name="{long}"'), encoding="utf-8")
    with pytest.raises(InvalidInput, match="201 characters long; the limit is 200"):
        read_qdc(qdc.read_bytes())
    db = tmp_path / "p.db"
    assert main(["init", str(db)]) == 0
    before = db.read_bytes()
    assert main(["import-codebook", str(db), str(qdc)]) == 2
    assert "the limit is 200" in capsys.readouterr().err and db.read_bytes() == before
    assert len(read_qdc(TAGUETTE.replace('name="waiting"', f'name="{long[:200]}"').encode()).codes) == 4


def test_source_names_are_portable_unique_and_bounded() -> None:
    taken: set[str] = set()
    names = [portable_name(raw, taken) for raw in ("R1 - What mattered most?", "R1 - What mattered most*",
                                                   'a<b>c:"d"|e/f\\g', "CON", "trailing dot.", "y" * 300,
                                                   "y" * 300, "tab\there")]
    assert names[:5] == ["R1 - What mattered most_", "R1 - What mattered most_ (2)", "a_b_c__d__e_f_g", "_CON",
                         "trailing dot"]
    assert len(names[5]) == len(names[6]) == 100 and names[5] != names[6] and names[6].endswith(" (2)")
    assert names[7] == "tab_here"


def test_qualcoder_export_of_our_project_comes_back_whole(store: Store) -> None:
    """tests/data/qualcoder_export.qdpx: the project of :func:`_study`, exported with --offsets codepoints, imported
    by QualCoder's own importer and exported again by QualCoder's own exporter (scripts/qualcoder_import.py
    --export-back). QualCoder writes cases without SourceRef, the coder on each selection, and annotations."""
    stats = import_qdpx(store, Path(__file__).parent / "data" / "qualcoder_export.qdpx")
    assert (stats["forms"], stats["answers"], stats["codings"], stats["memos"]) == (3, 4, 6, 4)
    assert dict(store.query("SELECT external_id, value FROM forms JOIN form_meta ON form_id = forms.id")) == {
        "R1": "A&E", "R2": "Maternity", "R3": "Maternity"}
    assert stats["notes"] == ["1 case(s) could not be linked to any source (no SourceRef, and no source named "
                              "after them): kept as forms with their variables and no answers"]
    got = {tuple(r) for r in store.query(
        "SELECT f.external_id, g.text, k.name, c.name FROM codings x JOIN segments g ON g.id = x.segment_id "
        "JOIN answers a ON a.id = g.answer_id JOIN forms f ON f.id = a.form_id JOIN codes k ON k.id = x.code_id "
        "JOIN coders c ON c.id = x.coder_id")}
    assert got == {("R1", "The nurse 👩\u200d⚕\ufe0f was kind. ", "Kindness", "alice"),
                   ("R1", "The nurse 👩\u200d⚕\ufe0f was kind. ", "Kindness", "bob"),
                   ("R1", "Waiting was long 😀.", "Waiting", "alice"),
                   ("R2", "Combining: e\u0301 and n\u0303 matter. ", "Waiting", "bob"),
                   ("R2", "看护很好。", "Kindness", "bob"), ("R2", "Thank you 🙏🏽 all.", "Thanks", "alice")}
    by_body = {m.body: m for m in memos(store)}
    assert by_body["The emoji softens the complaint?"].segment_id is not None
    assert by_body["Whole answer is gratitude."].answer_id is not None


def test_cli_offsets_choice_round_trips_and_is_recorded_in_the_origin(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src.db"
    _study(tmp_path).backup(src)
    for unit in ("codepoints", "utf16"):
        out = tmp_path / f"{unit}.qdpx"
        assert main(["export", str(src), "-o", str(out), "--offsets", unit]) == 0
        origin = etree.fromstring(zipfile.ZipFile(out).read("project.qde")).get("origin")
        assert ("offsets: codepoints" in origin) == (unit == "codepoints")
        db = tmp_path / f"{unit}.db"
        assert main(["init", str(db)]) == 0
        assert main(["import", str(db), str(out)]) == 0  # the unit is read from the origin
        assert "note: 1 case(s) could not be linked" in capsys.readouterr().out
        with Store(db) as back, Store(src) as orig:
            assert _codings(back) == _codings(orig)
    wrong = tmp_path / "wrong.db"
    assert main(["init", str(wrong)]) == 0
    before = wrong.read_bytes()
    assert main(["import", str(wrong), str(tmp_path / "utf16.qdpx"), "--offsets", "codepoints"]) == 2
    assert "only when positions count utf16" in capsys.readouterr().err
    assert wrong.read_bytes() == before
