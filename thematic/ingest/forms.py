"""The second step of an import: ``read_forms`` reads every form of a file with a mapping (nothing is written).

A *form* is one respondent's evaluation: an id, metadata (profession, gender, date ...) and answers to the
questions. Wide layout: a row per form, a column per question. Long layout: a row per answer, with an id
column, a column naming the question and a column holding the answer; the rows of one id make one form.

Answer text is kept exactly as the file has it (line breaks inside a cell become LF); a cell that is empty,
whitespace or "N/A", "n/a", "NA", "-" ... is no answer (counted in ``blanks``); "None" and "Nothing" are answers.
Metadata values are stripped; dates become ISO ``YYYY-MM-DD``; numbers their text (12, not 12.0).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..errors import Conflict, InvalidInput
from ..limits import MAX_CELL_LENGTH, check_cell
from .layout import Column, Header, is_blank, is_free_text, to_iso_date
from .preview import LAYOUTS, Mapping, Preview, row_filled, sniff_source
from .read import FileInput, Source, cell_text, open_source

Progress = Callable[[int, int, str], None]


@dataclass(slots=True)
class FormRecord:
    external_id: str
    row: int
    answers: dict[str, tuple[str, int]]  # question key -> (text, row)
    meta: dict[str, str]


@dataclass
class ReadResult:
    """Forms read from one file, nothing written yet. ``add_forms`` writes it into a project."""

    name: str
    sha256: str
    kind: str
    mapping: Mapping
    questions: list[str]
    forms: list[FormRecord]
    blanks: int
    empty_forms: int
    duplicates: int  # rows repeating a form (or an answer) already read from the same file, identically
    rows: int
    encoding: str | None
    delimiter: str | None
    warnings: list[str] = field(default_factory=list)

    @property
    def answers(self) -> int:
        return sum(len(f.answers) for f in self.forms)


# ---------------------------------------------------------------------------------------------- read_forms


def read_forms(
    file: FileInput,
    mapping: Mapping | None = None,
    *,
    sheet: str | None = None,
    layout: str | None = None,
    id_column: str | None = None,
    question_columns: Sequence[str] | None = None,
    meta_columns: Sequence[str] | None = None,
    answer_column: str | None = None,
    header_row: int | None = None,
    progress: Progress | None = None,
    encoding: str | None = None,
) -> ReadResult:
    """Read every form of ``file``. Roles not given (in ``mapping`` or as arguments) are guessed.

    ``encoding`` overrides the guessed text encoding of a CSV file (see :mod:`thematic.ingest.read`). A cell
    longer than :data:`thematic.limits.MAX_CELL_LENGTH` characters is refused, naming its row and column."""
    src = open_source(file, encoding=encoding)
    if mapping is not None:
        sheet = sheet or mapping.sheet
        header_row = header_row or mapping.header_row
    preview, header, _sample = sniff_source(src, sheet, header_row)
    m = _resolve(preview, mapping, layout, id_column, question_columns, meta_columns, answer_column)
    by_name = {c.name: c for c in preview.columns}
    if m.layout == "long":
        return _read_long(src, preview, header, m, by_name, progress)
    return _read_wide(src, preview, header, m, by_name, progress)


def _resolve(
    preview: Preview,
    mapping: Mapping | None,
    layout: str | None,
    id_column: str | None,
    question_columns: Sequence[str] | None,
    meta_columns: Sequence[str] | None,
    answer_column: str | None,
) -> Mapping:
    """The guessed mapping, overridden by ``mapping`` and then by the arguments; checked against the columns."""
    guess = preview.mapping
    lay = layout or (mapping.layout if mapping is not None else "") or guess.layout
    if (not layout and mapping is None and lay == "long" and question_columns and not answer_column
            and not set(question_columns) & set(guess.question_columns)):
        # The layout was guessed "long" from a column that names questions, but the analyst named other columns as
        # the questions (free text): a row per form. Reading it long would make every answer a question.
        lay = "wide"
    if lay not in LAYOUTS:
        raise InvalidInput(f"unknown layout {lay!r}: use wide or long")
    idc = id_column if id_column is not None else (mapping or guess).id_column
    qs = _given(question_columns, mapping, "question_columns")
    ms = _given(meta_columns, mapping, "meta_columns")
    ans = answer_column or (mapping.answer_column if mapping is not None else None)
    check = _ColumnCheck(preview)
    if idc:
        check(idc, "form id")
    if lay == "long":
        qs, ans, ms = _resolve_long(preview, check, idc, qs, ms, ans)
    else:
        qs, ms = _resolve_wide(preview, idc, qs, ms)
        ans = None
    check.roles(qs, ms, ans, idc)
    return replace(
        guess, layout=lay, id_column=idc or None, question_columns=qs, meta_columns=ms, answer_column=ans
    )


def _given(arg: Sequence[str] | None, mapping: Mapping | None, attr: str) -> Sequence[str] | None:
    """An argument if given, else the corrected mapping's value, else None (guess it)."""
    if arg is not None:
        return arg
    return getattr(mapping, attr) if mapping is not None else None


