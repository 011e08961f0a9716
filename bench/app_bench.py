"""App benchmark: server time of each page load and of the main interactions on a 10,000-segment project.

    python bench/app_bench.py                 # 20 runs each, real embeddings (MiniLM), cached project
    python bench/app_bench.py --runs 5        # quicker
    python bench/app_bench.py --rebuild       # rebuild the cached project from the NHS csv
    python bench/app_bench.py --profile accept   # cProfile one scenario (or a page title), top 40 by cumulative time
    python bench/app_bench.py --embedder hashing # no model: the tiny hashing embedder (its own cached project)
    python bench/app_bench.py --only browser     # click to repaint in chromium (Playwright) on a real server

What is measured
* The project: ``../shared/data/nhs_patient_feedback_phase1.csv`` imported with :func:`thematic.ingest.ingest_file`
  (long layout: its five real questions, one form per comment, ``unit="response"``): 10,333 segments. A codebook
  built from the data's own label/subcategory columns (themes and codes) and 30% of the segments coded by one coder,
  then one clustering run (:mod:`thematic.cluster`) so that there are candidates to accept. The built project is
  cached as ``bench/results/app_bench_10k.db`` (gitignored); each bench run works on a copy of it.
* Server time = the time Streamlit takes to execute the script run, measured with
  :class:`streamlit.testing.v1.AppTest` (``at.run()`` / ``at.button(...).click().run()``): page loads are a
  navigation (``switch_page`` + run) inside a session that already ran another page (warm server caches, as
  in a live server); interactions are one click's rerun. The browser's rendering time is not included.
* Separately, the library calls behind each interaction (what the page calls, without Streamlit).

Targets: page loads p95 <= 1000 ms, interactions p95 <= 300 ms. The last line of the output is one JSON object.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import math
import os
import pstats
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

NHS_CSV = REPO.parent / "shared" / "data" / "nhs_patient_feedback_phase1.csv"
RESULTS = REPO / "bench" / "results"
PROJECT = RESULTS / "app_bench_10k.db"
CODER = "bench"
CODED_SHARE = 0.3
PAGE_TARGET_MS = 1000.0
ACTION_TARGET_MS = 300.0

# The page files (app.py's st.navigation); they live in views/ (not pages/, which would turn on Streamlit's legacy
# multipage mode).
PAGES = {
    "Project": "views/project.py",
    "1 Familiarise": "views/familiarise.py",
    "2 Initial codes": "views/initial_codes.py",
    "3 Search for themes": "views/themes.py",
    "4 Review themes": "views/review.py",
    "5 Define and name": "views/define.py",
    "6 Report": "views/report.py",
    "Coders": "views/coders.py",
    "Agreement": "views/agreement.py",
    "Audit trail": "views/audit.py",
    "Queries": "views/queries.py",
}


# ------------------------------------------------------------------------------------------------ the project


def build_project(path: Path, *, embedder_kind: str, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Import the NHS csv, add a codebook from its label/subcategory columns, code 30%, cluster once."""
    import csv

    from thematic import codebook, coding, ingest
    from thematic.store import Store

    if not NHS_CSV.exists():
        raise SystemExit(f"{NHS_CSV} is missing: the bench needs ../shared beside the repo")
    tmp = path.with_suffix(".building.db")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    info: dict[str, Any] = {}
    t0 = time.perf_counter()
    store = Store(tmp)
    report = ingest.ingest_file(
        store,
        NHS_CSV,
        layout="long",
        id_column="row_index",
        question_columns=["question"],
        answer_column="feedback",
        meta_columns=["organization", "criticality"],
        unit="response",
        actor=CODER,
    )
    info["segments"] = report.segments
    info["forms"] = report.forms_added
    info["ingest_s"] = round(time.perf_counter() - t0, 2)
    log(f"ingested {report.forms_added:,} forms, {report.segments:,} segments in {info['ingest_s']} s")

    # A codebook from the data's own coding frame (label = theme, subcategory = code), and 30% coded by CODER.
    with open(NHS_CSV, newline="", encoding="utf-8") as fh:
        rows = {r["row_index"]: (r["label"].strip(), r["subcategory"].strip()) for r in csv.DictReader(fh)}
    seg_rows = store.query(
        "SELECT s.id, f.external_id FROM segments s JOIN answers a ON a.id = s.answer_id "
        "JOIN forms f ON f.id = a.form_id"
    )
    by_code: dict[tuple[str, str], list[int]] = {}
    for r in seg_rows:
        label, sub = (" ".join(x.replace("/", " or ").split()) for x in rows.get(str(r["external_id"]), ("", "")))
        if not label or not sub:
            continue
        if (int(r["id"]) * 2654435761) % 1000 < CODED_SHARE * 1000:  # a deterministic 30% spread over the corpus
            by_code.setdefault((label, sub), []).append(int(r["id"]))
    t1 = time.perf_counter()
    with store.action("bench.codebook", "Bench: codebook and codings from the data's labels", actor=CODER):
        for (label, sub), ids in sorted(by_code.items()):
            parts = [label] if sub == label else [label, sub]
            cid = codebook.ensure_path(store, parts, actor=CODER)
            coding.apply_code_many(store, ids, cid, CODER)
    info["codes"] = int(store.scalar("SELECT count(*) FROM codes"))
    info["codings"] = int(store.scalar("SELECT count(*) FROM codings"))
    log(f"codebook: {info['codes']} codes, {info['codings']:,} codings in {time.perf_counter() - t1:.1f} s")

    store.close()
    for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        p.unlink(missing_ok=True)
    # A checkpointed single file, so that copying it copies everything.
    s = Store(tmp)
    s.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    s.close()
    tmp.rename(path)
    (path.with_suffix(".json")).write_text(json.dumps(info, indent=1))
    return info


