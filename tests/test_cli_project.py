"""The CLI as a user runs it: a subprocess, one clear line and exit 2 on errors, no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from thematic.cli import main

REPO = Path(__file__).resolve().parents[1]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "thematic", *args], cwd=cwd, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )


def test_init_status_undo_log(tmp_path: Path) -> None:
    r = run("init", "p.db", "--title", "CMT evaluation", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    r = run("status", "p.db", cwd=tmp_path)
    assert r.returncode == 0
    assert "project: CMT evaluation" in r.stdout and "forms      0" in r.stdout
    r = run("log", "p.db", cwd=tmp_path)
    assert "Set title" in r.stdout


def test_errors_are_one_line_and_exit_2(tmp_path: Path) -> None:
    r = run("status", "missing.db", cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: no project at missing.db")
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "missing.db").exists()
    run("init", "p.db", cwd=tmp_path)
    r = run("init", "p.db", cwd=tmp_path)
    assert r.returncode == 2 and "already exists" in r.stderr
    (tmp_path / "q.db").write_text("not a database")
    r = run("status", "q.db", cwd=tmp_path)
    assert r.returncode == 2 and "not a thematic project" in r.stderr


def test_undo_until_nothing_left(tmp_path: Path, capsys) -> None:
    db = str(tmp_path / "p.db")
    assert main(["init", db]) == 0
    assert main(["undo", db]) == 0
    assert "undone: Set title" in capsys.readouterr().out
    assert main(["undo", db]) == 2
    assert "nothing to undo" in capsys.readouterr().err
    assert main(["redo", db]) == 0


def test_status_does_not_import_heavy_libraries(tmp_path: Path) -> None:
    run("init", "p.db", cwd=tmp_path)
    code = (
        "import sys; from thematic.cli import main; main(['status', 'p.db']); "
        "heavy = [m for m in ('torch', 'bertopic', 'sentence_transformers', 'spacy', 'umap', 'hdbscan', 'streamlit') "
        "if m in sys.modules]; print('HEAVY', heavy)"
    )
    r = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                       env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert "HEAVY []" in r.stdout, r.stdout + r.stderr
