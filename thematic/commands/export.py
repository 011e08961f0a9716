"""``export``, ``import-codebook``, ``import``: results out to papers and other programs, codebooks and REFI-QDA
projects in."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import InvalidInput
from . import open_store

# The built-in format names (the full table, with formats other modules add, is thematic.export.FORMATS; it is not
# imported here so that ``python -m thematic --help`` stays fast).
BUILTIN = ("svg", "png", "pdf", "dot", "mermaid", "xlsx", "csv", "docx", "md", "json", "qdc", "qdpx")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser(
        "export",
        help="export the theme tree (svg/png/pdf/dot/mermaid), tables (xlsx/csv), a report (docx/md/json) or "
        "REFI-QDA (qdc/qdpx)",
    )
    p.add_argument("project")
    p.add_argument("--format", "-f", default=None,
                   help=f"one of {', '.join(BUILTIN)} (default: from the output file's extension)")
    p.add_argument("-o", "--output", required=True, help="the file to write ('-' for standard output)")
    p.add_argument("--counts", choices=("respondents", "segments", "none"), default="respondents",
                   help="numbers shown per theme (default: respondents)")
    p.add_argument("--depth", type=int, choices=(2, 3), default=2, help="2: themes and subthemes; 3: with codes")
    p.add_argument("--greyscale", action="store_true", help="diagram without colour (for print)")
    p.add_argument("--orientation", choices=("auto", "tb", "lr"), default="auto", help="diagram direction")
    p.add_argument("--title", default=None, help="title on the diagram/report (default: the project's title)")
    p.add_argument("--coder", default=None, help="only this coder's codings")
    p.add_argument("--dpi", type=int, default=300, help="PNG resolution (default 300)")
    p.add_argument("--offsets", choices=("utf16", "codepoints"), default="utf16",
                   help="qdpx: how selection positions count text: utf16 (default; NVivo, ATLAS.ti and MAXQDA count "
                   "UTF-16 units) or codepoints (QualCoder); they differ only in text with emoji and other characters "
                   "beyond U+FFFF")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("import-codebook", help="add the codes of a codebook file (.yaml, .csv or REFI-QDA .qdc)")
    p.add_argument("project")
    p.add_argument("file")
    p.add_argument("--actor", default=None, help="who is importing (for the audit trail)")
    p.add_argument("--dotted-hierarchy", action="store_true",
                   help=".qdc: read a flat name 'a.b' as code 'b' under 'a' (how Taguette writes a hierarchy)")
    p.set_defaults(func=cmd_import_codebook)

    p = sub.add_parser("import", help="import a REFI-QDA project (.qdpx from NVivo, ATLAS.ti, MAXQDA, QualCoder ...)")
    p.add_argument("project")
    p.add_argument("file")
    p.add_argument("--actor", default=None, help="who is importing (for the audit trail)")
    p.add_argument("--offsets", choices=("utf16", "codepoints"), default=None,
                   help="how the file's selection positions count text (default: codepoints for files from QualCoder "
                   "or exported by thematic with --offsets codepoints, else utf16)")
    p.set_defaults(func=cmd_import)


def cmd_export(args: argparse.Namespace) -> int:
    from ..export import FORMATS, export_project, get_format, record_export, render

    fmt = args.format
    if fmt is None:
        ext = Path(args.output).suffix.lower()
        matches = [f.name for f in FORMATS.values() if f.extension == ext]
        if not matches:
            raise InvalidInput(f"cannot tell the format from {args.output!r}: give --format ({', '.join(FORMATS)})")
        fmt = matches[0]
    spec = get_format(fmt)
    options = dict(counts=args.counts, depth=args.depth, greyscale=args.greyscale, orientation=args.orientation,
                   title=args.title, coder=args.coder, dpi=args.dpi, offsets=args.offsets)
    with open_store(args.project) as store:
        if args.output == "-":
            data = render(store, spec.name, **options)
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
            record_export(store, spec.name, target="standard output", size=len(data))
            return 0
        export_project(store, spec.name, args.output, **options)
    print(f"wrote {args.output} ({spec.description})", file=sys.stderr)
    return 0


def cmd_import_codebook(args: argparse.Namespace) -> int:
    from ..codebook.files import import_codebook
    from . import read_codebook_file

    cb = read_codebook_file(args.file, dotted=args.dotted_hierarchy)
    dots = 0
    if Path(args.file).suffix.lower() == ".qdc" and not args.dotted_hierarchy:
        from ..refi import dotted_names

        dots = dotted_names(cb)
    with open_store(args.project) as store:
        created = import_codebook(store, cb, actor=args.actor)
    print(f"imported codebook '{cb.name}': {len(cb)} codes, {created} new")
    if dots:
        print(f"note: {dots} code name(s) contain a dot, as Taguette writes a hierarchy ('parent.child'); they were "
              "imported flat. Undo and import again with --dotted-hierarchy to nest them.")
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from ..refi import import_qdpx

    path = Path(args.file)
    if path.suffix.lower() not in (".qdpx", ".qde"):
        raise InvalidInput("import reads REFI-QDA projects (.qdpx); use import-codebook for codebooks and ingest "
                           "for forms", path=path)
    with open_store(args.project) as store:
        stats = import_qdpx(store, path, actor=args.actor, offsets=args.offsets)
    notes = stats.pop("notes")
    parts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in stats.items() if v)
    print(f"imported {path.name}: {parts or 'nothing new'}")
    for line in notes:
        print(f"note: {line}")
    return 0
