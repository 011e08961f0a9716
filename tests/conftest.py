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


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def require_shared(path: Path) -> Path:
    """``path`` (something under ``../shared``, the data and samples beside the repository). Missing, the test is
    skipped on a workstation but fails in CI, where ``../shared`` is always laid out: a test that cannot run there
    must not pass unnoticed."""
    if not path.exists():
        message = f"{path.relative_to(REPO.parent) if path.is_relative_to(REPO.parent) else path} is not beside the repo"
        if in_ci():
            pytest.fail(f"{message} (CI must have ../shared)")
        pytest.skip(message)
    return path


@pytest.fixture
def shared() -> Path:
    return require_shared(SHARED)


def dump(store: Store) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every tracked table, for 'exactly as before' comparisons."""
    from thematic.schema import tracked_tables

    return {t: [tuple(r) for r in store.query(f'SELECT rowid, * FROM "{t}" ORDER BY rowid')] for t in tracked_tables(store.conn)}
