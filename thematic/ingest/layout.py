"""Guessing how a sheet is laid out: where the header is, what the columns are called, what role each plays.

Header row: the first row with at least two text cells and at least half as many filled cells as the widest of
the first rows (so a title row above the table is skipped). A two-row header ("Questions" merged over the
question sub-headers) is recognised from merged cells in an XLSX file, or in a CSV when the row below the
header fills the gaps of the row above with short distinct text. Column names are the sub-header, or
"Group / Sub-header" when a sub-header repeats, or the merged cell's text; whitespace inside a header is
collapsed; a repeated name gets " (2)", " (3)"; a column with data but no header is called "Column F".

Roles: ``id`` (unique short values, a header such as "Form ID", "Ref", "Respondent"), ``question`` (free text:
long, varied values or a header worded as a question), ``meta`` (short categorical values, dates, numbers, or a
header such as "Profession", "Gender", "Workshop date"), ``ignore`` (empty). Long layout (a row per answer) is
guessed when a column is headed "Question" (or "Item", "Prompt") and holds a few repeated values.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .read import cell_text

SAMPLE_ROWS = 500
HEADER_SCAN_ROWS = 30

NA_TOKENS = frozenset(
    {"n/a", "na", "n.a.", "n.a", "n\\a", "-", "--", "---", "–", "—", ".", "..", "...", "#n/a", "not applicable"}
)

_ID_HEADER = re.compile(
    r"^(?:id|#|no\.?|ref\.?|reference|index|row[ _]?index|uid|uuid|key|record|serial)$"
    r"|\b(?:id|ids|identifier|ref|reference|number|no\.?|code)$"
    r"|^(?:form|response|respondent|participant|record|submission|entry|evaluation|survey)\b",
    re.IGNORECASE,
)
_STRONG_ID_HEADER = re.compile(r"\bid\b|^(?:respondent|participant|form|ref|reference)\b", re.IGNORECASE)
_META_HEADER = re.compile(
    r"\b(?:profession|professional|role|job|occupation|staff ?group|discipline|gender|sex|age|date|day|time|"
    r"cohort|site|workshop|session|course|trust|organi[sz]ation|service|team|department|dept|ward|band|grade|"
    r"location|locality|area|region|group|ethnicity|year|month|term|trainer|facilitator|venue|rating|score|"
    r"criticality|category|subcategory|label|type|status|language)\b",
    re.IGNORECASE,
)
_QUESTION_HEADER = re.compile(
    r"\?|\.\.\.|…|^q(?:uestion)?\s*\d+\b|\b(?:comments?|feedback|free ?text|suggestions?|remarks?)\b|"
    r"^(?:what|how|why|which|any|anything|please|describe|tell|today|is there|do you|did you|would you|if you|"
    r"other|improve)",
    re.IGNORECASE,
)
_LONG_QUESTION_HEADER = re.compile(r"^(?:question|questions|item|prompt|question[ _]?(?:text|name|id))$", re.I)

_DATE_FORMATS_DAY_FIRST = ("%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y", "%d %B %Y", "%d %b %Y")
_DATE_FORMATS_MONTH_FIRST = ("%Y-%m-%d", "%m/%d/%Y", "%m/%d/%y", "%m-%d-%Y")
_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")


def is_blank(text: str | None) -> bool:
    """No answer: empty, whitespace, "N/A", "n/a", "NA", "-" and the like. "None" and "Nothing" are answers."""
    if text is None:
        return True
    s = text.strip()
    return not s or s.lower() in NA_TOKENS


@dataclass
class Column:
    """A column as found in the file, with what the guess makes of it."""

    index: int  # 0-based position in the row
    name: str
    role: str = "ignore"  # id | question | meta | ignore (long layout: question_key | answer too)
    filled: int = 0
    distinct: int = 0
    mean_length: float = 0.0
    max_length: int = 0
    examples: list[str] = field(default_factory=list)
    date_format: str | None = None  # set for CSV text columns whose every value is a date


@dataclass
class Header:
    row: int  # 1-based row number of the (last) header row
    rows: tuple[int, ...]  # all header rows (one or two)
    columns: list[Column]
    merged: list[tuple[int, int, int, int]] = field(default_factory=list)  # the sheet's merged ranges


def column_letter(index: int) -> str:
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(index + 1))


def _texts(values: Sequence[Any]) -> list[str | None]:
    out: list[str | None] = []
    for v in values:
        t = cell_text(v)
        out.append(t if t is not None and t.strip() else None)
    return out


def _is_label(v: Any) -> bool:
    """A cell that could be a header: text, not a number or a date, not too long."""
    if not isinstance(v, str):
        return False
    s = v.strip()
    return bool(s) and len(s) <= 300 and not _NUMBER.match(s) and _parse_date(s) is None


def _filled(values: Sequence[Any]) -> int:
    return sum(1 for x in values if x is not None and str(x).strip())


def find_header(
    rows: Sequence[tuple[int, list[Any]]],
    merged: Sequence[tuple[int, int, int, int]] = (),
    header_row: int | None = None,
) -> Header | None:
    """The header in the first rows of a sheet (``rows`` as from ``Source.rows``); None if there is none."""
    scan = [(n, v) for n, v in rows[:HEADER_SCAN_ROWS] if _filled(v)]
    if not scan:
        return None
    by_row = dict(rows)
    if header_row is not None:
        if header_row not in by_row:
            return None
        first = header_row
    else:
        first = _guess_header_row(scan)
    first, two_rows = _group_row(first, by_row, merged, guessing=header_row is None)
    width = max(len(v) for _n, v in scan)
    names, header_rows = _header_names(first, two_rows, by_row, merged, width)
    return Header(row=header_rows[-1], rows=header_rows, columns=_unique_columns(names))


def _guess_header_row(scan: Sequence[tuple[int, list[Any]]]) -> int:
    """The first row with at least two labels, mostly labels, at least half as filled as the widest row."""
    widest = max(_filled(v) for _n, v in scan)
    for n, v in scan:
        labels = sum(1 for x in v if _is_label(x))
        filled = _filled(v)
        if labels >= 2 and labels >= filled * 0.8 and filled * 2 >= widest:
            return n
    # a one-column sheet: its first text cell
    return next((n for n, v in scan if any(_is_label(x) for x in v)), scan[0][0])


def _group_row(
    first: int, by_row: dict[int, list[Any]], merged: Sequence[tuple[int, int, int, int]], *, guessing: bool
) -> tuple[int, bool]:
    """(first header row, whether the header has two rows).

    A group row ("Questions" over the sub-headers) just above the header, or (when guessing) the row found is
    itself a group row over the real header; an explicit header row is always the last header row."""
    if first - 1 in by_row and _is_group_row(
        first - 1, list(by_row[first - 1]), list(by_row[first]), merged, by_row.get(first + 1, []), above=True
    ):
        return first - 1, True
    two_rows = guessing and _is_group_row(
        first, list(by_row[first]), list(by_row.get(first + 1, [])), merged, by_row.get(first + 2, [])
    )
    return first, two_rows


def _header_names(
    first: int,
    two_rows: bool,
    by_row: dict[int, list[Any]],
    merged: Sequence[tuple[int, int, int, int]],
    width: int,
) -> tuple[list[str], tuple[int, ...]]:
    """The column names and the header's rows."""
    top_names = _fill_merged(first, list(by_row[first]), merged, width)
    if not two_rows:
        return top_names, (first,)
    sub_row = first + 1
    sub_names = _fill_merged(sub_row, list(by_row.get(sub_row, [])), merged, width, vertical_only=True)
    if not merged:  # CSV: a group label runs right until the next one
        _spread_group_labels(top_names, sub_names)
    return _combined_names(top_names, sub_names), (first, sub_row)


