"""The training slot: one run at a time, the queue, closed tabs, crashes, progress, stop, publishing.

Time in the heartbeat tests is a FakeClock the test moves on: nothing here sleeps. Every test runs
three times: with the slot's board in memory (one process), in an SQLite file (as several server
processes share it; tests/test_processes.py has the processes themselves) and in PostgreSQL (as
several machines share it; a real server, tests/pgserver.py).
"""
import datetime as dt
import os
import queue
import sys
import threading

import pytest
from threadpoolctl import threadpool_info

from mnistcore.lab.coordination import RunBoard
from mnistcore.lab.pg.board import PgRunBoard
from mnistcore.lab.names import clean_label, name_problem
from mnistcore.lab.slot import (FAILED, FINISHED, RUNNING, STOPPED, QueueFull, SlotBusy, TrainingSlot, book,
                                training_slot)
from mnistcore.evaluation import evaluate
from mnistcore.nets.base import Progress
from mnistcore.lab.store import ModelStore
from mnistcore.training import TrainResult, TrainSettings
from sitetools import weights_copy

QUICK = TrainSettings(epochs=2, batch_size=64, hidden=16, train_limit=1000)


@pytest.fixture(autouse=True, params=["memory", "file", "postgres"])
def board(request, tmp_path, monkeypatch):
    """Each TrainingSlot made in the test gets a board of this kind. Returns how to make a board that
    several slots share (an SQLite file, or the same PostgreSQL database)."""
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
        monkeypatch.setattr(training_slot, "RunBoard", lambda: PgRunBoard(url))
        return lambda: PgRunBoard(url)
    if request.param == "file":
        monkeypatch.setattr(training_slot, "RunBoard", lambda: RunBoard(tmp_path / "slot.db"))
    return lambda: RunBoard(tmp_path / "shared.db")


@pytest.fixture
def store(tmp_path, small_mnist):
    return ModelStore(weights_copy(tmp_path / "weights", small_mnist))


def blocking_train(release: threading.Event, model):
    """A stand-in for run_training that reports batches until released or told to stop."""

    def train(settings, data, on_batch=None, on_epoch=None):
        seen = 0
        while not release.wait(0.005):
            seen += 1
            if on_batch(Progress(1, settings.epochs, seen, 10_000, 1.0, 0.5, 0.0)):
                return TrainResult(model, None, True, [])
        return TrainResult(model, None, False, [])

    return train


def test_a_run_trains_in_the_background_and_reports_progress(small_mnist, store):
    slot = TrainingSlot()
    before = store.live()
    job = slot.start(QUICK, small_mnist, owner="Ada")
    assert slot.wait(60)
    status = slot.status()
    assert status.run_id == job and status.owner == "Ada" and status.settings == QUICK
    assert status.state == FINISHED and status.fraction == 1.0 and status.finished_at >= status.started_at
    assert [p.epoch for p in status.history] == [1, 2]
    assert all(0 <= p.test_accuracy <= 1 and p.loss > 0 for p in status.history)
    assert status.batch_loss is not None and status.error is None
    result = slot.result(job)
    assert status.test_accuracy == result.evaluation.accuracy > 0.5
    assert status.can_publish and store.live() is before  # nothing is live until published
    name = slot.publish(job, store)
    assert store.live().name == name and store.live().info == result.model.info
    assert slot.status().published_as == name and not slot.status().can_publish
    with pytest.raises(ValueError, match="already published"):
        slot.publish(job, store)


def test_only_one_run_at_a_time(small_mnist, store):
    release = threading.Event()
    slot = TrainingSlot(train=blocking_train(release, store.live().model))
    slot.start(QUICK, small_mnist, owner="Ada")
    try:
        with pytest.raises(SlotBusy, match="Ada is training"):
            slot.start(QUICK, small_mnist, owner="Grace")
        assert slot.busy() and slot.status().state == RUNNING and slot.status().owner == "Ada"
    finally:
        release.set()
    assert slot.wait(10)
    slot.start(QUICK, small_mnist, owner="Grace")  # free again once the run has ended
    assert slot.wait(60) and slot.status().owner == "Grace"


