"""Phase 4's extracts in a real browser: find an extract by its words, see it inside its whole answer with the
form's metadata, mark it as a quote, recode another, uncode a third; each checked in the project file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, wait_idle, wait_text

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300), pytest.mark.usefixtures("fake_embedder")]

CODER = "rv"


@pytest.fixture(scope="module")
def project(fake_embedder: None, app_server: Server) -> Path:
    """The demo forms; every segment mentioning "breath" coded Practices/Breathing by CODER."""
    from thematic import codebook, coding
    from thematic.demo import create_demo_project
    from thematic.store import Store

    create_demo_project(app_server.project)
    with Store(app_server.project) as s:
        code = codebook.ensure_path(s, "Practices/Breathing", actor="setup")
        codebook.ensure_path(s, "Calm", actor="setup")
        ids = [int(r[0]) for r in s.query("SELECT id FROM segments WHERE text LIKE '%breath%' ORDER BY id")]
        assert len(ids) >= 3
        coding.apply_code_many(s, ids, code, CODER)
    return app_server.project


def extract_ids(page: Any) -> list[int]:
    return page.evaluate(
        "() => [...document.querySelectorAll('[class*=st-key-rv_x_]')].flatMap(e => [...e.classList])"
        ".map(c => c.match(/^st-key-rv_x_(\\d+)$/)).filter(m => m).map(m => +m[1])"
    )


def test_extracts_in_context_quote_recode_uncode(page: Any, app_server: Server, project: Path,
                                                 e2e_out: Path) -> None:
    con = sqlite3.connect(project)
    practices, breathing, calm = (
        con.execute("SELECT id FROM codes WHERE name = ?", (n,)).fetchone()[0] for n in ("Practices", "Breathing", "Calm")
    )
    con.close()
    page.goto(f"{app_server.url}/review?coder={CODER}")
    wait_text(page, "Theme or code")
    combo = page.locator(".st-key-rv_code").get_by_role("combobox")
    combo.click()
    combo.fill("Practices")
    page.get_by_role("option").filter(has_text="Practices (").first.click()
    wait_idle(page)
    search = page.locator(".st-key-rv_search input")
    search.fill("soothing")
    search.press("Enter")
    wait_idle(page)
    ids = extract_ids(page)
    assert ids, "extracts containing 'soothing'"
    main = page.locator('[data-testid="stMain"]').inner_text()
    assert "Profession:" in main  # the form's metadata beside each extract
    assert page.locator(f".st-key-rv_x_{ids[0]} mark").first.inner_text().lower().count("soothing") == 1
    quoted = ids[0]
    page.locator(f".st-key-rv_quote_{quoted} button").first.click()
    page.locator(f".st-key-rv_quote_{quoted} button", has_text="Unmark quote").first.wait_for()
    wait_idle(page)
    search.fill("")
    search.press("Enter")
    wait_idle(page)
    ids = extract_ids(page)
    other = [i for i in ids if i != quoted][:2]
    recode_id, uncode_id = other
    box = page.locator(".st-key-rv_recode_to").get_by_role("combobox")
    box.click()
    box.fill("Calm")
    page.get_by_role("option", name="Calm", exact=True).first.click()
    wait_idle(page)
    page.locator(f".st-key-rv_recode_{recode_id}_{breathing} button", has_text="Recode to Calm").first.click()
    page.locator(f".st-key-rv_x_{recode_id}").wait_for(state="detached")  # no longer under this theme
    wait_idle(page)
    page.locator(f".st-key-rv_uncode_{uncode_id}_{breathing} button").first.click()
    page.locator(f".st-key-rv_x_{uncode_id}").wait_for(state="detached")
    wait_idle(page)
    page.screenshot(path=str(e2e_out / "rv_extracts.png"))
    con = sqlite3.connect(project)
    try:
        quotes = [r[0] for r in con.execute("SELECT segment_id FROM quotes WHERE code_id = ?", (practices,))]
        on = {r[0]: r[1] for r in con.execute(
            "SELECT c.segment_id, c.code_id FROM codings c JOIN coders k ON k.id = c.coder_id WHERE k.name = ?",
            (CODER,))}
    finally:
        con.close()
    assert quotes == [quoted] and on[recode_id] == calm and uncode_id not in on
