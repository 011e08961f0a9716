"""Importing evaluation forms from XLSX or CSV files.

Two steps, so that an app can show a preview and let the user correct the mapping before anything is written:

>>> preview = sniff("forms.xlsx")                      # sheets, header row, columns with guessed roles
>>> result = read_forms("forms.xlsx", preview.mapping)  # every form, nothing written
>>> report = add_forms(store, result, unit="sentence")  # one undoable action

``ingest_file(store, file, ...)`` does both steps with guessed (or given) roles.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from ..store import Store
from .forms import FormRecord, ReadResult, read_forms
from .preview import Mapping, Preview, sniff
from .layout import Column, is_blank
from .load import IngestReport, add_forms
from .read import FileInput

__all__ = [
    "Column",
    "FormRecord",
    "IngestReport",
    "Mapping",
    "Preview",
    "ReadResult",
    "add_forms",
    "ingest_file",
    "is_blank",
    "read_forms",
    "sniff",
]


def ingest_file(
    store: Store,
    file: FileInput,
    *,
    sheet: str | None = None,
    layout: str | None = None,
    id_column: str | None = None,
    question_columns: Sequence[str] | None = None,
    meta_columns: Sequence[str] | None = None,
    answer_column: str | None = None,
    unit: str = "sentence",
    redact: bool = False,
    staff_names: Iterable[str] = (),
    actor: str | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    drop_columns: Sequence[str] = (),
) -> IngestReport:
    """``read_forms`` then ``add_forms``: import one file into ``store``."""
    result = read_forms(
        file,
        sheet=sheet,
        layout=layout,
        id_column=id_column,
        question_columns=question_columns,
        meta_columns=meta_columns,
        answer_column=answer_column,
        progress=progress,
    )
    return add_forms(store, result, unit=unit, redact=redact, staff_names=staff_names, actor=actor, progress=progress,
                     drop_columns=drop_columns)