def test_a_failing_run_releases_the_slot_and_says_why(small_mnist):
    def broken(settings, data, on_batch=None, on_epoch=None):
        raise RuntimeError("out of memory, say")

    slot = TrainingSlot(train=broken)
    job = slot.start(QUICK, small_mnist, owner="Ada")
    assert slot.wait(10)
    status = slot.status()
    assert status.run_id == job and status.state == FAILED and "out of memory, say" in status.error
    assert not slot.busy() and not status.can_publish and slot.result(job) is None
    with pytest.raises(ValueError, match="no finished model"):
        slot.publish(job, None)
    slot.start(QUICK, small_mnist, owner="Grace")  # the slot is free for the next person
    assert slot.wait(10) and slot.status().owner == "Grace" and slot.status().state == FAILED


def test_stop_ends_a_real_run_at_the_next_batch_and_leaves_the_live_model(small_mnist, store):
    slot = TrainingSlot()
    before = store.live()
    live_file = store.live_file.read_bytes() if store.live_file.exists() else None
    # Batch size 1 over 30 epochs: far too long to finish before the stop arrives.
    settings = TrainSettings(epochs=30, batch_size=1, hidden=16, train_limit=1000)
    job = slot.start(settings, small_mnist, owner="Ada")
    pause = threading.Event()
    while slot.status().batch_loss is None and slot.busy():  # until training has really begun
        pause.wait(0.01)
    assert slot.stop(job)
    assert slot.wait(30)
    status = slot.status()
    assert status.state == STOPPED and status.fraction < 0.5 and len(status.history) < 30
    assert slot.result(job).stopped
    assert store.live() is before
    assert (store.live_file.read_bytes() if store.live_file.exists() else None) == live_file
    assert not slot.stop(job)  # nothing left to stop


def test_stop_only_applies_to_the_run_it_names(small_mnist, store):
    release = threading.Event()
    slot = TrainingSlot(train=blocking_train(release, store.live().model))
    job = slot.start(QUICK, small_mnist, owner="Ada")
    assert not slot.stop("someone-elses-run")
    assert slot.stop(job)
    assert slot.wait(10)
    assert slot.status().state == STOPPED and not slot.status().can_publish  # no complete epoch


def test_status_is_a_consistent_snapshot_while_training(small_mnist):
    slot = TrainingSlot()
    slot.start(TrainSettings(epochs=3, batch_size=32, hidden=16, train_limit=1000), small_mnist, owner="Ada")
    snapshots = []
    while slot.busy():
        snapshots.append(slot.status())
    snapshots.append(slot.status())
    fractions = [s.fraction for s in snapshots]
    assert fractions == sorted(fractions)  # progress never goes backwards
    for s in snapshots:
        assert len(s.history) <= s.settings.epochs and (s.state == RUNNING) == (s.finished_at is None)


def test_start_refuses_bad_settings_before_starting(small_mnist):
    slot = TrainingSlot()
    with pytest.raises(ValueError, match="epochs must be a whole number from 1 to 30"):
        slot.start(TrainSettings(epochs=99), small_mnist, owner="Ada")
    assert slot.status() is None


# ---------------------------------------------------------------------------- the queue and closed tabs


class FakeClock:
    """The slot's clock, moved on by the test."""

    def __init__(self):
        self.now = dt.datetime(2025, 1, 1, 12, 0, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)


class StandInRuns:
    """A stand-in for run_training: each run reports batches until the test ends it, or it is stopped.

    `begun` receives each run's handle as it starts, so a test can wait for "the next run began".
    """

    def __init__(self, model):
        self.model = model
        self.begun = queue.Queue()

    def __call__(self, settings, data, on_batch=None, on_epoch=None):
        run = {"release": threading.Event(), "outcome": "finish", "thread": threading.current_thread(),
               "settings": settings, "blas": _blas_threads(), "nice": _nice()}
        self.begun.put(run)
        seen = 0
        while not run["release"].wait(0.002):  # reporting batches, as a real run would
            seen += 1
            if on_batch(Progress(1, settings.epochs, seen, 10_000, 1.0, 0.5, 0.0)):
                return TrainResult(self.model, None, True, [])
        if run["outcome"] == "fail":
            raise RuntimeError("out of memory, say")
        if run["outcome"] == "die":
            raise SystemExit("told to exit")
        evaluation = evaluate(self.model, *data[1])
        return TrainResult(self.model, evaluation, False, [])

    def next_run(self) -> dict:
        return self.begun.get(timeout=10)

    @staticmethod
    def end(run: dict, outcome: str = "finish") -> None:
        run["outcome"] = outcome
        run["release"].set()


def _blas_threads() -> int:
    return min(info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas")


def _nice() -> int | None:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) if sys.platform.startswith("linux") else None


@pytest.fixture
def runs(store):
    return StandInRuns(store.live().model)


