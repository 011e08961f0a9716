"""Reading a REFI-QDA project (``.qdpx``, or a bare ``.qde`` with inline text) without touching any store.

The file is read and checked completely (zip names and sizes, XML without DTDs or entities, every reference
resolved, offsets inside their texts) into a :class:`ParsedProject`; :mod:`thematic.refi.load` then writes it."""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput
from ..export.safety import Src, parse_xml, read_source, read_zip
from ..limits import MAX_NAME_LENGTH
from ._common import (
    OFFSETS,
    PROJECT_NS,
    Offsets,
    clean_code_name,
    from_units,
    parse_description,
    stored_time,
)

P = f"{{{PROJECT_NS}}}"
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
class CodingIn:
    code: str  # code guid
    user: str | None  # user guid: the coding's, else its selection's
    created: str | None  # as stored: the coding's, else its selection's


@dataclass
class SelectionIn:
    guid: str
    start: int  # code points
    end: int
    codings: list[CodingIn]
    name: str = ""  # many tools (thematic, QualCoder) name a selection by its text
    raw: tuple[int, int] = (0, 0)  # the positions as written, in the file's unit


@dataclass
class SourceIn:
    guid: str
    name: str
    description: str
    text: str
    selections: list[SelectionIn]
    values: dict[str, str]


@dataclass
class CaseIn:
    guid: str
    name: str
    values: dict[str, str]
    sources: list[str]  # source guids


@dataclass
class NoteIn:
    guid: str
    title: str
    body: str
    phase: int | None
    user: str | None
    created: str | None
    modified: str | None
    span: tuple[int, int] | None = None  # its own PlainTextSelection, in the file's unit until resolved


@dataclass
class ParsedProject:
    name: str
    sha256: str
    filename: str
    offsets: Offsets
    users: dict[str, str] = field(default_factory=dict)
    codes: list[CodeIn] = field(default_factory=list)
    cases: list[CaseIn] = field(default_factory=list)
    sources: list[SourceIn] = field(default_factory=list)
    notes: list[NoteIn] = field(default_factory=list)
    note_targets: dict[str, tuple[str, str]] = field(default_factory=dict)  # note guid -> (kind, target guid)
    skipped: list[str] = field(default_factory=list)


def read_qdpx(src: Src, *, offsets: Offsets | None = None) -> ParsedProject:
    """Parse and check a REFI-QDA project. ``offsets``: the unit of its selection positions; None: QualCoder's
    files and thematic's own code-point exports count code points, everything else UTF-16 units."""
    data, filename = read_source(src)
    root, files = _open(data, filename)
    if offsets is not None and offsets not in OFFSETS:
        raise InvalidInput(f"offsets must be one of {', '.join(OFFSETS)}, not {offsets!r}")
    out = ParsedProject(root.get("name") or "", hashlib.sha256(data).hexdigest(), filename,
                        offsets or _offsets_of(root.get("origin") or ""))
    for u in root.iterfind(f"{P}Users/{P}User"):
        out.users[_guid(u)] = " ".join((u.get("name") or u.get("id") or f"user {_guid(u)[:8]}").split())
    cb = root.find(f"{P}CodeBook/{P}Codes")
    if cb is not None:
        _codes(cb, (), out)
    variables = {_guid(v): v.get("name") or "variable" for v in root.iterfind(f"{P}Variables/{P}Variable")}
    for case in root.iterfind(f"{P}Cases/{P}Case"):
        out.cases.append(CaseIn(_guid(case), " ".join((case.get("name") or "").split()), _values(case, variables),
                                [_ref(r) for r in case.findall(P + "SourceRef")]))
    _sources(root, files, variables, out)
    for n in root.iterfind(f"{P}Notes/{P}Note"):
        out.notes.append(_note(n, files, filename))
    for ref in root.findall(P + "NoteRef"):
        out.note_targets.setdefault(_ref(ref), ("project", ""))
    _check(out)
    return out


