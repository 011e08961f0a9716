"""The first step of an import: ``sniff`` a file and guess its mapping (which column plays which role).

Nothing is written: the app shows the :class:`Preview` and lets the user correct the :class:`Mapping` before
``read_forms`` reads every form with it.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InvalidInput
from .layout import SAMPLE_ROWS, Column, Header, describe, find_header, guess_roles
from .read import FileInput, Source, cell_text, open_source

LAYOUTS = ("wide", "long")
ROLES = {"wide": ("question", "meta", "id", "ignore"), "long": ("answer", "question_key", "meta", "id", "ignore")}


@dataclass(frozen=True)
class Mapping:
    """Which column plays which role. In long layout ``question_columns`` holds the one column naming the
    question and ``answer_column`` the column holding the answer text."""

    layout: str = "wide"
    id_column: str | None = None
    question_columns: tuple[str, ...] = ()
    meta_columns: tuple[str, ...] = ()
    answer_column: str | None = None
    sheet: str | None = None
    header_row: int | None = None


@dataclass
class Preview:
    """What ``sniff`` found: enough for the app to show the file and let the user correct the mapping."""

    name: str
    kind: str  # "xlsx" or "csv"
    sheets: list[str]
    sheet: str | None
    header_row: int
    header_rows: tuple[int, ...]
    columns: list[Column]
    rows: list[dict[str, str]]  # the first data rows, by column name
    mapping: Mapping
    encoding: str | None
    delimiter: str | None
    warnings: list[str] = field(default_factory=list)

    @property
    def layout(self) -> str:
        return self.mapping.layout


def role_in(role: str, layout: str) -> str:
    """A column's guessed role as it reads in ``layout`` (the analyst may switch the layout the guess chose)."""
    if role in ROLES[layout]:
        return role
    if role == "answer" and layout == "wide":
        return "question"
    if role == "question" and layout == "long":
        return "answer"
    return "ignore"


def mapping_from_roles(
    roles: Sequence[tuple[str, str]], layout: str, *, sheet: str | None = None, header_row: int | None = None
) -> Mapping:
    """The :class:`Mapping` that ``(column, role)`` pairs describe (roles from :data:`ROLES`); more than one id
    column (or answer column, in long layout) is :class:`InvalidInput`."""
    if layout not in LAYOUTS:
        raise InvalidInput(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    by_role: dict[str, list[str]] = {}
    for column, role in roles:
        by_role.setdefault(role_in(role, layout), []).append(column)
    ids, answers = by_role.get("id", []), by_role.get("answer", [])
    if len(ids) > 1:
        raise InvalidInput(f"only one id column, please (now: {', '.join(ids)})")
    if layout == "long" and len(answers) > 1:
        raise InvalidInput(f"only one answer column, please (now: {', '.join(answers)})")
    return Mapping(
        layout=layout,
        id_column=ids[0] if ids else None,
        question_columns=tuple(by_role.get("question_key" if layout == "long" else "question", [])),
        meta_columns=tuple(by_role.get("meta", [])),
        answer_column=answers[0] if layout == "long" and answers else None,
        sheet=sheet,
        header_row=header_row,
    )


def sniff(
    file: FileInput, sheet: str | None = None, *, header_row: int | None = None, encoding: str | None = None
) -> Preview:
    """Open ``file``, find its header and guess the role of each column (nothing is written). ``encoding``
    overrides the guessed text encoding of a CSV file."""
    src = open_source(file, encoding=encoding)
    return sniff_source(src, sheet, header_row)[0]


def sniff_source(src: Source, sheet: str | None, header_row: int | None) -> tuple[Preview, Header, list[list[Any]]]:
    sheet_name = _choose_sheet(src, sheet)
    rows_iter = src.rows(sheet_name)
    try:
        head = list(itertools.islice(rows_iter, 40))
        merged = src.merged_ranges(sheet_name) if src.kind == "xlsx" else []
        header = find_header(head, merged, header_row)
        if header is None:
            if header_row is not None:
                raise InvalidInput(f"row {header_row} is not in the sheet", path=src.name)
            raise InvalidInput("no table found (the sheet is empty)", path=src.name)
        header.merged = list(merged)
        sample: list[list[Any]] = []
        for n, values in itertools.chain(head, rows_iter):
            if n <= header.row or not row_filled(values):
                continue
            sample.append(values)
            if len(sample) >= SAMPLE_ROWS:
                break
    finally:
        rows_iter.close()  # closes the file (or workbook) now, not when collected
    if not sample:
        raise InvalidInput(f"no forms: the file has a header (row {header.row}) but no rows below it", path=src.name)
    columns = header.columns
    describe(columns, sample, text_dates=src.kind == "csv")
    columns = [c for c in columns if c.filled or not c.name.startswith("Column ")]  # trailing blank columns
    layout, id_col = guess_roles(columns, sample)
    warnings = []
    mapping = mapping_from_roles([(c.name, c.role) for c in columns], layout, sheet=sheet_name, header_row=header.row)
    if id_col is None:
        warnings.append("no id column found: forms are numbered by their row (row-17 is the form in row 17)")
    if not mapping.question_columns:
        warnings.append("no free-text column found: choose the question columns")
    preview_rows = [
        {c.name: (cell_text(r[c.index]) if c.index < len(r) else None) or "" for c in columns} for r in sample[:10]
    ]
    preview = Preview(
        name=src.name,
        kind=src.kind,
        sheets=src.sheets,
        sheet=sheet_name,
        header_row=header.row,
        header_rows=header.rows,
        columns=columns,
        rows=preview_rows,
        mapping=mapping,
        encoding=src.encoding,
        delimiter=src.delimiter,
        warnings=warnings,
    )
    return preview, header, sample


def _choose_sheet(src: Source, sheet: str | None) -> str | None:
    if src.kind != "xlsx":
        if sheet is not None:
            raise InvalidInput(f"a {src.kind.upper()} file has no sheets (a sheet is for .xlsx workbooks)", path=src.name)
        return None
    if sheet is not None:
        if sheet not in src.sheets:
            raise InvalidInput(f"no sheet {sheet!r} (sheets: {', '.join(src.sheets)})", path=src.name)
        return sheet
    for name in src.sheets:  # the first sheet with data
        rows = src.rows(name)
        try:
            for _n, values in itertools.islice(rows, 50):
                if row_filled(values):
                    return name
        except InvalidInput:
            continue
        finally:
            rows.close()
    raise InvalidInput("every sheet of the workbook is empty", path=src.name)


def row_filled(values: Sequence[Any]) -> bool:
    return any(v is not None and (not isinstance(v, str) or v.strip()) for v in values)