def test_a_second_visitor_queues_and_their_run_starts_by_itself(small_mnist, store, runs):
    slot = TrainingSlot(train=runs)
    ada = slot.submit(QUICK, small_mnist, owner="ada-session", label="Ada")
    first = runs.next_run()
    grace = slot.submit(QUICK, small_mnist, owner="grace-session", label="Grace")
    status = slot.status()
    assert status.run_id == ada and status.running and status.label == "Ada" and status.owner == "ada-session"
    [waiting] = slot.queue()
    assert (waiting.run_id, waiting.label, waiting.position) == (grace, "Grace", 1)
    assert waiting.expected_start >= status.expected_end
    assert slot.last_run("grace-session") is None  # waiting, not running
    runs.end(first)
    runs.next_run()  # Grace's run began without anyone asking again
    status = slot.status()
    assert status.run_id == grace and status.owner == "grace-session" and status.running
    assert slot.queue() == () and slot.last_run("grace-session").run_id == grace
    # Ada's finished model is kept for her to publish while Grace trains.
    assert slot.status(ada).state == FINISHED and slot.last_run("ada-session").run_id == ada
    assert slot.publish(ada, store) == store.live().name


def test_nobody_runs_two_at_once_and_the_queue_is_bounded(small_mnist, store, runs):
    slot = TrainingSlot(train=runs, queue_size=2)
    slot.submit(QUICK, small_mnist, owner="ada")
    first = runs.next_run()
    with pytest.raises(SlotBusy, match="ada is training"):
        slot.start(QUICK, small_mnist, owner="grace")  # start never queues
    with pytest.raises(ValueError, match="already have a run in progress"):
        slot.submit(QUICK, small_mnist, owner="ada")
    slot.submit(QUICK, small_mnist, owner="grace")
    with pytest.raises(ValueError, match="already have a run waiting"):
        slot.submit(QUICK, small_mnist, owner="grace")  # one place each
    slot.submit(QUICK, small_mnist, owner="alan")
    with pytest.raises(QueueFull, match="queue is full"):
        slot.submit(QUICK, small_mnist, owner="barbara")
    assert [w.owner for w in slot.queue()] == ["grace", "alan"]
    assert slot.status().owner == "ada" and runs.begun.empty()  # still one run, Ada's
    runs.end(first)
    runs.end(runs.next_run())
    runs.end(runs.next_run())
    assert slot.wait(10) and slot.queue() == ()


def test_leaving_the_queue_moves_the_others_up(small_mnist, store, runs):
    slot = TrainingSlot(train=runs)
    slot.submit(QUICK, small_mnist, owner="ada")
    first = runs.next_run()
    for owner in ("grace", "alan", "barbara"):
        slot.submit(QUICK, small_mnist, owner=owner)
    starts = [w.expected_start for w in slot.queue()]
    assert starts == sorted(starts) and starts[0] < starts[-1]
    assert slot.cancel("alan") and not slot.cancel("alan") and not slot.cancel("nobody")
    assert [(w.owner, w.position) for w in slot.queue()] == [("grace", 1), ("barbara", 2)]
    runs.end(first)
    assert runs.next_run()["settings"] == QUICK and slot.status().owner == "grace"
    slot.stop(slot.status().run_id)
    assert runs.next_run() and slot.status().owner == "barbara"  # Alan's place was given up
    slot.stop(slot.status().run_id)
    assert slot.wait(10)


def test_a_closed_tab_stops_its_run_and_the_next_in_line_starts(small_mnist, store, runs):
    clock = FakeClock()
    slot = TrainingSlot(train=runs, clock=clock, heartbeat_timeout=5)
    before, live_file = store.live(), store.live_file.exists()
    ada = slot.submit(QUICK, small_mnist, owner="ada")
    runs.next_run()
    slot.submit(QUICK, small_mnist, owner="grace")
    for _ in range(3):  # both tabs open: 12 s pass, heartbeats every 4 s, the run goes on
        clock.advance(4)
        slot.heartbeat("ada")
        slot.heartbeat("grace")
    assert slot.status().run_id == ada and slot.status().running
    clock.advance(4)
    slot.heartbeat("grace")  # Ada's tab closed: her last heartbeat is 4 s old, still in time
    assert slot.status().running and slot.status().note is None
    clock.advance(4)
    slot.heartbeat("grace")  # 8 s since Ada was last heard from: her run is stopped
    runs.next_run()  # ...and Grace's starts
    assert slot.status().owner == "grace" and slot.status().running
    ended = slot.status(ada)
    assert ended.state == STOPPED and "page was closed" in ended.note
    assert store.live() is before and store.live_file.exists() == live_file
    slot.stop(slot.status().run_id)
    assert slot.wait(10)


