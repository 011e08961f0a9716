"""Span codings: any stretch of an answer a person highlights, coded with exact character offsets.

Storage. A highlighted span is a row of ``segments`` with ``by_person = 1``: its ``answer_id``, ``start`` and
``end`` (Python character offsets into ``answers.text``, end exclusive) and ``text = answer[start:end]``; its
``position`` is ``SPAN_POSITION_BASE`` or more, so the machine's segments keep their positions 0..n-1. A span
with exactly a machine segment's offsets *is* that segment (no second row). Codings on a span are ordinary
``codings`` rows (written by :func:`thematic.coding.apply_code`), so REFI-QDA export (which writes each coding's
segment offsets), agreement, counts, extracts and quotes treat spans like segments. The machine's units (the
segment queue, clustering, suggestions over the corpus) leave ``by_person`` rows out.

Every change is one :meth:`Store.action`: creating the span row, creating a code (new or in-vivo) and the coding
undo together. Uncoding a person's span that nothing else refers to removes its row in the same step.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from . import codebook, coding
from .errors import InvalidInput, NotFound
from .store import Action, Store

SPAN_POSITION_BASE = 1_000_000
"""Positions of person-made span rows start here (machine segments are numbered 0, 1, ... per answer)."""

PREVIEW = 60


@dataclass(frozen=True)
class SpanCoding:
    """One coding on a segment or span of an answer, with its offsets and its code."""

    coding_id: int
    segment_id: int
    answer_id: int
    start: int
    end: int
    text: str
    code_id: int
    coder: str
    origin: str
    by_person: bool


def _preview(text: str) -> str:
    one = " ".join(text.split())
    return one if len(one) <= PREVIEW else one[: PREVIEW - 1] + "…"


def trim(text: str, start: int, end: int) -> tuple[int, int]:
    """``(start, end)`` inside ``text`` with surrounding whitespace left out; InvalidInput if out of range or blank."""
    if not (0 <= start < end <= len(text)):
        raise InvalidInput(f"span {start}-{end} is outside the answer (0-{len(text)})")
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start == end:
        raise InvalidInput("the selected span holds only spaces")
    return start, end


def _answer_text(store: Store, answer_id: int) -> str:
    row = store.query_one("SELECT text FROM answers WHERE id = ?", (answer_id,))
    if row is None:
        raise NotFound(f"no answer {answer_id} in this project")
    return str(row[0])


def span_segment(act: Action, answer_id: int, start: int, end: int) -> int:
    """The segment with exactly these offsets in the answer (surrounding whitespace left out), created as a person's
    span if there is none. For importers too (a REFI-QDA selection that is no machine segment), inside their
    action; codings then go through :mod:`thematic.coding`."""
    text = _answer_text(act.store, answer_id)
    start, end = trim(text, start, end)
    row = act.execute(
        'SELECT id FROM segments WHERE answer_id = ? AND start = ? AND "end" = ? ORDER BY by_person, id LIMIT 1',
        (answer_id, start, end),
    ).fetchone()
    if row is not None:
        return int(row[0])
    pos = act.execute(
        "SELECT max(position) FROM segments WHERE answer_id = ? AND position >= ?", (answer_id, SPAN_POSITION_BASE)
    ).fetchone()[0]
    position = SPAN_POSITION_BASE if pos is None else int(pos) + 1
    return act.insert(
        'INSERT INTO segments (answer_id, position, start, "end", text, by_person) VALUES (?, ?, ?, ?, ?, 1)',
        (answer_id, position, start, end, text[start:end]),
    )


def code_span(
    store: Store,
    answer_id: int,
    start: int,
    end: int,
    coder: str,
    *,
    code_id: int | None = None,
    new_code: str | None = None,
    parent_id: int | None = None,
) -> tuple[int, int]:
    """Code ``answer[start:end]`` (whitespace at the ends left out) for ``coder``; returns (segment id, code id).

    Give ``code_id`` (an existing code) or ``new_code`` (a name or ``Theme/Code`` path, created under ``parent_id``
    when it is a plain name; an existing code of that name is reused). In-vivo coding passes the selected text as
    ``new_code``. One undoable step."""
    if (code_id is None) == (new_code is None):
        raise InvalidInput("give either an existing code or a new code name")
    text = _answer_text(store, answer_id)
    s, e = trim(text, start, end)
    label = new_code if new_code is not None else store.scalar("SELECT name FROM codes WHERE id = ?", (code_id,))
    if label is None:
        raise NotFound(f"no code with id {code_id}")
    with store.action(
        "coding.span",
        f"Code '{_preview(text[s:e])}' (answer {answer_id}, {s}-{e}) as '{_preview(str(label))}'",
        actor=coder,
        details={"answer_id": answer_id, "start": s, "end": e},
    ) as act:
        if new_code is not None:
            name = " ".join(new_code.split())
            if not name:
                raise InvalidInput("a new code needs a name")
            if parent_id is not None and "/" not in name:
                found = act.execute(
                    "SELECT id FROM codes WHERE parent_id = ? AND lower(name) = lower(?)", (parent_id, name)
                ).fetchone()
                code_id = int(found[0]) if found else codebook.add_code(store, name, parent_id=parent_id, actor=coder)
            else:
                code_id = codebook.ensure_path(store, name, actor=coder)
        assert code_id is not None
        seg_id = span_segment(act, answer_id, s, e)
        coding.apply_code(store, seg_id, code_id, coder)
        act.details.update({"segment_id": seg_id, "code_id": code_id})
        return seg_id, code_id


def uncode(store: Store, segment_id: int, code_id: int, coder: str) -> bool:
    """Remove ``coder``'s coding of this segment or span with this code; a person's span that no coding, quote or
    memo refers to any more goes too. One undoable step; False if there was no such coding."""
    row = store.query_one(
        'SELECT s.answer_id, s.start, s."end", s.text, s.by_person FROM segments s WHERE s.id = ?', (segment_id,)
    )
    if row is None:
        raise NotFound(f"no segment {segment_id} in this project")
    if not coding.codings(store, coder=coder, code_id=code_id, segment_ids=[segment_id]):
        return False
    name = store.scalar("SELECT name FROM codes WHERE id = ?", (code_id,)) or f"#{code_id}"
    with store.action(
        "coding.span_remove",
        f"Uncode '{_preview(row['text'])}' from '{name}'",
        actor=coder,
        details={"segment_id": segment_id, "code_id": code_id, "answer_id": row["answer_id"]},
    ) as act:
        coding.remove_coding(store, segment_id, code_id, coder)
        if row["by_person"]:
            used = act.execute(
                "SELECT 1 FROM codings WHERE segment_id = ? UNION ALL SELECT 1 FROM quotes WHERE segment_id = ? "
                "UNION ALL SELECT 1 FROM memos WHERE segment_id = ? LIMIT 1",
                (segment_id, segment_id, segment_id),
            ).fetchone()
            if used is None:
                act.execute("DELETE FROM segments WHERE id = ?", (segment_id,))
    return True


def recode(store: Store, segment_id: int, old_code_id: int, new_code_id: int, coder: str) -> None:
    """Move ``coder``'s coding of this segment from one code to another, in one undoable step."""
    if old_code_id == new_code_id:
        raise InvalidInput("choose a different code to recode to")
    if not coding.codings(store, coder=coder, code_id=old_code_id, segment_ids=[segment_id]):
        raise NotFound(f"{coder} has not coded segment {segment_id} with code {old_code_id}")
    names = {int(r[0]): str(r[1]) for r in store.query("SELECT id, name FROM codes WHERE id IN (?, ?)",
                                                        (old_code_id, new_code_id))}
    if new_code_id not in names:
        raise NotFound(f"no code with id {new_code_id}")
    with store.action(
        "coding.recode",
        f"Recode segment {segment_id} from '{names[old_code_id]}' to '{names[new_code_id]}'",
        actor=coder,
        details={"segment_id": segment_id, "from": old_code_id, "to": new_code_id},
    ):
        coding.apply_code(store, segment_id, new_code_id, coder)
        coding.remove_coding(store, segment_id, old_code_id, coder)


