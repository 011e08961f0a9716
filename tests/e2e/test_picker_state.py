"""The code picker's browser-side state belongs to one segment: chips chosen (or left) on one segment are never
carried into the next segment's picker, whichever way the analyst moved on (Next without applying, "Apply and
next", Previous), so nothing is coded on a segment that the analyst did not choose for it. Checked in a real
browser (Debian chromium) against the project file."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, demo_with_codes, wait_idle, wait_text

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300), pytest.mark.usefixtures("fake_embedder")]

CODER = "ps"
CODES = ["Kindness", "Food portions", "Venue/Room"]


@pytest.fixture(scope="module")
def project(fake_embedder: None, app_server: Server) -> Path:
    return demo_with_codes(app_server.project, CODES)


def codings(path: Path) -> list[tuple[int, str]]:
    con = sqlite3.connect(path)
    try:
        return [(int(r[0]), str(r[1])) for r in con.execute(
            "SELECT c.segment_id, k.name FROM codings c JOIN codes k ON k.id = c.code_id JOIN coders d "
            "ON d.id = c.coder_id WHERE d.name = ? ORDER BY c.id", (CODER,))]
    finally:
        con.close()


def segment_id(page: Any) -> int:
    cap = page.get_by_text("Segment ", exact=False).filter(has_text=" · id ").first.inner_text()
    return int(cap.split(" · id ")[1].split(" ")[0])


def chips(page: Any) -> list[str]:
    return [t.replace("\u00d7", "").strip() for t in page.locator(".st-key-ic_codes .chip").all_inner_texts()]


def pick(page: Any, name: str) -> None:
    box = page.locator(".st-key-ic_codes input").first
    box.click()
    box.type(name)
    box.press("Enter")
    page.locator(".st-key-ic_codes .chip", has_text=name).first.wait_for()
    wait_idle(page)


def moved_from(page: Any, old: int) -> int:
    page.wait_for_function(f"() => !document.body.innerText.includes('· id {old} ·')")
    wait_idle(page)
    new = segment_id(page)
    assert new != old
    return new


def test_chips_never_follow_the_analyst_to_another_segment(page: Any, app_server: Server, project: Path) -> None:
    page.goto(f"{app_server.url}/initial_codes?coder={CODER}")
    wait_text(page, "You have coded")
    first = segment_id(page)
    pick(page, "Kindness")
    assert chips(page) == ["Kindness"]
    page.locator(".st-key-ic_next button").first.click()  # skipped without applying
    second = moved_from(page, first)
    assert chips(page) == []
    pick(page, "Food portions")
    assert chips(page) == ["Food portions"]  # not Kindness as well
    page.locator(".st-key-ic_apply_next button").first.click()
    third = moved_from(page, second)
    assert chips(page) == []
    pick(page, "Room")
    page.locator(".st-key-ic_prev button").first.click()  # back, leaving a chip unapplied
    back = moved_from(page, third)
    assert back == second and chips(page) == []
    pick(page, "Kindness")
    page.locator(".st-key-ic_apply button").first.click()  # Apply: stays, picker emptied
    wait_idle(page)
    page.locator(".st-key-ic_codes .chip").first.wait_for(state="detached")
    assert segment_id(page) == second and chips(page) == []
    assert codings(project) == [(second, "Food portions"), (second, "Kindness")]


def test_chips_survive_a_colleagues_coding_appearing_above_the_picker(page: Any, app_server: Server,
                                                                       project: Path) -> None:
    """Another coder codes the segment on screen while this analyst picks: the rerun that follows the pick draws
    "Other coders: …" above the picker. What the analyst picked stays shown, and Apply codes exactly that."""
    from thematic import codebook, coding
    from thematic.store import Store

    page.goto(f"{app_server.url}/initial_codes?coder={CODER}")
    wait_text(page, "You have coded")
    here = segment_id(page)
    with Store(project) as s:
        coding.apply_code(s, here, codebook.find_code(s, "Venue/Room").id, "colleague")  # type: ignore[union-attr]
    pick(page, "Kindness")  # its rerun now also shows the colleague's coding above the picker
    page.get_by_text("Other coders:", exact=False).first.wait_for()
    wait_idle(page)
    assert chips(page) == ["Kindness"]
    page.locator(".st-key-ic_apply button").first.click()
    wait_idle(page)
    page.locator(".st-key-ic_codes .chip").first.wait_for(state="detached")
    assert (here, "Kindness") in codings(project)


def test_the_sidebar_names_a_coding_at_once(page: Any, app_server: Server, project: Path) -> None:
    """The sidebar's Undo part is rerun with the coding panel after a coding, not on its 10-second timer: its
    Undo names the coding just made, and the rest of the sidebar (its phase links) stays as it was."""
    page.goto(f"{app_server.url}/initial_codes?coder={CODER}")
    wait_text(page, "You have coded")
    here = segment_id(page)
    pick(page, "Kindness")
    page.locator(".st-key-ic_apply_next button").first.click()
    moved_from(page, here)  # the panel's run is over: the sidebar was drawn in the same run, no timer waited for
    side = page.locator('[data-testid="stSidebar"]')
    side.get_by_text(f"Code segment {here} with 1 code(s)").first.wait_for(timeout=1_000)
    # the phase links of its status are still links (navigation + status: two of each)
    assert side.get_by_role("link", name="4 Review themes").count() == 2
