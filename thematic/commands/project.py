"""``init``, ``status``, ``undo``, ``redo``, ``log``, ``purge-history``: the project itself."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import Conflict, NothingToUndo
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

    p = sub.add_parser(
        "undo", help="revert the last change (with --coder: that coder's own last change)",
        description="Revert the newest change still in effect: of anyone, or with --coder only that coder's own. "
        "Refused, changing nothing, when someone else changed the same data later. A large import is undone in "
        "short chunks; if that is interrupted, the next undo finishes it.",
    )
    p.add_argument("project")
    p.add_argument("--coder", default=None, metavar="NAME", help="undo only this coder's own changes")
    p.add_argument("--abandon", action="store_true",
                   help="give up a large undo/redo that stopped part-way: put back what it had already reverted")
    p.set_defaults(func=cmd_undo)

    p = sub.add_parser("redo", help="reapply the last undone change (with --coder: that coder's own)")
    p.add_argument("project")
    p.add_argument("--coder", default=None, metavar="NAME", help="redo only this coder's own undo")
    p.set_defaults(func=cmd_redo)

    p = sub.add_parser(
        "purge-history",
        help="drop undo/redo data (and the old text it holds), redact the audit lines, compact the file",
        description="Drops the undo/redo data of changes made before --before (default: all), so that text "
        "removed or replaced since (an import made without --redact and undone) no longer survives in the file; "
        "the audit trail keeps one line per change, with names redacted; then VACUUMs the file and empties its "
        "write-ahead log. The purged changes can no longer be undone.",
    )
    p.add_argument("project")
    p.add_argument("--before", default=None, metavar="DATE", help="only changes made before this date (YYYY-MM-DD)")
    p.add_argument("--staff-names", metavar="FILE", help="a file of staff names (one a line) to redact as well")
    p.add_argument("--actor", default=None)
    p.set_defaults(func=cmd_purge_history)

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
    if args.abandon:
        with open_store(args.project) as store:
            event = store.abandon_pending(actor=args.coder)
        if event is None:
            raise NothingToUndo("no undo or redo is under way")
        print(f"abandoned: the part-way undo/redo of '{event.summary}' was put back")
        return 0
    with open_store(args.project) as store:
        pending = store.pending_undo()
        if pending is not None and args.coder is not None and pending.actor != args.coder:
            pending = None
        event = store.undo(coder=args.coder)
    if pending is not None:
        print(f"finished: {pending.summary}")
    else:
        print(f"undone: {event.summary}" + (f" (by {args.coder})" if args.coder else f" (by {event.actor})"))
    return 0


def cmd_redo(args: argparse.Namespace) -> int:
    with open_store(args.project) as store:
        pending = store.pending_undo()
        if pending is not None and args.coder is not None and pending.actor != args.coder:
            pending = None
        event = store.redo(coder=args.coder)
    if pending is not None:
        print(f"finished: {pending.summary}")
    else:
        print(f"redone: {event.summary}" + (f" (by {args.coder})" if args.coder else f" (by {event.actor})"))
    return 0


def cmd_purge_history(args: argparse.Namespace) -> int:
    from datetime import date

    from ..embed import prune_cache
    from ..errors import InvalidInput
    from ..purge import purge_history
    from ..redact import read_staff_names, redact_log_texts

    before = args.before
    if before is not None:
        try:
            date.fromisoformat(before[:10])
        except ValueError:
            raise InvalidInput(f"--before {before!r} is not a date (YYYY-MM-DD)") from None
    staff = read_staff_names(args.staff_names) if args.staff_names else []
    with open_store(args.project) as store:
        counts = purge_history(store, before=before, redact=lambda texts: redact_log_texts(texts, staff),
                               prune=prune_cache, actor=args.actor)
    print(f"dropped the undo data of {counts['events']} changes ({counts['entries']} entries); "
          f"{counts['redacted']} audit lines redacted; {counts['derived']} cached vectors of text no longer in the "
          "project dropped; file compacted")
    copies = sorted(Path(args.project).parent.glob(Path(args.project).name + ".bak-v*"))
    if copies:
        print("older copies of this project (taken before schema upgrades) still hold the old data; delete them "
              "if they must go too: " + ", ".join(str(c) for c in copies))
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    with open_store(args.project) as store:
        events = store.audit_log(limit=args.limit)
    for e in events:
        flag = " (undone)" if e.undone else ""
        if "pending" in e.details:
            flag = " (under way: run undo to finish it)"
        print(f"{e.id:>5}  {e.ts[:19].replace('T', ' ')}  {e.actor:<12} {e.action:<20} {e.summary}{flag}")
    return 0
