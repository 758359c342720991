"""One training run: build the model, train it with progress callbacks (and, while someone watches,
curve points every eighth of an epoch), stop a run whose loss explodes or that learns nothing, and
evaluate it.

With `lab_drawings`, extra labelled images (the drawings visitors labelled on the Draw page, which
the caller reads from the lab's store) join the MNIST training images, and the result reports the
new model's accuracy on them separately; the drawings visitors said are not digits are what the
model's companion learns to refuse, beside its own non-digits.
"""
from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from ..augment import ROBUST, make_augment
from ..evaluation import Evaluation, evaluate
from ..i18n import N_
from ..nets.base import Callback, DigitModel, Progress
from ..openset import fit_open_set, prepare_fitting_drawings
from .settings import TrainSettings, new_model
from .timing import Timings, modelled_epoch

CHANCE = 0.15            # test accuracy at or below this after an epoch: no better than guessing (10%)
# Why a run stopped itself, in English (a run's result is shared); pages show it with mnistcore.i18n.restated.
BLEW_UP = N_("The run stopped itself: its loss became {loss} in epoch {epoch}, which means the weights blew up. "
             "{advice}")
GUESSING = N_("The run stopped itself: after {epochs} epoch it reads only {accuracy} of the test digits right, "
              "no better than guessing. {advice}")
GUESSING_EPOCHS = N_("The run stopped itself: after {epochs} epochs it reads only {accuracy} of the test digits "
                     "right, no better than guessing. {advice}")
SMALLER_STEPS = N_("Try a smaller learning rate than {rate} or a bigger batch, or pick one of the recipes.")
SMALLER_STEPS_MOMENTUM = N_("Try a smaller learning rate than {rate}, less momentum or a bigger batch, or pick one "
                            "of the recipes.")
TRY_A_RECIPE = N_("Try one of the recipes.")
STOP_REASONS = (BLEW_UP, GUESSING, GUESSING_EPOCHS, SMALLER_STEPS, SMALLER_STEPS_MOMENTUM, TRY_A_RECIPE)
POINTS_FIRST_EPOCH = 8   # curve points in the first epoch while someone watches, when it changes most
POINTS_PER_EPOCH = 4     # ...and in each later epoch: a point costs ~10-40 ms for the MLP, ~0.7 s for the CNN
CURVE_SAMPLE = 1000      # test images scored at each curve point (the first 1,000: a fixed sample)


@dataclass
class TrainResult:
    model: DigitModel
    evaluation: Evaluation | None      # on the test set; None when stopped before one epoch
    stopped: bool                      # True when the run ended before its last epoch
    history: list = field(default_factory=list)  # Progress per completed epoch
    lab_count: int = 0                 # lab drawings added to the training images
    lab_evaluation: Evaluation | None = None  # on those drawings (seen in training: not a test)
    stop_reason: str | None = None     # why the run stopped itself (it blew up, or learned nothing)
    points: list = field(default_factory=list)  # Progress at every curve point (with on_batch only)