def _sources(root: Any, files: dict[str, bytes], variables: dict[str, str], out: ParsedProject) -> None:
    sources_el = root.find(P + "Sources")
    for el in (sources_el if sources_el is not None else []):
        if not isinstance(el.tag, str):
            continue
        if el.tag != P + "TextSource":
            out.skipped.append(f"{el.tag.split('}')[-1]} {el.get('name') or _guid(el)}")
            continue
        out.sources.append(_source(el, files, variables, out))


def _open(data: bytes, filename: str) -> tuple[Any, dict[str, bytes]]:
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
    return root, files


def _offsets_of(origin: str) -> Offsets:
    low = origin.lower()
    return "codepoints" if "qualcoder" in low or "offsets: codepoints" in low else "utf16"


def _codes(el: Any, path: tuple[str, ...], out: ParsedProject) -> None:
    seen: set[str] = set()
    for c in el.findall(P + "Code"):
        name = clean_code_name(c.get("name") or "", seen, where=out.filename)
        d, inc, exc, ex = parse_description(c.findtext(P + "Description") or "")
        out.codes.append(CodeIn(_guid(c), (*path, name), d, inc, exc, ex, c.get("color") or ""))
        for ref in c.findall(P + "NoteRef"):
            out.note_targets.setdefault(_ref(ref), ("code", _guid(c)))
        _codes(c, (*path, name), out)


def _guid(el: Any) -> str:
    g = (el.get("guid") or "").strip().strip("{}").lower()
    if not re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", g):
        raise InvalidInput(f"<{el.tag.split('}')[-1]}> has an invalid guid {el.get('guid')!r}")
    return g


def _ref(el: Any) -> str:
    return (el.get("targetGUID") or "").strip().strip("{}").lower()


def _user(el: Any) -> str | None:
    u = el.get("creatingUser") or el.get("modifyingUser")
    return u.strip().strip("{}").lower() if u else None


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
    name = path[len("internal://"):].lstrip("/")
    member = next((m for m in (f"sources/{name}", f"Sources/{name}") if m in files), None)
    if member is None:
        raise InvalidInput(f"sources/{name} is missing from the archive", path=filename)
    try:
        return files[member].decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"{member} is not UTF-8 text", path=filename) from exc


def _positions(el: Any, where: str, filename: str) -> tuple[int, int]:
    try:
        return int(el.get("startPosition") or ""), int(el.get("endPosition") or "")
    except ValueError as exc:
        raise InvalidInput(f"a selection in {where} has non-numeric positions", path=filename) from exc


def to_codepoints(text: str, start: int, end: int, offsets: Offsets, where: str, filename: str) -> tuple[int, int]:
    """A selection's positions, in the file's unit, as code-point offsets into ``text`` (checked)."""
    units = from_units(text, offsets)
    top = max(units)
    if not 0 <= start <= end or start > top:
        raise InvalidInput(f"a selection in {where} spans {start}-{end}, outside its {top} characters", path=filename)
    end = min(end, top)
    if start not in units or end not in units:
        raise InvalidInput(f"a selection in {where} starts or ends inside a character ({start}-{end} in "
                           f"{offsets} units); import with --offsets "
                           f"{'codepoints' if offsets == 'utf16' else 'utf16'}", path=filename)
    return units[start], units[end]


def _selection(s: Any, text: str, where: str, out: ParsedProject) -> SelectionIn:
    """A selection with its codings: the user and date of each coding, else of the selection (QualCoder reads
    them from the selection, NVivo writes them on both)."""
    raw = _positions(s, where, out.filename)
    start, end = to_codepoints(text, *raw, out.offsets, where, out.filename)
    sel_user, sel_created = _user(s), s.get("creationDateTime") or s.get("modifiedDateTime")
    codings = [CodingIn(_ref(c.find(P + "CodeRef")), _user(c) or sel_user,
                        stored_time(c.get("creationDateTime") or sel_created))
               for c in s.findall(P + "Coding") if c.find(P + "CodeRef") is not None]
    sel = SelectionIn(_guid(s), start, end, codings, " ".join((s.get("name") or "").split()), raw)
    refs = s.findall(P + "NoteRef")
    for ref in refs:
        out.note_targets[_ref(ref)] = ("selection", sel.guid)  # a selection is more precise than its source
    memo = (s.findtext(P + "Description") or "").strip()
    if memo and not refs:  # MAXQDA and QualCoder keep a note on a selection as its description
        out.notes.append(NoteIn(f"{sel.guid}-description", "", memo, None, sel_user, stored_time(sel_created),
                                stored_time(s.get("modifiedDateTime") or sel_created)))
        out.note_targets[f"{sel.guid}-description"] = ("selection", sel.guid)
    return sel


