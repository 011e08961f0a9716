"""Reading the corpus: questions, forms with their metadata, answers and segments.

Writing it is :mod:`thematic.ingest`'s job. Every function takes the store explicitly and returns plain records
(:mod:`thematic.models`). Listing functions paginate (``offset``/``limit``) so that a page never loads 10,000
segments to show 25.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .errors import NotFound
from .models import Form, Question, Segment
from .store import Store

_SEGMENT_SELECT = """
    SELECT s.id, s.answer_id, a.form_id, f.external_id, a.question_id, q.key AS question, s.position,
           s.start, s."end", s.text
    FROM segments s
    JOIN answers a ON a.id = s.answer_id
    JOIN forms f ON f.id = a.form_id
    JOIN questions q ON q.id = a.question_id
"""


def questions(store: Store) -> list[Question]:
    rows = store.query("SELECT id, key, label, position FROM questions ORDER BY position, id")
    return [Question(r["id"], r["key"], r["label"], r["position"]) for r in rows]


def question_by_ref(store: Store, ref: str | int) -> Question:
    """A question by id, key, label or 1-based position (as a user would type it)."""
    qs = questions(store)
    text = str(ref).strip()
    for q in qs:
        if text in (q.key, q.label):
            return q
    if text.isdigit():
        n = int(text)
        if 1 <= n <= len(qs):
            return qs[n - 1]
    folded = text.casefold()
    matches = [q for q in qs if folded in q.key.casefold() or folded in q.label.casefold()]
    if len(matches) == 1:
        return matches[0]
    known = "; ".join(f"{i}. {q.key}" for i, q in enumerate(qs, 1)) or "none"
    raise NotFound(f"no question {ref!r} in this project (questions: {known})")


def forms(store: Store, *, offset: int = 0, limit: int | None = None) -> list[Form]:
    rows = store.query(
        "SELECT id, external_id FROM forms ORDER BY id LIMIT ? OFFSET ?", (-1 if limit is None else limit, offset)
    )
    meta = form_meta(store, [r["id"] for r in rows])
    return [Form(r["id"], r["external_id"], meta.get(r["id"], {})) for r in rows]


def form_meta(store: Store, form_ids: Iterable[int] | None = None) -> dict[int, dict[str, str]]:
    """Metadata per form id (all forms when ``form_ids`` is None)."""
    out: dict[int, dict[str, str]] = {}
    if form_ids is None:
        rows = store.query("SELECT form_id, field, value FROM form_meta")
    else:
        ids = list(form_ids)
        rows = []
        for chunk in _chunks(ids, 900):
            marks = ",".join("?" * len(chunk))
            rows += store.query(f"SELECT form_id, field, value FROM form_meta WHERE form_id IN ({marks})", chunk)
    for r in rows:
        out.setdefault(r["form_id"], {})[r["field"]] = r["value"]
    return out


def meta_fields(store: Store) -> list[str]:
    return [r[0] for r in store.query("SELECT DISTINCT field FROM form_meta ORDER BY field")]


def meta_values(store: Store, field: str) -> list[tuple[str, int]]:
    """Each value of a metadata field with its number of forms, most common first."""
    rows = store.query(
        "SELECT value, count(*) AS n FROM form_meta WHERE field = ? GROUP BY value ORDER BY n DESC, value", (field,)
    )
    return [(r["value"], r["n"]) for r in rows]


def meta_choices(store: Store, field: str) -> list[tuple[str, int]]:
    """The values a filter on ``field`` can pick, with their numbers of forms, most common first; forms with no
    value (no cell, or an empty one) come last as ``""`` (shown as "(missing)"), so every form can be reached."""
    values = [(v, n) for v, n in meta_values(store, field) if v != ""]
    missing = int(store.scalar("SELECT count(*) FROM forms")) - sum(n for _, n in values)
    return values + ([("", missing)] if missing > 0 else [])


def _segment_filter(
    *,
    question_id: int | None = None,
    search: str | None = None,
    meta: Mapping[str, Sequence[str] | str] | None = None,
    coded: bool | None = None,
    coder: str | None = None,
    form_id: int | None = None,
    code_id: int | None = None,
    person_spans: bool = True,
) -> tuple[str, list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if not person_spans:  # the machine's units only (the coding queue), not spans a person highlighted
        where.append("s.by_person = 0")
    if question_id is not None:
        where.append("a.question_id = ?")
        params.append(question_id)
    if form_id is not None:
        where.append("a.form_id = ?")
        params.append(form_id)
    if search:
        # Words and "quoted phrases"; every term must occur (case-insensitive).
        for term in _search_terms(search):
            where.append("s.text LIKE ? ESCAPE '\\'")
            params.append("%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    for field, values in (meta or {}).items():
        vals = [values] if isinstance(values, str) else list(values)
        if not vals:
            continue
        # "" stands for "no value" (no cell, or an empty one): see meta_choices
        present = [v for v in vals if v != ""]
        alternatives = []
        if present:
            marks = ",".join("?" * len(present))
            alternatives.append(
                f"EXISTS (SELECT 1 FROM form_meta m WHERE m.form_id = a.form_id AND m.field = ? AND m.value IN ({marks}))")
            params += [field, *present]
        if len(present) < len(vals):
            alternatives.append(
                "NOT EXISTS (SELECT 1 FROM form_meta m WHERE m.form_id = a.form_id AND m.field = ? AND m.value != '')")
            params.append(field)
        where.append("(" + " OR ".join(alternatives) + ")")
    if coded is not None:
        sub = "SELECT 1 FROM codings c WHERE c.segment_id = s.id"
        if coder is not None:
            sub += " AND c.coder_id = (SELECT id FROM coders WHERE name = ?)"
            params.append(coder)
        where.append(("EXISTS" if coded else "NOT EXISTS") + f" ({sub})")
    if code_id is not None:
        # Coded with this code or any code under it (a theme holds its subthemes' extracts), by anyone.
        where.append(
            "EXISTS (SELECT 1 FROM codings c WHERE c.segment_id = s.id AND c.code_id IN ("
            "WITH RECURSIVE d(id) AS (SELECT ? UNION ALL SELECT k.id FROM codes k JOIN d ON k.parent_id = d.id) "
            "SELECT id FROM d))"
        )
        params.append(code_id)
    return (" WHERE " + " AND ".join(where)) if where else "", params


def _search_terms(search: str) -> list[str]:
    terms: list[str] = []
    parts = search.split('"')
    for i, part in enumerate(parts):
        if i % 2 == 1:
            if part.strip():
                terms.append(part.strip())
        else:
            terms += part.split()
    return terms


def segments(
    store: Store,
    *,
    question_id: int | None = None,
    search: str | None = None,
    meta: Mapping[str, Sequence[str] | str] | None = None,
    coded: bool | None = None,
    coder: str | None = None,
    form_id: int | None = None,
    code_id: int | None = None,
    person_spans: bool = True,
    offset: int = 0,
    limit: int | None = None,
) -> list[Segment]:
    """Segments in reading order (form, question, position), filtered and paginated.

    ``code_id`` keeps the segments coded with that code or any code below it (by any coder); ``person_spans=False``
    leaves out spans a person highlighted (:mod:`thematic.spans`), keeping the machine's segments."""
    where, params = _segment_filter(
        question_id=question_id, search=search, meta=meta, coded=coded, coder=coder, form_id=form_id, code_id=code_id,
        person_spans=person_spans,
    )
    sql = _SEGMENT_SELECT + where + " ORDER BY a.form_id, q.position, s.position LIMIT ? OFFSET ?"
    rows = store.query(sql, [*params, -1 if limit is None else limit, offset])
    return [_segment(r) for r in rows]