def test_a_closed_tab_gives_up_its_place_in_the_queue(small_mnist, store, runs):
    clock = FakeClock()
    slot = TrainingSlot(train=runs, clock=clock, heartbeat_timeout=5)
    slot.submit(QUICK, small_mnist, owner="ada")
    first = runs.next_run()
    slot.submit(QUICK, small_mnist, owner="grace")
    slot.submit(QUICK, small_mnist, owner="alan")
    clock.advance(3)
    slot.heartbeat("ada")
    slot.heartbeat("alan")
    clock.advance(3)
    slot.heartbeat("ada")  # Grace has not been heard from for 6 s
    assert [w.owner for w in slot.queue()] == ["alan"]
    clock.advance(6)  # nor, now, Alan; Ada's own run notices she is gone too
    runs.end(first)  # whichever comes first, her run ends
    assert slot.wait(10)
    assert slot.queue() == () and runs.begun.empty() and not slot.busy()
    # Heartbeats from visitors with nothing in the slot are ignored, not recorded.
    slot.heartbeat("someone")
    assert slot.submit(QUICK, small_mnist, owner="someone") and runs.next_run()
    slot.stop(slot.status().run_id)
    assert slot.wait(10)


def test_no_stuck_slot_after_a_crash_and_the_next_run_starts(small_mnist, store, runs):
    slot = TrainingSlot(train=runs)
    before = store.live()
    ada = slot.submit(QUICK, small_mnist, owner="ada")
    first = runs.next_run()
    slot.submit(QUICK, small_mnist, owner="grace")
    runs.end(first, "fail")
    second = runs.next_run()
    status = slot.status(ada)
    assert status.state == FAILED and "out of memory, say" in status.error and slot.result(ada) is None
    assert slot.status().owner == "grace" and slot.status().running and store.live() is before
    runs.end(second)
    assert slot.wait(10) and slot.last_run("grace").state == FINISHED


def test_a_run_that_dies_in_any_way_frees_the_slot_and_the_next_starts(small_mnist, store, runs):
    slot = TrainingSlot(train=runs)
    ada = slot.submit(QUICK, small_mnist, owner="ada")
    first = runs.next_run()
    slot.submit(QUICK, small_mnist, owner="grace")
    runs.end(first, "die")  # not an Exception: SystemExit, as a library calling sys.exit() would raise
    second = runs.next_run()  # the same worker goes on to Grace's run
    status = slot.status(ada)
    assert status.state == FAILED and "SystemExit" in status.error and slot.result(ada) is None
    assert slot.status().owner == "grace" and second["thread"] is first["thread"]
    slot.stop(slot.status().run_id)
    assert slot.wait(10) and not slot.busy()


def test_training_runs_at_a_lower_priority_on_one_blas_thread(small_mnist, store, runs):
    blas_before = _blas_threads()
    nice_before = _nice()
    slot = TrainingSlot(train=runs, niceness=10)
    slot.submit(QUICK, small_mnist, owner="ada")
    run = runs.next_run()
    assert run["blas"] == 1
    if nice_before is not None:
        assert run["nice"] == min(19, nice_before + 10) and run["thread"] is not threading.current_thread()
    runs.end(run)
    assert slot.wait(10)
    assert _blas_threads() == blas_before and _nice() == nice_before  # the server's own threads are as they were


def test_settings_that_would_take_too_long_are_refused(small_mnist, runs):
    slot = TrainingSlot(train=runs, max_seconds=20)
    slow = TrainSettings(epochs=28, batch_size=1, hidden=1024)  # within LIMITS; ~40 s on 3,000 images
    with pytest.raises(ValueError, match="would take about 40 seconds.*limited to about 20 seconds"):
        slot.submit(slow, small_mnist, owner="ada")
    assert slot.status() is None and runs.begun.empty()


@pytest.mark.parametrize("given, shown", [("Ada", "Ada"), ("  Grace   Hopper ", "Grace Hopper"),
                                          ("[click](http://x.example)", "clickhttpxexample"),
                                          ("www.evil-example.com", "wwwevil-examplecom"), ("__Admin__", "Admin"),
                                          ("- list", "list"), ("", "Visitor 1A2B"),
                                          ("**", "Visitor 1A2B"), ("x" * 99, "x" * 40)])
def test_names_are_shown_as_plain_text(given, shown):
    assert clean_label(given, fallback="Visitor 1A2B") == shown


