"""Merging without losing anything: codes into codes, codebooks by a mapping table, another copy of the project.

Each function is one audited, undoable step and returns a :class:`MergeReport` whose counts before and after
prove that no coding was lost: every coding before the step has its counterpart after it (same segment, same
coder, the code it was mapped to). The check runs inside the step's transaction; if it failed, the step would be
rolled back with an error instead of committing a loss.

* :func:`merge_code` - merge code A into code B (:func:`thematic.codebook.merge_codes`).
* :func:`split_code` - move chosen segments' codings of a code to a new sibling code.
* :func:`move_subtree` - move a code and its subtree (:func:`thematic.codebook.move_code`).
* :func:`merge_by_mapping` - merge two coders' codebooks with a mapping table (CSV ``from_path,to_path``).
* :func:`merge_project` - bring in another copy of the project coded elsewhere (same forms): forms matched by
  external id, questions by key, segments by offsets (then text); coders by name (same name = same coder;
  ``coder_prefix`` renames incoming ones); codes by path (new ones created with their definitions; where both
  copies have a code with different definitions, ours stays and theirs becomes a memo on it); memos and chosen
  quotes brought over. The other file is opened read-only. Adjudications and recorded rounds stay in their copy.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from . import codebook, projectfile
from .adjudicate import resolve_code
from .coding import coder_id, find_coder, move_codings, write_codings
from .errors import Conflict, InvalidInput, NotFound, ThematicError
from .store import Action, Store, now

COUNTED = ("codings", "codes", "memos", "coders", "quotes")


@dataclass
class MergeReport:
    action: str
    before: dict[str, int]
    after: dict[str, int]
    details: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def lost(self) -> int:
        """Codings with no counterpart after the step (always 0: a loss aborts the step)."""
        return int(self.details.get("lost", 0))

    def summary(self) -> str:
        b, a = self.before, self.after
        counts = ", ".join(f"{k} {b[k]} -> {a[k]}" for k in COUNTED if k in b)
        extra = ", ".join(f"{k}: {v}" for k, v in self.details.items() if k != "lost" and not isinstance(v, (list, dict)))
        return f"{self.action}: {counts}" + (f" ({extra})" if extra else "") + f"; codings lost: {self.lost}"


def _counts(store: Store | Action) -> dict[str, int]:
    ex = store.execute if isinstance(store, Action) else store.conn.execute
    out = {t: int(ex(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in COUNTED}
    out["coded segment-coder pairs"] = int(
        ex("SELECT count(*) FROM (SELECT DISTINCT segment_id, coder_id FROM codings)").fetchone()[0]
    )
    return out


def _snapshot(act: Action) -> set[tuple[int, int, int]]:
    return {(r[0], r[1], r[2]) for r in act.execute("SELECT segment_id, coder_id, code_id FROM codings")}


def _check_kept(act: Action, before: set[tuple[int, int, int]], mapping: dict[int, int]) -> int:
    """How many codings of ``before`` (code ids mapped) are missing now; raises so the step rolls back."""
    after = _snapshot(act)
    lost = [(s, k, mapping.get(c, c)) for s, k, c in before if (s, k, mapping.get(c, c)) not in after]
    if lost:
        raise ThematicError(f"merge would lose {len(lost)} codings (e.g. segment {lost[0][0]}); nothing was changed")
    return 0


# ---------------------------------------------------------------------- codes


def merge_code(store: Store, source: int | str, target: int | str, *, actor: str | None = None) -> MergeReport:
    """Merge code ``source`` into ``target`` (codings move, duplicates collapse, definition kept as a memo)."""
    sid, tid = resolve_code(store, source), resolve_code(store, target)
    before = _counts(store)
    with store.action("merge.code", f"Merge code {sid} into {tid}", actor=actor) as act:
        snap = _snapshot(act)
        result = codebook.merge_codes(store, sid, tid, actor=actor)
        lost = _check_kept(act, snap, {sid: tid})
    return MergeReport("merge code", before, _counts(store), {**result, "lost": lost})


def move_subtree(
    store: Store, code: int | str, parent: int | str | None, *, position: int | None = None, actor: str | None = None
) -> MergeReport:
    """Move a code and everything under it under ``parent`` (None: top level)."""
    cid = resolve_code(store, code)
    pid = None if parent is None else resolve_code(store, parent)
    before = _counts(store)
    moved = len(codebook.descendant_ids(store, cid)) + 1
    codebook.move_code(store, cid, pid, position=position, actor=actor)
    return MergeReport("move subtree", before, _counts(store), {"codes moved": moved, "lost": 0})


def split_code(
    store: Store,
    code: int | str,
    new_name: str,
    segment_ids: Sequence[int],
    *,
    coders: Sequence[str] | None = None,
    actor: str | None = None,
) -> MergeReport:
    """Create a sibling of ``code`` named ``new_name`` and move the codings of ``segment_ids`` (all coders, or
    only ``coders``) to it; chosen quotes of those segments move too."""
    cid = resolve_code(store, code)
    c = codebook.get_code(store, cid)
    seg = list(dict.fromkeys(int(s) for s in segment_ids))
    if not seg:
        raise InvalidInput("choose the segments whose codings move to the new code")
    coder_ids = _coder_ids(store, coders) if coders else None
    _check_all_coded(store, cid, c.name, seg, coder_ids)
    before = _counts(store)
    with store.action(
        "merge.split",
        f"Split '{c.name}': {len(seg)} segments to new code '{new_name}'",
        actor=actor,
        details={"code_id": cid, "segments": seg[:50], "n": len(seg)},
    ) as act:
        snap = _snapshot(act)
        new_id = codebook.add_code(
            store, new_name, parent_id=c.parent_id, definition=f"Split from '{c.path_str}'.", actor=actor
        )
        moved = move_codings(act, cid, new_id, segment_ids=seg, coder_ids=coder_ids)
        act.execute(
            f"UPDATE OR IGNORE quotes SET code_id = ? WHERE code_id = ? AND segment_id IN ({','.join('?' * len(seg))})",
            [new_id, cid, *seg],
        )
        lost = _lost_in_split(snap, _snapshot(act), cid, new_id, set(seg), coder_ids)
        if lost:
            raise ThematicError(f"split would lose {lost} codings; nothing was changed")
        act.details.update({"new_code_id": new_id, "moved": moved})
    return MergeReport("split code", before, _counts(store), {"new_code_id": new_id, "codings moved": moved, "lost": 0})


def _coder_ids(store: Store, names: Sequence[str]) -> list[int]:
    out = []
    for name in names:
        found = find_coder(store, name)
        if found is None:
            raise NotFound(f"no coder {name!r} in this project")
        out.append(found)
    return out


def _check_all_coded(store: Store, cid: int, name: str, seg: list[int], coder_ids: list[int] | None) -> None:
    """Every chosen segment must carry the code (by one of ``coder_ids``, when given)."""
    marks = ",".join("?" * len(seg))
    coder_clause = f" AND coder_id IN ({','.join('?' * len(coder_ids))})" if coder_ids else ""
    params: list[Any] = [cid, *seg, *(coder_ids or [])]
    has = {
        int(r[0])
        for r in store.query(
            f"SELECT DISTINCT segment_id FROM codings WHERE code_id = ? AND segment_id IN ({marks}){coder_clause}", params
        )
    }
    missing = [s for s in seg if s not in has]
    if missing:
        raise InvalidInput(
            f"{len(missing)} of the chosen segments are not coded '{name}' (e.g. segment {missing[0]}); nothing was split"
        )


def _lost_in_split(
    snap: set[tuple[int, int, int]], after: set[tuple[int, int, int]], cid: int, new_id: int, seg: set[int],
    coder_ids: list[int] | None,
) -> int:
    """How many codings of ``snap`` have no counterpart in ``after`` (the split ones counted on the new code)."""
    split = {(s, k) for s, k, x in snap if x == cid and s in seg and (coder_ids is None or k in coder_ids)}
    return sum(1 for s, k, x in snap if (s, k, new_id if (x == cid and (s, k) in split) else x) not in after)


# ---------------------------------------------------------------------- codebooks by a mapping table


def read_mapping(source: str | Path | IO[Any] | Sequence[tuple[str, str]]) -> list[tuple[str, str, int]]:
    """``(from_path, to_path, row)`` pairs from a CSV file with columns from_path,to_path (or a list of pairs)."""
    if isinstance(source, (list, tuple)):
        return [(str(a).strip(), str(b).strip(), i + 1) for i, (a, b) in enumerate(source)]
    name = str(getattr(source, "name", source))
    if isinstance(source, (str, Path)):
        p = Path(source)
        if not p.exists():
            raise NotFound(f"no mapping file {p}")
        text = p.read_text(encoding="utf-8-sig")
    else:
        raw = source.read()  # type: ignore[union-attr]
        text = raw.decode("utf-8-sig") if isinstance(raw, bytes) else str(raw)
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise InvalidInput("the mapping file is empty", path=name)
    head = [" ".join(h.replace("_", " ").split()).casefold() for h in rows[0]]
    try:
        fi = next(i for i, h in enumerate(head) if h in ("from path", "from", "source", "from code", "old path", "old"))
        ti = next(i for i, h in enumerate(head) if h in ("to path", "to", "target", "to code", "new path", "new"))
    except StopIteration:
        raise InvalidInput("the mapping needs columns from_path and to_path", path=name) from None
    out = []
    for n, r in enumerate(rows[1:], start=2):
        a = r[fi].strip() if fi < len(r) else ""
        b = r[ti].strip() if ti < len(r) else ""
        if not a and not b:
            continue
        if not a or not b:
            raise InvalidInput("both from_path and to_path are needed", path=name, row=n)
        out.append((a, b, n))
    return out


def merge_by_mapping(
    store: Store, mapping: str | Path | IO[Any] | Sequence[tuple[str, str]], *, actor: str | None = None
) -> MergeReport:
    """Merge every ``from_path`` code into ``to_path`` (created if new) in one step; every coding moves."""
    pairs = read_mapping(mapping)
    if not pairs:
        raise InvalidInput("the mapping has no rows")
    problems: list[str] = []
    sources: dict[int, tuple[str, int]] = {}
    for a, b, n in pairs:
        code = codebook.find_code(store, a)
        if code is None:
            problems.append(f"row {n}: no code {a!r}")
        elif code.id in sources:
            problems.append(f"row {n}: {a!r} is mapped twice")
        else:
            sources[code.id] = (b, n)
    from_paths = {a.casefold() for a, _, _ in pairs}
    for a, b, n in pairs:
        if b.casefold() in from_paths and b.casefold() != a.casefold():
            problems.append(f"row {n}: {b!r} is itself mapped elsewhere (map straight to the final code)")
    if problems:
        more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise InvalidInput(f"{len(problems)} problems in the mapping: {'; '.join(problems[:5])}{more}; nothing was merged")
    depth = {c.id: c.depth for c in codebook.list_codes(store)}
    before = _counts(store)
    merged = 0
    with store.action(
        "merge.mapping", f"Merge codebooks by a mapping of {len(pairs)} codes", actor=actor, details={"pairs": len(pairs)}
    ) as act:
        snap = _snapshot(act)
        targets = {sid: codebook.ensure_path(store, b, actor=actor) for sid, (b, _) in sources.items()}
        final: dict[int, int] = {}
        # Deepest first, so a subcode is merged before its parent moves it elsewhere.
        for sid in sorted(sources, key=lambda s: -depth[s]):
            tid = targets[sid]
            final[sid] = tid
            if tid == sid:
                continue
            if tid in codebook.descendant_ids(store, sid):
                raise Conflict(f"row {sources[sid][1]}: cannot merge a code into its own subcode")
            codebook.merge_codes(store, sid, tid, actor=actor)
            merged += 1
        lost = _check_kept(act, snap, final)
        act.details["merged"] = merged
    return MergeReport("merge by mapping", before, _counts(store), {"codes merged": merged, "lost": lost})


# ---------------------------------------------------------------------- another copy of the project


def _open_other(path: str | Path) -> sqlite3.Connection:
    p = Path(path)
    if not p.exists():
        raise NotFound(f"no project at {p}")
    head = projectfile.read_head(p, 16)  # None: a project this process has open
    if head is not None and head != b"SQLite format 3\x00":
        raise InvalidInput("not a thematic project (not an SQLite file)", path=p)
    conn = projectfile.connect(p, "mode=ro")
    conn.row_factory = sqlite3.Row
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not {"forms", "answers", "segments", "codes", "codings", "coders", "questions"} <= tables:
        conn.close()
        raise InvalidInput("not a thematic project (tables missing)", path=p)
    return conn


def merge_project(
    store: Store, other: str | Path | IO[bytes] | bytes, *, coder_prefix: str = "", actor: str | None = None
) -> MergeReport:
    """Bring in every coding, code, memo and quote of another copy of this project (read, never written).
    ``other`` is a path, or the file's bytes / a binary file object (an upload)."""
    if not isinstance(other, (str, Path)):
        import tempfile

        data = other if isinstance(other, bytes) else other.read()
        label = Path(str(getattr(other, "name", "") or "uploaded copy")).name
        with tempfile.TemporaryDirectory(prefix="thematic-merge-") as tmp:
            copy = Path(tmp) / "copy.db"
            copy.write_bytes(data)
            return _merge_project(store, copy, label, coder_prefix, actor)
    return _merge_project(store, Path(other), Path(other).name, coder_prefix, actor)


