"""What an analyst does with candidate themes. Each function is ONE audited, undoable action.

merge, split, move segments, rename, accept as a code (coding its segments with origin ``"cluster"``), reject.
Keywords and representative segments of the candidates a change touches are recomputed inside the same action.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..embed import Embedder
from ..errors import Conflict, InvalidInput, NotFound
from ..store import Action, Store, now
from .candidates import Run, get_run, refresh, run_vectors
from .pipeline import SampledKMeans


def _row(act: Action, candidate_id: int) -> Any:
    row = act.execute("SELECT * FROM cluster_candidates WHERE id = ?", (candidate_id,)).fetchone()
    if row is None:
        raise NotFound(f"no candidate theme {candidate_id}")
    return row


def _open(act: Action, candidate_id: int, *, level: int | None = 1) -> Any:
    row = _row(act, candidate_id)
    if level is not None and row["level"] != level:
        kind = "a group of candidates" if row["level"] == 0 else "a candidate"
        raise InvalidInput(f"candidate {candidate_id} ('{row['label']}') is {kind}; this works on level-{level} ones")
    if row["status"] != "open":
        raise Conflict(f"candidate {candidate_id} ('{row['label']}') is already {row['status']}")
    return row


def merge_candidates(
    store: Store, candidate_ids: Sequence[int], *, label: str | None = None, actor: str | None = None
) -> int:
    """Merge candidates into the first one; the others are closed as 'merged'. Returns the first id."""
    ids = list(dict.fromkeys(int(i) for i in candidate_ids))
    if len(ids) < 2:
        raise InvalidInput("merging needs at least two candidates")
    target = ids[0]
    with store.action("cluster.merge", f"Merge {len(ids)} candidate themes", actor=actor,
                      details={"candidate_ids": ids}) as act:
        rows = [_open(act, i) for i in ids]
        if len({r["run_id"] for r in rows}) != 1:
            raise InvalidInput("candidates from different clustering runs cannot be merged")
        if rows[0]["unclustered"]:
            raise InvalidInput("merge into a candidate theme, not into 'Unclustered' (list it after the target)")
        run = get_run(store, rows[0]["run_id"])
        for r in rows[1:]:
            act.execute("UPDATE cluster_members SET candidate_id = ? WHERE candidate_id = ?", (target, r["id"]))
            act.execute("UPDATE cluster_candidates SET status = 'merged' WHERE id = ?", (r["id"],))
        refresh(act, run, [target], relabel=[] if label else [target])
        if label:
            act.execute("UPDATE cluster_candidates SET label = ? WHERE id = ?", (_clean(label), target))
        act.details["target"] = target
        act.details["label"] = act.execute("SELECT label FROM cluster_candidates WHERE id = ?", (target,)).fetchone()[0]
    return target


def split_candidate(
    store: Store, candidate_id: int, k: int = 2, *, seed: int = 42, embedder: Embedder | None = None,
    actor: str | None = None,
) -> list[int]:
    """Re-cluster a candidate's segments into ``k`` parts; the largest stays in it. Returns all ``k`` ids."""
    if k < 2:
        raise InvalidInput(f"split into at least 2 parts, not {k}")
    with store.action("cluster.split", f"Split candidate theme {candidate_id} into {k}", actor=actor,
                      details={"candidate_id": candidate_id, "k": k, "seed": seed}) as act:
        row = _open(act, candidate_id)
        run = get_run(store, row["run_id"])
        seg = [int(r[0]) for r in act.execute(
            "SELECT segment_id FROM cluster_members WHERE candidate_id = ? ORDER BY segment_id", (candidate_id,))]
        if len(seg) < k:
            raise InvalidInput(f"candidate {candidate_id} has {len(seg)} segments; cannot split it into {k}")
        _, vecs = run_vectors(store, run, seg, embedder)
        parts = SampledKMeans(k, seed=seed, n_init=3).fit(vecs).labels_
        if len(set(parts.tolist())) < 2:
            raise InvalidInput(f"candidate {candidate_id}'s segments are too alike to split")
        ids = [candidate_id]
        pos = int(act.execute("SELECT coalesce(max(position), 0) FROM cluster_candidates WHERE run_id = ?",
                              (run.id,)).fetchone()[0])
        for part in range(1, int(parts.max()) + 1):
            pos += 1
            new_id = act.insert(
                "INSERT INTO cluster_candidates (run_id, parent_id, level, label, keywords, representatives, "
                "unclustered, position) VALUES (?, ?, 1, ?, '[]', '[]', ?, ?)",
                (run.id, row["parent_id"], f"{row['label']} ({part + 1})", row["unclustered"], pos),
            )
            act.executemany(
                "UPDATE cluster_members SET candidate_id = ? WHERE run_id = ? AND segment_id = ?",
                [(new_id, run.id, s) for s, p in zip(seg, parts) if p == part],
            )
            ids.append(new_id)
        refresh(act, run, ids, relabel=[] if row["unclustered"] else ids)
        act.details["candidate_ids"] = ids
    return ids


