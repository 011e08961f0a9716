"""Writing forms read by ``read_forms`` into a project: ``add_forms``, one audited, undoable action.

* The file is recorded in ``sources`` by its sha256: importing the same file again adds nothing.
* A form whose id is already in the project with identical answers is skipped (counted); with different answers
  it is a :class:`~thematic.errors.Conflict` naming the id, the new row and the row it came from before.
* Questions are matched by key (the column header, or the question text in long layout); new ones are added.
* With ``redact=True`` names are replaced before anything is compared, segmented or stored: the project never
  holds the original text, and segment offsets refer to the redacted text. Metadata columns are redacted by kind
  (identifying / free text / categorical: :func:`thematic.redact.meta_column_kind`), and so is the file's name
  (in ``sources``, the audit trail and form ids made from it).
* ``drop_columns`` are never stored (neither as metadata nor as questions); the import records only their count.
* Everything (source, questions, forms, metadata, answers, segments) is written in one ``store.action``:
  either all of it or nothing; ``store.undo()`` removes it exactly. :func:`write_forms` is the one writer of
  forms, metadata, answers and segments (other importers call it inside their own action); its rows are logged
  for undo as rowid ranges, not a statement per row.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Conflict, InvalidInput
from ..store import Action, Store, now
from .forms import FormRecord, ReadResult

if TYPE_CHECKING:
    from ..redact import Redactor

Progress = Callable[[int, int, str], None]


@dataclass
class IngestReport:
    source: str
    forms_added: int = 0
    forms_skipped: int = 0  # already in the project with identical answers (or the whole file already imported)
    empty_forms: int = 0  # forms added with no answer at all (their metadata is kept)
    answers: int = 0
    blanks: int = 0  # cells that held no answer (empty, "N/A", "-" ...)
    segments: int = 0
    redactions: int = 0
    meta_kinds: dict[str, str] = field(default_factory=dict)  # with redact: how each metadata column was treated
    dropped: list[str] = field(default_factory=list)  # columns never stored (drop_columns)
    questions_added: int = 0
    source_id: int | None = None
    event_id: int | None = None
    already_imported: bool = False
    warnings: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        """A human summary, one fact a line (what the CLI prints)."""
        if self.already_imported:
            return [f"{self.source}: already imported; nothing added ({self.forms_skipped} forms)"]
        out = [
            f"imported {self.source}",
            f"forms added      {self.forms_added}" + (f" ({self.empty_forms} with no answers)" if self.empty_forms else ""),
            f"forms skipped    {self.forms_skipped} (already in the project)",
            f"answers          {self.answers}",
            f"blank answers    {self.blanks} (not stored)",
            f"segments         {self.segments}",
            f"questions added  {self.questions_added}",
        ]
        if self.redactions:
            out.append(f"names redacted   {self.redactions}")
        if self.meta_kinds:
            out.append("metadata redacted as: " + ", ".join(f"{k} ({v})" for k, v in self.meta_kinds.items()))
        if self.dropped:
            out.append("columns not stored: " + ", ".join(self.dropped))
        out.extend(f"warning: {w}" for w in self.warnings)
        return out


def add_forms(
    store: Store,
    result: ReadResult,
    *,
    unit: str = "sentence",
    redact: bool = False,
    staff_names: Iterable[str] = (),
    actor: str | None = None,
    progress: Progress | None = None,
    drop_columns: Sequence[str] = (),
) -> IngestReport:
    """Write ``result`` into ``store`` (see the module docstring). Returns what was done."""
    from ..segment import UNITS

    if unit not in UNITS:
        raise InvalidInput(f"unknown segment unit {unit!r}: use one of {', '.join(UNITS)}")
    if drop_columns:
        result = _drop(result, drop_columns)
    staff_names = list(staff_names)
    redactor: Redactor | None = None
    n_name = 0
    if redact:
        from ..redact import Redactor

        redactor = Redactor(staff_names)
        result, n_name = _redact_source_name(result, redactor)
    report = IngestReport(source=result.name, warnings=list(result.warnings), blanks=result.blanks)
    report.dropped = [c for c in drop_columns]
    if _imported_before(store, result, report):
        return report

    # 1. redact (before comparing, so that a re-import of redacted forms compares equal)
    forms = result.forms
    answer_texts: list[dict[str, tuple[str, int]]] = [f.answers for f in forms]
    if redactor is not None:
        forms, answer_texts = _redact_forms(forms, redactor, report, progress)
        report.redactions += n_name

    # 2. forms already in the project
    new = _new_forms(store, result, forms, answer_texts, report)
    del answer_texts

    # 3. segments, kept compactly as the end offsets of each answer's spans, in answer order
    ends = _segment(new, unit, progress)

    # 4. write, all in one action
    options = _import_options(result, unit=unit, redact=redact, drop_columns=drop_columns)
    summary = f"Imported {len(new)} forms from {result.name}"
    if progress is not None:
        progress(0, 1, "writing")
    try:
        _write(store, result, new, ends, options, summary, actor, report)
    except sqlite3.IntegrityError as exc:  # another process imported the same file or forms meanwhile
        raise Conflict(f"{result.name}: the project changed while importing ({exc}); nothing was imported") from exc
    if progress is not None:
        progress(1, 1, "writing")
    return report


def _redact_source_name(result: ReadResult, redactor: Redactor) -> tuple[ReadResult, int]:
    """``result`` with the names in its file name redacted (in its warnings too), and how many there were."""
    name, n_name = redactor.redact_file_name(result.name)
    result = replace(result, name=name, warnings=[w.replace(result.name, name) for w in result.warnings])
    return result, n_name


def _imported_before(store: Store, result: ReadResult, report: IngestReport) -> bool:
    """Whether this file (by its sha256) was imported before; if so ``report`` says so and that nothing was added."""
    prior = store.query_one("SELECT name, imported_at FROM sources WHERE sha256 = ?", (result.sha256,))
    if prior is None:
        return False
    report.already_imported = True
    report.forms_skipped = len(result.forms)
    report.blanks = 0
    report.warnings.append(f"this file was imported before (as {prior['name']}, {prior['imported_at'][:10]})")
    return True


def _redact_forms(
    forms: list[FormRecord], redactor: Redactor, report: IngestReport, progress: Progress | None
) -> tuple[list[FormRecord], list[dict[str, tuple[str, int]]]]:
    """The forms with their metadata redacted, and their answers' texts redacted (keyed by question, with each
    answer's row); ``report`` gets the redaction counts."""
    from ..redact import redact_meta

    texts = [t for f in forms for t, _row in f.answers.values()]
    redacted = redactor.redact_many(texts, progress)
    del texts
    report.redactions = sum(n for _t, n in redacted)
    it = iter(redacted)
    answer_texts = [{q: (next(it)[0], row) for q, (_t, row) in f.answers.items()} for f in forms]
    del redacted
    metas, n_meta, kinds = redact_meta([f.meta for f in forms], redactor)
    forms = [FormRecord(f.external_id, f.row, f.answers, m) for f, m in zip(forms, metas)]
    report.redactions += n_meta
    report.meta_kinds = kinds
    return forms, answer_texts


