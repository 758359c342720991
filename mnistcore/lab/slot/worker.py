"""The slot's worker thread: trains this process's runs one after another, at a lower CPU priority
than the visitors' requests, and writes their progress to the run board."""
from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
from dataclasses import dataclass, replace
from collections.abc import Callable

from threadpoolctl import threadpool_limits

from ...nets.base import Progress
from ...training import TrainResult, describe_seconds
from . import rules
from .book import Book, Local
from .runs import ENDED, FAILED, FINISHED, STOPPED, TIME_LIMIT, Record, Run, after_batch, after_epoch, with_progress

log = logging.getLogger("mnistlab")

OVERTIME = 0.2               # a run still going at max_seconds x (1 + OVERTIME) is stopped
TRAINING_NICENESS = 10       # how much lower the worker thread's CPU priority is (0 to 19)
SYNC_SECONDS = 0.25     # progress reaches the board (and other processes) this often
POLL_SECONDS = 0.5      # how often a process with runs waiting looks whether the slot is free for them

Train = Callable[..., TrainResult]


@dataclass
class _Training:
    """The worker's own copy of the run it trains: progress is kept here at every batch and
    written to the board a few times a second (`SYNC_SECONDS`), not at every batch."""

    run: Run
    local: Local
    synced: float = float("-inf")    # time.monotonic() of the last write to the board
    note: str | None = None          # why the worker itself stopped the run (the time limit)


class Worker:
    """Trains the runs of `book`'s process with `train` (run_training's signature), each stopped
    past `max_seconds` x (1 + OVERTIME). `niceness` and `blas_threads`: see `lower_priority`."""

    def __init__(self, book: Book, train: Train, max_seconds: float, niceness: int = TRAINING_NICENESS,
                 blas_threads: int | None = 1, on_model: Callable[[Run, TrainResult], None] | None = None):
        self.book, self.train, self.max_seconds = book, train, max_seconds
        self.on_model = on_model  # told of every ended run a tested model came out of (the class board)
        self.niceness, self.blas_threads = int(niceness), blas_threads
        self._thread: threading.Thread | None = None
        self._starting = threading.Lock()

    def start(self) -> None:
        """Start the thread, once."""
        with self._starting:
            if self._thread is None:
                # A daemon thread: a server shutdown is not held up by a run nobody will publish.
                self._thread = threading.Thread(target=self._work, daemon=True, name="training-slot")
                self.book.worker = self._thread
                self._thread.start()

    def _work(self) -> None:
        """Train this process's current run, end it, begin the next; forever (one thread per slot)."""
        book = self.book
        lower_priority(self.niceness)
        while True:
            with book.cond:
                book.wake = False  # changes made from now on wake the wait below
            record = self._to_train()
            if record is None and book.waiting_here():
                with book.changing() as records:  # the slot may have been freed by another process
                    rules.begin_next(records, book.process, book.clock())
                record = self._to_train()
            if record is not None:
                self._train_one(record)
                continue
            waiting_here = book.waiting_here()
            with book.cond:
                book.cond.wait_for(lambda: book.wake, POLL_SECONDS if waiting_here else None)

    def _to_train(self) -> Record | None:
        current = rules.current(self.book.records())
        return current if current is not None and current.process == self.book.process else None

    def _train_one(self, record: Record) -> None:
        book, run_id = self.book, record.run.run_id
        local = book.local.get(run_id)
        training = _Training(record.run, local or Local(None))
        result, changes = None, dict(state=FAILED, error=ENDED)
        try:
            if local is None:
                raise RuntimeError("this process no longer has the run's data")
            limit = threadpool_limits(limits=self.blas_threads, user_api="blas") if self.blas_threads \
                else contextlib.nullcontext()
            with limit:
                result = self.train(record.run.settings, local.data,
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
        if self.on_model is not None and result is not None and result.evaluation is not None:
            # Before the board says the run has ended: its owner's page then finds the model kept.
            try:
                self.on_model(replace(training.run, finished_at=book.clock(), **changes), result)
            except Exception:  # noqa: BLE001 - the run has ended well all the same; the log says why it is not listed
                log.warning("slot: run %s's model could not be kept for its owner", run_id, exc_info=True)
        with book.changing() as records:  # "ended", "result ready" and "next run begun" are seen together
            record = rules.find(records, run_id)
            if record is not None and record.run.running:
                record.run = replace(with_progress(record.run, training.run), finished_at=book.clock(), **changes,
                                     **({"note": training.note} if training.note else {}))
                record.ended = rules.next_ended(records)  # the owner's earlier ended run goes (keep_recent)
            rules.begin_next(records, book.process, book.clock())

    def _on_batch(self, training: _Training, progress: Progress) -> bool:
        now = self.book.clock()
        run = training.run
        training.run = after_batch(run, progress, now)
        limit = self.max_seconds * (1 + OVERTIME)
        if (now - run.started_at).total_seconds() > limit and training.note is None:
            # Estimates can be low (a busy server, a slow machine): the limit holds all the same.
            training.note = TIME_LIMIT.format(limit=describe_seconds(limit))
            training.local.stop.set()
            log.warning("slot: stopped run %s of %s at the time limit (%.0f s)", run.run_id, run.label, limit)
            self._sync(training)
        elif time.monotonic() - training.synced >= SYNC_SECONDS:
            self._sync(training)  # also how an owner who left is noticed even when nobody visits
        return training.local.stop.is_set()  # True stops the run at this batch

    def _on_epoch(self, training: _Training, progress: Progress) -> bool:
        training.run = after_epoch(training.run, progress)
        self._sync(training)  # every epoch's point is shown at once
        return training.local.stop.is_set()

    def _sync(self, training: _Training) -> None:
        """Write the worker's progress to the board; learn from it whether the run was asked to stop."""
        training.synced = time.monotonic()
        with self.book.changing() as records:
            record = rules.find(records, training.run.run_id)
            if record is None or not record.run.running:
                training.local.stop.set()  # given up meanwhile (its process was thought to have stopped)
                return
            record.run = with_progress(record.run, training.run)
            if training.note:
                record.stop = True
                record.run = replace(record.run, note=training.note)


def lower_priority(niceness: int) -> None:
    """Lower the calling thread's CPU priority by `niceness`, so training does not hog the server.

    Two things keep the visitors' pages quick while a run trains (docs/measurements.md has the figures):
    - one BLAS thread while a run trains (threadpool_limits in Worker._train_one), so the run keeps
      to one core and the other stays free; OpenBLAS's count is per process, which one drawing does not feel;
    - a lower priority (nice) for the worker thread only (on Linux a thread id is a "process" to
      setpriority), set from the server's own priority rather than added to the current one.
    Keras runs use TensorFlow's own thread pools, which inherit the nice when started in this thread.
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
