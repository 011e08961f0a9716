"""Coders and codings: who applied which code to which segment, when, and where it came from.

A coding is unique per (segment, code, coder); ``origin`` says whether a human applied it or accepted a machine
proposal (``suggestion``, ``cluster``), or it came from an import, an adjudication or a merge.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from .errors import InvalidInput, NotFound
from .models import ORIGINS, Coding
from .store import Action, Store, now

CodingRow = tuple[int, int, int, str] | tuple[int, int, int, str, str]
"""A coding to write: ``(segment_id, code_id, coder_id, origin)``, optionally with ``created_at`` last."""


def coders(store: Store) -> list[str]:
    return [r[0] for r in store.query("SELECT name FROM coders ORDER BY name")]


def _clean_coder(name: str) -> str:
    clean = " ".join(str(name).split())
    if not clean:
        raise InvalidInput("a coder needs a name")
    return clean


def find_coder(store: Store, name: str) -> int | None:
    """The id of coder ``name`` (spaces collapsed), or None if the project has no such coder. Never writes."""
    clean = " ".join(str(name).split())
    row = store.query_one("SELECT id FROM coders WHERE name = ?", (clean,)) if clean else None
    return None if row is None else int(row[0])


def require_coder(store: Store, name: str) -> int:
    """The id of coder ``name``; :class:`NotFound` naming the project's coders if there is none."""
    found = find_coder(store, name)
    if found is None:
        raise NotFound(_no_coder(store, name))
    return found


def _no_coder(store: Store, name: str) -> str:
    known = ", ".join(coders(store)) or "none"
    return f"no coder {name!r} in this project (coders: {known})"


def coder_id(act: Action, name: str, *, create: bool = True) -> int:
    """The id of coder ``name`` inside an open action; with ``create`` a new coder is added (and undone with the
    action), without it a missing coder is :class:`NotFound`. The one place that writes the coders table."""
    clean = _clean_coder(name)
    row = act.execute("SELECT id FROM coders WHERE name = ?", (clean,)).fetchone()
    if row is not None:
        return int(row[0])
    if not create:
        raise NotFound(_no_coder(act.store, clean))
    return act.insert("INSERT INTO coders (name, created_at) VALUES (?, ?)", (clean, now()))


def ensure_coder(store: Store, name: str, *, actor: str | None = None) -> int:
    """The id of coder ``name``, adding the coder if new (one undoable step when it adds)."""
    clean = _clean_coder(name)
    found = find_coder(store, clean)
    if found is not None:
        return found
    with store.action("coder.add", f"Add coder '{clean}'", actor=actor or clean, details={"coder": clean}) as act:
        return coder_id(act, clean)


def write_codings(act: Action, rows: Iterable[CodingRow]) -> int:
    """Add codings inside an open action: the one writer of new rows in the codings table.

    Each row is ``(segment_id, code_id, coder_id, origin)`` or the same with ``created_at`` (kept when a coding is
    copied from elsewhere; now otherwise). A coding the coder already has on that segment is left as it was.
    Returns how many codings were new."""
    t = now()
    batch: list[tuple[int, int, int, str, str]] = []
    for row in rows:
        origin = row[3]
        if origin not in ORIGINS:
            raise InvalidInput(f"unknown coding origin {origin!r} (one of {', '.join(ORIGINS)})")
        created = row[4] if len(row) == 5 else t  # type: ignore[misc]
        batch.append((int(row[0]), int(row[1]), int(row[2]), origin, str(created)))
    if not batch:
        return 0
    cur = act.executemany(
        "INSERT OR IGNORE INTO codings (segment_id, code_id, coder_id, origin, created_at) VALUES (?, ?, ?, ?, ?)",
        batch,
    )
    return int(cur.rowcount)


def delete_codings(
    act: Action, segment_id: int, code_id: int, coder_id: int, *, origin: str | None = None
) -> int:
    """Remove one coder's coding of a segment with a code (only if it has ``origin``, when given); returns 0 or 1."""
    sql = "DELETE FROM codings WHERE segment_id = ? AND code_id = ? AND coder_id = ?"
    params: list[object] = [segment_id, code_id, coder_id]
    if origin is not None:
        sql += " AND origin = ?"
        params.append(origin)
    return int(act.execute(sql, params).rowcount)


def move_codings(
    act: Action,
    source_id: int,
    target_id: int,
    *,
    segment_ids: Sequence[int] | None = None,
    coder_ids: Sequence[int] | None = None,
) -> int:
    """Recode codings of code ``source_id`` (only on ``segment_ids`` / by ``coder_ids``, when given) as
    ``target_id``. A coding the target already has for that segment and coder is a duplicate: it collapses into
    the target's. Returns how many codings moved (the rest collapsed)."""
    where, params = "code_id = ?", [source_id]
    if segment_ids is not None:
        where += f" AND segment_id IN ({','.join('?' * len(segment_ids))})"
        params += [int(s) for s in segment_ids]
    if coder_ids is not None:
        where += f" AND coder_id IN ({','.join('?' * len(coder_ids))})"
        params += [int(c) for c in coder_ids]
    moved = act.execute(f"UPDATE OR IGNORE codings SET code_id = ? WHERE {where}", [target_id, *params]).rowcount
    act.execute(f"DELETE FROM codings WHERE {where}", params)
    return int(moved)


