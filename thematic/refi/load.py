"""Writing a parsed REFI-QDA project into a thematic project, as one undoable step.

Mapping: cases -> forms (their variables become metadata; a case with no ``SourceRef`` is matched to the sources
named after it, as QualCoder exports them, and otherwise kept as a form with its metadata and no answers); text
sources -> answers (the ``question`` variable and the source's description, written by thematic's own export, give
the question; otherwise each document answers the question "document"); selections -> segments (the text is cut
at every selection boundary, so the segments tile it; a piece with no letter or digit that no selection covers
joins its neighbour); codings -> codings (origin ``import``; coder and date from the coding, else its selection);
users -> coders; the codebook -> codes (existing codes at the same path are reused); notes -> memos (on a code, an
answer, a segment, or the project)."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, cast

from ..coding import coder_id, write_codings
from ..errors import Conflict
from ..export.safety import Src
from ..ingest.forms import FormRecord
from ..ingest.load import write_forms
from ..store import Action, Store, now
from ._common import QUESTION_VARIABLE, Offsets
from .read import CaseIn, ParsedProject, SourceIn, read_qdpx

_WORD = re.compile(r"\w")


def pieces(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Cut ``text`` at every span boundary; pieces with no letter or digit that no span covers join a neighbour."""
    bounds = sorted({0, len(text), *(s for s, _ in spans), *(e for _, e in spans)})
    out: list[tuple[int, int]] = []
    carry: int | None = None
    for a, b in zip(bounds, bounds[1:]):
        covered = any(s < b and e > a for s, e in spans)
        if not covered and not _WORD.search(text[a:b]):
            if out:
                out[-1] = (out[-1][0], b)
            elif carry is None:
                carry = a
            continue
        out.append((carry if carry is not None else a, b))
        carry = None
    return out


def link_cases(pr: ParsedProject) -> tuple[dict[str, CaseIn], list[CaseIn]]:
    """source guid -> its case, and the cases linked to no source. A case without ``SourceRef`` takes the sources
    whose name is the case's name, or starts with it and " - " (thematic's own names), when exactly one case
    claims them."""
    case_of: dict[str, CaseIn] = {}
    for c in pr.cases:
        for r in c.sources:
            case_of.setdefault(r, c)
    bare = [c for c in pr.cases if not c.sources and c.name]
    if bare:
        by_name: dict[str, list[CaseIn]] = defaultdict(list)
        for c in bare:
            by_name[c.name.casefold()].append(c)
        for s in pr.sources:
            if s.guid in case_of:
                continue
            key = s.name.casefold()
            claims = {id(c): c for n, cs in by_name.items() if key == n or key.startswith(n + " - ") for c in cs}
            if len(claims) == 1:
                case_of[s.guid] = next(iter(claims.values()))
    linked = {id(c) for c in case_of.values()}
    return case_of, [c for c in pr.cases if id(c) not in linked]


@dataclass
class _Load:
    """One import in progress."""

    act: Action
    pr: ParsedProject
    actor: str | None
    t: str
    source_id: int = 0
    stats: dict[str, int] = field(default_factory=lambda: {
        "forms": 0, "answers": 0, "segments": 0, "codes": 0, "codings": 0, "memos": 0, "coders": 0})
    coder_ids: dict[str, int] = field(default_factory=dict)
    code_id: dict[str, int] = field(default_factory=dict)
    answer_of: dict[str, int] = field(default_factory=dict)
    segment_of: dict[str, int] = field(default_factory=dict)
    note_segment: dict[str, int] = field(default_factory=dict)

    def coder(self, user_guid: str | None) -> int:
        name = self.pr.users.get(user_guid or "") or self.actor or "imported"
        if name not in self.coder_ids:
            self.coder_ids[name] = coder_id(self.act, name)
        return self.coder_ids[name]


