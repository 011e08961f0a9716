"""``suggest``: rank codebook codes for every segment and write them to a CSV file. Codes nothing."""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import InvalidInput
from ..export.safety import csv_writer
from ..store import Store
from . import open_store, progress_line

if TYPE_CHECKING:
    from ..codebook.files import Codebook
    from ..corpus import Segment
    from ..suggest import Suggestion

COLUMNS = ("segment_id", "form_id", "question", "rank", "code", "score", "kind")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "suggest",
        help="suggest codes from the codebook for each segment (written to CSV; nothing is coded)",
        description="Rank the project's codes for each segment (zero-shot from the codebook; few-shot for a coder "
        "who has coded at least 3 segments with a code) and write the top ones to a CSV file. Nothing is coded: "
        "accept suggestions on the coding page.",
    )
    p.add_argument("project", help="the project file")
    p.add_argument(
        "--codebook",
        default=None,
        help="a codebook file (.yaml, .csv, .qdc); imported first if its codes are not in the project yet",
    )
    p.add_argument("--top", type=int, default=3, help="codes per segment (default 3)")
    p.add_argument("--coder", default=None, help="learn from this coder's codings and skip what they coded or rejected")
    p.add_argument("--question", default=None, help="only segments of this question (key, label or number)")
    p.add_argument("--out", required=True, help="the CSV file to write ('-' for standard output)")
    p.set_defaults(func=cmd_suggest)


def _missing_paths(store: Store, cb: object) -> int:
    from ..codebook import list_codes

    have = {tuple(p.casefold() for p in c.path) for c in list_codes(store)}
    walk = cb.walk()  # type: ignore[attr-defined]
    return sum(1 for path, _ in walk if tuple(p.casefold() for p in path) not in have)


def cmd_suggest(args: argparse.Namespace) -> int:
    from ..corpus import get_segments, question_by_ref
    from ..suggest import suggest
    from . import read_codebook_file

    if args.top < 1:
        raise InvalidInput(f"--top must be at least 1 (got {args.top})")
    cb = read_codebook_file(args.codebook) if args.codebook else None
    with open_store(args.project) as store:
        _import_missing_codes(store, cb, args)
        if not store.scalar("SELECT count(*) FROM codes"):
            raise InvalidInput("the project has no codes yet: give a codebook with --codebook FILE")
        qid = question_by_ref(store, args.question).id if args.question is not None else None
        found = suggest(store, question_id=qid, top=args.top, coder=args.coder, progress=progress_line())
        segs = {s.id: s for s in get_segments(store, sorted({s.segment_id for s in found}))}
    _write_csv(args.out, _csv_text(found, segs))
    print(_summary(found, len(segs), args.out), file=sys.stderr if args.out == "-" else sys.stdout)
    return 0


def _import_missing_codes(store: Store, cb: Codebook | None, args: argparse.Namespace) -> None:
    """Import the codebook when some of its codes are not in the project yet, and say how to undo that."""
    from ..codebook.files import import_codebook

    if cb is not None and _missing_paths(store, cb):
        created = import_codebook(store, cb, actor=args.coder)
        print(f"imported codebook '{cb.name}': {created} new codes (undo with: python -m thematic undo "
              f"{args.project})", file=sys.stderr)


def _csv_text(found: Sequence[Suggestion], segs: dict[int, Segment]) -> str:
    """The suggestions as CSV, one row per suggestion, under ``COLUMNS``."""
    buf = io.StringIO()
    writer = csv_writer(buf, lineterminator="\n")
    writer.writerow(COLUMNS)
    for s in found:
        seg = segs[s.segment_id]
        writer.writerow([s.segment_id, seg.external_id, seg.question, s.rank, s.code_path, f"{s.score:.4f}", s.kind])
    return buf.getvalue()


def _write_csv(target: str, text: str) -> None:
    """Write to standard output ('-') or atomically to the file (its folder must exist)."""
    if target == "-":
        sys.stdout.write(text)
        return
    out = Path(target)
    if out.parent and not out.parent.exists():
        raise InvalidInput("the folder for --out does not exist", path=out)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, out)


def _summary(found: Sequence[Suggestion], n_segments: int, target: str) -> str:
    """How many suggestions went where (few-shot and zero-shot), and the codes most often suggested first."""
    from ..suggest import FEW_SHOT

    firsts = Counter(s.code_path for s in found if s.rank == 1)
    few = sum(1 for s in found if s.kind == FEW_SHOT)
    where = "standard output" if target == "-" else target
    lines = [
        f"{len(found)} suggestions for {n_segments} segments written to {where} "
        f"({few} few-shot, {len(found) - few} zero-shot); nothing was coded.",
    ]
    if firsts:
        lines.append("most often suggested first: " + "; ".join(f"{p} ({n})" for p, n in firsts.most_common(5)))
    return "\n".join(lines)
