"""The whole project as a REFI-QDA project (``.qdpx``): see :mod:`thematic.refi` for the mapping."""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from ..codebook.codes import list_codes, tree
from ..corpus import form_meta, meta_fields
from ..errors import InvalidInput
from ..export.safety import xml_text
from ..memos import PHASES
from ..store import Store
from ._common import (
    DEFAULT_OFFSETS,
    OFFSETS,
    PROJECT_NS,
    QUESTION_VARIABLE,
    Guids,
    Offsets,
    origin,
    portable_name,
    serialise,
    to_units,
    unique_name,
    utc,
)
from .qdc import codes_xml, title

P = f"{{{PROJECT_NS}}}"
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass
class _Ctx:
    """What the parts of one export share."""

    store: Store
    guids: Guids
    offsets: Offsets
    user_guid: dict[str, str] = field(default_factory=dict)
    code_guid: dict[int, str] = field(default_factory=dict)
    note_guid: dict[int, str] = field(default_factory=dict)
    memo: dict[int, Any] = field(default_factory=dict)  # memo id -> row
    notes_on: dict[str, dict[int, list[int]]] = field(default_factory=dict)  # kind -> target id -> memo ids
    files: dict[str, bytes] = field(default_factory=dict)


def _memo_targets(memos: list[Any]) -> dict[str, dict[int, list[int]]]:
    out: dict[str, dict[int, list[int]]] = {k: defaultdict(list) for k in ("code", "answer", "segment", "project")}
    for m in memos:
        for kind, col in (("segment", "segment_id"), ("answer", "answer_id"), ("code", "code_id")):
            if m[col] is not None:
                out[kind][m[col]].append(m["id"])
                break
        else:
            out["project"][0].append(m["id"])
    return out


def _users(ctx: _Ctx, root: Any) -> None:
    from lxml import etree

    coders = [r[0] for r in ctx.store.query("SELECT name FROM coders ORDER BY name")]
    ctx.user_guid.update({n: ctx.guids("user", n) for n in coders})
    if coders:
        users = etree.SubElement(root, P + "Users")
        for n in coders:
            etree.SubElement(users, P + "User", guid=ctx.user_guid[n], name=xml_text(n))


def _forms(store: Store) -> tuple[list[Any], dict[int, list[Any]]]:
    forms = store.query("SELECT id, external_id FROM forms ORDER BY id")
    answers = store.query(
        "SELECT a.id, a.form_id, f.external_id, q.key, q.label, a.text FROM answers a JOIN forms f ON f.id = a.form_id "
        "JOIN questions q ON q.id = a.question_id ORDER BY a.form_id, q.position, q.id")
    by_form: dict[int, list[Any]] = defaultdict(list)
    for a in answers:
        by_form[a["form_id"]].append(a)
    return forms, by_form


def _value(parent: Any, var_guid: str, value: str) -> None:
    from lxml import etree

    vv = etree.SubElement(parent, P + "VariableValue")
    etree.SubElement(vv, P + "VariableRef", targetGUID=var_guid)
    etree.SubElement(vv, P + "TextValue").text = xml_text(value)


def _variables_and_cases(ctx: _Ctx, root: Any, forms: list[Any], by_form: dict[int, list[Any]],
                         source_guid: dict[int, str]) -> dict[str, str]:
    """<Variables> and one <Case> per form (with its metadata, and SourceRefs to its answers if any)."""
    from lxml import etree

    fields = meta_fields(ctx.store)
    meta = form_meta(ctx.store)
    var_guid = {n: ctx.guids("variable", n) for n in [QUESTION_VARIABLE, *fields]}
    if not forms:
        return var_guid
    variables = etree.SubElement(root, P + "Variables")
    for n in [QUESTION_VARIABLE, *fields]:
        v = etree.SubElement(variables, P + "Variable", guid=var_guid[n], name=xml_text(n), typeOfVariable="Text")
        etree.SubElement(v, P + "Description").text = (
            "The question this answer replies to" if n == QUESTION_VARIABLE else "Respondent (form) metadata")
    cases = etree.SubElement(root, P + "Cases")
    for f in forms:
        case = etree.SubElement(cases, P + "Case", guid=ctx.guids("case", f["external_id"]),
                                name=xml_text(f["external_id"]))
        for fld in fields:
            if fld in meta.get(f["id"], {}):
                _value(case, var_guid[fld], meta[f["id"]][fld])
        for a in by_form.get(f["id"], []):
            etree.SubElement(case, P + "SourceRef", targetGUID=source_guid[a["id"]])
    return var_guid