def _codes(ld: _Load) -> None:
    act = ld.act
    by_path: dict[tuple[str, ...], int] = {}
    for c in ld.pr.codes:
        parent = by_path.get(c.path[:-1]) if len(c.path) > 1 else None
        row = act.execute("SELECT id FROM codes WHERE parent_id IS ? AND lower(name) = lower(?)",
                          (parent, c.path[-1])).fetchone()
        if row is None:
            pos = act.execute("SELECT coalesce(max(position) + 1, 0) FROM codes WHERE parent_id IS ?",
                              (parent,)).fetchone()[0]
            cid = act.insert(
                "INSERT INTO codes (parent_id, name, definition, includes, excludes, colour, position, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (parent, c.path[-1], c.definition, c.includes, c.excludes, c.colour.upper(), pos, ld.t))
            act.executemany("INSERT INTO code_examples (code_id, text) VALUES (?, ?)", [(cid, e) for e in c.examples])
            ld.stats["codes"] += 1
        else:
            cid = int(row[0])
        ld.code_id[c.guid] = by_path[c.path] = cid


# ---------------------------------------------------------------------- forms, answers, segments


def _note_spans(pr: ParsedProject) -> dict[str, list[tuple[str, tuple[int, int]]]]:
    """source guid -> (note guid, span) for the notes on part of a source (QualCoder's annotations): notes on a
    segment, so the text is cut there too."""
    out: dict[str, list[tuple[str, tuple[int, int]]]] = defaultdict(list)
    text_len = {s.guid: len(s.text) for s in pr.sources}
    for n in pr.notes:
        kind, target = pr.note_targets.get(n.guid, ("", ""))
        if kind == "source" and n.span is not None and n.span[1] > n.span[0] and n.span != (0, text_len[target]):
            out[target].append((n.guid, n.span))
    return out


@dataclass
class _Plan:
    """The forms to write, in order, and where each source goes."""

    forms: dict[str, FormRecord] = field(default_factory=dict)  # form id -> record (answers in order)
    place: dict[str, tuple[str, str]] = field(default_factory=dict)  # source guid -> (form id, question key)
    labels: dict[str, str] = field(default_factory=dict)  # question key -> wording
    spans: dict[tuple[str, str], list[tuple[int, int]]] = field(default_factory=dict)  # (form, question) -> cuts


def _plan(pr: ParsedProject, case_of: dict[str, CaseIn], unlinked: list[CaseIn],
          note_spans: dict[str, list[tuple[str, tuple[int, int]]]]) -> _Plan:
    plan = _Plan()
    no_row = cast(int, None)  # a REFI source is no spreadsheet row
    for c in pr.cases:  # forms in the file's case order, so that a re-export lists them alike
        if c.name and (c in unlinked or any(case_of.get(s) is c for s in c.sources)):
            meta = {k: v for k, v in c.values.items() if k != QUESTION_VARIABLE}
            plan.forms.setdefault(c.name, FormRecord(c.name, no_row, {}, meta))
    for s in pr.sources:
        case = case_of.get(s.guid)
        ext = case.name if case and case.name else s.name
        form = plan.forms.setdefault(ext, FormRecord(ext, no_row, {}, dict(case.values) if case else {}))
        for k, v in s.values.items():
            if k != QUESTION_VARIABLE:
                form.meta.setdefault(k, v)
        qkey = s.values.get(QUESTION_VARIABLE) or "document"
        if qkey in form.answers:
            qkey = f"{qkey} ({s.name})"
        form.answers[qkey] = (s.text, no_row)
        plan.place[s.guid] = (ext, qkey)
        plan.labels.setdefault(qkey, " ".join(s.description.split()) or ("Document text" if qkey == "document"
                                                                             else qkey))
        plan.spans[(ext, qkey)] = [(sel.start, sel.end) for sel in s.selections] + [sp for _, sp in
                                                                                  note_spans[s.guid]]
    return plan


def _write_forms(ld: _Load, plan: _Plan) -> dict[tuple[str, str], tuple[int, list[tuple[int, int, int]]]]:
    """Forms, metadata, questions, answers and segments through the one writer of those tables; returns, per
    (form, question), the answer id and its segments as (start, end, segment id)."""
    taken = [ext for ext in plan.forms
             if ld.act.execute("SELECT 1 FROM forms WHERE external_id = ?", (ext,)).fetchone()]
    if taken:
        raise Conflict(f"form {taken[0]!r} already exists in this project; import into a new project")
    order = [(ext, q) for ext, f in plan.forms.items() for q in f.answers]
    ends = [[b for _, b in pieces(plan.forms[ext].answers[q][0], plan.spans[(ext, q)])] for ext, q in order]
    written = write_forms(ld.act, list(plan.forms.values()), ends, source_id=ld.source_id, labels=plan.labels)
    ld.stats["forms"], ld.stats["answers"], ld.stats["segments"] = written.forms, written.answers, written.segments
    segs: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    if written.answer_ids:
        for r in ld.act.execute('SELECT answer_id, start, "end", id FROM segments WHERE answer_id BETWEEN ? AND ? '
                                "ORDER BY answer_id, position", (written.answer_ids[0], written.answer_ids[-1])):
            segs[r[0]].append((r[1], r[2], r[3]))
    return {key: (aid, segs[aid]) for key, aid in zip(order, written.answer_ids)}


def _sources(ld: _Load, case_of: dict[str, CaseIn], unlinked: list[CaseIn]) -> None:
    note_spans = _note_spans(ld.pr)
    plan = _plan(ld.pr, case_of, unlinked, note_spans)
    written = _write_forms(ld, plan)
    for s in ld.pr.sources:
        ld.answer_of[s.guid], segs = written[plan.place[s.guid]]
        _selections(ld, s, segs)
        for guid, (start, end) in note_spans[s.guid]:
            ld.note_segment[guid] = next(sid for a, b, sid in segs if a < end and b > start)


def _selections(ld: _Load, s: SourceIn, segs: list[tuple[int, int, int]]) -> None:
    """Each selection's codings on every segment it covers."""
    rows = []
    for sel in s.selections:
        hits = [sid for a, b, sid in segs if a < sel.end and b > sel.start]
        if hits:
            ld.segment_of[sel.guid] = hits[0]
        rows += [(sid, ld.code_id[c.code], ld.coder(c.user), "import", c.created or ld.t)
                 for c in sel.codings for sid in hits]
    ld.stats["codings"] += write_codings(ld.act, rows)  # a repeat (same segment, code and coder) counts once


def _memos(ld: _Load) -> None:
    for n in ld.pr.notes:
        kind, target = ld.pr.note_targets.get(n.guid, ("", ""))
        segment = ld.segment_of.get(target) if kind == "selection" else None
        answer = ld.answer_of.get(target) if kind == "source" else None
        if n.guid in ld.note_segment:
            segment, answer = ld.note_segment[n.guid], None
        ld.act.execute(
            "INSERT INTO memos (phase, code_id, segment_id, answer_id, coder_id, title, body, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (n.phase, ld.code_id.get(target) if kind == "code" else None, segment, answer,
             ld.coder(n.user) if n.user else None, n.title, n.body or "(empty note)", n.created or ld.t,
             n.modified or n.created or ld.t))
        ld.stats["memos"] += 1