class _ColumnCheck:
    """Checks that named columns exist in the preview and that no column plays two roles."""

    def __init__(self, preview: Preview) -> None:
        self.preview = preview
        self.names = [c.name for c in preview.columns]

    def __call__(self, name: str, what: str) -> str:
        if name not in self.names:
            raise InvalidInput(
                f"no column {name!r} for the {what} (columns: {', '.join(self.names)})", path=self.preview.name
            )
        return name

    def roles(self, qs: Sequence[str], ms: Sequence[str], ans: str | None, idc: str | None) -> None:
        for q in qs:
            self(q, "question")
        for meta in ms:
            self(meta, "metadata")
        overlap = (set(qs) | ({ans} if ans else set())) & (set(ms) | {idc})
        if overlap:
            raise InvalidInput(f"column {sorted(overlap)[0]!r} cannot be both a question and metadata or the id")


def _resolve_long(
    preview: Preview,
    check: _ColumnCheck,
    idc: str | None,
    qs: Sequence[str] | None,
    ms: Sequence[str] | None,
    ans: str | None,
) -> tuple[tuple[str, ...], str, tuple[str, ...]]:
    """Long layout: the one column naming the question, the answer column and the metadata columns."""
    guess = preview.mapping
    if qs is None:
        qs = guess.question_columns if guess.layout == "long" else ()
    if len(qs) != 1:
        raise InvalidInput(
            "long layout needs exactly one question column (the column naming the question)", path=preview.name
        )
    if ans is None:
        ans = _guess_answer_column(preview, qs[0], idc)
    if ans is None:
        raise InvalidInput("long layout needs an answer column (the column holding the text)", path=preview.name)
    check(ans, "answers")
    check(qs[0], "question")
    if ms is None:
        taken = {idc, qs[0], ans}
        ms = [c.name for c in preview.columns if c.filled and c.name not in taken and not is_free_text(c)]
    return tuple(qs), ans, tuple(ms)


def _guess_answer_column(preview: Preview, question: str, idc: str | None) -> str | None:
    guess = preview.mapping
    if guess.layout == "long" and guess.answer_column is not None:
        return guess.answer_column
    texts = [c for c in preview.columns if is_free_text(c) and c.name != question and c.name != idc]
    return max(texts, key=lambda c: c.mean_length).name if texts else None