@pytest.mark.parametrize("given, problem", [("Ada", None), ("Grace Hopper-Smith", None), ("O'Neil 2", None),
                                            ("www.evil.com", "letters, digits"), ("__Admin__", "letters, digits"),
                                            ("Visitor 3F2A", "anonymous labels"), (" visitor", "anonymous labels"),
                                            ("Visitors' club", None), ("Ана Іванова", None),
                                            ("V\u0456sitor 3F2A", "different alphabets"),
                                            ("\u0412\u0456s\u0456tor", "different alphabets"),
                                            ("\uff36\uff49\uff53\uff49\uff54\uff4f\uff52 1", "anonymous labels"),
                                            ("Vi\u0301sitor 9", "anonymous labels"),
                                            ("Teacher - server restarts now - go to", "roles"),
                                            ("Your teacher", "roles"), ("ADMIN", "roles"),
                                            ("please all go to the next room", "not a message"),
                                            ("Mary Ann - Lee", "not a message")])
def test_names_that_render_or_imitate_are_refused(given, problem):
    found = name_problem(given)
    assert found == problem if problem is None else problem in found


def test_one_view_holds_what_a_page_draws(small_mnist, store, runs):
    slot = TrainingSlot(train=runs)
    ada = slot.submit(QUICK, small_mnist, owner="ada", label="Ada")
    first = runs.next_run()
    grace = slot.submit(QUICK, small_mnist, owner="grace", label="Grace")
    view = slot.view("grace")
    assert view.current.run_id == ada and view.mine is None and view.place.run_id == grace
    assert [r.run_id for r in view.queue] == [grace] and view.place.position == 1
    assert view.place.state == "waiting" and view.place.expected_start >= view.current.expected_end
    assert view.queue_size == slot.queue_size and view.max_seconds == slot.max_seconds
    view = slot.view("ada")
    assert view.mine.run_id == ada and view.mine.running and view.place is None
    runs.end(first)
    runs.next_run()
    assert slot.view("ada").mine.state == FINISHED and slot.view("grace").mine.run_id == grace
    slot.stop(grace)
    assert slot.wait(10)


def test_reading_never_changes_anything(small_mnist, store):
    clock = FakeClock()
    gate = threading.Event()

    def quiet(settings, data, on_batch=None, on_epoch=None):
        """A run that reports nothing until the gate opens, so only the test writes meanwhile."""
        gate.wait(10)
        stopped = on_batch(Progress(1, settings.epochs, 1, 10_000, 1.0, 0.5, 0.0))
        return TrainResult(store.live().model, None, bool(stopped), [])

    slot = TrainingSlot(train=quiet, clock=clock, heartbeat_timeout=5)
    slot.submit(QUICK, small_mnist, owner="ada")
    slot.submit(QUICK, small_mnist, owner="grace")
    clock.advance(60)  # both long gone; but only a writer (a heartbeat, a run, the worker) may say so
    first = (slot.view("grace"), slot.status(), slot.queue(), slot.last_run("ada"), slot.busy())
    for _ in range(3):
        assert (slot.view("grace"), slot.status(), slot.queue(), slot.last_run("ada"), slot.busy()) == first
    assert [r.owner for r in slot.queue()] == ["grace"] and slot.status().note is None
    slot.heartbeat("someone else")  # a write: now the slot gives both up
    assert slot.queue() == () and "page was closed" in slot.status().note
    gate.set()
    assert slot.wait(10) and slot.status().state == STOPPED and slot.status().owner == "ada"


def test_one_client_holds_at_most_its_places_whatever_its_sessions(small_mnist, store, runs):
    slot = TrainingSlot(train=runs, places_per_client=2)
    slot.submit(QUICK, small_mnist, owner="script-1", client="10.0.0.9")
    first = runs.next_run()
    slot.submit(QUICK, small_mnist, owner="script-2", client="10.0.0.9")
    for n in range(3, 7):  # more sessions from the same address: refused, and nothing queued
        with pytest.raises(ValueError, match="this device already has 2 runs"):
            slot.submit(QUICK, small_mnist, owner=f"script-{n}", client="10.0.0.9")
    assert [r.owner for r in slot.queue()] == ["script-2"]
    slot.submit(QUICK, small_mnist, owner="ada", client="10.0.0.10")  # another device still gets a place
    assert len(slot.queue()) == 2
    slot.cancel("script-2")
    slot.submit(QUICK, small_mnist, owner="script-3", client="10.0.0.9")  # a place freed up
    slot.cancel("script-3")
    slot.cancel("ada")
    runs.end(first)
    assert slot.wait(10)


