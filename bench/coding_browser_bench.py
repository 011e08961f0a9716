"""Browser-side time of the coding surfaces' main clicks at 10,000 segments: click to repaint, in Debian chromium.

    python bench/coding_browser_bench.py            # 8 runs each; needs /usr/bin/chromium and bench/coding_bench.py's
                                                    # cached project (it builds it if missing)

Each figure is from the user's action to the page showing its result (Streamlit idle again and the expected text
drawn): code a highlighted span in vivo; uncode it by clicking it then "Uncode"; drop a code onto another and
put it under. Target: p95 <= 1000 ms. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import coding_bench

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, _kill_group, _wait_healthy, free_port, wait_idle

TARGET_MS = 1000.0


def p95(xs: list[float]) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, math.ceil(0.95 * len(s)) - 1)]


def drag_over(page: Any, needle: str) -> None:
    c = page.evaluate(
        """(needle) => { for (const div of document.querySelectorAll('.thl-text')) {
          const w = document.createTreeWalker(div, NodeFilter.SHOW_TEXT); let n;
          while ((n = w.nextNode())) { const i = n.textContent.indexOf(needle); if (i >= 0) {
            const a = document.createRange(); a.setStart(n, i); a.setEnd(n, i + 1);
            const b = document.createRange(); b.setStart(n, i + needle.length - 1); b.setEnd(n, i + needle.length);
            const r1 = a.getBoundingClientRect(), r2 = b.getBoundingClientRect();
            return [r1.left + 1, r1.top + r1.height / 2, r2.right - 1, r2.top + r2.height / 2]; } } } return null; }""",
        needle,
    )
    page.mouse.move(c[0], c[1])
    page.mouse.down()
    page.mouse.move(c[2], c[3], steps=4)
    page.mouse.up()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=8)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    from thematic.store import Store

    src = coding_bench.ensure_project()
    tmp = Path(tempfile.mkdtemp(prefix="coding_browser_"))
    project = tmp / "p.db"
    shutil.copy(src, project)
    with Store.open(project) as s:
        n_segments = int(s.scalar("SELECT count(*) FROM segments"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, THEMATIC_PROJECT=str(project), THEMATIC_FAKE_EMBEDDER="1", HF_HUB_OFFLINE="1")
    log = open(tmp / "server.log", "wb")  # noqa: SIM115 (closed in the finally below)
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"],
        cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    results: dict[str, list[float]] = {"code a highlighted span (in vivo)": [], "uncode it (click, Uncode)": [],
                                       "tree: drop onto a code, put under": []}
    try:
        _wait_healthy(url, proc, timeout=120)
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
            page = b.new_page(viewport={"width": 1400, "height": 1100})
            page.set_default_timeout(60_000)
            page.goto(f"{url}/initial_codes?coder=bb")
            page.get_by_text("You have coded").first.wait_for()
            wait_idle(page)
            page.locator(".st-key-ic_mode").get_by_text("Highlight in whole answers").click()
            page.get_by_text("Select words with the mouse").first.wait_for()
            wait_idle(page)
            for i in range(args.runs):
                words = page.locator(".thl-text").first.inner_text().split()
                needle = " ".join(words[1:3]) if len(words) >= 3 else words[0]
                drag_over(page, needle)
                try:
                    page.locator(".st-key-hl_invivo button").first.wait_for(timeout=15_000)
                except Exception:
                    page.screenshot(path=str(REPO / "test-output" / "coding_browser_bench_fail.png"))
                    raise
                wait_idle(page)
                t = time.perf_counter()
                page.locator(".st-key-hl_invivo button").first.click()
                page.locator(".thl-margin div", has_text=needle).first.wait_for()
                wait_idle(page)
                results["code a highlighted span (in vivo)"].append((time.perf_counter() - t) * 1000)
                page.locator(".thl-text span.coded", has_text=needle).first.click()
                btn = page.locator(".st-key-hl_uncode_box button").first
                btn.wait_for()
                wait_idle(page)
                t = time.perf_counter()
                btn.click()
                page.locator(".st-key-hl_uncode_box").wait_for(state="detached")
                wait_idle(page)
                results["uncode it (click, Uncode)"].append((time.perf_counter() - t) * 1000)
                page.locator(".st-key-hl_next button").first.click()
                page.get_by_text(f"Form {i + 2:,} of").first.wait_for()
                wait_idle(page)
            page.goto(f"{url}/themes?coder=bb")
            page.get_by_role("tab", name="Arrange the theme tree").first.click()
            page.locator(".ttree .row").first.wait_for()
            wait_idle(page)
            for i in range(args.runs):
                rows = page.locator(".ttree .row")
                src_row, dst_row = rows.nth(2 * i + 3), rows.nth(0)
                name = src_row.locator(".name").inner_text()
                box = dst_row.bounding_box()
                src_row.drag_to(dst_row, target_position={"x": 60, "y": box["height"] / 2})
                page.locator(".st-key-tree_drop_under button").first.wait_for()
                wait_idle(page)
                t = time.perf_counter()
                page.locator(".st-key-tree_drop_under button").first.click()
                page.get_by_text(f"Moved \u201c{name}\u201d under").first.wait_for()
                wait_idle(page)
                results["tree: drop onto a code, put under"].append((time.perf_counter() - t) * 1000)
            b.close()
    finally:
        _kill_group(proc)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    out: dict[str, Any] = {"segments": n_segments, "runs": args.runs, "target_ms": TARGET_MS, "clicks": {}}
    print(f"\n{'click to repaint (browser)':45} {'p50 ms':>8} {'p95 ms':>8}  target {TARGET_MS:.0f}")
    for name, ms in results.items():
        row = {"p50": round(statistics.median(ms), 1), "p95": round(p95(ms), 1), "n": len(ms)}
        out["clicks"][name] = row
        print(f"{name:45} {row['p50']:8.1f} {row['p95']:8.1f}  {'ok' if row['p95'] <= TARGET_MS else 'MISS'}")
    print(json.dumps(out))


if __name__ == "__main__":
    main()
