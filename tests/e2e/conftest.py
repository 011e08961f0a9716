"""Fixtures for the real-browser end-to-end test: a Streamlit server on a fresh project, and Debian's chromium.

* ``app_server`` starts ``streamlit run app.py`` in its own process group on a free port, with
  ``THEMATIC_PROJECT`` pointing at a new project file and ``HF_HUB_OFFLINE=1``; it waits for
  ``/_stcore/health`` and always kills the whole group afterwards. The server log is kept in
  ``test-output/e2e/server.log``.
* ``browser`` launches ``/usr/bin/chromium`` through Playwright (Playwright's own browser download is not used).
  When chromium is missing the test is skipped locally with the command that installs it, and FAILS when the
  ``CI`` environment variable is set: CI must run it (``scripts/ensure_chromium.sh`` installs it there).
* Streamlit-aware waits (:func:`wait_idle`, :func:`wait_text`) instead of sleeps.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "test-output" / "e2e"
CHROMIUM = Path(os.environ.get("THEMATIC_E2E_CHROMIUM", "/usr/bin/chromium"))  # override for other layouts
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = "apt-get update -qq && apt-get install -y -qq chromium chromium-driver (or scripts/ensure_chromium.sh)"


def _unavailable(reason: str) -> None:
    """Skip locally; fail in CI, where the browser test must run."""
    if os.environ.get("CI"):
        pytest.fail(f"e2e test cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    project: Path
    log: Path
    proc: subprocess.Popen[bytes]

    def log_tail(self, n: int = 60) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {proc.returncode} before it was healthy")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.25)
    raise RuntimeError(f"streamlit not healthy after {timeout:.0f}s (last error: {last})")


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def fake_embedder() -> Iterator[None]:
    """The tiny hashing embedder for a module's app server (the test is about the page, not about the model); use it
    with ``pytest.mark.usefixtures("fake_embedder")`` so it is set before the server starts."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("THEMATIC_FAKE_EMBEDDER", "1")
        yield


@pytest.fixture(scope="module")
def e2e_out() -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    for old in [*OUT.glob("*.png"), *OUT.glob("*.svg")]:  # screenshots are of this run only
        old.unlink()
    return OUT


@contextmanager
def serve(project: Path, log: Path, *, env: dict[str, str], host: str = "127.0.0.1", port: int | None = None,
          app_args: Sequence[str] = (), streamlit_args: Sequence[str] = ()) -> Iterator[Server]:
    """``streamlit run app.py`` in its own process group on a free port, with ``env`` on top of this process's
    (``THEMATIC_PROJECT`` only if ``env`` names it); waits for ``/_stcore/health`` and always kills the group."""
    port = port or free_port()
    url = f"http://{host}:{port}"
    full = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", STREAMLIT_BROWSER_GATHER_USAGE_STATS="false",
                PYTHONUNBUFFERED="1")
    full.pop("THEMATIC_PROJECT", None)
    full.update(env)
    cmd = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", host,
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
        *streamlit_args,
    ] + (["--", *app_args] if app_args else [])  # fmt: skip
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, env=full, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    server = Server(url=url, project=project, log=log, proc=proc)
    try:
        try:
            _wait_healthy(url, proc, timeout=90)
        except RuntimeError as exc:
            pytest.fail(f"{exc}\n--- server log ---\n{server.log_tail()}", pytrace=False)
        yield server
    finally:
        _kill_group(proc)


@pytest.fixture(scope="module")
def app_server(tmp_path_factory: pytest.TempPathFactory, e2e_out: Path) -> Iterator[Server]:
    project = tmp_path_factory.mktemp("e2e") / "e2e.db"
    with serve(project, e2e_out / "server.log", env={"THEMATIC_PROJECT": str(project)}) as server:
        yield server


def new_tab(browser: Any) -> Iterator[Any]:
    """A fresh browser context (its own cookies) and page, closed afterwards: one signed-in person."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing; install it with: {INSTALL_HINT}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed (pip install -r requirements.txt)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    rep = yield
    setattr(item, f"rep_{rep.when}", rep)
    return rep


@pytest.fixture
def page(request: pytest.FixtureRequest, browser: Any, app_server: Server, e2e_out: Path) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context.set_default_timeout(30_000)
    pg = context.new_page()
    try:
        yield pg
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            try:  # what the page looked like when the test failed, and the server's last words
                pg.screenshot(path=str(e2e_out / f"FAILED_{request.node.name}.png"), full_page=True)
            except Exception:
                pass
            print(f"--- server log (last lines) ---\n{app_server.log_tail()}")
        context.close()


# ---------------------------------------------------------------------------------------------------------- waits


def demo_with_codes(path: Path, codes: Sequence[str]) -> Path:
    """The demo forms and a few codes, written before the first page asks for the project."""
    from thematic import codebook
    from thematic.demo import create_demo_project
    from thematic.store import Store

    create_demo_project(path)
    with Store(path) as s:
        for code in codes:
            codebook.ensure_path(s, code, actor="setup")
    return path


def wait_idle(page: Any, timeout: float = 60_000) -> None:
    """Wait until Streamlit is connected and no script run is in progress (the "Running..." widget is gone).

    A click starts a rerun asynchronously, so callers follow this with a wait for the text they expect."""
    page.wait_for_selector('[data-testid="stApp"][data-test-connection-state="CONNECTED"]', timeout=timeout)
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=timeout)
    page.locator('[data-testid="stStatusWidgetRunningIcon"]').first.wait_for(state="hidden", timeout=timeout)


def wait_text(
    page: Any, text: str | re.Pattern[str], timeout: float = 60_000, *, exact: bool = False, where: Any = None
) -> Any:
    """Wait for visible text in the main area (or ``where``), then for the run to settle; returns the locator."""
    scope = where if where is not None else page.locator('[data-testid="stMain"]')
    loc = scope.get_by_text(text, exact=exact).first
    loc.wait_for(state="visible", timeout=timeout)
    wait_idle(page, timeout)
    return loc


def retry(fn: Any, attempts: int = 3, what: str = "", between: Any = None) -> Any:
    """Call ``fn`` until it succeeds (element waits that lost a race with a rerun get another go);
    ``between()`` tidies up after a failed attempt."""
    last: Exception | None = None
    for _ in range(attempts):
        try:
            return fn()
        except Exception as exc:  # playwright TimeoutError / Error: retried, then re-raised
            last = exc
            if between is not None:
                try:
                    between()
                except Exception:
                    pass
            time.sleep(0.5)
    assert last is not None
    name = what or getattr(fn, "__name__", "step")
    raise AssertionError(f"{name} failed after {attempts} attempts: {last}") from last
