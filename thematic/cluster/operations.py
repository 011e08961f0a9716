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
from ..store import Action, Store
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


def accept_candidate(
    store: Store, candidate_id: int, *, coder: str, parent_code_id: int | None = None, name: str | None = None,
) -> int:
    """Make a candidate a code (under ``parent_code_id``) and code its segments for ``coder`` (origin "cluster").

    Accepting a group makes a code for it and accepts each of its open candidates as a code beneath it.
    Returns the new code's id.
    """
    from ..codebook import add_code
    from ..coding import apply_code_many

    with store.action("cluster.accept", f"Accept candidate theme {candidate_id} as a code", actor=coder,
                      details={"candidate_id": candidate_id, "parent_code_id": parent_code_id}) as act:
        row = _open(act, candidate_id, level=None)
        code_name = _clean(name or row["label"]).replace("/", "\uff0f")
        run = get_run(store, row["run_id"])
        code_id = add_code(
            store, code_name, parent_id=parent_code_id, definition=_definition(row, run),
            examples=_examples(act, row), actor=coder,
        )
        if row["level"] == 1:
            seg = [int(r[0]) for r in act.execute(
                "SELECT segment_id FROM cluster_members WHERE candidate_id = ? ORDER BY segment_id", (candidate_id,))]
            apply_code_many(store, seg, code_id, coder, origin="cluster")
        else:
            for child in act.execute(
                "SELECT id FROM cluster_candidates WHERE parent_id = ? AND status = 'open' ORDER BY position, id",
                (candidate_id,),
            ).fetchall():
                accept_candidate(store, int(child[0]), coder=coder, parent_code_id=code_id)
        act.execute("UPDATE cluster_candidates SET status = 'accepted', code_id = ? WHERE id = ?",
                    (code_id, candidate_id))
        act.details.update({"code_id": code_id, "name": code_name})
    return code_id


def _definition(row: Any, run: Run) -> str:
    words = json.loads(row["keywords"] or "[]")
    kind = "group of candidate themes" if row["level"] == 0 else "candidate theme"
    about = f" Keywords: {', '.join(words[:8])}." if words else ""
    return f"Accepted {kind} from clustering run {run.id} (seed {run.seed}).{about}"


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

