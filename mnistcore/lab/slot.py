"""The training slot: one training run at a time on the server, and a short queue.

A run lives in the server process, not in a browser tab: one worker thread trains the runs one
after another. A visitor who asks while another run trains waits in the queue (`submit`); their
run starts by itself, owned by them, as soon as the slot is free. Only a run's owner may stop it
and, once it has ended, publish its model.

Visitors are anonymous: `owner` is an opaque token for one visitor, `label` what others see. A
visitor's open pages call `heartbeat(owner)` every few seconds; a run, or a place in the queue,
whose owner has not been heard from for `heartbeat_timeout` seconds (their tab was closed) is
stopped or dropped, so a closed tab never holds the slot. A run that fails or is stopped leaves
the live model as it was and frees the slot for the next.

Pages draw themselves from one snapshot, `view(owner)`. Reading never changes anything: runs are
given up only by the writers (a heartbeat, a submitted run, and the worker as it trains).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import re
import secrets
import sys
import threading
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Callable

from threadpoolctl import threadpool_limits

from ..nets.base import Progress
from ..training import TrainResult, TrainSettings, describe_seconds, estimate_seconds, run_training
from .config import HEARTBEAT_SECONDS

log = logging.getLogger("mnistlab")
WAITING, RUNNING, FINISHED, STOPPED, FAILED = "waiting", "running", "finished", "stopped", "failed"

QUEUE_SIZE = 5               # runs that may wait; more would mean hours in line
PLACES_PER_CLIENT = 2        # runs one client (address) may have training or waiting at once
MAX_RUN_SECONDS = 10 * 60    # refuse settings estimated to take longer (LIMITS alone allow an hour)
OVERTIME = 0.2               # a run still going at max_seconds x (1 + OVERTIME) is stopped
RESULTS_KEPT = 8             # ended runs whose models are kept for their owners to publish
TRAINING_NICENESS = 10       # how much lower the worker thread's CPU priority is (0 to 19)


class SlotBusy(RuntimeError):
    """Someone else's run is using the training slot; the message says whose and until when."""


class QueueFull(SlotBusy):
    """The slot is busy and the queue is full; the message says when to try again."""


# What a name others see may hold: letters, digits, spaces, ' and -. No dots (no "www.x.com" that
# Markdown would make a link), no _ or * (no emphasis), no : (no emoji or colour codes).
NOT_IN_NAMES = re.compile(r"[^\w '-]|_")
ANONYMOUS = re.compile(r"\s*visitor\b", re.IGNORECASE)  # the site's own "Visitor 3F2A" labels


def clean_label(text: str | None, fallback: str = "someone") -> str:
    """A name others will see, with anything but letters, digits, spaces, ' and - taken out; 40 at most."""
    text = NOT_IN_NAMES.sub("", text or "")
    return " ".join(text.split())[:40].strip(" '-") or fallback


def name_problem(text: str) -> str | None:
    """Why `text` cannot be a visitor's name, in plain words; None when it can."""
    if NOT_IN_NAMES.search(text):
        return "a name may hold letters, digits, spaces, ' and - only"
    if ANONYMOUS.match(text):
        return "names starting with “Visitor” are the site's own anonymous labels: choose another"
    return None


@dataclass(frozen=True)
class EpochPoint:
    """One finished epoch, for the curves."""

    epoch: int
    loss: float
    accuracy: float
    test_loss: float | None
    test_accuracy: float | None


