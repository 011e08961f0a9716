"""Choosing quotes on page 5 in a real browser: tick two long quotes, click "Save quotes" once, and both are in
the project file. (The old multiselect shrank when it lost focus, so the button moved away from under the pointer
and the first click was lost.) The search reaches extracts beyond the first ones listed."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, wait_idle, wait_text
from tests.e2e.test_browser_flow import key, nav, shot
from tests.helpers import make_corpus
from thematic import codebook, coding
from thematic.store import Store

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

LONG = ("The facilitator explained how the threat system works in the body, with the racing heart and tunnel vision, "
        "and for the first time I understood why I react the way I do on a busy ward; number {i}.")


def _quotes(path: Path) -> list[int]:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return [int(r[0]) for r in conn.execute("SELECT segment_id FROM quotes ORDER BY position")]
    finally:
        conn.close()


def test_save_quotes_takes_one_click(page: Any, app_server: Server, e2e_out: Path) -> None:
    path = app_server.project.parent / "quotes.db"
    with Store(path) as s:
        forms = [(f"R{i:02d}", {}, {"Q1": [LONG.format(i=i)]}) for i in range(40)]
        forms.append(("R99", {}, {"Q1": ["The kingfisher poster in the corridor made me smile."]}))
        seg = make_corpus(s, forms, questions=("Q1",))
        theme = codebook.add_code(s, "Understanding the threat system")
        coding.apply_code_many(s, sorted(seg.values()), theme, "ana")
    page.goto(f"{app_server.url}/?project=quotes&coder=ana")
    wait_text(page, "Open:")
    nav(page, "5 Define and name", "5 Define")
    boxes = page.locator(f'[class*="st-key-df_quote_{theme}_"] label:has(input[type=checkbox])')
    boxes.first.wait_for()
    first, second = seg[("R03", "Q1", 0)], seg[("R07", "Q1", 0)]
    key(page, f"df_quote_{theme}_{first}").locator("label").click()
    key(page, f"df_quote_{theme}_{second}").locator("label").click()
    key(page, "df_save_quotes").locator("button").first.click()  # once
    wait_text(page, "2 quotes chosen.")
    assert _quotes(path) == [first, second]
    shot(page, e2e_out, "define_quotes_saved")

    # an extract beyond the list, found by a word
    beyond = seg[("R99", "Q1", 0)]
    assert key(page, f"df_quote_{theme}_{beyond}").count() == 0
    box = key(page, f"df_quote_search_{theme}").locator("input")
    box.fill("kingfisher")
    box.press("Enter")
    wait_idle(page)
    key(page, f"df_quote_{theme}_{beyond}").locator("label").click()
    key(page, "df_save_quotes").locator("button").first.click()
    wait_text(page, re.compile("3 quotes chosen"))
    assert _quotes(path) == [first, second, beyond]
