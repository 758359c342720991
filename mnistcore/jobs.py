"""The training slot: one training run at a time on the server, a short queue, and runs nobody watches.

The run lives in the server process, in a background thread, not in a browser tab. Anyone can
watch it (`status()`, a frozen snapshot). A visitor who finds the slot taken may wait in a short
queue (`request`); the first request in line starts by itself, owned by whoever asked, as soon
as the slot is free. Only a run's owner may stop it and, once done, publish its model.

Visitors are anonymous: `owner` is an opaque id for one browser session, `label` what others
see. The owner's Train page calls `heartbeat(owner)` every second; a run, or a place in the
queue, whose owner has not been heard from for `heartbeat_timeout` seconds (their tab was
closed) is stopped or dropped, so a closed tab never holds the slot. A run that fails, is
stopped, or whose thread dies leaves the live model as it was and frees the slot for the next.

Training runs at a lower CPU priority and with one BLAS thread (see `_background_priority`), so
the people drawing and browsing stay responsive while it trains.

The slot is shared by every session (`st.cache_resource`), so all its state sits behind one lock.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import importlib.util
import os
import re
import secrets
import sys
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Callable

from threadpoolctl import threadpool_limits

from .models import Progress
from .training import TrainResult, TrainSettings, run_training

RUNNING, FINISHED, STOPPED, FAILED = "running", "finished", "stopped", "failed"

QUEUE_SIZE = 5               # requests that may wait; more would mean hours in line
HEARTBEAT_TIMEOUT = 90.0     # seconds without a heartbeat before a run or request is given up.
# Not less than a minute: Chrome wakes the timers of a tab that has been in the background for
# five minutes only once a minute, so someone who starts a run and switches tabs would lose it.
MAX_RUN_SECONDS = 10 * 60    # refuse settings estimated to take longer (LIMITS alone allow an hour)
RESULTS_KEPT = 8             # ended runs whose models are kept for their owners to publish
TRAINING_NICENESS = 10       # how much lower the training thread's CPU priority is (0 to 19)

# Costs on the lab server (2 cores, no GPU), used to estimate a run before it starts; timed with
# the NumPy network at batch 1 and 128 and with 2-3 Keras epochs on 12,000 images. Others using
# the server make a run slower; the estimate during a run follows the run's own pace instead.
# The NumPy network's time per epoch of n images is about
#   n * hidden * PER_SAMPLE_UNIT                        (the matrix products)
#   + n / batch * (PER_STEP + hidden * PER_STEP_UNIT)   (one weight update per mini-batch)
# which gives ~1 s for 784-512-10 at batch 128 and ~14 s at batch 1 on 60,000 images.
NUMPY_PER_SAMPLE_UNIT = 2.9e-8
NUMPY_PER_STEP = 55e-6
NUMPY_PER_STEP_UNIT = 3.4e-7
NUMPY_SIGMOID_FACTOR = 1.3           # expit costs more than max(x, 0)
KERAS_PER_SAMPLE = {"mlp": 3.0e-5, "cnn": 4.2e-4}   # ~2.5 s and ~26 s per 60,000-image epoch
KERAS_PER_STEP = 1.5e-3
KERAS_START = 8.0                    # importing TensorFlow and building the model
TEST_IMAGES = 10_000                 # evaluated after every epoch


def estimate_seconds(settings: TrainSettings, train_samples: int = 60_000) -> float:
    """Expected wall-clock seconds for a run with these settings on a quiet lab server."""
    settings.validate()
    n = min(train_samples, settings.train_limit or train_samples)
    steps = -(-n // int(settings.batch_size))  # mini-batches per epoch, rounded up
    if settings.engine == "numpy":
        hidden = int(settings.hidden)
        epoch = n * hidden * NUMPY_PER_SAMPLE_UNIT + steps * (NUMPY_PER_STEP + hidden * NUMPY_PER_STEP_UNIT)
        epoch += TEST_IMAGES * hidden * NUMPY_PER_SAMPLE_UNIT / 3  # forward pass only
        if settings.activation == "sigmoid":
            epoch *= NUMPY_SIGMOID_FACTOR
        return settings.epochs * epoch
    per_sample = KERAS_PER_SAMPLE[settings.arch]
    epoch = n * per_sample + steps * KERAS_PER_STEP + TEST_IMAGES * per_sample / 3
    return KERAS_START + settings.epochs * epoch


def describe_seconds(seconds: float) -> str:
    """A duration for people: "about 40 seconds", "about 3 minutes", "about 1 hour 5 minutes"."""
    seconds = max(0.0, float(seconds))
    if seconds < 10:
        return "a few seconds"
    if seconds < 90:
        return f"about {round(seconds / 5) * 5:.0f} seconds"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"about {minutes} minutes"
    hours, minutes = divmod(minutes, 60)
    return f"about {hours} hour{'s' if hours > 1 else ''}" + (f" {minutes} minutes" if minutes else "")


def engine_problem(settings: TrainSettings) -> str | None:
    """Why this server cannot train with these settings' engine, in plain words; None if it can.

    Looks for the Keras engine without importing it (TensorFlow takes seconds to import).
    """
    if settings.engine != "keras":
        return None
    for module, what in (("tensorflow", "TensorFlow is not installed"),
                         ("mnistcore.keras_net", "the Keras engine (mnistcore/keras_net.py) is missing")):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return f"Keras training is not available on this server: {what}. Choose the NumPy engine."
    return None


class SlotBusy(RuntimeError):
    """Someone else's run is using the training slot; the message says whose and until when."""