def _codings_by_answer(store: Store) -> dict[int, dict[tuple[int, int, int], list[Any]]]:
    """answer id -> (start, end, segment id) -> coding rows."""
    coded: dict[int, dict[tuple[int, int, int], list[Any]]] = defaultdict(lambda: defaultdict(list))
    for r in store.query(
        "SELECT s.answer_id, s.id AS segment_id, s.start, s.\"end\", c.code_id, k.name AS coder, c.created_at "
        "FROM codings c JOIN segments s ON s.id = c.segment_id JOIN coders k ON k.id = c.coder_id"
    ):
        coded[r["answer_id"]][(r["start"], r["end"], r["segment_id"])].append(r)
    return coded


def _selections(ctx: _Ctx, ts: Any, a: Any, src_guid: str, spans: dict[tuple[int, int, int], list[Any]],
                units: list[int], code_order: dict[int, int]) -> None:
    """One <PlainTextSelection> per (segment, coder), the coder and the first coding's date on it and on each
    <Coding>; a note on the segment hangs from its first selection."""
    from lxml import etree

    for (start, end, seg_id), rows in sorted(spans.items()):
        if not rows:
            _noted_selection(ctx, ts, src_guid, seg_id, units[min(start, len(units) - 1)],
                             units[min(end, len(units) - 1)])
            continue
        by_coder: dict[str, list[Any]] = defaultdict(list)
        for r in rows:
            by_coder[r["coder"]].append(r)
        for i, (coder, mine) in enumerate(sorted(by_coder.items())):
            sel_g = ctx.guids("selection", src_guid, start, end, coder)
            sel = etree.SubElement(ts, P + "PlainTextSelection", guid=sel_g, name=xml_text(a["text"][start:end][:60]),
                                   startPosition=str(units[min(start, len(units) - 1)]),
                                   endPosition=str(units[min(end, len(units) - 1)]),
                                   creatingUser=ctx.user_guid[coder],
                                   creationDateTime=utc(min(r["created_at"] for r in mine)))
            for r in sorted(mine, key=lambda r: code_order.get(r["code_id"], 0)):
                cg = ctx.code_guid[r["code_id"]]
                coding = etree.SubElement(sel, P + "Coding", guid=ctx.guids("coding", sel_g, cg, coder),
                                          creatingUser=ctx.user_guid[coder], creationDateTime=utc(r["created_at"]))
                etree.SubElement(coding, P + "CodeRef", targetGUID=cg)
            if i == 0:
                for memo_id in ctx.notes_on["segment"].get(seg_id, []):
                    etree.SubElement(sel, P + "NoteRef", targetGUID=ctx.note_guid[memo_id])


def _noted_selection(ctx: _Ctx, ts: Any, src_guid: str, seg_id: int, start: int, end: int) -> None:
    """A segment nobody coded but someone wrote a note on: a selection holding the note's text as its description
    (how QualCoder and MAXQDA keep an annotation) and a NoteRef to the note."""
    from lxml import etree

    memo_ids = ctx.notes_on["segment"][seg_id]
    first = ctx.memo[memo_ids[0]]
    attrs = {"guid": ctx.guids("selection", src_guid, start, end, ""), "startPosition": str(start),
             "endPosition": str(end), "creationDateTime": utc(first["created_at"])}
    if first["coder"]:
        attrs["creatingUser"] = ctx.user_guid[first["coder"]]
    sel = etree.SubElement(ts, P + "PlainTextSelection", attrs)
    etree.SubElement(sel, P + "Description").text = xml_text("\n\n".join(ctx.memo[i]["body"] for i in memo_ids))
    for memo_id in memo_ids:
        etree.SubElement(sel, P + "NoteRef", targetGUID=ctx.note_guid[memo_id])


