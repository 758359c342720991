"""limits.SharedRateLimit's interface in PostgreSQL: a budget counted once for every machine.

Each `take` and `wait` is one statement, one round trip: the counting is the database's own
function (schema version 5), run under each key's lock, so no two machines count the same event
twice or let one more through between counting and recording."""
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

    def wait(self, **keys: str) -> float:
        """Seconds before one more event may happen under all `keys` (kind=value); 0: now."""
        return self._call("lab_limit_wait", keys)

    def take(self, **keys: str) -> float:
        """Record one event under all `keys` and return 0, or return the seconds to wait (nothing recorded)."""
        return max(0.0, self._call("lab_limit_take", keys))

    def _call(self, function: str, keys: dict[str, str]) -> float:
        unknown = set(keys) - set(self.counts)
        if unknown:
            raise ValueError(f"no count set for key kinds {sorted(unknown)}; known: {sorted(self.counts)}")
        kinds = sorted(keys)
        with self._pool.connection() as db:  # autocommit: the statement is its own transaction
            return db.execute(f"SELECT {function}(%s, %s, %s, %s, %s, %s)",
                              (self.name, kinds, [keys[k] for k in kinds], [self.counts[k] for k in kinds],
                               float(self.seconds), float(self._clock()))).fetchone()[0]
