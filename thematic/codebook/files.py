"""Codebook files: the YAML format of ``codebooks/`` (documented in ``codebooks/README.md``) and CSV.

A codebook is a tree of :class:`CodebookEntry`. ``read_codebook`` reads ``.yaml``/``.yml``/``.csv`` (a ``.qdc`` is
read by the REFI-QDA reader, which builds the same :class:`Codebook`); ``import_codebook`` adds it to a project in one
undoable step, reusing codes that already exist at the same path.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from ..errors import InvalidInput
from ..store import Store
from .codes import add_code, split_path, tree

FORMAT = "thematic-codebook/1"


@dataclass
class CodebookEntry:
    name: str
    definition: str = ""
    includes: str = ""
    excludes: str = ""
    colour: str = ""
    examples: list[str] = field(default_factory=list)
    children: list[CodebookEntry] = field(default_factory=list)


@dataclass
class Codebook:
    name: str
    title: str = ""
    description: str = ""
    source: str = ""
    codes: list[CodebookEntry] = field(default_factory=list)

    def walk(self) -> Iterator[tuple[tuple[str, ...], CodebookEntry]]:
        """Every entry with its path, parents first."""

        def rec(entries: list[CodebookEntry], path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], CodebookEntry]]:
            for e in entries:
                p = (*path, e.name)
                yield p, e
                yield from rec(e.children, p)

        yield from rec(self.codes, ())

    def __len__(self) -> int:
        return sum(1 for _ in self.walk())


def read_codebook(source: str | Path | IO[bytes], *, name: str | None = None) -> Codebook:
    """Read a codebook file (YAML, CSV or REFI-QDA .qdc), from a path or a binary file object with ``.name``."""
    filename = str(getattr(source, "name", source))
    suffix = Path(filename).suffix.lower()
    if isinstance(source, (str, Path)):
        path = Path(source)
        if not path.exists():
            raise InvalidInput("file does not exist", path=path)
        data = path.read_bytes()
    else:
        data = source.read()
    stem = name or Path(filename).stem
    if suffix in (".yaml", ".yml"):
        return _from_yaml(data, stem, filename)
    if suffix == ".csv":
        return _from_csv(data, stem, filename)
    if suffix == ".qdc":
        raise InvalidInput("a REFI-QDA codebook (.qdc) is read by the REFI-QDA importer, not here", path=filename)
    raise InvalidInput("unknown codebook type: use .yaml, .csv or .qdc", path=filename)


def _from_yaml(data: bytes, stem: str, filename: str) -> Codebook:
    import yaml

    try:
        # libyaml's safe loader when the wheel has it (10x faster), else the pure-Python one; both are safe.
        doc = yaml.load(data.decode("utf-8-sig"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise InvalidInput(
            f"not valid YAML ({getattr(exc, 'problem', None) or exc})", path=filename,
            row=None if line is None else line + 1,
        ) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("codes"), list):
        raise InvalidInput("a codebook needs a 'codes:' list at the top level", path=filename)
    codes = [_entry(item, filename, ()) for item in doc["codes"]]
    _check_unique_names(codes, filename)
    return Codebook(
        name=str(doc.get("name") or stem),
        title=str(doc.get("title") or ""),
        description=str(doc.get("description") or "").strip(),
        source=str(doc.get("source") or "").strip(),
        codes=codes,
    )


def _check_unique_names(entries: list[CodebookEntry], filename: str, where: str = "the top level") -> None:
    """Sibling names must differ (ignoring case), as in a project; otherwise an import would silently merge them."""
    seen: set[str] = set()
    for e in entries:
        if e.name.casefold() in seen:
            raise InvalidInput(f"two codes named '{e.name}' at {where}", path=filename)
        seen.add(e.name.casefold())
        _check_unique_names(e.children, filename, f"'{e.name}'")


def _entry(item: Any, filename: str, path: tuple[str, ...]) -> CodebookEntry:
    if isinstance(item, str):
        item = {"name": item}
    if not isinstance(item, dict) or not str(item.get("name") or "").strip():
        where = "/".join(path) or "the top level"
        raise InvalidInput(f"an entry under {where} has no name", path=filename)
    name = " ".join(str(item["name"]).split())
    children = item.get("children") or []
    examples = item.get("examples") or []
    if not isinstance(children, list) or not isinstance(examples, list):
        raise InvalidInput(f"'children' and 'examples' of '{name}' must be lists", path=filename)
    entry = CodebookEntry(
        name=name,
        definition=str(item.get("definition") or "").strip(),
        includes=str(item.get("includes") or "").strip(),
        excludes=str(item.get("excludes") or "").strip(),
        colour=str(item.get("colour") or item.get("color") or "").strip(),
        examples=[str(e).strip() for e in examples if str(e).strip()],
    )
    entry.children = [_entry(c, filename, (*path, name)) for c in children]
    seen: set[str] = set()
    for c in entry.children:
        if c.name.casefold() in seen:
            raise InvalidInput(f"'{name}' has two subcodes named '{c.name}'", path=filename)
        seen.add(c.name.casefold())
    return entry


def _from_csv(data: bytes, stem: str, filename: str) -> Codebook:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="strict")
    reader = csv.DictReader(io.StringIO(text))
    cols = {(c or "").strip().lower(): c for c in (reader.fieldnames or [])}
    levels = [c for c in ("theme", "subtheme", "code") if c in cols]
    if "path" not in cols and not levels:
        raise InvalidInput("a CSV codebook needs a 'path' column (Theme/Subtheme/Code) or theme,subtheme,code columns",
                           path=filename)
    cb = Codebook(name=stem)
    index: dict[tuple[str, ...], CodebookEntry] = {}
    for rowno, row in enumerate(reader, start=2):
        if "path" in cols:
            raw = (row.get(cols["path"]) or "").strip()
            try:
                parts = tuple(split_path(raw)) if raw else ()
            except InvalidInput:
                raise InvalidInput(f"code path {raw!r} has an empty part", path=filename, row=rowno) from None
        else:
            parts = tuple(v for v in ((row.get(cols[c]) or "").strip() for c in levels) if v)
        if not parts:
            continue
        if any(not p for p in parts):
            raise InvalidInput(f"code path {'/'.join(parts)!r} has an empty part", path=filename, row=rowno)
        parent_list = cb.codes
        for depth in range(len(parts)):
            key = parts[: depth + 1]
            if key not in index:
                index[key] = CodebookEntry(name=" ".join(parts[depth].split()))
                parent_list.append(index[key])
            parent_list = index[key].children
        leaf = index[parts]
        for fld in ("definition", "includes", "excludes", "colour"):
            if fld in cols and (row.get(cols[fld]) or "").strip():
                setattr(leaf, fld, (row.get(cols[fld]) or "").strip())
        if "examples" in cols and (row.get(cols["examples"]) or "").strip():
            leaf.examples += [e.strip() for e in (row.get(cols["examples"]) or "").split("|") if e.strip()]
    if not index:
        raise InvalidInput("the codebook has no codes", path=filename)
    _check_unique_names(cb.codes, filename)
    return cb


def codebook_to_dict(cb: Codebook) -> dict[str, Any]:
    def entry(e: CodebookEntry) -> dict[str, Any]:
        d: dict[str, Any] = {"name": e.name, "definition": e.definition}
        for fld in ("includes", "excludes", "colour"):
            if getattr(e, fld):
                d[fld] = getattr(e, fld)
        if e.examples:
            d["examples"] = list(e.examples)
        if e.children:
            d["children"] = [entry(c) for c in e.children]
        return d

    return {
        "format": FORMAT,
        "name": cb.name,
        "title": cb.title,
        "description": cb.description,
        "source": cb.source,
        "codes": [entry(e) for e in cb.codes],
    }


def write_codebook_yaml(cb: Codebook, dest: str | Path | IO[str]) -> None:
    """Write the codebook as YAML to a path or a text file object."""
    import yaml

    text = yaml.safe_dump(codebook_to_dict(cb), sort_keys=False, allow_unicode=True, width=100)
    if isinstance(dest, (str, Path)):
        Path(dest).write_text(text, encoding="utf-8")
    else:
        dest.write(text)


def codebook_from_store(store: Store, *, name: str | None = None) -> Codebook:

    def entry(node: Any) -> CodebookEntry:
        c = node.code
        return CodebookEntry(
            name=c.name,
            definition=c.definition,
            includes=c.includes,
            excludes=c.excludes,
            colour=c.colour,
            examples=list(node.examples),
            children=[entry(ch) for ch in node.children],
        )

    title = store.get_setting("title", "") or ""
    return Codebook(name=name or (title or "codebook"), title=title, codes=[entry(n) for n in tree(store)])


def import_codebook(
    store: Store, cb: Codebook, *, under: int | None = None, actor: str | None = None
) -> int:
    """Add the codebook's codes (under code ``under`` or at the top); existing paths are reused and their empty
    fields filled. Returns the number of codes created. One undoable step."""

    created = 0
    with store.action(
        "codebook.import", f"Import codebook '{cb.name}' ({len(cb)} codes)", actor=actor, details={"codebook": cb.name}
    ) as act:

        def rec(entries: list[CodebookEntry], parent: int | None) -> None:
            nonlocal created
            for e in entries:
                row = act.execute(
                    "SELECT id, definition, includes, excludes FROM codes WHERE parent_id IS ? AND lower(name) = lower(?)",
                    (parent, e.name),
                ).fetchone()
                if row is None:
                    code_id = add_code(
                        store, e.name, parent_id=parent, definition=e.definition, includes=e.includes,
                        excludes=e.excludes, colour=e.colour, examples=e.examples, actor=actor,
                    )
                    created += 1
                else:
                    code_id = int(row["id"])
                    for fld in ("definition", "includes", "excludes"):
                        if not row[fld] and getattr(e, fld):
                            act.execute(f"UPDATE codes SET {fld} = ? WHERE id = ?", (getattr(e, fld), code_id))
                    have = {r[0] for r in act.execute("SELECT text FROM code_examples WHERE code_id = ?", (code_id,))}
                    act.executemany(
                        "INSERT INTO code_examples (code_id, text) VALUES (?, ?)",
                        [(code_id, x) for x in e.examples if x not in have],
                    )
                rec(e.children, code_id)

        rec(cb.codes, under)
        act.details["created"] = created
    return created