def test_a_run_past_the_time_limit_is_stopped_and_says_why(small_mnist, store, runs):
    clock = FakeClock()
    slot = TrainingSlot(train=runs, clock=clock, max_seconds=20, heartbeat_timeout=10_000)
    run_id = slot.submit(QUICK, small_mnist, owner="ada")
    runs.next_run()
    clock.advance(20 * 1.1)  # over the limit but within the margin: it goes on
    slot.heartbeat("ada")
    assert slot.status().running and slot.status().note is None
    clock.advance(20 * 0.2)  # past limit x 1.2: the next batch stops it
    assert slot.wait(10)
    status = slot.status(run_id)
    assert status.state == STOPPED and "time limit" in status.note and store.live().is_default


# ---------------------------------------------------------------------------- two processes, one board
# Two slots on one board file stand for two server processes (tests/test_processes.py has real ones).


def wait_until(condition, timeout: float = 10.0) -> bool:
    """Wait for `condition()` to hold, looking again whenever the slots may have changed (not a timer)."""
    done = threading.Event()
    deadline = dt.datetime.now() + dt.timedelta(seconds=timeout)
    while not condition():
        if dt.datetime.now() > deadline:
            return False
        done.wait(0.02)  # the other "process" writes to the board without telling this one
    return True


def test_two_processes_share_one_slot_and_one_queue(small_mnist, store, board):
    runs_a, runs_b = StandInRuns(store.live().model), StandInRuns(store.live().model)
    a = TrainingSlot(train=runs_a, board=board())
    b = TrainingSlot(train=runs_b, board=board())
    ada = a.submit(QUICK, small_mnist, owner="ada", label="Ada")
    runs_a.next_run()  # Ada's run trains in A
    with pytest.raises(SlotBusy, match="Ada is training"):
        b.start(QUICK, small_mnist, owner="grace")  # the other process refuses a second run
    with pytest.raises(ValueError, match="already have a run in progress"):
        b.submit(QUICK, small_mnist, owner="ada")  # the same visitor, sent to the other process
    grace = b.submit(QUICK, small_mnist, owner="grace", label="Grace")
    for slot in (a, b):  # both processes show the same run in progress and the same queue
        view = slot.view("grace")
        assert view.current.run_id == ada and [r.run_id for r in view.queue] == [grace]
        assert view.place.position == 1
    assert runs_b.begun.empty()  # Grace waits while Ada's run trains in the other process
    assert b.stop(ada)  # a stop can be asked for on any process
    second = runs_b.next_run()  # A's worker stops; B's sees the slot free and trains Grace's run
    assert a.status(ada).state == STOPPED and a.status().run_id == grace and a.status().running
    assert runs_a.begun.empty() and [a.busy(), b.busy()] == [True, True]
    runs_b.end(second)
    assert a.wait(10) and b.wait(10) and a.status(grace).state == FINISHED
    assert b.publish(grace, store) == store.live().name
    with pytest.raises(ValueError, match="another of the server's processes"):
        a.publish(grace, store)  # the model is in B's memory only


def test_the_run_of_a_process_that_stopped_fails_and_the_next_starts(small_mnist, store, board, monkeypatch):
    monkeypatch.setattr(book, "PROCESS_TIMEOUT", 0.5)
    monkeypatch.setattr(book, "BEAT_SECONDS", 0.05)
    runs_a, runs_b = StandInRuns(store.live().model), StandInRuns(store.live().model)
    a = TrainingSlot(train=runs_a, board=board())
    b = TrainingSlot(train=runs_b, board=board())
    ada = a.submit(QUICK, small_mnist, owner="ada")
    first = runs_a.next_run()
    b.submit(QUICK, small_mnist, owner="grace")
    assert not wait_until(lambda: b.status(ada).state != RUNNING, timeout=1.0)  # A is alive: its run goes on
    a.close()  # A stops saying it is alive, as a killed process would
    # B's worker, looking whether the slot is free, gives A's run up and trains Grace's.
    second = runs_b.next_run()
    status = b.status(ada)
    assert status.state == FAILED and "server process" in status.error and b.status().owner == "grace"
    runs_a.end(first)  # (the thread of the "dead" process ends; what it says is not taken)
    runs_b.end(second)
    assert b.wait(10) and b.status().owner == "grace" and b.status().state == FINISHED
    assert b.status(ada).state == FAILED
