"""The training slot: one training run at a time on the server, and a short queue.

A run trains in a server process, not in a browser tab: each process has one worker thread that
trains the runs asked for in it. A visitor who asks while another run trains waits in the queue
(`submit`); their run starts by itself, owned by them, as soon as the slot is free. Only a run's
owner may stop it and, once it has ended, publish its model.

The slot's record of the runs is a RunBoard (mnistcore.lab.coordination), not this object's
memory: server processes whose boards share one file (as `make serve-lab` starts them) share
one slot and one queue, and exactly one run trains at a time across all of them. A process
that stops (crashes, is killed) stops saying it is alive; after PROCESS_TIMEOUT the others fail
its run and drop its places. A run's model stays in the memory of the process that trained it.

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
import time
from dataclasses import asdict, astuple, dataclass, field, fields, replace
from typing import Callable

from threadpoolctl import threadpool_limits

from ..nets.base import Progress
from ..training import Timings, TrainResult, TrainSettings, describe_seconds, estimate_seconds, run_training
from .config import HEARTBEAT_SECONDS
from .coordination import RunBoard

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
class CurvePoint:
    """A point inside an epoch, for the curves: test figures on a sample (training.CURVE_SAMPLE)."""

    epochs_done: float               # e.g. 0.25: a quarter of the first epoch
    loss: float
    accuracy: float
    test_loss: float | None
    test_accuracy: float | None


MAX_POINTS = 400  # curve points one run keeps (8 per epoch at most: 30 epochs need 240)


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
    points: tuple[CurvePoint, ...] = ()   # within epochs, for the curves
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
    """The board's record of one run (a row of the RunBoard, as Python). Changed only inside
    `TrainingSlot._changing`, which writes it back."""

    run: Run
    seconds: float                   # the estimate before it starts
    heard: dt.datetime               # the owner's last heartbeat
    client: str | None = None        # where it was asked from (an address; never shown)
    stop: bool = False               # asked to stop (by its owner, a closed tab or the time limit)
    process: str = ""                # the server process it trains in: the one it was asked in
    ended: int = 0                   # 1, 2, ... in the order runs ended; 0 while waiting or running

    @property
    def active(self) -> bool:
        return self.run.state in (WAITING, RUNNING)


@dataclass
class _Local:
    """What only the process a run was asked in has of it."""

    data: tuple | None               # MNIST, until the run has trained
    stop: threading.Event = field(default_factory=threading.Event)  # the worker's quick check
    result: TrainResult | None = None
    posted: bool = False             # on the board: from now on, gone from the board means given up


@dataclass
class _Training:
    """The worker's own copy of the run it trains: progress is kept here at every batch and
    written to the board a few times a second (`SYNC_SECONDS`), not at every batch."""

    run: Run
    local: _Local
    synced: float = float("-inf")    # time.monotonic() of the last write to the board
    note: str | None = None          # why the worker itself stopped the run (the time limit)


PROGRESS = ("fraction", "epoch", "history", "points", "batch_loss", "batch_accuracy", "expected_end")  # the worker's fields
TIMES = ("queued_at", "expected_end", "started_at", "finished_at", "expected_start")
SYNC_SECONDS = 0.25     # progress reaches the board (and other processes) this often
POLL_SECONDS = 0.5      # how often a process with runs waiting looks whether the slot is free for them
BEAT_SECONDS = 2.0      # how often a process with a shared board says it is alive
PROCESS_TIMEOUT = 15.0  # a process silent this long has stopped: its run fails and its places go

Train = Callable[..., TrainResult]
Clock = Callable[[], dt.datetime]


class TrainingSlot:
    """At most one training run at a time, and a short queue; see the module docstring.

    `board`: where the runs are recorded (mnistcore.lab.coordination.RunBoard). Server processes
    given boards on the same file share one slot and one queue; the default is a board in memory,
    for this process alone.
    """

    def __init__(self, train: Train = run_training, clock: Clock | None = None,
                 heartbeat_timeout: float = HEARTBEAT_SECONDS, queue_size: int = QUEUE_SIZE,
                 max_seconds: float = MAX_RUN_SECONDS, niceness: int = TRAINING_NICENESS,
                 blas_threads: int | None = 1, places_per_client: int = PLACES_PER_CLIENT,
                 board: RunBoard | None = None, timings: Timings | None = None):
        if heartbeat_timeout <= 0 or queue_size < 0 or max_seconds <= 0:
            raise ValueError(f"heartbeat_timeout and max_seconds must be > 0 and queue_size >= 0; got "
                             f"{heartbeat_timeout!r}, {max_seconds!r}, {queue_size!r}")
        self._train = train  # run_training; tests pass a stand-in that fails or blocks
        self._timings = timings  # this server's measured paces, for the estimates
        self._clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self.heartbeat_timeout = float(heartbeat_timeout)
        self.queue_size = int(queue_size)
        self.max_seconds = float(max_seconds)
        self.places_per_client = int(places_per_client)
        # niceness=0 with blas_threads=None trains as a plain thread would (bench/load.py --plain).
        self._niceness, self._blas_threads = int(niceness), blas_threads
        self._board = board if board is not None else RunBoard()
        self._process = secrets.token_hex(6)  # this slot's name on the board
        self._cond = threading.Condition()    # the worker waits on it; notified after every change
        self._wake = False                     # a change the worker should look at (under _cond)
        self._publish_lock = threading.Lock()  # one publish at a time (file I/O inside)
        self._local: dict[str, _Local] = {}    # runs asked for in this process, by id
        self._cache: tuple[object, list[_Record]] = (None, [])  # the board's rows last read, as records
        self._worker: threading.Thread | None = None
        self._closed = threading.Event()
        if self._board.shared:
            self._board.beat(self._process)
            threading.Thread(target=self._beat, daemon=True, name="training-slot-beat").start()

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
        must not hold the whole queue. The run trains in this process, whichever process's
        visitors are ahead of it in the queue.
        """
        settings.validate()
        if not owner:
            raise ValueError("a run needs an owner (the visitor's token)")
        seconds = estimate_seconds(settings, len(data[0][0]), self._timings)
        if seconds > self.max_seconds:
            raise ValueError(f"these settings would take {describe_seconds(seconds)}, and runs on this server "
                             f"are limited to {describe_seconds(self.max_seconds)}: choose fewer epochs, "
                             "fewer hidden units or a larger batch")
        client = None if client is None else str(client)  # the board keeps text
        now = self._clock()
        run = Run(secrets.token_hex(6), owner, clean_label(label or owner), settings, WAITING, now,
                  expected_end=now + dt.timedelta(seconds=seconds))
        self._local[run.run_id] = _Local(data)  # before the board names it, so the worker finds it
        try:
            with self._changing() as records:
                active = [r for r in records if r.active]
                if any(r.run.owner == owner for r in active):
                    mine_now = any(r.run.owner == owner and r.run.running for r in active)
                    where = "in progress" if mine_now else "waiting in the queue"
                    raise ValueError(f"you already have a run {where}: one at a time")
                if client is not None and sum(r.client == client for r in active) >= self.places_per_client:
                    raise ValueError(f"this device already has {self.places_per_client} runs training or "
                                     "waiting, the most one device may have: please wait until one of them ends")
                current = _current(records)
                if current is not None:
                    c = current.run
                    busy = (f"{c.label} is training a model (started at {c.started_at.astimezone():%H:%M}, "
                            f"{c.fraction:.0%} done, expected to finish around {c.expected_end.astimezone():%H:%M}).")
                    if not may_wait:
                        raise SlotBusy(busy + " One run at a time: please wait until it finishes.")
                    if sum(r.run.state == WAITING for r in records) >= self.queue_size:
                        raise QueueFull(busy + f" The queue is full ({self.queue_size} waiting): please try again "
                                        "when a place frees up.")
                records.append(_Record(run, seconds, heard=now, client=client, process=self._process))
                self._begin_next(records)
        except BaseException:
            self._local.pop(run.run_id, None)
            raise
        self._local[run.run_id].posted = True
        self._start_worker()
        return run.run_id

    def start(self, settings: TrainSettings, data, owner: str, label: str | None = None) -> str:
        """Start a run now; SlotBusy if a run is in progress (no queueing)."""
        return self.submit(settings, data, owner, label, may_wait=False)

    def cancel(self, owner: str) -> bool:
        """Take `owner`'s run out of the queue; False if they had none waiting."""
        with self._changing() as records:
            before = len(records)
            records[:] = [r for r in records if not (r.run.state == WAITING and r.run.owner == owner)]
            return len(records) < before

    def heartbeat(self, owner: str) -> None:
        """`owner`'s page is still open. Also gives up on runs and places nobody is watching.

        Open Train pages send one every second: when there is nothing to record and nothing to give
        up, nothing is written (a write locks out every process's writers for a moment)."""
        now = self._clock()
        records = self._records()
        if not any(r.active and r.run.owner == owner for r in records) and not self._anything_to_give_up(records, now):
            return
        with self._changing() as records:
            for record in records:
                if record.active and record.run.owner == owner:
                    record.heard = now

    def stop(self, run_id: str) -> bool:
        """Ask run `run_id` to stop after its current batch; False if it is not running."""
        with self._changing() as records:
            record = _find(records, run_id)
            if record is None or not record.run.running:
                return False
            record.stop = True
            return True

    def publish(self, run_id: str, store) -> str:
        """Make run `run_id`'s model the live one in `store` (a ModelStore); returns its name there.

        Once only: a second click, or a second tab, gets a ValueError rather than a second copy.
        The model is in the memory of the process that trained it: only that process can publish it.
        """
        with self._publish_lock:
            record = _find(self._records(), run_id)
            result = self.result(run_id)
            if record is not None and result is None and record.process != self._process and record.ended:
                raise ValueError("this model was trained by another of the server's processes: publish it "
                                 "from the page you started it on")
            if record is None or result is None or result.evaluation is None:
                raise ValueError("there is no finished model from this run to publish "
                                 "(its owner may have started another run since)")
            if record.run.published_as is not None:
                raise ValueError(f"this model is already published as {record.run.published_as}")
            live = store.publish(result.model)
            with self._changing() as records:
                record = _find(records, run_id)
                if record is not None:
                    record.run = replace(record.run, published_as=live.name)
            return live.name

    # ------------------------------------------------------------------ reading (never changes anything)

    def view(self, owner: str) -> SlotView:
        """What `owner`'s page shows: the run in progress, the queue, and their own run."""
        records = self._records()
        current = _current(records)
        current = current.run if current is not None else None
        queue = self._queue_of(records, current)
        ended = _last_ended(r for r in records if r.run.owner == owner)
        mine = current if current is not None and current.owner == owner else (ended.run if ended else None)
        place = next((r for r in queue if r.owner == owner), None)
        return SlotView(current, queue, mine, place, self.queue_size, self.max_seconds)

    def status(self, run_id: str | None = None) -> Run | None:
        """Run `run_id` (while the slot still knows it); without an id, the run in progress, else the
        last run to end, else None."""
        records = self._records()
        if run_id is not None:
            record = _find(records, run_id)
        else:
            record = _current(records) or _last_ended(records)
        return record.run if record is not None else None

    def queue(self) -> tuple[Run, ...]:
        return self.view("").queue

    def last_run(self, owner: str) -> Run | None:
        return self.view(owner).mine

    def busy(self) -> bool:
        return _current(self._records()) is not None

    def result(self, run_id: str) -> TrainResult | None:
        """An ended run's model and evaluation, while the slot keeps it (in the process that trained it)."""
        local = self._local.get(run_id)
        if local is None or _find(self._records(), run_id) is None:
            return None
        return local.result

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no run is in progress and none is waiting (for tests and scripts); True when idle."""
        idle = lambda: not any(r.active for r in self._records())  # noqa: E731
        # Runs of other processes end without telling this one: then look again every POLL_SECONDS.
        step = POLL_SECONDS if self._board.shared else None
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while not idle():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                waits = [seconds for seconds in (left, step) if seconds is not None]
                self._cond.wait(min(waits) if waits else None)
            return True

    # ------------------------------------------------------------------ the board

    def _records(self) -> list[_Record]:
        """The board's records (shared: do not change them). Converted once per change of the board."""
        rows = self._board.read()
        cache = self._cache
        if cache[0] is not rows:
            cache = (rows, [_from_row(row) for row in rows.values()])
            self._cache = cache
        return cache[1]

    @contextlib.contextmanager
    def _changing(self):
        """The board's records, to change: locked against every other writer, in any process, and
        written back at the end of the block. First gives up on what nobody is watching any more."""
        with self._board.change() as rows:
            records = [_from_row(row) for row in rows.values()]
            self._give_up(records, self._clock())
            yield records
            _keep_recent(records)
            rows.clear()
            rows.update((r.run.run_id, _to_row(r)) for r in records)
        for record in records:
            local = self._local.get(record.run.run_id)
            if local is not None and record.stop:
                local.stop.set()
        # Forget the runs given up since (their models too). Only those known to have been on the
        # board, and against the board as it is now: a submit may be under way in another thread.
        posted = [run_id for run_id, local in list(self._local.items()) if local.posted]
        on_board = {r.run.run_id for r in self._records()}
        for run_id in posted:
            if run_id not in on_board:
                self._local.pop(run_id, None)
        with self._cond:
            # The worker's own changes need not wake it: it looks again anyway once they are made.
            self._wake = self._wake or threading.current_thread() is not self._worker
            self._cond.notify_all()  # for wait(), too

    def _unheard(self, record: _Record, now: dt.datetime) -> bool:
        return (now - record.heard).total_seconds() > self.heartbeat_timeout

    def _stopped_processes(self, records) -> set[str]:
        """The processes holding runs on the board that no longer say they are alive."""
        others = {r.process for r in records if r.active and r.process != self._process}
        if not others or not self._board.shared:
            return set()
        return others - self._board.alive(PROCESS_TIMEOUT)

    def _anything_to_give_up(self, records, now: dt.datetime) -> bool:
        return (any(r.active and self._unheard(r, now) and not (r.run.running and r.stop) for r in records)
                or bool(self._stopped_processes(records)))

    def _give_up(self, records: list[_Record], now: dt.datetime) -> None:
        """Stop the run, and drop the places, of owners not heard from within the timeout; fail the
        run, and drop the places, of server processes that have stopped."""
        gone = lambda record: self._unheard(record, now)  # noqa: E731
        for record in records:
            if record.run.running and not record.stop and gone(record):
                record.stop = True  # the run ends at its next batch and frees the slot; the live model stays
                record.run = replace(record.run, note=f"Stopped because its page was closed (nothing heard from "
                                                      f"it for {self.heartbeat_timeout:g} s).")
        records[:] = [r for r in records if not (r.run.state == WAITING and gone(r))]
        stopped = self._stopped_processes(records)
        for record in records:
            if record.run.running and record.process in stopped:
                record.run = replace(record.run, state=FAILED, finished_at=now,
                                     error="the server process that trained it stopped")
                record.ended = _next_ended(records)
                log.warning("slot: run %s of %s failed: its server process stopped", record.run.run_id,
                            record.run.label)
        records[:] = [r for r in records if not (r.run.state == WAITING and r.process in stopped)]

    def _begin_next(self, records: list[_Record]) -> None:
        """If the slot is free and the next run in line is this process's, make it the current one;
        the worker trains it. (Another process's run is begun by that process.)"""
        if _current(records) is not None:
            return
        head = next((r for r in records if r.run.state == WAITING), None)
        if head is None or head.process != self._process:
            return
        now = self._clock()
        head.run = replace(head.run, state=RUNNING, started_at=now,
                           expected_end=now + dt.timedelta(seconds=head.seconds))
        # Their previous model is given up once a new run starts.
        records[:] = [r for r in records if not (r.ended and r.run.owner == head.run.owner)]

    def _queue_of(self, records: list[_Record], current: Run | None) -> tuple[Run, ...]:
        """The waiting runs, each with its place and expected start."""
        now = self._clock()
        start = max(now, current.expected_end) if current is not None else now
        runs = []
        for position, record in enumerate((r for r in records if r.run.state == WAITING), 1):
            runs.append(replace(record.run, position=position, expected_start=start))
            start += dt.timedelta(seconds=record.seconds)
        return tuple(runs)

    # ------------------------------------------------------------------ the worker thread

    def _start_worker(self) -> None:
        with self._cond:
            if self._worker is None:
                # A daemon thread: a server shutdown is not held up by a run nobody will publish.
                self._worker = threading.Thread(target=self._work, daemon=True, name="training-slot")
                self._worker.start()

    def _beat(self) -> None:
        """Say every BEAT_SECONDS that this process is alive, so the others do not give up its runs."""
        while not self._closed.wait(BEAT_SECONDS):
            try:
                self._board.beat(self._process)
            except Exception:  # noqa: BLE001 - a busy database: the next beat is in time
                log.warning("slot: could not record that this process is alive", exc_info=True)

    def close(self) -> None:
        """Stop saying this process is alive (tests: as if it had stopped). Runs here go on."""
        self._closed.set()

    def _work(self) -> None:
        """Train this process's current run, end it, begin the next; forever (one thread per slot)."""
        _lower_priority(self._niceness)
        while True:
            with self._cond:
                self._wake = False  # changes made from now on wake the wait below
            record = self._to_train()
            if record is None and any(r.run.state == WAITING and r.process == self._process for r in self._records()):
                with self._changing() as records:  # the slot may have been freed by another process
                    self._begin_next(records)
                record = self._to_train()
            if record is not None:
                self._train_one(record)
                continue
            waiting_here = any(r.run.state == WAITING and r.process == self._process for r in self._records())
            with self._cond:
                self._cond.wait_for(lambda: self._wake, POLL_SECONDS if waiting_here else None)

    def _to_train(self) -> _Record | None:
        current = _current(self._records())
        return current if current is not None and current.process == self._process else None

    def _train_one(self, record: _Record) -> None:
        run_id = record.run.run_id
        local = self._local.get(run_id)
        training = _Training(record.run, local or _Local(None))
        result, changes = None, dict(state=FAILED, error="training ended unexpectedly")
        try:
            if local is None:
                raise RuntimeError("this process no longer has the run's data")
            limit = threadpool_limits(limits=self._blas_threads, user_api="blas") if self._blas_threads \
                else contextlib.nullcontext()
            with limit:
                result = self._train(record.run.settings, local.data,
                                     on_batch=lambda p: self._on_batch(training, p),
                                     on_epoch=lambda p: self._on_epoch(training, p))
            stopped = result.stopped or training.local.stop.is_set()
            accuracy = result.evaluation.accuracy if result.evaluation is not None else None
            changes = dict(state=STOPPED if stopped else FINISHED,
                           test_accuracy=float(accuracy) if accuracy is not None else None)
            if not stopped:
                training.run = replace(training.run, fraction=1.0)
        except BaseException as err:  # noqa: BLE001 - any failure ends the run; its owner is told why
            changes = dict(state=FAILED, error=f"{type(err).__name__}: {err}")
        training.local.result, training.local.data = result, None
        with self._changing() as records:  # "ended", "result ready" and "next run begun" are seen together
            record = _find(records, run_id)
            if record is not None and record.run.running:
                progress = {name: getattr(training.run, name) for name in PROGRESS}
                record.run = replace(record.run, finished_at=self._clock(), **progress, **changes,
                                     **({"note": training.note} if training.note else {}))
                record.ended = _next_ended(records)  # the owner's earlier ended run goes (_keep_recent)
            self._begin_next(records)

    def _on_batch(self, training: _Training, progress: Progress) -> bool:
        now = self._clock()
        run = training.run
        expected_end = run.expected_end
        if progress.fraction >= 0.02:  # enough seen to extrapolate from this run's own pace
            elapsed = (now - run.started_at).total_seconds()
            expected_end = now + dt.timedelta(seconds=elapsed * (1 - progress.fraction) / progress.fraction)
        points = run.points
        if progress.test_accuracy is not None and len(points) < MAX_POINTS:  # run_training's curve points
            points += (CurvePoint(progress.fraction * progress.epochs, float(progress.loss), float(progress.accuracy),
                                  progress.test_loss, float(progress.test_accuracy)),)
        training.run = replace(run, fraction=float(progress.fraction), epoch=int(progress.epoch),
                               batch_loss=float(progress.loss), batch_accuracy=float(progress.accuracy),
                               expected_end=expected_end, points=points)
        limit = self.max_seconds * (1 + OVERTIME)
        if (now - run.started_at).total_seconds() > limit and training.note is None:
            # Estimates can be low (a busy server, a slow machine): the limit holds all the same.
            training.note = (f"Stopped because it ran past the time limit for runs on this server "
                             f"({describe_seconds(limit)}).")
            training.local.stop.set()
            log.warning("slot: stopped run %s of %s at the time limit (%.0f s)", run.run_id, run.label, limit)
            self._sync(training)
        elif time.monotonic() - training.synced >= SYNC_SECONDS:
            self._sync(training)  # also how an owner who left is noticed even when nobody visits
        return training.local.stop.is_set()  # True stops the run at this batch

    def _on_epoch(self, training: _Training, progress: Progress) -> bool:
        point = EpochPoint(int(progress.epoch), *(None if x is None else float(x) for x in (
            progress.loss, progress.accuracy, progress.test_loss, progress.test_accuracy)))
        training.run = replace(training.run, history=training.run.history + (point,),
                               fraction=float(progress.fraction))
        self._sync(training)  # every epoch's point is shown at once
        return training.local.stop.is_set()

    def _sync(self, training: _Training) -> None:
        """Write the worker's progress to the board; learn from it whether the run was asked to stop."""
        training.synced = time.monotonic()
        with self._changing() as records:
            record = _find(records, training.run.run_id)
            if record is None or not record.run.running:
                training.local.stop.set()  # given up meanwhile (its process was thought to have stopped)
                return
            record.run = replace(record.run, **{name: getattr(training.run, name) for name in PROGRESS})
            if training.note:
                record.stop = True
                record.run = replace(record.run, note=training.note)


