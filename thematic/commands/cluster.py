"""``cluster``: propose candidate themes by clustering the segments (offline embeddings, BERTopic components)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InvalidInput
from . import open_store, progress_line

if TYPE_CHECKING:
    from ..cluster import Candidate
    from ..embed import Embedder


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("cluster", help="propose candidate themes by clustering the segments")
    p.add_argument("project")
    p.add_argument("--question", default=None, help="only this question (its key, label or position number)")
    p.add_argument("--seed", type=int, default=42, help="random seed (the same seed gives the same candidates)")
    p.add_argument("--candidates", type=int, default=None,
                   help="number of candidates (default: chosen from the data, see --k-rule)")
    p.add_argument("--k-rule", choices=("silhouette", "size"), default="silhouette",
                   help="how the number is chosen: the best silhouette of the distinct vectors up to the review "
                   "load, min(--max-candidates, distinct/5, 2 sqrt(distinct)) (default; the reason is printed), or "
                   "the former power law of the number of segments")
    p.add_argument("--max-candidates", type=int, default=60, help="the most candidates to review (default 60)")
    p.add_argument("--staff-names", metavar="FILE", default=None,
                   help="a file of staff names, one a line: never used in labels or keywords (found names never are)")
    p.add_argument("--backend", choices=("auto", "onnx", "onnx-int8", "torch"), default="auto",
                   help="embedding backend (default auto: ONNX Runtime when installed, else PyTorch)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu",
                   help="where to embed (auto: a CUDA GPU when torch sees one)")
    p.add_argument("--map", metavar="FILE", default=None, help="also draw the map of candidates (.svg or .png)")
    p.add_argument("--out", default=None, help="write the candidates and assignments as JSON to this file")
    p.add_argument("--actor", default=None, help="name recorded in the audit trail")
    p.set_defaults(func=cmd_cluster)


def cmd_cluster(args: argparse.Namespace) -> int:
    from ..cluster import Params, assignments, candidates, describe_run, propose
    from ..cluster import map as cmap
    from ..corpus import question_by_ref
    from ..redact import read_staff_names

    _check_args(args)
    staff = read_staff_names(args.staff_names) if args.staff_names else []
    emb = _embedder(args)
    with open_store(args.project) as store:
        qid = question_by_ref(store, args.question).id if args.question is not None else None
        params = Params(n_candidates=args.candidates, k_rule=args.k_rule, k_max=args.max_candidates)
        run = propose(store, question_id=qid, seed=args.seed, params=params, progress=progress_line(),
                      actor=args.actor, embedder=emb, staff_names=staff)
        if args.map:
            picture = cmap.render(cmap.candidate_map(store, run.id, embedder=emb), Path(args.map).suffix.lower()[1:],
                                  title=f"Run {run.id}")
        cands = candidates(store, run.id)
        assigned = assignments(store, run.id) if args.out else []  # a row per segment: read only when written
    print(describe_run(run))
    _print_table(cands)
    if args.out:
        out = Path(args.out)
        _write_atomic(out, json.dumps(_candidates_doc(cands, assigned), indent=1, ensure_ascii=False))
        print(f"wrote {out}", file=sys.stderr)
    if args.map:
        out = Path(args.map)
        _write_atomic(out, picture)
        print(f"wrote the map of candidates to {out}", file=sys.stderr)
    return 0


def _check_args(args: argparse.Namespace) -> None:
    """Refuse bad numbers, a map file that is neither .svg nor .png, and output folders that do not exist."""
    if args.candidates is not None and args.candidates < 1:
        raise InvalidInput(f"--candidates must be at least 1 (got {args.candidates})")
    if args.max_candidates < 2:
        raise InvalidInput(f"--max-candidates must be at least 2 (got {args.max_candidates})")
    if args.map and Path(args.map).suffix.lower() not in (".svg", ".png"):
        raise InvalidInput("--map must name an .svg or .png file", path=args.map)
    for target in (args.out, args.map):
        if target and not Path(target).resolve().parent.is_dir():
            raise InvalidInput("the folder for this file does not exist", path=target)


def _embedder(args: argparse.Namespace) -> Embedder:
    """The default embedder, or the one on the backend and device asked for."""
    from .. import embed

    default = args.backend == "auto" and args.device == "cpu"
    return embed.default_embedder() if default else embed.default_embedder(backend=args.backend, device=args.device)


def _print_table(cands: list[Candidate]) -> None:
    """Groups (upper case) with their candidates indented beneath, then the candidates in no group."""
    leaves = [c for c in cands if c.level == 1]
    groups = {c.id: c for c in cands if c.level == 0}
    print(f"{'id':>6} {'size':>6} {'resp.':>6}  label")
    for g in groups.values():
        print(f"{g.id:>6} {g.size:>6} {g.respondents:>6}  {g.label.upper()}")
        for c in leaves:
            if c.parent_id == g.id:
                print(f"{c.id:>6} {c.size:>6} {c.respondents:>6}    {c.label}")
    for c in leaves:
        if c.parent_id is None:
            print(f"{c.id:>6} {c.size:>6} {c.respondents:>6}  {c.label}")


def _candidates_doc(cands: list[Candidate], assigned: list[dict[str, Any]]) -> dict[str, Any]:
    """The --out document: each candidate with its segments (a group: its children's), and the assignments."""
    segs: dict[int, list[int]] = {}
    for a in assigned:
        segs.setdefault(a["candidate_id"], []).append(a["segment_id"])
    return {
        "candidates": [
            {"id": c.id, "label": c.label, "keywords": c.keywords, "parent": c.parent_id,
             "segment_ids": segs.get(c.id, []) if c.level == 1 else sorted(
                 s for child in c.children for s in segs.get(child, []))}
            for c in cands
        ],
        "assignments": assigned,
    }


def _write_atomic(out: Path, data: str | bytes) -> None:
    """Write through a temporary file beside ``out``, then rename it into place."""
    tmp = out.with_name(out.name + ".tmp")
    if isinstance(data, bytes):
        tmp.write_bytes(data)
    else:
        tmp.write_text(data, encoding="utf-8")
    tmp.replace(out)
