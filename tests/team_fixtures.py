"""A small team for the team-mode tests: lead Lee, coders Ann and Bob, viewer Vic, one project with a corpus."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers import SMALL, make_corpus
from thematic.store import Store
from thematic.team import Team, User, add_member, create_project, init_team, open_project
from thematic.team.store import TeamStore

PASSWORD = "correct horse battery staple"
LEAD, ANN, BOB, VIC = User("Lee", "lead"), User("Ann", "coder"), User("Bob", "coder"), User("Vic", "viewer")


@dataclass
class TeamProject:
    team: Team
    path: Path
    segments: dict[tuple[str, str, int], int]

    def open(self, user: User) -> TeamStore:
        return open_project(self.team, "study", user)


_ACCOUNTS: dict[str, str] = {}  # the accounts file made once per test run (argon2 hashing is slow on purpose)


def make_team_project(root: Path) -> TeamProject:
    team = init_team(root / "team")
    if not _ACCOUNTS:
        for u in (LEAD, ANN, BOB, VIC):
            team.add_user(u.name, u.role, PASSWORD)
        _ACCOUNTS["text"] = team.accounts_file.read_text(encoding="utf-8")
    else:
        team.accounts_file.write_text(_ACCOUNTS["text"], encoding="utf-8")
    path = create_project(team, "study", LEAD, title="Study")
    with Store(path) as plain:  # the corpus goes in as a set-up step outside team mode
        segs = make_corpus(plain, SMALL)
    with open_project(team, "study", LEAD) as lead:
        for u in (ANN, BOB, VIC):
            add_member(lead, team, u.name, u.role)
    return TeamProject(team, path, segs)


def team_env(tmp_path: Path, monkeypatch: Any) -> TeamProject:
    """A team project, with the app pointed at its team (hashing embedder, no single project named)."""
    tp = make_team_project(tmp_path)
    monkeypatch.setenv("THEMATIC_TEAM", str(tp.team.path))
    monkeypatch.setenv("THEMATIC_FAKE_EMBEDDER", "1")
    monkeypatch.delenv("THEMATIC_PROJECT", raising=False)
    return tp
