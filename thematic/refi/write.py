"""REFI-QDA (QDA-XML 1.0) export: the codebook (``.qdc``) and the whole project (``.qdpx``), for NVivo, ATLAS.ti,
MAXQDA, QualCoder and others. Import lives in :mod:`thematic.export.refi_import` (re-exported here).

Mapping (validated against the REFI schemas ``Codebook.xsd`` and ``Project.xsd``):

* the code tree -> ``<CodeBook><Codes>`` (nested ``<Code>``; definition, includes, excludes and examples in
  ``<Description>`` as paragraphs ``Includes: ...``, ``Excludes: ...``, ``Example: ...``; theme colours as ``color``);
* coders -> ``<Users>``;
* each answer -> one ``<TextSource>`` whose plain text is ``sources/<guid>.txt`` (``plainTextPath="internal://..."``),
  with the question as the variable ``question`` and its wording as ``<Description>``; each coded segment ->
  ``<PlainTextSelection startPosition endPosition>`` (character offsets of the segment in the answer text, end
  exclusive) holding one ``<Coding><CodeRef/></Coding>`` per code and coder;
* each form (respondent) -> a ``<Case>`` with its metadata as ``<VariableValue>``s and ``<SourceRef>``s to its answers;
* memos -> ``<Notes>`` (``<NoteRef>`` from the code, source or selection they are about; project-level otherwise);
* the theme tree -> a ``<Graph>`` with vertices at the diagram's coordinates.

GUIDs are UUID 5 values from a namespace derived from the project title and the objects' natural keys (code
paths, form ids, question keys, offsets, coder names), and the zip has fixed timestamps, so the same project
always gives the same bytes, and export -> import -> export gives an identical ``project.qde``.
"""

from __future__ import annotations

import hashlib
import io
import re
import uuid
import zipfile
from collections import defaultdict
from typing import IO, Any

from ..errors import InvalidInput
from ..store import Store
from .safety import xml_text

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
THEMATIC_NS = uuid.UUID("5d6c1f4e-5a0c-4b8e-9a52-2f0d3c1b7e61")
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
QUESTION_VARIABLE = "question"


def _origin() -> str:
    from .. import __version__

    return f"thematic {__version__}"


class Guids:
    """Deterministic GUIDs: ``uuid5(project namespace, kind + natural key)``."""

    def __init__(self, project_title: str) -> None:
        self.ns = uuid.uuid5(THEMATIC_NS, "project:" + project_title)

    def __call__(self, kind: str, *key: object) -> str:
        return str(uuid.uuid5(self.ns, kind + ":" + "\x1f".join(str(k) for k in key)))


def describe(definition: str, includes: str = "", excludes: str = "", examples: list[str] | None = None) -> str:
    parts = [definition.strip()] if definition.strip() else []
    if includes.strip():
        parts.append("Includes: " + includes.strip())
    if excludes.strip():
        parts.append("Excludes: " + excludes.strip())
    parts += ["Example: " + e.strip() for e in examples or [] if e.strip()]
    return "\n\n".join(parts)


def parse_description(text: str) -> tuple[str, str, str, list[str]]:
    """(definition, includes, excludes, examples) from a Description written by :func:`describe` (or anyone)."""
    definition, includes, excludes, examples = [], "", "", []
    for block in re.split(r"\n\s*\n", (text or "").replace("\r\n", "\n").strip()):
        b = block.strip()
        if b.startswith("Includes: "):
            includes = b[len("Includes: "):].strip()
        elif b.startswith("Excludes: "):
            excludes = b[len("Excludes: "):].strip()
        elif b.startswith("Example: "):
            examples.append(b[len("Example: "):].strip())
        elif b:
            definition.append(b)
    return "\n\n".join(definition), includes, excludes, examples


def _title(store: Store) -> str:
    return store.get_setting("title", "") or "thematic project"


def _colour(c: str) -> str | None:
    c = (c or "").strip()
    return c.upper() if re.fullmatch(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})", c) else None


