"""Two processes coding the same project file at once lose nothing (WAL + BEGIN IMMEDIATE + busy timeout)."""

from __future__ import annotations

import multiprocessing as mp
import random
import sys
import time
import types
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from thematic.coding import apply_code, codings, remove_coding
from thematic.memos import add_memo, memos
from thematic.store import Store

from .helpers import make_corpus


@contextmanager
def _plain_main() -> Iterator[None]:
    """Start spawned workers from a bare ``__main__``.

    A spawned child re-runs the parent's ``__main__`` file. After an AppTest in the same pytest process that is
    ``app.py`` (Streamlit installs the script as ``__main__``), which must not run in a worker."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _start(procs: Sequence[mp.process.BaseProcess]) -> None:
    with _plain_main():
        for p in procs:
            p.start()

OPS = 1000
N_SEGMENTS = 60


def _plan(worker: int, segs: list[int], codes: list[int]) -> list[tuple[str, int, int]]:
    """A deterministic mix of codings, uncodings and memos for one worker."""
    rnd = random.Random(1000 + worker)
    ops: list[tuple[str, int, int]] = []
    for _ in range(OPS):
        r = rnd.random()
        kind = "apply" if r < 0.7 else ("remove" if r < 0.9 else "memo")
        ops.append((kind, rnd.choice(segs), rnd.choice(codes)))
    return ops


def _expected(ops: list[tuple[str, int, int]]) -> tuple[set[tuple[int, int]], int, int]:
    have: set[tuple[int, int]] = set()
    n_memos = changes = 0
    for kind, seg, code in ops:
        if kind == "apply":
            changes += (seg, code) not in have
            have.add((seg, code))
        elif kind == "remove":
            changes += (seg, code) in have
            have.discard((seg, code))
        else:
            n_memos += 1
            changes += 1
    return have, n_memos, changes


def _worker(path: str, worker: int, segs: list[int], codes: list[int], start: object) -> None:
    store = Store.open(path)
    coder = f"coder{worker}"
    start.wait(30)  # type: ignore[attr-defined]
    for i, (kind, seg, code) in enumerate(_plan(worker, segs, codes)):
        if kind == "apply":
            apply_code(store, seg, code, coder)
        elif kind == "remove":
            remove_coding(store, seg, code, coder)
        else:
            add_memo(store, f"note {i} by {coder}", segment_id=seg, coder=coder)
        # A person pauses between clicks. Without any pause, one process that commits (fsync: synchronous=FULL)
        # and begins again at once can keep the lock for its whole run while the other sleeps in its busy handler.
        time.sleep(0.002)
    store.close()


def test_two_processes_coding_the_same_file_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    with Store(path) as s:
        ids = make_corpus(s, [(f"F{i}", {}, {"Q1": [f"form {i} seg {j}" for j in range(3)]}) for i in range(20)],
                          questions=("Q1",))
        from thematic.codebook import ensure_path

        codes = [ensure_path(s, f"T/C{i}") for i in range(4)]
        events_before = s.scalar("SELECT count(*) FROM audit")
    segs = sorted(ids.values())[:N_SEGMENTS]
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_worker, args=(str(path), w, segs, codes, start)) for w in (0, 1)]
    _start(procs)
    time.sleep(0.5)
    t0 = time.perf_counter()
    start.set()
    for p in procs:
        p.join(120)
    elapsed = time.perf_counter() - t0
    assert [p.exitcode for p in procs] == [0, 0], "a worker failed (see its traceback above)"
    with Store.open(path) as s:
        total_changes = 0
        for w in (0, 1):
            want, n_memos, changes = _expected(_plan(w, segs, codes))
            got = {(c.segment_id, c.code_id) for c in codings(s, coder=f"coder{w}")}
            assert got == want
            assert sum(1 for m in memos(s) if m.coder == f"coder{w}") == n_memos
            total_changes += changes
        # One audit event per change (the coder's first action also adds the coder, inside the same event).
        events = s.scalar("SELECT count(*) FROM audit") - events_before
        assert events == total_changes
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        # The two really ran at the same time: their events interleave in the audit trail. (How often depends on
        # the scheduler: a process that holds the write lock tends to get it again, so only a few switches are
        # guaranteed on 2 busy cores.)
        actors = [r[0] for r in s.query("SELECT actor FROM audit WHERE id > ? ORDER BY id", (events_before,))]
        switches = sum(1 for a, b in zip(actors, actors[1:]) if a != b)
        assert switches >= 3, f"the workers did not overlap ({switches} switches)"
    print(f"2 x {OPS} operations in {elapsed:.1f}s, {switches} switches between the processes")


def _same_coder_worker(path: str, worker: int, segs: list[int], codes: list[int], start: object) -> None:
    store = Store.open(path)
    rnd = random.Random(worker)
    start.wait(30)  # type: ignore[attr-defined]
    for _ in range(OPS // 2):
        seg, code = rnd.choice(segs), rnd.choice(codes)
        r = rnd.random()
        if r < 0.6:
            apply_code(store, seg, code, "shared")
        elif r < 0.9:
            remove_coding(store, seg, code, "shared")
        else:
            try:
                store.undo()
            except Exception as exc:  # NothingToUndo only
                assert type(exc).__name__ == "NothingToUndo", exc
    store.close()


def test_same_coder_in_two_processes_with_undo_unwinds_exactly(tmp_path: Path) -> None:
    """The same coder in two processes (two browser tabs, or the app and the CLI), undoing now and then: the file
    stays consistent, and undoing every change restores the starting state exactly."""
    from thematic.codebook import ensure_path

    from .conftest import dump

    path = tmp_path / "shared.db"
    with Store(path) as s:
        ids = make_corpus(s, [(f"F{i}", {}, {"Q1": [f"x{i} {j}" for j in range(3)]}) for i in range(10)],
                          questions=("Q1",))
        codes = [ensure_path(s, f"T/C{i}") for i in range(3)]
        start_state = dump(s)
        last_setup = s.scalar("SELECT max(id) FROM audit")
    ctx = mp.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_same_coder_worker, args=(str(path), w, sorted(ids.values()), codes, start))
             for w in (0, 1)]
    _start(procs)
    time.sleep(0.5)
    start.set()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]
    with Store.open(path) as s:
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert s.conn.execute("PRAGMA foreign_key_check").fetchall() == []
        while (ev := s.undoable()) is not None and ev.id > last_setup:
            s.undo()
        after = dump(s)
        assert after["codings"] == start_state["codings"] == []
        assert after == start_state