def move_segments(
    store: Store, segment_ids: Sequence[int], candidate_id: int, *, actor: str | None = None
) -> int:
    """Move segments (of the target's run) into a candidate; returns how many moved. Labels stay as they are."""
    seg = list(dict.fromkeys(int(s) for s in segment_ids))
    if not seg:
        return 0
    with store.action("cluster.move", f"Move {len(seg)} segment(s) to candidate theme {candidate_id}", actor=actor,
                      details={"segment_ids": seg[:50], "n": len(seg), "candidate_id": candidate_id}) as act:
        target = _open(act, candidate_id)
        run = get_run(store, target["run_id"])
        marks = ",".join("?" * len(seg))
        current = {int(r[0]): int(r[1]) for r in act.execute(
            f"SELECT segment_id, candidate_id FROM cluster_members WHERE run_id = ? AND segment_id IN ({marks})",
            (run.id, *seg))}
        missing = [s for s in seg if s not in current]
        if missing:
            raise NotFound(f"segment {missing[0]} is not part of clustering run {run.id}")
        moving = [s for s in seg if current[s] != candidate_id]
        if not moving:
            return 0
        act.executemany("UPDATE cluster_members SET candidate_id = ? WHERE run_id = ? AND segment_id = ?",
                        [(candidate_id, run.id, s) for s in moving])
        sources = sorted({current[s] for s in moving})
        for src in sources:  # an emptied candidate is closed
            left = act.execute("SELECT count(*) FROM cluster_members WHERE candidate_id = ?", (src,)).fetchone()[0]
            if left == 0:
                act.execute("UPDATE cluster_candidates SET status = 'merged' WHERE id = ? AND status = 'open'", (src,))
        refresh(act, run, [candidate_id, *sources])
        act.details["moved"] = len(moving)
    return len(moving)


def rename_candidate(store: Store, candidate_id: int, label: str, *, actor: str | None = None) -> None:
    name = _clean(label)
    with store.action("cluster.rename", f"Rename candidate theme {candidate_id} to '{name}'", actor=actor,
                      details={"candidate_id": candidate_id, "label": name}) as act:
        old = _row(act, candidate_id)
        act.details["old_label"] = old["label"]
        act.execute("UPDATE cluster_candidates SET label = ? WHERE id = ?", (name, candidate_id))


def reject_candidate(store: Store, candidate_id: int, *, actor: str | None = None) -> None:
    """Set a candidate (or a group) aside; its segments stay where they are and can be moved elsewhere."""
    with store.action("cluster.reject", f"Reject candidate theme {candidate_id}", actor=actor,
                      details={"candidate_id": candidate_id}) as act:
        row = _open(act, candidate_id, level=None)
        act.details["label"] = row["label"]
        act.execute("UPDATE cluster_candidates SET status = 'rejected' WHERE id = ?", (candidate_id,))


def members_by_fit(store: Store, candidate_id: int) -> list[tuple[int, str, float]]:
    """The segments of a candidate (of a group: of its open children) as ``(segment_id, text, fit)``, best first.

    ``fit`` is the segment's cosine similarity to its candidate's centroid in the run's embedding space (1 is the
    centre; the lowest are the ones most worth a second look before accepting). Ties keep segment order.
    """
    row = store.query_one("SELECT level FROM cluster_candidates WHERE id = ?", (candidate_id,))
    if row is None:
        raise NotFound(f"no candidate theme {candidate_id}")
    if row["level"] == 1:
        where, args = "m.candidate_id = ?", (candidate_id,)
    else:
        where = ("m.candidate_id IN (SELECT id FROM cluster_candidates WHERE parent_id = ? AND status = 'open')")
        args = (candidate_id,)
    rows = store.query(
        f"SELECT m.segment_id, s.text, m.score FROM cluster_members m JOIN segments s ON s.id = m.segment_id "
        f"WHERE {where} ORDER BY m.score DESC, m.segment_id",
        args,
    )
    return [(int(r[0]), str(r[1]), float(r[2])) for r in rows]


