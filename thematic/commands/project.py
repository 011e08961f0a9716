"""``init``, ``status``, ``undo``, ``redo``, ``log``: the project itself."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import Conflict
from ..store import Store
from . import open_store


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("init", help="create a new, empty project file")
    p.add_argument("project", help="the project file to create, e.g. evaluation.db")
    p.add_argument("--title", default=None, help="the study title (shown at the top of the theme tree)")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("status", help="counts of forms, questions, answers, segments, codes, codings, memos")
    p.add_argument("project")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser("undo", help="revert the last change")
    p.add_argument("project")
    p.set_defaults(func=cmd_undo)

    p = sub.add_parser("redo", help="reapply the last undone change")
    p.add_argument("project")
    p.set_defaults(func=cmd_redo)

    p = sub.add_parser("log", help="the audit trail, newest first")
    p.add_argument("project")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_log)


def cmd_init(args: argparse.Namespace) -> int:
    path = Path(args.project)
    if path.exists():
        raise Conflict(f"{path} already exists; open it instead of creating it again")
    with Store(path) as store:
        title = args.title or path.stem.replace("_", " ").strip() or "Thematic analysis"
        store.set_setting("title", title)
    print(f"created {path}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with open_store(args.project) as store:
        counts = store.counts()
        title = store.get_setting("title", "")
    if title:
        print(f"project: {title}")
    for name in ("forms", "questions", "answers", "segments", "codes", "codings", "memos", "coders"):
        print(f"{name:<10} {counts[name]}")
    return 0


def cmd_undo(args: argparse.Namespace) -> int:
    with open_store(args.project) as store:
        event = store.undo()
    print(f"undone: {event.summary}")
    return 0


def cmd_redo(args: argparse.Namespace) -> int:
    with open_store(args.project) as store:
        event = store.redo()
    print(f"redone: {event.summary}")
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    with open_store(args.project) as store:
        events = store.audit_log(limit=args.limit)
    for e in events:
        flag = " (undone)" if e.undone else ""
        print(f"{e.id:>5}  {e.ts[:19].replace('T', ' ')}  {e.actor:<12} {e.action:<20} {e.summary}{flag}")
    return 0