def _codes_xml(parent: Any, nodes: list[Any], ns: str, guids: Guids, *, notes: dict[int, list[str]] | None = None) -> dict[int, str]:
    """Append nested <Code> elements; returns code id -> guid."""
    from lxml import etree

    out: dict[int, str] = {}

    def rec(el: Any, items: list[Any]) -> None:
        for node in items:
            c = node.code
            g = guids("code", *c.path)
            out[c.id] = g
            attrs = {"guid": g, "name": xml_text(c.name), "isCodable": "true"}
            col = _colour(c.colour)
            if col:
                attrs["color"] = col
            code_el = etree.SubElement(el, f"{{{ns}}}Code", attrs)
            desc = describe(c.definition, c.includes, c.excludes, list(node.examples))
            if desc:
                etree.SubElement(code_el, f"{{{ns}}}Description").text = xml_text(desc)
            for note_guid in (notes or {}).get(c.id, []):
                etree.SubElement(code_el, f"{{{ns}}}NoteRef", targetGUID=note_guid)
            rec(code_el, node.children)

    rec(parent, nodes)
    return out


def _serialise(root: Any) -> bytes:
    from lxml import etree

    return etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)


# ---------------------------------------------------------------------- codebook (.qdc)


def render_qdc(store: Store, **_: Any) -> bytes:
    """The code tree as a REFI-QDA codebook."""
    from lxml import etree

    from ..codebook import tree

    nodes = tree(store)
    if not nodes:
        raise InvalidInput("the project has no codes yet, so there is no codebook to export")
    root = etree.Element(f"{{{CODEBOOK_NS}}}CodeBook", nsmap={None: CODEBOOK_NS}, origin=_origin())
    codes = etree.SubElement(root, f"{{{CODEBOOK_NS}}}Codes")
    _codes_xml(codes, nodes, CODEBOOK_NS, Guids(_title(store)))
    return _serialise(root)


def read_qdc(fileobj: IO[bytes] | bytes, *, name: str | None = None) -> Any:
    """A :class:`~thematic.codebook_files.Codebook` from a REFI-QDA ``.qdc`` (or the CodeBook of a ``.qde``)."""
    from ..codebook_files import Codebook, CodebookEntry
    from .safety import parse_xml

    data = fileobj if isinstance(fileobj, bytes) else fileobj.read()
    label = name or "codebook"
    root = parse_xml(data, what=f"codebook {label}")
    ns = root.nsmap.get(None) or ""
    if ns not in (CODEBOOK_NS, PROJECT_NS) or root.tag not in (f"{{{ns}}}CodeBook", f"{{{ns}}}Project"):
        raise InvalidInput(f"{label} is not a REFI-QDA codebook (root element {root.tag!r})")
    codes_el = root.find(f"{{{ns}}}Codes") if root.tag.endswith("CodeBook") else root.find(f"{{{ns}}}CodeBook/{{{ns}}}Codes")
    if codes_el is None:
        raise InvalidInput(f"{label} has no <Codes> element")

    def entry(el: Any, siblings: set[str]) -> CodebookEntry:
        nm = clean_code_name(el.get("name") or "", siblings)
        desc = el.findtext(f"{{{ns}}}Description") or ""
        definition, includes, excludes, examples = parse_description(desc)
        e = CodebookEntry(nm, definition, includes, excludes, _colour(el.get("color") or "") or "", examples)
        seen: set[str] = set()
        e.children = [entry(ch, seen) for ch in el.findall(f"{{{ns}}}Code")]
        return e

    top: set[str] = set()
    cb = Codebook(name=label, title=root.get("name") or "", source=root.get("origin") or "",
                  codes=[entry(el, top) for el in codes_el.findall(f"{{{ns}}}Code")])
    if not cb.codes:
        raise InvalidInput(f"{label} contains no codes")
    return cb


def clean_code_name(raw: str, siblings: set[str]) -> str:
    """A valid, sibling-unique thematic code name (whitespace folded, at most 190 characters)."""
    name = " ".join(raw.split())[:190] or "Unnamed code"
    base, k = name, 2
    while name.casefold() in siblings:
        name = f"{base} ({k})"
        k += 1
    siblings.add(name.casefold())
    return name


# ---------------------------------------------------------------------- project (.qdpx)


