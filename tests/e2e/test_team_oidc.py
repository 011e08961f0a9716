"""Team mode with the organisation's identity provider: Streamlit's ``st.login`` against a local OIDC provider
(``oidc-provider-mock``, in a thread), in a real browser. The provider says who the user is; the team's accounts
say their role, and an identity without an account is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import Server, free_port, new_tab, serve, wait_idle, wait_text
from thematic.team import User, add_member, create_project, init_team, open_project

oidc_mock = pytest.importorskip("oidc_provider_mock", reason="pip install -r requirements.txt (oidc-provider-mock)")
pytest.importorskip("authlib", reason="st.login needs Authlib")

ANN = "ann.coder@trust.example"
EVE = "eve.outsider@trust.example"


@pytest.fixture(scope="module")
def provider() -> Iterator[str]:
    users = [oidc_mock.User(sub=s, claims={"email": s, "name": s.split("@")[0]}) for s in (ANN, EVE)]
    with oidc_mock.run_server_in_thread(port=free_port(), user_claims=users) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def oidc_server(tmp_path_factory: pytest.TempPathFactory, e2e_out: Path, provider: str) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("team-oidc")
    team = init_team(root / "team", sign_in="oidc")
    team.add_user("Lee", "lead", "a long lead password")
    team.add_user(ANN, "coder", None)
    create_project(team, "study", User("Lee", "lead"), title="OIDC study")
    with open_project(team, "study", User("Lee", "lead")) as s:
        add_member(s, team, ANN, "coder")
    port = free_port()
    url = f"http://localhost:{port}"
    secrets = root / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "{url}/oauth2callback"\n'
        'cookie_secret = "a test cookie secret of decent length"\n'
        'client_id = "thematic-test"\n'
        'client_secret = "thematic-test-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
    )
    with serve(team.projects_dir / "study.db", e2e_out / "team-oidc-server.log", host="localhost", port=port,
               env={"THEMATIC_FAKE_EMBEDDER": "1", "NO_PROXY": "localhost,127.0.0.1"},
               streamlit_args=["--secrets.files", str(secrets)], app_args=["--team", str(team.path)]) as server:
        yield server


@pytest.fixture
def tab(browser: Any, oidc_server: Server) -> Iterator[Any]:
    yield from new_tab(browser)


def _login_as(tab: Any, server: Server, identity: str) -> None:
    tab.goto(server.url)
    button = tab.get_by_role("button", name="Sign in with your organisation's account")
    button.wait_for(state="visible")
    wait_idle(tab)
    assert "OIDC study" not in tab.locator("body").inner_text()
    assert tab.get_by_label("Password", exact=True).count() == 0  # no local passwords in this mode
    button.click()
    tab.get_by_role("button", name=identity).click()  # the provider's page: authorise this user


def test_an_account_signs_in_through_the_identity_provider(tab: Any, oidc_server: Server) -> None:
    _login_as(tab, oidc_server, ANN)
    sidebar = tab.locator('[data-testid="stSidebar"]')
    wait_text(tab, f"Signed in as {ANN} (coder)", where=sidebar)
    wait_text(tab, "OIDC study", where=sidebar)


def test_an_identity_without_an_account_is_refused(tab: Any, oidc_server: Server) -> None:
    _login_as(tab, oidc_server, EVE)
    wait_text(tab, f"{EVE} has no account in this team")
    assert "OIDC study" not in tab.locator("body").inner_text()
