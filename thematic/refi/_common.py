"""What the REFI-QDA reader and writers share: namespaces, deterministic GUIDs, code descriptions, names,
timestamps and text offsets."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from ..limits import check_name

PROJECT_NS = "urn:QDA-XML:project:1.0"
CODEBOOK_NS = "urn:QDA-XML:codebook:1.0"
THEMATIC_NS = uuid.UUID("5d6c1f4e-5a0c-4b8e-9a52-2f0d3c1b7e61")
QUESTION_VARIABLE = "question"
# Source names are also file names in other tools (QualCoder copies each source to documents/<name>.txt).
MAX_SOURCE_NAME = 100

Offsets = Literal["codepoints", "utf16"]
OFFSETS: tuple[Offsets, ...] = ("utf16", "codepoints")
# NVivo and ATLAS.ti (.NET strings) and MAXQDA (Qt strings) index text in UTF-16 code units; the REFI-QDA
# standard speaks of "character positions" without naming a unit. QualCoder counts Unicode code points.
DEFAULT_OFFSETS: Offsets = "utf16"


def origin(offsets: Offsets = DEFAULT_OFFSETS) -> str:
    from .. import __version__

    return f"thematic {__version__}" + ("" if offsets == DEFAULT_OFFSETS else f" (offsets: {offsets})")


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


def colour(c: str) -> str | None:
    c = (c or "").strip()
    return c.upper() if re.fullmatch(r"#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})", c) else None


def clean_code_name(raw: str, siblings: set[str], *, where: str = "") -> str:
    """A valid, sibling-unique thematic code name (whitespace folded). A name longer than the one name limit is
    refused, never cut: two long names cut to the same prefix would silently become one code."""
    name = " ".join(raw.split()) or "Unnamed code"
    check_name(name, where)
    return unique_name(name, siblings)


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name (2)``, ``name (3)`` ... whichever ``taken`` (case-folded) does not hold yet; it is added."""
    out, k = name, 2
    while out.casefold() in taken:
        out = f"{name} ({k})"
        k += 1
    taken.add(out.casefold())
    return out


def serialise(root: Any) -> bytes:
    from lxml import etree

    return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True))


# ---------------------------------------------------------------------- timestamps


def utc(ts: str | None) -> str:
    """A stored timestamp as REFI-QDA writes them: UTC, whole seconds, ``YYYY-MM-DDThh:mm:ssZ``."""
    dt = _parse_time(ts or "")
    return "" if dt is None else dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def stored_time(ts: str | None) -> str | None:
    """A timestamp read from a file (any ISO 8601 form; no zone means UTC) as thematic stores them."""
    dt = _parse_time(ts or "")
    return None if dt is None else dt.isoformat(timespec="microseconds")


def _parse_time(ts: str) -> datetime | None:
    ts = ts.strip()
    if not ts:
        return None
    try:
        dt = datetime.fromisoformat(ts[:-1] + "+00:00" if ts.endswith(("Z", "z")) else ts)
    except ValueError:
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=UTC)).astimezone(UTC)


# ---------------------------------------------------------------------- offsets


def to_units(text: str, offsets: Offsets) -> list[int]:
    """Position (in code points) -> position in the export's unit, for every position 0..len(text)."""
    out = [0]
    for ch in text:
        out.append(out[-1] + (2 if offsets == "utf16" and ord(ch) > 0xFFFF else 1))
    return out


def from_units(text: str, offsets: Offsets) -> dict[int, int]:
    """Position in the file's unit -> position in code points (positions inside a character are absent)."""
    return {u: i for i, u in enumerate(to_units(text, offsets))}


# ---------------------------------------------------------------------- source names

_UNPORTABLE = re.compile(r'[\x00-\x1f\x7f?*:"<>|/\\]')
_RESERVED = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)


def portable_name(raw: str, taken: set[str], *, limit: int = MAX_SOURCE_NAME) -> str:
    """A name that is a valid file name on Windows, macOS and Linux (no ``? * : " < > | / \\``, no control
    characters, no trailing dot or space, no reserved device name), at most ``limit`` characters and unique
    (case-insensitively) among ``taken``, which it joins."""
    name = " ".join(_UNPORTABLE.sub("_", raw).split()).strip(". ") or "source"
    if _RESERVED.match(name):
        name = "_" + name
    name = name[:limit].rstrip(". ")
    base, k = name, 2
    while name.casefold() in taken:
        suffix = f" ({k})"
        name = base[: limit - len(suffix)].rstrip(". ") + suffix
        k += 1
    taken.add(name.casefold())
    return name
