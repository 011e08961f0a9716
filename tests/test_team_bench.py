"""The team load benchmark's websocket driver end to end, briefly: two signed-in sessions coding over Streamlit's
websocket with each pick and click sent back to back (the case where a pick used to be lost), a lead restructuring
and a workbook import meanwhile. Nothing acknowledged is missing from the file, nothing is in it that no click
acknowledged, no segment is coded twice by one Apply, a click that a fragment's timer also delivers acts once
(``--stray``, ui/patches.py), and the audit log replays. Keeps the driver working when
Streamlit's protocol moves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(400)]

REPO = Path(__file__).resolve().parents[1]


def test_two_sessions_over_the_websocket_lose_nothing() -> None:
    proc = subprocess.run(
        [sys.executable, "bench/team_bench.py", "--sessions", "2", "--seconds", "8", "--idle", "1", "--race",
         "--stray", "--writer-seconds", "0.3"],
        cwd=REPO, capture_output=True, text=True, timeout=360,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["driver"] == "ws" and summary["race"] is True and summary["stray"] is True
    # every click was also carried by a timer rerun first (as Streamlit's frontend does when its timer fires
    # before the click's flush): it must still act once, and no page may say "Nothing picked" after a pick
    assert summary["nothing_picked"] == 0
    assert summary["stopped_early"] == 0 and summary["errors"] == 0
    assert summary["clicks"] > 0 and summary["acknowledged"] == summary["clicks"]
    assert summary["missing"] == 0 and summary["unacknowledged"] == 0 and summary["applied_twice"] == 0
    assert summary["replays"] is True
    # the single-writer probe ran at every level and committed codings
    assert [w["writers"] for w in summary["writer"]] == [1, 2, 4, 8, 16]
    assert all(w["per_s"] > 0 for w in summary["writer"])
