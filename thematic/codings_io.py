"""Codings as spreadsheets: one coder's codings in and out of Excel/CSV (many assistants code in Excel).

Columns (header names are matched case-insensitively; spaces, ``_`` and ``-`` are interchangeable):

* form id: ``form id``, ``form``, ``respondent``, ``response id``, ``external id``, ``id``
* question: ``question``, ``question key``, ``question label``, ``q`` (a question's key, label or 1-based number;
  may be left out when the project has a single question)
* segment: ``segment id`` (a number), ``segment text``/``text``/``quote``/``extract``, or ``segment`` (a number that
  is a segment id of that form and question, otherwise its text)
* code: ``code path``, ``code``, ``path``, ``theme`` (``Theme/Subtheme/Code``)

A segment given by text matches the segment(s) of that form and question whose text is that text (spaces
normalised; if no exact match, case-insensitively). If the text is the whole answer (the coder coded the whole
answer), every segment of the answer gets the code; if it is a run of consecutive segments (two sentences
highlighted together), those segments get it. Any other text found exactly once in the answer is coded as a
highlighted span at that place (as if the coder had highlighted it in the app: :mod:`thematic.spans`); text found
twice is refused (say which with its segment id). Only the machine's segments are matched by text; a ``segment
id`` may also name a highlighted span (an export of this project). Rows with no code are skipped (a sheet may list every
segment, coded or not). A row that matches no segment, or names no known form/question, stops the import with one
error listing the rows (first few and a count): nothing is imported. Codes not in the codebook are created under
``Imported/`` (``--unknown-codes create``, default) or refused. The whole file is one undoable step.

``export_codings_csv`` writes the same columns (plus ``segment_text``, ``coder`` and ``origin``), so that an export
imported as another coder reproduces the codings exactly.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from .codebook import ensure_path, list_codes, split_path
from .coding import coder_id, find_coder, write_codings
from .errors import InvalidInput
from .export.safety import csv_writer, uncell
from .spans import span_segment
from .store import Store, now

IMPORTED_BRANCH = "Imported"
EXPORT_COLUMNS = ("form_id", "question", "segment_id", "segment_text", "code_path", "coder", "origin")

_HEADERS: dict[str, tuple[str, ...]] = {
    "form": ("form id", "form", "formid", "form external id", "respondent", "respondent id", "response id",
             "response", "external id", "id", "form no", "form number"),
    "question": ("question", "question key", "question id", "question label", "q", "question text"),
    "segment_id": ("segment id", "segmentid", "seg id"),
    "segment_text": ("segment text", "text", "quote", "extract", "excerpt", "coded text", "passage", "segment_text"),
    "segment": ("segment",),
    "code": ("code path", "code", "path", "codepath", "theme", "code name"),
}


@dataclass
class ImportResult:
    coder: str
    rows: int = 0
    skipped_blank: int = 0
    added: int = 0
    already_present: int = 0
    whole_answers: int = 0
    spans: int = 0
    codes_created: list[str] = field(default_factory=list)

    def summary(self) -> str:
        parts = [
            f"imported {self.added} codings for {self.coder} from {self.rows} rows",
        ]
        if self.already_present:
            parts.append(f"{self.already_present} were already there")
        if self.whole_answers:
            parts.append(f"{self.whole_answers} rows coded a whole answer (all its segments)")
        if self.spans:
            parts.append(f"{self.spans} rows coded part of a sentence (as highlighted spans)")
        if self.skipped_blank:
            parts.append(f"{self.skipped_blank} rows without a code skipped")
        if self.codes_created:
            shown = ", ".join(self.codes_created[:5]) + (" ..." if len(self.codes_created) > 5 else "")
            parts.append(f"{len(self.codes_created)} new codes: {shown}")
        return "; ".join(parts)


def _norm_header(h: Any) -> str:
    return re.sub(r"[\s_\-]+", " ", str(h or "")).strip().casefold()


def _norm_text(t: str) -> str:
    return " ".join(t.split())


def _map_header(values: list[Any]) -> dict[str, int] | None:
    names = [_norm_header(v) for v in values]
    found: dict[str, int] = {}
    for role, variants in _HEADERS.items():
        for v in variants:
            if v in names and names.index(v) not in found.values():
                found[role] = names.index(v)
                break
    has_segment = any(k in found for k in ("segment_id", "segment_text", "segment"))
    if "form" in found and "code" in found and has_segment:
        return found
    return None


def read_rows(file: str | Path | IO[bytes]) -> tuple[dict[str, int], list[tuple[int, dict[str, str]]], str]:
    """The file's data rows as ``(row number, {role: text})`` with the header mapping; header within the first 10 rows."""
    from .ingest.read import cell_text, open_source

    src = open_source(file)
    header: dict[str, int] | None = None
    out: list[tuple[int, dict[str, str]]] = []
    for n, values in src.rows():
        if header is None:
            header = _map_header(values)
            if header is None and n >= 10:
                break
            continue
        cells = {role: _unquote((cell_text(values[i]) if i < len(values) else None) or "") for role, i in header.items()}
        if any(v.strip() for v in cells.values()):
            out.append((n, {k: v.strip() for k, v in cells.items()}))
    if header is None:
        raise InvalidInput(
            "no header row with columns for form id, question, segment (id or text) and code path "
            "(e.g. 'form id, question, segment, code path')",
            path=src.name,
        )
    return header, out, src.name


