"""Queries an analyst asks of a coded project: keyword in context, code x metadata crosstabs, code co-occurrence,
respondent counts that keep missing values, and each as an XLSX workbook.

* :func:`kwic` finds a word or phrase in every answer of every question (whole words, case-insensitive) and returns
  each occurrence with the text to its left and right, the respondent, the question and the character offsets.
* :func:`crosstab` counts, for each code (its subcodes rolled up) and each value of a metadata field, the
  respondents (distinct forms) or segments coded with it, with row and column percentages. Forms without a value
  count under :data:`MISSING`, so the columns add up to every respondent.
* :func:`cooccurrence` counts, for each pair of codes, the segments (or respondents) coded with both.
* :func:`meta_counts` is the respondent table of one field, with :data:`MISSING` for forms that lack it.
* :func:`to_xlsx` writes any of these as a sheet, every cell through :func:`thematic.export.safety.cell`.

Counting conventions (stated in each result's ``note``): a percentage is ``100 * count / base`` rounded to one
decimal, ``None`` when the base is 0. In a crosstab the row base is the code's total over all columns and the
column base is the number of respondents (or segments) that have that value.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .codebook import list_codes
from .export.safety import cell
from .models import Code
from .store import Store

MISSING = "(missing)"
UNITS = ("respondents", "segments")

_ANCESTORS = (
    "WITH RECURSIVE anc(code_id, ancestor) AS (SELECT id, id FROM codes "
    "UNION ALL SELECT anc.code_id, k.parent_id FROM anc JOIN codes k ON k.id = anc.ancestor "
    "WHERE k.parent_id IS NOT NULL) "
)


def pct(count: int, base: int) -> float | None:
    return None if base == 0 else round(100.0 * count / base, 1)


def _codes(store: Store) -> list[Code]:
    return list_codes(store)


def outline_numbers(codes: Sequence[Code]) -> dict[int, str]:
    """Each code's place in the tree as outline numbers (``"2.1"``: the first child of the second theme), from
    the tree-ordered list :func:`thematic.codebook.list_codes` returns."""
    out: dict[int, str] = {}
    counters: dict[int | None, int] = {}
    for c in codes:
        counters[c.parent_id] = counters.get(c.parent_id, 0) + 1
        prefix = out.get(c.parent_id, "") if c.parent_id is not None else ""
        out[c.id] = f"{prefix}.{counters[c.parent_id]}" if prefix else str(counters[c.parent_id])
    return out


# ---------------------------------------------------------------------- keyword in context


@dataclass(frozen=True)
class KwicHit:
    answer_id: int
    form_id: int
    respondent: str
    question: str
    start: int  # offsets of the match inside the answer
    end: int
    left: str
    match: str
    right: str


@dataclass
class Kwic:
    query: str
    hits: list[KwicHit]
    total: int  # every occurrence, also those beyond ``limit``
    answers: int  # answers with at least one occurrence


def _pattern(query: str) -> re.Pattern[str]:
    words = query.split()
    body = r"\s+".join(re.escape(w) for w in words)
    return re.compile(rf"(?<!\w){body}(?!\w)", re.IGNORECASE)


def kwic(store: Store, query: str, *, width: int = 60, question_id: int | None = None,
         limit: int | None = 500) -> Kwic:
    """Every occurrence of ``query`` (a word or a phrase, whole words, any case, any run of spaces between the
    words) in the answers, in reading order, with ``width`` characters of context on each side."""
    q = " ".join(query.split())
    if not q:
        return Kwic(q, [], 0, 0)
    pat = _pattern(q)
    first = q.split()[0].casefold()
    params: list[Any] = [first]
    where = "instr(lower(a.text), ?) > 0"
    if question_id is not None:
        where += " AND a.question_id = ?"
        params.append(question_id)
    rows = store.query(
        "SELECT a.id, a.form_id, f.external_id, q.label, q.key, a.text FROM answers a JOIN forms f ON f.id = a.form_id "
        f"JOIN questions q ON q.id = a.question_id WHERE {where} ORDER BY a.form_id, q.position", params)
    hits: list[KwicHit] = []
    total = answers = 0
    for r in rows:
        text = str(r[5])
        found = list(pat.finditer(text))
        if not found:
            continue
        answers += 1
        total += len(found)
        for m in found:
            if limit is not None and len(hits) >= limit:
                break
            left = text[max(0, m.start() - width): m.start()]
            right = text[m.end(): m.end() + width]
            hits.append(KwicHit(int(r[0]), int(r[1]), str(r[2]), str(r[3] or r[4]), m.start(), m.end(),
                                " ".join(left.split()), m.group(0), " ".join(right.split())))
    return Kwic(q, hits, total, answers)


# ---------------------------------------------------------------------- respondents by a field


def meta_counts(store: Store, field_name: str) -> list[tuple[str, int]]:
    """Forms per value of ``field_name``, most common first; forms without a value count as :data:`MISSING`
    (last), so the counts add up to every form."""
    rows = store.query(
        "SELECT coalesce(nullif(trim(m.value), ''), ?) AS v, count(*) FROM forms f "
        "LEFT JOIN form_meta m ON m.form_id = f.id AND m.field = ? GROUP BY v", (MISSING, field_name))
    counts = [(str(r[0]), int(r[1])) for r in rows]
    return sorted(counts, key=lambda vn: (vn[0] == MISSING, -vn[1], vn[0]))


# ---------------------------------------------------------------------- crosstab


@dataclass
class Table:
    """A code-by-something table: ``counts[i][j]`` for row ``rows[i]`` and column ``columns[j]``."""

    title: str
    rows: list[str]
    columns: list[str]
    counts: list[list[int]]
    row_totals: list[int] = field(default_factory=list)
    column_bases: list[int] = field(default_factory=list)
    row_ids: list[int] = field(default_factory=list)
    note: str = ""
    numbers: list[str] = field(default_factory=list)  # each row's place in the tree: "2", "2.1", "2.1.3"
    names: list[str] = field(default_factory=list)  # each row's code name (``rows`` holds the full path)
    related: list[list[bool]] = field(default_factory=list)  # co-occurrence: a code and its ancestor (not compared)

    def labels(self) -> list[str]:
        """Short row labels for a screen: ``"2.1 Name"``."""
        return [f"{n} {name}" for n, name in zip(self.numbers, self.names)]

    def row_pct(self) -> list[list[float | None]]:
        return [[pct(n, self.row_totals[i]) for n in row] for i, row in enumerate(self.counts)]

    def column_pct(self) -> list[list[float | None]]:
        return [[pct(n, self.column_bases[j]) for j, n in enumerate(row)] for row in self.counts]


def _check_unit(unit: str) -> None:
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {UNITS}")


def _coder_filter(coder: str | None) -> tuple[str, list[Any]]:
    """The SQL clause (and its parameters) that keeps only ``coder``'s codings; empty when ``coder`` is None."""
    if coder is None:
        return "", []
    return "AND c.coder_id = (SELECT id FROM coders WHERE name = ?)", [coder]


