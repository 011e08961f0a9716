"""REFI-QDA: .qdc/.qdpx exports validate against the official schemas, import is safe and atomic, and
export -> import -> export is byte-identical. The real NVivo 15 export imports with its 262 nested codes."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from tests.conftest import SHARED, dump
from tests.test_export_tree import CMT, build_project
from thematic import export, refi
from thematic.cli import main
from thematic.codebook import find_code, list_codes
from thematic.codebook.files import import_codebook
from thematic.commands import read_codebook_file
from thematic.errors import Conflict, InvalidInput
from thematic.memos import add_memo, memos
from thematic.refi import import_qdpx, pieces, read_qdpx
from thematic.store import Store

from .conftest import require_shared

REFI = SHARED / "refi-qda"
NVIVO = REFI / "samples" / "nvivo15_mac_export.qdpx"
NS = "{urn:QDA-XML:project:1.0}"


def _schema(name: str) -> etree.XMLSchema:
    require_shared(REFI / name)
    return etree.XMLSchema(etree.parse(str(REFI / name)))


def _valid(schema: etree.XMLSchema, xml: bytes) -> None:
    doc = etree.fromstring(xml)
    assert schema.validate(doc), schema.error_log


@pytest.fixture(scope="module")
def proj() -> Iterator[Store]:
    s = Store(":memory:")
    build_project(s, codebook=CMT, n_forms=25)
    theme = list_codes(s)[0]
    add_memo(s, "Reflexive note: <first> reading & 'quotes' \"too\"", phase=1, coder="alice")
    add_memo(s, "Why this theme matters.", code_id=theme.id, title="Theme memo")
    add_memo(s, "This segment is ironic.", segment_id=3, coder="bob")
    add_memo(s, "Whole answer note.", answer_id=2)
    yield s
    s.close()


def _qde(qdpx: bytes) -> bytes:
    return zipfile.ZipFile(io.BytesIO(qdpx)).read("project.qde")


def test_qdc_validates_and_round_trips_through_read_codebook(proj: Store, tmp_path: Path) -> None:
    qdc = export.render(proj, "qdc")
    _valid(_schema("Codebook.xsd"), qdc)
    path = tmp_path / "cmt.qdc"
    path.write_bytes(qdc)
    cb = read_codebook_file(path)
    assert len(cb) == 16 and cb.codes[0].name == "Comprehension of compassion"
    fresh = Store(":memory:")
    assert import_codebook(fresh, cb) == 16
    for a, b in zip(list_codes(proj), list_codes(fresh)):
        assert (a.path, a.definition, a.includes, a.excludes, a.colour) == (b.path, b.definition, b.includes,
                                                                            b.excludes, b.colour)
    ex = fresh.query("SELECT count(*) FROM code_examples")[0][0]
    assert ex == proj.query("SELECT count(*) FROM code_examples")[0][0] > 0


def test_qdpx_validates_and_offsets_point_at_the_segments(proj: Store) -> None:
    data = export.render(proj, "qdpx")
    assert data == export.render(proj, "qdpx")
    zf = zipfile.ZipFile(io.BytesIO(data))
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in zf.infolist())
    qde = zf.read("project.qde")
    _valid(_schema("Project.xsd"), qde)
    root = etree.fromstring(qde)
    assert len(root.findall(f"{NS}Users/{NS}User")) == 2
    assert len(root.findall(f"{NS}Cases/{NS}Case")) == 25
    assert len(root.findall(f"{NS}Notes/{NS}Note")) == 4
    assert root.find(f"{NS}Graphs/{NS}Graph") is not None
    seg_text = {(r[0], r[1], r[2]): r[3] for r in proj.query(
        'SELECT a.text, s.start, s."end", s.text FROM segments s JOIN answers a ON a.id = s.answer_id')}
    n_sel = n_coding = 0
    for src in root.iter(f"{NS}TextSource"):
        text = zf.read("sources/" + src.get("plainTextPath").removeprefix("internal://")).decode("utf-8")
        for sel in src.findall(f"{NS}PlainTextSelection"):
            start, end = int(sel.get("startPosition")), int(sel.get("endPosition"))
            assert seg_text[(text, start, end)] == text[start:end]
            n_sel += 1
            n_coding += len(sel.findall(f"{NS}Coding"))
    assert n_coding == proj.scalar("SELECT count(*) FROM codings")
    # one selection per coded segment and coder; a note on a segment hangs from its selection
    assert n_sel == proj.scalar("SELECT count(*) FROM (SELECT DISTINCT segment_id, coder_id FROM codings)")


def test_export_import_export_is_identical_and_one_undoable_step(proj: Store) -> None:
    first = export.render(proj, "qdpx")
    fresh = Store(":memory:")
    before = dump(fresh)
    stats = import_qdpx(fresh, io.BytesIO(first))
    assert stats["forms"] == 25 and stats["codes"] == 16 and stats["memos"] == 4 and stats["coders"] == 2
    assert stats["codings"] == proj.scalar("SELECT count(*) FROM codings")
    assert export.render(fresh, "qdpx") == first
    m = {x.body: x for x in memos(fresh)}
    assert m["Why this theme matters."].code_id == find_code(fresh, "Comprehension of compassion").id
    assert m["This segment is ironic."].segment_id is not None and m["Whole answer note."].answer_id is not None
    assert m["Reflexive note: <first> reading & 'quotes' \"too\""].phase == 1
    assert fresh.get_setting("title") == proj.get_setting("title")
    with pytest.raises(Conflict, match="already imported"):
        import_qdpx(fresh, io.BytesIO(first))
    fresh.undo()
    assert dump(fresh) == before


def test_nvivo_export_imports_all_262_codes_with_nesting() -> None:
    require_shared(NVIVO)
    s = Store(":memory:")
    stats = import_qdpx(s, NVIVO, actor="tester")
    codes = list_codes(s)
    assert len(codes) == stats["codes"] == 262
    assert [c.name for c in codes if c.depth == 0] == ["rq1_definition", "rq2_curriculum_and_instruction",
                                                       "rq3_process"]
    for path in ("rq1_definition/competencies/programming", "rq1_definition/concepts/abstraction",
                 "rq1_definition/rationales/cs_literacy/digital_citizenship/citizenship",
                 "rq3_process/politics/public_opinion/student_stress", "rq3_process/politics/redirecting_conversation"):
        assert find_code(s, path) is not None, path
    assert find_code(s, "rq1_definition/programming") is None
    # Independent oracle: the nesting as the XML has it.
    root = etree.fromstring(zipfile.ZipFile(NVIVO).read("project.qde"))
    want: list[str] = []

    def walk(el: etree._Element, path: str) -> None:
        for c in el.findall(f"{NS}Code"):
            want.append(f"{path}/{c.get('name')}".lstrip("/"))
            walk(c, want[-1])

    walk(root.find(f"{NS}CodeBook/{NS}Codes"), "")
    assert [c.path_str for c in codes] == want
    cb = refi.read_qdc(zipfile.ZipFile(NVIVO).read("project.qde"), name="nvivo")  # a project's codebook reads too
    assert len(cb) == 262 and ["/".join(p) for p, _ in cb.walk()] == want
    assert {r[0] for r in s.query("SELECT name FROM coders")} == {"chrisp", "cp"}
    assert s.get_setting("title") == "qc project" and stats["forms"] == 2
    _valid(_schema("Project.xsd"), _qde(export.render(s, "qdpx")))
    assert s.audit_log(limit=1)[0].actor == "tester"


def _qdpx(qde: str | bytes, files: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("project.qde", qde)
        for k, v in (files or {}).items():
            zf.writestr(k, v)
    return buf.getvalue()


G = "00000000-0000-4000-8000-{:012d}"
FOREIGN = f"""<?xml version="1.0" encoding="utf-8"?>
<Project xmlns="urn:QDA-XML:project:1.0" name="foreign">
 <Users><User guid="{G.format(1)}" name="Ann"/></Users>
 <CodeBook><Codes><Code guid="{G.format(2)}" name="Theme/with slash" isCodable="true">
   <Code guid="{G.format(3)}" name="Sub" isCodable="true"/><Code guid="{G.format(4)}" name="sub" isCodable="true"/>
 </Code></Codes></CodeBook>
 <Variables><Variable guid="{G.format(5)}" name="Profession" typeOfVariable="Text"/></Variables>
 <Cases><Case guid="{G.format(6)}" name="P01"><VariableValue><VariableRef targetGUID="{G.format(5)}"/>
   <TextValue>Nurse</TextValue></VariableValue><SourceRef targetGUID="{G.format(7)}"/></Case></Cases>
 <Sources><TextSource guid="{G.format(7)}" name="Interview 1">
   <PlainTextContent>Alpha beta. Gamma delta! Epsilon.</PlainTextContent>
   <PlainTextSelection guid="{G.format(8)}" startPosition="0" endPosition="11">
     <Coding guid="{G.format(9)}" creatingUser="{G.format(1)}"><CodeRef targetGUID="{G.format(3)}"/></Coding>
   </PlainTextSelection>
   <PlainTextSelection guid="{G.format(10)}" startPosition="6" endPosition="24">
     <Coding guid="{G.format(11)}" creatingUser="{G.format(1)}"><CodeRef targetGUID="{G.format(4)}"/></Coding>
   </PlainTextSelection>
 </TextSource></Sources>