def _merge_project(store: Store, other: Path, name: str, coder_prefix: str, actor: str | None) -> MergeReport:
    conn = _open_other(other)
    try:
        plan = _plan(store, conn, coder_prefix)
    finally:
        conn.close()
    before = _counts(store)
    with store.action(
        "merge.project", f"Merge project copy {name}", actor=actor, details={"file": name, "prefix": coder_prefix}
    ) as act:
        code_map, definitions_kept = _bring_codes(store, act, plan["codes"], actor, name)
        coder_map = {oid: coder_id(act, nm) for oid, nm in plan["coders"].items()}
        rows = [
            (seg, code_map[code], coder_map[coder], origin, created)
            for seg, code, coder, origin, created in plan["codings"]
        ]
        added = write_codings(act, rows)
        present = len(rows) - added
        memos_added = 0
        for m in plan["memos"]:
            vals = (
                m["phase"], code_map.get(m["code_id"]) if m["code_id"] is not None else None, m["segment_id"],
                m["answer_id"], coder_map.get(m["coder_id"]) if m["coder_id"] is not None else None, m["title"], m["body"],
            )
            dup = act.execute(
                "SELECT 1 FROM memos WHERE phase IS ? AND code_id IS ? AND segment_id IS ? AND answer_id IS ? "
                "AND title = ? AND body = ?",
                (vals[0], vals[1], vals[2], vals[3], vals[5], vals[6]),
            ).fetchone()
            if dup is None:
                act.execute(
                    "INSERT INTO memos (phase, code_id, segment_id, answer_id, coder_id, title, body, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*vals, m["created_at"], m["updated_at"]),
                )
                memos_added += 1
        quotes_added = 0
        for code, seg, pos in plan["quotes"]:
            quotes_added += act.execute(
                "INSERT OR IGNORE INTO quotes (code_id, segment_id, position) VALUES (?, ?, ?)", (code_map[code], seg, pos)
            ).rowcount
        # Proof: every incoming coding has its counterpart now.
        have = _snapshot(act)
        missing = [c for c in plan["codings"] if (c[0], coder_map[c[2]], code_map[c[1]]) not in have]
        if missing:
            raise ThematicError(f"merge would lose {len(missing)} incoming codings; nothing was changed")
        details = {
            "incoming codings": len(plan["codings"]),
            "added": added,
            "already present": present,
            "codes created": len([c for c in plan["codes"] if c["id"] in code_map and c.get("created")]),
            "memos added": memos_added,
            "their differing definitions kept as memos": definitions_kept,
            "quotes added": quotes_added,
            "lost": 0,
        }
        act.details.update({k.replace(" ", "_"): v for k, v in details.items()})
    return MergeReport("merge project", before, _counts(store), details, plan["warnings"])


