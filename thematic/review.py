"""Warnings on a theme tree under review (phase 4): thin themes, themes that overlap, near-duplicate names.

One place for the thresholds, so the Review page, the sidebar and any report agree:

* ``THIN_RESPONDENTS`` (3): a theme drawn from fewer respondents than this is *thin*;
* ``OVERLAP_WARN`` (0.5): two themes sharing at least this share of the smaller one's segments may be one theme;
* ``NAME_SIMILAR`` (0.8): names this similar (``difflib`` ratio, case-folded) may be duplicates.

Counts roll subcodes up into their themes (as :func:`thematic.coding.code_counts` does), and a theme is never
compared with its own ancestors or descendants.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from . import codebook, coding
from .models import Code
from .store import Store

THIN_RESPONDENTS = 3
OVERLAP_WARN = 0.5
NAME_SIMILAR = 0.8


@dataclass(frozen=True)
class ThemeWarning:
    """One warning: ``kind`` is ``thin``, ``overlap`` or ``similar``; ``codes`` the code ids it is about;
    ``value`` the figure behind it (respondents, share of the smaller theme, or name similarity)."""

    kind: str
    codes: tuple[int, ...]
    value: float
    shared: int = 0


def thin(codes: Sequence[Code], counts: Mapping[int, tuple[int, int]]) -> list[ThemeWarning]:
    """Codes with fewer than ``THIN_RESPONDENTS`` respondents (counts: code id -> (segments, respondents))."""
    return [
        ThemeWarning("thin", (c.id,), float(counts.get(c.id, (0, 0))[1]))
        for c in codes
        if counts.get(c.id, (0, 0))[1] < THIN_RESPONDENTS
    ]


def overlapping(
    overlap: Mapping[tuple[int, int], int], counts: Mapping[int, tuple[int, int]]
) -> list[ThemeWarning]:
    """Pairs sharing at least ``OVERLAP_WARN`` of the smaller code's segments, the largest share first."""
    out = []
    for (a, b), n in overlap.items():
        smaller = max(1, min(counts.get(a, (0, 0))[0], counts.get(b, (0, 0))[0]))
        if n / smaller >= OVERLAP_WARN:
            out.append(ThemeWarning("overlap", (a, b), n / smaller, shared=n))
    return sorted(out, key=lambda w: (-w.value, w.codes))


def similar_names(codes: Sequence[Code]) -> list[ThemeWarning]:
    """Pairs of codes whose names are at least ``NAME_SIMILAR`` alike (case-folded)."""
    out = []
    for i, a in enumerate(codes):
        for b in codes[i + 1 :]:
            ratio = difflib.SequenceMatcher(None, a.name.casefold(), b.name.casefold()).ratio()
            if ratio >= NAME_SIMILAR:
                out.append(ThemeWarning("similar", (a.id, b.id), ratio))
    return out


def warnings(store: Store, *, max_depth: int = 0, coder: str | None = None) -> list[ThemeWarning]:
    """Every warning on the codes down to ``max_depth`` (0: themes only): thin, then overlap, then similar names."""
    level = [c for c in codebook.list_codes(store) if c.depth <= max_depth]
    counts = coding.code_counts(store, coder=coder)
    overlap = coding.code_overlap(store, [c.id for c in level], coder=coder)
    return [*thin(level, counts), *overlapping(overlap, counts), *similar_names(level)]