def count_segments(
    store: Store,
    *,
    question_id: int | None = None,
    search: str | None = None,
    meta: Mapping[str, Sequence[str] | str] | None = None,
    coded: bool | None = None,
    coder: str | None = None,
    form_id: int | None = None,
    code_id: int | None = None,
    person_spans: bool = True,
) -> int:
    where, params = _segment_filter(
        question_id=question_id, search=search, meta=meta, coded=coded, coder=coder, form_id=form_id, code_id=code_id,
        person_spans=person_spans,
    )
    sql = "SELECT count(*) FROM segments s JOIN answers a ON a.id = s.answer_id" + where
    return int(store.scalar(sql, params))


def get_segments(store: Store, ids: Iterable[int]) -> list[Segment]:
    """Segments by id, in the order asked; an unknown id is :class:`NotFound`."""
    wanted = list(ids)
    found: dict[int, Segment] = {}
    for chunk in _chunks(wanted, 900):
        marks = ",".join("?" * len(chunk))
        for r in store.query(_SEGMENT_SELECT + f" WHERE s.id IN ({marks})", chunk):
            found[r["id"]] = _segment(r)
    missing = [i for i in wanted if i not in found]
    if missing:
        raise NotFound(f"no segment {missing[0]} in this project")
    return [found[i] for i in wanted]


def get_segment(store: Store, segment_id: int) -> Segment:
    return get_segments(store, [segment_id])[0]


def _answer_filter(
    *,
    question_id: int | None = None,
    form_id: int | None = None,
    search: str | None = None,
    meta: Mapping[str, Sequence[str] | str] | None = None,
) -> tuple[str, list[Any]]:
    where, params = _segment_filter(question_id=question_id, form_id=form_id, meta=meta)
    clauses = [where[len(" WHERE "):]] if where else []
    for term in _search_terms(search or ""):
        clauses.append("a.text LIKE ? ESCAPE '\\'")
        params.append("%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
    return ((" WHERE " + " AND ".join(clauses)) if clauses else ""), params


def answers(
    store: Store,
    *,
    question_id: int | None = None,
    form_id: int | None = None,
    search: str | None = None,
    meta: Mapping[str, Sequence[str] | str] | None = None,
    offset: int = 0,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Whole answers with their form id and question, for reading (phase 1); ``search`` (words and "quoted
    phrases", all must occur) and ``meta`` filter as in :func:`segments`."""
    where, params = _answer_filter(question_id=question_id, form_id=form_id, search=search, meta=meta)
    sql = (
        "SELECT a.id, a.form_id, f.external_id, a.question_id, q.key AS question, a.text FROM answers a "
        "JOIN forms f ON f.id = a.form_id JOIN questions q ON q.id = a.question_id"
        + where
        + " ORDER BY a.form_id, q.position LIMIT ? OFFSET ?"
    )
    return [dict(r) for r in store.query(sql, [*params, -1 if limit is None else limit, offset])]


def count_answers(
    store: Store,
    *,
    question_id: int | None = None,
    form_id: int | None = None,
    search: str | None = None,
    meta: Mapping[str, Sequence[str] | str] | None = None,
) -> int:
    where, params = _answer_filter(question_id=question_id, form_id=form_id, search=search, meta=meta)
    return int(store.scalar("SELECT count(*) FROM answers a" + where, params))


def _segment(r: Any) -> Segment:
    return Segment(
        id=r["id"],
        answer_id=r["answer_id"],
        form_id=r["form_id"],
        external_id=r["external_id"],
        question_id=r["question_id"],
        question=r["question"],
        position=r["position"],
        start=r["start"],
        end=r["end"],
        text=r["text"],
    )


def _chunks(items: Sequence[int], size: int) -> Iterable[list[int]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])
