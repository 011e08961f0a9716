"""Memos: the reflexive journal (one entry or more per phase) and notes on codes, segments and answers."""

from __future__ import annotations

from .coding import coder_id
from .errors import InvalidInput, NotFound
from .models import Memo
from .store import Store, now

PHASES = {
    1: "Familiarising with the data",
    2: "Generating initial codes",
    3: "Searching for themes",
    4: "Reviewing themes",
    5: "Defining and naming themes",
    6: "Producing the report",
}


def add_memo(
    store: Store,
    body: str,
    *,
    phase: int | None = None,
    code_id: int | None = None,
    segment_id: int | None = None,
    answer_id: int | None = None,
    title: str = "",
    coder: str | None = None,
) -> int:
    if not body.strip():
        raise InvalidInput("a memo needs some text")
    if phase is not None and phase not in PHASES:
        raise InvalidInput(f"phase must be 1 to 6, not {phase}")
    about = _about(phase, code_id, segment_id, answer_id)
    with store.action("memo.add", f"Add memo {about}", actor=coder) as act:
        who = coder_id(act, coder) if coder else None
        t = now()
        memo_id = act.insert(
            "INSERT INTO memos (phase, code_id, segment_id, answer_id, coder_id, title, body, created_at, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (phase, code_id, segment_id, answer_id, who, title.strip(), body, t, t),
        )
        act.details["memo_id"] = memo_id
        return memo_id


def update_memo(store: Store, memo_id: int, *, body: str | None = None, title: str | None = None,
                coder: str | None = None) -> None:
    memo = get_memo(store, memo_id)
    with store.action("memo.update", f"Edit memo {memo_id}", actor=coder, details={"memo_id": memo_id}) as act:
        act.execute(
            "UPDATE memos SET body = ?, title = ?, updated_at = ? WHERE id = ?",
            (memo.body if body is None else body, memo.title if title is None else title.strip(), now(), memo_id),
        )


def delete_memo(store: Store, memo_id: int, *, coder: str | None = None) -> None:
    get_memo(store, memo_id)
    with store.action("memo.delete", f"Delete memo {memo_id}", actor=coder, details={"memo_id": memo_id}) as act:
        act.execute("DELETE FROM memos WHERE id = ?", (memo_id,))


def get_memo(store: Store, memo_id: int) -> Memo:
    rows = memos(store, memo_id=memo_id)
    if not rows:
        raise NotFound(f"no memo {memo_id}")
    return rows[0]


def memos(
    store: Store,
    *,
    phase: int | None = None,
    code_id: int | None = None,
    segment_id: int | None = None,
    answer_id: int | None = None,
    memo_id: int | None = None,
) -> list[Memo]:
    where, params = [], []
    for col, val in (("m.phase", phase), ("m.code_id", code_id), ("m.segment_id", segment_id),
                     ("m.answer_id", answer_id), ("m.id", memo_id)):
        if val is not None:
            where.append(f"{col} = ?")
            params.append(val)
    rows = store.query(
        "SELECT m.*, k.name AS coder FROM memos m LEFT JOIN coders k ON k.id = m.coder_id"
        + ((" WHERE " + " AND ".join(where)) if where else "")
        + " ORDER BY m.created_at, m.id",
        params,
    )
    return [
        Memo(r["id"], r["phase"], r["code_id"], r["segment_id"], r["answer_id"], r["coder"], r["title"], r["body"],
             r["created_at"], r["updated_at"])
        for r in rows
    ]


def _about(phase: int | None, code_id: int | None, segment_id: int | None, answer_id: int | None) -> str:
    if phase is not None:
        return f"for phase {phase}"
    if code_id is not None:
        return f"on code {code_id}"
    if segment_id is not None:
        return f"on segment {segment_id}"
    if answer_id is not None:
        return f"on answer {answer_id}"
    return "(free note)"