def _plan(store: Store, conn: sqlite3.Connection, prefix: str) -> dict[str, Any]:
    """Match everything the other copy holds to this project; raise listing what cannot be matched."""
    seg_map, answer_map, forms = _match_segments(store, conn)
    warnings: list[str] = []
    coders = {r["id"]: f"{prefix}{r['name']}" for r in conn.execute("SELECT id, name FROM coders")}
    codings = [
        (seg_map[r[0]], r[1], r[2], r[3], r[4])
        for r in conn.execute("SELECT segment_id, code_id, coder_id, origin, created_at FROM codings ORDER BY id")
    ]
    memos = _other_memos(conn, seg_map, answer_map, warnings)
    quotes = [(r[0], seg_map[r[1]], r[2]) for r in conn.execute("SELECT code_id, segment_id, position FROM quotes")]
    other_forms = {r[0] for r in conn.execute("SELECT external_id FROM forms")}
    extra = other_forms - set(forms)
    if extra:
        warnings.append(f"{len(extra)} forms of the other copy are not in this project (they had no codings)")
    return {
        "codes": _other_codes(conn), "coders": coders, "codings": codings, "memos": memos, "quotes": quotes,
        "warnings": warnings,
    }


def _match_segments(store: Store, conn: sqlite3.Connection) -> tuple[dict[int, int], dict[int, int], dict[str, int]]:
    """The other copy's segment ids -> this project's, its answer ids -> ours, and our forms by external id.

    A segment matches by form, question and exact span, else by its text with spaces collapsed. A segment the
    other copy coded, quoted or wrote a memo on that matches nothing here is an error (nothing is merged)."""
    forms = {r[0]: r[1] for r in store.query("SELECT external_id, id FROM forms")}
    qkeys = {r[0]: r[1] for r in store.query("SELECT key, id FROM questions")}
    answers = {(r[1], r[2]): r[0] for r in store.query("SELECT id, form_id, question_id FROM answers")}
    segs: dict[int, list[Any]] = {}
    for r in store.query('SELECT id, answer_id, start, "end", text FROM segments'):
        segs.setdefault(r[1], []).append(r)
    seg_map: dict[int, int] = {}
    answer_map: dict[int, int] = {}
    problems: list[str] = []
    needed_segments = {
        r[0] for r in conn.execute(
            "SELECT segment_id FROM codings UNION SELECT segment_id FROM memos WHERE segment_id IS NOT NULL "
            "UNION SELECT segment_id FROM quotes"
        )
    }
    rows = conn.execute(
        'SELECT s.id, s.start, s."end", s.text, a.id AS answer_id, f.external_id, q.key '
        "FROM segments s JOIN answers a ON a.id = s.answer_id JOIN forms f ON f.id = a.form_id "
        "JOIN questions q ON q.id = a.question_id"
    ).fetchall()
    unmatched_forms = set()
    for r in rows:
        fid, qid = forms.get(r["external_id"]), qkeys.get(r["key"])
        aid = answers.get((fid, qid)) if fid is not None and qid is not None else None
        if aid is not None:
            answer_map[r["answer_id"]] = aid
        hit = _same_segment(r, segs.get(aid, []) if aid is not None else [])
        if hit is not None:
            seg_map[r["id"]] = hit
        elif r["id"] in needed_segments:
            if fid is None:
                unmatched_forms.add(r["external_id"])
            problems.append(
                f"segment {r['id']} (form {r['external_id']!r}, question {r['key']!r}): "
                f"{' '.join(r['text'].split())[:40]!r}"
            )
    if problems:
        more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        hint = f" ({len(unmatched_forms)} forms are not in this project)" if unmatched_forms else ""
        raise InvalidInput(
            f"{len(problems)} coded segments of the other copy match no segment here{hint}: "
            f"{'; '.join(problems[:5])}{more}; nothing was merged"
        )
    return seg_map, answer_map, forms