def _spread_group_labels(top_names: list[str], sub_names: list[str]) -> None:
    last = None
    for i in range(len(top_names)):
        if top_names[i]:
            last = top_names[i]
        elif sub_names[i] and last:
            top_names[i] = last


def _combined_names(top_names: list[str], sub_names: list[str]) -> list[str]:
    """The sub-header, or "Group / Sub-header" when a sub-header repeats, or the group's text."""
    subs = [s for s in sub_names if s]
    names = []
    for t, s in zip(top_names, sub_names):
        if s and t and s != t and subs.count(s) > 1:
            names.append(f"{t} / {s}")
        else:
            names.append(s or t or "")
    return names


def _fill_merged(
    row: int,
    values: list[Any],
    merged: Sequence[tuple[int, int, int, int]],
    width: int,
    *,
    vertical_only: bool = False,
) -> list[str]:
    """Header texts of one row, with merged cells' text spread over their range (whitespace collapsed)."""
    texts = [" ".join((cell_text(v) or "").split()) for v in values] + [""] * max(0, width - len(values))
    for r1, c1, r2, c2 in merged:
        if not r1 <= row <= r2 or (vertical_only and r1 == row):
            continue
        # the merged cell's text sits in its top-left cell, which may be on an earlier row
        source = texts[c1 - 1] if r1 == row and c1 - 1 < len(texts) else None
        if source is None:
            continue
        for c in range(c1, min(c2, width) + 1):
            if not texts[c - 1]:
                texts[c - 1] = source
    return texts[:width] if width else texts


