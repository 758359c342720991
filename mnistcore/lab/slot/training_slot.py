"""The training slot: one training run at a time on the server, and a short queue.

A run trains in a server process, not in a browser tab: each process has one worker thread that
trains the runs asked for in it (`worker.py`). A visitor who asks while another run trains waits in
the queue (`submit`); their run starts by itself, owned by them, as soon as the slot is free. Only
a run's owner may stop it and, once it has ended, publish its model.

The slot's record of the runs is a RunBoard (mnistcore.lab.coordination), not this object's
memory: server processes whose boards share one file (as `make serve-lab` starts them) share
one slot and one queue, and exactly one run trains at a time across all of them. A process
that stops (crashes, is killed) stops saying it is alive; after book.PROCESS_TIMEOUT the others
fail its run and drop its places. A run's model stays in the memory of the process that trained it.

Visitors are anonymous: `owner` is an opaque token for one visitor, `label` what others see. A
visitor's open pages call `heartbeat(owner)` every few seconds; a run, or a place in the queue,
whose owner has not been heard from for `heartbeat_timeout` seconds (their tab was closed) is
stopped or dropped, so a closed tab never holds the slot. A run that fails or is stopped leaves
the live model as it was and frees the slot for the next. The rules themselves are in `rules.py`.

Pages draw themselves from one snapshot, `view(owner)`. Reading never changes anything: runs are
given up only by the writers (a heartbeat, a submitted run, and the worker as it trains).
"""
from __future__ import annotations

import datetime as dt
import secrets
import threading
import time
from dataclasses import replace

from ...training import Timings, TrainResult, TrainSettings, describe_seconds, estimate_seconds, run_training
from ..config import HEARTBEAT_SECONDS
from ..coordination import RunBoard
from ..names import clean_label
from . import rules
from .book import Book, Clock, Local
from .rules import PLACES_PER_CLIENT, QUEUE_SIZE
from .runs import WAITING, Record, Run, SlotView
from .worker import POLL_SECONDS, TRAINING_NICENESS, Train, Worker

