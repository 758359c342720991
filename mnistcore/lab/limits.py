"""Budgets for what visitors may do: so many times a minute, and slower after repeated failures.

All are keyed by whatever the caller names (a visitor, a device, an address, "everyone"), are
thread-safe (one is shared by every session of the server), and forget keys they no longer need,
so a visitor inventing new keys cannot make them grow without bound. RateLimit and Backoff count
in one process; SharedRateLimit counts in an SQLite file all the lab's processes share
(mnistcore.lab.pg.limits: in PostgreSQL, for every machine of the lab).
"""
from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from pathlib import Path

MAX_KEYS = 10_000  # keys remembered at once; the least recently used is forgotten first


class RateLimit:
    """At most `count` events per `seconds` for each key (a sliding window)."""

    def __init__(self, count: int, seconds: float, clock: Callable[[], float] = time.monotonic):
        if count < 1 or seconds <= 0:
            raise ValueError(f"a rate limit needs count >= 1 and seconds > 0; got {count!r}, {seconds!r}")
        self.count, self.seconds, self._clock = int(count), float(seconds), clock
        self._lock = threading.Lock()
        self._events: OrderedDict[str, deque] = OrderedDict()

    def take(self, key: str) -> float:
        """Record one event for `key` and return 0, or return how many seconds to wait (nothing recorded)."""
        now = self._clock()
        with self._lock:
            events = self._events.pop(key, None) or deque()
            while events and events[0] <= now - self.seconds:
                events.popleft()
            wait = 0.0
            if len(events) >= self.count:
                wait = events[0] + self.seconds - now
            else:
                events.append(now)
            self._events[key] = events  # most recently used last
            while len(self._events) > MAX_KEYS:
                self._events.popitem(last=False)
            return wait


class Backoff:
    """After `free` failures in a row for a key (`free_for` sets other numbers for some keys), each
    further attempt must wait 2, 4, 8, ... seconds after the last failure, up to `longest`. A
    success clears the keys it names."""

    def __init__(self, free: int, longest: float = 300.0, free_for: dict[str, int] | None = None,
                 forget: float = 600.0, clock: Callable[[], float] = time.monotonic):
        self.free, self.longest, self._clock = int(free), float(longest), clock
        self.forget = float(forget)  # failures further apart than this no longer count as "in a row"
        self._free_for = dict(free_for or {})
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()  # key -> (in a row, when last)

    def wait(self, *keys: str) -> float:
        """Seconds before the next attempt under all `keys` may be tried (0: now)."""
        now = self._clock()
        with self._lock:
            return max([0.0] + [self._delay(k) + self._failures[k][1] - now for k in keys if k in self._failures])

    def failed(self, *keys: str) -> int:
        """Count a failure under each key; returns the most failures in a row among them."""
        now = self._clock()
        with self._lock:
            for key in keys:
                count, last = self._failures.pop(key, (0, now))
                count = count + 1 if now - last <= self.forget else 1
                self._failures[key] = (count, now)
            while len(self._failures) > MAX_KEYS:
                self._failures.popitem(last=False)
            return max(self._failures[k][0] for k in keys)

    def restarted(self, clock: Callable[[], float]) -> Backoff:
        """The same rules with no failures counted, timed by `clock`: a test moves a fake clock on
        instead of waiting out the delays."""
        return Backoff(self.free, self.longest, self._free_for, self.forget, clock)

    def succeeded(self, *keys: str) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)

    def _delay(self, key: str) -> float:
        count, free = self._failures[key][0], self._free_for.get(key, self.free)
        return 0.0 if count < free else min(self.longest, 2.0 ** (count - free + 1))


class SharedRateLimit:
    """At most `counts[kind]` events per `seconds` for each key (kind, value), counted in an SQLite
    file that every server process on the same lab opens: a device whose requests land on another
    process (nginx's cookie picks it) is still counted once. Old events are forgotten as they leave
    the window, so keys a visitor invents do not pile up."""

    def __init__(self, path: Path, name: str, counts: dict[str, int], seconds: float,
                 clock: Callable[[], float] = time.time):
        if not counts or min(counts.values()) < 1 or seconds <= 0:
            raise ValueError(f"a shared rate limit needs counts >= 1 and seconds > 0; got {counts!r}, {seconds!r}")
        self.path, self.name, self.counts, self.seconds, self._clock = Path(path), name, dict(counts), seconds, clock
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("CREATE TABLE IF NOT EXISTS events (name TEXT, kind TEXT, key TEXT, at REAL)")
            db.execute("CREATE INDEX IF NOT EXISTS events_by_key ON events (name, kind, key, at)")

    def _connect(self) -> sqlite3.Connection:
        # A connection per call: cheap, and safe from any thread of any process.
        db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    def _wait(self, db: sqlite3.Connection, keys: dict[str, str], now: float) -> float:
        db.execute("DELETE FROM events WHERE name = ? AND at <= ?", (self.name, now - self.seconds))
        wait = 0.0
        for kind, key in keys.items():
            rows = db.execute("SELECT at FROM events WHERE name = ? AND kind = ? AND key = ? ORDER BY at DESC LIMIT ?",
                              (self.name, kind, key, self.counts[kind])).fetchall()
            if len(rows) >= self.counts[kind]:
                wait = max(wait, rows[-1][0] + self.seconds - now)
        return wait

    def wait(self, **keys: str) -> float:
        """Seconds before one more event may happen under all `keys` (kind=value); 0: now."""
        self._known(keys)
        with contextlib.closing(self._connect()) as db:
            return self._wait(db, keys, self._clock())

    def take(self, **keys: str) -> float:
        """Record one event under all `keys` and return 0, or return the seconds to wait (nothing recorded)."""
        self._known(keys)
        now = self._clock()
        with contextlib.closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")  # one process at a time between counting and recording
            try:
                wait = self._wait(db, keys, now)
                if wait <= 0:
                    db.executemany("INSERT INTO events VALUES (?, ?, ?, ?)",
                                   [(self.name, kind, key, now) for kind, key in keys.items()])
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
            return max(0.0, wait)

    def _known(self, keys: dict[str, str]) -> None:
        unknown = set(keys) - set(self.counts)
        if unknown:
            raise ValueError(f"no count set for key kinds {sorted(unknown)}; known: {sorted(self.counts)}")