def _is_group_row(
    row: int,
    top: list[Any],
    below: list[Any],
    merged: Sequence[tuple[int, int, int, int]],
    after: list[Any],
    *,
    above: bool = False,
) -> bool:
    """Is ``row`` a group label row ("Questions" over sub-headers) with the real header below it?

    ``above``: ``row`` sits above the row chosen as header; a lone label in the first column is a title then.
    """
    if not below or (above and not _could_be_group_above(top)) or not _is_sub_header(below):
        return False
    if merged:
        return any(r1 == row and c2 > c1 and r2 == row for r1, c1, r2, c2 in merged)
    return _csv_group_row(top, below, after)


def _could_be_group_above(top: list[Any]) -> bool:
    """Only labels, and not a lone label in the first column (a title)."""
    labels_top = [(i, x) for i, x in enumerate(top) if x is not None and str(x).strip()]
    if not labels_top or not all(_is_label(x) for _i, x in labels_top):
        return False
    return not (len(labels_top) == 1 and labels_top[0][0] == 0)


def _is_sub_header(below: list[Any]) -> bool:
    """At least two short labels and nothing else."""
    labels_below = [x for x in below if x is not None and str(x).strip()]
    return len(labels_below) >= 2 and all(_is_label(x) and len(str(x).strip()) <= 150 for x in labels_below)


def _blank(x: Any) -> bool:
    return x is None or not str(x).strip()


def _csv_group_row(top: list[Any], below: list[Any], after: list[Any]) -> bool:
    """CSV: the row below fills gaps of this row with distinct short labels, and the row after looks like data."""
    width = max(len(top), len(below))
    top_p = top + [None] * (width - len(top))
    below_p = below + [None] * (width - len(below))
    fills_gap = any(_blank(t) and not _blank(b) for t, b in zip(top_p, below_p))
    has_gap_inside = any(_blank(t) for t in top_p[: len(below)])
    data_like = any(x is not None and not _is_label(x) for x in after) or any(
        isinstance(x, str) and len(x) > 150 for x in after
    )
    return fills_gap and has_gap_inside and data_like


def _unique_columns(names: list[str]) -> list[Column]:
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names):
        name = name or f"Column {column_letter(i)}"
        if name in seen:
            seen[name] += 1
            name = f"{name} ({seen[name]})"
            while name in seen:
                name += "'"
        seen.setdefault(name, 1)
        out.append(Column(index=i, name=name))
    return out


# ---------------------------------------------------------------------------------------------- roles


def describe(columns: list[Column], data: Sequence[list[Any]], *, text_dates: bool) -> None:
    """Fill each column's statistics from sample data rows; ``text_dates``: look for dates written as text."""
    for col in columns:
        values = [t for t in (_cell(r, col.index) for r in data) if not is_blank(t)]
        assert all(v is not None for v in values)
        vs = [v for v in values if v is not None]
        col.filled = len(vs)
        col.distinct = len(set(vs))
        col.mean_length = sum(len(v) for v in vs) / len(vs) if vs else 0.0
        col.max_length = max((len(v) for v in vs), default=0)
        col.examples = list(dict.fromkeys(vs))[:5]
        if text_dates and vs:
            col.date_format = date_format([v.strip() for v in vs])


def _cell(row: list[Any], index: int) -> str | None:
    return cell_text(row[index]) if index < len(row) else None


def is_free_text(col: Column) -> bool:
    if col.filled == 0:
        return False
    varied = col.distinct >= max(2, 0.5 * col.filled)
    if _META_HEADER.search(col.name) and col.mean_length < 40:
        return False
    if col.mean_length >= 25 and col.distinct >= 0.3 * col.filled:
        return True
    if col.max_length >= 60 and varied:
        return True
    return bool(_QUESTION_HEADER.search(col.name)) and col.mean_length >= 3 and col.date_format is None


