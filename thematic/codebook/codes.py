"""The code tree: themes, subthemes and codes are depths of one tree (``codes`` with ``parent_id``).

Every change is one audited, undoable :meth:`Store.action`. Sibling names are unique (case-insensitively), a code
cannot be moved under itself, and merging keeps every coding (duplicates collapse) and keeps the merged code's
definition as a memo on the target. Reading and writing codebook files lives in :mod:`thematic.codebook.files`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from ..coding import move_codings
from ..errors import Conflict, InvalidInput, NotFound
from ..models import Code, CodeNode
from ..store import Action, Store, now

# A colour-blind-safe palette (Paul Tol's "bright" and "muted") for new top-level codes.
PALETTE = (
    "#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377",
    "#332288", "#117733", "#999933", "#882255", "#44AA99", "#DDCC77",
)


def list_codes(store: Store) -> list[Code]:
    """Every code in tree order (parents before children, siblings by position), with depth and path."""
    rows = store.query("SELECT * FROM codes ORDER BY position, id")
    children: dict[int | None, list[Any]] = {}
    for r in rows:
        children.setdefault(r["parent_id"], []).append(r)
    out: list[Code] = []

    def walk(parent: int | None, depth: int, path: tuple[str, ...]) -> None:
        for r in children.get(parent, []):
            p = (*path, r["name"])
            out.append(_code(r, depth, p))
            walk(r["id"], depth + 1, p)

    walk(None, 0, ())
    return out


def tree(store: Store) -> list[CodeNode]:
    """The code tree as nested nodes (roots first), with each code's examples."""
    examples: dict[int, list[str]] = {}
    for r in store.query("SELECT code_id, text FROM code_examples ORDER BY id"):
        examples.setdefault(r["code_id"], []).append(r["text"])
    nodes: dict[int, CodeNode] = {}
    roots: list[CodeNode] = []
    for c in list_codes(store):
        node = CodeNode(c, [], examples.get(c.id, []))
        nodes[c.id] = node
        if c.parent_id is None:
            roots.append(node)
        else:
            nodes[c.parent_id].children.append(node)
    return roots


def get_code(store: Store, code_id: int) -> Code:
    for c in list_codes(store):
        if c.id == code_id:
            return c
    raise NotFound(f"no code with id {code_id}")


def find_code(store: Store, path: str | Sequence[str]) -> Code | None:
    """A code by its path (``"Theme/Subtheme/Code"`` or a list of names), matched case-insensitively.

    A ``/`` inside a name is written ``\\/`` in a path string; an unescaped path that matches exactly one code's
    names joined by ``/`` is accepted too, so ``"Environment/ facilities"`` finds the code of that name."""
    parts = split_path(path) if isinstance(path, str) else [p.strip() for p in path]
    want = tuple(p.casefold() for p in parts)
    codes = list_codes(store)
    for c in codes:
        if tuple(p.casefold() for p in c.path) == want:
            return c
    if isinstance(path, str):
        def fold(text: str) -> str:
            return "/".join(" ".join(p.split()) for p in text.split("/")).casefold()

        raw = fold(path)
        loose = [c for c in codes if fold("/".join(c.path)) == raw]
        if len(loose) == 1:
            return loose[0]
    return None


def join_path(parts: Iterable[str]) -> str:
    """``("Environment/ facilities", "Parking")`` -> ``"Environment\\/ facilities/Parking"`` (inverse of split_path)."""
    return "/".join(p.replace("\\", "\\\\").replace("/", "\\/") for p in parts)


def split_path(path: str) -> list[str]:
    """``"Theme/Sub"`` -> ``["Theme", "Sub"]``; ``\\/`` is a slash inside a name and ``\\\\`` a backslash."""
    parts: list[str] = []
    buf: list[str] = []
    chars = iter(path)
    for ch in chars:
        if ch == "\\":
            nxt = next(chars, "")
            buf.append(nxt if nxt in ("/", "\\") else ch + nxt)
        elif ch == "/":
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    parts = [" ".join(p.split()) for p in parts]
    if not parts or any(not p for p in parts):
        raise InvalidInput(f"code path {path!r} has an empty part (use Theme/Subtheme/Code)")
    return parts