@dataclass(frozen=True)
class Run:
    """A training run at one moment (a copy: reading it needs no lock)."""

    run_id: str
    owner: str                       # the owner's anonymous token (never shown)
    label: str                       # what others see: the name they gave, or "Visitor 3F2A"
    settings: TrainSettings
    state: str                       # waiting, running, finished, stopped or failed
    queued_at: dt.datetime           # UTC, when it was asked for
    expected_end: dt.datetime        # UTC; an estimate, refined as the run goes
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None
    position: int = 0                # place in the queue while waiting (1 = next), else 0
    expected_start: dt.datetime | None = None  # while waiting: when the runs ahead should be done
    fraction: float = 0.0            # 0..1 of all epochs' training images seen
    epoch: int = 1                   # the epoch in progress (or the last one)
    history: tuple[EpochPoint, ...] = ()  # finished epochs
    batch_loss: float | None = None  # this epoch's running training loss and accuracy
    batch_accuracy: float | None = None
    error: str | None = None         # why a failed run failed
    note: str | None = None          # why a run was stopped, when its owner did not stop it
    test_accuracy: float | None = None  # of the finished model
    published_as: str | None = None  # the model's name in the store once published

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    @property
    def can_publish(self) -> bool:
        """A model came out of it (at least one complete epoch) and it is not yet published."""
        return self.test_accuracy is not None and self.published_as is None and self.state not in (WAITING, RUNNING)


@dataclass(frozen=True)
class SlotView:
    """Everything a page shows of the slot, for one visitor, read at one moment."""

    current: Run | None              # the run in progress, anyone's
    queue: tuple[Run, ...]           # the runs waiting, next first
    mine: Run | None                 # the visitor's run in progress, else their last ended run (while kept)
    place: Run | None                # the visitor's run waiting in the queue
    queue_size: int
    max_seconds: float


@dataclass
class _Record:
    """The slot's own, changing record of one run; only touched under the slot's lock."""

    run: Run
    data: tuple | None               # MNIST, until the run has trained
    seconds: float                   # the estimate before it starts
    heard: dt.datetime               # the owner's last heartbeat
    client: str | None = None        # where it was asked from (an address; never shown)
    stop: threading.Event = field(default_factory=threading.Event)
    result: TrainResult | None = None


Train = Callable[..., TrainResult]
Clock = Callable[[], dt.datetime]