def guess_roles(columns: list[Column], data: Sequence[list[Any]]) -> tuple[str, str | None]:
    """Set each column's role; return the layout ("wide" or "long") and the id column (or None)."""
    for col in columns:
        col.role = "ignore" if col.filled == 0 else ("question" if is_free_text(col) else "meta")
    long_key = _long_question_column(columns, data)
    if long_key is not None:
        answers = [c for c in columns if c.role == "question" and c is not long_key]
        if answers:
            answer = max(answers, key=lambda c: c.mean_length)
            for c in answers:
                c.role = "meta" if c is not answer else "answer"
            long_key.role = "question_key"
            id_col = _guess_id(columns, data, unique=False, key=long_key)
            if id_col is not None:
                id_col.role = "id"
            return "long", id_col.name if id_col else None
    id_col = _guess_id(columns, data, unique=True)
    if id_col is not None:
        id_col.role = "id"
    return "wide", id_col.name if id_col else None


def _long_question_column(columns: list[Column], data: Sequence[list[Any]]) -> Column | None:
    for col in columns:
        if _LONG_QUESTION_HEADER.match(col.name.strip()) and 1 <= col.distinct <= 50 and col.distinct < col.filled:
            return col
    return None


def _guess_id(
    columns: list[Column], data: Sequence[list[Any]], *, unique: bool, key: Column | None = None
) -> Column | None:
    """The id column: unique values (wide), or values unique with the question (long), mostly filled, short."""
    n = len(data)
    candidates = []
    for col in columns:
        if not _id_shaped(col, n):
            continue
        rank = _id_rank(col, data, unique=unique, key=key)
        if rank is not None:
            candidates.append((rank, col.index, col))
    if not candidates:
        return None
    return min(candidates, key=lambda c: (c[0], c[1]))[2]


def _id_shaped(col: Column, n: int) -> bool:
    """A metadata column filled in at least 90% of the ``n`` rows, with short values that are not dates."""
    if col.role not in ("meta", "ignore") or col.filled == 0 or col.filled < 0.9 * n or col.max_length > 40:
        return False
    return col.date_format is None


def _ids_distinct(col: Column, data: Sequence[list[Any]], *, unique: bool, key: Column | None, strong: bool) -> bool:
    """Whether the column's values are distinct enough for an id: unique per row (wide), or unique with the
    question ``key`` (long); a header that says "id" (``strong``) is believed even with a few repeats."""
    if unique and col.distinct != col.filled and not (strong and col.distinct >= 0.5 * col.filled):
        return False
    if key is not None and not strong:
        pairs = [(_cell(r, col.index), _cell(r, key.index)) for r in data]
        if len(set(pairs)) != len(pairs):
            return False
    return True


def _id_rank(col: Column, data: Sequence[list[Any]], *, unique: bool, key: Column | None) -> int | None:
    """How likely the column is the id (0: a header that says "id", 1: a header that looks like one, 2: a first
    column of numbered values), or None when it cannot be."""
    # a header that says "id" is believed even with a few repeats (they are reported as conflicts later)
    strong = bool(_STRONG_ID_HEADER.search(col.name.strip()))
    if not _ids_distinct(col, data, unique=unique, key=key, strong=strong):
        return None
    if _ID_HEADER.search(col.name.strip()):
        return 0 if strong else 1
    if col.index == 0 and unique and all(any(ch.isdigit() for ch in e) for e in col.examples):
        return 2
    return None


# ---------------------------------------------------------------------------------------------- dates


def _parse_date(text: str, formats: Sequence[str] = _DATE_FORMATS_DAY_FIRST) -> str | None:
    if not 6 <= len(text) <= 30 or not text[:1].isdigit():
        return None
    for fmt in formats:
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def date_format(values: Sequence[str]) -> str | None:
    """"day-first" or "month-first" if every value parses as a date that way (UK day-first preferred)."""
    if values and all(_parse_date(v) for v in values):
        return "day-first"
    if values and all(_parse_date(v, _DATE_FORMATS_MONTH_FIRST) for v in values):
        return "month-first"
    return None


def to_iso_date(text: str, fmt: str) -> str | None:
    formats = _DATE_FORMATS_DAY_FIRST if fmt == "day-first" else _DATE_FORMATS_MONTH_FIRST
    return _parse_date(text.strip(), formats)
