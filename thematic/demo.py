"""The demo project: the invented CMT workshop evaluations (package data in ``data/``), imported with sentence
segments."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .errors import Conflict, NotFound
from .store import Store

DEMO_WORKBOOK = Path(__file__).resolve().parent / "data" / "cmt_workshop_evaluations.xlsx"
DEMO_TITLE = "CMT for All: workshop evaluations (demo)"


def create_demo_project(
    path: str | Path, *, unit: str = "sentence", progress: Callable[[int, int, str], None] | None = None
) -> Path:
    """Create a project at ``path`` holding the demo workbook's forms; ``path`` must not exist yet."""
    from .ingest import ingest_file

    target = Path(path)
    if target.exists():
        raise Conflict(f"{target} already exists; open it instead of creating the demo again")
    if not DEMO_WORKBOOK.is_file():
        raise NotFound(f"the demo workbook is missing: {DEMO_WORKBOOK}")
    try:
        with Store(target) as store:
            store.set_setting("title", DEMO_TITLE)
            ingest_file(store, DEMO_WORKBOOK, unit=unit, actor="demo", progress=progress)
    except BaseException:
        for suffix in ("", "-wal", "-shm"):
            Path(str(target) + suffix).unlink(missing_ok=True)
        raise
    return target
