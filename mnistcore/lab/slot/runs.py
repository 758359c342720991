"""The slot's record of a run, as pages read it and as the run board keeps it: no threads, no clock.

A run's curve is carried as the engines report it: `Progress` points (mnistcore.nets.base), from
the training callbacks through the board to the Train page's chart.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, fields, replace

from ...i18n import N_
from ...nets.base import Progress
from ...training import TrainSettings

WAITING, RUNNING, FINISHED, STOPPED, FAILED = "waiting", "running", "finished", "stopped", "failed"
MAX_POINTS = 400  # curve points one run keeps (8 per epoch at most: 30 epochs need 240)
# A run's note and error as the board keeps them: in English, one text for every visitor; the Train page
# shows them in each visitor's language (mnistcore.i18n.restated).
PAGE_CLOSED = N_("Stopped because its page was closed (nothing heard from it for {seconds} s).")
TIME_LIMIT = N_("Stopped because it ran past the time limit for runs on this server ({limit}).")
PROCESS_STOPPED = N_("the server process that trained it stopped")
ENDED = N_("training ended unexpectedly")
DURATIONS = (N_("about {minutes} minutes"), N_("about {seconds} seconds"), N_("a few seconds"))  # a time limit's
NOTES = (PAGE_CLOSED, TIME_LIMIT, PROCESS_STOPPED, ENDED, *DURATIONS)


class SlotBusy(RuntimeError):
    """Someone else's run is using the training slot; the message says whose and until when."""


class QueueFull(SlotBusy):
    """The slot is busy and the queue is full; the message says when to try again."""


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
    history: tuple[Progress, ...] = ()  # finished epochs
    points: tuple[Progress, ...] = ()   # within epochs, with test figures on a sample (training.CURVE_SAMPLE)
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
class Record:
    """The board's record of one run (a row of the RunBoard, as Python)."""

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


# ---------------------------------------------------------------------- progress


def plain(progress: Progress) -> Progress:
    """`progress` with Python numbers only (engines may report NumPy ones, which JSON cannot keep)."""
    number = lambda x: None if x is None else float(x)  # noqa: E731
    return Progress(int(progress.epoch), int(progress.epochs), int(progress.samples_seen),
                    int(progress.total_samples), float(progress.loss), float(progress.accuracy),
                    float(progress.seconds), number(progress.test_loss), number(progress.test_accuracy))


def after_batch(run: Run, progress: Progress, now: dt.datetime) -> Run:
    """`run` once a batch has been trained: its figures, a better expected end, and a curve point
    when the batch's `progress` carries test figures (run_training adds them to a few batches)."""
    expected_end = run.expected_end
    if progress.fraction >= 0.02:  # enough seen to extrapolate from this run's own pace
        elapsed = (now - run.started_at).total_seconds()
        expected_end = now + dt.timedelta(seconds=elapsed * (1 - progress.fraction) / progress.fraction)
    points = run.points
    if progress.test_accuracy is not None and len(points) < MAX_POINTS:
        points += (plain(progress),)
    return replace(run, fraction=float(progress.fraction), epoch=int(progress.epoch),
                   batch_loss=float(progress.loss), batch_accuracy=float(progress.accuracy),
                   expected_end=expected_end, points=points)


def after_epoch(run: Run, progress: Progress) -> Run:
    """`run` once an epoch has ended: its point joins the history."""
    return replace(run, history=run.history + (plain(progress),), fraction=float(progress.fraction))


def with_progress(run: Run, source: Run) -> Run:
    """`run` with the training figures of `source` (the worker's own copy of the same run)."""
    return replace(run, fraction=source.fraction, epoch=source.epoch, history=source.history, points=source.points,
                   batch_loss=source.batch_loss, batch_accuracy=source.batch_accuracy,
                   expected_end=source.expected_end)


# ---------------------------------------------------------------------- board rows

_TIMES = tuple(f.name for f in fields(Run) if "datetime" in str(f.type))  # kept as ISO 8601 text
_WHOLE = 1_000_000  # samples per epoch given to points read from old rows, which kept epochs done only


def to_row(record: Record) -> dict:
    """A record as the board keeps it: plain JSON values (curve points as lists of Progress's fields)."""
    run = dict(vars(record.run))  # shallow: the curve points are written as lists below, not as dicts
    run["settings"] = asdict(record.run.settings)
    run["history"] = [_values(point) for point in record.run.history]
    run["points"] = [_values(point) for point in record.run.points]
    for name in _TIMES:
        run[name] = run[name].isoformat() if run[name] is not None else None
    return {"run": run, "seconds": record.seconds, "heard": record.heard.isoformat(), "client": record.client,
            "stop": record.stop, "process": record.process, "ended": record.ended}


def from_row(row: dict) -> Record:
    """The record `to_row` wrote."""
    run = dict(row["run"])
    run["settings"] = TrainSettings(**run["settings"])
    epochs = run["settings"].epochs
    run["history"] = tuple(_point(values, epochs) for values in run["history"])
    run["points"] = tuple(_point(values, epochs) for values in run.get("points", ()))
    for name in _TIMES:
        run[name] = dt.datetime.fromisoformat(run[name]) if run[name] is not None else None
    return Record(Run(**run), row["seconds"], dt.datetime.fromisoformat(row["heard"]), row["client"],
                  row["stop"], row["process"], row["ended"])


def _values(point: Progress) -> tuple:
    """A point's fields in their order (dataclasses.astuple's result, without its deep copy: the
    board writes a run's points a few times a second)."""
    return tuple(vars(point).values())


def _point(values: list, epochs: int) -> Progress:
    """A curve point from the board. A board file written by an older server holds five values,
    (epochs done, loss, accuracy, test loss, test accuracy), and may still hold ended runs."""
    if len(values) != 5:
        return Progress(*values)
    done, loss, accuracy, test_loss, test_accuracy = values
    return Progress(max(1, math.ceil(done)), epochs, round(done * _WHOLE), epochs * _WHOLE, loss, accuracy, 0.0,
                    test_loss, test_accuracy)
