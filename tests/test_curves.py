"""The Train page's data: a run's learning curves as a table to chart, and the saved models as a table."""
import datetime as dt

import pandas as pd

from mnistcore.lab.curves import TEST, TEST_SAMPLE, TRAINING, Trail, curve_table, epochs_shown, zoomed
from mnistcore.lab.model_list import models_table
from mnistcore.lab.slot import FINISHED, RUNNING, Run
from mnistcore.lab.store import RunEntry
from mnistcore.nets.base import ModelInfo, Progress
from mnistcore.training import TrainSettings

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
N = 1000  # training images per epoch


def run(state=FINISHED, epochs=3, history=(), **figures) -> Run:
    return Run("r1", "ada", "Ada", TrainSettings(epochs=epochs), state, T0, T0, history=tuple(history), **figures)


def end_of(epoch, loss, accuracy, test_loss, test_accuracy, epochs=3) -> Progress:
    return Progress(epoch, epochs, epoch * N, epochs * N, loss, accuracy, 1.0, test_loss, test_accuracy)


def test_the_curves_from_the_epochs_the_points_within_and_the_epoch_in_progress():
    history = [end_of(1, 0.5, 0.85, 0.4, 0.88)]
    points = [Progress(1, 3, 250, 3 * N, 0.9, 0.7, 0.2, 0.8, 0.75),
              history[0],                                     # an epoch's end: drawn once, from the history
              Progress(2, 3, 1500, 3 * N, 0.35, 0.9, 1.5, 0.3, 0.91)]
    table = curve_table(run(RUNNING, history=history, fraction=0.75, batch_loss=0.3, batch_accuracy=0.92), points)
    assert list(table.columns) == ["epochs", "curve", "measure", "value"]
    assert list(table.epochs) == sorted(table.epochs)
    at = {(row.epochs, row.curve, row.measure): row.value for row in table.itertuples()}
    assert at[(0.25, TEST_SAMPLE, "accuracy")] == 0.75 and at[(0.25, TRAINING, "loss")] == 0.9
    assert at[(1.0, TEST, "accuracy")] == 0.88 and (1.0, TEST_SAMPLE, "accuracy") not in at
    assert at[(1.5, TEST_SAMPLE, "loss")] == 0.3
    assert at[(2.25, TRAINING, "accuracy")] == 0.92 and (2.25, TEST_SAMPLE, "accuracy") not in at  # in progress
    assert len(table) == len(at)  # one value per (epochs, curve, measure)
    assert epochs_shown(run(RUNNING, epochs=30), table) == 3  # to the end of the epoch in progress
    assert epochs_shown(run(RUNNING, epochs=2), table) == 2   # never past the run's last
    assert epochs_shown(run(epochs=30), table.iloc[:0]) == 1


def test_an_ended_run_has_no_point_in_progress_and_an_empty_run_no_curves():
    ended = run(history=[end_of(1, 0.5, 0.85, None, None)], fraction=1 / 3, batch_loss=0.4, batch_accuracy=0.9)
    table = curve_table(ended)
    assert set(table.curve) == {TRAINING} and list(table.epochs) == [1.0, 1.0]
    assert curve_table(run()).empty


def test_the_y_range_hugs_the_values_within_its_bounds():
    assert zoomed(pd.Series([0.9, 0.95]), 0, 1) == [0.9 - 0.05 * 0.15, 0.95 + 0.05 * 0.15]
    assert zoomed(pd.Series([0.999, 0.9995]), 0, 1)[1] == 1  # never above 100%
    assert zoomed(pd.Series([0.002, 0.003]), 0, None) == [0, 0.008]  # never below 0; a minimum pad of 0.005


def test_a_trail_follows_one_run_at_a_time_and_stops_growing_at_its_limit():
    trail = Trail(limit=3)
    assert trail.follow(run(RUNNING, fraction=0.0)) == []  # nothing seen yet
    seen = run(RUNNING, fraction=0.1, epoch=1, batch_loss=0.7, batch_accuracy=0.8)
    points = trail.follow(seen)
    assert len(points) == 1 and abs(points[0].epochs_done - 0.3) < 1e-9 and points[0].loss == 0.7
    assert points[0].test_accuracy is None  # training figures only
    for _ in range(5):
        trail.follow(seen)
    assert len(trail.points) == 3
    other = Run("r2", "bob", "Bob", TrainSettings(epochs=1), RUNNING, T0, T0, fraction=0.5, batch_loss=0.6,
                batch_accuracy=0.8)
    assert [p.epochs_done for p in trail.follow(other)] == [0.5]  # a new run: a new trail


def test_the_models_table_says_what_each_saved_model_is():
    numpy = ModelInfo("numpy", "784-512-10 relu/softmax", {"learningrate": 0.1, "momentum": 0.9}, epochs=1,
                      batch_size=128, test_accuracy=0.9812, trained_at="2026-01-01T12:34:56+00:00")
    keras = ModelInfo("keras", "cnn", {}, epochs=12, batch_size=64)
    table = models_table([RunEntry("default", numpy, None, True), RunEntry("20260101T000000Z-keras-x.keras", keras,
                                                                          None, False),
                          RunEntry("broken.npz", None, "not a model file", False)])
    rows = table.to_dict("records")
    assert rows[0] == {"": "shipped, live", "test accuracy": "98.12%", "network": "numpy 784-512-10 relu/softmax",
                       "training": "1 epoch at batch 128, learning rate 0.1, momentum 0.9",
                       "trained (UTC)": "2026-01-01 12:34"}
    assert rows[1][""] == "" and rows[1]["test accuracy"] == "untested"
    assert rows[1]["training"] == "12 epochs at batch 64"
    assert rows[2]["network"] == "broken.npz: unreadable (not a model file)" and rows[2]["test accuracy"] == ""
    assert list(models_table([]).columns) == ["", "test accuracy", "network", "training", "trained (UTC)"]


def test_a_test_loss_above_the_training_loss_is_explained_only_then():
    import pandas as pd
    from mnistcore.lab.curves import COLUMNS, loss_above_note
    rows = [(1.0, TRAINING, "loss", 0.10), (1.0, TRAINING, "accuracy", 0.95),
            (1.0, TEST, "loss", 0.30), (1.0, TEST, "accuracy", 0.96)]
    assert "above the training loss" in loss_above_note(pd.DataFrame(rows, columns=COLUMNS))
    rows[2] = (1.0, TEST, "loss", 0.05)
    assert loss_above_note(pd.DataFrame(rows, columns=COLUMNS)) is None
    assert loss_above_note(pd.DataFrame(rows[:2], columns=COLUMNS)) is None  # no test figures yet
