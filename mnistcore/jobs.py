"""The training slot: at most one training run at a time on the server, in a background thread.

The run lives in the server process, not in a browser tab: closing the tab neither stops nor
orphans it, and everyone's pages stay responsive while it trains. Anyone can watch its progress
(`status()`, a frozen snapshot); only its owner's page offers Stop and, once it is done, Publish.
The finished model waits in the slot until it is published or the next run starts.

The slot is shared by every session (`st.cache_resource`), so all its state sits behind one lock.
"""
from __future__ import annotations

import datetime as dt
import importlib.util
import secrets
import threading
from dataclasses import dataclass, replace
from typing import Callable

from .models import Progress
from .training import TrainResult, TrainSettings, run_training

RUNNING, FINISHED, STOPPED, FAILED = "running", "finished", "stopped", "failed"

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
    owner: str                       # whatever name the person gave
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
    test_accuracy: float | None      # of the finished model
    published_as: str | None         # the run name once published

    @property
    def running(self) -> bool:
        return self.state == RUNNING

    @property
    def can_publish(self) -> bool:
        """A model came out of it (at least one complete epoch) and it is not yet published."""
        return self.test_accuracy is not None and self.published_as is None and not self.running


@dataclass
class _Job:
    """The slot's own, changing record of a run; only touched under the slot's lock."""

    status: JobStatus
    stop: threading.Event
    thread: threading.Thread | None = None
    result: TrainResult | None = None


Train = Callable[..., TrainResult]


class TrainingSlot:
    """At most one training run at a time; see the module docstring."""

    def __init__(self, train: Train = run_training, clock: Callable[[], dt.datetime] | None = None):
        self._train = train  # run_training; tests pass a stand-in that fails or blocks
        self._clock = clock or (lambda: dt.datetime.now(dt.timezone.utc))
        self._lock = threading.Lock()
        self._publish_lock = threading.Lock()
        self._job: _Job | None = None  # the latest run, running or done

    def start(self, settings: TrainSettings, data, owner: str) -> str:
        """Start training in the background; returns the run's id. SlotBusy if a run is active."""
        settings.validate()
        owner = (owner or "").strip()[:60] or "someone"
        now = self._clock()
        train_samples = len(data[0][0])
        estimate = estimate_seconds(settings, train_samples)
        with self._lock:
            active = self._job
            if active is not None and active.status.running:
                s = active.status
                raise SlotBusy(
                    f"{s.owner} is training a model (started at {s.started_at.astimezone():%H:%M}, "
                    f"{s.fraction:.0%} done, expected to finish around {s.expected_end.astimezone():%H:%M}). "
                    "One run at a time: please wait until it finishes.")
            status = JobStatus(
                job_id=secrets.token_hex(6), owner=owner, settings=settings, started_at=now,
                state=RUNNING, fraction=0.0, epoch=1, history=(), batch_loss=None, batch_accuracy=None,
                expected_end=now + dt.timedelta(seconds=estimate), finished_at=None, error=None,
                test_accuracy=None, published_as=None)
            job = _Job(status, threading.Event())
            # A daemon thread: a server shutdown is not held up by a run nobody will publish.
            job.thread = threading.Thread(target=self._run, args=(job, data), daemon=True,
                                          name=f"training-{status.job_id}")
            self._job = job
            job.thread.start()
        return status.job_id

    def status(self) -> JobStatus | None:
        """The latest run (running or done), or None if nobody has trained since the server started."""
        with self._lock:
            return self._job.status if self._job is not None else None

    def busy(self) -> bool:
        status = self.status()
        return status is not None and status.running

    def stop(self, job_id: str) -> bool:
        """Ask run `job_id` to stop after its current batch; False if it is not running."""
        with self._lock:
            job = self._job
            if job is None or job.status.job_id != job_id or not job.status.running:
                return False
            job.stop.set()
            return True

    def result(self, job_id: str) -> TrainResult | None:
        """The finished run's model and evaluation, while it is the slot's latest run."""
        with self._lock:
            job = self._job
            if job is None or job.status.job_id != job_id or job.status.running:
                return None
            return job.result

    def publish(self, job_id: str, store) -> str:
        """Make run `job_id`'s model the live one in `store` (a ModelStore); returns its run name.

        Once only: a second click, or a second tab, gets a ValueError rather than a second copy.
        """
        with self._publish_lock:
            status, result = self.status(), self.result(job_id)
            if status is None or status.job_id != job_id or result is None or result.evaluation is None:
                raise ValueError("there is no finished model from this run to publish "
                                 "(another run may have started since)")
            if status.published_as is not None:
                raise ValueError(f"this model is already published as {status.published_as}")
            live = store.publish(result.model)
            self._update(job_id, published_as=live.name)
            return live.name

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the running run to end (for tests and scripts); True when nothing is running."""
        with self._lock:
            thread = self._job.thread if self._job is not None else None
        if thread is not None:
            thread.join(timeout)
        return not self.busy()

    # ------------------------------------------------------------------ the training thread

    def _run(self, job: _Job, data) -> None:
        result, changes = None, None
        try:
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
            # the lock, so "not running" and "result ready" are seen together.
            with self._lock:
                job.result = result
                job.status = replace(job.status, finished_at=self._clock(),
                                     **(changes or dict(state=FAILED, error="training ended unexpectedly")))

    def _on_batch(self, job: _Job, progress: Progress) -> bool:
        with self._lock:
            elapsed = (self._clock() - job.status.started_at).total_seconds()
            expected_end = job.status.expected_end
            if progress.fraction >= 0.02:  # enough seen to extrapolate from this run's own pace
                remaining = elapsed * (1 - progress.fraction) / progress.fraction
                expected_end = self._clock() + dt.timedelta(seconds=remaining)
            job.status = replace(job.status, fraction=progress.fraction, epoch=progress.epoch,
                                 batch_loss=progress.loss, batch_accuracy=progress.accuracy,
                                 expected_end=expected_end)
        return job.stop.is_set()  # True stops the run at this batch

    def _on_epoch(self, job: _Job, progress: Progress) -> bool:
        point = EpochPoint(progress.epoch, progress.loss, progress.accuracy,
                           progress.test_loss, progress.test_accuracy)
        with self._lock:
            job.status = replace(job.status, history=job.status.history + (point,), fraction=progress.fraction)
        return job.stop.is_set()

    def _update(self, job_id: str, **changes) -> None:
        with self._lock:
            if self._job is not None and self._job.status.job_id == job_id:
                self._job.status = replace(self._job.status, **changes)
