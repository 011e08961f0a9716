"""Spreadsheet exports: an Excel workbook (openpyxl, write-only so that large projects stream) and a CSV of the
coded extracts (UTF-8 with a byte-order mark, which Excel needs to read accents and curly quotes right).

Workbook sheets: About (project, date, counts), Codebook, Coded extracts, Theme x question, Theme x metadata
(one block per metadata field). Every text cell from the data is passed through :func:`safety.cell`, so an answer
that begins with ``=`` is shown as text and never run as a formula.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from ..models import Code, Question
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
        'SELECT s.id, a.form_id, f.external_id, q.label, s.position, s.start, s."end", s.by_person, s.text, '
        "k.name AS coder, "
        "group_concat(c.code_id) AS code_ids, group_concat(DISTINCT c.origin) AS origins "
        "FROM codings c JOIN coders k ON k.id = c.coder_id JOIN segments s ON s.id = c.segment_id "
        "JOIN answers a ON a.id = s.answer_id JOIN forms f ON f.id = a.form_id JOIN questions q ON q.id = a.question_id "
        f'{where} GROUP BY s.id, k.id ORDER BY a.form_id, q.position, s.start, s."end" DESC, s.by_person, k.name',
        params,
    )
    for r in rows:
        ids = sorted({int(x) for x in str(r["code_ids"]).split(",")}, key=lambda i: order.get(i, 1 << 30))
        codes = "; ".join("/".join(paths[i]) for i in ids if i in paths)
        origins = ", ".join(sorted(set(str(r["origins"]).split(","))))
        m = meta.get(r["form_id"], {})
        # a sentence by its number in the answer; a highlighted span by where it is (characters, 1-based)
        where_ = f"characters {r['start'] + 1}-{r['end']}" if r["by_person"] else r["position"] + 1
        yield [cell(r["external_id"]), cell(r["label"]), where_, cell(r["text"]), cell(codes),
               cell(r["coder"]), origins, *(cell(m.get(f, "")) for f in fields)]


def render_csv(store: Store, *, coder: str | None = None) -> bytes:
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


class _Book:
    """A write-only workbook with the export's styles: bold shaded headers, wrapped top-aligned text cells."""

    def __init__(self) -> None:
        from openpyxl import Workbook
        from openpyxl.styles import Alignment, Font, PatternFill

        self.wb = Workbook(write_only=True)
        self.bold = Font(bold=True)
        self.head_fill = PatternFill("solid", fgColor="DDE4EE")
        self.wrap = Alignment(wrap_text=True, vertical="top")

    def sheet(self, name: str, widths: Sequence[float]) -> Any:
        from openpyxl.utils import get_column_letter

        ws = self.wb.create_sheet(name)
        for i, wdt in enumerate(widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = wdt
        ws.freeze_panes = "A2"
        return ws

    def header(self, ws: Any, names: list[str]) -> None:
        from openpyxl.cell import WriteOnlyCell

        cells = []
        for n in names:
            c = WriteOnlyCell(ws, value=cell(n))
            c.font, c.fill, c.alignment = self.bold, self.head_fill, self.wrap
            cells.append(c)
        ws.append(cells)

    def wrapped(self, ws: Any, value: Any, *, is_bold: bool = False) -> Any:
        from openpyxl.cell import WriteOnlyCell

        c = WriteOnlyCell(ws, value=value)
        c.alignment = self.wrap
        if is_bold:
            c.font = self.bold
        return c

    def levels(self, ws: Any, code: Code) -> list[Any]:
        """The theme, subtheme and code cells of a code's row (the theme in bold on a theme's own row)."""
        return [self.wrapped(ws, cell(code.path[0]), is_bold=code.depth == 0),
                self.wrapped(ws, cell(code.path[1] if code.depth >= 1 else "")),
                self.wrapped(ws, cell("/".join(code.path[2:])))]

    def save(self) -> bytes:
        buf = io.BytesIO()
        self.wb.save(buf)
        return buf.getvalue()


def _about_sheet(book: _Book, project: str, unit: str, coder: str | None, counts_: dict[str, int]) -> None:
    from openpyxl.cell import WriteOnlyCell

    ws = book.sheet("About", [28, 90])
    book.header(ws, ["Item", "Value"])
    about = [
        ("Project", project),
        ("Exported (UTC)", datetime.now(UTC).strftime("%Y-%m-%d %H:%M")),
        ("Counts are", f"{unit}; a theme counts the codings of its subthemes and codes too"),
        ("Coder", coder or "all coders"),
        *((k.capitalize(), counts_[k]) for k in ("forms", "questions", "answers", "segments", "codes", "codings",
                                                  "coders", "memos")),
        ("Sheets", "Codebook; Coded extracts (one row per coded segment and coder); Theme x question; "
                   "Theme x metadata (one block per metadata field)"),
        ("Safety", "Cells that began with =, +, -, @, a tab or a line break (also after leading spaces) are prefixed "
                   "with ' so that they are never run as formulas."),
    ]
    for k, v in about:
        ws.append([WriteOnlyCell(ws, value=k), book.wrapped(ws, cell(v))])


def _codebook_sheet(book: _Book, all_codes: Sequence[Code], totals: dict[int, tuple[int, int]]) -> None:
    ws = book.sheet("Codebook", [28, 34, 30, 60, 40, 40, 11, 12])
    book.header(ws, ["Theme", "Subtheme", "Code", "Definition", "Includes", "Excludes", "Segments", "Respondents"])
    for c in all_codes:
        seg, resp = totals.get(c.id, (0, 0))
        ws.append([*book.levels(ws, c), book.wrapped(ws, cell(c.definition)), book.wrapped(ws, cell(c.includes)),
                   book.wrapped(ws, cell(c.excludes)), seg, resp])


def _extracts_sheet(book: _Book, store: Store, coder: str | None) -> None:
    head = extract_header(store)
    ws = book.sheet("Coded extracts", [12, 30, 9, 70, 45, 14, 12] + [16] * (len(head) - 7))
    book.header(ws, head)
    for row in extract_rows(store, coder=coder):
        row[3] = book.wrapped(ws, row[3])
        row[4] = book.wrapped(ws, row[4])
        ws.append(row)


def _question_sheet(book: _Book, codes: Sequence[Code], qs: Sequence[Question],
                    by_q: dict[int, dict[str, tuple[int, int]]], totals: dict[int, tuple[int, int]],
                    idx: int, unit: str) -> None:
    ws = book.sheet("Theme x question", [30, 34, 30] + [18] * len(qs) + [12])
    book.header(ws, ["Theme", "Subtheme", "Code", *(q.label for q in qs), f"All questions ({unit})"])
    for c in codes:
        by_question = by_q.get(c.id, {})
        ws.append([*book.levels(ws, c),
                   *(by_question.get(q.key, (0, 0))[idx] for q in qs), totals.get(c.id, (0, 0))[idx]])


_Block = tuple[str, list[tuple[str, int]], dict[int, dict[str, tuple[int, int]]]]


def _metadata_sheet(book: _Book, codes: Sequence[Code], blocks: Sequence[_Block], idx: int, unit: str) -> None:
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    widest = max((len(values) for _, values, _ in blocks), default=0)
    ws = book.sheet("Theme x metadata", [30, 34, 30] + [16] * widest)
    book.header(ws, ["Theme", "Subtheme", "Code", f"{unit.capitalize()} per group: one block per metadata field below"])
    if not blocks:
        ws.append([f"No metadata field with up to {MAX_GROUP_VALUES} distinct values."])
    for f, values, grouped in blocks:
        ws.append([])
        t = WriteOnlyCell(ws, value=cell(f"{f} ({unit})"))
        t.font = Font(bold=True, size=12)
        ws.append([t])
        ws.append([WriteOnlyCell(ws, value=x) for x in ("Theme", "Subtheme", "Code")]
                  + [book.wrapped(ws, cell(f"{v or '(missing)'} (n={n})"), is_bold=True) for v, n in values])
        for c in codes:
            by_value = grouped.get(c.id, {})
            ws.append([*book.levels(ws, c), *(by_value.get(v, (0, 0))[idx] for v, _ in values)])


def render_xlsx(
    store: Store, *, counts: str = "respondents", depth: int = 2, coder: str | None = None, title: str | None = None,
) -> bytes:
    from ..codebook import list_codes
    from ..coding import code_counts, code_counts_by_group
    from ..corpus import meta_fields, meta_values, questions

    book = _Book()
    idx, unit = _count_index(counts)
    codes = [c for c in list_codes(store) if c.depth < max(depth, 2)]  # themes, subthemes (and codes: depth 3)
    totals = code_counts(store, coder=coder)
    counts_ = store.counts()
    project = title if title is not None else (store.get_setting("title", "") or "Thematic analysis")
    _about_sheet(book, project, unit, coder, counts_)
    _codebook_sheet(book, list_codes(store), totals)
    _extracts_sheet(book, store, coder)
    _question_sheet(book, codes, questions(store), code_counts_by_group(store, "question", coder=coder), totals,
                    idx, unit)
    # a metadata field with too many distinct values (ids, dates ...) is not a grouping
    blocks: list[_Block] = []
    n_forms = int(counts_.get("forms", 0))
    for f in meta_fields(store):
        values = [(v, n) for v, n in meta_values(store, f) if v != ""]
        missing = n_forms - sum(n for _, n in values)
        if missing > 0:  # forms with no value (no cell, or an empty one): a column of their own, so rows add up
            values.append(("", missing))
        if len(values) <= MAX_GROUP_VALUES:
            blocks.append((f, values, code_counts_by_group(store, f, coder=coder)))
    _metadata_sheet(book, codes, blocks, idx, unit)
    return book.save()
