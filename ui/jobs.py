"""Long work in a background thread, so that the analyst can keep working (and move between pages) while it runs.

A job is keyed (e.g. ``"cluster:/path/project.db"``: one clustering at a time per project) and kept in a
server-wide registry (``st.cache_resource``), so a page that is left and come back to finds it still running, or
finished with its result. The work gets a ``progress(done, total, message)`` callback; the page draws the job with
:func:`show`, an ``st.fragment`` that polls once a second.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import streamlit as st

from thematic.errors import ThematicError

log = logging.getLogger(__name__)


@dataclass
class Job:
    key: str
    label: str
    started: float = field(default_factory=time.monotonic)
    done: int = 0
    total: int = 0
    message: str = ""
    finished: float | None = None
    result: Any = None
    error: str | None = None
    seen: bool = False  # the finished job has been reported to the page once

    @property
    def running(self) -> bool:
        return self.finished is None

    def progress(self, done: int, total: int, message: str = "") -> None:
        self.done, self.total, self.message = int(done), int(total), str(message or self.message)

    @property
    def seconds(self) -> float:
        """How long the work has run: until now while it runs, until it finished once it has."""
        return (time.monotonic() if self.finished is None else self.finished) - self.started

    @property
    def fraction(self) -> float:
        return min(1.0, max(0.0, self.done / self.total)) if self.total else 0.0


@st.cache_resource(show_spinner=False)
def _registry() -> tuple[dict[str, Job], threading.Lock]:
    return {}, threading.Lock()


def get(key: str) -> Job | None:
    jobs, lock = _registry()
    with lock:
        return jobs.get(key)


def start(key: str, label: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Job:
    """Run ``fn(*args, progress=job.progress, **kwargs)`` in a thread, unless a job with this key is running."""
    jobs, lock = _registry()
    with lock:
        current = jobs.get(key)
        if current is not None and current.running:
            return current
        job = Job(key, label)
        jobs[key] = job

    def work() -> None:
        try:
            job.result = fn(*args, progress=job.progress, **kwargs)
        except ThematicError as exc:
            job.error = str(exc)
        except Exception as exc:  # the page shows it instead of a dead thread
            log.exception("job %s failed", key)
            job.error = f"{label} failed: {type(exc).__name__}: {exc}"
        finally:
            job.finished = time.monotonic()

    threading.Thread(target=work, name=f"thematic-job-{key}", daemon=True).start()
    return job


def wait(key: str, timeout: float) -> Job | None:
    """Block until the job finishes or ``timeout`` seconds pass (tests and scripts)."""
    end = time.monotonic() + timeout
    job = get(key)
    while job is not None and job.running and time.monotonic() < end:
        time.sleep(0.05)
    return job
