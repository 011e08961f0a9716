"""Errors raised by the library.

Every error a user can cause is a :class:`ThematicError`. The CLI prints ``str(error)`` as one line on stderr and
exits with status 2; the Streamlit pages show it with ``st.error``. Errors carry what they are about (a row, a
path, an id) so that the message can name it.
"""

from __future__ import annotations

from pathlib import Path


class ThematicError(Exception):
    """Base class of every error the library raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:  # one line, always
        return " ".join(self.message.split())


class InvalidInput(ThematicError):
    """A file or argument that cannot be used. ``row`` is 1-based as a spreadsheet shows it."""

    def __init__(
        self,
        message: str,
        *,
        row: int | None = None,
        path: str | Path | None = None,
        column: str | None = None,
    ) -> None:
        where = []
        if path is not None:
            where.append(Path(path).name)
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(prefix + message)
        self.row = row
        self.path = path
        self.column = column


class NotFound(ThematicError):
    """A project, code, segment, coder ... that does not exist."""


class Conflict(ThematicError):
    """The request contradicts what the project holds (duplicate names, ids with different answers ...)."""


class NothingToUndo(ThematicError):
    """Undo or redo was asked for with nothing left to revert."""


class ModelMissing(ThematicError):
    """An offline model that is not installed. Never triggers a download."""


class SchemaTooNew(ThematicError):
    """The project file was written by a newer version of thematic."""


class NotAProject(ThematicError):
    """A file that is not a thematic project (another program's SQLite database, or not SQLite at all).
    Nothing is ever written to it."""


class ProjectDamaged(ThematicError):
    """A project file SQLite cannot read: truncated, overwritten or otherwise corrupt."""


class ProjectBusy(ThematicError):
    """Another process held the project's write lock for longer than the busy timeout."""


BUSY_MESSAGE = "the project is busy (another process is writing); try again"

# SQLite primary result codes (``sqlite3.Error.sqlite_errorcode & 0xFF``) that a user's file or machine causes
_SQLITE_BUSY, _SQLITE_LOCKED, _SQLITE_READONLY, _SQLITE_IOERR, _SQLITE_CORRUPT = 5, 6, 8, 10, 11
_SQLITE_FULL, _SQLITE_CANTOPEN, _SQLITE_NOTADB = 13, 14, 26


def from_sqlite(exc: BaseException, project: str | Path | None = None) -> ThematicError | None:
    """The one-line error for an SQLite failure caused by the file or the machine, or None for anything else
    (a programming error, which should keep its traceback). ``project`` names the file in the message."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return None
    primary = int(code) & 0xFF
    name = str(project) if project is not None else "the project"
    reason = " ".join(str(exc).split())
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        return ProjectBusy(BUSY_MESSAGE)
    if primary in (_SQLITE_CORRUPT, _SQLITE_NOTADB):
        return ProjectDamaged(f"{name} is damaged: {reason}")
    if primary == _SQLITE_FULL:
        return ThematicError(f"cannot write {name}: the disk is full; nothing was changed")
    if primary in (_SQLITE_READONLY, _SQLITE_CANTOPEN, _SQLITE_IOERR):
        return ThematicError(f"cannot use {name}: {reason}")
    return None