# ---------------------------------------------------------------------- records and rows


def _current(records) -> _Record | None:
    return next((r for r in records if r.run.state == RUNNING), None)


def _find(records, run_id: str) -> _Record | None:
    return next((r for r in records if r.run.run_id == run_id), None)


def _last_ended(records) -> _Record | None:
    return max((r for r in records if r.ended), key=lambda r: r.ended, default=None)


def _next_ended(records) -> int:
    return max((r.ended for r in records), default=0) + 1


def _keep_recent(records: list[_Record]) -> None:
    """Keep each owner's last ended run only, and those of the last RESULTS_KEPT owners."""
    ended = sorted((r for r in records if r.ended), key=lambda r: r.ended, reverse=True)
    kept, owners = set(), set()
    for record in ended:
        if record.run.owner not in owners and len(owners) < RESULTS_KEPT:
            owners.add(record.run.owner)
            kept.add(id(record))
    records[:] = [r for r in records if not r.ended or id(r) in kept]


def _to_row(record: _Record) -> dict:
    """A record as the board keeps it: plain JSON values."""
    run = {f.name: getattr(record.run, f.name) for f in fields(Run)}
    run["settings"] = asdict(record.run.settings)
    run["history"] = [astuple(point) for point in record.run.history]
    run["points"] = [astuple(point) for point in record.run.points]
    for name in TIMES:
        run[name] = run[name].isoformat() if run[name] is not None else None
    return {"run": run, "seconds": record.seconds, "heard": record.heard.isoformat(), "client": record.client,
            "stop": record.stop, "process": record.process, "ended": record.ended}


def _from_row(row: dict) -> _Record:
    run = dict(row["run"])
    run["settings"] = TrainSettings(**run["settings"])
    run["history"] = tuple(EpochPoint(*point) for point in run["history"])
    run["points"] = tuple(CurvePoint(*point) for point in run.get("points", ()))
    for name in TIMES:
        run[name] = dt.datetime.fromisoformat(run[name]) if run[name] is not None else None
    return _Record(Run(**run), row["seconds"], dt.datetime.fromisoformat(row["heard"]), row["client"],
                   row["stop"], row["process"], row["ended"])


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