def make_embedder(kind: str) -> Any:
    from thematic.embed import HashingEmbedder, MiniLMEmbedder

    return HashingEmbedder() if kind == "hashing" else MiniLMEmbedder()


def ensure_candidates(path: Path, embedder_kind: str, info: dict[str, Any]) -> dict[str, Any]:
    """Cluster the cached project once (the run and its embeddings are kept in it), unless already done."""
    from thematic.store import Store

    if info.get("cluster_run"):
        return {}
    cluster = _cluster_module()
    if cluster is None:
        print("thematic.cluster is not available: no candidates (the accept scenario is skipped)")
        return {}
    with Store.open(path) as store:
        done = cluster_once(store, cluster, embedder_kind, print)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return done


def _cluster_module() -> Any:
    try:
        from thematic import cluster
    except ImportError:
        return None
    return cluster if hasattr(cluster, "propose") and hasattr(cluster, "accept_candidate") else None


def cluster_once(store: Any, cluster: Any, embedder_kind: str, log: Callable[[str], None]) -> dict[str, Any]:
    """One clustering run, so that there are candidate themes to accept. Returns what it did."""

    t = time.perf_counter()
    last = [0.0]

    def progress(done: int, total: int, message: str = "") -> None:
        if time.perf_counter() - last[0] > 5 or (total and done >= total):
            last[0] = time.perf_counter()
            log(f"  cluster: {message} {done}/{total}")

    run = cluster.propose(store, embedder=make_embedder(embedder_kind), progress=progress, actor=CODER)
    run_id = int(run.id)
    n = sum(1 for c in cluster.candidates(store, run_id) if c.level == 1)
    secs = round(time.perf_counter() - t, 1)
    log(f"clustering ({embedder_kind}): run {run_id}, {n} candidates in {secs} s")
    return {"cluster_run": run_id, "candidates": n, "cluster_s": secs, "embedder": embedder_kind}


# ------------------------------------------------------------------------------------------------ measuring


@dataclass
class Result:
    name: str
    kind: str  # "page", "action", "library" or "browser" (click to repaint, in chromium)
    ms: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # process CPU ms of the same calls (robust to a busy machine)
    note: str = ""

    @property
    def target(self) -> float:
        return PAGE_TARGET_MS if self.kind in ("page", "browser") else ACTION_TARGET_MS

    @property
    def median(self) -> float:
        return statistics.median(self.ms) if self.ms else float("nan")

    @property
    def p95(self) -> float:
        if not self.ms:
            return float("nan")
        s = sorted(self.ms)
        return s[max(0, math.ceil(0.95 * len(s)) - 1)]  # nearest rank: the 19th of 20

    @property
    def cpu_median(self) -> float:
        return statistics.median(self.cpu) if self.cpu else float("nan")

    @property
    def ok(self) -> bool:
        return bool(self.ms) and self.p95 <= self.target