def _sources(ctx: _Ctx, root: Any, answers: list[Any], source_guid: dict[int, str], var_guid: dict[str, str]
             ) -> dict[int, tuple[str, int, int, list[int]]]:
    """<Sources>; returns segment id -> (source guid, start, end, units) for the notes on segments."""
    from lxml import etree

    code_order = {c.id: i for i, c in enumerate(list_codes(ctx.store))}
    coded = _codings_by_answer(ctx.store)
    seg_notes: dict[int, tuple[str, int, int, list[int]]] = {}
    noted: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for seg_id in ctx.notes_on["segment"]:
        for row in ctx.store.query('SELECT answer_id, start, "end" FROM segments WHERE id = ?', (seg_id,)):
            noted[row[0]].append((seg_id, row[1], row[2]))
    if not answers:
        return seg_notes
    sources = etree.SubElement(root, P + "Sources")
    names: set[str] = set()
    for a in answers:
        g = source_guid[a["id"]]
        units = to_units(a["text"], ctx.offsets)
        ctx.files[f"sources/{g}.txt"] = a["text"].encode("utf-8")
        ts = etree.SubElement(sources, P + "TextSource", guid=g,
                              name=portable_name(f"{a['external_id']} - {a['key']}", names),
                              plainTextPath=f"internal://{g}.txt")
        etree.SubElement(ts, P + "Description").text = xml_text(a["label"])
        spans = coded.get(a["id"], {})
        uncoded: dict[tuple[int, int, int], list[Any]] = {(start, end, seg_id): [] for seg_id, start, end in noted.get(a["id"], [])
                   if (start, end, seg_id) not in spans}
        _selections(ctx, ts, a, g, {**spans, **uncoded}, units, code_order)
        for memo_id in ctx.notes_on["answer"].get(a["id"], []):
            etree.SubElement(ts, P + "NoteRef", targetGUID=ctx.note_guid[memo_id])
        for seg_id, start, end in noted.get(a["id"], []):
            seg_notes[seg_id] = (g, start, end, units)
            if (start, end, seg_id) in uncoded:
                continue  # the selection's description is what other tools show; a NoteRef here would double it
            for memo_id in ctx.notes_on["segment"][seg_id]:
                etree.SubElement(ts, P + "NoteRef", targetGUID=ctx.note_guid[memo_id])
        _value(ts, var_guid[QUESTION_VARIABLE], a["key"])
    return seg_notes


def _notes(ctx: _Ctx, root: Any, memos: list[Any], answers: list[Any],
           seg_notes: dict[int, tuple[str, int, int, list[int]]]) -> None:
    """<Notes>. Journal entries and notes on codes keep their text in ``sources/<guid>.txt`` (``plainTextPath``);
    notes on an answer or a segment hold it inline with the span they are about (a <PlainTextSelection> inside the
    note, as QualCoder and MAXQDA write annotations), since the schema wants one of the two, not both."""
    from lxml import etree

    if not memos:
        return
    answer_units = {a["id"]: to_units(a["text"], ctx.offsets)[-1] for a in answers}
    span_of: dict[int, tuple[int, int]] = {}
    for aid, memo_ids in ctx.notes_on["answer"].items():
        for memo_id in memo_ids:
            span_of[memo_id] = (0, answer_units[aid])
    for seg_id, memo_ids in ctx.notes_on["segment"].items():
        _, start, end, units = seg_notes[seg_id]
        for memo_id in memo_ids:
            span_of[memo_id] = (units[min(start, len(units) - 1)], units[min(end, len(units) - 1)])
    notes = etree.SubElement(root, P + "Notes")
    names: set[str] = set()
    for m in memos:
        g = ctx.note_guid[m["id"]]
        attrs = {"guid": g, "name": unique_name(xml_text(m["title"] or "Memo"), names),
                 "creationDateTime": utc(m["created_at"]), "modifiedDateTime": utc(m["updated_at"])}
        if m["coder"]:
            attrs["creatingUser"] = attrs["modifyingUser"] = ctx.user_guid[m["coder"]]
        if m["id"] not in span_of:
            attrs["plainTextPath"] = f"internal://{g}.txt"
            ctx.files[f"sources/{g}.txt"] = xml_text(m["body"]).encode("utf-8")
        note = etree.SubElement(notes, P + "Note", attrs)
        if m["phase"]:
            etree.SubElement(note, P + "Description").text = f"Braun & Clarke phase {m['phase']}: {PHASES[m['phase']]}"
        if m["id"] in span_of:
            etree.SubElement(note, P + "PlainTextContent").text = xml_text(m["body"])
            start, end = span_of[m["id"]]
            etree.SubElement(note, P + "PlainTextSelection", guid=ctx.guids("note selection", g),
                             startPosition=str(start), endPosition=str(end))


