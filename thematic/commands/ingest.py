"""``ingest``: import evaluation forms from an XLSX or CSV file into a project."""

from __future__ import annotations

import argparse
import sys

from . import open_store, progress_line

BIG_FILE = 2 * 1024 * 1024  # show progress on stderr above this size


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "ingest",
        help="import forms from an .xlsx or .csv file",
        description="Import forms (a row per form, or a row per answer with --layout long). Roles not given are "
        "guessed. Importing the same file again adds nothing; a failed import changes nothing.",
    )
    p.add_argument("project", help="the project file (create it with: python -m thematic init P.db)")
    p.add_argument("file", help="the .xlsx or .csv file")
    p.add_argument("--sheet", help="the sheet to read (default: the first sheet with data)")
    p.add_argument(
        "--id-column", help="the column holding the form id (default: guessed; \"\" to number forms by row)"
    )
    p.add_argument(
        "--question-column",
        action="append",
        dest="question_columns",
        metavar="C",
        help="a free-text question column (repeat for several); with --layout long: the column naming the question",
    )
    p.add_argument("--answer-column", help="with --layout long: the column holding the answer text")
    p.add_argument(
        "--meta-column", action="append", dest="meta_columns", metavar="C", help="a metadata column (repeat)"
    )
    p.add_argument(
        "--encoding",
        metavar="NAME",
        help="the text encoding of a CSV file, e.g. cp1252 (default: UTF-8, or Windows-1252 for a file with no "
        "UTF-8 in it at all; a file that is UTF-8 except for a few bytes is refused, naming the first one)",
    )
    p.add_argument("--layout", choices=("wide", "long"), help="a row per form (wide) or a row per answer (long)")
    p.add_argument("--unit", choices=("sentence", "response"), default="sentence", help="segment unit")
    p.add_argument("--redact", action="store_true", help="replace person names by [NAME] before storing")
    p.add_argument("--staff-names", metavar="FILE", help="with --redact: a file of staff names, one a line")
    p.add_argument("--drop-column", action="append", dest="drop_columns", default=[], metavar="C",
                   help="never store this column (repeat for several)")
    p.add_argument("--actor", default=None, help="who is importing (for the audit trail)")
    p.set_defaults(func=cmd_ingest)


def cmd_ingest(args: argparse.Namespace) -> int:
    import os

    from ..errors import InvalidInput
    from ..ingest import add_forms, read_forms
    from ..redact import read_staff_names

    staff: list[str] = []
    if args.staff_names:
        if not args.redact:
            raise InvalidInput("--staff-names needs --redact")
        staff = read_staff_names(args.staff_names)
    with open_store(args.project) as store:
        big = os.path.isfile(args.file) and os.path.getsize(args.file) > BIG_FILE
        progress = progress_line() if big or args.redact else None
        result = read_forms(
            args.file,
            sheet=args.sheet,
            layout=args.layout,
            id_column=args.id_column,
            question_columns=args.question_columns,
            meta_columns=args.meta_columns,
            answer_column=args.answer_column,
            progress=progress,
            encoding=args.encoding,
        )
        report = add_forms(
            store,
            result,
            unit=args.unit,
            redact=args.redact,
            staff_names=staff,
            actor=args.actor,
            progress=progress,
            drop_columns=args.drop_columns,
        )
    m = result.mapping
    where = f"sheet {m.sheet!r}, header row {m.header_row}" if m.sheet else f"header row {m.header_row}"
    print(f"read {result.rows} rows from {report.source} ({where})")
    print(f"layout {m.layout}; id column: {m.id_column or '(row numbers)'}")
    shown = result.questions[:10]
    more = len(result.questions) - len(shown)
    print("questions: " + "; ".join(q if len(q) <= 80 else q[:77] + "..." for q in shown)
          + (f"; and {more:,} more" if more else ""))
    if m.meta_columns:
        print("metadata: " + ", ".join(c for c in m.meta_columns if c not in args.drop_columns))
    for line in report.lines():
        print(line)
    sys.stdout.flush()
    return 0