def build_qde(store: Store) -> tuple[bytes, dict[str, bytes]]:
    """``project.qde`` and the source files (``sources/<guid>.txt`` -> UTF-8 text)."""
    from lxml import etree

    from ..codebook import list_codes, tree
    from ..corpus import form_meta, meta_fields

    P = f"{{{PROJECT_NS}}}"
    title = _title(store)
    guids = Guids(title)
    paths = {c.id: c.path for c in list_codes(store)}
    code_order = {cid: i for i, cid in enumerate(paths)}
    coders = [r[0] for r in store.query("SELECT name FROM coders ORDER BY name")]
    user_guid = {n: guids("user", n) for n in coders}
    memos = store.query(
        "SELECT m.*, k.name AS coder FROM memos m LEFT JOIN coders k ON k.id = m.coder_id ORDER BY m.created_at, m.id"
    )
    note_guid = {m["id"]: guids("note", m["created_at"], m["title"], hashlib.sha256(m["body"].encode()).hexdigest())
                 for m in memos}
    notes_on: dict[str, dict[int, list[str]]] = {"code": defaultdict(list), "answer": defaultdict(list),
                                                 "segment": defaultdict(list)}
    project_notes = []
    for m in memos:
        for kind, col in (("segment", "segment_id"), ("answer", "answer_id"), ("code", "code_id")):
            if m[col] is not None:
                notes_on[kind][m[col]].append(note_guid[m["id"]])
                break
        else:
            project_notes.append(note_guid[m["id"]])

    root = etree.Element(P + "Project", nsmap={None: PROJECT_NS}, name=xml_text(title), origin=_origin())
    if coders:
        users = etree.SubElement(root, P + "Users")
        for n in coders:
            etree.SubElement(users, P + "User", guid=user_guid[n], name=xml_text(n))
    nodes = tree(store)
    code_guid: dict[int, str] = {}
    if nodes:
        codes_el = etree.SubElement(etree.SubElement(root, P + "CodeBook"), P + "Codes")
        code_guid = _codes_xml(codes_el, nodes, PROJECT_NS, guids, notes=notes_on["code"])

    fields = meta_fields(store)
    meta = form_meta(store)
    answers = store.query(
        "SELECT a.id, a.form_id, f.external_id, q.key, q.label, a.text FROM answers a JOIN forms f ON f.id = a.form_id "
        "JOIN questions q ON q.id = a.question_id ORDER BY a.form_id, q.position, q.id"
    )
    var_guid = {n: guids("variable", n) for n in [QUESTION_VARIABLE, *fields]}
    if answers:
        variables = etree.SubElement(root, P + "Variables")
        for n in [QUESTION_VARIABLE, *fields]:
            v = etree.SubElement(variables, P + "Variable", guid=var_guid[n], name=xml_text(n), typeOfVariable="Text")
            etree.SubElement(v, P + "Description").text = (
                "The question this answer replies to" if n == QUESTION_VARIABLE else "Respondent (form) metadata")
    source_guid = {a["id"]: guids("source", a["external_id"], a["key"]) for a in answers}
    by_form: dict[int, list[Any]] = defaultdict(list)
    for a in answers:
        by_form[a["form_id"]].append(a)
    if by_form:
        cases = etree.SubElement(root, P + "Cases")
        for form_id, rows in by_form.items():
            case = etree.SubElement(cases, P + "Case", guid=guids("case", rows[0]["external_id"]),
                                    name=xml_text(rows[0]["external_id"]))
            for f in fields:
                if f in meta.get(form_id, {}):
                    vv = etree.SubElement(case, P + "VariableValue")
                    etree.SubElement(vv, P + "VariableRef", targetGUID=var_guid[f])
                    etree.SubElement(vv, P + "TextValue").text = xml_text(meta[form_id][f])
            for a in rows:
                etree.SubElement(case, P + "SourceRef", targetGUID=source_guid[a["id"]])

    # Codings grouped by answer, then by segment.
    coded: dict[int, dict[tuple[int, int, int], list[Any]]] = defaultdict(lambda: defaultdict(list))
    for r in store.query(
        "SELECT s.answer_id, s.id AS segment_id, s.start, s.\"end\", c.code_id, k.name AS coder, c.created_at "
        "FROM codings c JOIN segments s ON s.id = c.segment_id JOIN coders k ON k.id = c.coder_id"
    ):
        coded[r["answer_id"]][(r["start"], r["end"], r["segment_id"])].append(r)
    seg_span = {r[0]: (r[1], r[2], r[3]) for r in store.query('SELECT id, answer_id, start, "end" FROM segments')}
    for seg_id in notes_on["segment"]:
        ans, s, e = seg_span[seg_id]
        coded[ans].setdefault((s, e, seg_id), [])
    files: dict[str, bytes] = {}
    if answers:
        sources = etree.SubElement(root, P + "Sources")
        for a in answers:
            g = source_guid[a["id"]]
            files[f"sources/{g}.txt"] = a["text"].encode("utf-8")
            ts = etree.SubElement(sources, P + "TextSource", guid=g, name=xml_text(f"{a['external_id']} - {a['key']}"),
                                  plainTextPath=f"internal://{g}.txt")
            etree.SubElement(ts, P + "Description").text = xml_text(a["label"])
            for (start, end, seg_id), rows in sorted(coded.get(a["id"], {}).items()):
                sel_g = guids("selection", g, start, end)
                sel = etree.SubElement(ts, P + "PlainTextSelection", guid=sel_g, name=xml_text(a["text"][start:end][:60]),
                                       startPosition=str(start), endPosition=str(end))
                for r in sorted(rows, key=lambda r: (code_order.get(r["code_id"], 0), r["coder"])):
                    cg = code_guid[r["code_id"]]
                    attrs = {"guid": guids("coding", sel_g, cg, r["coder"]), "creatingUser": user_guid[r["coder"]],
                             "creationDateTime": r["created_at"]}
                    coding = etree.SubElement(sel, P + "Coding", attrs)
                    etree.SubElement(coding, P + "CodeRef", targetGUID=cg)
                for ng in notes_on["segment"].get(seg_id, []):
                    etree.SubElement(sel, P + "NoteRef", targetGUID=ng)
            for ng in notes_on["answer"].get(a["id"], []):
                etree.SubElement(ts, P + "NoteRef", targetGUID=ng)
            vv = etree.SubElement(ts, P + "VariableValue")
            etree.SubElement(vv, P + "VariableRef", targetGUID=var_guid[QUESTION_VARIABLE])
            etree.SubElement(vv, P + "TextValue").text = xml_text(a["key"])
    if memos:
        from ..memos import PHASES

        notes = etree.SubElement(root, P + "Notes")
        for m in memos:
            attrs = {"guid": note_guid[m["id"]], "name": xml_text(m["title"] or "Memo"),
                     "creationDateTime": m["created_at"], "modifiedDateTime": m["updated_at"]}
            if m["coder"]:
                attrs["creatingUser"] = user_guid[m["coder"]]
            note = etree.SubElement(notes, P + "Note", attrs)
            if m["phase"]:
                etree.SubElement(note, P + "Description").text = f"Braun & Clarke phase {m['phase']}: {PHASES[m['phase']]}"
            etree.SubElement(note, P + "PlainTextContent").text = xml_text(m["body"])
    if nodes:
        _graph(store, root, guids, code_guid, title)
    for ng in project_notes:
        etree.SubElement(root, P + "NoteRef", targetGUID=ng)
    return _serialise(root), files


