"""Budgets for what visitors may do: so many times a minute, and slower after repeated failures.

Both are keyed by whatever the caller names (a session, a client's address, "everyone"), are
thread-safe (one is shared by every session of the server), and forget keys they no longer need,
so a visitor inventing new keys cannot make them grow without bound.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

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
