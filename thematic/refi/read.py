"""REFI-QDA project import (``.qdpx``, or a bare ``.qde`` with inline text) into a thematic project.

The file is read and checked completely first (:func:`read_qdpx`: zip names and sizes, XML without DTDs or
entities, every reference resolved, offsets inside their texts); only then is it written, as one undoable
:meth:`Store.action`, so a malformed file is one :class:`InvalidInput` and nothing is half-imported.

Mapping: text sources -> forms/answers (the ``question`` variable and the source's description, written by
thematic's own export, give the question; otherwise each document is one form answering the question
"document"); cases -> forms (their variables become metadata); selections -> segments (the text is cut at every
selection boundary, so the segments tile it; a piece with no letter or digit that no selection covers joins its
neighbour); codings -> codings (origin ``import``, coder from the coding's ``creatingUser``); users -> coders;
the codebook -> codes (existing codes at the same path are reused); notes -> memos.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import Conflict, InvalidInput
from ..store import Store, now
from .refi import PROJECT_NS, QUESTION_VARIABLE, clean_code_name, parse_description
from .safety import Src, parse_xml, read_source, read_zip

P = f"{{{PROJECT_NS}}}"
_WORD = re.compile(r"\w")
_PHASE = re.compile(r"^Braun & Clarke phase ([1-6])\b")
VALUE_TAGS = ("TextValue", "BooleanValue", "IntegerValue", "FloatValue", "DateValue", "DateTimeValue")


@dataclass
class CodeIn:
    guid: str
    path: tuple[str, ...]
    definition: str
    includes: str
    excludes: str
    examples: list[str]
    colour: str


@dataclass
class SelectionIn:
    guid: str
    start: int
    end: int
    codings: list[tuple[str, str | None, str | None]]  # code guid, user guid, created
    user: str | None


@dataclass
class SourceIn:
    guid: str
    name: str
    description: str
    text: str
    selections: list[SelectionIn]
    values: dict[str, str]


@dataclass
class NoteIn:
    guid: str
    title: str
    body: str
    phase: int | None
    user: str | None
    created: str | None
    modified: str | None


@dataclass
class ParsedProject:
    name: str
    sha256: str
    filename: str
    users: dict[str, str]
    codes: list[CodeIn]
    cases: list[tuple[str, dict[str, str], list[str]]]  # name, values, source guids
    sources: list[SourceIn]
    notes: list[NoteIn]
    note_targets: dict[str, tuple[str, str]] = field(default_factory=dict)  # note guid -> (kind, target guid)
    skipped: list[str] = field(default_factory=list)


def read_qdpx(src: Src) -> ParsedProject:
    """Parse and check a REFI-QDA project without touching any store."""
    data, filename = read_source(src)
    if data.lstrip()[:5] in (b"<?xml", b"<Proj"):
        qde, files = data, {}
    else:
        files = read_zip(data, what=f"REFI-QDA project {filename}")
        names = [n for n in files if n.lower().endswith(".qde") and "/" not in n]
        if not names:
            raise InvalidInput("no project.qde inside; this is not a REFI-QDA project (.qdpx)", path=filename)
        qde = files["project.qde"] if "project.qde" in files else files[sorted(names)[0]]
    root = parse_xml(qde, what=f"project.qde of {filename}")
    if root.tag != P + "Project":
        raise InvalidInput(f"the root element is {root.tag!r}, not a REFI-QDA <Project>", path=filename)
    out = ParsedProject(root.get("name") or "", hashlib.sha256(data).hexdigest(), filename, {}, [], [], [], [])
    for u in root.iterfind(f"{P}Users/{P}User"):
        out.users[_guid(u)] = " ".join((u.get("name") or u.get("id") or f"user {_guid(u)[:8]}").split())

    def codes(el: Any, path: tuple[str, ...]) -> None:
        seen: set[str] = set()
        for c in el.findall(P + "Code"):
            name = clean_code_name(c.get("name") or "", seen)
            d, inc, exc, ex = parse_description(c.findtext(P + "Description") or "")
            out.codes.append(CodeIn(_guid(c), (*path, name), d, inc, exc, ex, c.get("color") or ""))
            for ref in c.findall(P + "NoteRef"):
                out.note_targets.setdefault(_ref(ref), ("code", _guid(c)))
            codes(c, (*path, name))

    cb = root.find(f"{P}CodeBook/{P}Codes")
    if cb is not None:
        codes(cb, ())
    variables = {_guid(v): v.get("name") or "variable" for v in root.iterfind(f"{P}Variables/{P}Variable")}
    for case in root.iterfind(f"{P}Cases/{P}Case"):
        refs = [_ref(r) for r in case.findall(P + "SourceRef")]
        out.cases.append((case.get("name") or _guid(case), _values(case, variables), refs))
    sources_el = root.find(P + "Sources")
    for el in (sources_el if sources_el is not None else []):
        if not isinstance(el.tag, str):
            continue
        if el.tag != P + "TextSource":
            out.skipped.append(f"{el.tag.split('}')[-1]} {el.get('name') or _guid(el)}")
            continue
        out.sources.append(_source(el, files, variables, out, filename))
    for n in root.iterfind(f"{P}Notes/{P}Note"):
        text = _text_of(n, files, filename)
        m = _PHASE.match(n.findtext(P + "Description") or "")
        title = n.get("name") or ""
        out.notes.append(NoteIn(_guid(n), "" if title == "Memo" else title, text, int(m.group(1)) if m else None,
                                n.get("creatingUser"), n.get("creationDateTime"), n.get("modifiedDateTime")))
    code_guids = {c.guid for c in out.codes}
    for s in out.sources:
        for sel in s.selections:
            for cg, _, _ in sel.codings:
                if cg not in code_guids:
                    raise InvalidInput(f"a coding in source {s.name!r} refers to code {cg}, which the codebook lacks",
                                       path=filename)
    return out


def _guid(el: Any) -> str:
    g = (el.get("guid") or "").strip().strip("{}").lower()
    if not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", g):
        raise InvalidInput(f"<{el.tag.split('}')[-1]}> has an invalid guid {el.get('guid')!r}")
    return g


def _ref(el: Any) -> str:
    return (el.get("targetGUID") or "").strip().strip("{}").lower()


def _values(el: Any, variables: dict[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for vv in el.findall(P + "VariableValue"):
        ref = vv.find(P + "VariableRef")
        name = variables.get(_ref(ref)) if ref is not None else None
        if name is None:
            continue
        for tag in VALUE_TAGS:
            v = vv.find(P + tag)
            if v is not None and (v.text or "").strip():
                out[name] = " ".join((v.text or "").split())
    return out


def _text_of(el: Any, files: dict[str, bytes], filename: str) -> str:
    content = el.find(P + "PlainTextContent")
    if content is not None:
        return content.text or ""
    path = el.get("plainTextPath") or ""
    if not path:
        return ""
    if not path.startswith("internal://"):
        raise InvalidInput(f"source {el.get('name')!r} points outside the project file ({path}); export it with "
                           "its sources embedded", path=filename)
    member = "sources/" + path[len("internal://"):]
    if member not in files:
        raise InvalidInput(f"{member} is missing from the archive", path=filename)
    try:
        return files[member].decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{member} is not UTF-8 text", path=filename) from exc


def _source(el: Any, files: dict[str, bytes], variables: dict[str, str], out: ParsedProject, filename: str) -> SourceIn:
    text = _text_of(el, files, filename)
    g = _guid(el)
    name = el.get("name") or g
    sels: list[SelectionIn] = []
    for s in el.findall(P + "PlainTextSelection"):
        try:
            start, end = int(s.get("startPosition") or ""), int(s.get("endPosition") or "")
        except ValueError as exc:
            raise InvalidInput(f"a selection in source {name!r} has non-numeric positions", path=filename) from exc
        if not 0 <= start <= end or start > len(text):
            raise InvalidInput(f"a selection in source {name!r} spans {start}-{end}, outside its {len(text)} "
                               "characters", path=filename)
        end = min(end, len(text))
        codings = [(_ref(c.find(P + "CodeRef")), c.get("creatingUser"),
                    c.get("creationDateTime")) for c in s.findall(P + "Coding") if c.find(P + "CodeRef") is not None]
        sel = SelectionIn(_guid(s), start, end, codings, s.get("creatingUser"))
        for ref in s.findall(P + "NoteRef"):
            out.note_targets.setdefault(_ref(ref), ("selection", sel.guid))
        if end > start:
            sels.append(sel)
    whole = [(_ref(c.find(P + "CodeRef")), c.get("creatingUser"),
              c.get("creationDateTime")) for c in el.findall(P + "Coding") if c.find(P + "CodeRef") is not None]
    if whole and text:
        sels.append(SelectionIn(f"{g}-whole", 0, len(text), whole, None))
    for ref in el.findall(P + "NoteRef"):
        out.note_targets.setdefault(_ref(ref), ("source", g))
    return SourceIn(g, name, el.findtext(P + "Description") or "", text, sels, _values(el, variables))


def pieces(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Cut ``text`` at every span boundary; pieces with no letter or digit that no span covers join a neighbour."""
    bounds = sorted({0, len(text), *(s for s, _ in spans), *(e for _, e in spans)})
    out: list[tuple[int, int]] = []
    carry: int | None = None
    for a, b in zip(bounds, bounds[1:]):
        covered = any(s < b and e > a for s, e in spans)
        if not covered and not _WORD.search(text[a:b]):
            if out:
                out[-1] = (out[-1][0], b)
            elif carry is None:
                carry = a
            continue
        out.append((carry if carry is not None else a, b))
        carry = None
    return out