def _same_segment(r: Any, mine: list[Any]) -> int | None:
    """Our segment (of the same answer) that ``r`` is: the same span and text, else the same text."""
    hit = next((m[0] for m in mine if m[2] == r["start"] and m[3] == r["end"] and m[4] == r["text"]), None)
    if hit is None:
        hit = next((m[0] for m in mine if " ".join(m[4].split()) == " ".join(r["text"].split())), None)
    return None if hit is None else int(hit)


def _other_codes(conn: sqlite3.Connection) -> list[dict[str, Any]]:
    """The other copy's codes, parents first, each with its path and examples."""
    crow = conn.execute("SELECT * FROM codes ORDER BY position, id").fetchall()
    children: dict[Any, list[Any]] = {}
    for r in crow:
        children.setdefault(r["parent_id"], []).append(r)
    examples: dict[int, list[str]] = {}
    if "code_examples" in {x[0] for x in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}:
        for r in conn.execute("SELECT code_id, text FROM code_examples ORDER BY id"):
            examples.setdefault(r[0], []).append(r[1])
    codes: list[dict[str, Any]] = []

    def walk(parent: Any, path: tuple[str, ...]) -> None:
        for r in children.get(parent, []):
            p = (*path, r["name"])
            codes.append({**dict(r), "path": p, "examples": examples.get(r["id"], [])})
            walk(r["id"], p)

    walk(None, ())
    return codes