def _check(act: Action, segment_ids: Sequence[int], code_id: int, origin: str) -> str:
    if origin not in ORIGINS:
        raise InvalidInput(f"unknown coding origin {origin!r} (one of {', '.join(ORIGINS)})")
    row = act.execute("SELECT name FROM codes WHERE id = ?", (code_id,)).fetchone()
    if row is None:
        raise NotFound(f"no code with id {code_id}")
    for sid in segment_ids:
        if act.execute("SELECT 1 FROM segments WHERE id = ?", (sid,)).fetchone() is None:
            raise NotFound(f"no segment {sid} in this project")
    return str(row[0])


def apply_code(store: Store, segment_id: int, code_id: int, coder: str, *, origin: str = "human") -> bool:
    """Code one segment; returns False (and records nothing) if this coder already applied this code there."""
    return apply_code_many(store, [segment_id], code_id, coder, origin=origin) == 1


def apply_code_many(
    store: Store, segment_ids: Iterable[int], code_id: int, coder: str, *, origin: str = "human"
) -> int:
    """Code several segments in one undoable step; returns how many codings were new."""
    ids = list(dict.fromkeys(segment_ids))
    if not ids:
        return 0
    existing = {
        r[0]
        for r in store.query(
            "SELECT c.segment_id FROM codings c JOIN coders k ON k.id = c.coder_id WHERE c.code_id = ? AND k.name = ?",
            (code_id, coder),
        )
    }
    todo = [i for i in ids if i not in existing]
    if not todo:
        return 0
    code_name = store.scalar("SELECT name FROM codes WHERE id = ?", (code_id,)) or f"#{code_id}"
    what = f"segment {todo[0]}" if len(todo) == 1 else f"{len(todo)} segments"
    with store.action(
        "coding.apply",
        f"Code {what} as '{code_name}'",
        actor=coder,
        details={"code_id": code_id, "segment_ids": todo[:50], "n": len(todo), "origin": origin},
    ) as act:
        _check(act, todo, code_id, origin)
        who = coder_id(act, coder)
        write_codings(act, [(sid, code_id, who, origin) for sid in todo])
    return len(todo)


def apply_codes(
    store: Store, segment_id: int, code_ids: Sequence[int | Callable[[], int]], coder: str
) -> int:
    """Code one segment with several codes in one undoable step; returns how many codings were new.

    An entry may be a callable giving the code's id (a code typed on the spot, created when it is called): it is
    called inside the step, in order, so that undoing the step removes the code it created as well.
    """
    with store.action("coding.apply", f"Code segment {segment_id} with {len(code_ids)} code(s)", actor=coder):
        n = 0
        for ref in code_ids:
            cid = ref() if callable(ref) else ref
            n += int(apply_code(store, segment_id, cid, coder))
        return n


def remove_coding(store: Store, segment_id: int, code_id: int, coder: str) -> bool:
    """Remove one coding; returns False if there was none."""
    who = find_coder(store, coder)
    row = store.query_one(
        "SELECT c.id, k.name AS code FROM codings c JOIN codes k ON k.id = c.code_id "
        "WHERE c.segment_id = ? AND c.code_id = ? AND c.coder_id = ?",
        (segment_id, code_id, who),
    )
    if row is None or who is None:
        return False
    with store.action(
        "coding.remove",
        f"Uncode segment {segment_id} from '{row['code']}'",
        actor=coder,
        details={"segment_id": segment_id, "code_id": code_id},
    ) as act:
        delete_codings(act, segment_id, code_id, who)
    return True


def codings(
    store: Store,
    *,
    coder: str | None = None,
    code_id: int | None = None,
    segment_ids: Iterable[int] | None = None,
) -> list[Coding]:
    where: list[str] = []
    params: list[object] = []
    if coder is not None:
        where.append("k.name = ?")
        params.append(coder)
    if code_id is not None:
        where.append("c.code_id = ?")
        params.append(code_id)
    sql = (
        "SELECT c.id, c.segment_id, c.code_id, k.name AS coder, c.origin, c.created_at "
        "FROM codings c JOIN coders k ON k.id = c.coder_id"
    )
    rows = []
    if segment_ids is not None:
        ids = list(segment_ids)
        for i in range(0, len(ids), 900):
            chunk = ids[i : i + 900]
            w = [*where, f"c.segment_id IN ({','.join('?' * len(chunk))})"]
            rows += store.query(sql + " WHERE " + " AND ".join(w) + " ORDER BY c.id", [*params, *chunk])
    else:
        rows = store.query(sql + ((" WHERE " + " AND ".join(where)) if where else "") + " ORDER BY c.id", params)
    return [Coding(r["id"], r["segment_id"], r["code_id"], r["coder"], r["origin"], r["created_at"]) for r in rows]