def descendant_ids(store: Store, code_id: int) -> list[int]:
    """The code's descendants (not the code itself)."""
    rows = store.query(
        "WITH RECURSIVE d(id) AS (SELECT id FROM codes WHERE parent_id = ? "
        "UNION ALL SELECT c.id FROM codes c JOIN d ON c.parent_id = d.id) SELECT id FROM d",
        (code_id,),
    )
    return [r[0] for r in rows]


def add_code(
    store: Store,
    name: str,
    *,
    parent_id: int | None = None,
    definition: str = "",
    includes: str = "",
    excludes: str = "",
    colour: str = "",
    examples: Iterable[str] = (),
    actor: str | None = None,
) -> int:
    name = _clean_name(name)
    with store.action("code.add", f"Add code '{name}'", actor=actor) as act:
        _check_parent(act, parent_id)
        _check_unique(act, parent_id, name)
        position = act.execute(
            "SELECT coalesce(max(position) + 1, 0) FROM codes WHERE parent_id IS ?", (parent_id,)
        ).fetchone()[0]
        if not colour and parent_id is None:
            colour = PALETTE[int(position) % len(PALETTE)]
        code_id = act.insert(
            "INSERT INTO codes (parent_id, name, definition, includes, excludes, colour, position, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (parent_id, name, definition.strip(), includes.strip(), excludes.strip(), colour, position, now()),
        )
        act.executemany(
            "INSERT INTO code_examples (code_id, text) VALUES (?, ?)",
            [(code_id, e.strip()) for e in examples if e and e.strip()],
        )
        act.details.update({"code_id": code_id, "parent_id": parent_id, "name": name})
        return code_id


def update_code(
    store: Store,
    code_id: int,
    *,
    name: str | None = None,
    definition: str | None = None,
    includes: str | None = None,
    excludes: str | None = None,
    colour: str | None = None,
    actor: str | None = None,
) -> None:
    """Rename a code or change its definition, inclusion/exclusion notes or colour."""
    code = get_code(store, code_id)
    changes: dict[str, str] = {}
    if name is not None and _clean_name(name) != code.name:
        changes["name"] = _clean_name(name)
    for field, value in (("definition", definition), ("includes", includes), ("excludes", excludes), ("colour", colour)):
        if value is not None and value.strip() != getattr(code, field):
            changes[field] = value.strip()
    if not changes:
        return
    verb = f"Rename '{code.name}' to '{changes['name']}'" if "name" in changes else f"Edit code '{code.name}'"
    with store.action("code.update", verb, actor=actor, details={"code_id": code_id, **changes}) as act:
        if "name" in changes:
            _check_unique(act, code.parent_id, changes["name"], exclude=code_id)
        sets = ", ".join(f"{k} = ?" for k in changes)
        act.execute(f"UPDATE codes SET {sets} WHERE id = ?", (*changes.values(), code_id))


def move_code(
    store: Store,
    code_id: int,
    parent_id: int | None,
    position: int | None = None,
    *,
    actor: str | None = None,
) -> None:
    """Move a code (with its subtree) under ``parent_id`` (None: the top level), at ``position`` among its new
    siblings: what drag and drop in a tree does (dropping a code *onto* another to merge them is
    :func:`merge_codes`).

    ``position`` is an index into the new siblings as listed without the moved code (0: first; None or past the
    end: last), so "drop after sibling i" is ``i + 1`` whether or not the code came from the same parent. The
    other codes keep their order. Moving a code to where it already is changes nothing and records nothing."""
    code = get_code(store, code_id)
    if parent_id is not None:
        if parent_id == code_id or parent_id in descendant_ids(store, code_id):
            raise Conflict(f"cannot move '{code.name}' under itself or one of its own subcodes")
        get_code(store, parent_id)
    siblings = _child_ids(store, parent_id, exclude=code_id)
    pos = len(siblings) if position is None else max(0, min(int(position), len(siblings)))
    order = [*siblings[:pos], code_id, *siblings[pos:]]
    if parent_id == code.parent_id and order == _child_ids(store, parent_id):
        return
    target = "the top level" if parent_id is None else f"'{get_code(store, parent_id).name}'"
    with store.action(
        "code.move",
        f"Move '{code.name}' under {target}",
        actor=actor,
        details={"code_id": code_id, "parent_id": parent_id, "position": pos},
    ) as act:
        _check_parent(act, parent_id)
        _check_unique(act, parent_id, code.name, exclude=code_id)
        act.execute("UPDATE codes SET parent_id = ? WHERE id = ?", (parent_id, code_id))
        _renumber(act, order)
        if code.parent_id != parent_id:
            _renumber(act, _child_ids(store, code.parent_id))


