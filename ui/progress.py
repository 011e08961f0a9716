"""A ``(done, total, message)`` progress callback drawing an ``st.progress`` bar."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import streamlit as st

Progress = Callable[..., None]


def bar(label: str, where: Any = None) -> tuple[Progress, Any]:
    """A progress callback for the library and the bar it draws (call ``.empty()`` on it when done)."""
    target = where or st
    widget = target.progress(0.0, text=label)
    last = [0.0]

    def report(done: int, total: int, message: str = "") -> None:
        now = time.monotonic()
        finished = bool(total) and done >= total
        if not finished and now - last[0] < 0.1:  # at most ten redraws a second
            return
        last[0] = now
        frac = min(1.0, max(0.0, done / total)) if total else 0.0
        text = f"{message or label} — {done:,}/{total:,}" if total else (message or label)
        widget.progress(frac, text=text)

    return report, widget