def code_counts(store: Store, *, coder: str | None = None, rollup: bool = True) -> dict[int, tuple[int, int]]:
    """Per code: (distinct segments, distinct respondents). With ``rollup`` a code counts its subcodes' codings too."""
    coder_clause = "AND c.coder_id = ?" if coder is not None else ""
    params: list[object] = [find_coder(store, coder)] if coder is not None else []
    if rollup:
        sql = (
            "WITH RECURSIVE anc(code_id, ancestor) AS (SELECT id, id FROM codes "
            "UNION ALL SELECT anc.code_id, k.parent_id FROM anc JOIN codes k ON k.id = anc.ancestor "
            "WHERE k.parent_id IS NOT NULL) "
            "SELECT anc.ancestor AS code_id, count(DISTINCT c.segment_id) AS segs, count(DISTINCT a.form_id) AS forms "
            "FROM codings c JOIN anc ON anc.code_id = c.code_id JOIN segments s ON s.id = c.segment_id "
            f"JOIN answers a ON a.id = s.answer_id WHERE 1 = 1 {coder_clause} GROUP BY anc.ancestor"
        )
    else:
        sql = (
            "SELECT c.code_id, count(DISTINCT c.segment_id) AS segs, count(DISTINCT a.form_id) AS forms "
            "FROM codings c JOIN segments s ON s.id = c.segment_id JOIN answers a ON a.id = s.answer_id "
            f"WHERE 1 = 1 {coder_clause} GROUP BY c.code_id"
        )
    counts = {int(r[0]): (int(r[1]), int(r[2])) for r in store.query(sql, params)}
    for (cid,) in store.query("SELECT id FROM codes"):
        counts.setdefault(int(cid), (0, 0))
    return counts


_ANCESTORS = (
    "WITH RECURSIVE anc(code_id, ancestor) AS (SELECT id, id FROM codes "
    "UNION ALL SELECT anc.code_id, k.parent_id FROM anc JOIN codes k ON k.id = anc.ancestor "
    "WHERE k.parent_id IS NOT NULL) "
)


def code_counts_by_group(
    store: Store, group: str = "question", *, coder: str | None = None
) -> dict[int, dict[str, tuple[int, int]]]:
    """Per code (with its subcodes' codings rolled up) and per group: (distinct segments, distinct respondents).

    ``group`` is ``"question"`` (keyed by question key) or a metadata field (keyed by its value; forms without the
    field count under ``""``). Codes with no codings are absent."""
    coder_clause = "AND c.coder_id = ?" if coder is not None else ""
    params: list[object] = []
    if group == "question":
        key_sql, join = "q.key", "JOIN questions q ON q.id = a.question_id"
    else:
        key_sql, join = "coalesce(m.value, '')", "LEFT JOIN form_meta m ON m.form_id = a.form_id AND m.field = ?"
        params.append(group)
    if coder is not None:
        params.append(find_coder(store, coder))
    sql = (
        _ANCESTORS
        + f"SELECT anc.ancestor AS code_id, {key_sql} AS grp, count(DISTINCT c.segment_id), count(DISTINCT a.form_id) "
        "FROM codings c JOIN anc ON anc.code_id = c.code_id JOIN segments s ON s.id = c.segment_id "
        f"JOIN answers a ON a.id = s.answer_id {join} WHERE 1 = 1 {coder_clause} GROUP BY anc.ancestor, grp"
    )
    out: dict[int, dict[str, tuple[int, int]]] = {}
    for r in store.query(sql, params):
        out.setdefault(int(r[0]), {})[str(r[1])] = (int(r[2]), int(r[3]))
    return out


def code_overlap(store: Store, code_ids: Sequence[int], *, coder: str | None = None) -> dict[tuple[int, int], int]:
    """For each pair of the given codes (each with its subcodes rolled up), the number of segments coded with both.

    Keys are ``(a, b)`` with ``a < b``; pairs that share no segment are absent. A code is not compared with its own
    ancestors or descendants (they trivially share segments)."""
    ids = sorted(set(int(i) for i in code_ids))
    if len(ids) < 2:
        return {}
    marks = ",".join("?" * len(ids))
    coder_clause = "AND c.coder_id = ?" if coder is not None else ""
    params: list[object] = [*ids, *([find_coder(store, coder)] if coder is not None else [])]
    sql = (
        _ANCESTORS
        + "SELECT DISTINCT anc.ancestor AS code_id, c.segment_id FROM codings c JOIN anc ON anc.code_id = c.code_id "
        f"WHERE anc.ancestor IN ({marks}) {coder_clause}"
    )
    segs: dict[int, set[int]] = {}
    for r in store.query(sql, params):
        segs.setdefault(int(r[0]), set()).add(int(r[1]))
    related = set()
    for r in store.query(_ANCESTORS + "SELECT code_id, ancestor FROM anc WHERE code_id != ancestor"):
        related.add((min(r[0], r[1]), max(r[0], r[1])))
    out: dict[tuple[int, int], int] = {}
    for i, a in enumerate(ids):
        for b in ids[i + 1 :]:
            if (a, b) in related:
                continue
            n = len(segs.get(a, set()) & segs.get(b, set()))
            if n:
                out[(a, b)] = n
    return out