class TrainingSlot:
    """At most one training run at a time, and a short queue; see the module docstring."""

    def __init__(self, train: Train = run_training, clock: Clock | None = None,
                 heartbeat_timeout: float = HEARTBEAT_SECONDS, queue_size: int = QUEUE_SIZE,
                 max_seconds: float = MAX_RUN_SECONDS, niceness: int = TRAINING_NICENESS,
                 blas_threads: int | None = 1, places_per_client: int = PLACES_PER_CLIENT):
        if heartbeat_timeout <= 0 or queue_size < 0 or max_seconds <= 0:
            raise ValueError(f"heartbeat_timeout and max_seconds must be > 0 and queue_size >= 0; got "
                             f"{heartbeat_timeout!r}, {max_seconds!r}, {queue_size!r}")
        self._train = train  # run_training; tests pass a stand-in that fails or blocks
        self._clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self.heartbeat_timeout = float(heartbeat_timeout)
        self.queue_size = int(queue_size)
        self.max_seconds = float(max_seconds)
        self.places_per_client = int(places_per_client)
        # niceness=0 with blas_threads=None trains as a plain thread would (bench/load.py --plain).
        self._niceness, self._blas_threads = int(niceness), blas_threads
        self._cond = threading.Condition()    # guards everything below; the worker waits on it
        self._publish_lock = threading.Lock()  # one publish at a time (file I/O inside)
        self._current: _Record | None = None  # the run in progress
        self._queue: list[_Record] = []
        self._ended: OrderedDict[str, _Record] = OrderedDict()  # each owner's last ended run, oldest first
        self._latest: _Record | None = None   # the last run to end
        self._worker: threading.Thread | None = None

    # ------------------------------------------------------------------ asking for a run

    def submit(self, settings: TrainSettings, data, owner: str, label: str | None = None,
               may_wait: bool = True, client: str | None = None) -> str:
        """Start a run now if the slot is free, else queue it; returns the run's id.

        `data` is load_mnist()'s ((x_train, y_train), (x_test, y_test)); `owner` the visitor's
        token; `label` what others see (cleaned by `clean_label`; default: `owner`). QueueFull when
        `queue_size` runs are already waiting (SlotBusy when busy and not `may_wait`); ValueError
        when `owner` already has a run in progress or waiting (one at a time each), or the
        settings are bad or would take too long, or `client` (the visitor's address, when known)
        already has `places_per_client` runs training or waiting: one script opening many sessions
        must not hold the whole queue.
        """
        settings.validate()
        if not owner:
            raise ValueError("a run needs an owner (the visitor's token)")
        seconds = estimate_seconds(settings, len(data[0][0]))
        if seconds > self.max_seconds:
            raise ValueError(f"these settings would take {describe_seconds(seconds)}, and runs on this server "
                             f"are limited to {describe_seconds(self.max_seconds)}: choose fewer epochs, "
                             "fewer hidden units or a larger batch")
        now = self._clock()
        run = Run(secrets.token_hex(6), owner, clean_label(label or owner), settings, WAITING, now,
                  expected_end=now + dt.timedelta(seconds=seconds))
        with self._cond:
            self._expire_locked(now)
            if any(r.run.owner == owner for r in self._active_locked()):
                mine_now = self._current is not None and self._current.run.owner == owner
                where = "in progress" if mine_now else "waiting in the queue"
                raise ValueError(f"you already have a run {where}: one at a time")
            if client is not None and sum(r.client == client for r in self._active_locked()) >= self.places_per_client:
                raise ValueError(f"this device already has {self.places_per_client} runs training or waiting, "
                                 "the most one device may have: please wait until one of them ends")
            if self._current is not None:
                c = self._current.run
                busy = (f"{c.label} is training a model (started at {c.started_at.astimezone():%H:%M}, "
                        f"{c.fraction:.0%} done, expected to finish around {c.expected_end.astimezone():%H:%M}).")
                if not may_wait:
                    raise SlotBusy(busy + " One run at a time: please wait until it finishes.")
                if len(self._queue) >= self.queue_size:
                    raise QueueFull(busy + f" The queue is full ({self.queue_size} waiting): please try again "
                                    "when a place frees up.")
            self._queue.append(_Record(run, data, seconds, heard=now, client=client))
            self._begin_next_locked()
            return run.run_id

    def start(self, settings: TrainSettings, data, owner: str, label: str | None = None) -> str:
        """Start a run now; SlotBusy if a run is in progress (no queueing)."""
        return self.submit(settings, data, owner, label, may_wait=False)

    def cancel(self, owner: str) -> bool:
        """Take `owner`'s run out of the queue; False if they had none waiting."""
        with self._cond:
            before = len(self._queue)
            self._queue = [r for r in self._queue if r.run.owner != owner]
            return len(self._queue) < before

    def heartbeat(self, owner: str) -> None:
        """`owner`'s page is still open. Also gives up on runs and places nobody is watching."""
        with self._cond:
            now = self._clock()
            for record in self._active_locked():
                if record.run.owner == owner:
                    record.heard = now
            self._expire_locked(now)

    def stop(self, run_id: str) -> bool:
        """Ask run `run_id` to stop after its current batch; False if it is not running."""
        with self._cond:
            if self._current is None or self._current.run.run_id != run_id:
                return False
            self._current.stop.set()
            return True

    def publish(self, run_id: str, store) -> str:
        """Make run `run_id`'s model the live one in `store` (a ModelStore); returns its name there.

        Once only: a second click, or a second tab, gets a ValueError rather than a second copy.
        """
        with self._publish_lock:
            with self._cond:
                record = self._find_locked(run_id)
            if record is None or record.result is None or record.result.evaluation is None:
                raise ValueError("there is no finished model from this run to publish "
                                 "(its owner may have started another run since)")
            if record.run.published_as is not None:
                raise ValueError(f"this model is already published as {record.run.published_as}")
            live = store.publish(record.result.model)
            with self._cond:
                record.run = replace(record.run, published_as=live.name)
            return live.name

    # ------------------------------------------------------------------ reading (never changes anything)

    def view(self, owner: str) -> SlotView:
        """What `owner`'s page shows: the run in progress, the queue, and their own run."""
        with self._cond:
            queue = self._queue_locked()
            current = self._current.run if self._current is not None else None
            ended = self._ended.get(owner)
            mine = current if current is not None and current.owner == owner else (ended.run if ended else None)
            place = next((r for r in queue if r.owner == owner), None)
            return SlotView(current, queue, mine, place, self.queue_size, self.max_seconds)

    def status(self, run_id: str | None = None) -> Run | None:
        """Run `run_id` (while the slot still knows it); without an id, the run in progress, else the
        last run to end, else None."""
        with self._cond:
            if run_id is not None:
                record = self._find_locked(run_id)
            else:
                record = self._current or self._latest
            return record.run if record is not None else None

    def queue(self) -> tuple[Run, ...]:
        return self.view("").queue

    def last_run(self, owner: str) -> Run | None:
        return self.view(owner).mine

    def busy(self) -> bool:
        with self._cond:
            return self._current is not None

    def result(self, run_id: str) -> TrainResult | None:
        """An ended run's model and evaluation, while the slot keeps it."""
        with self._cond:
            record = self._find_locked(run_id)
            return record.result if record is not None else None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no run is in progress and none is waiting (for tests and scripts); True when idle."""
        with self._cond:
            return self._cond.wait_for(lambda: self._current is None and not self._queue, timeout)

    # ------------------------------------------------------------------ bookkeeping (lock held)

    def _active_locked(self) -> list[_Record]:
        return ([self._current] if self._current is not None else []) + self._queue

    def _find_locked(self, run_id: str) -> _Record | None:
        for record in (*self._active_locked(), self._latest, *self._ended.values()):
            if record is not None and record.run.run_id == run_id:
                return record
        return None

    def _queue_locked(self) -> tuple[Run, ...]:
        """The waiting runs, each with its place and expected start."""
        now = self._clock()
        start = max(now, self._current.run.expected_end) if self._current is not None else now
        runs = []
        for position, record in enumerate(self._queue, 1):
            runs.append(replace(record.run, position=position, expected_start=start))
            start += dt.timedelta(seconds=record.seconds)
        return tuple(runs)

    def _expire_locked(self, now: dt.datetime) -> None:
        """Stop the run, and drop the places, of owners not heard from within the timeout."""
        gone = lambda record: (now - record.heard).total_seconds() > self.heartbeat_timeout  # noqa: E731
        current = self._current
        if current is not None and not current.stop.is_set() and gone(current):
            current.stop.set()  # the run ends at its next batch and frees the slot; the live model stays
            current.run = replace(current.run, note=f"Stopped because its page was closed (nothing heard from "
                                                    f"it for {self.heartbeat_timeout:g} s).")
        self._queue = [r for r in self._queue if not gone(r)]

    def _begin_next_locked(self) -> None:
        """If the slot is free, make the next run in line the current one; the worker trains it."""
        if self._current is not None:
            return
        self._expire_locked(self._clock())
        if not self._queue:
            return
        record = self._queue.pop(0)
        now = self._clock()
        record.run = replace(record.run, state=RUNNING, started_at=now,
                             expected_end=now + dt.timedelta(seconds=record.seconds))
        self._ended.pop(record.run.owner, None)  # their previous model is given up once a new run starts
        self._current = record
        if self._worker is None:
            # A daemon thread: a server shutdown is not held up by a run nobody will publish.
            self._worker = threading.Thread(target=self._work, daemon=True, name="training-slot")
            self._worker.start()
        self._cond.notify_all()

    def _end_locked(self, record: _Record, changes: dict) -> None:
        record.run = replace(record.run, finished_at=self._clock(), **changes)
        record.data = None
        self._current, self._latest = None, record
        self._ended[record.run.owner] = record
        self._ended.move_to_end(record.run.owner)
        while len(self._ended) > RESULTS_KEPT:
            self._ended.popitem(last=False)  # the oldest

    # ------------------------------------------------------------------ the worker thread

    def _work(self) -> None:
        """Train the current run, end it, begin the next; forever (one thread per slot)."""
        _lower_priority(self._niceness)
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._current is not None)
                record = self._current
            result, changes = None, dict(state=FAILED, error="training ended unexpectedly")
            try:
                limit = threadpool_limits(limits=self._blas_threads, user_api="blas") if self._blas_threads \
                    else contextlib.nullcontext()
                with limit:
                    result = self._train(record.run.settings, record.data,
                                         on_batch=lambda p: self._on_batch(record, p),
                                         on_epoch=lambda p: self._on_epoch(record, p))
                stopped = result.stopped or record.stop.is_set()
                changes = dict(state=STOPPED if stopped else FINISHED,
                               test_accuracy=result.evaluation.accuracy if result.evaluation is not None else None)
                if not stopped:
                    changes["fraction"] = 1.0
            except BaseException as err:  # noqa: BLE001 - any failure ends the run; its owner is told why
                changes = dict(state=FAILED, error=f"{type(err).__name__}: {err}")
            with self._cond:  # "ended", "result ready" and "next run begun" are seen together
                record.result = result
                self._end_locked(record, changes)
                self._begin_next_locked()
                self._cond.notify_all()

    def _on_batch(self, record: _Record, progress: Progress) -> bool:
        with self._cond:
            now = self._clock()
            run = record.run
            expected_end = run.expected_end
            if progress.fraction >= 0.02:  # enough seen to extrapolate from this run's own pace
                elapsed = (now - run.started_at).total_seconds()
                expected_end = now + dt.timedelta(seconds=elapsed * (1 - progress.fraction) / progress.fraction)
            record.run = replace(run, fraction=progress.fraction, epoch=progress.epoch, batch_loss=progress.loss,
                                 batch_accuracy=progress.accuracy, expected_end=expected_end)
            self._expire_locked(now)  # an owner who left is noticed even when nobody visits
            limit = self.max_seconds * (1 + OVERTIME)
            if (now - run.started_at).total_seconds() > limit and not record.stop.is_set():
                # Estimates can be low (a busy server, a slow machine): the limit holds all the same.
                record.stop.set()
                record.run = replace(record.run, note=f"Stopped because it ran past the time limit for runs on "
                                                      f"this server ({describe_seconds(limit)}).")
                log.warning("slot: stopped run %s of %s at the time limit (%.0f s)", run.run_id, run.label, limit)
        return record.stop.is_set()  # True stops the run at this batch

    def _on_epoch(self, record: _Record, progress: Progress) -> bool:
        point = EpochPoint(progress.epoch, progress.loss, progress.accuracy,
                           progress.test_loss, progress.test_accuracy)
        with self._cond:
            record.run = replace(record.run, history=record.run.history + (point,), fraction=progress.fraction)
        return record.stop.is_set()


def _lower_priority(niceness: int) -> None:
    """Lower the calling thread's CPU priority by `niceness`, so training does not hog the server.

    Measured on the 2-core lab server (bench/load.py --part server) while a 784-512-10 network
    trained 10 epochs at batch 128, with visitors arriving every 50 ms:
                                      Draw prediction           Gallery render
        idle                          2.5 ms median, 3.1 p95    35 ms median, 39 p95
        training, plain thread        8.9 ms,        50 ms      57 ms,        114 ms
        training, as here             2.6 ms,        3.7 ms     39 ms,        51 ms
    and the run took 24.8 s instead of 22.0 s. Two things make the difference:
    - One BLAS thread while a run trains (threadpool_limits in _work): the run keeps to one core,
      the other stays free for the visitors. (OpenBLAS's thread count is per process, so everyone's
      BLAS calls use one thread meanwhile: nothing for one drawing.)
    - A lower CPU priority (nice) for the worker thread only (on Linux a thread id is a "process"
      to setpriority), so when both cores are wanted the scheduler serves the visitors first. It is
      set from the server's own priority, not added to the current one.
    A separate niced process measured no better with one BLAS thread (and costs a start-up and a
    copy of MNIST), and far worse with two: their spinning starved it (85 s for a 13 s run, with
    21 ms per drawing). Keras runs use TensorFlow's own thread pools, which the BLAS limit does not
    reach; they inherit the nice when TensorFlow starts them in this thread. Not measured.
    """
    if niceness and sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, _BASE_NICENESS + niceness))
        except OSError:  # not allowed here: train at normal priority rather than not at all
            pass


def _base_niceness() -> int:
    try:
        return os.getpriority(os.PRIO_PROCESS, 0)  # the server's own priority, read at import
    except (AttributeError, OSError):
        return 0


_BASE_NICENESS = _base_niceness()