LAST_CPU_MS = [0.0]


def timed(fn: Callable[[], Any]) -> float:
    """Wall-clock ms of ``fn()``; its process CPU ms is left in ``LAST_CPU_MS[0]``."""
    c = time.process_time()
    t = time.perf_counter()
    fn()
    wall = (time.perf_counter() - t) * 1000.0
    LAST_CPU_MS[0] = (time.process_time() - c) * 1000.0
    return wall


def check(at: Any, what: str) -> None:
    """A run that raised is not a measurement: stop with the app's exception."""
    if at.exception:
        raise SystemExit(f"{what}: the page raised: {at.exception[0].value}\n{''.join(at.exception[0].stack_trace)}")


def new_app(timeout: float = 300) -> Any:
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=timeout)
    at.session_state["coder"] = CODER
    return at


def open_page(at: Any, page: str) -> Any:
    at.switch_page(page)
    at.run()
    check(at, page)
    return at


def select_tab(at: Any, key: str, label: str) -> None:
    """Open a tab by its label for the next run (the pages' ``st.tabs(key=...)`` run only the open tab)."""
    at.session_state[key] = label


class Bench:
    """The scenarios, on a copy of the cached project (bench runs change it: they code, move and accept)."""

    def __init__(self, project: Path, runs: int, log: Callable[[str], None] = print) -> None:
        from thematic import codebook, coding
        from thematic.store import Store

        self.project = project
        self.runs = runs
        self.log = log
        self.store = Store.open(project)  # the library side's own connection
        codes = codebook.list_codes(self.store)
        counts = coding.code_counts(self.store)
        self.themes = sorted((c for c in codes if c.parent_id is None), key=lambda c: -counts.get(c.id, (0, 0))[0])
        self.leaves = [c for c in codes if c.parent_id is not None]
        if len(self.themes) < 3 or not self.leaves:
            raise SystemExit(f"{project}: the bench project needs a codebook (rebuild it with --rebuild)")
        self.results: list[Result] = []

    # -------------------------------------------------------------- helpers

    def measure(self, name: str, kind: str, before: Callable[[int], Any], action: Callable[[int], Any],
                note: str = "", after: Callable[[int], Any] | None = None) -> Result:
        """``before(i)`` (untimed), ``action(i)`` (timed), ``after(i)`` (untimed), ``runs`` times after one
        untimed warm-up."""
        res = Result(name, kind, note=note)
        before(-1)
        action(-1)  # warm-up: first-use costs (model load, imports) are not what a user pays on every click
        if after is not None:
            after(-1)
        for i in range(self.runs):
            before(i)
            res.ms.append(timed(lambda: action(i)))
            res.cpu.append(LAST_CPU_MS[0])
            if after is not None:
                after(i)
        self.results.append(res)
        self.log(f"  {name:<48} median {res.median:8.1f} ms   p95 {res.p95:8.1f} ms   cpu {res.cpu_median:7.1f} ms")
        return res

    # -------------------------------------------------------------- page loads

    def pages(self, only: set[str] | None = None) -> None:
        first = new_app()

        def fresh(_: int) -> None:
            nonlocal first
            first = new_app()

        self.measure("Project: first load (new session)", "page", fresh,
                     lambda _: (first.run(), check(first, "Project")))
        for title, page in PAGES.items():
            if only and title not in only:
                continue
            if not (REPO / page).exists():
                raise SystemExit(f"{page} is missing: update PAGES in bench/app_bench.py to app.py's pages")
            at = new_app()
            other = "views/audit.py" if page != "views/audit.py" else "views/project.py"
            self.measure(f"{title}: load", "page", lambda _, a=at, o=other: open_page(a, o),
                         lambda _, a=at, p=page: open_page(a, p))

    # -------------------------------------------------------------- interactions (AppTest)

    def apply_code(self) -> None:
        from thematic import codebook

        at = new_app()
        open_page(at, "views/initial_codes.py")
        path = codebook.get_code(self.store, self.leaves[0].id).path_str

        def before(_: int) -> None:
            at.session_state["ic_picked"] = [path]  # what the code picker chose

        def click(_: int) -> None:
            at.button(key="ic_apply_next").click().run()
            check(at, "apply and next")

        self.measure("2 Initial codes: apply a code (and next)", "action", before, click,
                     note="Apply and next, with codebook suggestions on (MiniLM)")

    def move_code(self) -> None:
        at = new_app()
        select_tab(at, "th_tab", "Arrange the theme tree")
        open_page(at, "views/themes.py")
        code = self.leaves[0].id
        targets = [self.themes[1].id, self.themes[2].id]

        def before(i: int) -> None:
            at.selectbox(key="tree_code").set_value(code)
            at.selectbox(key="tree_parent").set_value(targets[i % 2])

        def click(_: int) -> None:
            at.button(key="tree_move").click().run()
            check(at, "move")
            err = at.session_state["tree_error"] if "tree_error" in at.session_state else None
            if err:
                raise SystemExit(f"move failed: {err}")

        self.measure("3 Themes: move a code under another theme", "action", before, click)

    def extracts(self) -> None:
        at = new_app()
        open_page(at, "views/review.py")
        picks = [t.id for t in self.themes[:5]]

        def before(_: int) -> None:
            pass

        def pick(i: int) -> None:
            at.selectbox(key="rv_code").set_value(picks[i % len(picks)]).run()
            check(at, "extracts")

        self.measure("4 Review: open a theme's extracts", "action", before, pick,
                     note=f"the {len(picks)} largest themes in turn")

    def open_candidates(self) -> list[int]:
        cluster = _cluster_module()
        run = cluster.latest_run(self.store) if cluster is not None else None
        if run is None:
            return []
        return [c.id for c in cluster.candidates(self.store, run.id)
                if c.level == 1 and c.status == "open" and not c.unclustered]

    def accept_candidate(self) -> None:
        if not self.open_candidates():
            self.log("  (accept a candidate: skipped, the project has no clustering run)")
            return
        at = new_app()
        select_tab(at, "th_tab", "Candidate themes (auto-clustering)")
        open_page(at, "views/themes.py")
        pending: list[Any] = []

        def before(_: int) -> None:
            buttons = [b for b in at.button if re.fullmatch(r"cl_accept_\d+", str(b.key or ""))]
            if not buttons:
                raise SystemExit("no open candidate card with an Accept button on the page")
            pending[:] = [buttons[0]]

        def click(_: int) -> None:
            pending[0].click()
            at.run()  # opens the review of the candidate's segments, best fit first
            cid = str(pending[0].key).rsplit("_", 1)[1]
            at.button(key=f"cl_confirm_{cid}").click()
            at.run()
            check(at, "accept")

        self.measure("3 Themes: accept a candidate", "action", before, click,
                     note="AppTest reruns the whole page; in the browser the card is a fragment")

    def kwic(self) -> None:
        at = new_app()
        select_tab(at, "qy_tab", "Keyword in context")
        open_page(at, "views/queries.py")
        words = ["staff", "waiting time", "parking", "kind", "appointment"]

        def search(i: int) -> None:
            at.text_input(key="qy_words").input(words[i % len(words)]).run()
            check(at, "keyword in context")

        self.measure("Queries: keyword in context", "action", lambda _: None, search,
                     note=f"{len(words)} words and phrases in turn, every question")

    def crosstab(self) -> None:
        from thematic import corpus

        fields = corpus.meta_fields(self.store)
        if not fields:
            self.log("  (crosstab: skipped, the project has no metadata fields)")
            return
        at = new_app()
        select_tab(at, "qy_tab", "Codes by respondent group")
        open_page(at, "views/queries.py")
        shows = ["Count", "Row %", "Column %"]

        def before(i: int) -> None:
            at.selectbox(key="qy_field").set_value(fields[i % len(fields)])

        def pick(i: int) -> None:
            at.radio(key="qy_show").set_value(shows[i % len(shows)]).run()
            check(at, "crosstab")

        self.measure("Queries: code x metadata crosstab", "action", before, pick,
                     note=f"fields {', '.join(fields[:3])} in turn (cached per data version after the first)")

    # -------------------------------------------------------------- in a real browser (click to repaint)

    def browser(self) -> None:
        """Click to repaint in chromium (Playwright) against a real server on the same project: the time from the
        click until the rerun it caused has finished and the browser has painted the next frame."""
        import subprocess

        from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, _kill_group, _wait_healthy, free_port, wait_idle
        from thematic import queries

        if not CHROMIUM.exists():
            self.log(f"  (browser: skipped, {CHROMIUM} is missing)")
            return
        from playwright.sync_api import sync_playwright

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = open(RESULTS / "app_bench_server.log", "wb")  # noqa: SIM115 (closed in the finally below)
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port",
             str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
             "--browser.gatherUsageStats", "false"],
            cwd=REPO, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        # Counts the script runs that have finished: each change of the app's run state away from "running".
        observe = ("() => { window.__runs = 0; const app = document.querySelector('[data-testid=stApp]');"
                   " new MutationObserver(rs => { for (const r of rs) if (r.oldValue === 'running') window.__runs++; })"
                   ".observe(app, {attributes: true, attributeOldValue: true,"
                   " attributeFilter: ['data-test-script-state']}); }")
        done = ("n => window.__runs > n && document.querySelector('[data-testid=stApp]')"
                ".getAttribute('data-test-script-state') === 'notRunning'")
        try:
            _wait_healthy(url, proc, timeout=180)
            with sync_playwright() as p:
                b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
                pg = b.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                pg.set_default_timeout(120_000)
                pg.goto(f"{url}/queries?coder={CODER}")
                wait_idle(pg, 300_000)
                pg.locator(".st-key-qy_words input").wait_for()
                pg.evaluate(observe)

                def clicked(fn: Callable[[], Any]) -> Callable[[int], Any]:
                    def run(_: int) -> None:
                        n = pg.evaluate("() => window.__runs")
                        fn()
                        pg.wait_for_function(done, arg=n, polling="raf")
                        pg.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
                    return run

                words = ["staff", "waiting", "parking", "kind", "appointment"]
                totals = {w: queries.kwic(self.store, w, limit=0).total for w in words}
                box = pg.locator(".st-key-qy_words input")

                def search(i: int) -> None:
                    w = words[i % len(words)] if i >= 0 else "nurse"
                    box.fill(w)
                    clicked(lambda: box.press("Enter"))(i)
                    if i >= 0:
                        pg.get_by_text(f"{totals[w]:,} occurrence").first.wait_for()

                self.measure("browser: keyword search (Enter to table)", "browser", lambda _: None, search)
                pg.get_by_role("tab", name="Codes by respondent group").click()
                wait_idle(pg)
                shows = ["Row %", "Column %", "Count"]
                self.measure("browser: crosstab Count / Row % / Column %", "browser", lambda _: None,
                             lambda i: clicked(lambda: pg.locator(".st-key-qy_show").get_by_text(
                                 shows[i % 3], exact=True).click())(i))
                pg.goto(f"{url}/define?coder={CODER}")
                wait_idle(pg, 300_000)
                pg.evaluate(observe)
                labels = pg.locator('[class*="st-key-df_quote_"] label:has(input[type=checkbox])')
                labels.first.wait_for()

                def save(i: int) -> None:
                    labels.nth((i + 1) % 5).click()  # tick or untick one extract, then one click on Save
                    wait_idle(pg)
                    clicked(lambda: pg.locator(".st-key-df_save_quotes button").click())(i)

                self.measure("browser: Save quotes (click to saved)", "browser", lambda _: None, save,
                             note="the first theme on page 5")
                b.close()
        finally:
            _kill_group(proc)
            log.close()

    # -------------------------------------------------------------- the library calls behind them

    def library(self) -> None:
        from thematic import codebook, coding, corpus

        s = self.store
        code = self.leaves[1].id
        free = [int(r[0]) for r in s.query(
            "SELECT s.id FROM segments s WHERE NOT EXISTS (SELECT 1 FROM codings c WHERE c.segment_id = s.id) "
            "ORDER BY s.id DESC LIMIT ?", (self.runs + 1,))]
        self.measure("lib: coding.apply_code", "library", lambda _: None,
                     lambda i: coding.apply_code(s, free[i + 1], code, "bench-lib"))
        targets = [self.themes[1].id, self.themes[2].id]
        leaf = self.leaves[1].id
        self.measure("lib: codebook.move_code", "library", lambda _: None,
                     lambda i: codebook.move_code(s, leaf, targets[i % 2], actor="bench-lib"))
        picks = [t.id for t in self.themes[:5]]

        def extracts(i: int) -> None:
            cid = picks[i % len(picks)]
            corpus.count_segments(s, code_id=cid)
            segs = corpus.segments(s, code_id=cid, offset=0, limit=25)
            corpus.form_meta(s, [x.form_id for x in segs])

        self.measure("lib: extracts (count + 25 segments + meta)", "library", lambda _: None, extracts)
        cands = self.open_candidates()
        cluster = _cluster_module()
        if cluster is not None and cands:
            self.measure("lib: cluster.accept_candidate", "library", lambda _: None,
                         lambda i: cluster.accept_candidate(s, cands[-1], coder="bench-lib"),
                         after=lambda _: s.undo(actor="bench-lib"), note="accepted, then undone (untimed)")
        self.measure("lib: coding.code_counts (rolled up)", "library", lambda _: None, lambda _: coding.code_counts(s))
        self.measure("lib: codebook.list_codes", "library", lambda _: None, lambda _: codebook.list_codes(s))
        self.measure("lib: corpus.count_segments(coded=True)", "library", lambda _: None,
                     lambda _: corpus.count_segments(s, coded=True))
        from thematic import queries

        self.measure("lib: queries.kwic (a common word, all questions)", "library", lambda _: None,
                     lambda _: queries.kwic(s, "staff"))
        fields = corpus.meta_fields(s)
        if fields:
            self.measure("lib: queries.crosstab (respondents, subthemes)", "library", lambda _: None,
                         lambda i: queries.crosstab(s, fields[i % len(fields)], max_depth=1))
        self.measure("lib: queries.cooccurrence (segments, subthemes)", "library", lambda _: None,
                     lambda _: queries.cooccurrence(s, max_depth=1))