def _chosen_codes(store: Store, codes: Sequence[int] | None,
                  max_depth: int | None) -> tuple[list[Code], dict[int, str]]:
    """The codes in tree order, kept to ``codes`` and ``max_depth``, with every code's outline number (numbered
    over the whole tree, so a filtered table keeps each code's number)."""
    chosen = _codes(store)
    numbers = outline_numbers(chosen)
    if codes is not None:
        keep = {int(c) for c in codes}
        chosen = [c for c in chosen if c.id in keep]
    if max_depth is not None:
        chosen = [c for c in chosen if c.depth <= max_depth]
    return chosen, numbers


def _crosstab_columns(store: Store, field_name: str, unit: str) -> tuple[list[str], list[int]]:
    """The crosstab's columns (the field's values, most common first) and each column's base."""
    values = meta_counts(store, field_name)
    if unit == "respondents":
        return [v for v, _ in values], [n for _, n in values]
    seg_rows = store.query(
        "SELECT coalesce(nullif(trim(m.value), ''), ?) AS v, count(*) FROM segments s "
        "JOIN answers a ON a.id = s.answer_id LEFT JOIN form_meta m ON m.form_id = a.form_id AND m.field = ? "
        "GROUP BY v", (MISSING, field_name))
    by_value = {str(r[0]): int(r[1]) for r in seg_rows}
    columns = [v for v, _ in values if v in by_value]
    return columns, [by_value[v] for v in columns]