MAX_RUN_SECONDS = 10 * 60    # refuse settings estimated to take longer (LIMITS alone allow an hour)


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
                 board: RunBoard | None = None, timings: Timings | None = None, on_model=None):
        if heartbeat_timeout <= 0 or queue_size < 0 or max_seconds <= 0:
            raise ValueError(f"heartbeat_timeout and max_seconds must be > 0 and queue_size >= 0; got "
                             f"{heartbeat_timeout!r}, {max_seconds!r}, {queue_size!r}")
        self._timings = timings  # this server's measured paces, for the estimates
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.heartbeat_timeout = float(heartbeat_timeout)
        self.queue_size = int(queue_size)
        self.max_seconds = float(max_seconds)
        self.places_per_client = int(places_per_client)
        # Through self._clock on every call, so a clock swapped in later (tests) is the one everybody reads.
        self._book = Book(board if board is not None else RunBoard(), lambda: self._clock(), self.heartbeat_timeout)
        # train: run_training; tests pass a stand-in that fails or blocks. niceness=0 with
        # blas_threads=None trains as a plain thread would (bench/load.py --plain).
        # on_model(run, result): called in the worker for every ended run with a tested model (the class board).
        self._worker = Worker(self._book, train, self.max_seconds, niceness, blas_threads, on_model)
        self._publish_lock = threading.Lock()  # one publish at a time (file I/O inside)

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
        book = self._book
        book.local[run.run_id] = Local(data)  # before the board names it, so the worker finds it
        try:
            with book.changing() as records:
                rules.admit(records, owner, client, may_wait, self.queue_size, self.places_per_client)
                records.append(Record(run, seconds, heard=now, client=client, process=book.process))
                rules.begin_next(records, book.process, self._clock())
        except BaseException:
            book.local.pop(run.run_id, None)
            raise
        book.local[run.run_id].posted = True
        self._worker.start()
        return run.run_id

    def start(self, settings: TrainSettings, data, owner: str, label: str | None = None) -> str:
        """Start a run now; SlotBusy if a run is in progress (no queueing)."""
        return self.submit(settings, data, owner, label, may_wait=False)

    def cancel(self, owner: str) -> bool:
        """Take `owner`'s run out of the queue; False if they had none waiting."""
        with self._book.changing() as records:
            before = len(records)
            records[:] = [r for r in records if not (r.run.state == WAITING and r.run.owner == owner)]
            return len(records) < before

    def heartbeat(self, owner: str) -> None:
        """`owner`'s page is still open. Also gives up on runs and places nobody is watching.

        Open Train pages send one every second: when there is nothing to record and nothing to give
        up, nothing is written (a write locks out every process's writers for a moment)."""
        now = self._clock()
        records = self._book.records()
        if not any(r.active and r.run.owner == owner for r in records) and not rules.anything_to_give_up(
                records, now, self.heartbeat_timeout, self._book.stopped_processes(records)):
            return
        with self._book.changing() as records:
            for record in records:
                if record.active and record.run.owner == owner:
                    record.heard = now

    def stop(self, run_id: str) -> bool:
        """Ask run `run_id` to stop after its current batch; False if it is not running."""
        with self._book.changing() as records:
            record = rules.find(records, run_id)
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
            record = rules.find(self._book.records(), run_id)
            result = self.result(run_id)
            if record is not None and result is None and record.process != self._book.process and record.ended:
                raise ValueError("this model was trained by another of the server's processes: publish it "
                                 "from the page you started it on")
            if record is None or result is None or result.evaluation is None:
                raise ValueError("there is no finished model from this run to publish "
                                 "(its owner may have started another run since)")
            if record.run.published_as is not None:
                raise ValueError(f"this model is already published as {record.run.published_as}")
            live = store.publish(result.model)
            with self._book.changing() as records:
                record = rules.find(records, run_id)
                if record is not None:
                    record.run = replace(record.run, published_as=live.name)
            return live.name

    # ------------------------------------------------------------------ reading (never changes anything)

    def view(self, owner: str) -> SlotView:
        """What `owner`'s page shows: the run in progress, the queue, and their own run."""
        records = self._book.records()
        current = rules.current(records)
        current = current.run if current is not None else None
        queue = rules.queue_of(records, current, self._clock())
        ended = rules.last_ended(r for r in records if r.run.owner == owner)
        mine = current if current is not None and current.owner == owner else (ended.run if ended else None)
        place = next((r for r in queue if r.owner == owner), None)
        return SlotView(current, queue, mine, place, self.queue_size, self.max_seconds)

    def status(self, run_id: str | None = None) -> Run | None:
        """Run `run_id` (while the slot still knows it); without an id, the run in progress, else the
        last run to end, else None."""
        records = self._book.records()
        if run_id is not None:
            record = rules.find(records, run_id)
        else:
            record = rules.current(records) or rules.last_ended(records)
        return record.run if record is not None else None

    def queue(self) -> tuple[Run, ...]:
        return self.view("").queue

    def last_run(self, owner: str) -> Run | None:
        return self.view(owner).mine

    def busy(self) -> bool:
        return rules.current(self._book.records()) is not None

    def result(self, run_id: str) -> TrainResult | None:
        """An ended run's model and evaluation, while the slot keeps it (in the process that trained it)."""
        local = self._book.local.get(run_id)
        if local is None or rules.find(self._book.records(), run_id) is None:
            return None
        return local.result

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no run is in progress and none is waiting (for tests and scripts); True when idle."""
        idle = lambda: not any(r.active for r in self._book.records())  # noqa: E731
        # Runs of other processes end without telling this one: then look again every POLL_SECONDS.
        step = POLL_SECONDS if self._book.board.shared else None
        deadline = None if timeout is None else time.monotonic() + timeout
        cond = self._book.cond
        with cond:
            while not idle():
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                waits = [seconds for seconds in (left, step) if seconds is not None]
                cond.wait(min(waits) if waits else None)
            return True

    def close(self) -> None:
        """Stop saying this process is alive (tests: as if it had stopped). Runs here go on."""
        self._book.close()