def accept_candidate(
    store: Store, candidate_id: int, *, coder: str, parent_code_id: int | None = None, name: str | None = None,
    exclude: Sequence[int] = (),
) -> int:
    """Make a candidate a code (under ``parent_code_id``) and code its segments for ``coder`` (origin "cluster").

    ``exclude``: segments of the candidate the analyst left out after reviewing it (see :func:`members_by_fit`);
    they are not coded, and the audit event records how many were left out. Accepting a group makes a code for it
    and accepts each of its open candidates as a code beneath it (the exclusions apply to them too).
    The new code's definition stays empty (a person writes definitions); the candidate's keywords, label, run
    and model are kept beside it in ``code_provenance`` (see :func:`provenance`). Returns the new code's id.
    """
    left_out = {int(s) for s in exclude}
    summary = f"Accept candidate theme {candidate_id} as a code"
    if left_out:
        summary += f", leaving out {len(left_out)} segment(s)"
    with store.action("cluster.accept", summary, actor=coder,
                      details={"candidate_id": candidate_id, "parent_code_id": parent_code_id}) as act:
        code_id, excluded = _accept(act, store, candidate_id, coder, parent_code_id, name, left_out)
        unknown = left_out - excluded
        if unknown:
            raise InvalidInput(
                f"segment {min(unknown)} is not in candidate theme {candidate_id}; only its own segments can be left out"
            )
        act.details["excluded"] = len(excluded)
        act.details["excluded_ids"] = sorted(excluded)[:200]
    return code_id


def _accept(
    act: Action, store: Store, candidate_id: int, coder: str, parent_code_id: int | None, name: str | None,
    left_out: set[int],
) -> tuple[int, set[int]]:
    from ..codebook import add_code
    from ..coding import apply_code_many

    row = _open(act, candidate_id, level=None)
    code_name = _clean(name or row["label"]).replace("/", "\uff0f")
    run = get_run(store, row["run_id"])
    code_id = add_code(store, code_name, parent_id=parent_code_id, examples=_examples(act, row), actor=coder)
    excluded: set[int] = set()
    if row["level"] == 1:
        members = [int(r[0]) for r in act.execute(
            "SELECT segment_id FROM cluster_members WHERE candidate_id = ? ORDER BY segment_id", (candidate_id,))]
        excluded = left_out.intersection(members)
        seg = [s for s in members if s not in excluded]
        if not seg:
            raise InvalidInput(
                f"every segment of candidate theme {candidate_id} was left out: reject it instead of accepting it"
            )
        apply_code_many(store, seg, code_id, coder, origin="cluster")
    else:
        for child in act.execute(
            "SELECT id FROM cluster_candidates WHERE parent_id = ? AND status = 'open' ORDER BY position, id",
            (candidate_id,),
        ).fetchall():
            _, gone = _accept(act, store, int(child[0]), coder, code_id, None, left_out)
            excluded |= gone
    _record_provenance(act, row, run, code_id, len(excluded))
    act.execute("UPDATE cluster_candidates SET status = 'accepted', code_id = ? WHERE id = ?",
                (code_id, candidate_id))
    act.details.setdefault("code_id", code_id)
    act.details.setdefault("name", code_name)
    return code_id, excluded


def _record_provenance(act: Action, row: Any, run: Run, code_id: int, n_excluded: int) -> None:
    """Where an accepted code came from, in its own table (never in the code's definition)."""
    details = {
        "kind": "group" if row["level"] == 0 else "candidate",
        "model_id": run.model_id,
        "seed": run.seed,
        "params": run.params,
        "excluded": n_excluded,
    }
    act.execute(
        "INSERT INTO code_provenance (code_id, source, run_id, candidate_id, machine_label, keywords, details, "
        "created_at) VALUES (?, 'cluster', ?, ?, ?, ?, ?, ?)",
        (code_id, run.id, int(row["id"]), row["label"], row["keywords"] or "[]", json.dumps(details), now()),
    )


def provenance(store: Store, code_id: int) -> dict[str, Any] | None:
    """Where a code made from a proposal came from (None for a code a person made): run, candidate, label,
    keywords, model, seed, parameters and how many segments were left out on accepting."""
    r = store.query_one("SELECT * FROM code_provenance WHERE code_id = ?", (code_id,))
    if r is None:
        return None
    return {
        "code_id": int(r["code_id"]), "source": r["source"], "run_id": r["run_id"], "candidate_id": r["candidate_id"],
        "machine_label": r["machine_label"], "keywords": json.loads(r["keywords"] or "[]"),
        "created_at": r["created_at"], **json.loads(r["details"] or "{}"),
    }


def _examples(act: Action, row: Any) -> list[str]:
    reps = [int(i) for i in json.loads(row["representatives"] or "[]")][:3]
    if not reps:
        return []
    found = {int(r[0]): r[1] for r in act.execute(
        f"SELECT id, text FROM segments WHERE id IN ({','.join('?' * len(reps))})", reps)}
    return [found[i] for i in reps if i in found]


def _clean(label: str) -> str:
    text = " ".join(str(label).split())
    if not text:
        raise InvalidInput("a candidate theme needs a non-empty label")
    if len(text) > 200:
        raise InvalidInput(f"label is {len(text)} characters long; keep it under 200")
    return text