def _other_memos(
    conn: sqlite3.Connection, seg_map: dict[int, int], answer_map: dict[int, int], warnings: list[str]
) -> list[dict[str, Any]]:
    """The other copy's memos with segment and answer ids mapped to ours."""
    memos = []
    for r in conn.execute("SELECT * FROM memos ORDER BY id"):
        m = dict(r)
        if m["segment_id"] is not None:
            m["segment_id"] = seg_map[m["segment_id"]]
        if m["answer_id"] is not None:
            if m["answer_id"] not in answer_map:
                warnings.append(f"memo {m['id']} is on an answer that is not in this project: kept without it")
            m["answer_id"] = answer_map.get(m["answer_id"])
        memos.append(m)
    return memos


def _bring_codes(
    store: Store, act: Action, codes: list[dict[str, Any]], actor: str | None, source: str
) -> tuple[dict[int, int], int]:
    """Map the other copy's code ids to ours by path, creating missing codes with their definitions. Where a code
    exists here with another definition, ours is kept and theirs is added as a memo on the code (nothing lost).
    Returns the mapping and how many such memos were added."""
    out: dict[int, int] = {}
    kept = 0
    for c in codes:
        found = codebook.find_code(store, list(c["path"]))
        if found is not None:
            out[c["id"]] = found.id
            theirs = [(label, (c[f] or "").strip()) for label, f in
                      (("Definition", "definition"), ("Includes", "includes"), ("Excludes", "excludes"))]
            ours = {"Definition": found.definition, "Includes": found.includes, "Excludes": found.excludes}
            differs = [f"{label}: {text}" for label, text in theirs if text and text != ours[label].strip()]
            if differs:
                title = f"Definition of '{found.path_str}' in {source}"
                body = "\n".join(differs)
                dup = act.execute(
                    "SELECT 1 FROM memos WHERE code_id = ? AND title = ? AND body = ?", (found.id, title, body)
                ).fetchone()
                if dup is None:
                    t = now()
                    act.execute(
                        "INSERT INTO memos (code_id, title, body, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                        (found.id, title, body, t, t),
                    )
                    kept += 1
            continue
        parent = out.get(c["parent_id"]) if c["parent_id"] is not None else None
        out[c["id"]] = codebook.add_code(
            store, c["name"], parent_id=parent, definition=c["definition"] or "", includes=c["includes"] or "",
            excludes=c["excludes"] or "", colour=c["colour"] or "", examples=c["examples"], actor=actor,
        )
        c["created"] = True
    return out, kept


__all__ = [
    "MergeReport", "merge_by_mapping", "merge_code", "merge_project", "move_subtree", "read_mapping", "split_code",
]
