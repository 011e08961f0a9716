"""Team load benchmark: N signed-in sessions coding one project at once, a lead restructuring the code tree and a
workbook import running meanwhile; nothing acknowledged may be lost and the audit log must replay.

    python bench/team_bench.py                                  # 10 sessions over the websocket, 120 s of coding
    python bench/team_bench.py --driver browser --sessions 3    # real browsers
    python bench/team_bench.py --sessions 4 --seconds 30        # a quick look

Two drivers, the same checks:
* ``--driver ws`` (the default): each session is a Streamlit session driven over its websocket
  (``/_stcore/stream``) as the browser's frontend drives it: ``rerun_script`` BackMsgs (streamlit's own protobufs)
  carrying the page, the fragment and the widget values; widget ids read from the deltas. It signs in through the
  sign-in form's widgets, opens the coding page, sets the code picker's own state (``{"chosen": [path]}``, what the
  component sends), then triggers "Apply and next"; it reruns the sidebar's timed fragment whenever the server asks
  (``auto_rerun``), as a browser does. Click-to-repaint = from sending the click's BackMsg until the
  ``script_finished`` after deltas showing the next segment's id. This measures the server: 10 sessions cost the
  machine one Python process (the bench's own client is a few per cent of a core). ``--race`` sends the pick and
  the click back to back (a busy server takes both in one rerun, the case where a pick used to be lost).
  ``--stray`` sends each click first inside a sidebar timer rerun, then as itself: what Streamlit 1.67's frontend
  does when a fragment's timer fires between a click and the click's own delivery (ui/patches.py); the app must act
  on it once.
* ``--driver browser``: N Playwright contexts in one Debian chromium (``/usr/bin/chromium``): types the code into
  the picker, Enter, clicks "Apply and next". Click-to-repaint = from the click until the panel shows the next
  segment's id with the script idle. This is what a person sees, but on this 2-core machine the ten chromium
  renderers compete with the server for the same CPUs, so at 10 sessions it measures the machine more than the
  server (run it with 3 to see the page's own latency).
A coding counts as *acknowledged* when the page moved on to the next segment without an error. A click answered
"Nothing picked" (the pick had not reached the server) is not acknowledged: the session picks again.

Set-up: a team folder in a temporary directory, a lead and N-1 coders, one project made from the demo workbook
(``thematic/data/``) with the ``cmt_for_all`` codebook, every coder a member; ``streamlit run app.py -- --team DIR``
(``THEMATIC_FAKE_EMBEDDER=1``: suggestions use the tiny hashing embedder, so the figures are about the server and
the store, not MiniLM). Meanwhile, through the library the pages call (a :class:`~thematic.team.TeamStore` opened
for the lead, in threads): the lead adds a code and moves it in the tree every 2 s, and a third of the way into the
coding imports a workbook of 300 forms (from ``../shared/data/nhs_patient_feedback_phase1.csv`` when present).

Checks at the end: every acknowledged (coder, segment, code) is in the project file (a missing one is explained
from the file: the audit events naming that segment, its codes, other segments with that code); no coding of the
bench's coders is in the file that no click acknowledged (a code carried to a segment nobody chose it for); no
segment was coded twice by one coder's Apply; a copy of the file undone event by event to nothing and redone ends
exactly where it was (the audit log replays); no session showed an error. ``--keep`` keeps ``clicks.json``: every
click (time, segment shown, code, the segment shown next, seconds, any warning or error).

Then, where SQLite's single writer starts to limit: on a copy of the file, 1, 2, 4, 8 and 16 writers (threads of one
process, as the server's sessions are, each a coder with its own connection) apply codings through the library as
fast as they can (``--writer-seconds`` per level): codings per second and commit latency p50/p95, beside the rate
the sessions coded at.

Target: click-to-repaint p95 <= 1 s (2 cores). Figures: p50/p95 overall and while the import held the single
SQLite writer, server CPU idle and coding (ms per coding), the machine's load average (it is shared: other work
slows every figure). ``--think S`` pauses about S seconds between choosing and clicking (0: as fast as the page
allows, which is far faster than people code). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from thematic import codebook, coding  # noqa: E402
from thematic.codebook.files import import_codebook, read_codebook  # noqa: E402
from thematic.demo import create_demo_project  # noqa: E402
from thematic.errors import NothingToUndo  # noqa: E402
from thematic.ingest import ingest_file  # noqa: E402
from thematic.schema import tracked_tables  # noqa: E402
from thematic.store import Store  # noqa: E402
from thematic.team import Team, TeamStore, User, add_member, init_team  # noqa: E402

CHROMIUM = os.environ.get("THEMATIC_E2E_CHROMIUM", "/usr/bin/chromium")
PASSWORD = "bench password long enough"
NHS_CSV = REPO.parent / "shared" / "data" / "nhs_patient_feedback_phase1.csv"
TARGET_P95_S = 1.0
IDLE_S = 10  # seconds of everyone sitting on the coding page, measured before the clicking starts
SIGN_IN_S = 60  # allowed for every session to sign in and open the coding page before the timed part
CLICK_WAIT_MS = 15_000  # a click with no repaint after this long is clicked again (and counted)
SHOTS: Path | None = None  # --keep: screenshots of sessions that stopped early go to the kept folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))]


# ---------------------------------------------------------------------------------------------------- set-up


def build_team(root: Path, sessions: int) -> tuple[Team, list[User], Path]:
    team = init_team(root / "team", idle_minutes=120)
    users = [User("Lead", "lead")] + [User(f"coder{i:02d}", "coder") for i in range(1, sessions)]
    for u in users:
        team.add_user(u.name, u.role, PASSWORD)
    path = team.projects_dir / "bench.db"
    create_demo_project(path)
    with TeamStore(path, users[0]) as lead:
        import_codebook(lead, read_codebook(REPO / "codebooks" / "cmt_for_all.yaml"))
        for u in users:
            add_member(lead, team, u.name, u.role)
    return team, users, path


def workbook(root: Path, n: int = 300) -> Path:
    texts: list[str] = []
    if NHS_CSV.is_file():
        with NHS_CSV.open(encoding="utf-8") as fh:
            texts = [r["feedback"] for r in csv.DictReader(fh) if r.get("feedback")][: 2 * n]
    while len(texts) < 2 * n:
        texts.append(f"Generated answer {len(texts)}: the session was useful. The room was cold.")
    out = root / "import.csv"
    with out.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["Form ID", "What was helpful?", "What could be better?"])
        for i in range(n):
            w.writerow([f"IMPORT-{i:04d}", texts[2 * i], texts[2 * i + 1]])
    return out


def start_server(team: Team, port: int, log: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", THEMATIC_FAKE_EMBEDDER="1",
               STREAMLIT_BROWSER_GATHER_USAGE_STATS="false")
    env.pop("THEMATIC_PROJECT", None)
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port",
           str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
           "--browser.gatherUsageStats", "false", "--", "--team", str(team.path)]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise SystemExit(f"streamlit did not start; see {log}")


# ---------------------------------------------------------------------------------------------------- sessions

SEG_ID = re.compile(r"· id (\d+) ·")
NOTHING_PICKED = "Nothing picked: choose a code first"


async def idle(page: Any) -> None:
    await page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=120_000)


async def seg_id(page: Any) -> int | None:
    cap = page.get_by_text(SEG_ID).first
    try:
        text = await cap.inner_text(timeout=60_000)
    except Exception:
        return None
    m = SEG_ID.search(text)
    return int(m.group(1)) if m else None


ERROR_BOXES = '[data-testid="stException"], [data-testid="stAlertContentError"]'


async def errors_on(page: Any) -> int:
    return int(await page.locator(ERROR_BOXES).count())


async def error_texts(page: Any) -> list[str]:
    """What the error boxes on the page say (first 300 characters each), for the click log."""
    return [t[:300] for t in await page.locator(ERROR_BOXES).all_inner_texts()]


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def coder_session(browser: Any, url: str, user: User, code_paths: list[str], until: list[float],
                        out: dict[str, Any], ready: list[int], start: asyncio.Event, think: float) -> None:
    ctx = await browser.new_context(viewport={"width": 1300, "height": 900})
    ctx.set_default_timeout(120_000)
    page = await ctx.new_page()
    rec: dict[str, Any] = {"clicks": [], "acked": [], "errors": 0, "failed": None, "reclicks": 0, "log": [],
                           "retyped": 0}
    out[user.name] = rec
    rng = random.Random(user.name)
    stage = "signing in"
    try:
        await page.goto(url)
        await page.get_by_label("Name", exact=True).fill(user.name)
        await page.get_by_label("Password", exact=True).fill(PASSWORD)
        await page.get_by_role("button", name="Sign in").click()
        await page.get_by_text(f"Signed in as {user.name}").wait_for()
        stage = "opening the coding page"
        await page.get_by_role("link", name="2 Generate initial codes").first.click()
        current = await seg_id(page)
        ready.append(1)
        await start.wait()
        i = 0
        while time.monotonic() < until[0] and current is not None:
            path = code_paths[(i + len(user.name)) % len(code_paths)]
            i += 1
            stage = f"picking {path!r} on segment {current}"
            for attempt in range(3):
                box = page.locator(".st-key-ic_codes input").first
                await box.click()
                await box.fill("")
                await box.type(path)
                await box.press("Enter")  # the code picker adds the one code whose path is exactly what was typed
                try:
                    await page.locator(".st-key-ic_codes .chip").first.wait_for(timeout=CLICK_WAIT_MS)
                    break
                except Exception:
                    if attempt == 2:
                        raise
                    rec["retyped"] += 1  # the typed code never became a chip: typed again, as a person would
                    if SHOTS is not None:
                        with contextlib.suppress(Exception):
                            await page.screenshot(path=str(SHOTS / f"retyped_{user.name}_{current}.png"),
                                                  full_page=True)
            if think:
                await asyncio.sleep(think * rng.uniform(0.5, 1.5))
            stage = f"waiting for the repaint after Apply and next on segment {current}"
            t0 = time.monotonic()
            t_wall = time.time()
            await page.get_by_role("button", name="Apply and next").first.click()
            tries = 1
            nothing_picked = False
            while True:
                try:
                    await page.wait_for_function(
                        "([re, old, warn]) => { const t = document.body.innerText; const m = t.match(new RegExp(re)); "
                        "return (m && Number(m[1]) !== old) || t.includes(warn); }",
                        arg=[SEG_ID.pattern, current, NOTHING_PICKED], timeout=CLICK_WAIT_MS)
                except Exception:
                    if tries >= 4:
                        raise
                    tries += 1  # the click was not taken up: click again, as a person would (counted)
                    rec["reclicks"] += 1
                    await page.get_by_role("button", name="Apply and next").first.click()
                    continue
                await idle(page)
                new = await seg_id(page)
                if new is not None and new != current:
                    if await page.get_by_text(NOTHING_PICKED).count():
                        # the page moved on (something else changed it) AND the click found nothing picked: the
                        # segment was not coded; counted, never taken for an acknowledgement
                        nothing_picked = True
                    break
                if await page.get_by_text(NOTHING_PICKED).count():
                    nothing_picked = True  # the pick had not reached the server: the page stayed and said so
                    break
            took = time.monotonic() - t0
            rec["clicks"].append((t_wall, took, tries))
            rec["log"].append({"t": round(t_wall, 3), "segment": current, "code": path, "next": new, "s": round(took, 3),
                               "tries": tries, "warning": ["nothing picked"] if nothing_picked else [], "error": []})
            if nothing_picked:
                # not acknowledged: pick again on the segment the page shows now, as a person would (the page may
                # have moved on: then the click was taken and a second delivery of it found nothing picked)
                current = new if new is not None else current
                continue
            if await errors_on(page):
                rec["errors"] += 1
                rec["log"][-1]["error"] = await error_texts(page) or ["error box"]
            else:
                rec["acked"].append((current, path))
            current = new
    except Exception as exc:  # a session that could not go on is reported, not hidden
        rec["failed"] = f"{type(exc).__name__} while {stage}: {(str(exc).splitlines() or [''])[0][:200]}"
        if SHOTS is not None:
            with contextlib.suppress(Exception):
                await page.screenshot(path=str(SHOTS / f"stopped_{user.name}.png"), full_page=True)
    finally:
        await ctx.close()


# ---------------------------------------------------------------------------------------------------- ws driver


class WsSession:
    """One Streamlit session driven over its websocket (``/_stcore/stream``), the way the browser's frontend does:
    ``rerun_script`` BackMsgs carrying a ClientState (page, fragment, the widget values), ForwardMsgs read back
    (deltas, ``script_finished``, ``auto_rerun``). Widgets are found by the ids in the deltas (``$$ID-…-<key>``);
    the sidebar's timed fragment is rerun on the interval the server asks for, as the browser does."""

    def __init__(self, url: str, name: str) -> None:
        self.url = url.replace("http://", "ws://") + "/_stcore/stream"
        self.name = name
        self.ws: Any = None
        self.ids: dict[str, str] = {}  # user key (or "label:<button label>") -> widget id, latest seen
        self.fragment: dict[str, str] = {}  # widget id -> the fragment it was drawn in ("" for none)
        self.values: dict[str, Any] = {}  # widget id -> WidgetState of a value widget this session set
        self.pages: dict[str, str] = {}  # page title -> page_script_hash
        self.page_hash = ""
        self.seg: int | None = None
        self.seg_at = 0.0  # when a delta last showed the segment id
        self.texts: list[str] = []  # markdown seen (sign-in checks)
        self.errors: list[str] = []
        self.client_errors: list[str] = []  # messages this bench client failed to read (its own fault)
        self.warnings: list[tuple[float, str]] = []
        self.finished: list[tuple[float, int]] = []  # (time, ScriptFinishedStatus)
        self.cond = asyncio.Condition()
        self.auto: dict[str, asyncio.Task[None]] = {}
        self.auto_runs = 0
        self.reader: asyncio.Task[None] | None = None
        self.recent: list[tuple[float, str, str]] = []  # the last messages (kind, fragment), for a failure report

    async def connect(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.typing import Origin, Subprotocol

        self.ws = await connect(self.url, subprotocols=[Subprotocol("streamlit")], max_size=None, ping_interval=None,
                                origin=Origin(self.url.replace("ws://", "http://").rsplit("/_stcore", 1)[0]))
        self.reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        for t in self.auto.values():
            t.cancel()
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            self.reader.cancel()

    async def send(self, triggers: list[Any] = (), fragment_id: str = "", auto: bool = False) -> float:  # type: ignore[assignment]
        from streamlit.proto.BackMsg_pb2 import BackMsg

        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = ""
        cs.page_script_hash = self.page_hash
        cs.fragment_id = fragment_id
        cs.is_auto_rerun = auto
        cs.widget_states.widgets.extend([*self.values.values(), *triggers])
        t = time.monotonic()
        await self.ws.send(msg.SerializeToString())
        return t

    @staticmethod
    def trigger(widget_id: str) -> Any:
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        return WidgetState(id=widget_id, trigger_value=True)

    def set_value(self, widget_id: str, **kw: Any) -> None:
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        self.values[widget_id] = WidgetState(id=widget_id, **kw)

    async def _read(self) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        try:
            async for data in self.ws:
                try:
                    await self._handle(ForwardMsg.FromString(data))
                except Exception as exc:  # kept for the report; the session goes on reading
                    self.client_errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            self.client_errors.append(f"connection closed: code {self.ws.close_code} {self.ws.close_reason!r}")

    async def _handle(self, msg: Any) -> None:
        kind = msg.WhichOneof("type")
        now = time.monotonic()
        self.recent.append((round(now, 3), kind, msg.delta.fragment_id if kind == "delta" else ""))
        del self.recent[:-40]
        if kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            self._element(msg.delta.new_element, msg.delta.fragment_id, now)
        elif kind == "navigation":
            for p in msg.navigation.app_pages:
                self.pages[p.page_name] = p.page_script_hash
            if msg.navigation.page_script_hash:
                self.page_hash = msg.navigation.page_script_hash
        elif kind == "auto_rerun":
            fid, every = msg.auto_rerun.fragment_id, msg.auto_rerun.interval
            if fid not in self.auto:
                self.auto[fid] = asyncio.create_task(self._auto(fid, every))
        elif kind == "stop_auto_rerun":
            for fid in msg.stop_auto_rerun.fragment_ids:
                task = self.auto.pop(fid, None)
                if task is not None:
                    task.cancel()
        elif kind == "script_finished":
            async with self.cond:
                self.finished.append((now, int(msg.script_finished)))
                self.cond.notify_all()

    def _element(self, el: Any, fragment_id: str, now: float) -> None:
        kind = el.WhichOneof("type")
        sub = getattr(el, kind)
        wid = getattr(sub, "id", "") if kind != "markdown" else ""
        if wid:
            key = wid.rsplit("-", 1)[-1] if wid.startswith("$$ID-") else wid
            self.ids[key] = wid
            if kind == "button" and sub.label:
                self.ids["label:" + sub.label] = wid
            self.fragment[wid] = fragment_id
        if kind == "markdown":
            m = SEG_ID.search(sub.body)
            if m:
                self.seg, self.seg_at = int(m.group(1)), now
            self.texts.append(sub.body)
        elif kind == "alert":
            if sub.format == 1:  # ERROR
                self.errors.append(sub.body)
            elif sub.format == 2:  # WARNING
                self.warnings.append((now, sub.body))
        elif kind == "exception":
            self.errors.append(f"{sub.type}: {sub.message}")

    async def _auto(self, fragment_id: str, every: float) -> None:
        try:
            while True:
                await asyncio.sleep(every)
                self.auto_runs += 1
                await self.send(fragment_id=fragment_id, auto=True)
        except Exception as exc:
            self.client_errors.append(f"timed rerun stopped: {type(exc).__name__}: {exc}")
            raise

    async def wait_run(self, since: float, ok: Callable[[], bool] = lambda: True, timeout: float = 60) -> float:
        """Until a script run that finished after ``since`` (not one cut short for a rerun) with ``ok()`` true;
        returns its time."""
        async with self.cond:
            await asyncio.wait_for(self.cond.wait_for(lambda: any(
                t >= since and s != 2 for t, s in self.finished) and ok()), timeout)
            return next(t for t, s in reversed(self.finished) if t >= since and s != 2)


async def ws_session(url: str, user: User, code_paths: list[str], until: list[float], out: dict[str, Any],
                     ready: list[int], start: asyncio.Event, think: float, race: bool = False,
                     stray: bool = False) -> None:
    """One analyst over the websocket: sign in through the form, open the coding page, then pick a code in the
    picker (its own widget value, as the component sends it) and press "Apply and next" until the time is up."""
    rec: dict[str, Any] = {"clicks": [], "acked": [], "errors": 0, "failed": None, "reclicks": 0, "log": []}
    out[user.name] = rec
    s = WsSession(url, user.name)
    rng = random.Random(user.name)
    stage = "connecting"
    try:
        await s.connect()
        stage = "signing in"
        t = await s.send()
        await s.wait_run(t, lambda: "team_signin_name" in s.ids)
        s.set_value(s.ids["team_signin_name"], string_value=user.name)
        s.set_value(s.ids["team_signin_password"], string_value=PASSWORD)
        t = await s.send([s.trigger(s.ids["label:Sign in"])])
        signed = f"Signed in as **{user.name}**"
        await s.wait_run(t, lambda: any(signed in x for x in s.texts))
        s.values.clear()  # the form is gone (and cleared on submit)
        stage = "opening the coding page"
        page = next(h for n, h in s.pages.items() if n.startswith("2 Generate initial codes"))
        s.page_hash = page
        t = await s.send()
        await s.wait_run(t, lambda: s.seg is not None and s.seg_at >= t)
        ready.append(1)
        await start.wait()
        t_first = time.monotonic()
        i = 0
        while time.monotonic() < until[0]:
            current = s.seg
            stage = f"picking on segment {current}"
            path = code_paths[(i + len(user.name)) % len(code_paths)]
            i += 1
            picker = next(w for k, w in s.ids.items() if k.startswith(f"ic_codes_{current}_"))
            frag = s.fragment.get(picker, "")
            # the pick: the component's state value, as setStateValue sends it (it reruns the panel fragment)
            s.set_value(picker, json_value=json.dumps({"chosen": [path]}))
            t_pick = await s.send(fragment_id=frag)
            if not race:  # --race: the click follows at once, so the server often takes both in one rerun
                await s.wait_run(t_pick)
                await asyncio.sleep(think * rng.uniform(0.5, 1.5))
            button = s.ids["ic_apply_next"]
            n_err, n_warn = len(s.errors), len(s.warnings)
            t_wall = time.time()
            stage = f"waiting for the repaint after Apply and next on segment {current}"
            if stray and s.auto:
                # what Streamlit 1.67's frontend does when a fragment's timer fires between a click and its own
                # flush of the click (a zero-delay timeout): the timer's rerun carries every widget state, the
                # click's trigger included; the flush then sends the click again
                await s.send([s.trigger(button)], fragment_id=next(iter(s.auto)), auto=True)
            t0 = await s.send([s.trigger(button)], fragment_id=s.fragment.get(button, ""))
            tries = 1
            def answered(old: int | None = current, t0: float = t0, n_warn: int = n_warn, n_err: int = n_err) -> bool:
                """The new segment drawn with its picker (a run cut short may have drawn only the caption), or a
                warning or error instead."""
                moved = s.seg != old and s.seg_at >= t0 and any(k.startswith(f"ic_codes_{s.seg}_") for k in s.ids)
                return moved or len(s.warnings) > n_warn or len(s.errors) > n_err

            t_done = await s.wait_run(t0, answered, timeout=120)
            s.values.pop(picker, None)  # that picker is gone with its segment
            shown_next = s.seg != current
            rec["clicks"].append((t_wall, t_done - t0, tries))
            rec["log"].append({"t": round(t_wall, 3), "segment": current, "code": path, "next": s.seg,
                               "s": round(t_done - t0, 3),
                               "warning": [w for _, w in s.warnings[n_warn:]], "error": s.errors[n_err:]})
            if len(s.errors) > n_err:
                rec["errors"] += 1
            elif shown_next:
                rec["acked"].append((current, path))
            else:
                rec["reclicks"] += 1  # stayed and said why (nothing picked): not acknowledged, tried again
        rec["auto_reruns"] = s.auto_runs
        rec["runs"] = sum(1 for t, st in s.finished if t >= t_first and st != 2)
        rec["client_errors"] = s.client_errors[-3:]
    except Exception as exc:
        rec["failed"] = f"{type(exc).__name__} while {stage}: {(str(exc).splitlines() or [''])[0][:200]}"
        rec["last_messages"] = s.recent[-12:]
        rec["finished_tail"] = s.finished[-4:]
        rec["client_errors"] = s.client_errors[-3:]
    finally:
        await s.close()


async def drive(url: str, users: list[User], code_paths: list[str], seconds: float, server_pid: int,
                idle_log: dict[str, float], on_start: threading.Event, driver: str = "ws",
                think: float = 0.0, idle_s: float = IDLE_S, race: bool = False, stray: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if driver == "ws":
        await _drive(None, url, users, code_paths, seconds, server_pid, idle_log, out, think, on_start, idle_s, race,
                     stray)
        return out
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"])
        await _drive(browser, url, users, code_paths, seconds, server_pid, idle_log, out, think, on_start, idle_s, race)
        await browser.close()
    return out


async def _drive(browser: Any, url: str, users: list[User], code_paths: list[str], seconds: float, server_pid: int,
                 idle_log: dict[str, float], out: dict[str, Any], think: float, on_start: threading.Event, idle_s: float,
                 race: bool = False, stray: bool = False) -> None:
    until = [time.monotonic() + SIGN_IN_S + IDLE_S + seconds]  # set again when the timed part starts
    ready: list[int] = []
    start = asyncio.Event()

    async def idle_then_start() -> None:
        # Everyone on the coding page, nobody clicking: what the open sessions cost the server by themselves
        # (the sidebar's live part refreshes on a timer in every session).
        t_end = time.monotonic() + SIGN_IN_S
        while len(ready) < len(users) and time.monotonic() < t_end:
            await asyncio.sleep(0.5)
        c0, w0 = cpu_seconds(server_pid), time.monotonic()
        await asyncio.sleep(idle_s)
        idle_log["server_cpu_idle_share"] = (cpu_seconds(server_pid) - c0) / (time.monotonic() - w0)
        idle_log["sessions_ready"] = len(ready)
        idle_log["t0_cpu"] = cpu_seconds(server_pid)
        idle_log["t0"] = time.monotonic()
        until[0] = idle_log["t0"] + seconds  # sign-in, the first page and the idle minute are not timed
        start.set()
        on_start.set()

    sessions = [ws_session(url, u, code_paths, until, out, ready, start, think, race, stray) if browser is None else
                coder_session(browser, url, u, code_paths, until, out, ready, start, think) for u in users]
    await asyncio.gather(idle_then_start(), *sessions)
    idle_log["busy_cpu_s"] = cpu_seconds(server_pid) - idle_log["t0_cpu"]
    idle_log["busy_cpu_share"] = idle_log["busy_cpu_s"] / (time.monotonic() - idle_log["t0"])


# ---------------------------------------------------------------------------------------------------- lead work


def lead_work(path: Path, lead: User, csv_path: Path, stop: threading.Event, log: dict[str, Any],
              import_after: float, coding_started: threading.Event) -> None:
    moves: list[float] = []
    log["moves"] = moves
    with TeamStore(path, lead) as store:
        parent = codebook.add_code(store, "Bench restructure")
        coding_started.wait()  # the import starts a third of the way into the timed coding
        t_import = threading.Timer(import_after, _import, args=(path, lead, csv_path, log))
        t_import.start()
        n = 0
        while not stop.is_set():
            t0 = time.monotonic()
            child = codebook.add_code(store, f"Moved {n}")
            codebook.move_code(store, child, parent)
            moves.append(time.monotonic() - t0)
            n += 1
            stop.wait(2)
        t_import.cancel()
        t_import.join()


def _import(path: Path, lead: User, csv_path: Path, log: dict[str, Any]) -> None:
    with TeamStore(path, lead) as store:
        t0, w0 = time.monotonic(), time.time()
        report = ingest_file(store, csv_path, id_column="Form ID",
                             question_columns=["What was helpful?", "What could be better?"])
        log["import"] = {"seconds": round(time.monotonic() - t0, 2), "start": w0, "end": time.time(),
                         "forms": getattr(report, "forms_added", None) or getattr(report, "forms", None)}


# ---------------------------------------------------------------------------------------------------- checks


def dump(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    return {t: [tuple(r) for r in store.query(f'SELECT rowid, * FROM "{t}" ORDER BY rowid')]
            for t in tracked_tables(store.conn)}


def explain(store: Store, paths: dict[int, str], coder: str, seg: int, path: str) -> dict[str, Any]:
    """For an acknowledged coding missing from the file: what the file says that coder did on that segment and
    with that code (audit events naming the segment, codings of the segment, other segments with the code)."""
    events = [tuple(r) for r in store.query(
        "SELECT id, ts, action, summary, undone_by FROM audit WHERE actor = ? AND (summary LIKE ? OR details LIKE ?) "
        "ORDER BY id", (coder, f"% segment {seg} %", f'%"segment_id": {seg}%'))]
    here = [paths.get(int(r[0]), "?") for r in store.query(
        "SELECT c.code_id FROM codings c JOIN coders k ON k.id = c.coder_id WHERE k.name = ? AND c.segment_id = ?",
        (coder, seg))]
    cid = next((i for i, p in paths.items() if p == path), None)
    elsewhere = [int(r[0]) for r in store.query(
        "SELECT c.segment_id FROM codings c JOIN coders k ON k.id = c.coder_id WHERE k.name = ? AND c.code_id = ?",
        (coder, cid))] if cid is not None else []
    return {"coder": coder, "segment": seg, "code": path, "events_on_segment": events, "codes_on_segment": here,
            "segments_with_that_code": elsewhere}


def check(path: Path, sessions: dict[str, Any], root: Path) -> dict[str, Any]:
    with Store.open(path) as store:
        have = {(r[0], int(r[1]), r[2]) for r in store.query(
            "SELECT k.name, c.segment_id, c.code_id FROM codings c JOIN coders k ON k.id = c.coder_id")}
        paths = {c.id: c.path_str for c in codebook.list_codes(store)}
        have_paths = {(n, s, paths.get(cid, "")) for n, s, cid in have}
        acked = [(name, s, p) for name, rec in sessions.items() for s, p in rec["acked"]]
        missing = [a for a in acked if a not in have_paths]
        # what happened to each missing one, from the file itself: coded elsewhere, an event, or nothing at all
        forensic = [explain(store, paths, name, seg, p) for name, seg, p in missing[:10]]
        # codings of the bench's coders that no click acknowledged (a code carried to a segment nobody chose it for)
        names = set(sessions)
        acked_set = set(acked)
        unacked = sorted(h for h in have_paths if h[0] in names and h not in acked_set)
        # one Apply per acknowledged click: no segment coded twice by one coder's clicks
        applies = [tuple(r) for r in store.query(
            "SELECT actor, summary, count(*) FROM audit WHERE action = 'coding.apply' AND undo_of IS NULL "
            "GROUP BY actor, summary HAVING count(*) > 1")]
        copy = store.backup(root / "replay.db")
    with Store.open(copy) as s:
        before = dump(s)
        undone = 0
        while True:
            try:
                s.undo(actor="replay")
            except NothingToUndo:
                break
            undone += 1
        empty_codings = int(s.scalar("SELECT count(*) FROM codings"))
        for _ in range(undone):
            s.redo(actor="replay")
        replays = dump(s) == before
    return {"acknowledged": len(acked), "missing": len(missing), "missing_examples": forensic,
            "unacknowledged": len(unacked), "unacknowledged_examples": unacked[:5],
            "applied_twice": len(applies), "applied_twice_examples": applies[:3],
            "events_replayed": undone, "codings_after_undo_all": empty_codings, "replays": replays,
            "codings_in_file": len(have)}


# ---------------------------------------------------------------------------------------------------- writer


WRITER_LEVELS = (1, 2, 4, 8, 16)
WRITER_LIMIT_MS = 100.0  # a commit waiting longer than this at p95 is where the single writer limits


def writer_limit(path: Path, root: Path, seconds: float = 3.0) -> list[dict[str, float]]:
    """Where SQLite's single writer starts to limit: on a copy of the project, K writers (threads of one process,
    as the server's sessions are, each with its own connection as a signed-in coder) apply codings through the
    library as fast as they can, K = 1, 2, 4 ... 16. Per level: codings committed per second and commit latency
    (p50/p95, which includes waiting for the write lock)."""
    with Store.open(path) as s:
        copy = s.backup(root / "writer.db")
        segs = [int(r[0]) for r in s.query("SELECT id FROM segments ORDER BY id")]
        codes = [c.id for c in codebook.list_codes(s)]
    out: list[dict[str, float]] = []
    for level, k in enumerate(WRITER_LEVELS):
        lat: list[float] = []
        lock = threading.Lock()
        until = time.monotonic() + seconds

        def work(i: int, level: int = level, lat: list[float] = lat, lock: threading.Lock = lock,
                 until: float = until) -> None:
            user = User(f"writer{level}_{i:02d}", "coder")  # a coder of its own: every coding is new
            with TeamStore(copy, user) as store:
                j = 0
                while time.monotonic() < until and j < len(segs):
                    t0 = time.perf_counter()
                    coding.apply_codes(store, segs[(j * 7 + i) % len(segs)], [codes[j % len(codes)]], user.name)
                    took = time.perf_counter() - t0
                    with lock:
                        lat.append(took)
                    j += 1

        threads = [threading.Thread(target=work, args=(i,)) for i in range(k)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        out.append({"writers": k, "per_s": round(len(lat) / wall, 1), "p50_ms": round(pct(lat, .5) * 1000, 1),
                    "p95_ms": round(pct(lat, .95) * 1000, 1)})
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=120)
    ap.add_argument("--driver", choices=["ws", "browser"], default="ws",
                    help="ws: each session over Streamlit's websocket (the server's own cost); browser: Playwright "
                    "contexts in one chromium (adds the browsers' rendering on the same CPUs)")
    ap.add_argument("--think", type=float, default=0.0,
                    help="mean pause in seconds between choosing a code and clicking (0: as fast as the page allows)")
    ap.add_argument("--idle", type=float, default=IDLE_S,
                    help="seconds with every session open on the coding page and nobody clicking, measured first")
    ap.add_argument("--race", action="store_true",
                    help="ws: send the pick and the click back to back (the server takes both in one rerun when busy)")
    ap.add_argument("--stray", action="store_true",
                    help="ws: send each click first inside a sidebar timer rerun, then as the click, as Streamlit "
                    "1.67's frontend does when a fragment's timer fires between a click and the click's own "
                    "delivery (the app must act on it once)")
    ap.add_argument("--writer-seconds", type=float, default=3.0,
                    help="seconds per level of the single-writer probe run after the sessions (0: skip it)")
    ap.add_argument("--port", type=int, default=0, help="the server's port (0: any free one)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (with clicks.json, every click)")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="team_bench_"))
    global SHOTS
    SHOTS = root if args.keep else None
    proc = None
    try:
        t0 = time.monotonic()
        team, users, path = build_team(root, args.sessions)
        with Store.open(path) as s:
            code_paths = [c.path_str for c in codebook.list_codes(s) if c.depth > 0][:12] or \
                [c.path_str for c in codebook.list_codes(s)][:12]
        csv_path = workbook(root)
        print(f"set-up: {len(users)} accounts, demo project + codebook ({len(code_paths)} codes used) "
              f"in {time.monotonic() - t0:.1f} s", flush=True)
        port = args.port or free_port()
        proc = start_server(team, port, root / "server.log")
        stop, lead_log = threading.Event(), dict[str, Any]()
        coding_started = threading.Event()
        lead = threading.Thread(target=lead_work,
                                args=(path, users[0], csv_path, stop, lead_log, args.seconds / 3, coding_started),
                                daemon=True)
        lead.start()
        idle_log: dict[str, float] = {}
        sessions = asyncio.run(drive(f"http://127.0.0.1:{port}", users, code_paths, args.seconds, proc.pid, idle_log,
                                     coding_started, args.driver, args.think, args.idle, args.race,
                                     args.stray))
        (root / "clicks.json").write_text(json.dumps({n: r["log"] for n, r in sessions.items()}, indent=1))
        coding_started.set()  # (when no session reached the coding page)
        stop.set()
        lead.join()
        result = check(path, sessions, root)
        writer = writer_limit(path, root, args.writer_seconds) if args.writer_seconds > 0 else []
    finally:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, 15)
            proc.wait(timeout=20)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    clicks = [d for rec in sessions.values() for _, d, _ in rec["clicks"]]
    first = [d for rec in sessions.values() for _, d, t in rec["clicks"] if t == 1]
    imp = lead_log.get("import") or {}
    during = [d for rec in sessions.values() for w, d, t in rec["clicks"]
              if t == 1 and imp and imp["start"] <= w <= imp["end"]]
    outside = [d for rec in sessions.values() for w, d, t in rec["clicks"]
               if t == 1 and not (imp and imp["start"] <= w <= imp["end"])]
    failed = {n: rec["failed"] for n, rec in sessions.items() if rec["failed"]}
    errors = sum(rec["errors"] for rec in sessions.values())
    reclicks = sum(rec["reclicks"] for rec in sessions.values())
    print(f"sessions: {len(sessions)} signed in ({len(failed)} stopped early), clicks: {len(clicks)}, "
          f"page errors seen: {errors}, clicks not taken up (clicked again after {CLICK_WAIT_MS / 1000:.0f} s): {reclicks}")
    for n, why in failed.items():
        print(f"  {n} stopped: {why}")
        for k in ("last_messages", "finished_tail", "client_errors"):
            if sessions[n].get(k):
                print(f"    {k}: {sessions[n][k]}")
    print(f"click-to-repaint: p50 {pct(clicks, .5):.2f} s, p95 {pct(clicks, .95):.2f} s "
          f"(target p95 <= {TARGET_P95_S:.1f} s; baselines: bench/README.md)")
    print(f"  clicks taken up the first time ({len(first)}): p50 {pct(first, .5):.2f} s, p95 {pct(first, .95):.2f} s")
    print(f"  of those, outside the import: p50 {pct(outside, .5):.2f} s p95 {pct(outside, .95):.2f} s (n={len(outside)}); "
          f"while the import held the writer: p50 {pct(during, .5):.2f} s p95 {pct(during, .95):.2f} s "
          f"(n={len(during)})")
    cpu_per_click = idle_log.get("busy_cpu_s", float("nan")) / max(1, len(clicks))
    print(f"server CPU (share of one core): {idle_log.get('server_cpu_idle_share', float('nan')):.2f} with "
          f"{idle_log.get('sessions_ready', 0):.0f} sessions open and idle, "
          f"{idle_log.get('busy_cpu_share', float('nan')):.2f} while they code "
          f"({cpu_per_click * 1000:.0f} ms of server CPU per coding: the pick, Apply and next, and the sidebar's "
          f"timed reruns in between); load average at the end "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (shared: other work on the machine slows every figure)")
    moves = lead_log.get("moves", [])
    print(f"lead restructuring: {len(moves)} add+move steps, p95 {pct(moves, .95):.2f} s; import of 300 forms: "
          f"{imp.get('seconds', 'n/a')} s")
    print(f"acknowledged codings: {result['acknowledged']}, missing from the file: {result['missing']}, "
          f"in the file but never acknowledged: {result['unacknowledged']}, "
          f"segments one coder's Apply coded twice: {result['applied_twice']}; "
          f"audit log replays (undo {result['events_replayed']} events to nothing, redo all): {result['replays']}")
    for ex in result["missing_examples"]:
        print(f"  missing: {ex}")
    for ex in result["unacknowledged_examples"]:
        print(f"  unacknowledged: {ex}")
    for name, rec in sessions.items():
        for e in rec["log"]:
            for text in e.get("error") or []:
                print(f"  error seen by {name} after coding segment {e['segment']}: {text!r}")
    if writer:
        print("single writer (a copy of the project; K threads of one process, each a coder with its own connection, "
              "applying codings as fast as they can): " + "; ".join(
                  f"{w['writers']:.0f}: {w['per_s']:.0f}/s, p50 {w['p50_ms']:.0f} ms, p95 {w['p95_ms']:.0f} ms"
                  for w in writer))
        best = max(writer, key=lambda w: w["per_s"])
        over = next((w for w in writer if w["p95_ms"] > WRITER_LIMIT_MS), None)
        rate = len(clicks) / args.seconds if args.seconds else 0.0
        print(f"  the writer tops out at {best['per_s']:.0f} codings/s ({best['writers']:.0f} writers); "
              + (f"commits wait over {WRITER_LIMIT_MS:.0f} ms (p95) from {over['writers']:.0f} writers at once"
                 if over else f"p95 stays under {WRITER_LIMIT_MS:.0f} ms up to {writer[-1]['writers']:.0f} writers")
              + f"; the sessions above coded {rate:.1f}/s")
    warned = [e for rec in sessions.values() for e in rec["log"] if e["warning"]]
    retyped = sum(rec.get("retyped", 0) for rec in sessions.values())
    if retyped:
        print(f"browser: codes typed into the picker that never became a chip within {CLICK_WAIT_MS / 1000:.0f} s "
              f"(typed again): {retyped}")
    runs = sum(rec.get("runs", 0) for rec in sessions.values())
    autos = sum(rec.get("auto_reruns", 0) for rec in sessions.values())
    if args.driver == "ws" and clicks:
        print(f"script runs the server finished while coding: {runs} ({runs / len(clicks):.2f} per coding; "
              f"requests: a pick and a click per coding, and {autos} timed sidebar refreshes; requests that "
              f"arrive while a run is pending are taken in one run)")
    if warned:
        print(f"clicks answered 'Nothing picked' (the pick had not reached the server; tried again): {len(warned)}")
    summary = {
        "driver": args.driver, "think_s": args.think, "nothing_picked": len(warned), "retyped": retyped,
        "unacknowledged": result["unacknowledged"], "applied_twice": result["applied_twice"], "race": args.race,
        "stray": args.stray,
        "sessions": len(sessions), "seconds": args.seconds, "clicks": len(clicks), "errors": errors, "reclicks": reclicks,
        "stopped_early": len(failed),
        "p50_s": round(pct(clicks, .5), 3), "p95_s": round(pct(clicks, .95), 3),
        "p50_first_try_s": round(pct(first, .5), 3), "p95_first_try_s": round(pct(first, .95), 3),
        "p95_outside_import_s": round(pct(outside, .95), 3), "p95_during_import_s": round(pct(during, .95), 3),
        "import_s": imp.get("seconds"), "restructure_steps": len(moves),
        "acknowledged": result["acknowledged"], "missing": result["missing"],
        "replay_events": result["events_replayed"], "replays": result["replays"],
        "target_p95_s": TARGET_P95_S, "cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 1),
        "server_cpu_idle_sessions": round(idle_log.get("server_cpu_idle_share", float("nan")), 2),
        "server_cpu_coding": round(idle_log.get("busy_cpu_share", float("nan")), 2),
        "server_cpu_ms_per_coding": round(cpu_per_click * 1000),
        "writer": writer,
        "writer_max_per_s": max((w["per_s"] for w in writer), default=None),
    }
    print(json.dumps(summary))
    ok = (result["missing"] == 0 and result["unacknowledged"] == 0 and result["applied_twice"] == 0
          and result["replays"] and errors == 0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
