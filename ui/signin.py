"""Team mode for the app: sign-in first, idle expiry, sign-out, and the project opened for the signed-in user.

``streamlit run app.py -- --team TEAM_DIR`` (or ``THEMATIC_TEAM=TEAM_DIR``) turns it on; without it every function
here is a no-op and the app is the single-user workbench it always was.

* :func:`gate` runs at the top of ``app.py``, before navigation: until this browser session has signed in it draws
  only the sign-in form (no project, title or page name) and stops the script.
* Wrong passwords are throttled per name and per browser session with exponential backoff
  (:class:`thematic.team.sessions.SignInGuard`, one per server); the message never says whether the name exists.
* A session idle for the team's ``idle_minutes`` (``team init --idle-minutes``) is signed out: on its next click,
  and by a timer that blanks the page even if nobody clicks.
* With ``team init --sign-in oidc`` the form is replaced by Streamlit's ``st.login`` (OIDC, e.g. Microsoft Entra
  ID, configured in ``.streamlit/secrets.toml``); the e-mail address the provider vouches for must be an account
  of the team, which gives the role.
* :func:`current_user` is the signed-in :class:`~thematic.team.User` (the coder name in team mode);
  :func:`team_store` is the project opened for them (:class:`~thematic.team.TeamStore`: permissions and blind
  coding enforced in the library).
* Sign-ins, failures, throttling, idle sign-outs and sign-outs are logged (logger ``thematic.team``, never a
  password) to the server's log.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import streamlit as st

from thematic.errors import ThematicError
from thematic.team import Team, TeamStore, User, visible_projects
from thematic.team.permissions import allowed
from thematic.team.projects import project_path, role_in
from thematic.team.sessions import SignInGuard, idle_expired

log = logging.getLogger("thematic.team")
USER_KEY = "_team_user"
SEEN_KEY = "_team_last_seen"
SID_KEY = "_team_sid"
STORE_KEY = "_team_store"
NOTE_KEY = "_team_note"
WATCH_EVERY = 30  # seconds between idle checks while the page just sits there


def team_dir() -> Path | None:
    """The team folder this server serves (``--team DIR`` or ``THEMATIC_TEAM``), or None in single-user mode."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--team", default=None)
    try:
        args, _ = parser.parse_known_args(sys.argv[1:])
    except SystemExit:
        args = argparse.Namespace(team=None)
    chosen = args.team or os.environ.get("THEMATIC_TEAM")
    return Path(chosen).expanduser().resolve() if chosen else None


@st.cache_resource
def _guard(team: str) -> SignInGuard:
    return SignInGuard()


def current_user() -> User | None:
    """The signed-in user of this browser session (None in single-user mode or before sign-in)."""
    raw = st.session_state.get(USER_KEY)
    return User(raw[0], raw[1]) if raw else None


def _sid() -> str:
    if SID_KEY not in st.session_state:
        st.session_state[SID_KEY] = secrets.token_hex(16)
    return str(st.session_state[SID_KEY])


def sign_out(reason: str = "") -> None:
    """Forget everything this browser session held (user, open project, choices) and show the sign-in form."""
    user = current_user()
    store = st.session_state.get(STORE_KEY)
    if store is not None:
        store[1].close()
    sid = st.session_state.get(SID_KEY)
    for key in list(st.session_state.keys()):
        del st.session_state[key]
    if sid:
        st.session_state[SID_KEY] = sid  # the throttle keeps counting this browser
    if reason:
        st.session_state[NOTE_KEY] = reason
    if user is not None:
        log.info("sign-out user=%s reason=%s", user.name, reason or "asked")
    if _oidc_logged_in():
        st.logout()  # forget the identity provider's cookie too; signing in again goes through the provider