class QueueFull(SlotBusy):
    """The slot is busy and the queue is full; the message says when to try again."""


def clean_label(text: str | None, fallback: str = "someone") -> str:
    """A name others will see: letters, digits, spaces and . ' - only (no Markdown, no links), 40 at most."""
    text = re.sub(r"[^\w .'-]", "", text or "")
    return " ".join(text.split())[:40].strip() or fallback


@dataclass(frozen=True)
class EpochPoint:
    """One finished epoch, for the curves."""

    epoch: int
    loss: float
    accuracy: float
    test_loss: float | None
    test_accuracy: float | None


@dataclass(frozen=True)
class JobStatus:
    """A training run at one moment (a copy: reading it needs no lock)."""

    job_id: str
    owner: str                       # the owner's anonymous session id (never shown)
    label: str                       # what others see: the name they gave, or "Visitor 3F2A"
    settings: TrainSettings
    started_at: dt.datetime          # UTC
    state: str                       # running, finished, stopped or failed
    fraction: float                  # 0..1 of all epochs' training images seen
    epoch: int                       # the epoch in progress (or the last one)
    history: tuple[EpochPoint, ...]  # finished epochs
    batch_loss: float | None         # this epoch's running training loss and accuracy
    batch_accuracy: float | None
    expected_end: dt.datetime        # UTC; an estimate, refined as the run goes
    finished_at: dt.datetime | None
    error: str | None                # why a failed run failed
    note: str | None                 # why a run was stopped, when its owner did not stop it
    test_accuracy: float | None      # of the finished model
    published_as: str | None         # the run name once published

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    @property
    def can_publish(self) -> bool:
        """A model came out of it (at least one complete epoch) and it is not yet published."""
        return self.test_accuracy is not None and self.published_as is None and not self.running


@dataclass(frozen=True)
class Waiting:
    """A request in the queue, as everyone may see it."""

    job_id: str                      # the id its run will have
    owner: str
    label: str
    settings: TrainSettings
    queued_at: dt.datetime           # UTC
    position: int                    # 1 = next to start
    expected_start: dt.datetime      # UTC; when the runs ahead of it should be done


