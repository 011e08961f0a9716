"""The whole workbench in a real browser (Debian chromium through Playwright), on a fresh project:

import the demo workbook on the Project page (upload, mapping confirmed) → cluster on "3 Search for themes" with
the real model and accept a candidate → code a segment with a new code in phase 2 → build a theme with two
subthemes in the tree → download the tree SVG on the Report page and check it names them → check the project
file itself holds the codes and codings (every action was committed before the page answered).

A screenshot of each phase page is saved under ``test-output/e2e/``. Widgets are found by their Streamlit key
(the ``st-key-<key>`` class Streamlit puts on a keyed element; the keys are listed in ``ui/README.md``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import REPO, Server, retry, wait_idle, wait_text

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

DEMO = REPO / "thematic" / "data" / "cmt_workshop_evaluations.xlsx"
CODER = "e2e"
THEME = "Kindness towards ourselves"
NEW_CODE = "Breathing as an anchor"
ACCEPTED = "Compassion in practice"
LONG = 180_000  # ms: clustering with the real model on a busy 2-core machine


def key(page: Any, k: str) -> Any:
    """The element Streamlit rendered for the widget with ``key=k``."""
    return page.locator(f".st-key-{k}").first


def nav(page: Any, label: str, title: str) -> None:
    """Go to a page with the sidebar navigation (same session), and wait for its title."""

    def go() -> None:
        page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=label, exact=False).first.click()
        page.locator('[data-testid="stMain"] h1').filter(has_text=title).first.wait_for(timeout=60_000)
        wait_idle(page)

    retry(go, what=f"open {label}")


def shot(page: Any, out: Path, name: str) -> None:
    """A screenshot of the whole page (the main area scrolls inside the window, so the window is made tall)."""
    wait_idle(page)
    size = page.viewport_size
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], [data-testid=stMainBlockContainer]')]"
        ".map(e => e.scrollHeight), 800)"
    )
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 80, 6000)})
    try:
        page.screenshot(path=str(out / f"{name}.png"))
    finally:
        page.set_viewport_size(size)


def choose(page: Any, widget_key: str, option: str) -> None:
    """Pick ``option`` in the selectbox (a combobox) with key ``widget_key``: type to filter, click the option."""

    def pick() -> None:
        combo = key(page, widget_key).get_by_role("combobox")
        if combo.input_value() == option:
            return
        combo.click()
        combo.fill(option)
        page.get_by_role("option", name=option, exact=True).first.click(timeout=10_000)
        wait_idle(page)
        assert combo.input_value() == option, combo.input_value()

    def reset() -> None:
        page.keyboard.press("Escape")  # a half-typed filter is dropped; the widget keeps its value

    retry(pick, what=f"choose {option!r} in {widget_key}", between=reset)


def click(page: Any, widget_key: str) -> None:
    key(page, widget_key).locator("button").first.click()
    wait_idle(page)


def open_tab(page: Any, label: str) -> None:
    page.get_by_role("tab", name=label).first.click()
    wait_idle(page)


def test_browser_flow(page: Any, app_server: Server, e2e_out: Path) -> None:
    if not DEMO.exists():
        pytest.fail(f"{DEMO} is missing (examples/make_demo.py builds it)")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))

    # ------------------------------------------------------------ Project: upload the workbook, confirm, import
    page.goto(f"{app_server.url}/?coder={CODER}")
    wait_text(page, "Open:")
    upload = key(page, "project_upload").locator('input[type="file"]')
    upload.set_input_files(str(DEMO))
    # The preview shows the guessed roles (the mapping); importing confirms it.
    wait_text(page, "Check the guessed role of each column", timeout=60_000)
    key(page, "project_import").get_by_role("button").click()
    wait_text(page, "imported cmt_workshop_evaluations.xlsx", timeout=120_000)
    assert re.search(r"forms added\s+60\b", page.locator('[data-testid="stMain"]').inner_text()), "60 forms imported"
    shot(page, e2e_out, "0_project")

    nav(page, "1 Familiarise", "1 Familiarise")
    page.get_by_role("tab", name="By respondent").first.wait_for()
    shot(page, e2e_out, "1_familiarise")

    # ------------------------------------------------------------ 2: code a segment with a new code
    nav(page, "2 Generate initial codes", "2 Generate initial codes")
    wait_text(page, "You have coded")
    box = key(page, "ic_codes").locator("input").first
    box.click()
    box.fill(NEW_CODE)
    box.press("Enter")
    box.press("Escape")  # close the options list (it covers the buttons)
    key(page, "ic_apply").locator("button").first.click()
    wait_idle(page)
    wait_text(page, "Your codes here")
    key(page, f"ic_remove_{_code_id(app_server, NEW_CODE)}").wait_for(timeout=30_000)
    shot(page, e2e_out, "2_initial_codes")

    # ------------------------------------------------------------ 3: cluster with the real model, accept a candidate
    nav(page, "3 Search for themes", "3 Search for themes")
    accepted = _cluster_and_accept(page)
    shot(page, e2e_out, "3_themes_candidates")

    # ------------------------------------------------------------ 3: a theme with two subthemes
    open_tab(page, "Arrange the theme tree")
    key(page, "tree_new_name").locator("input").fill(THEME)
    key(page, "tree_new_name").locator("input").press("Enter")
    wait_idle(page)
    click(page, "tree_create")
    wait_text(page, f"Created '{THEME}'")
    for code in (accepted, NEW_CODE):
        choose(page, "tree_code", code)
        choose(page, "tree_parent", THEME)
        click(page, "tree_move")
        wait_text(page, f"Moved \u201c{code}\u201d under \u201c{THEME}\u201d")
        # Committed before the page answered: the file already has it, no polling.
        assert _parent_name(app_server, code) == THEME, f"{code!r} is under {THEME!r} in the project file"
    tree_md = page.locator('[data-testid="stMain"]').inner_text()
    assert THEME in tree_md and accepted in tree_md and NEW_CODE in tree_md
    shot(page, e2e_out, "3_themes_tree")

    nav(page, "4 Review themes", "4 Review themes")
    wait_text(page, "Respondents")
    shot(page, e2e_out, "4_review")

    nav(page, "5 Define and name", "5 Define and name")
    shot(page, e2e_out, "5_define")

    # ------------------------------------------------------------ 6: download the tree SVG
    nav(page, "6 Report", "6 Produce the report")
    shot(page, e2e_out, "6_report")
    open_tab(page, "Downloads")
    button = key(page, "rp_download_svg").get_by_role("button")
    button.wait_for(timeout=30_000)
    with page.expect_download(timeout=120_000) as dl_info:
        button.click()
    target = e2e_out / "theme_tree.svg"
    dl_info.value.save_as(str(target))
    svg_text = _svg_text(target)
    for name in (THEME, accepted, NEW_CODE):
        assert _norm(name) in svg_text, f"{name!r} not in the downloaded SVG: {svg_text[:500]}"

    nav(page, "Audit trail", "Audit")
    page.locator('[data-testid="stMain"] [data-testid="stDataFrame"]').first.wait_for(timeout=60_000)
    shot(page, e2e_out, "7_audit")

    # ------------------------------------------------------------ the file itself
    _check_store(app_server.project, accepted)
    assert not errors, f"JavaScript errors in the page: {errors}"


def _cluster_and_accept(page: Any) -> str:
    """Run the clustering (real model) and accept the first candidate under a name of ours; returns that name."""
    page.get_by_role("tab", name="Candidate themes").first.wait_for()
    key(page, "cl_run").locator("button").first.click()
    # The progress bar runs while the model embeds and clusters; the caption counting candidates ends it.
    wait_text(page, re.compile(r"\d+ candidates \(\d+ open, 0 accepted\)"), timeout=LONG)
    cid = page.evaluate(
        "() => { for (const e of document.querySelectorAll('[class*=st-key-cl_accept_]')) {"
        "  for (const c of e.classList) { const m = c.match(/^st-key-cl_accept_(\\d+)$/); if (m) return +m[1]; } }"
        "  return null; }"
    )
    assert cid, "a candidate card with an Accept button"
    name_box = key(page, f"cl_name_{cid}").locator("input")
    name_box.fill(ACCEPTED)
    name_box.press("Enter")
    wait_idle(page)
    key(page, f"cl_accept_{cid}").locator("button").first.click()
    key(page, f"cl_confirm_{cid}").locator("button").first.click()  # after reviewing its segments
    wait_text(page, f"Accepted \u201c{ACCEPTED}\u201d as a code")  # the page redraws: the card leaves the open list
    return ACCEPTED


def _code_id(server: Server, name: str) -> int:
    from thematic.store import Store

    with Store.open(server.project) as s:
        row = s.query_one("SELECT id FROM codes WHERE name = ?", (name,))
    assert row is not None, f"code {name!r} is not in the project file after the page answered"
    return int(row[0])


def _parent_name(server: Server, name: str) -> str | None:
    from thematic.store import Store

    with Store.open(server.project) as s:
        row = s.query_one(
            "SELECT p.name FROM codes c LEFT JOIN codes p ON p.id = c.parent_id WHERE c.name = ?", (name,)
        )
    return None if row is None else row[0]


def _norm(text: str) -> str:
    return " ".join(text.split()).casefold()


def _svg_text(path: Path) -> str:
    """All the text of the SVG (parsed with lxml: it must be well-formed), whitespace-normalised."""
    from lxml import etree

    root = etree.parse(str(path)).getroot()
    assert root.tag.endswith("svg"), root.tag
    # Long names may be wrapped over several <tspan>/<text> lines: join the words back up.
    return _norm(" ".join(t for t in root.itertext()))


def _check_store(project: Path, accepted: str) -> None:
    from thematic import codebook, coding, corpus
    from thematic.store import Store

    with Store.open(project) as s:
        assert corpus.count_segments(s) > 60, "the demo's segments are in the file"
        theme = codebook.find_code(s, [THEME])
        assert theme is not None, f"theme {THEME!r} is in the file"
        children = {c.name for c in codebook.list_codes(s) if c.parent_id == theme.id}
        assert {accepted, NEW_CODE} <= children, children
        mine = coding.codings(s, coder=CODER)
        assert mine, "the coder's codings are in the file"
        ids = {c.code_id for c in mine}
        for name in (accepted, NEW_CODE):
            code = codebook.find_code(s, [THEME, name])
            assert code is not None and code.id in ids, f"{name!r} has codings by {CODER}"
        actions = {e.action for e in s.audit_log(limit=500)}
        assert re.search(r"ingest|import", " ".join(actions)), actions