def import_qdpx(store: Store, src: Src, *, actor: str | None = None, offsets: Offsets | None = None) -> dict[str, Any]:
    """Import a REFI-QDA project into ``store`` in one undoable step; returns what was added, with ``notes``:
    one line for each thing that was not carried over as it stood (unlinked cases, skipped sources)."""
    pr = read_qdpx(src, offsets=offsets)
    if store.query_one("SELECT 1 FROM sources WHERE sha256 = ?", (pr.sha256,)):
        raise Conflict(f"{pr.filename} was already imported into this project")
    case_of, unlinked = link_cases(pr)
    notes = _notes(pr, unlinked)
    summary = f"Import REFI-QDA project {pr.filename} ({len(pr.sources)} sources, {len(pr.codes)} codes)"
    with store.action("import.qdpx", summary, actor=actor, details={"file": pr.filename, "sha256": pr.sha256}) as act:
        ld = _Load(act, pr, actor, now())
        coders_before = act.execute("SELECT count(*) FROM coders").fetchone()[0]
        if not store.get_setting("title") and pr.name:
            act.execute("INSERT OR REPLACE INTO project (key, value) VALUES ('title', ?)", (pr.name,))
        ld.source_id = act.insert("INSERT INTO sources (name, sha256, imported_at, options) VALUES (?, ?, ?, ?)",
                                  (pr.filename, pr.sha256, ld.t, json.dumps({"format": "refi-qda",
                                                                               "offsets": pr.offsets})))
        for ug in pr.users:
            ld.coder(ug)
        _codes(ld)
        _sources(ld, case_of, unlinked)
        _memos(ld)
        ld.stats["coders"] = act.execute("SELECT count(*) FROM coders").fetchone()[0] - coders_before
        act.details.update({**ld.stats, "notes": notes})
    return {**ld.stats, "skipped_sources": len(pr.skipped), "notes": notes}


def _notes(pr: ParsedProject, unlinked: list[CaseIn]) -> list[str]:
    out = []
    kept = [c for c in unlinked if c.name]
    if kept:
        out.append(f"{len(kept)} case(s) could not be linked to any source (no SourceRef, and no source named after "
                   "them): kept as forms with their variables and no answers")
    if len(kept) < len(unlinked):
        out.append(f"{len(unlinked) - len(kept)} case(s) with no name and no source were left out")
    if pr.skipped:
        out.append(f"{len(pr.skipped)} non-text source(s) were left out: {', '.join(pr.skipped[:5])}"
                   + (" ..." if len(pr.skipped) > 5 else ""))
    return out
