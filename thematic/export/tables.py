"""Spreadsheet exports: an Excel workbook (openpyxl, write-only so that large projects stream) and a CSV of the
coded extracts (UTF-8 with a byte-order mark, which Excel needs to read accents and curly quotes right).

Workbook sheets: About (project, date, counts), Codebook, Coded extracts, Theme x question, Theme x metadata
(one block per metadata field). Every text cell from the data is passed through :func:`safety.cell`, so an answer
that begins with ``=`` is shown as text and never run as a formula.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

from ..store import Store
from .safety import cell, csv_writer

MAX_GROUP_VALUES = 40  # a metadata field with more distinct values than this is not a grouping (ids, dates ...)


def _paths(store: Store) -> dict[int, tuple[str, ...]]:
    from ..codebook import list_codes

    return {c.id: c.path for c in list_codes(store)}


def extract_header(store: Store) -> list[str]:
    from ..corpus import meta_fields

    return ["form id", "question", "segment", "segment text", "codes", "coder", "origin", *meta_fields(store)]


def extract_rows(store: Store, *, coder: str | None = None) -> Iterator[list[Any]]:
    """One row per coded segment and coder, in reading order: form, question, segment, text, code paths (``; ``),
    coder, origin(s), then the form's metadata values."""
    from ..corpus import form_meta, meta_fields

    paths = _paths(store)
    order = {cid: i for i, cid in enumerate(paths)}
    fields = meta_fields(store)
    meta = form_meta(store)
    where, params = "", []
    if coder is not None:
        where, params = "WHERE k.name = ?", [coder]
    rows = store.query(
        "SELECT s.id, a.form_id, f.external_id, q.label, s.position, s.text, k.name AS coder, "
        "group_concat(c.code_id) AS code_ids, group_concat(DISTINCT c.origin) AS origins "
        "FROM codings c JOIN coders k ON k.id = c.coder_id JOIN segments s ON s.id = c.segment_id "
        "JOIN answers a ON a.id = s.answer_id JOIN forms f ON f.id = a.form_id JOIN questions q ON q.id = a.question_id "
        f"{where} GROUP BY s.id, k.id ORDER BY a.form_id, q.position, s.position, k.name",
        params,
    )
    for r in rows:
        ids = sorted({int(x) for x in str(r["code_ids"]).split(",")}, key=lambda i: order.get(i, 1 << 30))
        codes = "; ".join("/".join(paths[i]) for i in ids if i in paths)
        origins = ", ".join(sorted(set(str(r["origins"]).split(","))))
        m = meta.get(r["form_id"], {})
        yield [cell(r["external_id"]), cell(r["label"]), r["position"] + 1, cell(r["text"]), cell(codes),
               cell(r["coder"]), origins, *(cell(m.get(f, "")) for f in fields)]


def render_csv(store: Store, *, coder: str | None = None, **_: Any) -> bytes:
    buf = io.StringIO()
    w = csv_writer(buf, lineterminator="\r\n")
    w.writerow(extract_header(store))
    for row in extract_rows(store, coder=coder):
        w.writerow(row)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _count_index(counts: str) -> tuple[int, str]:
    if counts == "segments":
        return 0, "coded segments"
    return 1, "respondents (forms)"