def _graph(store: Store, root: Any, guids: Guids, code_guid: dict[int, str], title: str) -> None:
    """The theme tree as a REFI graph, at the diagram's coordinates (points)."""
    from lxml import etree

    from .tree import layout_tree, tree_spec

    P = f"{{{PROJECT_NS}}}"
    layout = layout_tree(tree_spec(store, counts="none", depth=2), orientation="tb")
    graphs = etree.SubElement(root, P + "Graphs")
    graph = etree.SubElement(graphs, P + "Graph", guid=guids("graph", "theme tree"), name="Theme tree")
    vertex: dict[str, str] = {}
    for b in layout.boxes:
        g = guids("vertex", b.key)
        vertex[b.key] = g
        attrs = {"guid": g, "name": xml_text(b.name), "firstX": str(round(b.x)), "firstY": str(round(b.y)),
                 "secondX": str(round(b.x + b.w)), "secondY": str(round(b.y + b.h)), "shape": "RoundedRectangle",
                 "color": b.fill}
        if b.code_id is not None and b.code_id in code_guid:
            attrs["representedGUID"] = code_guid[b.code_id]
        etree.SubElement(graph, P + "Vertex", attrs)
    for b in layout.boxes:
        if b.key == "title":
            continue
        parent = "title" if b.level == 1 else b.key.rsplit(".", 1)[0]
        etree.SubElement(graph, P + "Edge", guid=guids("edge", parent, b.key), sourceVertex=vertex[parent],
                         targetVertex=vertex[b.key], direction="OneWay", lineStyle="solid")


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            zf.writestr(info, members[name])
    return buf.getvalue()


def render_qdpx(store: Store, **_: Any) -> bytes:
    """The whole project as a REFI-QDA project exchange file (a zip)."""
    qde, files = build_qde(store)
    return _zip({"project.qde": qde, **files})


def __getattr__(name: str) -> Any:
    if name in ("import_qdpx", "read_qdpx"):
        from . import refi_import

        return getattr(refi_import, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