@dataclass
class _Request:
    job_id: str
    owner: str
    label: str
    settings: TrainSettings
    data: tuple
    queued_at: dt.datetime
    seconds: float                   # its estimate


@dataclass
class _Job:
    """The slot's own, changing record of a run; only touched under the slot's lock."""

    status: JobStatus
    stop: threading.Event
    thread: threading.Thread | None = None
    result: TrainResult | None = None


Train = Callable[..., TrainResult]
Clock = Callable[[], dt.datetime]


class TrainingSlot:
    """At most one training run at a time, and a short queue; see the module docstring."""

    def __init__(self, train: Train = run_training, clock: Clock | None = None,
                 heartbeat_timeout: float = HEARTBEAT_TIMEOUT, queue_size: int = QUEUE_SIZE,
                 max_seconds: float = MAX_RUN_SECONDS, niceness: int = TRAINING_NICENESS,
                 blas_threads: int | None = 1):
        if heartbeat_timeout <= 0 or queue_size < 0 or max_seconds <= 0:
            raise ValueError(f"heartbeat_timeout and max_seconds must be > 0 and queue_size >= 0; got "
                             f"{heartbeat_timeout!r}, {max_seconds!r}, {queue_size!r}")
        self._train = train  # run_training; tests pass a stand-in that fails or blocks
        self._clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self.heartbeat_timeout = float(heartbeat_timeout)
        self.queue_size = int(queue_size)
        self.max_seconds = float(max_seconds)
        # See _background_priority. niceness=0 with blas_threads=None trains as a plain thread would
        # (bench/load.py --plain measures the difference).
        self._niceness = int(niceness)
        self._blas_threads = blas_threads
        self._lock = threading.Lock()
        self._publish_lock = threading.Lock()
        self._active: _Job | None = None      # the run in progress
        self._latest: _Job | None = None      # the last run to end
        self._kept: OrderedDict[str, _Job] = OrderedDict()  # each owner's last ended run, oldest first
        self._queue: list[_Request] = []
        self._heard: dict[str, dt.datetime] = {}  # last heartbeat of each owner with a run or request

    # ------------------------------------------------------------------ asking for a run

    def start(self, settings: TrainSettings, data, owner: str, label: str | None = None) -> str:
        """Start a run now; returns its id. SlotBusy if a run is in progress (no queueing).

        `data` is load_mnist()'s ((x_train, y_train), (x_test, y_test)); `owner` the visitor's
        session id; `label` what others see (cleaned by `clean_label`; default: `owner`).
        """
        return self._submit(settings, data, owner, label, may_wait=False)

    def request(self, settings: TrainSettings, data, owner: str, label: str | None = None) -> str:
        """Start a run now if the slot is free, else queue it; returns the run's id.

        QueueFull when `queue_size` requests are already waiting; ValueError when `owner` already
        has a run in progress or a request waiting (one at a time each), or the settings are bad.
        """
        return self._submit(settings, data, owner, label, may_wait=True)

    def _submit(self, settings, data, owner, label, may_wait: bool) -> str:
        settings.validate()
        if not owner:
            raise ValueError("a run needs an owner (the visitor's session id)")
        seconds = estimate_seconds(settings, len(data[0][0]))
        if seconds > self.max_seconds:
            raise ValueError(f"these settings would take {describe_seconds(seconds)}, and runs on this server "
                             f"are limited to {describe_seconds(self.max_seconds)}: choose fewer epochs, "
                             "fewer hidden units or a larger batch")
        now = self._clock()
        request = _Request(secrets.token_hex(6), owner, clean_label(label or owner), settings, data, now, seconds)
        with self._lock:
            self._check_locked(now)
            if self._active is not None and self._active.status.owner == owner:
                raise ValueError("you already have a run in progress: one at a time")
            if any(r.owner == owner for r in self._queue):
                raise ValueError("you already have a run waiting in the queue: one at a time")
            self._heard[owner] = now
            if self._active is None:
                self._begin_locked(request)
                return request.job_id
            s = self._active.status
            busy = (f"{s.label} is training a model (started at {s.started_at.astimezone():%H:%M}, "
                    f"{s.fraction:.0%} done, expected to finish around {s.expected_end.astimezone():%H:%M}).")
            if not may_wait:
                self._heard.pop(owner, None)
                raise SlotBusy(busy + " One run at a time: please wait until it finishes.")
            if len(self._queue) >= self.queue_size:
                self._heard.pop(owner, None)
                raise QueueFull(busy + f" The queue is full ({self.queue_size} waiting): please try again "
                                "when a place frees up.")
            self._queue.append(request)
            return request.job_id

    def cancel(self, owner: str) -> bool:
        """Take `owner`'s request out of the queue; False if they had none waiting."""
        with self._lock:
            waiting = [r for r in self._queue if r.owner == owner]
            for r in waiting:
                self._queue.remove(r)
                self._heard.pop(owner, None)
            return bool(waiting)

    def heartbeat(self, owner: str) -> None:
        """`owner`'s page is still open. Also gives up on runs and requests nobody is watching."""
        now = self._clock()
        with self._lock:
            if owner in self._heard:  # only owners of a run or a request are tracked
                self._heard[owner] = now
            self._check_locked(now)

    # ------------------------------------------------------------------ watching

    def status(self, job_id: str | None = None) -> JobStatus | None:
        """Run `job_id` (while the slot still knows it); without an id, the run in progress, else
        the last run to end, else None."""
        with self._lock:
            self._check_locked(self._clock())
            if job_id is None:
                job = self._active or self._latest
            else:
                job = self._find_locked(job_id)
            return job.status if job is not None else None

    def last_run(self, owner: str) -> JobStatus | None:
        """`owner`'s run in progress, else their last run to end (while it is kept), else None."""
        with self._lock:
            self._check_locked(self._clock())
            if self._active is not None and self._active.status.owner == owner:
                return self._active.status
            job = self._kept.get(owner)
            return job.status if job is not None else None

    def queue(self) -> tuple[Waiting, ...]:
        """The requests waiting, next first, each with its expected start."""
        with self._lock:
            now = self._clock()
            self._check_locked(now)
            start = max(now, self._active.status.expected_end) if self._active is not None else now
            waiting = []
            for position, r in enumerate(self._queue, 1):
                waiting.append(Waiting(r.job_id, r.owner, r.label, r.settings, r.queued_at, position, start))
                start += dt.timedelta(seconds=r.seconds)
            return tuple(waiting)

    def busy(self) -> bool:
        status = self.status()
        return status is not None and status.running

    # ------------------------------------------------------------------ the owner's actions

    def stop(self, job_id: str) -> bool:
        """Ask run `job_id` to stop after its current batch; False if it is not running."""
        with self._lock:
            job = self._active
            if job is None or job.status.job_id != job_id:
                return False
            job.stop.set()
            return True

    def result(self, job_id: str) -> TrainResult | None:
        """An ended run's model and evaluation, while the slot keeps it."""
        with self._lock:
            job = self._find_locked(job_id)
            if job is None or job.status.running:
                return None
            return job.result

    def publish(self, job_id: str, store) -> str:
        """Make run `job_id`'s model the live one in `store` (a ModelStore); returns its run name.

        Once only: a second click, or a second tab, gets a ValueError rather than a second copy.
        """
        with self._publish_lock:
            status, result = self.status(job_id), self.result(job_id)
            if status is None or result is None or result.evaluation is None:
                raise ValueError("there is no finished model from this run to publish "
                                 "(its owner may have started another run since)")
            if status.published_as is not None:
                raise ValueError(f"this model is already published as {status.published_as}")
            live = store.publish(result.model)
            with self._lock:
                job = self._find_locked(job_id)
                if job is not None:
                    job.status = replace(job.status, published_as=live.name)
            return live.name

    def wait(self, timeout: float | None = None) -> bool:
        """Wait until no run is in progress and none is waiting (for tests and scripts).

        Waits on the runs' threads, one after the other; True when the slot is idle.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                self._check_locked(self._clock())
                thread = self._active.thread if self._active is not None else None
            if thread is None:
                return True
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return False
            thread.join(remaining)

    # ------------------------------------------------------------------ bookkeeping (lock held)

    def _find_locked(self, job_id: str) -> _Job | None:
        for job in (self._active, self._latest, *self._kept.values()):
            if job is not None and job.status.job_id == job_id:
                return job
        return None

    def _check_locked(self, now: dt.datetime) -> None:
        """Give up on what nobody is watching any more, and notice a run whose thread has died."""
        job = self._active
        if job is not None and job.thread is not None and not job.thread.is_alive():
            # The thread ended without its closing bookkeeping (see _run): free the slot anyway.
            self._end_locked(job, dict(state=FAILED, error="the training thread ended without reporting back"))
        job = self._active
        if job is not None and not job.stop.is_set() and self._gone_locked(job.status.owner, now):
            job.stop.set()  # the run ends at its next batch and frees the slot; the live model stays
            job.status = replace(job.status, note=f"Stopped because its page was closed (nothing heard from it "
                                                  f"for {self.heartbeat_timeout:g} s).")
        for request in [r for r in self._queue if self._gone_locked(r.owner, now)]:
            self._queue.remove(request)
            self._heard.pop(request.owner, None)

    def _gone_locked(self, owner: str, now: dt.datetime) -> bool:
        heard = self._heard.get(owner)
        return heard is None or (now - heard).total_seconds() > self.heartbeat_timeout

    def _begin_locked(self, request: _Request) -> None:
        now = self._clock()
        self._kept.pop(request.owner, None)  # their previous model is given up once a new run starts
        status = JobStatus(
            job_id=request.job_id, owner=request.owner, label=request.label, settings=request.settings,
            started_at=now, state=RUNNING, fraction=0.0, epoch=1, history=(), batch_loss=None,
            batch_accuracy=None, expected_end=now + dt.timedelta(seconds=request.seconds), finished_at=None,
            error=None, note=None, test_accuracy=None, published_as=None)
        job = _Job(status, threading.Event())
        # A daemon thread: a server shutdown is not held up by a run nobody will publish.
        job.thread = threading.Thread(target=self._run, args=(job, request.data), daemon=True,
                                      name=f"training-{status.job_id}")
        self._active = job
        job.thread.start()

    def _end_locked(self, job: _Job, changes: dict) -> None:
        """Record how `job` ended, free the slot, and start the next request in line."""
        if self._active is not job:  # already ended (the watchdog gave up on its thread)
            return
        job.status = replace(job.status, finished_at=self._clock(), **changes)
        self._active, self._latest = None, job
        self._kept[job.status.owner] = job
        self._kept.move_to_end(job.status.owner)
        while len(self._kept) > RESULTS_KEPT:
            self._kept.popitem(last=False)  # the oldest
        self._heard.pop(job.status.owner, None)
        now = self._clock()
        while self._queue:
            request = self._queue.pop(0)
            if not self._gone_locked(request.owner, now):
                self._begin_locked(request)
                return
            self._heard.pop(request.owner, None)  # they left while waiting

    # ------------------------------------------------------------------ the training thread

    def _run(self, job: _Job, data) -> None:
        result, changes = None, None
        try:
            with _background_priority(self._niceness, self._blas_threads):
                result = self._train(job.status.settings, data,
                                     on_batch=lambda p: self._on_batch(job, p),
                                     on_epoch=lambda p: self._on_epoch(job, p))
            stopped = result.stopped or job.stop.is_set()
            changes = dict(state=STOPPED if stopped else FINISHED,
                           test_accuracy=result.evaluation.accuracy if result.evaluation is not None else None)
            if not stopped:
                changes["fraction"] = 1.0
        except Exception as err:  # noqa: BLE001 - any failure ends the run; its owner is told why
            changes = dict(state=FAILED, error=f"{type(err).__name__}: {err}")
        finally:
            # Whatever happened, the slot is free again once this thread ends: one update under
            # the lock, so "not running", "result ready" and "next run started" are seen together.
            self._finish(job, result, changes or dict(state=FAILED, error="training ended unexpectedly"))

    def _finish(self, job: _Job, result: TrainResult | None, changes: dict) -> None:
        with self._lock:
            job.result = result
            self._end_locked(job, changes)

    def _on_batch(self, job: _Job, progress: Progress) -> bool:
        with self._lock:
            now = self._clock()
            elapsed = (now - job.status.started_at).total_seconds()
            expected_end = job.status.expected_end
            if progress.fraction >= 0.02:  # enough seen to extrapolate from this run's own pace
                remaining = elapsed * (1 - progress.fraction) / progress.fraction
                expected_end = now + dt.timedelta(seconds=remaining)
            job.status = replace(job.status, fraction=progress.fraction, epoch=progress.epoch,
                                 batch_loss=progress.loss, batch_accuracy=progress.accuracy,
                                 expected_end=expected_end)
            self._check_locked(now)  # an owner who left is noticed even when nobody visits
        return job.stop.is_set()  # True stops the run at this batch

    def _on_epoch(self, job: _Job, progress: Progress) -> bool:
        point = EpochPoint(progress.epoch, progress.loss, progress.accuracy,
                           progress.test_loss, progress.test_accuracy)
        with self._lock:
            job.status = replace(job.status, history=job.status.history + (point,), fraction=progress.fraction)
        return job.stop.is_set()


@contextlib.contextmanager
def _background_priority(niceness: int, blas_threads: int | None):
    """Run the block (one training run, in its own thread) so that it does not hog the server.

    Measured on the 2-core lab server (bench/load.py --part server) while a 784-512-10 network
    trained 10 epochs at batch 128, with visitors arriving every 50 ms:
                                      Draw prediction           Gallery render
        idle                          2.5 ms median, 3.1 p95    35 ms median, 39 p95
        training, plain thread        8.9 ms,        50 ms      57 ms,        114 ms
        training, as here             2.6 ms,        3.7 ms     39 ms,        51 ms
    and the run took 24.8 s instead of 22.0 s. Two things make the difference:
    - One BLAS thread for the run's duration: the run keeps to one core, the other stays free for
      the visitors. (OpenBLAS's thread count is per process, so everyone's BLAS calls use one
      thread meanwhile: nothing for one drawing; the Gallery's evaluation is computed once per model.)
    - A lower CPU priority (nice) for this thread only (on Linux a thread id is a "process" to
      setpriority), so when both cores are wanted the scheduler serves the visitors first. Threads
      inherit it, so it is set from the server's own priority, not added to the current one.
    A separate niced process measured no better with one BLAS thread (and costs a start-up and a
    copy of MNIST), and far worse with two: their spinning starved it (85 s for a 13 s run, with
    21 ms per drawing). Keras runs use TensorFlow's own thread pools, which the BLAS limit does not
    reach; they inherit the nice when TensorFlow starts them in this thread (not when a Keras live
    model made the server start them earlier). Not measured.
    """
    if niceness and sys.platform.startswith("linux"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), min(19, _BASE_NICENESS + niceness))
        except OSError:  # not allowed here: train at normal priority rather than not at all
            pass
    with threadpool_limits(limits=blas_threads, user_api="blas") if blas_threads else contextlib.nullcontext():
        yield


def _base_niceness() -> int:
    try:
        return os.getpriority(os.PRIO_PROCESS, 0)  # the server's own priority, read at import
    except (AttributeError, OSError):
        return 0


_BASE_NICENESS = _base_niceness()
