"""No raw read of a project file drops SQLite's locks (thematic.projectfile). POSIX locks belong to a process:
closing any descriptor of a file releases all of the process's locks on it. The checks below hold a project open
in this process the way the team server does (a session's connection in the middle of a read), run every path that
looks at a project file (opening it again, the team's member list, a merge's source), and then
let another process do what the CLI or a second server may do at that moment:

* close its own connection: with this process's locks gone it believes it is the last one, checkpoints and
  deletes the write-ahead log under this process's open connections;
* checkpoint with TRUNCATE: with the reader's lock gone it resets the log under a reader mid-read.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from thematic import codebook, merge, projectfile
from thematic.store import Store
from thematic.team import projects as team_projects

OTHER = r"""
import sqlite3, sys
c = sqlite3.connect(sys.argv[1], timeout=0)
c.execute("PRAGMA busy_timeout = 0")
if sys.argv[2] == "close":
    c.execute("SELECT count(*) FROM audit").fetchone()
    c.close()
    print("closed")
else:
    c.execute("INSERT INTO project (key, value) VALUES ('other', 'process') "
              "ON CONFLICT (key) DO UPDATE SET value = excluded.value")
    c.commit()
    print(c.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0])
"""


def _other(path: Path, what: str) -> str:
    out = subprocess.run([sys.executable, "-c", OTHER, str(path), what], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def _look_at_it_every_way(path: Path) -> None:
    Store.open(path).close()  # another session opening it (the header check)
    team_projects.members_in_file(path)  # the team's member list
    merge._open_other(path).close()  # a merge reading it as its source
    projectfile.check_project_file(path)


def test_another_process_never_deletes_the_log_under_open_connections(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    with Store(path) as store:
        codebook.add_code(store, "Kindness")
        _look_at_it_every_way(path)
        assert Path(f"{path}-wal").exists()
        assert _other(path, "close") == "closed"
        # still there: this process's connection still holds the file, so the other was not the last one
        assert Path(f"{path}-wal").exists() and Path(f"{path}-shm").exists()
        codebook.add_code(store, "Food portions")
    with Store.open(path) as again:
        assert {c.name for c in codebook.list_codes(again)} >= {"Kindness", "Food portions"}


def test_a_reader_mid_read_keeps_the_log_from_being_reset(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    with Store(path) as store:
        codebook.add_code(store, "Kindness")
        reader = projectfile.connect(path)
        try:
            reader.execute("BEGIN")
            reader.execute("SELECT count(*) FROM codes").fetchone()  # a read snapshot: its lock on the log
            _look_at_it_every_way(path)
            assert _other(path, "checkpoint") == "1"  # busy: the reader's lock still stands
            assert reader.execute("SELECT count(*) FROM codes").fetchone()[0] == 1
            reader.execute("COMMIT")
        finally:
            reader.close()


def test_a_file_is_held_exactly_while_a_connection_is_open(tmp_path: Path) -> None:
    path = tmp_path / "p.db"
    assert not projectfile.held(path)
    with Store(path):
        assert projectfile.held(path) and projectfile.read_head(path) is None  # never read raw while held
        with Store.open(path):
            pass
        assert projectfile.held(path)  # the first is still open
    assert not projectfile.held(path)
    assert projectfile.read_head(path, 16) == b"SQLite format 3\x00"
