"""Library errors shown as one red line instead of a traceback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from thematic.errors import ThematicError


class Guard:
    """What :func:`guard` yields: ``ok`` is False once an error has been shown."""

    ok = True


@contextmanager
def guard(where: DeltaGenerator | None = None) -> Iterator[Guard]:
    """``with guard(): library_call()``: a :class:`ThematicError` becomes ``st.error(str(e))``."""
    g = Guard()
    try:
        yield g
    except ThematicError as exc:
        g.ok = False
        (where or st).error(str(exc), icon=":material/error:")


def missing(feature: str, module: str) -> None:
    """Say cleanly that a part of the library is not installed in this build."""
    st.info(f"{feature} is not available in this build ({module} is missing).", icon=":material/extension_off:")


def attempt(prefix: str, fn: Callable[..., object], *args: object, **kwargs: object) -> object | None:
    """Run a library call from a widget callback; a :class:`ThematicError` is kept under ``{prefix}_error`` for
    :func:`show` to display on the next run (callbacks cannot draw where the page wants the message)."""
    try:
        return fn(*args, **kwargs)
    except ThematicError as exc:
        st.session_state[f"{prefix}_error"] = str(exc)
        return None


def show(prefix: str) -> None:
    """Display (once) the error :func:`attempt` kept for ``prefix``, and a success note kept under ``{prefix}_ok``."""
    msg = st.session_state.pop(f"{prefix}_error", None)
    if msg:
        st.error(msg, icon=":material/error:")
    ok = st.session_state.pop(f"{prefix}_ok", None)
    if ok:
        st.success(ok, icon=":material/check_circle:")
