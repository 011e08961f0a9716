"""Candidate cards on "3 Search for themes" in a real browser: every card's choices follow a change made from
another card (a theme just made by accepting one candidate can be chosen in the next card's "Accept under", and
the candidate is filed there, not at the top level); the list's header counts follow; "Merge" with nothing chosen
says what to do. The project file is checked afterwards. Screenshots: ``test-output/e2e/cl_*.png``."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, wait_idle, wait_text

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300), pytest.mark.usefixtures("fake_embedder")]

THEME = "Theme Alpha"


@pytest.fixture(scope="module")
def project(fake_embedder: None, app_server: Server) -> Path:
    """The demo forms clustered once (hashing embedder, no BERTopic), before the first page opens the file."""
    from thematic import cluster
    from thematic.demo import create_demo_project
    from thematic.embed import HashingEmbedder
    from thematic.store import Store

    create_demo_project(app_server.project)
    with Store(app_server.project) as s:
        cluster.propose(s, seed=1, embedder=HashingEmbedder(), params={"use_bertopic": False, "n_candidates": 8},
                        actor="setup")
    return app_server.project


def key(page: Any, k: str) -> Any:
    return page.locator(f".st-key-{k}").first


def card_ids(page: Any) -> list[int]:
    return page.evaluate(
        "() => [...document.querySelectorAll('[class*=st-key-cl_accept_]')].flatMap(e => [...e.classList])"
        ".map(c => c.match(/^st-key-cl_accept_(\\d+)$/)).filter(m => m).map(m => +m[1])"
    )


def header(page: Any) -> tuple[int, int]:
    text = page.locator('[data-testid="stMain"]').inner_text()
    m = re.search(r"(\d+) candidates \((\d+) open, (\d+) accepted\)", text)
    assert m, text[:500]
    return int(m.group(2)), int(m.group(3))


def test_cards_follow_each_other(page: Any, app_server: Server, project: Path, e2e_out: Path) -> None:
    page.goto(f"{app_server.url}/themes?coder=cc")
    wait_text(page, "Open candidates only")
    ids = card_ids(page)
    assert len(ids) >= 3, ids
    a, b, c = ids[:3]
    open_before, accepted_before = header(page)
    name = key(page, f"cl_name_{a}").locator("input")
    name.fill(THEME)
    name.press("Enter")
    wait_idle(page)
    key(page, f"cl_accept_{a}").locator("button").first.click()
    key(page, f"cl_confirm_{a}").locator("button").first.click()
    wait_idle(page)
    page.wait_for_function(f"() => !document.querySelector('.st-key-cl_accept_{a}')")
    wait_idle(page)
    assert header(page) == (open_before - 1, accepted_before + 1)  # the header follows a card's action
    # the theme just made is a choice in the next card's "Accept under"
    combo = key(page, f"cl_parent_{b}").get_by_role("combobox")
    combo.click()
    combo.fill(THEME)
    page.get_by_role("option", name=THEME, exact=True).first.click(timeout=10_000)
    wait_idle(page)
    page.screenshot(path=str(e2e_out / "cl_accept_under_new_theme.png"))
    key(page, f"cl_accept_{b}").locator("button").first.click()
    confirm = key(page, f"cl_confirm_{b}").locator("button").first
    confirm.wait_for()
    wait_idle(page)
    label = confirm.inner_text()
    m = re.search(r"coding (\d+) of (\d+) segments", label)
    assert m, label
    kept, total = int(m.group(1)), int(m.group(2))
    # untick the best-fit member (first row) with the mouse: one more is left out
    grid = key(page, f"cl_keep_{b}").locator('[data-testid="stDataFrameResizable"]').first
    grid.scroll_into_view_if_needed()
    box = grid.bounding_box()
    page.mouse.click(box["x"] + 22, box["y"] + 35 + 17)  # the first row's "keep" cell
    page.keyboard.press("Space")  # toggles its tick box
    wait_idle(page)
    page.wait_for_function(
        f"() => (document.querySelector('.st-key-cl_confirm_{b} button') || {{}}).innerText?.includes('coding {kept - 1} of')"
    )
    page.screenshot(path=str(e2e_out / "cl_review_members.png"))
    key(page, f"cl_confirm_{b}").locator("button").first.click()
    wait_idle(page)
    page.wait_for_function(f"() => !document.querySelector('.st-key-cl_accept_{b}')")
    wait_idle(page)
    con = sqlite3.connect(project)
    try:
        theme = con.execute("SELECT id, parent_id FROM codes WHERE name = ?", (THEME,)).fetchone()
        code_b = con.execute("SELECT code_id FROM cluster_candidates WHERE id = ?", (b,)).fetchone()[0]
        parent_b = con.execute("SELECT parent_id FROM codes WHERE id = ?", (code_b,)).fetchone()[0]
    finally:
        con.close()
    assert theme is not None and theme[1] is None
    assert parent_b == theme[0]  # filed under the theme chosen, not at the top level
    con = sqlite3.connect(project)
    try:
        coded_b = con.execute("SELECT count(*) FROM codings WHERE code_id = ?", (code_b,)).fetchone()[0]
        best = con.execute("SELECT segment_id FROM cluster_members WHERE candidate_id = ? "
                           "ORDER BY score DESC, segment_id LIMIT 1", (b,)).fetchone()[0]
        best_coded = con.execute("SELECT 1 FROM codings WHERE code_id = ? AND segment_id = ?",
                                 (code_b, best)).fetchone()
    finally:
        con.close()
    assert coded_b == kept - 1 < total and best_coded is None  # the member unticked was left out
    # "Merge" with nothing chosen says what to do
    page.locator(f".st-key-cl_more_{c} summary").first.click()  # its tools are drawn when it opens
    key(page, f"cl_merge_{c}").wait_for()
    wait_idle(page)
    key(page, f"cl_merge_{c}").locator("button").first.click()
    wait_text(page, "Choose the candidates to merge into this one first")
    page.screenshot(path=str(e2e_out / "cl_merge_without_target.png"))
