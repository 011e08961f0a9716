from __future__ import annotations

import pytest

from thematic import memos
from thematic.codebook import add_code
from thematic.errors import InvalidInput, NotFound
from thematic.store import Store


def test_journal_per_phase_and_notes_on_codes(store: Store) -> None:
    j = memos.add_memo(store, "First read-through: lots about breathing.", phase=1, coder="anna", title="Day 1")
    code = add_code(store, "Breathing")
    n = memos.add_memo(store, "Check overlap with soothing", code_id=code)
    assert [m.id for m in memos.memos(store, phase=1)] == [j]
    assert memos.get_memo(store, j).coder == "anna"
    memos.update_memo(store, n, body="Merged later?")
    assert memos.get_memo(store, n).body == "Merged later?"
    memos.delete_memo(store, n)
    with pytest.raises(NotFound):
        memos.get_memo(store, n)
    store.undo()
    assert memos.get_memo(store, n).body == "Merged later?"


def test_bad_memos(store: Store) -> None:
    with pytest.raises(InvalidInput):
        memos.add_memo(store, "   ")
    with pytest.raises(InvalidInput, match="phase"):
        memos.add_memo(store, "x", phase=7)
    assert store.counts()["memos"] == 0
