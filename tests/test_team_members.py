"""Each project lists its members; leads add, remove and change roles there (library and Project page), coders
and viewers see the list read-only; only a lead sees or uses the blind-coding switch (page and library)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import APP, TIMEOUT
from tests.team_fixtures import ANN, BOB, LEAD, VIC, TeamProject, team_env
from thematic import reliability
from thematic.errors import InvalidInput
from thematic.team import PermissionDenied, add_member, members, remove_member, set_member_role
from ui import signin


@pytest.fixture
def tp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TeamProject:
    tp = team_env(tmp_path, monkeypatch)
    return tp


def _roles(tp: TeamProject) -> dict[str, str]:
    with tp.open(LEAD) as s:
        return {m.name: m.role for m in members(s)}


def _app(user: object, page: str = "views/project.py") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[signin.USER_KEY] = (user.name, user.role)  # type: ignore[attr-defined]
    at.session_state[signin.SEEN_KEY] = time.time()
    at.run()
    if page != "views/project.py":
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _keys(at: AppTest) -> set[str]:
    return {w.key for kind in (at.toggle, at.button, at.selectbox, at.text_input) for w in kind if w.key}


# ---------------------------------------------------------------------- library


def test_lead_adds_changes_and_removes_members_each_undoable(tp: TeamProject) -> None:
    assert _roles(tp) == {"Lee": "lead", "Ann": "coder", "Bob": "coder", "Vic": "viewer"}
    with tp.open(LEAD) as s:
        set_member_role(s, tp.team, "Bob", "viewer")
        assert {m.name: m.role for m in members(s)}["Bob"] == "viewer"
        event = s.audit_log(limit=1)[0]
        assert (event.actor, event.action, event.summary) == ("Lee", "project.members",
                                                            "Change Bob's role from coder to viewer")
        s.undo()
        assert {m.name: m.role for m in members(s)}["Bob"] == "coder"
        remove_member(s, "Ann")
        assert "Ann" not in {m.name for m in members(s)}
        s.undo()
        assert {m.name: m.role for m in members(s)}["Ann"] == "coder"
        with pytest.raises(InvalidInput, match="Vic is a viewer in the team and cannot be a coder"):
            set_member_role(s, tp.team, "Vic", "coder")
        with pytest.raises(InvalidInput, match="only lead"):
            remove_member(s, "Lee")
        with pytest.raises(InvalidInput, match="only lead"):
            set_member_role(s, tp.team, "Lee", "coder")
    assert _roles(tp) == {"Lee": "lead", "Ann": "coder", "Bob": "coder", "Vic": "viewer"}


@pytest.mark.parametrize("user", [ANN, VIC], ids=["coder", "viewer"])
def test_coders_and_viewers_cannot_change_members_or_reveal(tp: TeamProject, user: object) -> None:
    with tp.open(LEAD) as s:
        reliability.set_blind_mode(s, True)
    with tp.open(user) as s:  # type: ignore[arg-type]
        for attempt in (lambda: add_member(s, tp.team, "Bob", "viewer"),
                        lambda: set_member_role(s, tp.team, "Bob", "viewer"),
                        lambda: remove_member(s, "Bob"),
                        lambda: reliability.set_blind_mode(s, False),
                        lambda: s.set_setting("blind_mode", "0")):
            with pytest.raises(PermissionDenied, match="only a lead"):
                attempt()
        # Writing the table directly (a page that forgot the library) is refused by the connection's guards too.
        with pytest.raises(PermissionDenied), s.action("memo.add", "sneak") as act:
            act.execute("UPDATE project_members SET role = 'lead' WHERE name = ?", (s.user.name,))
        assert reliability.blind_mode(s)
    assert _roles(tp) == {"Lee": "lead", "Ann": "coder", "Bob": "coder", "Vic": "viewer"}


# ---------------------------------------------------------------------- pages


def _members_table(at: AppTest) -> list[tuple[str, str]]:
    for d in at.table:
        if list(d.value.columns) == ["Name", "Role"]:
            return [(str(r[0]), str(r[1])) for r in d.value.itertuples(index=False)]
    raise AssertionError(f"no members table on the page: {[e.value for e in at.error]}")


@pytest.mark.parametrize("user, manages", [(LEAD, True), (ANN, False), (BOB, False), (VIC, False)],
                         ids=["lead", "coder-ann", "coder-bob", "viewer"])
def test_project_page_lists_members_and_only_a_lead_manages_them(tp: TeamProject, user: object,
                                                                 manages: bool) -> None:
    at = _app(user)
    assert sorted(_members_table(at)) == [("Ann", "coder"), ("Bob", "coder"), ("Lee", "lead"), ("Vic", "viewer")]
    keys = _keys(at)
    lead_only = {"project_blind", "project_title", "project_member_role_name", "project_member_remove_name"}
    if manages:
        assert lead_only <= keys
    else:
        assert not lead_only & keys, lead_only & keys
        assert any(f"You are a **{user.role}** in this project" in c.value for c in at.caption)  # type: ignore[attr-defined]
        assert not at.error


@pytest.mark.parametrize("user, lead", [(LEAD, True), (ANN, False), (VIC, False)], ids=["lead", "coder", "viewer"])
def test_coders_page_shows_the_blind_switch_to_leads_only(tp: TeamProject, user: object, lead: bool) -> None:
    with tp.open(LEAD) as s:
        reliability.set_blind_mode(s, True)
    at = _app(user, "views/coders.py")
    assert ("coders_blind" in _keys(at)) is lead
    assert ("coders_import_coder" in _keys(at)) is lead  # importing and merging codings is the lead's
    assert any("Blind" in c.value and "**on**" in c.value for c in at.caption)


def test_lead_changes_a_role_and_removes_a_member_on_the_page(tp: TeamProject) -> None:
    at = _app(LEAD)
    at.selectbox(key="project_member_role_name").set_value("Bob")
    at.selectbox(key="project_member_role_to").set_value("viewer")
    at.button(key="project_member_role_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert _roles(tp)["Bob"] == "viewer"
    assert ("Bob", "viewer") in _members_table(at)
    at.selectbox(key="project_member_remove_name").set_value("Ann")
    at.button(key="project_member_remove_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert "Ann" not in _roles(tp)
    assert any("Removed Ann" in s.value for s in at.success)


def test_lead_adds_an_account_of_the_team_on_the_page(tp: TeamProject) -> None:
    with tp.open(LEAD) as s:
        remove_member(s, "Vic")
    at = _app(LEAD)
    assert at.selectbox(key="project_member_add_name").options == ["Vic (viewer in the team)"]
    at.selectbox(key="project_member_add_role").set_value("coder")  # capped at the account's role
    at.button(key="project_member_add_go").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert _roles(tp)["Vic"] == "viewer"
    assert any("Added Vic as viewer" in s.value for s in at.success)


def test_project_page_names_only_the_users_projects_and_no_server_path(tp: TeamProject) -> None:
    from thematic.team import create_project

    create_project(tp.team, "secret-ward", LEAD)  # Ann is not a member of it
    at = _app(ANN)
    assert at.selectbox(key="project_target").options == ["study"]
    lead = _app(LEAD)
    assert lead.selectbox(key="project_target").options == ["secret-ward", "study"]
    for page in (at, lead):
        shown = "\n".join(str(m.value) for m in page.markdown)
        assert str(tp.team.projects_dir) not in shown
        assert "project_new_name" not in _keys(page)  # team projects are made on the server (team create-project)


@pytest.mark.parametrize("user, lead", [(LEAD, True), (ANN, False), (VIC, False)], ids=["lead", "coder", "viewer"])
def test_audit_page_offers_undoing_anyones_change_to_leads_only(tp: TeamProject, user: object, lead: bool) -> None:
    at = _app(user, "views/audit.py")
    assert ("audit_undo_all_confirm" in {c.key for c in at.checkbox}) is lead
    assert any("Your changes" in m.value for m in at.markdown)


def test_membership_is_read_again_after_every_change_even_within_one_clock_tick(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Who may open which project is cached per file; a change of members must never be served stale."""
    from thematic.team import Team, TeamStore, User, add_member, create_project, init_team, remove_member
    from thematic.team.projects import members_in_file

    team = init_team(tmp_path / "team")
    for name, role in (("Lee", "lead"), ("Ann", "coder")):
        team.add_user(name, role, "a long enough password")
    path = team.projects_dir / "p.db"
    lead = User("Lee", "lead")
    create_project(Team(team.path), "p", lead)
    with TeamStore(path, lead) as store:
        for _ in range(20):  # add and remove at once, again and again: each answer must be the file's
            add_member(store, team, "Ann", "coder")
            assert "Ann" in [m.name for m in members_in_file(path)]
            remove_member(store, "Ann")
            assert "Ann" not in [m.name for m in members_in_file(path)]