def promote(store: Store, code_id: int, *, actor: str | None = None) -> None:
    """Move a code one level up: it becomes a sibling of its old parent, placed right after that parent; every
    other code keeps its place (so promote then demote puts it back under the same parent, at the end)."""
    code = get_code(store, code_id)
    if code.parent_id is None:
        raise Conflict(f"'{code.name}' is already at the top level")
    parent = get_code(store, code.parent_id)
    level = _child_ids(store, parent.parent_id)
    move_code(store, code_id, parent.parent_id, level.index(parent.id) + 1, actor=actor)


def demote(store: Store, code_id: int, *, actor: str | None = None) -> None:
    """Move a code one level down: under the sibling listed just above it, as that sibling's last subcode; every
    other code keeps its place."""
    code = get_code(store, code_id)
    level = _child_ids(store, code.parent_id)
    i = level.index(code_id)
    if i == 0:
        raise Conflict(f"'{code.name}' has no sibling above it to go under")
    move_code(store, code_id, level[i - 1], actor=actor)


def delete_code(store: Store, code_id: int, *, actor: str | None = None) -> None:
    """Delete a code, its subcodes and their codings (undo brings all of it back)."""
    code = get_code(store, code_id)
    n = store.scalar(
        "SELECT count(*) FROM codings WHERE code_id = ? OR code_id IN "
        "(WITH RECURSIVE d(id) AS (SELECT id FROM codes WHERE parent_id = ? "
        "UNION ALL SELECT c.id FROM codes c JOIN d ON c.parent_id = d.id) SELECT id FROM d)",
        (code_id, code_id),
    )
    with store.action(
        "code.delete", f"Delete code '{code.name}' ({n} codings)", actor=actor, details={"code_id": code_id, "codings": n}
    ) as act:
        act.execute("DELETE FROM codes WHERE id = ?", (code_id,))


def merge_codes(store: Store, source_id: int, target_id: int, *, actor: str | None = None) -> dict[str, int]:
    """Merge ``source`` into ``target``: codings move (duplicates collapse), subcodes move, definition kept as a memo."""
    if source_id == target_id:
        raise Conflict("cannot merge a code into itself")
    source, target = get_code(store, source_id), get_code(store, target_id)
    if target_id in descendant_ids(store, source_id):
        raise Conflict(f"cannot merge '{source.name}' into its own subcode '{target.name}'")
    with store.action(
        "code.merge",
        f"Merge '{source.name}' into '{target.name}'",
        actor=actor,
        details={"source_id": source_id, "target_id": target_id},
    ) as act:
        before = act.execute("SELECT count(*) FROM codings WHERE code_id = ?", (source_id,)).fetchone()[0]
        # What would duplicate a coding the target already has collapses into it.
        moved = move_codings(act, source_id, target_id)
        act.execute("UPDATE OR IGNORE quotes SET code_id = ? WHERE code_id = ?", (target_id, source_id))
        act.execute("UPDATE code_examples SET code_id = ? WHERE code_id = ?", (target_id, source_id))
        act.execute("UPDATE memos SET code_id = ? WHERE code_id = ?", (target_id, source_id))
        for child in act.execute("SELECT id, name FROM codes WHERE parent_id = ?", (source_id,)).fetchall():
            clash = act.execute(
                "SELECT id FROM codes WHERE parent_id = ? AND lower(name) = lower(?)", (target_id, child["name"])
            ).fetchone()
            if clash is not None:
                raise Conflict(
                    f"'{target.name}' already has a subcode '{child['name']}': merge those two first"
                )
            act.execute("UPDATE codes SET parent_id = ? WHERE id = ?", (target_id, child["id"]))
        if source.definition or source.includes or source.excludes:
            body = "\n".join(
                x
                for x in (
                    f"Definition of '{source.name}' before it was merged into '{target.name}': {source.definition}",
                    f"Includes: {source.includes}" if source.includes else "",
                    f"Excludes: {source.excludes}" if source.excludes else "",
                )
                if x
            )
            t = now()
            act.execute(
                "INSERT INTO memos (code_id, title, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                (target_id, f"Merged from '{source.name}'", body, t, t),
            )
        act.execute("DELETE FROM codes WHERE id = ?", (source_id,))
        result = {"codings_before": int(before), "moved": int(moved), "collapsed": int(before - moved)}
        act.details.update(result)
        return result