def codings_in(store: Store, answer_ids: Iterable[int], *, coder: str | None = None) -> list[SpanCoding]:
    """Every coding on segments and spans of these answers (one coder's, or everyone's), by answer and offset."""
    ids = list(dict.fromkeys(int(a) for a in answer_ids))
    out: list[SpanCoding] = []
    for i in range(0, len(ids), 900):
        chunk = ids[i : i + 900]
        params: list[object] = [*chunk]
        who = ""
        if coder is not None:
            who = " AND k.name = ?"
            params.append(coder)
        rows = store.query(
            'SELECT c.id, s.id AS sid, s.answer_id, s.start, s."end", s.text, c.code_id, k.name AS coder, c.origin, '
            "s.by_person FROM codings c JOIN segments s ON s.id = c.segment_id JOIN coders k ON k.id = c.coder_id "
            f"WHERE s.answer_id IN ({','.join('?' * len(chunk))}){who} "
            'ORDER BY s.answer_id, s.start, s."end", c.id',
            params,
        )
        out += [
            SpanCoding(
                int(r["id"]), int(r["sid"]), int(r["answer_id"]), int(r["start"]), int(r["end"]), str(r["text"]),
                int(r["code_id"]), str(r["coder"]), str(r["origin"]), bool(r["by_person"]),
            )
            for r in rows
        ]
    return out


def is_person_span(store: Store, segment_id: int) -> bool:
    return bool(store.scalar("SELECT by_person FROM segments WHERE id = ?", (segment_id,)))


def answer_texts(store: Store, answer_ids: Iterable[int]) -> dict[int, str]:
    """Whole answers' texts by id (for showing a segment or span in its context)."""
    ids = list(dict.fromkeys(int(a) for a in answer_ids))
    out: dict[int, str] = {}
    for i in range(0, len(ids), 900):
        chunk = ids[i : i + 900]
        out.update(
            (int(r[0]), str(r[1]))
            for r in store.query(f"SELECT id, text FROM answers WHERE id IN ({','.join('?' * len(chunk))})", chunk)
        )
    return out