# ------------------------------------------------------------------------------------------------ main


def table(results: list[Result]) -> str:
    lines = [f"{'interaction':<50} {'median ms':>10} {'p95 ms':>10} {'target':>8}  {'result':<6} {'cpu med ms':>10}",
             "-" * 101]
    for r in results:
        target = f"{r.target:.0f}" if r.kind != "library" else f"({r.target:.0f})"
        verdict = ("pass" if r.ok else "FAIL") if r.kind != "library" else ("ok" if r.ok else "slow")
        lines.append(f"{r.name:<50} {r.median:>10.1f} {r.p95:>10.1f} {target:>8}  {verdict:<6} {r.cpu_median:>10.1f}")
    return "\n".join(lines)


def profile(bench: Bench, name: str) -> None:
    """Run the scenarios with cProfile on in the script thread (where Streamlit runs the page) and in the caller,
    only while a measured call runs; print the top of the profile by cumulative time."""
    from streamlit.runtime.scriptrunner import script_runner

    prof = cProfile.Profile()
    active = [False]
    orig_timed = timed
    orig_run = script_runner.ScriptRunner._run_script

    def run_script(self: Any, rerun_data: Any) -> None:
        if not active[0]:
            return orig_run(self, rerun_data)
        prof.enable()
        try:
            return orig_run(self, rerun_data)
        finally:
            prof.disable()

    def profiled(fn: Callable[[], Any]) -> float:
        active[0] = True
        try:
            return orig_timed(fn)
        finally:
            active[0] = False

    globals()["timed"] = profiled
    script_runner.ScriptRunner._run_script = run_script  # type: ignore[method-assign]
    try:
        run_scenarios(bench, only={name})
    finally:
        globals()["timed"] = orig_timed
        script_runner.ScriptRunner._run_script = orig_run  # type: ignore[method-assign]
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_stats(40)
    print(out.getvalue())


