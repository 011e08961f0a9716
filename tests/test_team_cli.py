"""``python -m thematic team ...``: the team folder, accounts (argon2id hashes), members and online backups."""

from __future__ import annotations

import json
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.team_fixtures import ANN, LEAD, PASSWORD, make_team_project
from thematic import codebook, coding
from thematic.cli import main
from thematic.store import Store
from thematic.team import Team, init_team
from thematic.team.sessions import SignInGuard, idle_expired

REPO = Path(__file__).resolve().parents[1]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "thematic", *args], cwd=REPO, capture_output=True, text=True,
                          input=stdin, timeout=300)


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


def test_init_makes_an_owner_only_folder_and_refuses_a_second_time(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "team"
    assert main(["team", "init", str(folder), "--idle-minutes", "15"]) == 0
    assert mode(folder) == 0o700 and mode(folder / "projects") == 0o700
    assert mode(folder / "accounts.json") == 0o600 and mode(folder / "team.json") == 0o600
    assert json.loads((folder / "accounts.json").read_text())["users"] == {}
    assert Team(folder).idle_minutes == 15
    before = (folder / "accounts.json").read_bytes()
    assert main(["team", "init", str(folder)]) == 2
    assert "already a team folder" in _error_line(capsys)
    assert (folder / "accounts.json").read_bytes() == before
    assert main(["team", "list", str(tmp_path / "nowhere")]) == 2
    assert "not a team folder" in _error_line(capsys)


def test_add_user_stores_an_argon2id_hash_never_the_password(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "team"
    init_team(folder)
    pw = tmp_path / "pw.txt"
    pw.write_text("a long enough secret\n")
    assert main(["team", "add-user", str(folder), "Ann", "--role", "lead", "--password-file", str(pw)]) == 0
    text = (folder / "accounts.json").read_text()
    assert "a long enough secret" not in text
    assert json.loads(text)["users"]["Ann"]["hash"].startswith("$argon2id$")
    assert mode(folder / "accounts.json") == 0o600
    team = Team(folder)
    assert team.verify("Ann", "a long enough secret") == LEAD.__class__("Ann", "lead")
    assert team.verify("Ann", "a long enough secreT") is None
    assert team.verify("Nobody", "a long enough secret") is None
    before = (folder / "accounts.json").read_bytes()
    # Refusals: one line, exit 2, the accounts file exactly as it was.
    short = tmp_path / "short.txt"
    short.write_text("tiny\n")
    cases = [
        (["add-user", str(folder), "ann", "--role", "coder", "--password-file", str(pw)], "already exists"),
        (["add-user", str(folder), "Bob", "--role", "coder", "--password-file", str(short)], "at least 10"),
        (["add-user", str(folder), "Bob", "--role", "coder", "--password-file", str(tmp_path / "no")], "cannot read"),
        (["add-user", str(folder), "a/b", "--role", "coder", "--password-file", str(pw)], "not a usable name"),
        (["remove-user", str(folder), "Ann"], "only lead"),
        (["remove-user", str(folder), "Zed"], "no user named"),
    ]
    for args, message in cases:
        assert main(["team", *args]) == 2, args
        assert message in _error_line(capsys)
        assert (folder / "accounts.json").read_bytes() == before


def test_add_user_without_a_terminal_asks_for_a_password_file(tmp_path: Path) -> None:
    init_team(tmp_path / "team")
    r = run("team", "add-user", str(tmp_path / "team"), "Ann", "--role", "coder", stdin="")
    assert r.returncode == 2 and r.stderr.strip() == "error: no terminal to read a password from: use --password-file FILE"
    r = run("team", "add-user", str(tmp_path / "team"), "Ann", "--role", "coder", "--password-file", "-",
            stdin="piped in password\n")
    assert r.returncode == 0 and Team(tmp_path / "team").verify("Ann", "piped in password") is not None


def test_list_members_and_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tp = make_team_project(tmp_path)
    folder = str(tp.team.path)
    assert main(["team", "list", folder]) == 0
    out = capsys.readouterr().out
    assert "Ann" in out and "coder" in out and "study: Ann (coder), Bob (coder), Lee (lead), Vic (viewer)" in out
    assert PASSWORD not in out and "$argon2" not in out
    assert main(["team", "remove-member", folder, "study", "Vic", "--as", "Lee"]) == 0
    assert main(["team", "add-member", folder, "study", "Vic", "--as", "Ann"]) == 2
    assert "Ann is a coder: only a lead may do 'project.members'" in _error_line(capsys)
    assert main(["team", "create-project", folder, "second", "--as", "Ann"]) == 2
    assert "only a lead may do 'project.create'" in _error_line(capsys)
    assert main(["team", "create-project", folder, "../escape", "--as", "Lee"]) == 2
    assert not (tmp_path / "team" / "escape.db").exists()
    assert main(["team", "remove-user", folder, "Ann"]) == 0
    assert Team(folder).account("Ann") is None


def test_backup_while_another_connection_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tp = make_team_project(tmp_path)
    with tp.open(LEAD) as s:
        code = codebook.add_code(s, "Breathing")
    writer = tp.open(ANN)  # an open session, its latest change still in the WAL
    coding.apply_code(writer, tp.segments[("F1", "Q1", 0)], code, "Ann")
    other = sqlite3.connect(tp.path, isolation_level=None)
    try:  # another writer is half-way through a transaction while the backup runs
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO coders (name, created_at) VALUES ('Uncommitted', 'now')")
        assert main(["team", "backup", str(tp.team.path), str(tmp_path / "backups")]) == 0
        other.execute("ROLLBACK")
    finally:
        other.close()
    writer.close()
    out = capsys.readouterr().out
    assert "backed up 1 project(s)" in out
    (folder,) = (tmp_path / "backups").iterdir()
    assert mode(folder) == 0o700 and mode(folder / "projects" / "study.db") == 0o600
    assert mode(folder / "accounts.json") == 0o600
    with Store.open(folder / "projects" / "study.db") as copy:
        assert [(c.coder, c.code_id) for c in coding.codings(copy)] == [("Ann", code)]
        assert copy.audit_log(limit=1)[0].actor == "Ann"
        assert coding.coders(copy) == ["Ann"]  # committed work only
    assert main(["team", "backup", str(tp.team.path), str(tp.team.path / "inside")]) == 2
    assert "outside the team folder" in _error_line(capsys)


def test_sign_in_guard_backs_off_per_name_and_per_session() -> None:
    now = [1000.0]
    guard = SignInGuard(free=3, base=2.0, ceiling=60.0, clock=lambda: now[0])
    for _ in range(3):
        assert guard.wait_for("Ann", "s1") == 0
        guard.failed("Ann", "s1")
    assert guard.wait_for("Ann", "s1") == 2.0
    assert guard.wait_for("ANN", "another browser") == 2.0  # the name is throttled from any browser
    assert guard.wait_for("Bob", "s1") == 2.0  # and this browser for any name
    assert guard.wait_for("Bob", "s2") == 0
    now[0] += 2.0
    guard.failed("Ann", "s1")
    assert guard.wait_for("Ann", "s3") == 4.0
    for _ in range(10):
        guard.failed("Ann", "s1")
    assert guard.wait_for("Ann", "s3") == 60.0  # capped
    guard.succeeded("Ann", "s1")
    assert guard.wait_for("Ann", "s1") == 0 and guard.failures("Ann") == 0


def test_idle_expiry() -> None:
    assert not idle_expired(0.0, 29 * 60.0, 30)
    assert idle_expired(0.0, 30 * 60.0 + 1, 30)
    assert ANN.name == "Ann"


def test_identity_provider_accounts_have_no_password(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "team"
    assert main(["team", "init", str(folder), "--sign-in", "oidc"]) == 0
    assert Team(folder).sign_in == "oidc"
    assert main(["team", "add-user", str(folder), "Ann@Trust.example", "--role", "coder", "--no-password"]) == 0
    team = Team(folder)
    assert json.loads(team.accounts_file.read_text())["users"]["Ann@Trust.example"]["hash"] == ""
    assert team.verify("Ann@Trust.example", "") is None and team.verify("Ann@Trust.example", "x" * 12) is None
    assert team.identity("ann@trust.example") == ANN.__class__("Ann@Trust.example", "coder")
    assert team.identity("someone@else.example") is None
    with pytest.raises(SystemExit) as exc:  # argparse refuses an unknown method (usage line, exit 2)
        main(["team", "init", str(tmp_path / "t2"), "--sign-in", "kerberos"])
    assert exc.value.code == 2 and not (tmp_path / "t2").exists()


def test_idle_time_can_be_changed_and_bad_values_are_refused(tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "team"
    init_team(folder)
    assert main(["team", "settings", str(folder), "--idle-minutes", "5"]) == 0
    assert Team(folder).idle_minutes == 5
    before = (folder / "team.json").read_bytes()
    assert main(["team", "settings", str(folder), "--idle-minutes", "0"]) == 2
    assert "between 1 minute and 24 hours" in _error_line(capsys)
    assert (folder / "team.json").read_bytes() == before and mode(folder / "team.json") == 0o600
