"""Limits on what an input file may ask of thematic, checked before the work they bound is done.

One place for every size, depth and length limit, so that a hostile or broken file is refused with one line
(what, where) instead of running for minutes, filling memory or overflowing the stack:

* :data:`MAX_NAME_LENGTH` — the longest code name, the same for YAML, CSV and REFI-QDA (``.qdc``/``.qdpx``)
  codebooks and for names typed in the app (:func:`check_name`). A longer name is refused, never cut.
* :data:`MAX_CODE_DEPTH` and :data:`MAX_CODEBOOK_CODES` — how deep a code tree may go and how many codes one
  codebook file may add (:func:`check_code_depth`, :func:`check_code_count`).
* :func:`safe_yaml_load` — YAML with the size and nesting of the document counted on the parser's event stream
  *before* anything is built: an alias counts as the whole node it names (so a "billion laughs" file of 2 KB
  counts as the millions of nodes it would expand to), nesting through aliases counts too, and a recursive
  alias is refused. The event stream is produced without recursion, so a document nested 100,000 deep is
  refused instead of raising ``RecursionError``. :func:`load_codebook_yaml` adds the code count of a YAML
  codebook, counted on the loaded (still shared) lists before a single code is built.
* :func:`read_limited` — a codebook file's bytes: a regular file, at most :data:`MAX_CODEBOOK_BYTES`.
* :data:`MAX_CELL_LENGTH` — the longest text one spreadsheet cell may hold on import (Excel's own limit is
  32,767 characters; spaCy refuses texts over 1,000,000).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

from .errors import InvalidInput


class _Codebook(Protocol):
    codes: Any


_CB = TypeVar("_CB", bound=_Codebook)

MAX_NAME_LENGTH = 200  # characters in one code name, after whitespace is folded
MAX_CODE_DEPTH = 20  # levels of a code path (Theme/Subtheme/Code is 3)
MAX_CODEBOOK_CODES = 10_000  # codes in one codebook file
MAX_CODEBOOK_BYTES = 20 * 1024 * 1024  # size of one codebook file
MAX_YAML_NODES = 300_000  # scalars, lists and mappings of a YAML document, aliases counted as what they expand to
MAX_YAML_DEPTH = 100  # nesting of lists and mappings in a YAML document (a code tree of 20 levels needs ~42)
MAX_CELL_LENGTH = 100_000  # characters in one imported cell (answer, metadata value or form id)

_TEXT_FIELDS = ("definition", "includes", "excludes", "colour")


def check_name(name: str, where: str = "") -> str:
    """``name`` if it is at most :data:`MAX_NAME_LENGTH` characters long; otherwise :class:`InvalidInput`."""
    if len(name) > MAX_NAME_LENGTH:
        prefix = f"{where}: " if where else ""
        raise InvalidInput(
            f"{prefix}code name '{name[:40]}...' is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}"
        )
    return name


def check_code_depth(depth: int, where: str = "", *, path: str | Path | None = None, row: int | None = None) -> None:
    """Refuse a code path deeper than :data:`MAX_CODE_DEPTH` levels."""
    if depth > MAX_CODE_DEPTH:
        prefix = f"{where}: " if where else ""
        raise InvalidInput(
            f"{prefix}a code path {depth} levels deep; the limit is {MAX_CODE_DEPTH}", path=path, row=row
        )


def check_code_count(count: int, *, path: str | Path | None = None) -> None:
    """Refuse a codebook of more than :data:`MAX_CODEBOOK_CODES` codes."""
    if count > MAX_CODEBOOK_CODES:
        raise InvalidInput(
            f"refused: the codebook holds more than {MAX_CODEBOOK_CODES:,} codes ({count:,} so far)", path=path
        )


def check_cell(text: str, *, path: str | Path | None = None, row: int | None = None, column: str | None = None) -> str:
    """``text`` if it is at most :data:`MAX_CELL_LENGTH` characters long; otherwise :class:`InvalidInput`."""
    if len(text) > MAX_CELL_LENGTH:
        raise InvalidInput(
            f"the cell holds {len(text):,} characters; the limit is {MAX_CELL_LENGTH:,}",
            path=path,
            row=row,
            column=column,
        )
    return text


def read_limited(source: str | Path | IO[bytes], max_bytes: int = MAX_CODEBOOK_BYTES) -> bytes:
    """The bytes of a file (a path or a binary file object), refusing more than ``max_bytes`` and, for a path,
    anything but a regular file (``/dev/zero`` would never end)."""
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise InvalidInput("file does not exist", path=path)
        if not path.is_file():
            raise InvalidInput("is a folder, device or pipe, not a regular file", path=path)
        with path.open("rb") as fh:
            return read_limited(fh, max_bytes)
    data = source.read(max_bytes + 1)
    if len(data) > max_bytes:
        name = Path(str(getattr(source, "name", "") or "upload")).name
        raise InvalidInput(f"refused: the file is over {max_bytes:,} bytes", path=name)
    return data


def check_codebook(codebook: _CB, path: str | Path | None = None) -> _CB:
    """Refuse a codebook (anything with ``codes``, entries with ``name`` and ``children``) with too many codes,
    a path deeper than :data:`MAX_CODE_DEPTH` or a name longer than :data:`MAX_NAME_LENGTH`; else return it.

    Walks without recursion and stops at the first problem, so it is quick on any input."""
    where = Path(str(path)).name if path is not None else None
    todo: list[tuple[Any, tuple[str, ...]]] = [(e, ()) for e in reversed(codebook.codes)]
    count = 0
    while todo:
        entry, parents = todo.pop()
        count += 1
        check_code_count(count, path=where)
        trail = (*parents, str(entry.name)[:40])
        check_code_depth(len(trail), "/".join(parents[:3]) + ("/..." if len(parents) > 3 else ""), path=where)
        if "\x00" in entry.name or any("\x00" in str(getattr(entry, f, "")) for f in _TEXT_FIELDS):
            shown = "/".join(trail).replace("\x00", "\\x00")
            raise InvalidInput(f"a NUL character in code '{shown}': the file is binary or damaged", path=where)
        if len(entry.name) > MAX_NAME_LENGTH:
            under = "/".join(parents) or "the top level"
            raise InvalidInput(
                f"a code name under {under} is {len(entry.name)} characters long ('{entry.name[:40]}...'); "
                f"the limit is {MAX_NAME_LENGTH}",
                path=where,
            )
        todo.extend((c, trail) for c in reversed(entry.children))
    return codebook


# ---------------------------------------------------------------------------------------------- YAML


@dataclass
class _Open:
    """A list or mapping whose end event has not come yet."""

    anchor: str | None
    size: int = 1  # nodes inside it, itself included, aliases expanded
    depth: int = 1  # levels of nesting inside it, itself included, aliases expanded


@dataclass
class _Measure:
    where: str
    sizes: dict[str, int] = field(default_factory=dict)  # anchor -> expanded size of its node
    depths: dict[str, int] = field(default_factory=dict)  # anchor -> expanded depth of its node
    stack: list[_Open] = field(default_factory=list)
    total: int = 0  # nodes so far, aliases expanded

    def refuse(self, what: str, line: int) -> None:
        raise InvalidInput(f"refused: {what}", path=self.where, row=line + 1)

    def count(self, n: int, line: int) -> None:
        self.total += n
        if self.total > MAX_YAML_NODES:
            self.refuse(f"the YAML document expands to more than {MAX_YAML_NODES:,} nodes (aliases counted)", line)

    def child(self, size: int, depth: int) -> None:
        if self.stack:
            top = self.stack[-1]
            top.size += size
            top.depth = max(top.depth, depth + 1)

    def event(self, ev: Any) -> None:
        import yaml

        line = int(getattr(getattr(ev, "start_mark", None), "line", 0) or 0)
        anchor = str(getattr(ev, "anchor", None) or "") or None
        if isinstance(ev, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            if len(self.stack) >= MAX_YAML_DEPTH:
                self.refuse(f"the YAML document nests more than {MAX_YAML_DEPTH} levels deep", line)
            self.stack.append(_Open(anchor))
            self.count(1, line)
        elif isinstance(ev, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            node = self.stack.pop()
            if node.anchor is not None:
                self.sizes[node.anchor], self.depths[node.anchor] = node.size, node.depth
            self.child(node.size, node.depth)
        elif isinstance(ev, yaml.ScalarEvent):
            if anchor is not None:
                self.sizes[anchor], self.depths[anchor] = 1, 0
            self.count(1, line)
            self.child(1, 0)
        elif isinstance(ev, yaml.AliasEvent) and anchor is not None:
            if any(o.anchor == anchor for o in self.stack):
                self.refuse(f"the alias *{anchor} refers to a node that contains it (a recursive alias)", line)
            if anchor not in self.sizes:
                self.refuse(f"the alias *{anchor} names no anchor before it", line)
            if len(self.stack) + self.depths[anchor] > MAX_YAML_DEPTH:
                self.refuse(f"the YAML document nests more than {MAX_YAML_DEPTH} levels deep (aliases counted)", line)
            self.count(self.sizes[anchor], line)
            self.child(self.sizes[anchor], self.depths[anchor])


def safe_yaml_load(text: str, where: str | Path = "") -> Any:
    """Parse one YAML document safely (no Python objects), refusing one that is too big or too deep.

    The document is measured on the parser's event stream first (see the module docstring); only a document
    within :data:`MAX_YAML_NODES` and :data:`MAX_YAML_DEPTH` is then built. Aliases in the result are shared
    objects, as PyYAML builds them, and a caller walking it expands at most :data:`MAX_YAML_NODES` nodes.
    Errors are :class:`InvalidInput` naming ``where`` (a file name) and the line."""
    import yaml

    name = Path(str(where)).name if where else "YAML"
    if len(text) > MAX_CODEBOOK_BYTES:
        raise InvalidInput(f"refused: {len(text):,} characters; the limit is {MAX_CODEBOOK_BYTES:,}", path=name)
    loader_cls = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when the wheel has it; both are safe
    measure = _Measure(name)
    try:
        for ev in yaml.parse(text, Loader=loader_cls):
            measure.event(ev)
        return yaml.load(text, Loader=loader_cls)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = getattr(mark, "line", None)
        raise InvalidInput(
            f"not valid YAML ({getattr(exc, 'problem', None) or exc})", path=name, row=None if line is None else line + 1
        ) from exc


def load_codebook_yaml(text: str, where: str | Path = "") -> Any:
    """:func:`safe_yaml_load`, then the number of codes counted on the loaded document before any code is built:
    aliases share their objects, so each shared list is counted once and multiplied, not walked again."""
    doc = safe_yaml_load(text, where)
    if isinstance(doc, dict) and isinstance(doc.get("codes"), list):
        check_code_count(_count_codes(doc["codes"], {}), path=Path(str(where)).name if where else None)
    return doc


def _count_codes(items: list[Any], memo: dict[int, int]) -> int:
    """Codes in a ``codes:``/``children:`` list, its subcodes included; stops counting past the limit."""
    key = id(items)
    if key not in memo:
        total = 0
        for item in items:
            total += 1
            children = item.get("children") if isinstance(item, dict) else None
            if isinstance(children, list):
                total += _count_codes(children, memo)
            if total > MAX_CODEBOOK_CODES:
                break
        memo[key] = total
    return memo[key]