def _source(el: Any, files: dict[str, bytes], variables: dict[str, str], out: ParsedProject) -> SourceIn:
    text = _text_of(el, files, out.filename)
    g = _guid(el)
    name = el.get("name") or g
    where = f"source {name!r}"
    sels = [sel for s in el.findall(P + "PlainTextSelection") if (sel := _selection(s, text, where, out)).end > sel.start]
    whole = [CodingIn(_ref(c.find(P + "CodeRef")), _user(c), stored_time(c.get("creationDateTime")))
             for c in el.findall(P + "Coding") if c.find(P + "CodeRef") is not None]
    if whole and text:
        sels.append(SelectionIn(f"{g}-whole", 0, len(text), whole))
    for ref in el.findall(P + "NoteRef"):
        out.note_targets.setdefault(_ref(ref), ("source", g))
    return SourceIn(g, name, el.findtext(P + "Description") or "", text, sels, _values(el, variables))


def _note(n: Any, files: dict[str, bytes], filename: str) -> NoteIn:
    m = _PHASE.match(n.findtext(P + "Description") or "")
    title = " ".join((n.get("name") or "").split())
    if re.fullmatch(r"Memo( \(\d+\))?", title):  # thematic's name for an untitled memo
        title = ""
    note = NoteIn(_guid(n), title[:MAX_NAME_LENGTH], _text_of(n, files, filename), int(m.group(1)) if m else None,
                  _user(n), stored_time(n.get("creationDateTime") or n.get("modifiedDateTime")),
                  stored_time(n.get("modifiedDateTime") or n.get("creationDateTime")))
    sel = n.find(P + "PlainTextSelection")
    if sel is not None:
        note.span = _positions(sel, f"note {title or note.guid}", filename)
    return note


def _check(out: ParsedProject) -> None:
    """Every coding names a code of the codebook; notes' own spans become code points of the source they are on."""
    code_guids = {c.guid for c in out.codes}
    for s in out.sources:
        for sel in s.selections:
            for c in sel.codings:
                if c.code not in code_guids:
                    raise InvalidInput(f"a coding in source {s.name!r} refers to code {c.code}, which the codebook "
                                       "lacks", path=out.filename)
    _check_unit(out)
    text_of = {s.guid: s.text for s in out.sources}
    for n in out.notes:
        kind, target = out.note_targets.get(n.guid, ("", ""))
        if n.span is None or kind != "source":
            n.span = None
            continue
        n.span = to_codepoints(text_of[target], *n.span, out.offsets, f"note {n.title or n.guid}", out.filename)


def _check_unit(out: ParsedProject) -> None:
    """Refuse positions read in the wrong unit: where selections are named by their text (thematic and QualCoder
    do that) and, in text beyond U+FFFF, more of them select their own text when read in the other unit."""
    other: Offsets = "codepoints" if out.offsets == "utf16" else "utf16"
    here = there = 0
    for s in out.sources:
        if all(ord(ch) <= 0xFFFF for ch in s.text):
            continue
        for sel in s.selections:
            if not sel.name:
                continue
            here += _names(s.text, sel.start, sel.end, sel.name)
            with contextlib.suppress(InvalidInput):  # a position inside a character in the other unit: no match
                there += _names(s.text, *to_codepoints(s.text, *sel.raw, other, "", ""), sel.name)
    if there > here:
        raise InvalidInput(f"{there} selections select their own text only when positions count {other} "
                           f"({here} as {out.offsets}); import with --offsets {other}", path=out.filename)


def _names(text: str, start: int, end: int, name: str) -> bool:
    return " ".join(text[start:end].split()).startswith(name[:40])