SCENARIOS = ("pages", "apply", "accept", "move", "extracts", "kwic", "crosstab", "library", "browser")


def run_scenarios(bench: Bench, only: set[str] | None = None) -> None:
    def wanted(*names: str) -> bool:
        return only is None or any(n in only for n in names) or any(
            any(o in n or n in o for n in names) for o in only)

    page_titles = None if only is None else {t for t in PAGES if any(t in o for o in only)}
    if only is None or page_titles or "pages" in only:
        bench.pages(only=page_titles if page_titles and "pages" not in only else None)
    if wanted("apply", "2 Initial codes: apply a code (and next)"):
        bench.apply_code()
    if wanted("accept", "3 Themes: accept a candidate"):
        bench.accept_candidate()
    if wanted("move", "3 Themes: move a code under another theme"):
        bench.move_code()
    if wanted("extracts", "4 Review: open a theme's extracts"):
        bench.extracts()
    if wanted("kwic", "Queries: keyword in context"):
        bench.kwic()
    if wanted("crosstab", "Queries: code x metadata crosstab"):
        bench.crosstab()
    if wanted("library", "lib:"):
        bench.library()
    if only is not None and "browser" in only:  # needs chromium; run on its own with --only browser
        bench.browser()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=20, help="measured runs per scenario (default 20)")
    ap.add_argument("--project", type=Path, default=None,
                    help=f"the cached bench project (default {PROJECT.relative_to(REPO)}, or *_hashing.db with "
                         "--embedder hashing)")
    ap.add_argument("--rebuild", action="store_true", help="rebuild the cached project from the NHS csv")
    ap.add_argument("--embedder", choices=("minilm", "hashing"), default="minilm",
                    help="embeddings for the clustering run and the suggestions (default: the real MiniLM)")
    ap.add_argument("--only", action="append", default=None,
                    help=f"only these scenarios ({', '.join(SCENARIOS)}, or a page title); repeatable")
    ap.add_argument("--profile", default=None, help="cProfile one scenario (name as printed) instead of the table")
    args = ap.parse_args(argv)

    if args.embedder == "hashing":
        os.environ["THEMATIC_FAKE_EMBEDDER"] = "1"
    if args.project is None:  # one cached project per embedder: its clustering run used that embedder
        args.project = PROJECT if args.embedder == "minilm" else PROJECT.with_name(f"{PROJECT.stem}_hashing.db")
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.rebuild or not args.project.exists():
        print(f"building {args.project} ...", flush=True)
        build_project(args.project, embedder_kind=args.embedder)
    info_path = args.project.with_suffix(".json")
    info = json.loads(info_path.read_text()) if info_path.exists() else {}
    info.update(ensure_candidates(args.project, args.embedder, info))
    info_path.write_text(json.dumps(info, indent=1))

    work = Path(tempfile.mkdtemp(prefix="app_bench_")) / "bench.db"
    shutil.copyfile(args.project, work)
    os.environ["THEMATIC_PROJECT"] = str(work)
    try:
        bench = Bench(work, args.runs)
        print(f"project: {info.get('segments', '?'):,} segments, {info.get('codes', '?')} codes, "
              f"{info.get('codings', '?'):,} codings, {info.get('candidates', 0)} candidates "
              f"({info.get('embedder', 'no')} embeddings); {args.runs} runs each", flush=True)
        if args.profile:
            profile(bench, args.profile)
            return 0
        run_scenarios(bench, only=set(args.only) if args.only else None)
    finally:
        shutil.rmtree(work.parent, ignore_errors=True)
    print()
    print(table(bench.results))
    print(f"(wall-clock times; 'cpu med' is the process CPU time of the same calls. Load average now "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores: a busy machine inflates p95.)")
    failed = [r.name for r in bench.results if r.kind != "library" and not r.ok]
    summary = {
        "bench": "app",
        "segments": info.get("segments"),
        "runs": args.runs,
        "embedder": info.get("embedder"),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "results": {r.name: {"median_ms": round(r.median, 1), "p95_ms": round(r.p95, 1), "target_ms": r.target,
                             "cpu_median_ms": round(r.cpu_median, 1), "kind": r.kind} for r in bench.results},
        "failed": failed,
        "pass": not failed,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
