"""Shared AppTest helpers for the page tests: open the app on a page, and check a run for errors."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 60
DEFAULT_PAGE = "views/project.py"


def check(at: AppTest) -> AppTest:
    """No exception and no error box on the page."""
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def open_app(page: str, *, strict: bool = False, **state: object) -> AppTest:
    """A new session of the app (with ``state`` in its session state) showing ``page``; ``strict`` also fails on
    error boxes. The project is whatever ``THEMATIC_PROJECT`` names."""
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in state.items():
        at.session_state[k] = v
    at.run()
    assert not at.exception, at.exception
    if page != DEFAULT_PAGE:
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return check(at) if strict else at
