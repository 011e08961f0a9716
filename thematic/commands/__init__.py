"""CLI subcommands, one module per domain concept. Each module defines ``register(subparsers)``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Any

from .. import limits
from ..codebook.files import Codebook, read_codebook
from ..refi import read_qdc
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


def read_codebook_file(source: str | Path | IO[bytes], *, name: str | None = None, dotted: bool = False) -> Codebook:
    """A codebook from a file of any format the tool reads: YAML or CSV (:mod:`thematic.codebook.files`) or a
    REFI-QDA ``.qdc`` (the REFI-QDA reader; ``dotted``: Taguette's flat ``a.b`` names nested).
    ``source`` is a path or a binary file object with ``.name``."""
    filename = str(getattr(source, "name", source))
    if Path(filename).suffix.lower() != ".qdc":
        return read_codebook(source, name=name)
    data = limits.read_limited(source)  # a regular file of at most MAX_CODEBOOK_BYTES
    book: Codebook = read_qdc(data, name=name or Path(filename).stem, dotted=dotted)
    return limits.check_codebook(book, filename)
