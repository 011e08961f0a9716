"""Coding surfaces in a real browser (Debian chromium through Playwright), keyboard and mouse:

* Phase 2's code picker codes only what the analyst chose: the keys that used to select every code (Ctrl+Enter
  while the box has focus) or "Select 3 matches" (typing "Food" + Enter) now add nothing they did not point at;
  the project file is checked afterwards.
* Highlight-to-code: a span that is not a whole sentence is selected with the mouse and coded in vivo; its exact
  offsets are checked in the project file; clicking the coded span offers "Uncode", which removes it.

Screenshots are saved under ``test-output/e2e/`` (``hl_*.png``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, demo_with_codes, wait_idle, wait_text

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300), pytest.mark.usefixtures("fake_embedder")]

CODER = "kb"
CODES = ["Food quality", "Food portions", "Venue/Food and drink", "Practices/Breathing", "Kindness"]


@pytest.fixture(scope="module")
def project(fake_embedder: None, app_server: Server) -> Path:
    return demo_with_codes(app_server.project, CODES)


def codings(path: Path) -> list[tuple[Any, ...]]:
    con = sqlite3.connect(path)
    try:
        return con.execute(
            'SELECT s.id, s.answer_id, s.start, s."end", s.text, s.by_person, k.name, d.name '
            "FROM codings c JOIN segments s ON s.id = c.segment_id JOIN codes k ON k.id = c.code_id "
            "JOIN coders d ON d.id = c.coder_id ORDER BY c.id"
        ).fetchall()
    finally:
        con.close()


def segment_id(page: Any) -> int:
    cap = page.get_by_text("Segment ", exact=False).filter(has_text=" · id ").first.inner_text()
    return int(cap.split(" · id ")[1].split(" ")[0])


def test_keyboard_coding_codes_only_what_was_chosen(page: Any, app_server: Server, project: Path,
                                                    e2e_out: Path) -> None:
    page.goto(f"{app_server.url}/initial_codes?coder={CODER}")
    wait_text(page, "You have coded")
    first = segment_id(page)
    box = page.locator(".st-key-ic_codes input").first
    box.click()
    box.type("Kindness")
    box.press("Enter")  # the one code named exactly so
    page.locator(".st-key-ic_codes .chip", has_text="Kindness").first.wait_for()
    wait_idle(page)
    box.press("Control+Enter")  # the keys that used to select every code: now "Apply and next"
    wait_idle(page)
    page.wait_for_function(f"() => !document.body.innerText.includes('· id {first} ·')")
    wait_idle(page)
    second = segment_id(page)
    assert second != first
    box = page.locator(".st-key-ic_codes input").first
    page.keyboard.type("Food")  # no click: after "Apply and next" the cursor is back in the picker
    # three codes contain "Food": Enter used to pick "Select 3 matches"
    page.keyboard.press("Enter")
    page.locator(".st-key-ic_codes").get_by_text("3 codes contain", exact=False).wait_for()
    page.screenshot(path=str(e2e_out / "hl_picker_food_enter.png"))
    box.press("Control+Enter")  # nothing chosen: stays on the segment and says so, codes nothing
    wait_idle(page)
    page.get_by_text("Nothing picked: choose a code first", exact=False).wait_for()
    assert segment_id(page) == second
    page.locator(".st-key-ic_next button").first.click()  # Next skips
    wait_idle(page)
    page.wait_for_function(f"() => !document.body.innerText.includes('· id {second} ·')")
    wait_idle(page)
    box = page.locator(".st-key-ic_codes input").first
    third = segment_id(page)
    box.click()
    box.type("Food")
    box.press("ArrowDown")
    box.press("ArrowDown")  # the second match, chosen with the arrow keys
    box.press("Enter")
    page.locator(".st-key-ic_codes .chip", has_text="Food portions").first.wait_for()
    wait_idle(page)
    box.press("Control+Enter")
    wait_idle(page)
    page.wait_for_function(f"() => !document.body.innerText.includes('· id {third} ·')")
    wait_idle(page)
    page.screenshot(path=str(e2e_out / "hl_picker_done.png"))
    got = [(r[0], r[6], r[7]) for r in codings(project)]
    assert got == [(first, "Kindness", CODER), (third, "Food portions", CODER)], got


def _drag_over(page: Any, answer_index: int, needle: str) -> None:
    """Select ``needle`` inside the answer's text with a real mouse drag (first char to last char)."""
    coords = page.evaluate(
        """([idx, needle]) => {
          const div = document.querySelectorAll('.thl-text')[idx];
          const walker = document.createTreeWalker(div, NodeFilter.SHOW_TEXT);
          let n;
          while ((n = walker.nextNode())) {
            const i = n.textContent.indexOf(needle);
            if (i >= 0) {
              const r1 = document.createRange(); r1.setStart(n, i); r1.setEnd(n, i + 1);
              const r2 = document.createRange(); r2.setStart(n, i + needle.length - 1); r2.setEnd(n, i + needle.length);
              const a = r1.getBoundingClientRect(), b = r2.getBoundingClientRect();
              return [a.left + 1, a.top + a.height / 2, b.right - 1, b.top + b.height / 2];
            }
          }
          return null;
        }""",
        [answer_index, needle],
    )
    assert coords is not None, needle
    page.mouse.move(coords[0], coords[1])
    page.mouse.down()
    page.mouse.move(coords[2], coords[3], steps=8)
    page.mouse.up()


def test_highlight_a_span_code_it_in_vivo_and_uncode_it_by_clicking(page: Any, app_server: Server, project: Path,
                                                                    e2e_out: Path) -> None:
    page.goto(f"{app_server.url}/initial_codes?coder=hl")
    wait_text(page, "You have coded")
    page.locator(".st-key-ic_mode").get_by_text("Highlight in whole answers").click()
    wait_text(page, "Select words with the mouse")
    con = sqlite3.connect(project)
    aid, text = con.execute(
        "SELECT a.id, a.text FROM answers a JOIN questions q ON q.id = a.question_id "
        "ORDER BY a.form_id, q.position LIMIT 1"
    ).fetchone()
    seg_bounds = con.execute('SELECT start, "end" FROM segments WHERE answer_id = ?', (aid,)).fetchall()
    con.close()
    needle = "flows of compassion"
    start = text.index(needle)
    assert (start, start + len(needle)) not in seg_bounds  # not a whole sentence
    _drag_over(page, 0, needle)
    wait_text(page, "Selected")
    page.screenshot(path=str(e2e_out / "hl_selected.png"))
    page.locator(".st-key-hl_invivo button").click()
    wait_text(page, f"Coded \u201c{needle}\u201d")
    page.screenshot(path=str(e2e_out / "hl_coded.png"))
    rows = [r for r in codings(project) if r[7] == "hl"]
    assert [(r[1], r[2], r[3], r[4], r[5], r[6]) for r in rows] == [(aid, start, start + len(needle), needle, 1, needle)]
    # the coded text is drawn in its code's colour; a click on it offers to uncode
    page.locator(".thl-text span.coded", has_text=needle).first.click()
    seg = rows[0][0]
    uncode = page.locator(".st-key-hl_uncode_box button").first
    uncode.wait_for()
    page.screenshot(path=str(e2e_out / "hl_click_to_uncode.png"))
    uncode.click()
    wait_text(page, "Uncoded.")
    assert [r for r in codings(project) if r[7] == "hl"] == []
    con = sqlite3.connect(project)
    assert con.execute("SELECT 1 FROM segments WHERE id = ?", (seg,)).fetchone() is None  # the span row went too
    con.close()
