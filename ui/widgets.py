"""Small widgets the pages share: pagination, metadata filters, a segment card."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Mapping
from typing import TypeVar

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from thematic import corpus
from thematic.models import Segment
from thematic.store import Store

PER_PAGE = 25

K = TypeVar("K")


def shown_as(labels: Mapping[K, str]) -> Callable[[K], str]:
    """A widget's ``format_func`` showing each option (a key of ``labels``) as its label. Like ``labels.get``: a
    value that is no longer an option (a deleted code kept in the session) gets no label and never raises, so
    Streamlit resets the widget instead of matching the stale value by its old label."""
    return lambda option: labels.get(option, "")


def paginator(key: str, total: int, per_page: int = PER_PAGE, where: DeltaGenerator | None = None) -> int:
    """A page picker under ``key`` (kept for the session); returns the offset of the first row to show."""
    pages = max(1, -(-total // per_page))
    target = where or st
    if st.session_state.get(key, 1) > pages:
        st.session_state[key] = pages
    if pages == 1:
        target.caption(f"{total:,} shown")
        return 0
    c1, c2 = target.columns([1, 3], vertical_alignment="center")
    page = c1.number_input(
        f"Page (of {pages:,})", min_value=1, max_value=pages, step=1, key=key, persist_state="session"
    )
    first = (int(page) - 1) * per_page
    c2.caption(f"{first + 1:,}–{min(total, first + per_page):,} of {total:,}")
    return first


def meta_filter(store: Store, key: str, where: DeltaGenerator | None = None) -> dict[str, list[str]]:
    """One multiselect per metadata field (profession, gender, cohort ...); returns the chosen values by field."""
    target = where or st
    fields = corpus.meta_fields(store)
    chosen: dict[str, list[str]] = {}
    if not fields:
        return chosen
    cols = target.columns(min(4, len(fields)))
    for i, field in enumerate(fields):
        values = [v for v, _ in corpus.meta_choices(store, field)][:500]
        picked = cols[i % len(cols)].multiselect(
            field.replace("_", " ").capitalize(), values, key=f"{key}_{field}", persist_state="session",
            format_func=lambda v: v or "(missing)",
        )
        if picked:
            chosen[field] = list(picked)
    return chosen


_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_{}[]<>()#+-!|~$"})


def md_escape(text: str) -> str:
    """Respondents' words shown as written: markdown characters escaped, line breaks kept."""
    escaped = re.sub(r"(?m)^(\s*\d+)([.)])", r"\1\\\2", text.translate(_MD_SPECIAL))  # "1." is not a list
    return escaped.replace("\n", "  \n")


def meta_line(meta: Mapping[str, str]) -> str:
    return " · ".join(f"{k}: {v}" for k, v in sorted(meta.items()) if v) or "no metadata"


def highlight(text: str, start: int, end: int) -> str:
    """HTML of an answer with one span marked (the segment in its context)."""
    return (
        html.escape(text[:start]).replace("\n", "<br>")
        + "<mark>"
        + html.escape(text[start:end]).replace("\n", "<br>")
        + "</mark>"
        + html.escape(text[end:]).replace("\n", "<br>")
    )


def quote(seg: Segment, meta: Mapping[str, str] | None = None) -> None:
    """A coded extract: the text as a quote, then respondent, question and metadata in small print."""
    st.markdown("> " + md_escape(seg.text).replace("\n", "\n> "))
    extra = f" · {meta_line(meta)}" if meta else ""
    st.caption(f"Respondent {seg.external_id} · {seg.question}{extra}")
