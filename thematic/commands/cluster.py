"""``cluster``: propose candidate themes by clustering the segments (offline embeddings, BERTopic components)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from . import open_store, progress_line


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("cluster", help="propose candidate themes by clustering the segments")
    p.add_argument("project")
    p.add_argument("--question", default=None, help="only this question (its key, label or position number)")
    p.add_argument("--seed", type=int, default=42, help="random seed (the same seed gives the same candidates)")
    p.add_argument("--candidates", type=int, default=None, help="number of candidates (default: from the data size)")
    p.add_argument("--out", default=None, help="write the candidates and assignments as JSON to this file")
    p.add_argument("--actor", default=None, help="name recorded in the audit trail")
    p.set_defaults(func=cmd_cluster)


def cmd_cluster(args: argparse.Namespace) -> int:
    from ..cluster import Params, assignments, candidates, propose
    from ..corpus import question_by_ref

    with open_store(args.project) as store:
        qid = question_by_ref(store, args.question).id if args.question is not None else None
        params = Params(n_candidates=args.candidates)
        run = propose(store, question_id=qid, seed=args.seed, params=params, progress=progress_line(),
                      actor=args.actor)
        cands = candidates(store, run.id)
        assigned = assignments(store, run.id)
        segs: dict[int, list[int]] = {}
        for a in assigned:
            segs.setdefault(a["candidate_id"], []).append(a["segment_id"])
    leaves = [c for c in cands if c.level == 1]
    groups = {c.id: c for c in cands if c.level == 0}
    print(f"run {run.id}: {len(leaves)} candidates in {len(groups)} groups from {run.n_segments} segments "
          f"(model {run.model_id}, seed {run.seed})")
    print(f"{'id':>6} {'size':>6} {'resp.':>6}  label")
    for g in groups.values():
        print(f"{g.id:>6} {g.size:>6} {g.respondents:>6}  {g.label.upper()}")
        for c in leaves:
            if c.parent_id == g.id:
                print(f"{c.id:>6} {c.size:>6} {c.respondents:>6}    {c.label}")
    for c in leaves:
        if c.parent_id is None:
            print(f"{c.id:>6} {c.size:>6} {c.respondents:>6}  {c.label}")
    if args.out:
        doc: dict[str, Any] = {
            "candidates": [
                {"id": c.id, "label": c.label, "keywords": c.keywords, "parent": c.parent_id,
                 "segment_ids": segs.get(c.id, []) if c.level == 1 else sorted(
                     s for child in c.children for s in segs.get(child, []))}
                for c in cands
            ],
            "assignments": assigned,
        }
        out = Path(args.out)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")
        tmp.replace(out)
        print(f"wrote {out}", file=sys.stderr)
    return 0
