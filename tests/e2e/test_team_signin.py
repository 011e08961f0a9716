"""Team mode in a real browser: a signed-out browser sees only the sign-in form (on every page address), a coder
and a lead sign in and see their name and role, sign-out returns to the form; the Project page lists the members,
read-only for a coder (and no blind-coding switch), with the lead's controls and the switch for the lead.
Screenshots of each state are written to the e2e output folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, new_tab, serve, wait_idle, wait_text
from tests.team_fixtures import PASSWORD, make_team_project

SECRET_TITLE = "Ward 7 feedback evaluation"


@pytest.fixture(scope="module")
def team_server(tmp_path_factory: pytest.TempPathFactory, e2e_out: Path) -> Iterator[Server]:
    tp = make_team_project(tmp_path_factory.mktemp("team-e2e"))
    from thematic.store import Store

    with Store(tp.path) as s:
        s.set_setting("title", SECRET_TITLE)
        s.set_setting("blind_mode", "1")
    with serve(tp.path, e2e_out / "team-server.log", env={"THEMATIC_FAKE_EMBEDDER": "1"},
               app_args=["--team", str(tp.team.path)]) as server:
        yield server


@pytest.fixture
def tab(browser: Any, team_server: Server) -> Iterator[Any]:
    yield from new_tab(browser)


def _signed_out(page: Any) -> None:
    page.get_by_role("button", name="Sign in").wait_for(state="visible")
    wait_idle(page)
    body = page.locator("body").inner_text()
    assert SECRET_TITLE not in body and "study" not in body
    assert page.get_by_text("Generate initial codes").count() == 0  # no navigation either
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0


def _sign_in(page: Any, name: str) -> None:
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_signed_out_browser_sees_only_the_sign_in_form(tab: Any, team_server: Server) -> None:
    for address in ("/", "/coders", "/audit", "/?project=study"):
        tab.goto(team_server.url + address)
        _signed_out(tab)


def test_coder_and_lead_sign_in_and_out(tab: Any, team_server: Server) -> None:
    for name, role in (("Ann", "coder"), ("Lee", "lead")):
        tab.goto(team_server.url)
        _signed_out(tab)
        _sign_in(tab, name)
        sidebar = tab.locator('[data-testid="stSidebar"]')
        wait_text(tab, f"Signed in as {name} ({role})", where=sidebar)
        wait_text(tab, SECRET_TITLE, where=sidebar)
        assert tab.get_by_role("button", name="Sign in").count() == 0
        sidebar.get_by_role("button", name="Sign out").click()
        wait_text(tab, "You have signed out.")
        _signed_out(tab)


def test_wrong_password_is_refused(tab: Any, team_server: Server) -> None:
    tab.goto(team_server.url)
    _signed_out(tab)
    tab.get_by_label("Name", exact=True).fill("Bob")
    tab.get_by_label("Password", exact=True).fill("not the password at all")
    tab.get_by_role("button", name="Sign in").click()
    wait_text(tab, "Wrong name or password.")
    assert tab.get_by_label("Password", exact=True).input_value() == ""  # what was typed does not linger
    _signed_out(tab)


def _members(page: Any) -> list[list[str]]:
    """The rows of the Members table on the Project page, as shown."""
    table = page.locator('[data-testid="stTable"] table').filter(has_text="Role").first
    table.wait_for(state="visible")
    return [[c.strip() for c in row.locator("td, th").all_inner_texts()] for row in table.locator("tbody tr").all()]


def _coders_page(page: Any) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name="Coders").click()
    wait_text(page, "Who coded what")


def test_members_list_and_blind_switch_by_role(tab: Any, team_server: Server, e2e_out: Path) -> None:
    tab.set_viewport_size({"width": 1300, "height": 1700})  # the whole Project page in one screenshot
    tab.goto(team_server.url)
    _signed_out(tab)
    tab.get_by_text("Password", exact=True).wait_for(state="visible")
    tab.screenshot(path=str(e2e_out / "team_signed_out.png"))

    _sign_in(tab, "Ann")
    main = tab.locator('[data-testid="stMain"]')
    wait_text(tab, "Members")
    rows = _members(tab)
    assert sorted(rows) == [["Ann", "coder"], ["Bob", "coder"], ["Lee", "lead"], ["Vic", "viewer"]]
    wait_text(tab, "You are a coder in this project")
    wait_text(tab, "Blind coding is on")
    assert main.get_by_text("Blind coding: coders see only their own codings").count() == 0  # no switch
    assert main.get_by_role("switch").count() == 0 and main.locator('input[type="checkbox"]').count() == 0
    assert main.get_by_role("tab", name="Change a role").count() == 0
    assert main.get_by_role("tab", name="New project").count() == 0
    assert main.get_by_role("button", name="Save settings").count() == 0
    tab.get_by_role("heading", name="Members").scroll_into_view_if_needed()
    tab.screenshot(path=str(e2e_out / "team_coder_project.png"))
    _coders_page(tab)
    wait_text(tab, "you see only your own codings (and no other coder)")
    assert main.locator('input[type="checkbox"]').count() == 0  # no blind switch here either
    assert main.get_by_text("Import a coder's spreadsheet").count() == 0
    tab.screenshot(path=str(e2e_out / "team_coder_coders.png"))
    tab.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
    wait_text(tab, "You have signed out.")

    _sign_in(tab, "Lee")
    wait_text(tab, "Members")
    assert sorted(_members(tab)) == sorted(rows)
    wait_text(tab, "Blind coding: coders see only their own codings")
    assert main.get_by_role("tab", name="Change a role").count() == 1
    assert main.get_by_role("tab", name="Remove a member").count() == 1
    assert main.get_by_role("button", name="Save settings").count() == 1
    tab.get_by_role("heading", name="Members").scroll_into_view_if_needed()
    tab.screenshot(path=str(e2e_out / "team_lead_project.png"))
    _coders_page(tab)
    wait_text(tab, "Blind coding", exact=True)
    assert main.locator('input[type="checkbox"]').count() >= 1
    tab.screenshot(path=str(e2e_out / "team_lead_coders.png"))
