"""Shared fixtures: an in-memory store and small helpers. Feature fixtures may be appended below."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from thematic.store import Store  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
NHS_CSV = SHARED / "data" / "nhs_patient_feedback_phase1.csv"


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store(":memory:")
    yield s
    s.close()


@pytest.fixture
def shared() -> Path:
    if not SHARED.exists():
        pytest.skip("../shared is not beside the repo")
    return SHARED


def dump(store: Store) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every tracked table, for 'exactly as before' comparisons."""
    from thematic.schema import tracked_tables

    return {t: [tuple(r) for r in store.query(f'SELECT rowid, * FROM "{t}" ORDER BY rowid')] for t in tracked_tables(store.conn)}
