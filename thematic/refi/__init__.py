"""REFI-QDA (QDA-XML 1.0): the codebook (``.qdc``) and the whole project (``.qdpx``) out to NVivo, ATLAS.ti,
MAXQDA, QualCoder and others, and back in.

Modules: :mod:`.qdc` (codebooks both ways), :mod:`.write` (project export), :mod:`.read` (parse and check a
project file, no store), :mod:`.load` (write a parsed project into a store, one undoable step).

Mapping (validated against the REFI schemas ``Codebook.xsd`` and ``Project.xsd``):

* the code tree -> ``<CodeBook><Codes>`` (nested ``<Code>``; definition, includes, excludes and examples in
  ``<Description>`` as paragraphs ``Includes: ...``, ``Excludes: ...``, ``Example: ...``; theme colours as ``color``);
* coders -> ``<Users>`` (every coder);
* each answer -> one ``<TextSource>`` whose plain text is ``sources/<guid>.txt`` (``plainTextPath="internal://..."``),
  with the question as the variable ``question`` and its wording as ``<Description>``; its name
  ``<form id> - <question key>`` made portable (no ``? * : " < > | / \\``, unique, at most 100 characters), since
  other tools use it as a file name;
* each coded segment -> one ``<PlainTextSelection>`` per coder (``creatingUser`` and ``creationDateTime`` on the
  selection and on each of its ``<Coding>``s), positions in the export's unit (``offsets``: ``utf16``, the default,
  as NVivo, ATLAS.ti and MAXQDA count; or ``codepoints``, as QualCoder counts), end exclusive;
* each form (respondent) -> a ``<Case>`` with its metadata as ``<VariableValue>``s and ``<SourceRef>``s to its
  answers (a form with no answers is still a case, with its metadata);
* memos -> ``<Notes>``: journal entries (``NoteRef`` from the project) and notes on codes (``NoteRef`` from the
  ``<Code>``) keep their text in ``sources/<guid>.txt`` (``plainTextPath``), as NVivo and QualCoder write journals;
  notes on an answer or a segment hold their text inline with the span they are about (a ``<PlainTextSelection>``
  inside the note) and are referenced from the source, and from the segment's selection when it is coded;
* the theme tree -> a ``<Graph>`` with vertices at the diagram's coordinates.

Timestamps are UTC, ``YYYY-MM-DDThh:mm:ssZ``. GUIDs are UUID 5 values from a namespace derived from the project
title and the objects' natural keys, and the zip has fixed timestamps, so the same project always gives the same
bytes, and export -> import -> export gives an identical ``project.qde``.
"""

from __future__ import annotations

from ..limits import MAX_NAME_LENGTH
from ._common import (
           DEFAULT_OFFSETS,
           OFFSETS,
           QUESTION_VARIABLE,
           Offsets,
           clean_code_name,
           describe,
           parse_description,
)
from .load import import_qdpx, link_cases, pieces
from .qdc import dotted_names, read_qdc, render_qdc
from .read import ParsedProject, read_qdpx
from .write import build_qde, render_qdpx

__all__ = ["DEFAULT_OFFSETS", "MAX_NAME_LENGTH", "OFFSETS", "QUESTION_VARIABLE", "Offsets", "ParsedProject",
           "build_qde", "clean_code_name", "describe", "dotted_names", "import_qdpx", "link_cases", "parse_description",
           "pieces", "read_qdc", "read_qdpx", "render_qdc", "render_qdpx"]
