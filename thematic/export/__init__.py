"""Exports for papers and for other tools: theme-tree diagrams, Excel/CSV, Word/Markdown/JSON reports, REFI-QDA.

One table of formats, :data:`FORMATS` (format name -> :class:`ExportFormat`), drives the CLI and the app::

    from thematic import export
    data = export.render(store, "png", counts="respondents", depth=2, greyscale=False)   # bytes, no side effects
    export.export_project(store, "xlsx", "results.xlsx")                                # writes + audits

Every renderer takes the store and the same keyword options (each uses the ones that apply to it):
``counts`` ("respondents" | "segments" | "none"), ``depth`` (2: themes and subthemes, 3: with codes),
``greyscale``, ``orientation`` ("auto" | "tb" | "lr"), ``title`` (default: the project's title), ``coder``
(only this coder's codings), ``dpi`` (PNG). Other modules add formats with :func:`register_format`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

from ..errors import InvalidInput
from ..store import Store
from .safety import Dest, write_bytes

Renderer = Callable[..., bytes]


@dataclass(frozen=True)
class ExportOptions:
    """Every option an export takes, with its default; each format uses some of them (``ExportFormat.options``)."""

    counts: str = "respondents"  # numbers shown per theme: respondents, segments or none
    depth: int = 2  # 2: themes and subthemes; 3: with codes
    greyscale: bool = False
    orientation: str = "auto"  # diagram direction: auto, tb or lr
    title: str | None = None  # default: the project's title
    coder: str | None = None  # only this coder's codings
    dpi: int = 300  # PNG resolution
    offsets: str = "utf16"  # qdpx: selection positions in UTF-16 units (NVivo, ATLAS.ti, MAXQDA) or codepoints


OPTION_NAMES: tuple[str, ...] = tuple(f.name for f in fields(ExportOptions))

# Which program a REFI-QDA project is for decides how selection positions are counted: the standard says only
# "character positions"; NVivo and ATLAS.ti (.NET) and MAXQDA (Qt) count UTF-16 units, QualCoder code points.
QDPX_TARGETS: dict[str, str] = {
    "NVivo, ATLAS.ti or MAXQDA": "utf16",
    "QualCoder": "codepoints",
}
_DIAGRAM = ("counts", "depth", "greyscale", "orientation", "title", "coder")
_REPORT = ("counts", "depth", "coder", "title")


@dataclass(frozen=True)
class ExportFormat:
    name: str
    extension: str
    mime: str
    description: str
    render: Renderer
    binary: bool = True
    options: tuple[str, ...] = ()  # the ExportOptions this format's renderer takes


def check_options(spec: ExportFormat, options: dict[str, Any]) -> dict[str, Any]:
    """The options to pass to ``spec``'s renderer. A name that is no export option (a misspelling) is an error;
    an option of other formats is left out (the CLI and the app offer one set of options for every format)."""
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise InvalidInput(f"unknown export option {unknown[0]!r} (options: {', '.join(OPTION_NAMES)})")
    return {k: v for k, v in options.items() if k in spec.options}


FORMATS: dict[str, ExportFormat] = {}


def register_format(fmt: ExportFormat) -> None:
    """Add (or replace) a format in :data:`FORMATS`."""
    FORMATS[fmt.name] = fmt


def get_format(name: str) -> ExportFormat:
    key = name.strip().lower().lstrip(".")
    aliases = {"markdown": "md", "word": "docx", "excel": "xlsx", "refi": "qdpx", "graphviz": "dot", "mmd": "mermaid"}
    key = aliases.get(key, key)
    if key not in FORMATS:
        raise InvalidInput(f"unknown export format {name!r} (one of {', '.join(sorted(FORMATS))})")
    return FORMATS[key]


def render(store: Store, fmt: str, **options: Any) -> bytes:
    """The export as bytes (for download buttons); writes nothing and records nothing."""
    spec = get_format(fmt)
    return spec.render(store, **check_options(spec, options))


def export_project(store: Store, fmt: str, dest: Dest, *, actor: str | None = None, **options: Any) -> None:
    """Write the export to ``dest`` (a path, written atomically, or a binary file object) and note it in the
    audit trail (the report's method paragraph dates phase 6 from these notes)."""
    spec = get_format(fmt)
    data = spec.render(store, **check_options(spec, options))
    write_bytes(data, dest)
    target = dest if isinstance(dest, (str, os.PathLike)) else getattr(dest, "name", "")
    record_export(store, spec.name, target=str(target) if isinstance(target, (str, os.PathLike)) else "",
                  actor=actor, size=len(data))


def record_export(store: Store, fmt: str, *, target: str = "", actor: str | None = None, size: int = 0) -> None:
    """Note an export in the audit trail (not undoable: nothing in the project changed)."""
    with store.action(
        f"export.{fmt}", f"Export {fmt}" + (f" to {target}" if target else ""), actor=actor,
        details={"format": fmt, "target": target, "bytes": size}, keep_if_unchanged=True,
    ):
        pass


# ---------------------------------------------------------------------- the built-in formats


def _diagram(backend: str) -> Renderer:
    def run(
        store: Store, *, counts: str = "respondents", depth: int = 2, greyscale: bool = False,
        orientation: str = "auto", title: str | None = None, coder: str | None = None, dpi: int = 300,
    ) -> bytes:
        from . import diagram
        from .tree import layout_tree, tree_spec

        spec = tree_spec(store, counts=counts, depth=depth, title=title, coder=coder)
        if backend in ("dot", "mermaid"):
            lay_orientation = orientation if orientation != "auto" else layout_tree(spec).orientation
            fn = diagram.to_dot if backend == "dot" else diagram.to_mermaid
            return fn(spec, orientation=lay_orientation, greyscale=greyscale).encode("utf-8")
        layout = layout_tree(spec, orientation=orientation, greyscale=greyscale)
        if backend == "svg":
            return diagram.to_svg(layout)
        if backend == "png":
            return diagram.to_png(layout, dpi=int(dpi))
        return diagram.to_pdf(layout)

    return run


def _lazy(module: str, func: str) -> Renderer:
    """A renderer that imports its module on first use: a module of this package, or a dotted absolute name
    (``thematic.refi``, which imports this package's helpers, so it is not imported from here at load time)."""

    def run(store: Store, **options: Any) -> bytes:
        import importlib

        fn: Renderer = getattr(importlib.import_module(module if "." in module else f"{__name__}.{module}"), func)
        return fn(store, **options)

    return run


for _f in (
    ExportFormat("svg", ".svg", "image/svg+xml", "theme-tree diagram, vector (SVG)", _diagram("svg"), options=_DIAGRAM),
    ExportFormat("png", ".png", "image/png", "theme-tree diagram, 300 dpi image (PNG)", _diagram("png"), options=(*_DIAGRAM, "dpi")),
    ExportFormat("pdf", ".pdf", "application/pdf", "theme-tree diagram, vector (PDF)", _diagram("pdf"), options=_DIAGRAM),
    ExportFormat("dot", ".dot", "text/vnd.graphviz", "theme tree as Graphviz DOT text", _diagram("dot"), False, _DIAGRAM),
    ExportFormat("mermaid", ".mmd", "text/plain", "theme tree as Mermaid flowchart text", _diagram("mermaid"), False, _DIAGRAM),
    ExportFormat("xlsx", ".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                 "Excel workbook: codebook, coded extracts, counts by question and by metadata group",
                 _lazy("tables", "render_xlsx"), options=_REPORT),
    ExportFormat("csv", ".csv", "text/csv", "coded extracts as CSV (UTF-8 with BOM, opens in Excel)",
                 _lazy("tables", "render_csv"), False, ("coder",)),
    ExportFormat("docx", ".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                 "Word report: method, theme table, definitions and quotes, respondents",
                 _lazy("report", "render_docx"), options=(*_REPORT, "greyscale", "orientation")),
    ExportFormat("md", ".md", "text/markdown", "Markdown report (same content as the Word report)",
                 _lazy("report", "render_markdown"), False, _REPORT),
    ExportFormat("json", ".json", "application/json", "the theme tree with counts and definitions as JSON",
                 _lazy("report", "render_json"), False, _REPORT),
    ExportFormat("qdc", ".qdc", "application/xml", "REFI-QDA codebook (NVivo, ATLAS.ti, MAXQDA, QualCoder)",
                 _lazy("thematic.refi", "render_qdc"), False),
    ExportFormat("qdpx", ".qdpx", "application/zip", "REFI-QDA project: sources, codes, codings, coders, memos",
                 _lazy("thematic.refi", "render_qdpx"), options=("offsets",)),
):
    register_format(_f)


def _codings_csv(store: Store, *, coder: str | None = None) -> bytes:
    from ..codings_io import render_codings_csv  # re-importable with `import-codings`

    return render_codings_csv(store, coder=coder)


register_format(ExportFormat("codings-csv", ".csv", "text/csv",
                             "codings per coder as CSV (form id, question, segment, code path); re-import with "
                             "import-codings", _codings_csv, False, ("coder",)))

__all__ = ["FORMATS", "OPTION_NAMES", "ExportFormat", "ExportOptions", "check_options", "export_project", "get_format", "record_export", "register_format", "render"]