def import_codings(
    store: Store,
    file: str | Path | IO[bytes],
    *,
    coder: str,
    unknown_codes: str = "create",
    actor: str | None = None,
) -> ImportResult:
    """Import one coder's codings from an .xlsx/.csv file; all rows or none. See the module docs for the columns."""
    if unknown_codes not in ("create", "refuse"):
        raise InvalidInput(f"unknown_codes must be 'create' or 'refuse', not {unknown_codes!r}")
    clean_coder = " ".join(str(coder).split())
    if not clean_coder:
        raise InvalidInput("say whose codings these are (--coder NAME)")
    header, rows, name = read_rows(file)
    result = ImportResult(clean_coder)
    look = _Lookups.of(store, name)
    problems: list[str] = []
    unknown: dict[tuple[str, ...], list[str]] = {}
    wanted: list[tuple[int | tuple[int, int, int], tuple[str, ...]]] = []  # (segment id or span, code path parts)
    for n, cells in rows:
        if not cells.get("code", ""):
            result.skipped_blank += 1
            continue
        result.rows += 1
        found = _match_row(n, cells, look, "question" in header, name)
        if isinstance(found, str):
            problems.append(found)
            continue
        matched, whole, parts = found
        result.whole_answers += int(whole)
        key = tuple(p.casefold() for p in parts)
        if key not in look.code_paths:
            unknown.setdefault(key, list(parts))
        wanted += [(sid, parts) for sid in matched]
    _refuse(problems, unknown, unknown_codes, name)
    with store.action(
        "codings.import",
        f"Import codings of '{clean_coder}' from {Path(str(name)).name}",
        actor=actor or clean_coder,
        details={"file": Path(str(name)).name, "coder": clean_coder, "rows": result.rows},
    ) as act:
        who = coder_id(act, clean_coder)
        ids = dict(look.code_paths)
        for key, names in unknown.items():
            code_path = [IMPORTED_BRANCH, *names]
            ids[key] = ensure_path(store, code_path, actor=actor or clean_coder)
            result.codes_created.append("/".join(code_path))
        t = now()
        spans = {w: span_segment(act, *w) for w, _ in wanted if isinstance(w, tuple)}
        result.spans = len(spans)
        todo = dict.fromkeys((spans[w] if isinstance(w, tuple) else w, ids[tuple(p.casefold() for p in parts)])
                             for w, parts in wanted)
        for sid, cid in todo:
            if write_codings(act, [(sid, cid, who, "import", t)]):
                result.added += 1
            else:
                result.already_present += 1
        act.details.update({"added": result.added, "codes_created": len(result.codes_created)})
    return result


