"""CLI subcommands, one module per domain concept. Each module defines ``register(subparsers)``."""

from __future__ import annotations

import sys
from typing import Any

from ..store import Store


def open_store(path: str) -> Store:
    """Open an existing project for a command (a missing file is an error, not a new project)."""
    return Store.open(path)


def progress_line(stream: Any = None) -> Any:
    """A progress callback ``(done, total, message)`` that redraws one line on stderr."""
    out = stream or sys.stderr

    def report(done: int, total: int, message: str = "") -> None:
        pct = (100 * done // total) if total else 100
        end = "\n" if total and done >= total else ""
        out.write(f"\r{message} {done}/{total} ({pct}%)" + " " * 8 + end)
        out.flush()

    return report