def ensure_path(
    store: Store, path: str | Sequence[str], *, actor: str | None = None, definition: str = ""
) -> int:
    """The id of the code at ``path``, creating missing levels (the last one with ``definition``)."""
    parts = split_path(path) if isinstance(path, str) else [p.strip() for p in path]
    with store.action("code.ensure", f"Ensure code '{join_path(parts)}'", actor=actor):
        parent: int | None = None
        for i, name in enumerate(parts):
            row = store.query_one(
                "SELECT id FROM codes WHERE parent_id IS ? AND lower(name) = lower(?)", (parent, name)
            )
            if row is None:
                last = i == len(parts) - 1
                parent = add_code(store, name, parent_id=parent, definition=definition if last else "", actor=actor)
            else:
                parent = int(row[0])
        assert parent is not None
        return parent


def set_quotes(store: Store, code_id: int, segment_ids: Sequence[int], *, actor: str | None = None) -> None:
    """Choose the illustrative quotes of a theme (in order); replaces the previous choice."""
    code = get_code(store, code_id)
    chosen = list(dict.fromkeys(segment_ids))
    n = len(chosen)
    summary = (f"Chose {n} quote{'' if n == 1 else 's'} for '{code.name}'" if n
               else f"Cleared the quotes of '{code.name}'")
    with store.action("code.quotes", summary, actor=actor, details={"code_id": code_id}) as act:
        act.execute("DELETE FROM quotes WHERE code_id = ?", (code_id,))
        act.executemany(
            "INSERT INTO quotes (code_id, segment_id, position) VALUES (?, ?, ?)",
            [(code_id, sid, i) for i, sid in enumerate(chosen)],
        )


def quotes(store: Store, code_id: int) -> list[int]:
    return [r[0] for r in store.query("SELECT segment_id FROM quotes WHERE code_id = ? ORDER BY position", (code_id,))]


# ---------------------------------------------------------------------- helpers


def _code(r: Any, depth: int, path: tuple[str, ...]) -> Code:
    return Code(
        id=r["id"],
        parent_id=r["parent_id"],
        name=r["name"],
        definition=r["definition"],
        includes=r["includes"],
        excludes=r["excludes"],
        colour=r["colour"],
        position=r["position"],
        depth=depth,
        path=path,
    )


def _clean_name(name: str) -> str:
    cleaned = " ".join(str(name).split())
    if not cleaned:
        raise InvalidInput("a code needs a name")
    if len(cleaned) > 200:
        raise InvalidInput(f"code name is {len(cleaned)} characters long; keep it under 200")
    return cleaned


def _check_parent(act: Action, parent_id: int | None) -> None:
    if parent_id is not None and act.execute("SELECT 1 FROM codes WHERE id = ?", (parent_id,)).fetchone() is None:
        raise NotFound(f"no code with id {parent_id} to put it under")


def _check_unique(act: Action, parent_id: int | None, name: str, exclude: int | None = None) -> None:
    row = act.execute(
        "SELECT id FROM codes WHERE parent_id IS ? AND lower(name) = lower(?) AND id IS NOT ?",
        (parent_id, name, exclude),
    ).fetchone()
    if row is not None:
        where = "at the top level" if parent_id is None else "under the same parent"
        raise Conflict(f"a code named '{name}' already exists {where}")


def _child_ids(store: Store, parent_id: int | None, exclude: int | None = None) -> list[int]:
    """The children of ``parent_id`` (None: the top level) in the order the tree shows them."""
    rows = store.query(
        "SELECT id FROM codes WHERE parent_id IS ? AND id IS NOT ? ORDER BY position, id", (parent_id, exclude)
    )
    return [int(r[0]) for r in rows]


def _renumber(act: Action, ids: Sequence[int]) -> None:
    for i, cid in enumerate(ids):
        act.execute("UPDATE codes SET position = ? WHERE id = ? AND position != ?", (i, cid, i))