@dataclass
class _Lookups:
    """What rows of a codings file are matched against: the project's forms, questions, answers, segments, codes."""

    forms: dict[str, int]
    qrows: list[Any]
    qmap: dict[str, int]
    answers: dict[tuple[int, int], tuple[int, str]]
    segs_of: dict[int, list[tuple[int, str]]]
    ids_of: dict[int, set[int]]
    code_paths: dict[tuple[str, ...], int]

    @classmethod
    def of(cls, store: Store, name: str) -> _Lookups:
        qrows = store.query("SELECT id, key, label, position FROM questions")
        if not qrows:
            raise InvalidInput("this project has no forms yet: import the forms before their codings", path=name)
        qmap: dict[str, int] = {}
        for r in qrows:
            qmap.setdefault(_norm_text(r["label"]).casefold(), r["id"])
        for r in qrows:
            qmap[_norm_text(r["key"]).casefold()] = r["id"]
        segs_of: dict[int, list[tuple[int, str]]] = {}
        ids_of: dict[int, set[int]] = {}
        for r in store.query("SELECT id, answer_id, text, by_person FROM segments ORDER BY answer_id, position"):
            ids_of.setdefault(r[1], set()).add(r[0])
            if not r[3]:  # text is matched against the machine's segments only, never a person's span
                segs_of.setdefault(r[1], []).append((r[0], r[2]))
        return cls(
            forms={r[1]: r[0] for r in store.query("SELECT id, external_id FROM forms")},
            qrows=qrows,
            qmap=qmap,
            answers={
                (r[1], r[2]): (r[0], r[3]) for r in store.query("SELECT id, form_id, question_id, text FROM answers")
            },
            segs_of=segs_of,
            ids_of=ids_of,
            code_paths={tuple(p.casefold() for p in c.path): c.id for c in list_codes(store)},
        )


def _match_row(
    n: int, cells: dict[str, str], look: _Lookups, has_question: bool, name: str
) -> tuple[list[int | tuple[int, int, int]], bool, tuple[str, ...]] | str:
    """The segments a row codes (ids, or a span to highlight as (answer id, start, end)), whether it coded a whole
    answer, and its code path; or what is wrong with it."""
    try:
        parts = tuple(split_path(cells.get("code", "")))
    except InvalidInput as exc:
        return f"row {n}: {exc}"
    fid = look.forms.get(cells.get("form", ""))
    if fid is None:
        return f"row {n}: no form {cells.get('form', '')!r}"
    qid = _question(cells.get("question") or None, look.qmap, look.qrows)
    if qid is None:
        if not has_question:
            raise InvalidInput("this project has several questions: add a 'question' column (key or label)", path=name)
        return f"row {n}: no question {cells.get('question', '')!r}"
    ans = look.answers.get((fid, qid))
    if ans is None:
        return f"row {n}: form {cells['form']!r} has no answer to {cells['question']!r}"
    matched, whole = _match_segment(cells, look.segs_of.get(ans[0], []), ans[1], look.ids_of.get(ans[0], set()))
    seg = cells.get("segment_id") or cells.get("segment") or cells.get("segment_text") or ""
    if not matched and not cells.get("segment_id", "").strip():
        places = _places(cells.get("segment_text") or cells.get("segment") or "", ans[1])
        if len(places) == 1:
            return [(ans[0], *places[0])], False, parts
        if len(places) > 1:
            return (f"row {n}: {_short(seg)!r} occurs {len(places)} times in form {cells['form']!r}, "
                    f"{cells['question']!r} (give its segment id)")
    if not matched:
        return f"row {n}: no segment {_short(seg)!r} in form {cells['form']!r}, {cells['question']!r}"
    return list[int | tuple[int, int, int]](matched), whole, parts


def _refuse(problems: list[str], unknown: dict[tuple[str, ...], list[str]], unknown_codes: str, name: str) -> None:
    """Refuse the whole file for rows that match nothing, or for new codes when they are not to be created."""
    if problems:
        shown = "; ".join(problems[:5])
        more = f"; and {len(problems) - 5} more" if len(problems) > 5 else ""
        raise InvalidInput(
            f"{len(problems)} rows match no segment ({shown}{more}); nothing was imported", path=name
        )
    if unknown and unknown_codes == "refuse":
        paths = ["/".join(p) for p in unknown.values()]
        shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
        raise InvalidInput(
            f"{len(paths)} codes are not in the codebook: {shown} (use --unknown-codes create to add them under "
            f"'{IMPORTED_BRANCH}/'); nothing was imported",
            path=name,
        )


def _question(ref: str | None, qmap: dict[str, int], qrows: list[Any]) -> int | None:
    """A question by key or label (case and spacing ignored), 1-based number, or the only question if none given."""
    if ref is None:
        return int(qrows[0]["id"]) if len(qrows) == 1 else None
    text = _norm_text(ref).casefold()
    if text in qmap:
        return qmap[text]
    if text.isdigit() and 1 <= int(text) <= len(qrows):
        ordered = sorted(qrows, key=lambda r: (r["position"], r["id"]))
        return int(ordered[int(text) - 1]["id"])
    return None