</Project>"""


def test_foreign_project_with_overlapping_selections(store: Store) -> None:
    stats = import_qdpx(store, _qdpx(FOREIGN))
    assert stats["forms"] == 1 and stats["codings"] == 4
    assert [c.path for c in list_codes(store)] == [("Theme/with slash",), ("Theme/with slash", "Sub"),
                                                  ("Theme/with slash", "sub (2)")]
    segs = store.query('SELECT start, "end", text FROM segments ORDER BY position')
    assert "".join(r[2] for r in segs) == "Alpha beta. Gamma delta! Epsilon."  # the segments tile the answer
    assert [(r[0], r[1]) for r in segs] == [(0, 6), (6, 11), (11, 24), (24, 33)]
    assert store.query("SELECT value FROM form_meta WHERE field = 'Profession'")[0][0] == "Nurse"
    assert store.query("SELECT external_id FROM forms")[0][0] == "P01"
    assert pieces("  x ", [(2, 3)]) == [(0, 4)]


@pytest.mark.parametrize(
    "payload, message",
    [
        (_qdpx("<Project"), "not well-formed"),
        (_qdpx('<?xml version="1.0"?><!DOCTYPE p [<!ENTITY x SYSTEM "file:///etc/passwd">]><Project/>'), "DTD"),
        (_qdpx('<CodeBook xmlns="urn:QDA-XML:codebook:1.0"/>'), "not a REFI-QDA <Project>"),
        (b"not a zip at all", "not a zip"),
        (_qdpx(FOREIGN.replace(f'<CodeRef targetGUID="{G.format(4)}"/>', f'<CodeRef targetGUID="{G.format(99)}"/>')),
         "lacks"),
        (_qdpx(FOREIGN.replace('endPosition="24"', 'endPosition="abc"')), "non-numeric"),
        (_qdpx(FOREIGN.replace('startPosition="6"', 'startPosition="600"')), "outside"),
        (_qdpx(FOREIGN.replace("<PlainTextContent>Alpha beta. Gamma delta! Epsilon.</PlainTextContent>", "")
               .replace('name="Interview 1"', 'name="Interview 1" plainTextPath="internal://missing.txt"')),
         "missing"),
    ],
)
def test_malformed_files_are_one_clear_error_and_change_nothing(store: Store, payload: bytes, message: str) -> None:
    before = dump(store)
    with pytest.raises(InvalidInput, match=message):
        import_qdpx(store, payload)
    assert dump(store) == before


def test_archive_guards_refuse_traversal_and_bombs(store: Store) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("project.qde", FOREIGN)
        zf.writestr("../evil.txt", "x")
    with pytest.raises(InvalidInput, match="unsafe file name"):
        import_qdpx(store, buf.getvalue())
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("project.qde", FOREIGN)
        zf.writestr("sources/big.txt", b"\0" * (8 * 1024 * 1024))
    with pytest.raises(InvalidInput, match="zip bomb"):
        import_qdpx(store, bomb.getvalue())
    assert store.counts()["forms"] == 0


def test_existing_forms_conflict_and_nothing_is_half_imported(store: Store) -> None:
    import_qdpx(store, _qdpx(FOREIGN))
    before = dump(store)
    other = FOREIGN.replace('name="foreign"', 'name="again"').replace("Gamma", "Gamma2")
    with pytest.raises(Conflict, match="P01"):
        import_qdpx(store, _qdpx(other))
    assert dump(store) == before


def test_read_qdpx_does_not_need_a_store() -> None:
    pr = read_qdpx(_qdpx(FOREIGN))
    assert pr.name == "foreign" and len(pr.codes) == 3 and pr.sources[0].text.startswith("Alpha")
    assert refi.parse_description(refi.describe("Def.", "in", "out", ["e1", "e2"])) == ("Def.", "in", "out",
                                                                                     ["e1", "e2"])


def test_cli_export_then_import(proj: Store, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "src.db"
    proj.backup(src)
    out = tmp_path / "p.qdpx"
    assert main(["export", str(src), "-o", str(out)]) == 0  # format from the extension
    assert main(["init", str(tmp_path / "new.db")]) == 0
    assert main(["import", str(tmp_path / "new.db"), str(out)]) == 0
    assert "25 forms" in capsys.readouterr().out
    assert main(["import", str(tmp_path / "new.db"), str(out)]) == 2
    assert "already imported" in capsys.readouterr().err
    qdc = tmp_path / "c.qdc"
    assert main(["export", str(src), "--format", "qdc", "-o", str(qdc)]) == 0
    assert main(["init", str(tmp_path / "cb.db")]) == 0
    assert main(["import-codebook", str(tmp_path / "cb.db"), str(qdc)]) == 0
    assert "16 new" in capsys.readouterr().out


def test_real_comments_ingested_by_sentence_round_trip(tmp_path: Path) -> None:
    """Real NHS comments, split into sentences by the ingest pipeline (offsets > 0), coded by their labels:
    the .qdpx validates, every selection is the segment's text, and a fresh import re-exports identically."""
    import csv as _csv

    from thematic.codebook import ensure_path
    from thematic.coding import apply_code_many
    from thematic.ingest import ingest_file

    sample = Path(__file__).parent / "data" / "nhs_sample.csv"
    rows = [r for r in _csv.DictReader(sample.open(encoding="utf-8")) if r["feedback"].strip()][:40]
    forms = tmp_path / "forms.csv"
    with forms.open("w", newline="", encoding="utf-8") as fh:
        w = _csv.writer(fh)
        w.writerow(["ID", "Organisation", "Feedback"])
        for r in rows:
            w.writerow([f"R{r['row_index']}", r["organization"], r["feedback"]])
    s = Store(":memory:")
    s.set_setting("title", "NHS sample")
    ingest_file(s, forms, id_column="ID", question_columns=["Feedback"], meta_columns=["Organisation"],
                unit="sentence")
    label = {f"R{r['row_index']}": (r["label"].replace("/", "-"), r["subcategory"].replace("/", "-")) for r in rows}
    by_code: dict[int, list[int]] = {}
    for seg_id, ext, pos in s.query("SELECT s.id, f.external_id, s.position FROM segments s JOIN answers a "
                                    "ON a.id = s.answer_id JOIN forms f ON f.id = a.form_id"):
        if pos % 2 == 0:  # every other sentence, so that selections do not simply cover whole answers
            by_code.setdefault(ensure_path(s, list(label[ext])), []).append(seg_id)
    for cid, segs in by_code.items():
        apply_code_many(s, segs, cid, "coder A")
    assert s.scalar("SELECT count(*) FROM segments WHERE start > 0") > 0
    data = export.render(s, "qdpx")
    zf = zipfile.ZipFile(io.BytesIO(data))
    qde = zf.read("project.qde")
    _valid(_schema("Project.xsd"), qde)
    coded = {r[0] for r in s.query("SELECT s.text FROM segments s JOIN codings c ON c.segment_id = s.id")}
    for src in etree.fromstring(qde).iter(f"{NS}TextSource"):
        text = zf.read("sources/" + src.get("plainTextPath").removeprefix("internal://")).decode("utf-8")
        for sel in src.findall(f"{NS}PlainTextSelection"):
            assert text[int(sel.get("startPosition")):int(sel.get("endPosition"))] in coded
    fresh = Store(":memory:")
    import_qdpx(fresh, data)
    assert export.render(fresh, "qdpx") == data
    assert {r[0] for r in fresh.query("SELECT s.text FROM segments s JOIN codings c ON c.segment_id = s.id")} == coded


def test_utf16_doctype_is_refused_too(store: Store) -> None:
    xml = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE Project [<!ENTITY a "aaaa">]><Project name="&a;"/>'
    with pytest.raises(InvalidInput, match="DTD"):
        import_qdpx(store, _qdpx(xml.encode("utf-16")))