_NewForms = list[tuple[FormRecord, dict[str, tuple[str, int]]]]


def _new_forms(
    store: Store, result: ReadResult, forms: list[FormRecord], answer_texts: list[dict[str, tuple[str, int]]],
    report: IngestReport,
) -> _NewForms:
    """The forms to add, each with its answers: forms numbered by their row are renamed when the number is taken;
    forms with an id column are skipped when already in the project with the same answers."""
    existing = _existing_forms(store, [f.external_id for f in forms])
    if result.mapping.id_column is None:
        return _renumbered_forms(store, result, forms, answer_texts, report, any_existing=bool(existing))
    new: _NewForms = []
    for f, answers in zip(forms, answer_texts):
        old = existing.get(f.external_id)
        if old is None:
            new.append((f, answers))
            continue
        old_answers, where = old
        if old_answers == {q: t for q, (t, _r) in answers.items()}:
            report.forms_skipped += 1
            continue
        raise Conflict(
            f"form id {f.external_id!r} in row {f.row} of {result.name} has different answers from the form "
            f"already in the project ({where})"
        )
    return new


def _renumbered_forms(
    store: Store, result: ReadResult, forms: list[FormRecord], answer_texts: list[dict[str, tuple[str, int]]],
    report: IngestReport, *, any_existing: bool,
) -> _NewForms:
    """Forms numbered by their row: a new file's row-2 is another respondent than an earlier file's row-2, so a
    taken number becomes ``stem:row-N`` (or ``stem-sha:row-N``), with a warning in ``report``."""
    taken = {r[0] for r in store.query("SELECT external_id FROM forms")} if any_existing else set()
    stem = Path(result.name).stem
    renamed = 0
    new: _NewForms = []
    for f, answers in zip(forms, answer_texts):
        if f.external_id in taken:
            name = f"{stem}:{f.external_id}"
            if name in taken:
                name = f"{stem}-{result.sha256[:8]}:{f.external_id}"
            f = FormRecord(name, f.row, f.answers, f.meta)
            renamed += 1
        new.append((f, answers))
    if renamed:
        report.warnings.append(
            f"{renamed} row numbers were already used by forms of another file; these forms are called "
            f"'{stem}:row-N'"
        )
    return new