def build_qde(store: Store, *, offsets: Offsets = DEFAULT_OFFSETS) -> tuple[bytes, dict[str, bytes]]:
    """``project.qde`` and the archive's other files (``sources/<guid>.txt`` -> UTF-8 text)."""
    from lxml import etree

    if offsets not in OFFSETS:
        raise InvalidInput(f"offsets must be one of {', '.join(OFFSETS)}, not {offsets!r}")
    name = title(store)
    ctx = _Ctx(store, Guids(name), offsets)
    memos = store.query(
        "SELECT m.*, k.name AS coder FROM memos m LEFT JOIN coders k ON k.id = m.coder_id ORDER BY m.created_at, m.id")
    for m in memos:  # keyed on what survives a round trip (the time to the second, as written)
        key = ("note", utc(m["created_at"]), m["title"], hashlib.sha256(m["body"].encode()).hexdigest())
        g, k = ctx.guids(*key), 2
        while g in ctx.note_guid.values():
            g, k = ctx.guids(*key, k), k + 1
        ctx.note_guid[m["id"]] = g
    ctx.notes_on = _memo_targets(memos)
    ctx.memo = {m["id"]: m for m in memos}
    root = etree.Element(P + "Project", nsmap={None: PROJECT_NS}, name=xml_text(name), origin=origin(offsets))
    _users(ctx, root)
    nodes = tree(store)
    if nodes:
        codes_el = etree.SubElement(etree.SubElement(root, P + "CodeBook"), P + "Codes")
        code_notes = {cid: [ctx.note_guid[m] for m in ids] for cid, ids in ctx.notes_on["code"].items()}
        ctx.code_guid = codes_xml(codes_el, nodes, PROJECT_NS, ctx.guids, notes=code_notes)
    forms, by_form = _forms(store)
    answers = [a for f in forms for a in by_form.get(f["id"], [])]
    source_guid = {a["id"]: ctx.guids("source", a["external_id"], a["key"]) for a in answers}
    var_guid = _variables_and_cases(ctx, root, forms, by_form, source_guid)
    seg_notes = _sources(ctx, root, answers, source_guid, var_guid)
    _notes(ctx, root, memos, answers, seg_notes)
    if nodes:
        _graph(store, root, ctx.guids, ctx.code_guid)
    for memo_id in ctx.notes_on["project"].get(0, []):
        etree.SubElement(root, P + "NoteRef", targetGUID=ctx.note_guid[memo_id])
    return serialise(root), ctx.files


def _graph(store: Store, root: Any, guids: Guids, code_guid: dict[int, str]) -> None:
    """The theme tree as a REFI graph, at the diagram's coordinates (points)."""
    from lxml import etree

    from ..export.tree import layout_tree, tree_spec

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


def render_qdpx(store: Store, *, offsets: Offsets = DEFAULT_OFFSETS) -> bytes:
    """The whole project as a REFI-QDA project exchange file (a zip). ``offsets``: the unit of selection
    positions, ``"utf16"`` (NVivo, ATLAS.ti, MAXQDA; the default) or ``"codepoints"`` (QualCoder)."""
    qde, files = build_qde(store, offsets=offsets)
    return _zip({"project.qde": qde, **files})