def import_qdpx(store: Store, src: Src, *, actor: str | None = None) -> dict[str, int]:
    """Import a REFI-QDA project into ``store`` in one undoable step; returns what was added."""
    pr = read_qdpx(src)
    if store.query_one("SELECT 1 FROM sources WHERE sha256 = ?", (pr.sha256,)):
        raise Conflict(f"{pr.filename} was already imported into this project")
    case_of: dict[str, tuple[str, dict[str, str]]] = {}
    for name, values, refs in pr.cases:
        for r in refs:
            case_of.setdefault(r, (name, values))
    stats = {"forms": 0, "answers": 0, "segments": 0, "codes": 0, "codings": 0, "memos": 0, "coders": 0}
    summary = f"Import REFI-QDA project {pr.filename} ({len(pr.sources)} sources, {len(pr.codes)} codes)"
    with store.action("import.qdpx", summary, actor=actor, details={"file": pr.filename, "sha256": pr.sha256}) as act:
        t = now()
        if not store.get_setting("title") and pr.name:
            act.execute("INSERT OR REPLACE INTO project (key, value) VALUES ('title', ?)", (pr.name,))
        source_id = act.insert("INSERT INTO sources (name, sha256, imported_at, options) VALUES (?, ?, ?, ?)",
                               (pr.filename, pr.sha256, t, json.dumps({"format": "refi-qda"})))
        coder_ids: dict[str, int] = {}

        def coder(user_guid: str | None) -> int:
            name = pr.users.get((user_guid or "").strip("{}").lower()) or actor or "imported"
            if name not in coder_ids:
                row = act.execute("SELECT id FROM coders WHERE name = ?", (name,)).fetchone()
                if row is None:
                    stats["coders"] += 1
                    coder_ids[name] = act.insert("INSERT INTO coders (name, created_at) VALUES (?, ?)", (name, t))
                else:
                    coder_ids[name] = int(row[0])
            return coder_ids[name]

        for ug in pr.users:
            coder(ug)
        code_id: dict[str, int] = {}
        by_path: dict[tuple[str, ...], int] = {}
        for c in pr.codes:
            parent = by_path.get(c.path[:-1]) if len(c.path) > 1 else None
            row = act.execute("SELECT id FROM codes WHERE parent_id IS ? AND lower(name) = lower(?)",
                              (parent, c.path[-1])).fetchone()
            if row is None:
                pos = act.execute("SELECT coalesce(max(position) + 1, 0) FROM codes WHERE parent_id IS ?",
                                  (parent,)).fetchone()[0]
                cid = act.insert(
                    "INSERT INTO codes (parent_id, name, definition, includes, excludes, colour, position, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (parent, c.path[-1], c.definition, c.includes, c.excludes, c.colour.upper(), pos, t))
                act.executemany("INSERT INTO code_examples (code_id, text) VALUES (?, ?)", [(cid, e) for e in c.examples])
                stats["codes"] += 1
            else:
                cid = int(row[0])
            code_id[c.guid] = by_path[c.path] = cid
        form_ids: dict[str, int] = {}
        used: set[tuple[str, str]] = set()
        answer_of: dict[str, int] = {}
        segment_of: dict[str, int] = {}
        for s in pr.sources:
            case = case_of.get(s.guid)
            ext = case[0] if case else s.name
            qkey = s.values.get(QUESTION_VARIABLE) or "document"
            if (ext, qkey) in used:
                qkey = f"{qkey} ({s.name})"
            used.add((ext, qkey))
            if ext not in form_ids:
                if act.execute("SELECT 1 FROM forms WHERE external_id = ?", (ext,)).fetchone():
                    raise Conflict(f"form {ext!r} already exists in this project; import into a new project")
                fid = form_ids[ext] = act.insert(
                    "INSERT INTO forms (external_id, source_id) VALUES (?, ?)", (ext, source_id))
                stats["forms"] += 1
                meta = {k: v for k, v in {**s.values, **(case[1] if case else {})}.items() if k != QUESTION_VARIABLE}
                act.executemany("INSERT INTO form_meta (form_id, field, value) VALUES (?, ?, ?)",
                                [(fid, k, v) for k, v in sorted(meta.items())])
            q = act.execute("SELECT id FROM questions WHERE key = ?", (qkey,)).fetchone()
            if q is None:
                pos = act.execute("SELECT coalesce(max(position) + 1, 0) FROM questions").fetchone()[0]
                label = " ".join(s.description.split()) or ("Document text" if qkey == "document" else qkey)
                qid = act.insert("INSERT INTO questions (key, label, position) VALUES (?, ?, ?)", (qkey, label, pos))
            else:
                qid = int(q[0])
            aid = act.insert("INSERT INTO answers (form_id, question_id, text) VALUES (?, ?, ?)",
                             (form_ids[ext], qid, s.text))
            answer_of[s.guid] = aid
            stats["answers"] += 1
            spans = [(sel.start, sel.end) for sel in s.selections]
            seg_ids: list[tuple[int, int, int]] = []
            for i, (a, b) in enumerate(pieces(s.text, spans)):
                sid = act.insert('INSERT INTO segments (answer_id, position, start, "end", text) VALUES (?, ?, ?, ?, ?)',
                                 (aid, i, a, b, s.text[a:b]))
                seg_ids.append((a, b, sid))
            stats["segments"] += len(seg_ids)
            for sel in s.selections:
                hits = [sid for a, b, sid in seg_ids if a < sel.end and b > sel.start]
                if hits:
                    segment_of[sel.guid] = hits[0]
                for cg, user, created in sel.codings:
                    for sid in hits:
                        n = act.execute(
                            "INSERT OR IGNORE INTO codings (segment_id, code_id, coder_id, origin, created_at) "
                            "VALUES (?, ?, ?, 'import', ?)", (sid, code_id[cg], coder(user or sel.user), created or t)
                        ).rowcount
                        stats["codings"] += n
        for n in pr.notes:
            kind, target = pr.note_targets.get(n.guid, ("", ""))
            cols = {"code_id": code_id.get(target) if kind == "code" else None,
                    "answer_id": answer_of.get(target) if kind == "source" else None,
                    "segment_id": segment_of.get(target) if kind == "selection" else None}
            act.execute(
                "INSERT INTO memos (phase, code_id, segment_id, answer_id, coder_id, title, body, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (n.phase, cols["code_id"], cols["segment_id"], cols["answer_id"], coder(n.user) if n.user else None,
                 n.title, n.body or "(empty note)", n.created or t, n.modified or n.created or t))
            stats["memos"] += 1
        act.details.update(stats)
    stats["skipped_sources"] = len(pr.skipped)
    return stats