class _Watch:
    """Wraps a run's callbacks: adds curve points, and stops a run that blows up or learns nothing."""

    def __init__(self, model: DigitModel, settings: TrainSettings, n_train: int, test, on_batch, on_epoch):
        self.model, self.settings, self.n_train = model, settings, n_train
        self.sample = (test[0][:CURVE_SAMPLE], test[1][:CURVE_SAMPLE])
        self.outer_batch, self.outer_epoch = on_batch, on_epoch
        self.every = max(1, n_train // POINTS_FIRST_EPOCH)  # samples between curve points, this epoch
        self.next_point = self.every
        self.history: list[Progress] = []
        self.points: list[Progress] = []
        self.reason: str | None = None
        self.first_batch_at: float | None = None    # perf_counter when the first batch was done
        self.first_batch_samples = 0

    def on_batch(self, progress: Progress):
        if self.first_batch_at is None:
            self.first_batch_at, self.first_batch_samples = time.perf_counter(), progress.samples_seen
        if not math.isfinite(progress.loss):
            self.reason = BLEW_UP.format(loss=progress.loss, epoch=progress.epoch, advice=self._advice())
            return True
        in_epoch = progress.samples_seen - (progress.epoch - 1) * self.n_train
        if self.outer_batch is not None and in_epoch >= self.next_point and in_epoch < self.n_train:
            # A curve point inside the epoch (the epoch's end gets the full test set instead).
            self.next_point = (in_epoch // self.every + 1) * self.every
            test_loss, test_accuracy = sample_score(self.model, *self.sample)
            progress = replace(progress, test_loss=test_loss, test_accuracy=test_accuracy)
            self.points.append(progress)
        return self.outer_batch(progress) if self.outer_batch is not None else None

    def on_epoch(self, progress: Progress):
        self.history.append(progress)
        self.points.append(progress)
        self.every = max(1, self.n_train // POINTS_PER_EPOCH)
        self.next_point = self.every  # the next epoch starts over
        outer = self.outer_epoch(progress) if self.outer_epoch is not None else None
        if progress.test_accuracy is not None and progress.test_accuracy <= CHANCE:
            self.reason = (GUESSING if progress.epoch == 1 else GUESSING_EPOCHS).format(
                epochs=progress.epoch, accuracy=f"{progress.test_accuracy:.0%}", advice=self._advice())
            return True
        return outer

    def _advice(self) -> str:
        if "learning_rate" in self.settings.applies:
            less_momentum = "momentum" in self.settings.applies and self.settings.optimizer == "sgd" \
                and self.settings.momentum
            return (SMALLER_STEPS_MOMENTUM if less_momentum else SMALLER_STEPS).format(
                rate=f"{self.settings.learning_rate:g}")
        return TRY_A_RECIPE


def sample_score(model: DigitModel, images: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) on a few images; the curve points' test figures."""
    proba = model.predict_proba(images)
    picked = proba[np.arange(len(labels)), labels.astype(np.int64)]
    loss = float(-np.log(np.maximum(picked, 1e-12)).mean())
    return loss, float((proba.argmax(axis=1) == labels).mean())


def run_training(settings: TrainSettings, data, on_batch: Callback | None = None,
                 on_epoch: Callback | None = None,
                 lab_drawings: tuple[np.ndarray, np.ndarray] | None = None,
                 timings: Timings | None = None, lab_record: dict | None = None,
                 lab_not_digits: np.ndarray | None = None) -> TrainResult:
    """Train a new model on `data` = load_mnist()'s ((x_train, y_train), (x_test, y_test)).

    Progress goes to the callbacks (returning True stops); test accuracy is reported per epoch.
    With `on_batch`, some batches' Progress (8 in the first epoch, 4 in later ones) also carries test_loss
    and test_accuracy on the first CURVE_SAMPLE test images: points for the curves within an
    epoch. A run whose loss becomes NaN or infinite, or that is at chance after an epoch, stops
    itself; `stop_reason` says why. The model's info carries the final test accuracy. With
    `settings.lab_drawings`, `lab_drawings` = (images (n, 28, 28) uint8, labels (n,)) are added to
    the training images (after `train_limit` is applied to MNIST's); ValueError when there are
    none; `lab_record` (FeedbackStore.training_set().record) says which, and goes into the model's
    info (ModelInfo.lab_drawings); `lab_not_digits` = (m, 28, 28) uint8 drawings said not to be digits,
    which the companion is fitted on as non-digits. With `timings`, the run's pace is recorded there for
    the next estimates.
    """
    settings.validate()
    started = time.perf_counter()
    cold = settings.network.tensorflow and "tensorflow" not in sys.modules
    (x_train, y_train), (x_test, y_test) = data
    if settings.train_limit is not None:
        x_train, y_train = x_train[: settings.train_limit], y_train[: settings.train_limit]
    lab = None
    if settings.lab_drawings:
        if lab_drawings is None or len(lab_drawings[0]) == 0:
            raise ValueError("there are no lab drawings to train on yet: label some drawings on the Draw page first")
        lab = lab_drawings
        x_train, y_train = np.concatenate([x_train, lab[0]]), np.concatenate([y_train, lab[1]])
    model = new_model(settings)
    watch = _Watch(model, settings, len(x_train), (x_test, y_test), on_batch, on_epoch)
    augment = make_augment(ROBUST) if settings.robust else None
    model.fit(x_train, y_train, epochs=int(settings.epochs), batch_size=int(settings.batch_size),
              on_batch=watch.on_batch, on_epoch=watch.on_epoch, validation=(x_test, y_test), augment=augment)
    history = watch.history
    trained_at = time.perf_counter()
    stopped = len(history) < settings.epochs
    lab_count = len(lab[0]) if lab is not None else 0
    if not history:
        return TrainResult(model, None, True, history, lab_count, stop_reason=watch.reason, points=watch.points)
    ev = evaluate(model, x_test, y_test)
    model.info = replace(model.info, test_accuracy=round(ev.accuracy, 6),
                         lab_drawings=lab_record if lab is not None else None,
                         augment=asdict(ROBUST) if settings.robust else None,
                         open_set=companion(model, data, lab_not_digits if lab is not None else None))
    if timings is not None and watch.first_batch_at is not None:
        samples = history[-1].samples_seen - watch.first_batch_samples
        timings.record(settings, samples, trained_at - watch.first_batch_at, watch.first_batch_at - started, cold,
                       modelled=modelled_epoch(settings, len(x_train)) / len(x_train),
                       finish=time.perf_counter() - trained_at)
    lab_ev = evaluate(model, *lab) if lab is not None else None
    return TrainResult(model, ev, stopped, history, lab_count, lab_ev, watch.reason, watch.points)


OPEN_SET_IMAGES = 5000   # test images drawn as the canvas draws them, to fit the companion on


def companion(model: DigitModel, data, lab_not_digits: np.ndarray | None = None) -> dict | None:
    """The model's companion that knows what is not a digit (mnistcore.openset), fitted on drawings
    of test images it never trained on (and `lab_not_digits`, the lab's drawings said not to be
    digits); None when the data are too few to fit one."""
    (x_train, y_train), (x_test, y_test) = data
    try:
        return fit_open_set(model, (x_train, y_train), (x_test[:OPEN_SET_IMAGES], y_test[:OPEN_SET_IMAGES]),
                            lab_others=lab_not_digits).as_dict()
    except ValueError:
        return None


def prepare_companion(data, report=None) -> bool:
    """Draw the drawings every run's companion() fits on ahead of time (minutes, once per data
    folder); False when they were ready already. `report(text)` hears the progress."""
    (_, _), (x_test, y_test) = data
    return prepare_fitting_drawings(x_test[:OPEN_SET_IMAGES], y_test[:OPEN_SET_IMAGES], report=report)
