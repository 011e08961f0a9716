"""Sign-in throttling and idle expiry, independent of any web framework (the app keeps one guard per server).

:class:`SignInGuard` counts wrong passwords per user name and per browser session. After ``free`` failures in a
row, each further attempt must wait ``base * 2**(n - free)`` seconds (at most ``ceiling``); a successful sign-in
clears the name's and the session's count. A name under attack is slowed down whichever browser the guesses come
from, and one browser guessing many names is slowed down too. The clock is injectable for tests.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

MAX_ENTRIES = 10_000


@dataclass
class _Count:
    failures: int = 0
    last: float = 0.0


class SignInGuard:
    def __init__(
        self, *, free: int = 3, base: float = 2.0, ceiling: float = 300.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.free, self.base, self.ceiling, self.clock = free, base, ceiling, clock
        self._names: dict[str, _Count] = {}
        self._sessions: dict[str, _Count] = {}
        self._lock = threading.Lock()

    def _delay(self, c: _Count | None) -> float:
        if c is None or c.failures < self.free:
            return 0.0
        wait = min(self.ceiling, self.base * 2.0 ** (c.failures - self.free))
        return max(0.0, c.last + wait - float(self.clock()))

    def wait_for(self, name: str, session: str) -> float:
        """Seconds before ``session`` may try a password for ``name`` again (0: now)."""
        with self._lock:
            return max(self._delay(self._names.get(name.casefold())), self._delay(self._sessions.get(session)))

    def failed(self, name: str, session: str) -> None:
        now = self.clock()
        with self._lock:
            for table, key in ((self._names, name.casefold()), (self._sessions, session)):
                c = table.setdefault(key, _Count())
                c.failures += 1
                c.last = now
                if len(table) > MAX_ENTRIES:  # forget the oldest quiet entries; a flood cannot grow memory
                    for k, _ in sorted(table.items(), key=lambda kv: kv[1].last)[: len(table) // 2]:
                        table.pop(k, None)

    def succeeded(self, name: str, session: str) -> None:
        with self._lock:
            self._names.pop(name.casefold(), None)
            self._sessions.pop(session, None)

    def failures(self, name: str) -> int:
        with self._lock:
            c = self._names.get(name.casefold())
            return 0 if c is None else c.failures


def idle_expired(last_seen: float, now: float, idle_minutes: float) -> bool:
    """Whether a session last active at ``last_seen`` has been idle longer than ``idle_minutes`` at ``now``."""
    return now - last_seen > idle_minutes * 60.0
