"""REFI-QDA codebooks (``.qdc``): the code tree out, and in as a :class:`~thematic.codebook.files.Codebook`.

Taguette writes a hierarchy as dotted flat names (``"a.b"``) in a file the schema does not accept; those files read
leniently, flat by default, nested at the dots with ``dotted=True`` (:func:`dotted_names` counts the names that
would nest, so that callers can say so)."""

from __future__ import annotations

from typing import IO, Any

from ..codebook.codes import tree
from ..codebook.files import Codebook, CodebookEntry
from ..errors import InvalidInput
from ..export.safety import parse_xml, xml_text
from ..store import Store
from ._common import (
    CODEBOOK_NS,
    PROJECT_NS,
    Guids,
    clean_code_name,
    colour,
    describe,
    origin,
    parse_description,
    serialise,
)


def title(store: Store) -> str:
    return store.get_setting("title", "") or "thematic project"


def codes_xml(parent: Any, nodes: list[Any], ns: str, guids: Guids, *,
              notes: dict[int, list[str]] | None = None) -> dict[int, str]:
    """Append nested <Code> elements; returns code id -> guid."""
    from lxml import etree

    out: dict[int, str] = {}

    def rec(el: Any, items: list[Any]) -> None:
        for node in items:
            c = node.code
            g = guids("code", *c.path)
            out[c.id] = g
            attrs = {"guid": g, "name": xml_text(c.name), "isCodable": "true"}
            col = colour(c.colour)
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


def render_qdc(store: Store) -> bytes:
    """The code tree as a REFI-QDA codebook."""
    from lxml import etree

    nodes = tree(store)
    if not nodes:
        raise InvalidInput("the project has no codes yet, so there is no codebook to export")
    root = etree.Element(f"{{{CODEBOOK_NS}}}CodeBook", nsmap={None: CODEBOOK_NS}, origin=origin())
    codes = etree.SubElement(root, f"{{{CODEBOOK_NS}}}Codes")
    codes_xml(codes, nodes, CODEBOOK_NS, Guids(title(store)))
    return serialise(root)


def read_qdc(fileobj: IO[bytes] | bytes, *, name: str | None = None, dotted: bool = False) -> Codebook:
    """A :class:`~thematic.codebook.files.Codebook` from a REFI-QDA ``.qdc`` (or the CodeBook of a ``.qde``).
    With ``dotted``, a flat name ``"a.b"`` becomes code ``b`` under ``a`` (Taguette's hierarchy)."""
    data = fileobj if isinstance(fileobj, bytes) else fileobj.read()
    label = name or "codebook"
    root = parse_xml(data, what=f"codebook {label}")
    ns = root.nsmap.get(None) or ""
    if ns not in (CODEBOOK_NS, PROJECT_NS) or root.tag not in (f"{{{ns}}}CodeBook", f"{{{ns}}}Project"):
        raise InvalidInput(f"{label} is not a REFI-QDA codebook (root element {root.tag!r})")
    codes_el = root.find(f"{{{ns}}}Codes") if root.tag.endswith("CodeBook") else root.find(
        f"{{{ns}}}CodeBook/{{{ns}}}Codes")
    if codes_el is None:
        raise InvalidInput(f"{label} has no <Codes> element")

    def entry(el: Any, siblings: set[str]) -> CodebookEntry:
        nm = clean_code_name(el.get("name") or "", siblings, where=label)
        definition, includes, excludes, examples = parse_description(el.findtext(f"{{{ns}}}Description") or "")
        e = CodebookEntry(nm, definition, includes, excludes, colour(el.get("color") or "") or "", examples)
        seen: set[str] = set()
        e.children = [entry(ch, seen) for ch in el.findall(f"{{{ns}}}Code")]
        return e

    top: set[str] = set()
    cb = Codebook(name=label, title=root.get("name") or "", source=root.get("origin") or "",
                  codes=[entry(el, top) for el in codes_el.findall(f"{{{ns}}}Code")])
    if not cb.codes:
        raise InvalidInput(f"{label} contains no codes")
    if dotted:
        cb.codes = _nest_dotted(cb.codes)
    return cb


def dotted_names(cb: Codebook) -> int:
    """How many codes have a name with a dot between two non-empty parts (Taguette's ``parent.child``)."""
    return sum(1 for _, e in cb.walk() if _dotted(e.name))


def _dotted(name: str) -> bool:
    return "." in name and all(p.strip() for p in name.split("."))


def _nest_dotted(entries: list[CodebookEntry], placeholders: set[int] | None = None) -> list[CodebookEntry]:
    """Flat ``a.b`` names as ``b`` under ``a`` (an ``a`` with no entry of its own is created empty)."""
    made = placeholders if placeholders is not None else set()
    out: list[CodebookEntry] = []
    for e in entries:
        e.children = _nest_dotted(e.children, made)
        parts = [p.strip() for p in e.name.split(".")] if _dotted(e.name) else [e.name]
        level = out
        for p in parts[:-1]:
            parent = next((x for x in level if x.name.casefold() == p.casefold()), None)
            if parent is None:
                parent = CodebookEntry(p)
                made.add(id(parent))
                level.append(parent)
            level = parent.children
        same = next((x for x in level if x.name.casefold() == parts[-1].casefold()), None)
        if same is not None and id(same) in made:  # the parent made for an earlier "a.b" is this "a"
            made.discard(id(same))
            same.definition, same.includes, same.excludes = e.definition, e.includes, e.excludes
            same.colour, same.examples, same.children = e.colour, e.examples, same.children + e.children
            continue
        e.name = parts[-1]
        if same is not None:
            e.name = clean_code_name(e.name, {x.name.casefold() for x in level})
        level.append(e)
    return out
