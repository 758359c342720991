"""limits.SharedRateLimit's interface in PostgreSQL: a budget counted once for every machine."""
from __future__ import annotations

import time
from collections.abc import Callable

from . import pool


class PgSharedRateLimit:
    """At most `counts[kind]` events per `seconds` for each key (kind, value), across the lab."""

    def __init__(self, url: str, name: str, counts: dict[str, int], seconds: float,
                 clock: Callable[[], float] = time.time):
        if not counts or min(counts.values()) < 1 or seconds <= 0:
            raise ValueError(f"a shared rate limit needs counts >= 1 and seconds > 0; got {counts!r}, {seconds!r}")
        self.name, self.counts, self.seconds, self._clock = name, dict(counts), seconds, clock
        self._pool = pool(url)

    def _wait(self, db, keys: dict[str, str], now: float) -> float:
        db.execute("DELETE FROM limit_events WHERE name = %s AND at <= %s", (self.name, now - self.seconds))
        wait = 0.0
        for kind, key in keys.items():
            rows = db.execute("SELECT at FROM limit_events WHERE name = %s AND kind = %s AND key = %s "
                              "ORDER BY at DESC LIMIT %s", (self.name, kind, key, self.counts[kind])).fetchall()
            if len(rows) >= self.counts[kind]:
                wait = max(wait, rows[-1][0] + self.seconds - now)
        return wait

    def wait(self, **keys: str) -> float:
        """Seconds before one more event may happen under all `keys` (kind=value); 0: now."""
        self._known(keys)
        with self._pool.connection() as db:
            return self._wait(db, keys, self._clock())

    def take(self, **keys: str) -> float:
        """Record one event under all `keys` and return 0, or return the seconds to wait (nothing recorded)."""
        self._known(keys)
        now = self._clock()
        with self._pool.connection() as db, db.transaction():
            # One taker per key at a time, on any machine, between counting and recording.
            for kind, key in sorted(keys.items()):
                db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"{self.name}\x1f{kind}\x1f{key}",))
            wait = self._wait(db, keys, now)
            if wait <= 0:
                db.cursor().executemany("INSERT INTO limit_events VALUES (%s, %s, %s, %s)",
                               [(self.name, kind, key, now) for kind, key in keys.items()])
        return max(0.0, wait)

    def _known(self, keys: dict[str, str]) -> None:
        unknown = set(keys) - set(self.counts)
        if unknown:
            raise ValueError(f"no count set for key kinds {sorted(unknown)}; known: {sorted(self.counts)}")