def _unquote(text: str) -> str:
    """Undo the formula guard of exports (``'=x`` -> ``=x``), so an exported file imports as it was."""
    return uncell(text)


def _short(text: str, n: int = 40) -> str:
    text = _norm_text(text)
    return text if len(text) <= n else text[: n - 3] + "..."


def _places(written: str, answer_text: str) -> list[tuple[int, int]]:
    """Where ``written`` (spaces normalised) occurs in the answer: exactly, else ignoring case."""
    words = _norm_text(written).split()
    if not words:
        return []
    pattern = r"\s+".join(re.escape(w) for w in words)
    for flags in (0, re.IGNORECASE):
        found = [(m.start(), m.end()) for m in re.finditer(pattern, answer_text, flags)]
        if found:
            return found
    return []


def _match_segment(cells: dict[str, str], segs: list[tuple[int, str]], answer_text: str,
                   ids: set[int]) -> tuple[list[int], bool]:
    """Segment ids a row points at (by id: any segment of the answer, spans included), and whether it coded the
    whole answer."""
    by_id = [int(v) for v in (cells.get("segment_id", ""), cells.get("segment", "")) if v.isdigit() and int(v) in ids]
    if by_id:
        return by_id[:1], False
    written = cells.get("segment_text") or cells.get("segment") or ""
    text = _norm_text(written)
    if not text or (cells.get("segment_id") and not written):
        return [], False
    exact = [sid for sid, t in segs if _norm_text(t) == text]
    if exact:
        return exact, False
    folded = [sid for sid, t in segs if _norm_text(t).casefold() == text.casefold()]
    if folded:
        return folded, False
    if _norm_text(answer_text).casefold() == text.casefold():
        return [sid for sid, _ in segs], True
    return _run_of_segments(text.casefold(), segs)


def _run_of_segments(want: str, segs: list[tuple[int, str]]) -> tuple[list[int], bool]:
    """Consecutive segments whose texts joined make ``want`` (a coder highlighted two sentences together), and
    whether they are the whole answer."""
    norm = [_norm_text(t).casefold() for _, t in segs]
    for i in range(len(segs)):
        joined = norm[i]
        for j in range(i + 1, len(segs)):
            if not want.startswith(joined):
                break
            joined = f"{joined} {norm[j]}"
            if joined == want:
                return [sid for sid, _ in segs[i : j + 1]], j - i + 1 == len(segs)
    return [], False


# ---------------------------------------------------------------------- export


def codings_rows(store: Store, *, coder: str | None = None) -> Iterable[list[Any]]:
    paths = {c.id: c.path_str for c in list_codes(store)}
    where, params = "", []
    if coder is not None:
        where, params = "WHERE k.name = ?", [coder]
    rows = store.query(
        "SELECT f.external_id, q.key, s.id AS segment_id, s.text, c.code_id, k.name AS coder, c.origin "
        "FROM codings c JOIN coders k ON k.id = c.coder_id JOIN segments s ON s.id = c.segment_id "
        "JOIN answers a ON a.id = s.answer_id JOIN forms f ON f.id = a.form_id JOIN questions q ON q.id = a.question_id "
        f"{where} ORDER BY a.form_id, q.position, s.position, k.name, c.code_id",
        params,
    )
    for r in rows:
        yield [r["external_id"], r["key"], r["segment_id"], r["text"], paths[r["code_id"]], r["coder"], r["origin"]]


def render_codings_csv(store: Store, *, coder: str | None = None) -> bytes:
    """The codings as CSV bytes (UTF-8 with BOM so Excel opens it), for the export format table."""
    buf = io.StringIO()
    w = csv_writer(buf)
    w.writerow(EXPORT_COLUMNS)
    for row in codings_rows(store, coder=coder):
        w.writerow(row)
    return buf.getvalue().encode("utf-8-sig")


def export_codings_csv(store: Store, dest: str | Path | IO[bytes], *, coder: str | None = None) -> int:
    """Write the codings (of one coder, or all) to ``dest``; returns the number of codings written."""
    if coder is not None and find_coder(store, coder) is None:
        from .errors import NotFound

        raise NotFound(f"no coder {coder!r} in this project")
    data = render_codings_csv(store, coder=coder)
    if isinstance(dest, (str, Path)):
        from .export.safety import write_bytes

        write_bytes(data, dest)
    else:
        dest.write(data)
    return sum(1 for _ in codings_rows(store, coder=coder))