def _import_options(result: ReadResult, *, unit: str, redact: bool, drop_columns: Sequence[str]) -> dict[str, Any]:
    """The import's settings, recorded with its source and audit event."""
    return {
        "sheet": result.mapping.sheet,
        "header_row": result.mapping.header_row,
        "layout": result.mapping.layout,
        "id_column": result.mapping.id_column,
        "question_columns": list(result.mapping.question_columns),
        "meta_columns": list(result.mapping.meta_columns),
        "dropped_columns": len(drop_columns),
        "answer_column": result.mapping.answer_column,
        "encoding": result.encoding,
        "delimiter": result.delimiter,
        "unit": unit,
        "redact": redact,
    }


SEGMENT_CHUNK = 5000


def _segment(
    new: list[tuple[FormRecord, dict[str, tuple[str, int]]]], unit: str, progress: Progress | None
) -> list[tuple[int, ...]]:
    """Split every answer (in chunks, to keep memory flat) and check that the spans tile it exactly."""
    from ..segment import check_tiling, split_many

    texts = [t for _f, answers in new for t, _row in answers.values()]
    total = len(texts)
    ends: list[tuple[int, ...]] = []

    def chunk_progress(offset: int) -> Progress | None:
        if progress is None:
            return None
        return lambda done, _total, message: progress(min(offset + done, total), total, message)

    for offset in range(0, total, SEGMENT_CHUNK):
        chunk = texts[offset : offset + SEGMENT_CHUNK]
        for text, spans in zip(chunk, split_many(chunk, unit, chunk_progress(offset))):
            check_tiling(text, spans)
            ends.append(tuple(sp.end for sp in spans))
    return ends


def _write(
    store: Store,
    result: ReadResult,
    new: list[tuple[FormRecord, dict[str, tuple[str, int]]]],
    ends: list[tuple[int, ...]],
    options: Mapping[str, object],
    summary: str,
    actor: str | None,
    report: IngestReport,
) -> None:
    unit, redact = options["unit"], options["redact"]
    with store.action("ingest", summary, actor=actor, details={"source": result.name, "sha256": result.sha256}) as act:
        source_id = act.insert(
            "INSERT INTO sources (name, sha256, imported_at, options) VALUES (?, ?, ?, ?)",
            (result.name, result.sha256, now(), json.dumps(options)),
        )
        written = write_forms(
            act, [FormRecord(f.external_id, f.row, answers, f.meta) for f, answers in new], ends,
            source_id=source_id, questions=result.questions,
        )
        report.questions_added = written.questions_added
        report.forms_added = written.forms
        report.empty_forms = sum(1 for _f, answers in new if not answers)
        report.answers = written.answers
        report.segments = written.segments
        report.source_id = source_id
        report.event_id = act.event_id
        act.details.update(
            {
                "forms": report.forms_added,
                "skipped": report.forms_skipped,
                "answers": report.answers,
                "segments": report.segments,
                "unit": unit,
                "redact": redact,
                "redactions": report.redactions,
            }
        )


@dataclass
class Written:
    """What :func:`write_forms` added: counts, and the new ids in the order of the forms and their answers."""

    forms: int
    answers: int
    segments: int
    questions_added: int
    form_ids: list[int]
    answer_ids: list[int]
    question_ids: dict[str, int]