def _crosstab_cells(store: Store, field_name: str, unit: str, coder: str | None) -> dict[int, dict[str, int]]:
    """For each code (subcodes rolled up), the respondents or segments coded with it per value of the field."""
    what = "count(DISTINCT a.form_id)" if unit == "respondents" else "count(DISTINCT c.segment_id)"
    coder_clause, coder_params = _coder_filter(coder)
    params: list[Any] = [MISSING, field_name, *coder_params]
    cells: dict[int, dict[str, int]] = {}
    sql = (_ANCESTORS + f"SELECT anc.ancestor, coalesce(nullif(trim(m.value), ''), ?) AS v, {what} "
           "FROM codings c JOIN anc ON anc.code_id = c.code_id JOIN segments s ON s.id = c.segment_id "
           "JOIN answers a ON a.id = s.answer_id LEFT JOIN form_meta m ON m.form_id = a.form_id AND m.field = ? "
           f"WHERE 1 = 1 {coder_clause} GROUP BY anc.ancestor, v")
    for r in store.query(sql, params):
        cells.setdefault(int(r[0]), {})[str(r[1])] = int(r[2])
    return cells


def _crosstab_counts(chosen: Sequence[Code], cells: dict[int, dict[str, int]],
                     columns: Sequence[str]) -> list[list[int]]:
    """One row of counts per chosen code, laid out in ``columns`` order."""
    col_index = {v: j for j, v in enumerate(columns)}
    counts = []
    for c in chosen:
        row = [0] * len(columns)
        for v, n in cells.get(c.id, {}).items():
            if v in col_index:
                row[col_index[v]] = n
        counts.append(row)
    return counts


def _crosstab_note(field_name: str, unit: str, coder: str | None) -> str:
    unit_word = "respondents (distinct forms)" if unit == "respondents" else "segments"
    return (f"Counts are {unit_word} coded with the code or a code below it"
            + (f" by {coder}" if coder else "") + f". Row %: of the code's total; column %: of the {unit_word} "
            f"with that {field_name}. {MISSING}: forms without a {field_name}.")


def crosstab(store: Store, field_name: str, *, unit: str = "respondents", coder: str | None = None,
             codes: Sequence[int] | None = None, max_depth: int | None = None) -> Table:
    """Codes (rows, in tree order, each with its subcodes rolled up) by the values of a metadata field (columns,
    most common first, :data:`MISSING` last): how many respondents (or segments) were coded with the code among
    those with the value."""
    _check_unit(unit)
    columns, bases = _crosstab_columns(store, field_name, unit)
    cells = _crosstab_cells(store, field_name, unit, coder)
    # a form has one value per field, so the sum over values is the code's total
    totals = {cid: sum(per.values()) for cid, per in cells.items()}
    chosen, numbers = _chosen_codes(store, codes, max_depth)
    return Table(
        title=f"Codes by {field_name}",
        rows=[c.path_str for c in chosen],
        columns=columns,
        counts=_crosstab_counts(chosen, cells, columns),
        row_totals=[totals.get(c.id, 0) for c in chosen],
        column_bases=bases,
        row_ids=[c.id for c in chosen],
        numbers=[numbers[c.id] for c in chosen],
        names=[c.name for c in chosen],
        note=_crosstab_note(field_name, unit, coder),
    )


# ---------------------------------------------------------------------- co-occurrence


def _units_per_code(store: Store, unit: str, coder: str | None) -> dict[int, set[int]]:
    """For each code (subcodes rolled up), the ids of the segments (or forms) coded with it."""
    key = "a.form_id" if unit == "respondents" else "c.segment_id"
    coder_clause, params = _coder_filter(coder)
    units: dict[int, set[int]] = {}
    for r in store.query(
        _ANCESTORS + f"SELECT DISTINCT anc.ancestor, {key} FROM codings c JOIN anc ON anc.code_id = c.code_id "
        f"JOIN segments s ON s.id = c.segment_id JOIN answers a ON a.id = s.answer_id WHERE 1 = 1 {coder_clause}",
        params,
    ):
        units.setdefault(int(r[0]), set()).add(int(r[1]))
    return units


def _ancestor_pairs(store: Store) -> set[tuple[int, int]]:
    """Every (code, ancestor) pair, both ways round."""
    related: set[tuple[int, int]] = set()
    for r in store.query(_ANCESTORS + "SELECT code_id, ancestor FROM anc WHERE code_id != ancestor"):
        related.add((int(r[0]), int(r[1])))
        related.add((int(r[1]), int(r[0])))
    return related