def _sign_in_form(team: Team) -> None:
    st.title("thematic")
    st.caption("Team workbench. Sign in to continue.")
    note = st.session_state.pop(NOTE_KEY, None)
    if note:
        st.info(note, icon=":material/logout:")
    with st.form("team_signin", clear_on_submit=True):  # no password lingers in the page or the session
        name = st.text_input("Name", key="team_signin_name", autocomplete="username")
        password = st.text_input("Password", type="password", key="team_signin_password",
                                 autocomplete="current-password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if not submitted:
        return
    name = name.strip()
    guard, sid = _guard(str(team.path)), _sid()
    wait = guard.wait_for(name, sid)
    if wait > 0:
        log.warning("sign-in throttled user=%s wait=%.0fs", name, wait)
        st.error(f"Too many wrong passwords. Try again in {int(wait) + 1} seconds.", icon=":material/timer:")
        return
    try:
        user = team.verify(name, password) if name and password else None
    except ThematicError as exc:
        log.error("sign-in impossible: %s", exc)
        st.error("Sign-in is not available: the server's accounts file cannot be read.", icon=":material/error:")
        return
    if user is None:
        guard.failed(name, sid)
        log.warning("sign-in failed user=%s failures=%d", name, guard.failures(name))
        st.error("Wrong name or password.", icon=":material/error:")
        return
    guard.succeeded(name, sid)
    st.session_state.pop("team_signin_password", None)
    _signed_in(user, "password")


def _signed_in(user: User, how: str) -> None:
    st.session_state[USER_KEY] = (user.name, user.role)
    st.session_state[SEEN_KEY] = time.time()
    st.session_state["coder"] = user.name  # the coder name in team mode is the signed-in name
    log.info("sign-in user=%s role=%s via=%s", user.name, user.role, how)
    st.rerun()


def _oidc_logged_in() -> bool:
    try:
        return bool(st.user.is_logged_in)
    except Exception:  # st.login is not configured ([auth] in secrets.toml)
        return False


def _oidc_sign_in(team: Team) -> None:
    """Sign-in through the organisation's identity provider (``st.login``); the role still comes from the team's
    accounts, matched by the e-mail address (or user name) the provider vouches for."""
    st.title("thematic")
    st.caption("Team workbench. Sign in with your organisation's account to continue.")
    note = st.session_state.pop(NOTE_KEY, None)
    if note:
        st.info(note, icon=":material/logout:")
    if not _oidc_logged_in():
        if st.button("Sign in with your organisation's account", type="primary", key="team_oidc_signin"):
            st.login()
        return
    identity = str(st.user.get("email") or st.user.get("preferred_username") or st.user.get("sub") or "")
    user = team.identity(identity) if identity else None
    if user is None:
        log.warning("sign-in refused identity=%s (no account in the team)", identity)
        st.error(f"{identity or 'This account'} has no account in this team: ask the team's administrator.",
                 icon=":material/error:")
        if st.button("Sign out of the identity provider", key="team_oidc_signout"):
            st.logout()
        return
    _signed_in(user, "oidc")


def _sign_in_page() -> None:
    folder = team_dir()
    if folder is not None:
        team = Team(folder)
        if team.sign_in == "oidc":
            _oidc_sign_in(team)
        else:
            _sign_in_form(team)


@st.fragment(run_every=WATCH_EVERY)
def _idle_watch(minutes: float) -> None:
    """Sign an idle page out without waiting for a click (this timer does not count as activity)."""
    if current_user() is not None and idle_expired(float(st.session_state.get(SEEN_KEY, 0)), time.time(), minutes):
        st.rerun(scope="app")


def gate() -> User | None:
    """Team mode: the signed-in user, after drawing the sign-out control; before sign-in, the sign-in form only
    (the script stops there). Single-user mode: None, and nothing is drawn."""
    folder = team_dir()
    if folder is None:
        return None
    try:
        team = Team(folder)
    except ThematicError as exc:
        st.error(f"The team folder cannot be used: {exc}", icon=":material/error:")
        st.stop()
    user = current_user()
    if user is not None:
        account = team.account(user.name)
        if account is None or account.role != user.role:
            sign_out("Your account was changed by the team's administrator: sign in again.")
            user = None
        elif idle_expired(float(st.session_state.get(SEEN_KEY, 0)), time.time(), team.idle_minutes):
            log.info("idle sign-out user=%s after %.0f minutes", user.name, team.idle_minutes)
            sign_out(f"Signed out after {team.idle_minutes:g} minutes without activity.")
            user = None
    if user is None:
        # A navigation of one hidden page replaces the workbench's pages, so that a browser that was signed in
        # (or types a page's address) is shown no page names either.
        st.navigation([st.Page(_sign_in_page, title="Sign in", url_path="signin", default=True)],
                      position="hidden").run()
        st.stop()
    assert user is not None
    st.session_state[SEEN_KEY] = time.time()
    st.session_state["coder"] = user.name
    with st.sidebar:
        st.caption(f"Signed in as **{user.name}** ({user.role})")
        if st.button("Sign out", key="team_signout", icon=":material/logout:"):
            sign_out("You have signed out.")
            st.rerun()
        _idle_watch(team.idle_minutes)
    return user


def team() -> Team | None:
    """The team this server serves (None in single-user mode)."""
    folder = team_dir()
    return None if folder is None else Team(folder)


def visible_project_names() -> list[str]:
    """The projects the signed-in user may open (empty when nobody is signed in or in single-user mode)."""
    folder, user = team_dir(), current_user()
    return [] if folder is None or user is None else visible_projects(Team(folder), user)


def project_role(store: Any) -> str | None:
    """The signed-in user's role in the open project (``lead``, ``coder``, ``viewer``), None in single-user mode."""
    user = getattr(store, "user", None)
    return user.role if isinstance(store, TeamStore) and isinstance(user, User) else None


def may(store: Any, action: str) -> bool:
    """Whether the page should offer ``action`` (always in single-user mode). Only a courtesy: the library checks
    the permission again when the action starts (:class:`~thematic.team.TeamStore`)."""
    role = project_role(store)
    return role is None or allowed(role, action)


def cache_scope(store: Any) -> str:
    """What server-wide caches of a project's reads must be keyed by: the file, and in team mode also who reads
    it (a coder's reads are filtered while blind, so one user's cached result must never be served to another)."""
    user = getattr(store, "user", None)
    return f"{store.path}|{user.name}|{user.role}" if isinstance(user, User) else str(store.path)


def team_path(path: str | Path) -> Path:
    """``path`` if it is a team project the signed-in user may open; :class:`ThematicError` otherwise (team mode
    never opens or creates a file elsewhere: leads create projects with ``team create-project``)."""
    folder, user = team_dir(), current_user()
    if folder is None or user is None:
        raise ThematicError("not signed in")
    team = Team(folder)
    p = Path(path).expanduser().resolve()
    if p.parent != team.projects_dir.resolve() or p.stem not in visible_projects(team, user):
        raise ThematicError(f"'{p.stem}' is not a project of this team open to {user.name}")
    return p


def team_store(path: str | Path) -> TeamStore:
    """The project at ``path`` opened for the signed-in user (their role in it, blind coding enforced); the
    user's first project when ``path`` is not one of theirs. One connection per browser session."""
    folder, user = team_dir(), current_user()
    if folder is None or user is None:
        raise ThematicError("not signed in")
    team = Team(folder)
    names = visible_projects(team, user)
    p = Path(path).expanduser().resolve()
    name = p.stem if p.parent == team.projects_dir.resolve() and p.stem in names else None
    if name is None:
        if not names:
            raise ThematicError("no project is open to you yet: ask a lead to add you to one")
        name = names[0]
        st.session_state["project_name"] = name  # the tab's project (ui.store.NAME_KEY), named in the address
        st.query_params["project"] = name
    role = role_in(team, name, user)
    held: tuple[tuple[str, str, str], TeamStore] | None = st.session_state.get(STORE_KEY)
    key = (str(project_path(team, name)), user.name, role)
    if held is not None and held[0] == key:
        return held[1]
    if held is not None:
        held[1].close()
    store = TeamStore(key[0], User(user.name, role))
    st.session_state[STORE_KEY] = (key, store)
    return store