def render_xlsx(
    store: Store, *, counts: str = "respondents", depth: int = 2, coder: str | None = None, title: str | None = None,
    **_: Any,
) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    from ..codebook import list_codes
    from ..coding import code_counts, code_counts_by_group
    from ..corpus import meta_fields, meta_values, questions

    wb = Workbook(write_only=True)
    bold = Font(bold=True)
    head_fill = PatternFill("solid", fgColor="DDE4EE")
    wrap = Alignment(wrap_text=True, vertical="top")
    idx, unit = _count_index(counts)

    def sheet(name: str, widths: list[float]) -> Any:
        ws = wb.create_sheet(name)
        for i, wdt in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = wdt
        ws.freeze_panes = "A2"
        return ws

    def header(ws: Any, names: list[str]) -> None:
        cells = []
        for n in names:
            c = WriteOnlyCell(ws, value=cell(n))
            c.font, c.fill, c.alignment = bold, head_fill, wrap
            cells.append(c)
        ws.append(cells)

    def wrapped(ws: Any, value: Any, *, is_bold: bool = False) -> Any:
        c = WriteOnlyCell(ws, value=value)
        c.alignment = wrap
        if is_bold:
            c.font = bold
        return c

    codes = [c for c in list_codes(store) if c.depth < max(depth, 2)]  # themes, subthemes (and codes: depth 3)
    totals = code_counts(store, coder=coder)
    counts_ = store.counts()
    project = title if title is not None else (store.get_setting("title", "") or "Thematic analysis")

    # About
    ws = sheet("About", [28, 90])
    header(ws, ["Item", "Value"])
    about = [
        ("Project", project),
        ("Exported (UTC)", datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M")),
        ("Counts are", f"{unit}; a theme counts the codings of its subthemes and codes too"),
        ("Coder", coder or "all coders"),
        *((k.capitalize(), counts_[k]) for k in ("forms", "questions", "answers", "segments", "codes", "codings",
                                                  "coders", "memos")),
        ("Sheets", "Codebook; Coded extracts (one row per coded segment and coder); Theme x question; "
                   "Theme x metadata (one block per metadata field)"),
        ("Safety", "Cells that began with =, +, - or @ are prefixed with ' so that they are never run as formulas."),
    ]
    for k, v in about:
        ws.append([WriteOnlyCell(ws, value=k), wrapped(ws, cell(v))])

    # Codebook
    ws = sheet("Codebook", [28, 34, 30, 60, 40, 40, 11, 12])
    header(ws, ["Theme", "Subtheme", "Code", "Definition", "Includes", "Excludes", "Segments", "Respondents"])
    for c in list_codes(store):
        seg, resp = totals.get(c.id, (0, 0))
        levels = [c.path[0], c.path[1] if c.depth >= 1 else "", "/".join(c.path[2:])]
        ws.append([wrapped(ws, cell(levels[0]), is_bold=c.depth == 0), wrapped(ws, cell(levels[1])),
                   wrapped(ws, cell(levels[2])), wrapped(ws, cell(c.definition)), wrapped(ws, cell(c.includes)),
                   wrapped(ws, cell(c.excludes)), seg, resp])

    # Coded extracts
    head = extract_header(store)
    ws = sheet("Coded extracts", [12, 30, 9, 70, 45, 14, 12] + [16] * (len(head) - 7))
    header(ws, head)
    for row in extract_rows(store, coder=coder):
        row[3] = wrapped(ws, row[3])
        row[4] = wrapped(ws, row[4])
        ws.append(row)

    # Theme x question
    qs = questions(store)
    by_q = code_counts_by_group(store, "question", coder=coder)
    ws = sheet("Theme x question", [30, 34, 30] + [18] * len(qs) + [12])
    header(ws, ["Theme", "Subtheme", "Code", *(q.label for q in qs), f"All questions ({unit})"])
    for c in codes:
        row = by_q.get(c.id, {})
        ws.append([wrapped(ws, cell(c.path[0]), is_bold=c.depth == 0), wrapped(ws, cell(c.path[1] if c.depth >= 1 else "")),
                   wrapped(ws, cell("/".join(c.path[2:]))),
                   *(row.get(q.key, (0, 0))[idx] for q in qs), totals.get(c.id, (0, 0))[idx]])

    # Theme x metadata group
    fields = meta_fields(store)
    widest = 0
    blocks = []
    for f in fields:
        values = meta_values(store, f)
        if len(values) > MAX_GROUP_VALUES:
            continue
        blocks.append((f, values, code_counts_by_group(store, f, coder=coder)))
        widest = max(widest, len(values))
    ws = sheet("Theme x metadata", [30, 34, 30] + [16] * widest)
    header(ws, ["Theme", "Subtheme", "Code", f"{unit.capitalize()} per group: one block per metadata field below"])
    if not blocks:
        ws.append(["No metadata field with up to %d distinct values." % MAX_GROUP_VALUES])
    for f, values, grouped in blocks:
        ws.append([])
        t = WriteOnlyCell(ws, value=cell(f"{f} ({unit})"))
        t.font = Font(bold=True, size=12)
        ws.append([t])
        ws.append([WriteOnlyCell(ws, value=x) for x in ("Theme", "Subtheme", "Code")]
                  + [wrapped(ws, cell(f"{v or '(blank)'} (n={n})"), is_bold=True) for v, n in values])
        for c in codes:
            row = grouped.get(c.id, {})
            ws.append([wrapped(ws, cell(c.path[0]), is_bold=c.depth == 0),
                       wrapped(ws, cell(c.path[1] if c.depth >= 1 else "")), wrapped(ws, cell("/".join(c.path[2:]))),
                       *(row.get(v, (0, 0))[idx] for v, _ in values)])
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