def write_forms(
    act: Action,
    forms: Sequence[FormRecord],
    ends: Sequence[Sequence[int]],
    *,
    source_id: int | None = None,
    questions: Sequence[str] = (),
    labels: Mapping[str, str] | None = None,
) -> Written:
    """Write ``forms`` (their metadata, answers and segments) inside ``act``: the one writer of these tables.

    ``forms[i].answers`` maps a question key to ``(text, source row)``; questions not yet in the project are added
    (``questions`` first, in that order, then any other key met). ``ends`` holds, for every answer in order (form
    by form, each form's answers in dict order), the end offsets of its segments, which must tile the text
    (``ends[k][-1] == len(text)``; see :func:`thematic.segment.check_tiling`). The form ids must not be in the
    project yet. Rows are logged for undo as one rowid range per table (:meth:`Action.bulk_insert`)."""
    qids = {r["key"]: r["id"] for r in act.execute("SELECT id, key FROM questions").fetchall()}
    position = int(act.execute("SELECT coalesce(max(position), -1) + 1 FROM questions").fetchone()[0])
    added = 0
    for key in [*questions, *(q for f in forms for q in f.answers)]:
        if key not in qids:
            label = (labels or {}).get(key) or key  # a new question's wording; its key otherwise
            qids[key] = act.insert("INSERT INTO questions (key, label, position) VALUES (?, ?, ?)", (key, label, position))
            position += 1
            added += 1
    first_form = _next_id(act, "forms")
    first_answer = _next_id(act, "answers")
    n_answers = sum(len(f.answers) for f in forms)
    if len(ends) != n_answers:
        raise ValueError(f"write_forms: {len(ends)} segmentations for {n_answers} answers")
    act.bulk_insert(
        "forms", "INSERT INTO forms (id, external_id, source_id, source_row) VALUES (?, ?, ?, ?)",
        ((first_form + i, f.external_id, source_id, f.row) for i, f in enumerate(forms)),
    )
    act.bulk_insert(
        "form_meta", "INSERT INTO form_meta (form_id, field, value) VALUES (?, ?, ?)",
        ((first_form + i, k, v) for i, f in enumerate(forms) for k, v in f.meta.items()),
    )

    def answer_rows() -> Iterator[tuple[int, int, int, str, int]]:
        aid = first_answer
        for i, f in enumerate(forms):
            for q, (text, row) in f.answers.items():
                yield (aid, first_form + i, qids[q], text, row)
                aid += 1

    act.bulk_insert(
        "answers", "INSERT INTO answers (id, form_id, question_id, text, source_row) VALUES (?, ?, ?, ?, ?)",
        answer_rows(),
    )

    def segment_rows() -> Iterator[tuple[int, int, int, int, str]]:
        for (aid, _fid, _qid, text, _row), stops in zip(answer_rows(), ends):
            start = 0
            for pos, end in enumerate(stops):
                yield (aid, pos, start, end, text[start:end])
                start = end

    n_segments = act.bulk_insert(
        "segments", 'INSERT INTO segments (answer_id, position, start, "end", text) VALUES (?, ?, ?, ?, ?)',
        segment_rows(),
    )
    return Written(
        forms=len(forms), answers=n_answers, segments=n_segments, questions_added=added,
        form_ids=list(range(first_form, first_form + len(forms))),
        answer_ids=list(range(first_answer, first_answer + n_answers)), question_ids=dict(qids),
    )


def _drop(result: ReadResult, columns: Sequence[str]) -> ReadResult:
    """``result`` without the given columns (metadata columns, or question columns of a wide file)."""
    _check_droppable(result, columns)
    m = result.mapping
    drop = set(columns)
    forms = [
        FormRecord(f.external_id, f.row, {q: a for q, a in f.answers.items() if q not in drop},
                   {k: v for k, v in f.meta.items() if k not in drop})
        for f in result.forms
    ]
    mapping = replace(m, meta_columns=tuple(c for c in m.meta_columns if c not in drop),
                      question_columns=tuple(c for c in m.question_columns if c not in drop))
    warnings = [w for w in result.warnings if not (w.startswith("column '") and w.split("'")[1] in drop)]
    return replace(result, forms=forms, mapping=mapping, questions=[q for q in result.questions if q not in drop],
                   warnings=warnings)


def _check_droppable(result: ReadResult, columns: Sequence[str]) -> None:
    """Raise :class:`InvalidInput` for the first column that is the form id or answer column, or is not in the file."""
    m = result.mapping
    known = set(m.meta_columns) | set(result.questions)
    not_imported = {w.split("'")[1] for w in result.warnings if w.startswith("column '") and "not imported" in w}
    for c in columns:
        if c in (m.id_column, m.answer_column) or (m.layout == "long" and c in m.question_columns):
            raise InvalidInput(f"--drop-column {c!r}: the form id and answer columns cannot be dropped")
        if c not in known and c not in not_imported:
            raise InvalidInput(f"--drop-column {c!r}: no such column (columns: {', '.join(sorted(known))})",
                               path=result.name)


def _next_id(act: Action, table: str) -> int:
    return int(act.execute(f"SELECT coalesce(max(id), 0) + 1 FROM {table}").fetchone()[0])


def _existing_forms(store: Store, ids: Sequence[str]) -> dict[str, tuple[dict[str, str], str]]:
    """Forms of the project among ``ids``: their answers by question key, and where they came from."""
    out: dict[str, tuple[dict[str, str], str]] = {}
    if not store.scalar("SELECT count(*) FROM forms"):
        return out
    wanted = set(ids)
    with store.read() as conn:
        rows = conn.execute(
            "SELECT f.id, f.external_id, f.source_row, s.name AS source FROM forms f "
            "LEFT JOIN sources s ON s.id = f.source_id"
        ).fetchall()
        by_id: dict[int, str] = {}
        for r in rows:
            if r["external_id"] in wanted:
                where = f"row {r['source_row']} of {r['source']}" if r["source"] else "added earlier"
                out[r["external_id"]] = ({}, where)
                by_id[r["id"]] = r["external_id"]
        if by_id:
            for r in conn.execute(
                "SELECT a.form_id, q.key, a.text FROM answers a JOIN questions q ON q.id = a.question_id"
            ):
                ext = by_id.get(r["form_id"])
                if ext is not None:
                    out[ext][0][r["key"]] = r["text"]
    return out
