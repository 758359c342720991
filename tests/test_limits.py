"""Budgets: so many a minute per key, and slower after repeated failures. Time is a fake clock."""
import concurrent.futures
import threading
import time

import pytest

from mnistcore.lab.limits import MAX_KEYS, Backoff, RateLimit, SharedRateLimit
from mnistcore.lab.pg.limits import PgSharedRateLimit


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_a_rate_limit_counts_per_key_in_a_sliding_window():
    clock = Clock()
    limit = RateLimit(3, 60, clock=clock)
    assert [limit.take("a") for _ in range(3)] == [0, 0, 0]
    assert limit.take("a") == pytest.approx(60) and limit.take("b") == 0  # others are not held up
    clock.now += 30
    assert limit.take("a") == pytest.approx(30)  # refusals are not counted
    clock.now += 30.001
    assert limit.take("a") == 0 and limit.take("a") == 0 and limit.take("a") == 0
    assert limit.take("a") > 0


def test_a_rate_limit_forgets_keys_beyond_its_budget():
    limit = RateLimit(1, 60, clock=Clock())
    for n in range(MAX_KEYS + 50):
        limit.take(f"key-{n}")
    assert len(limit._events) == MAX_KEYS and limit.take(f"key-{MAX_KEYS + 49}") > 0


def test_backoff_doubles_after_the_free_failures_and_a_success_clears_it():
    clock = Clock()
    backoff = Backoff(free=5, longest=60, free_for={"everyone": 20}, clock=clock)
    for n in range(1, 5):
        assert backoff.failed("s1", "everyone") == n and backoff.wait("s1", "everyone") == 0
    waits = []
    for _ in range(6):
        backoff.failed("s1", "everyone")
        waits.append(backoff.wait("s1", "everyone"))
    assert waits == [2, 4, 8, 16, 32, 60]  # capped at `longest`
    assert backoff.wait("s2", "everyone") == 0  # another session: "everyone" has only 10 so far
    clock.now += 59
    assert backoff.wait("s1") == pytest.approx(1)
    backoff.succeeded("s1")
    assert backoff.wait("s1") == 0


def test_a_restarted_backoff_keeps_the_rules_and_forgets_the_failures():
    shared = Backoff(free=2, longest=5, free_for={"everyone": 3}, forget=100)
    for _ in range(4):
        shared.failed("s1", "everyone")
    clock = Clock()
    backoff = shared.restarted(clock)
    assert backoff.wait("s1", "everyone") == 0 and shared.wait("s1") > 0
    assert (backoff.free, backoff.longest, backoff.forget) == (2, 5, 100)
    for _ in range(3):
        backoff.failed("s1", "everyone")
    assert backoff.wait("everyone") == 2 and backoff.wait("s1") == 4
    clock.now += 4
    assert backoff.wait("s1", "everyone") == 0  # its own clock, not the machine's


def test_backoff_for_everyone_slows_a_script_that_opens_new_sessions():
    clock = Clock()
    backoff = Backoff(free=5, free_for={"everyone": 20}, clock=clock)
    for n in range(25):
        backoff.failed(f"session-{n}", "everyone")  # a fresh session for every guess
    assert backoff.wait("session-99", "everyone") == 2 ** 6


def test_backoff_forgets_failures_long_ago():
    clock = Clock()
    backoff = Backoff(free=2, forget=600, clock=clock)
    backoff.failed("s")
    backoff.failed("s")
    assert backoff.wait("s") == 2
    clock.now += 601
    assert backoff.failed("s") == 1 and backoff.wait("s") == 0


def shared_limit(database, tmp_path, *args, **kwargs):
    """A SharedRateLimit on an SQLite file in `tmp_path` (database None), else in PostgreSQL."""
    if database is None:
        return SharedRateLimit(tmp_path / "limits.db", *args, **kwargs)
    return PgSharedRateLimit(database, *args, **kwargs)


def test_a_shared_rate_limit_counts_once_across_processes(tmp_path, database):
    clock = Clock()
    # Two objects on one file or database: as two server processes, or machines, see it.
    one, two = (shared_limit(database, tmp_path, "guesses", {"device": 3, "address": 5}, 60, clock=clock)
                for _ in range(2))
    assert [one.take(device="a", address="room"), two.take(device="a", address="room"),
            one.take(device="a", address="room")] == [0, 0, 0]
    clock.now += 10
    assert two.take(device="a", address="room") == pytest.approx(50)  # a's three are in the last minute
    assert one.wait(device="b", address="room") == 0   # another device behind the same address
    assert one.take(device="b", address="room") == 0 and two.take(device="c", address="room") == 0
    assert one.take(device="d", address="room") == pytest.approx(50)  # the address' five are used up
    clock.now += 50
    assert two.take(device="a", address="room") == 0   # the first minute is over
    with pytest.raises(ValueError, match="no count set for key kinds"):
        one.take(person="a")
    with pytest.raises(ValueError, match="counts >= 1"):
        shared_limit(database, tmp_path, "x", {"device": 0}, 60)


def test_a_shared_rate_limit_lets_exactly_its_count_through_at_once(tmp_path, database):
    clock = Clock()
    limits = [shared_limit(database, tmp_path, "drawings", {"device": 5, "address": 50}, 60, clock=clock)
              for _ in range(2)]  # two processes, or machines
    start = threading.Barrier(16)

    def take(n: int) -> float:
        start.wait()  # all sixteen count at the same moment
        return limits[n % 2].take(device="a", address="room")

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        waits = list(pool.map(take, range(16)))
    assert sum(wait == 0 for wait in waits) == 5 and all(wait == pytest.approx(60) for wait in waits if wait)
    assert limits[0].wait(device="b", address="room") == 0 and limits[1].take(device="b", address="room") == 0


def test_in_postgresql_a_take_waits_while_another_machine_counts_the_same_key(pg_url):
    import psycopg

    clock = Clock()
    limit = PgSharedRateLimit(pg_url, "drawings", {"device": 1}, 60, clock=clock)
    limit.wait(device="a")  # the schema is in place
    waiting = ("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
               "AND query LIKE 'SELECT lab_limit_take%'")
    # Another machine, between counting and recording "a"; and a look at the server from outside any
    # transaction (inside one, pg_stat_activity would stay as it was first read).
    with psycopg.connect(pg_url) as other, psycopg.connect(pg_url, autocommit=True) as observer:
        other.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", ("drawings\x1fdevice\x1fa",))
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            taken = pool.submit(limit.take, device="a")
            pause, deadline = threading.Event(), time.monotonic() + 60
            while observer.execute(waiting).fetchone()[0] == 0 and not taken.done() and time.monotonic() < deadline:
                pause.wait(0.01)  # until the take is seen waiting for the lock (or, wrongly, done)
            assert not taken.done() and observer.execute(waiting).fetchone()[0] == 1
            other.execute("INSERT INTO limit_events VALUES ('drawings', 'device', 'a', %s)", (clock.now,))
            other.commit()  # the other machine recorded its event and let go: now it counts
            assert taken.result(30) == pytest.approx(60)
