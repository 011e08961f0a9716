"""The open project is part of the page address, in a real browser (Debian chromium through Playwright).

Open a second project on the Project page → the address says ``?project=second`` → reload → the same project is
still open → code a segment on page 2 → the coding is in ``second.db``, not in the server's default project. A
second tab on the default project meanwhile keeps its own project.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, wait_idle, wait_text
from tests.e2e.test_browser_flow import choose, key, nav, shot
from tests.helpers import SMALL, make_corpus
from thematic.store import Store

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

CODER = "e2e"
CODE = "Reload-proof code"


def _sidebar(page: Any) -> str:
    return str(page.locator('[data-testid="stSidebar"]').inner_text())


def _codes(path: Path) -> list[tuple[str, str, str]]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return [tuple(r) for r in conn.execute(
            "SELECT k.name, c.origin, d.name FROM codings c JOIN codes k ON k.id = c.code_id "
            "JOIN coders d ON d.id = c.coder_id ORDER BY c.id")]
    finally:
        conn.close()


def test_reload_keeps_the_project_and_work_lands_in_it(page: Any, app_server: Server, e2e_out: Path) -> None:
    folder = app_server.project.parent
    second = folder / "second.db"
    if not second.exists():
        with Store(second) as s:
            make_corpus(s, SMALL)
            s.set_setting("title", "Second study")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    page.goto(f"{app_server.url}/?coder={CODER}")
    wait_text(page, "Open:")
    default = app_server.project.stem
    assert f"project={default}" in page.url, page.url  # the address names the default project

    choose(page, "project_target", "second")
    key(page, "project_open").locator("button").first.click()
    wait_text(page, "Opened 'second'")
    assert "project=second" in page.url, page.url
    assert "Second study" in _sidebar(page)

    # A second tab on the default project does not disturb the first one.
    other = page.context.new_page()
    other.goto(f"{app_server.url}/?project={default}&coder={CODER}")
    wait_text(other, "Open:")
    assert f"Open: {default}" in other.locator('[data-testid="stMain"]').inner_text()
    other.close()

    page.reload()
    wait_text(page, "Open:")
    assert "project=second" in page.url, page.url
    assert "Open: second" in page.locator('[data-testid="stMain"]').inner_text()
    assert "Second study" in _sidebar(page)
    shot(page, e2e_out, "url_project_after_reload")

    nav(page, "2 Generate initial codes", "2 Generate initial codes")
    assert "Second study" in _sidebar(page)
    wait_text(page, "You have coded")
    box = key(page, "ic_codes").locator("input").first
    box.click()
    box.fill(CODE)
    box.press("Enter")
    box.press("Escape")
    key(page, "ic_apply").locator("button").first.click()
    wait_idle(page)
    wait_text(page, "Your codes here")
    shot(page, e2e_out, "url_project_coded")

    assert (CODE, "human", CODER) in _codes(second)
    assert all(name != CODE for name, _, _ in _codes(app_server.project))
    assert not errors, f"JavaScript errors in the page: {errors}"
