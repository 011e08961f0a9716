"""The code type-checks and lints clean: mypy and ruff (configured in pyproject.toml) report nothing on the library
(thematic/) nor on the app (app.py, the shared ui/ and the page scripts in views/)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKED = ("thematic", "app.py", "ui", "views")  # mypy's `files` in pyproject.toml names the same


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_mypy_finds_no_error_in_the_library_nor_the_app() -> None:
    done = _run("mypy", "--no-incremental", "--cache-dir", "/dev/null", *CHECKED)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_finds_nothing_in_the_library_nor_the_app() -> None:
    done = _run("ruff", "check", "--no-cache", *CHECKED)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_package_is_marked_typed() -> None:
    assert (ROOT / "thematic" / "py.typed").is_file()