def cooccurrence(store: Store, *, unit: str = "segments", coder: str | None = None,
                 codes: Sequence[int] | None = None, max_depth: int | None = None) -> Table:
    """A symmetric code x code table: the segments (or respondents) coded with both codes, each code with its
    subcodes rolled up; the diagonal is each code's own total. A code and its own ancestor trivially co-occur, and
    their cell is left at 0 (shown blank)."""
    _check_unit(unit)
    chosen, numbers = _chosen_codes(store, codes, max_depth)
    ids = [c.id for c in chosen]
    units = _units_per_code(store, unit, coder)
    related = _ancestor_pairs(store)
    counts = [[0 if (a != b and (a, b) in related) else len(units.get(a, set()) & units.get(b, set()))
               for b in ids] for a in ids]
    self_related = [[a != b and (a, b) in related for b in ids] for a in ids]
    totals = [len(units.get(a, set())) for a in ids]
    return Table(
        title="Code co-occurrence",
        rows=[c.path_str for c in chosen],
        columns=[c.path_str for c in chosen],
        counts=counts,
        row_totals=totals,
        column_bases=totals,
        row_ids=ids,
        numbers=[numbers[c.id] for c in chosen],
        names=[c.name for c in chosen],
        related=self_related,
        note=(f"Cells: {unit} coded with both codes (each code with its subcodes)" + (f", by {coder}" if coder else "")
              + "; the diagonal is the code's own total; a code and its ancestor are not compared."),
    )


# ---------------------------------------------------------------------- coverage


def forms_coded_by_every(store: Store, coders: Sequence[str]) -> set[int]:
    """Ids of the forms in which every one of ``coders`` coded something (the "common" scope of agreement)."""
    sets: list[set[int]] = []
    for name in coders:
        sets.append({int(r[0]) for r in store.query(
            "SELECT DISTINCT a.form_id FROM codings c JOIN coders k ON k.id = c.coder_id "
            "JOIN segments s ON s.id = c.segment_id JOIN answers a ON a.id = s.answer_id WHERE k.name = ?", (name,))})
    return set.intersection(*sets) if sets else set()


def respondents_coded_by_every(store: Store, coders: Sequence[str]) -> set[str]:
    """The respondent ids (``forms.external_id``) of :func:`forms_coded_by_every`."""
    ids = forms_coded_by_every(store, coders)
    return {str(r[1]) for r in store.query("SELECT id, external_id FROM forms") if int(r[0]) in ids}


# ---------------------------------------------------------------------- XLSX


def _sheet_name(title: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", " ", title).strip()[:28] or "Sheet"
    name, i = base, 2
    while name.casefold() in used:
        name = f"{base[:25]} {i}"
        i += 1
    used.add(name.casefold())
    return name


def to_xlsx(*parts: Kwic | Table, title: str = "") -> bytes:
    """One sheet per result: a KWIC listing, or a table with counts then row % and column % blocks."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    bold = Font(bold=True)
    for part in parts:
        if isinstance(part, Kwic):
            ws = wb.create_sheet(_sheet_name(f"KWIC {part.query}", used))
            ws.append([cell(f"Keyword in context: {part.query}"), cell(f"{part.total} occurrences in "
                                                                        f"{part.answers} answers")])
            ws.append([cell(h) for h in ("Respondent", "Question", "Left", "Match", "Right", "Start", "End")])
            for c in ws[2]:
                c.font = bold
            for h in part.hits:
                ws.append([cell(h.respondent), cell(h.question), cell(h.left), cell(h.match), cell(h.right),
                           h.start, h.end])
            for col, w in zip("ABCDEFG", (12, 28, 50, 16, 50, 8, 8)):
                ws.column_dimensions[col].width = w
            continue
        ws = wb.create_sheet(_sheet_name(part.title, used))
        ws.append([cell(title or part.title)])
        ws.append([cell(part.note)])
        blocks: list[tuple[str, list[list[Any]]]] = [("Count", [list(r) for r in part.counts])]
        if part.rows and part.columns:
            blocks += [("Row %", part.row_pct()), ("Column %", part.column_pct())]
        for label, values in blocks:
            ws.append([])
            ws.append([cell(label), *[cell(c) for c in part.columns], cell("Total")])
            for c in ws[ws.max_row]:
                c.font = bold
            for i, name in enumerate(part.rows):
                total: Any = part.row_totals[i] if label == "Count" else None
                ws.append([cell(name), *values[i], total])
            if label == "Count":
                ws.append([cell("Base (all with this value)"), *part.column_bases])
        ws.column_dimensions["A"].width = 40
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
