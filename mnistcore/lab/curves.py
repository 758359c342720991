"""A run's learning curves as a table to chart: training and test loss and accuracy against epochs.

Every point is a `Progress` (mnistcore.nets.base), as training reports it: the finished epochs
(`Run.history`), points within epochs with test figures on a sample (`Run.points`,
`TrainResult.points`), and what a page has seen of the epoch in progress (`Trail`).
"""
from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

from ..i18n import N_
from ..i18n import gettext as _
from ..nets.base import Progress
from .slot import Run

# The curves, as the legend names them (in English; the chart shows them in the visitor's language).
TRAINING, TEST, TEST_SAMPLE = N_("training"), N_("test"), N_("test (1,000 images)")
COLUMNS = ["epochs", "curve", "measure", "value"]
TRAIL_POINTS = 2000  # points one page keeps of the epoch in progress (one a second: over half an hour)
_WHOLE = 1_000_000   # samples per run given to a trail's points: a page knows the fraction done, not the count


def curve_table(run: Run, points: Iterable[Progress] = ()) -> pd.DataFrame:
    """The curves' points, long form: epochs (a fraction within an epoch), curve, measure, value.

    From `run`'s finished epochs (test figures on the whole test set), `points` within epochs
    (test figures on a sample, or none), and, while `run` trains, its epoch so far. Sorted by
    epochs; one value per (epochs, curve, measure), the last given.
    """
    rows = []

    def add(x, loss, accuracy, test_loss, test_accuracy, sample):
        test = TEST_SAMPLE if sample else TEST
        for curve, measure, value in ((TRAINING, "loss", loss), (TRAINING, "accuracy", accuracy),
                                      (test, "loss", test_loss), (test, "accuracy", test_accuracy)):
            if value is not None:
                rows.append({"epochs": x, "curve": curve, "measure": measure, "value": float(value)})

    done = {p.epoch for p in run.history}
    for p in run.history:
        add(float(p.epoch), p.loss, p.accuracy, p.test_loss, p.test_accuracy, False)
    for p in points:
        x = p.epochs_done
        if x != int(x) or int(x) not in done:  # an epoch's end is drawn from the history, on the whole test set
            add(x, p.loss, p.accuracy, p.test_loss, p.test_accuracy, True)
    if run.running and run.batch_loss is not None and run.fraction > 0:
        add(run.fraction * run.settings.epochs, run.batch_loss, run.batch_accuracy, None, None, True)
    table = pd.DataFrame(rows, columns=COLUMNS)
    return table.sort_values("epochs", kind="stable").drop_duplicates(["epochs", "curve", "measure"], keep="last")


def epochs_shown(run: Run, table: pd.DataFrame) -> int:
    """How many epochs the x axis spans: to the end of the epoch in progress, not of the run, so the
    first epoch fills the chart instead of a thin strip at the left of a 30-epoch axis."""
    reached = math.ceil(table.epochs.max() - 1e-9) if not table.empty else 1
    return max(1, min(run.settings.epochs, reached))


def zoomed(values: pd.Series, low: float, high: float | None) -> list[float]:
    """A y range just around `values` (not from 0), kept within [low, high] (None: no top)."""
    top, bottom = float(values.max()), float(values.min())
    pad = max((top - bottom) * 0.15, 0.005)
    return [max(low, bottom - pad), min(high, top + pad) if high is not None else top + pad]


class Trail:
    """The epoch-so-far figures one page has seen of the run in progress, one per look: the curves
    within an epoch while the run has no points of its own yet (training figures only)."""

    def __init__(self, limit: int = TRAIL_POINTS):
        self.limit = limit
        self.run_id: str | None = None
        self.points: list[Progress] = []

    def follow(self, run: Run) -> list[Progress]:
        """Add what `run` says now (a new run starts a new trail); returns the trail so far."""
        if run.run_id != self.run_id:
            self.run_id, self.points = run.run_id, []  # one run's trail at a time: a long session must not pile them up
        if run.batch_loss is not None and run.fraction > 0 and len(self.points) < self.limit:
            self.points.append(Progress(run.epoch, run.settings.epochs, round(run.fraction * _WHOLE), _WHOLE,
                                        run.batch_loss, run.batch_accuracy, 0.0))
        return self.points


def loss_above_note(table: pd.DataFrame) -> str | None:
    """A line for a chart whose latest test loss is above the training loss (the tutorial's network
    shows it): why that is no contradiction of a test accuracy as high or higher. None otherwise."""
    last = {}
    for curve, measure in ((TRAINING, "loss"), (TRAINING, "accuracy"), (None, "loss"), (None, "accuracy")):
        part = table[(table.measure == measure) & ((table.curve == curve) if curve else table.curve != TRAINING)]
        if part.empty:
            return None
        last[(curve, measure)] = float(part.value.iloc[-1])
    if last[(None, "loss")] <= last[(TRAINING, "loss")]:
        return None
    return _("The test loss is above the training loss: the loss also counts how sure the model is, so a few "
             "test digits it gets confidently wrong weigh a lot, while accuracy only counts right and wrong. "
             "The training figures are averaged over the epoch, as the model was still learning.")
