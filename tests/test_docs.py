"""The README tells the truth: every CLI command is documented there and answers ``--help``, and its Layout lists
exactly what is in the tree."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from thematic.cli import build_parser

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else len(README)]


def _commands() -> list[str]:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(sub.choices)


def _layout() -> tuple[set[str], set[str]]:
    """Names the Layout block lists at the top level of the repository, and inside thematic/."""
    block = _section("Layout").split("```")[1]
    top: set[str] = set()
    inner: set[str] = set()
    for line in block.splitlines():
        if not line.strip():
            continue
        names = re.split(r"\s{2,}", line.strip())[0]
        for name in (n.strip() for n in names.split(",")):
            (inner if line.startswith("  ") else top).add(name)
    return top, inner


def test_the_cli_has_commands() -> None:
    assert {"init", "ingest", "export", "undo"} <= set(_commands())


@pytest.mark.parametrize("command", _commands())
def test_every_command_is_documented_and_has_help(command: str) -> None:
    text = _section("Command line")
    assert re.search(rf"(`|python -m thematic ){re.escape(command)}[` \n]", text), (
        f"'{command}' is not in the README's Command line section"
    )
    done = subprocess.run([sys.executable, "-m", "thematic", command, "--help"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: python -m thematic {command}")


def test_layout_lists_every_module_and_package_of_thematic_and_nothing_else() -> None:
    pkg = REPO / "thematic"
    actual = {
        p.name + ("/" if p.is_dir() else "")
        for p in pkg.iterdir()
        if (p.suffix == ".py" and not p.name.startswith("__")) or (p.is_dir() and (p / "__init__.py").exists())
    }
    _, listed = _layout()
    assert listed == actual, f"README Layout lists {sorted(listed - actual)} not in thematic/; " \
        f"misses {sorted(actual - listed)}"


def test_layout_lists_the_top_level_of_the_repository() -> None:
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    actual = {f.split("/")[0] + "/" for f in tracked if "/" in f and not f.startswith(".")}
    actual |= {f for f in tracked if "/" not in f and f.endswith(".py")}
    top, _ = _layout()
    assert top == actual, f"README Layout lists {sorted(top - actual)} not in the repository; misses {sorted(actual - top)}"


def test_no_developer_machine_paths_or_tracker_words_in_tracked_files() -> None:
    pattern = r"(/work/|/home/[a-z]|/Users/[A-Za-z]|\bissue [0-9]+\b|\(H[0-9]+b?\))"
    found = subprocess.run(["git", "grep", "-nIE", pattern, "--", ".", ":!tests/test_docs.py"], cwd=REPO,
                           capture_output=True, text=True).stdout
    assert found == "", found
