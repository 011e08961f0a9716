"""The app in team mode (AppTest): only the sign-in form before sign-in, wrong passwords throttled, idle sessions
signed out, the signed-in user's project opened with their role."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import APP, TIMEOUT
from tests.team_fixtures import PASSWORD, TeamProject, team_env
from thematic import codebook
from ui import signin


@pytest.fixture
def tp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> TeamProject:
    tp = team_env(tmp_path, monkeypatch)
    signin._guard.clear()
    return tp


def _text(at: AppTest) -> str:
    parts = [e.value for e in (*at.markdown, *at.caption, *at.title, *at.error, *at.info, *at.sidebar.markdown)]
    return "\n".join(str(p) for p in parts)


def _sign_in(at: AppTest, name: str, password: str) -> AppTest:
    at.text_input(key="team_signin_name").input(name)
    at.text_input(key="team_signin_password").input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def test_signed_out_session_sees_only_the_sign_in_form(tp: TeamProject) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert [t.key for t in at.text_input] == ["team_signin_name", "team_signin_password"]
    assert "Study" not in _text(at) and "study" not in _text(at)
    assert len(at.sidebar.button) == 0 and len(at.selectbox) == 0


def test_wrong_passwords_are_refused_then_throttled(tp: TeamProject) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    for _ in range(3):
        _sign_in(at, "Ann", "not the password")
        assert [e.value for e in at.error] == ["Wrong name or password."]
    _sign_in(at, "Ann", PASSWORD)  # even the right password waits out the backoff
    assert "Too many wrong passwords" in at.error[0].value
    assert signin.USER_KEY not in at.session_state


def test_sign_in_opens_the_project_in_the_users_role_and_sign_out_forgets_it(tp: TeamProject) -> None:
    at = _sign_in(AppTest.from_file(APP, default_timeout=TIMEOUT).run(), "Ann", PASSWORD)
    assert at.session_state[signin.USER_KEY] == ("Ann", "coder")
    assert at.session_state["coder"] == "Ann"
    assert any("Signed in as **Ann** (coder)" in c.value for c in at.sidebar.caption)
    store = at.session_state[signin.STORE_KEY][1]
    assert store.user.name == "Ann" and store.user.role == "coder" and store.path.endswith("study.db")
    with pytest.raises(Exception, match="only a lead"):
        codebook.delete_code(store, codebook.add_code(store, "Mine"))
    at.sidebar.button(key="team_signout").click().run()
    assert signin.USER_KEY not in at.session_state and signin.STORE_KEY not in at.session_state
    assert [t.key for t in at.text_input] == ["team_signin_name", "team_signin_password"]


def test_idle_session_is_signed_out(tp: TeamProject) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.session_state[signin.USER_KEY] = ("Lee", "lead")
    at.session_state[signin.SEEN_KEY] = time.time() - 31 * 60  # the team's default idle time is 30 minutes
    at.run()
    assert signin.USER_KEY not in at.session_state
    assert any("Signed out after 30 minutes without activity" in i.value for i in at.info)
    assert [t.key for t in at.text_input] == ["team_signin_name", "team_signin_password"]


def test_removed_account_is_signed_out_at_its_next_click(tp: TeamProject) -> None:
    at = _sign_in(AppTest.from_file(APP, default_timeout=TIMEOUT).run(), "Bob", PASSWORD)
    assert at.session_state[signin.USER_KEY] == ("Bob", "coder")
    tp.team.remove_user("Bob")
    at.run()
    assert signin.USER_KEY not in at.session_state
    assert [t.key for t in at.text_input] == ["team_signin_name", "team_signin_password"]


def test_server_wide_caches_are_keyed_by_reader(tp: TeamProject) -> None:
    """Pages cache reads server-wide under ui.store.version(); in team mode two readers must never share a key,
    or a coder would be served what the lead (or another coder) was allowed to read while blind."""
    from tests.team_fixtures import ANN, BOB, LEAD
    from thematic.store import Store

    with tp.open(ANN) as ann, tp.open(BOB) as bob, tp.open(LEAD) as lead, Store(tp.path) as plain:
        scopes = {signin.cache_scope(s) for s in (ann, bob, lead)}
        assert len(scopes) == 3
        assert signin.cache_scope(plain) == str(tp.path)


def test_team_mode_never_opens_or_creates_a_file_outside_the_team(tp: TeamProject, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.db"
    script = f"""
import streamlit as st
from ui import signin, store as ui_store
st.session_state[signin.USER_KEY] = ("Ann", "coder")
for target in ("elsewhere", {str(outside)!r}):
    try:
        ui_store.open_project(target)
        st.write("opened")
    except Exception as exc:
        st.write("refused: " + str(exc))
"""
    probe = AppTest.from_string(script, default_timeout=TIMEOUT).run()
    assert not probe.exception
    said = [m.value for m in probe.markdown]
    assert len(said) == 2 and all(m.startswith("refused: ") for m in said), said
    assert "'elsewhere' is not a project of this team open to Ann" in said[0]
    assert not outside.exists()