def _resolve_wide(
    preview: Preview, idc: str | None, qs: Sequence[str] | None, ms: Sequence[str] | None
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Wide layout: the question columns and the metadata columns."""
    guess = preview.mapping
    if qs is None:
        if guess.layout == "wide":
            qs = [q for q in guess.question_columns if q != idc]
        else:
            qs = [c.name for c in preview.columns if is_free_text(c) and c.name != idc]
        if ms is not None:
            qs = [q for q in qs if q not in ms]
    if not qs:
        raise InvalidInput("no free-text column found: name the question columns (--question-column)", path=preview.name)
    if ms is None:
        ms = [c.name for c in preview.columns if c.filled and c.name not in qs and c.name != idc and c.role != "ignore"]
    return tuple(qs), tuple(ms)


class _Unused:
    """Counts non-empty cells in columns that are not imported, so that nothing is dropped silently."""

    def __init__(self, columns: list[Column], m: Mapping) -> None:
        used = {m.id_column, m.answer_column, *m.question_columns, *m.meta_columns}
        self.columns = [c for c in columns if c.name not in used]
        self.width = max((c.index for c in columns), default=-1) + 1
        self.counts: dict[str, int] = {}
        self.beyond: list[int] = []

    def see(self, n: int, values: list[Any]) -> None:
        for c in self.columns:
            if c.index < len(values) and not is_blank(cell_text(values[c.index])):
                self.counts[c.name] = self.counts.get(c.name, 0) + 1
        if len(values) > self.width and any(not is_blank(cell_text(v)) for v in values[self.width :]):
            self.beyond.append(n)

    def warnings(self) -> list[str]:
        out = [f"column {name!r} was not imported ({k} non-empty cells)" for name, k in self.counts.items()]
        if self.beyond:
            rows = ", ".join(map(str, self.beyond[:5])) + (" ..." if len(self.beyond) > 5 else "")
            out.append(f"{len(self.beyond)} rows have cells right of the last headed column, not imported (rows {rows})")
        return out


def _data_rows(
    src: Source, m: Mapping, header: Header, unused: _Unused | None = None
) -> Iterator[tuple[int, list[Any]]]:
    """Data rows below the header. A metadata or id cell merged down over several rows (one "Workshop date"
    for a whole cohort) is given to each of those rows; merged answer cells are not copied."""
    by_name = {c.name: c.index + 1 for c in header.columns}
    fillable = {by_name[n] for n in (m.id_column, *m.meta_columns) if n in by_name}
    downs = [(r1, c1, r2) for r1, c1, r2, c2 in header.merged if r1 > header.row and r2 > r1 and c1 == c2 and c1 in fillable]
    tops: dict[tuple[int, int], Any] = {}
    for n, values in src.rows(m.sheet):
        filled = row_filled(values)  # a row holding only a merged-down cell is still a blank row
        if downs:
            for r1, c1, r2 in downs:
                if n == r1 and c1 <= len(values):
                    tops[(r1, c1)] = values[c1 - 1]
                elif r1 < n <= r2 and (r1, c1) in tops:
                    values = values + [None] * (c1 - len(values))
                    if values[c1 - 1] is None:
                        values[c1 - 1] = tops[(r1, c1)]
        if n > header.row and filled:
            if unused is not None:
                unused.see(n, values)
            yield n, values


def _text(src: Source, values: list[Any], col: Column, row: int) -> str | None:
    """The cell of ``col`` in a row as text (None when the row is shorter), refused when over the length limit."""
    if col.index >= len(values):
        return None
    text = cell_text(values[col.index])
    if text is not None and len(text) > MAX_CELL_LENGTH:
        check_cell(text, path=src.name, row=row, column=col.name)
    return text


def _meta_value(col: Column, text: str | None, warned: set[str], warnings: list[str]) -> str | None:
    if text is None:
        return None
    text = text.strip()
    if is_blank(text):
        return None
    if col.date_format is not None:
        iso = to_iso_date(text, col.date_format)
        if iso is not None:
            return iso
        if col.name not in warned:
            warned.add(col.name)
            warnings.append(f"column {col.name!r}: {text!r} is not a date like the others; kept as written")
    return text


def _form_id(src: Source, values: list[Any], id_col: Column | None, row: int, warnings: list[str]) -> str:
    if id_col is None:
        return f"row-{row}"
    raw = _text(src, values, id_col, row)
    if raw is None or not raw.strip():
        warnings.append(f"row {row}: no {id_col.name}; the form is called row-{row}")
        return f"row-{row}"
    return raw.strip()


def _read_wide(
    src: Source, preview: Preview, header: Header, m: Mapping, by_name: dict[str, Column], progress: Progress | None
) -> ReadResult:
    id_col = by_name[m.id_column] if m.id_column else None
    qcols = [by_name[q] for q in m.question_columns]
    mcols = [by_name[c] for c in m.meta_columns]
    warnings = list(preview.warnings if m.id_column is None else [])
    warned: set[str] = set()
    forms: list[FormRecord] = []
    seen: dict[str, int] = {}
    blanks = empty = dups = rows = 0
    unused = _Unused(preview.columns, m)
    for n, values in _data_rows(src, m, header, unused):
        rows += 1
        fid = _form_id(src, values, id_col, n, warnings)
        answers: dict[str, tuple[str, int]] = {}
        for q in qcols:
            text = _text(src, values, q, n)
            if is_blank(text):
                blanks += 1
            else:
                assert text is not None
                answers[q.name] = (text, n)
        meta: dict[str, str] = {}
        for c in mcols:
            v = _meta_value(c, _text(src, values, c, n), warned, warnings)
            if v is not None:
                meta[c.name] = v
        if fid in seen:
            other = forms[seen[fid]]
            if _texts_of(other) == _texts_of_answers(answers) and other.meta == meta:
                dups += 1
                continue
            raise Conflict(
                f"{src.name}: form id {fid!r} appears in rows {other.row} and {n} with different answers"
            )
        seen[fid] = len(forms)
        if not answers:
            empty += 1
        forms.append(FormRecord(fid, n, answers, meta))
        if progress is not None and rows % 2000 == 0:
            _report(progress, src)
    if dups:
        warnings.append(f"{dups} rows repeat a form already read from this file and were skipped")
    warnings.extend(unused.warnings())
    return _result(progress, src, m, list(m.question_columns), forms, blanks, empty, dups, rows, warnings)


def _read_long(
    src: Source, preview: Preview, header: Header, m: Mapping, by_name: dict[str, Column], progress: Progress | None
) -> ReadResult:
    id_col = by_name[m.id_column] if m.id_column else None
    qcol = by_name[m.question_columns[0]]
    assert m.answer_column is not None
    acol = by_name[m.answer_column]
    mcols = [by_name[c] for c in m.meta_columns]
    warnings = list(preview.warnings if m.id_column is None else [])
    warned: set[str] = set()
    forms: dict[str, FormRecord] = {}
    meta_rows: dict[tuple[str, str], int] = {}
    questions: dict[str, None] = {}
    blanks = dups = rows = 0
    unused = _Unused(preview.columns, m)
    for n, values in _data_rows(src, m, header, unused):
        rows += 1
        fid = _form_id(src, values, id_col, n, warnings)
        qtext = _text(src, values, qcol, n)
        qkey = " ".join((qtext or "").split())
        if not qkey:
            raise InvalidInput(f"no question in column {qcol.name!r}", path=src.name, row=n)
        questions.setdefault(qkey)
        form = forms.get(fid)
        if form is None:
            form = forms[fid] = FormRecord(fid, n, {}, {})
        for c in mcols:
            _merge_meta(src, form, c, _meta_value(c, _text(src, values, c, n), warned, warnings), n, meta_rows)
        text = _text(src, values, acol, n)
        if is_blank(text):
            blanks += 1
            continue
        assert text is not None
        if _repeats_answer(src, form, qkey, text, n):
            dups += 1
            continue
        form.answers[qkey] = (text, n)
        if progress is not None and rows % 2000 == 0:
            _report(progress, src)
    if dups:
        warnings.append(f"{dups} rows repeat an answer already read from this file and were skipped")
    warnings.extend(unused.warnings())
    records = list(forms.values())
    empty = sum(1 for f in records if not f.answers)
    return _result(progress, src, m, list(questions), records, blanks, empty, dups, rows, warnings)


def _merge_meta(
    src: Source, form: FormRecord, col: Column, value: str | None, row: int, meta_rows: dict[tuple[str, str], int]
) -> None:
    """Long layout: a form's metadata value from one of its rows; rows of one form must not disagree."""
    if value is None:
        return
    old = form.meta.get(col.name)
    if old is None:
        form.meta[col.name] = value
        meta_rows[(form.external_id, col.name)] = row
    elif old != value:
        raise Conflict(
            f"{src.name}: form {form.external_id!r} has {col.name} {old!r} in row "
            f"{meta_rows[(form.external_id, col.name)]} and {value!r} in row {row}"
        )


def _repeats_answer(src: Source, form: FormRecord, qkey: str, text: str, row: int) -> bool:
    """Long layout: True if the form already has this answer to the question; a different one is a conflict."""
    prior = form.answers.get(qkey)
    if prior is None:
        return False
    if prior[0] == text:
        return True
    raise Conflict(f"{src.name}: form id {form.external_id!r} answers {qkey!r} differently in rows {prior[1]} and {row}")


def _report(progress: Progress, src: Source) -> None:
    """Reading progress: megabytes of a CSV, rows of a sheet."""
    if src.extent:
        if src.kind == "csv":
            total = max(1, src.extent >> 20)
            progress(min(src.position >> 20, total - 1), total, "reading MB")
        else:
            progress(min(src.position, src.extent - 1), src.extent, "reading rows")


def _texts_of(form: FormRecord) -> dict[str, str]:
    return {k: v[0] for k, v in form.answers.items()}


def _texts_of_answers(answers: dict[str, tuple[str, int]]) -> dict[str, str]:
    return {k: v[0] for k, v in answers.items()}


def _result(
    progress: Progress | None,
    src: Source,
    m: Mapping,
    questions: list[str],
    forms: list[FormRecord],
    blanks: int,
    empty: int,
    dups: int,
    rows: int,
    warnings: list[str],
) -> ReadResult:
    if not forms:
        raise InvalidInput("no forms: every row below the header is empty", path=src.name)
    if progress is not None:
        progress(1, 1, "reading")
    if len(warnings) > 50:
        warnings = warnings[:50] + [f"... and {len(warnings) - 50} more warnings"]
    return ReadResult(
        name=src.name,
        sha256=src.sha256,
        kind=src.kind,
        mapping=m,
        questions=questions,
        forms=forms,
        blanks=blanks,
        empty_forms=empty,
        duplicates=dups,
        rows=rows,
        encoding=src.encoding,
        delimiter=src.delimiter,
        warnings=warnings,
    )
