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
