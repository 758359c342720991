"""Training orchestration shared by the CLI and the Train page: settings, recipes, limits, one run.

`TrainSettings` is what a person chooses; `RECIPES` are settings known to work, for people who do
not know what a learning rate is; `LIMITS` keep a run within a few minutes on the lab server;
`risky` warns of settings known to blow up. `run_training` builds the model, trains it with
progress callbacks (and, while someone watches, curve points every eighth of an epoch), stops a run
whose loss explodes or that learns nothing, and evaluates it. `Timings` remembers how long runs
took on this server, so that `estimate_seconds` tells the truth about the next one.

With `lab_drawings`, extra labelled images (the drawings visitors labelled on the Draw page, which
the caller reads from the lab's store) join the MNIST training images, and the result reports the
new model's accuracy on them separately.
"""
from __future__ import annotations

import importlib.util
import json
import math
import sys
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from .augment import ROBUST, make_augment
from .evaluation import Evaluation, evaluate
from .files import atomic_write_bytes
from .nets import ENGINES, KERAS_ARCHS, build_model as build_engine, keras_problem
from .nets.base import Callback, DigitModel, Progress

# Inclusive bounds for the numbers a person may choose: (low, high).
LIMITS: dict[str, tuple[float, float]] = {
    "epochs": (1, 30),
    "batch_size": (1, 1024),
    "hidden": (16, 1024),
    "learning_rate": (0.0001, 1.0),
    "momentum": (0.0, 0.99),
}
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("constant", "cosine")


NUMPY_ARCHS = ("mlp", "cnn")  # the tutorial's MLP, and keras-io's convnet in NumPy (nets/numpy_cnn.py)
# A step size each NumPy network learns well with: SGD's for the MLP, Adam's for the CNN (0.1
# would make Adam's steps diverge at once).
DEFAULT_LEARNING_RATE = {"mlp": 0.1, "cnn": 0.001}


# Which settings mean something for which (engine, arch); the others are ignored by that model,
# so the CLI refuses them rather than pretend, and the page does not show them.
APPLIES = {
    ("numpy", "mlp"): ("hidden", "learning_rate", "momentum", "activation", "optimizer", "schedule"),
    ("numpy", "cnn"): ("learning_rate", "schedule"),
    ("keras", "mlp"): (),
    ("keras", "cnn"): (),
}


@dataclass(frozen=True)
class TrainSettings:
    """One training run. Fields marked numpy apply to the NumPy MLP only (see APPLIES)."""

    engine: str = "numpy"          # "numpy" (our network) or "keras"
    epochs: int = 10
    batch_size: int = 128
    hidden: int = 512              # numpy mlp: hidden units
    learning_rate: float = 0.1     # numpy: step size
    activation: str = "relu"       # numpy mlp: "relu" (softmax output) or "sigmoid" (the tutorial's)
    momentum: float = 0.9          # numpy mlp, sgd: 0 = the tutorial's plain step
    arch: str = "mlp"              # "mlp" (the tutorial's network) or "cnn" (keras; numpy when numpy_cnn exists)
    seed: int | None = 0           # weights and shuffling; None = fresh randomness
    train_limit: int | None = None # train on the first N images only (quick runs and tests)
    lab_drawings: bool = False     # also train on the lab's labelled drawings (given to run_training)
    robust: bool = False           # distort every batch (mnistcore.augment.ROBUST): other handwriting styles
    optimizer: str = "sgd"         # numpy mlp: "sgd" (the tutorial's step) or "adam"
    schedule: str = "constant"     # numpy mlp: "cosine" lowers the learning rate to 0 over the run

    def validate(self) -> "TrainSettings":
        """Return self, or raise ValueError naming the bad value and the allowed range."""
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {self.engine!r}")
        archs = KERAS_ARCHS if self.engine == "keras" else NUMPY_ARCHS
        if self.arch not in archs:
            raise ValueError(f"arch for the {self.engine} engine must be one of {', '.join(archs)}; got {self.arch!r}")
        if self.activation not in ("relu", "sigmoid"):
            raise ValueError(f"activation must be relu or sigmoid; got {self.activation!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}; got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}; got {self.schedule!r}")
        for name, (low, high) in LIMITS.items():
            value = getattr(self, name)
            whole = name in ("epochs", "batch_size", "hidden")
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                    or (whole and int(value) != value) or not (low <= value <= high):
                kind = "a whole number" if whole else "a number"
                raise ValueError(f"{name.replace('_', ' ')} must be {kind} from {low:g} to {high:g}; got {value!r}")
        if self.train_limit is not None and not (1 <= self.train_limit):
            raise ValueError(f"train limit must be at least 1; got {self.train_limit!r}")
        for name in ("lab_drawings", "robust"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name.replace('_', ' ')} must be True or False; got {getattr(self, name)!r}")
        return self

    @property
    def applies(self) -> tuple[str, ...]:
        """The model settings that this engine and architecture use (the rest are ignored)."""
        return APPLIES.get((self.engine, self.arch), ())

    def describe(self) -> str:
        """The settings in one line, e.g. "NumPy relu network, 512 hidden units, ..., 1 epoch at batch 128"."""
        lab = ", made robust to other handwriting" if self.robust else ""
        lab += ", with the lab's drawings" if self.lab_drawings else ""
        rounds = f"{plural(self.epochs, 'epoch')} at batch {self.batch_size}{lab}"
        if self.engine == "numpy" and self.arch == "cnn":
            falling = " falling to 0" if self.schedule == "cosine" else ""
            return f"NumPy CNN, learning rate {self.learning_rate:g}{falling}, {rounds}"
        if self.engine == "numpy":
            rule = (f"Adam, learning rate {self.learning_rate:g}" if self.optimizer == "adam" else
                    f"learning rate {self.learning_rate:g}, momentum {self.momentum:g}")
            if self.schedule == "cosine":
                rule += " falling to 0"
            return f"NumPy {self.activation} network, {self.hidden} hidden units, {rule}, {rounds}"
        return f"Keras {self.arch.upper()}, {rounds}"


def plural(count: int, word: str) -> str:
    """ "1 epoch", "3 epochs"."""
    return f"{count} {word}{'' if count == 1 else 's'}"


def build_model(settings: TrainSettings) -> DigitModel:
    """A fresh, untrained model for these settings (only the settings that apply are passed on)."""
    settings.validate()
    if settings.engine == "numpy" and settings.arch == "cnn":
        return build_engine("numpy", arch="cnn", learning_rate=settings.learning_rate, seed=settings.seed,
                            schedule=settings.schedule)
    if settings.engine == "numpy":
        return build_engine("numpy", hidden=settings.hidden, learning_rate=settings.learning_rate,
                            activation=settings.activation, momentum=settings.momentum, seed=settings.seed,
                            optimizer=settings.optimizer, schedule=settings.schedule)
    return build_engine("keras", arch=settings.arch, seed=settings.seed)


# ---------------------------------------------------------------------------- recipes


@dataclass(frozen=True)
class Recipe:
    """Settings known to work, with a name and one plain sentence for people who are not programmers."""

    title: str
    says: str
    settings: TrainSettings


def recipes() -> dict[str, Recipe]:
    """The Train page's choices, in order."""
    cnn = TrainSettings(engine="numpy", arch="cnn", epochs=3, batch_size=128,
                        learning_rate=DEFAULT_LEARNING_RATE["cnn"], robust=True)
    return {
        "quick": Recipe("Quick look", "A small network that learns in one pass over the images: good enough to "
                        "read most digits, and done before you know it.",
                        TrainSettings(epochs=1, batch_size=128, hidden=128, learning_rate=0.2, momentum=0.9,
                                      schedule="cosine")),
        "best": Recipe("Best NumPy model", "Our own network, with big steps at first that get smaller and "
                       "smaller towards the end: about 98 of 100 test digits right.", BEST),
        "tutorial": Recipe("The tutorial's own network", "Exactly the tutorial: 200 sigmoid neurons, learning rate "
                           "0.1, one image at a time, 5 passes. Slow, and it shows how far we have come.",
                           TrainSettings(epochs=5, batch_size=1, hidden=200, learning_rate=0.1,
                                         activation="sigmoid", momentum=0.0)),
        "cnn": Recipe("Convolutional, best", "A network that looks at small patches of the image, as eyes do: "
                      "the most accurate here, and the slowest.", cnn),
    }


# The "Best NumPy model" recipe (bench/train_bench.py measures its time to 98%).
# Measured on 60,000 images (1 BLAS thread, seed 0), test accuracy after each epoch, and seconds:
#   512 hidden units, SGD 0.1, momentum 0.9, constant (the old shipped model's rule):
#                                               96.2, 97.3, 97.6%; 98% after ~6 epochs
#   512, SGD 0.2, momentum 0.9, cosine over 3:  96.5, 98.0, 98.2%; 2.2-3.1 s an epoch, 98% after 6.9 s
#   512, Adam 0.001, cosine over 3:             95.7, 96.8, 97.1%
#   256, SGD 0.2, momentum 0.9, cosine over 3:  96.6, 97.8, 97.9%
#   256, SGD 0.2, momentum 0.9, cosine over 4:  96.9, 97.8, 98.1, 98.1%; 1.0-1.4 s an epoch, 98% after 2.9-4.3 s
#   200, SGD 0.2, momentum 0.9, cosine over 4:  96.2, 97.5, 97.8, 98.05%
#   256, Adam 0.002, cosine over 3:             96.2, 97.2, 97.4%
# 256 units took well under half the time of 512 per epoch here (measured, not just half the work), so
# one more epoch costs less than the larger layer did, for the same accuracy.
BEST = TrainSettings(epochs=4, batch_size=128, hidden=256, learning_rate=0.2, momentum=0.9, schedule="cosine")

# One plain sentence per setting, for the page's Custom form and the CLI's --help.
EXPLAINED = {
    "engine": "Which program trains it: our own NumPy code (the tutorial's), or Keras (Google's TensorFlow).",
    "arch": "The shape of the network: one hidden layer (MLP), or layers that look at small patches (CNN).",
    "epochs": "How many times the network sees all 60,000 training images. More takes longer.",
    "batch_size": "How many images it looks at before each small change to its weights. 1 is the tutorial's "
                  "way (slow); 128 is quick.",
    "hidden": "How many neurons sit between the pixels and the answer. More can learn more, but is slower.",
    "learning_rate": "How big each change to the weights is. Too big and it goes wild; too small and it "
                     "learns slowly.",
    "momentum": "How much of the previous change carries on into the next, like a rolling ball. 0 is the "
                "tutorial's plain step.",
    "activation": "How a neuron answers: sigmoid is the tutorial's smooth S-curve; ReLU (with softmax "
                  "at the output) learns faster.",
    "optimizer": "The learning rule: plain steps downhill (the tutorial's), or Adam, which sizes each "
                 "weight's step by itself.",
    "schedule": "Keep the step size, or let it fall to zero by the end, so the last steps fine-tune.",
}


def risky(settings: TrainSettings) -> str | None:
    """Why these settings are known to go wrong, in plain words; None when they look safe.

    The NumPy MLP's steps are about learning_rate / (1 - momentum) in size; with few images per
    batch each step is noisy too. Measured: 0.1 with momentum 0.9 at batch 4 ends at chance (10%)
    after one epoch, while the same at batch 128 reaches 98%.
    """
    if "learning_rate" not in settings.applies or settings.arch != "mlp":
        return None
    if settings.optimizer == "adam":
        if settings.learning_rate > 0.01:
            return (f"Adam with learning rate {settings.learning_rate:g} takes steps that are too big "
                    "(0.001 to 0.003 work well): it is likely to learn nothing")
        return None
    step = settings.learning_rate / (1 - settings.momentum)
    if step >= 0.5 and settings.batch_size < 32 or step >= 3:
        return (f"learning rate {settings.learning_rate:g} with momentum {settings.momentum:g} at batch "
                f"{settings.batch_size} takes steps too big for so few images at a time: runs like this "
                "usually blow up and learn nothing. Try a smaller learning rate, less momentum or a bigger batch")
    return None


# ---------------------------------------------------------------------------- one run

CHANCE = 0.15            # test accuracy at or below this after an epoch: no better than guessing (10%)
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
            self.reason = (f"The run stopped itself: its loss became {progress.loss} in epoch {progress.epoch}, "
                           f"which means the weights blew up. {self._advice()}")
            return True
        in_epoch = progress.samples_seen - (progress.epoch - 1) * self.n_train
        if self.outer_batch is not None and in_epoch >= self.next_point and in_epoch < self.n_train:
            # A curve point inside the epoch (the epoch's end gets the full test set instead).
            self.next_point = (in_epoch // self.every + 1) * self.every
            test_loss, test_accuracy = _score(self.model, *self.sample)
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
            self.reason = (f"The run stopped itself: after {plural(progress.epoch, 'epoch')} it reads only "
                           f"{progress.test_accuracy:.0%} of the test digits right, no better than guessing. "
                           f"{self._advice()}")
            return True
        return outer

    def _advice(self) -> str:
        if "learning_rate" in self.settings.applies:
            return (f"Try a smaller learning rate than {self.settings.learning_rate:g}"
                    + (", less momentum" if "momentum" in self.settings.applies and self.settings.optimizer == "sgd"
                       and self.settings.momentum else "")
                    + " or a bigger batch, or pick one of the recipes.")
        return "Try one of the recipes."


def _score(model: DigitModel, images: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(mean cross-entropy, accuracy) on a few images; the curve points' test figures."""
    proba = model.predict_proba(images)
    picked = proba[np.arange(len(labels)), labels.astype(np.int64)]
    loss = float(-np.log(np.maximum(picked, 1e-12)).mean())
    return loss, float((proba.argmax(axis=1) == labels).mean())


def run_training(settings: TrainSettings, data, on_batch: Callback | None = None,
                 on_epoch: Callback | None = None,
                 lab_drawings: tuple[np.ndarray, np.ndarray] | None = None,
                 timings: "Timings | None" = None, lab_record: dict | None = None) -> TrainResult:
    """Train a new model on `data` = load_mnist()'s ((x_train, y_train), (x_test, y_test)).

    Progress goes to the callbacks (returning True stops); test accuracy is reported per epoch.
    With `on_batch`, some batches' Progress (8 in the first epoch, 4 in later ones) also carries test_loss
    and test_accuracy on the first CURVE_SAMPLE test images: points for the curves within an
    epoch. A run whose loss becomes NaN or infinite, or that is at chance after an epoch, stops
    itself; `stop_reason` says why. The model's info carries the final test accuracy. With
    `settings.lab_drawings`, `lab_drawings` = (images (n, 28, 28) uint8, labels (n,)) are added to
    the training images (after `train_limit` is applied to MNIST's); ValueError when there are
    none; `lab_record` (FeedbackStore.training_set().record) says which, and goes into the model's
    info (ModelInfo.lab_drawings). With `timings`, the run's pace is recorded there for the next estimates.
    """
    settings.validate()
    started = time.perf_counter()
    cold = settings.engine == "keras" and "tensorflow" not in sys.modules
    (x_train, y_train), (x_test, y_test) = data
    if settings.train_limit is not None:
        x_train, y_train = x_train[: settings.train_limit], y_train[: settings.train_limit]
    lab = None
    if settings.lab_drawings:
        if lab_drawings is None or len(lab_drawings[0]) == 0:
            raise ValueError("there are no lab drawings to train on yet: label some drawings on the Draw page first")
        lab = lab_drawings
        x_train, y_train = np.concatenate([x_train, lab[0]]), np.concatenate([y_train, lab[1]])
    model = build_model(settings)
    watch = _Watch(model, settings, len(x_train), (x_test, y_test), on_batch, on_epoch)
    augment = make_augment(ROBUST) if settings.robust else None
    model.fit(x_train, y_train, epochs=int(settings.epochs), batch_size=int(settings.batch_size),
              on_batch=watch.on_batch, on_epoch=watch.on_epoch, validation=(x_test, y_test), augment=augment)
    history = watch.history
    if timings is not None and watch.first_batch_at is not None:
        samples = (history[-1].samples_seen if history else 0) - watch.first_batch_samples
        timings.record(settings, samples, time.perf_counter() - watch.first_batch_at,
                       watch.first_batch_at - started, cold,
                       modelled=_modelled_epoch(settings, len(x_train)) / len(x_train))
    stopped = len(history) < settings.epochs
    lab_count = len(lab[0]) if lab is not None else 0
    if not history:
        return TrainResult(model, None, True, history, lab_count, stop_reason=watch.reason, points=watch.points)
    ev = evaluate(model, x_test, y_test)
    model.info = replace(model.info, test_accuracy=round(ev.accuracy, 6),
                         lab_drawings=lab_record if lab is not None else None,
                         augment=asdict(ROBUST) if settings.robust else None)
    lab_ev = evaluate(model, *lab) if lab is not None else None
    return TrainResult(model, ev, stopped, history, lab_count, lab_ev, watch.reason, watch.points)


# ---------------------------------------------------------------------------- how long a run takes
# Costs on the lab server (2 cores, no GPU), used until this server has timed runs of its own
# (`Timings`); timed with the NumPy network at batch 1 and 128 and with 2-3 Keras epochs on 12,000
# images. The NumPy network's time per epoch of n images is about
#   n * hidden * PER_SAMPLE_UNIT                        (the matrix products)
#   + n / batch * (PER_STEP + hidden * PER_STEP_UNIT)   (one weight update per mini-batch)
# which gives ~1 s for 784-512-10 at batch 128 and ~14 s at batch 1 on 60,000 images, on a quiet
# server; a server with visitors, and the slot's one BLAS thread, make it 2-3 times slower, which
# is why the measured timings win as soon as there are any.
NUMPY_PER_SAMPLE_UNIT = 2.9e-8
NUMPY_PER_STEP = 55e-6
NUMPY_PER_STEP_UNIT = 3.4e-7
NUMPY_SIGMOID_FACTOR = 1.3           # expit costs more than max(x, 0)
NUMPY_ADAM_FACTOR = 1.3              # Adam's update touches every weight a few more times
NUMPY_CNN_PER_SAMPLE = 1.5e-3        # a guess until timed: the first run here records the truth
KERAS_PER_SAMPLE = {"mlp": 3.0e-5, "cnn": 4.2e-4}   # ~2.5 s and ~26 s per 60,000-image epoch
KERAS_PER_STEP = 1.5e-3
KERAS_START = 12.0                   # importing TensorFlow (~11 s measured) and building the model
KERAS_WARM_START = 1.5               # building the model once TensorFlow is loaded
TEST_IMAGES = 10_000                 # evaluated after every epoch
ROBUST_PER_SAMPLE = 5e-6             # distorting 30% of each batch (bench/handwriting.py measures it)


def estimate_seconds(settings: TrainSettings, train_samples: int = 60_000, timings: "Timings | None" = None) -> float:
    """Expected wall-clock seconds for a run with these settings on this server.

    From `timings` (runs measured on this server) where it knows this shape of run, else from the
    costs above. Keras' start (loading TensorFlow) is counted only while TensorFlow is not loaded.
    """
    return sum(estimate_phases(settings, train_samples, timings))


def estimate_phases(settings: TrainSettings, train_samples: int = 60_000,
                    timings: "Timings | None" = None) -> tuple[float, float]:
    """(seconds before the first batch, seconds of training), as estimate_seconds."""
    settings.validate()
    n = min(train_samples, settings.train_limit or train_samples)
    warm = "tensorflow" in sys.modules
    start = 0.0
    if settings.engine == "keras":
        start = KERAS_WARM_START if warm else KERAS_START
    measured = timings.lookup(settings, cold=not warm) if timings is not None else None
    if measured is not None:
        per_sample, measured_start = measured
        if settings.engine == "keras" and measured_start is not None:
            start = measured_start
        return start, settings.epochs * n * per_sample
    # Never timed in this shape: the model's figure, times how much slower than the model this
    # server has been for the same engine and architecture (the costs above are a quiet server's).
    slower = timings.slowdown(settings) if timings is not None else 1.0
    return start, settings.epochs * _modelled_epoch(settings, n) * slower


def _modelled_epoch(settings: TrainSettings, n: int) -> float:
    return _plain_epoch(settings, n) + (n * ROBUST_PER_SAMPLE if settings.robust else 0.0)


def _plain_epoch(settings: TrainSettings, n: int) -> float:
    steps = -(-n // int(settings.batch_size))  # mini-batches per epoch, rounded up
    if settings.engine == "numpy" and settings.arch == "cnn":
        return (n + TEST_IMAGES / 3) * NUMPY_CNN_PER_SAMPLE
    if settings.engine == "numpy":
        hidden = int(settings.hidden)
        epoch = n * hidden * NUMPY_PER_SAMPLE_UNIT + steps * (NUMPY_PER_STEP + hidden * NUMPY_PER_STEP_UNIT)
        epoch += TEST_IMAGES * hidden * NUMPY_PER_SAMPLE_UNIT / 3  # forward pass only
        if settings.activation == "sigmoid":
            epoch *= NUMPY_SIGMOID_FACTOR
        if settings.optimizer == "adam":
            epoch *= NUMPY_ADAM_FACTOR
        return epoch
    per_sample = KERAS_PER_SAMPLE[settings.arch]
    return n * per_sample + steps * KERAS_PER_STEP + TEST_IMAGES * per_sample / 3


def shape_key(settings: TrainSettings) -> str:
    """Runs that cost the same per image share a key: engine, architecture, width, batch bucket.

    Batch sizes are bucketed by powers of 2 (3-4, 5-8, ..., 65-128, ...): the cost per image
    changes with the number of weight updates, which halves as the batch doubles.
    """
    bucket = 1 << max(0, int(settings.batch_size) - 1).bit_length()
    robust = "/robust" if settings.robust else ""  # distorting the batches costs time of its own
    if settings.engine == "numpy" and settings.arch == "mlp":
        hidden = 1 << max(0, int(settings.hidden) - 1).bit_length()
        rule = f"{settings.activation}-{settings.optimizer}"
        return f"numpy/mlp/{rule}/h{hidden}/b{bucket}{robust}"
    return f"{settings.engine}/{settings.arch}/b{bucket}{robust}"


MAX_SHAPES = 200  # shapes of run the timings file remembers (a few kB)
MIN_TIMED_SAMPLES = 5_000           # shorter runs are not timed (MNISTLAB_TRAIN_LIMIT runs, tests)
MIN_SLOWDOWN, MAX_SLOWDOWN = 0.25, 8.0  # how far this server may be from the cost model above


class Timings:
    """Seconds per training image measured on this server, by shape of run; a small JSON file.

    After each run, `record` folds its pace into the file (a running mean that weighs the newest
    run most), and how long Keras took before its first batch, cold (loading TensorFlow) or warm.
    The file is rewritten atomically and holds at most `max_shapes` shapes (the least recently run
    are dropped), so visitors cannot grow it. A missing or damaged file is an empty record.
    """

    NEWEST_WEIGHT = 0.5   # how much the newest run counts against the ones before

    def __init__(self, path: str | Path, max_shapes: int = MAX_SHAPES, min_samples: int = MIN_TIMED_SAMPLES):
        self.path = Path(path)
        self.max_shapes = int(max_shapes)
        self.min_samples = int(min_samples)
        self._lock = threading.Lock()

    def read(self) -> dict:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {"shapes": {}, "starts": {}}
        if not isinstance(data, dict) or not isinstance(data.get("shapes"), dict) \
                or not isinstance(data.get("starts"), dict):
            return {"shapes": {}, "starts": {}}
        return data

    def lookup(self, settings: TrainSettings, cold: bool = False) -> tuple[float, float | None] | None:
        """(seconds per training image, seconds before the first batch or None), or None if never timed."""
        data = self.read()
        entry = data["shapes"].get(shape_key(settings))
        if not isinstance(entry, dict) or not _positive(entry.get("per_sample")):
            return None
        start = data["starts"].get(f"{settings.engine}-{'cold' if cold else 'warm'}")
        return float(entry["per_sample"]), float(start) if _positive(start) else None

    def slowdown(self, settings: TrainSettings) -> float:
        """Measured over modelled time, for runs of this engine and architecture (1.0 if none yet)."""
        factor = self.read().get("slowdown", {}).get(f"{settings.engine}/{settings.arch}")
        return float(factor) if _positive(factor) else 1.0

    def record(self, settings: TrainSettings, samples: int, seconds: float, start_seconds: float,
               cold: bool, modelled: float | None = None) -> None:
        """Fold one run's pace in: `samples` images trained in `seconds` after its first batch.

        `modelled`: the seconds per image the cost model gave, for the slowdown of shapes never run."""
        if samples < self.min_samples or not seconds > 0:
            return  # a run this short is mostly its fixed costs (tests, evaluation): not a pace
        with self._lock:
            data = self.read()
            key = shape_key(settings)
            old = data["shapes"].pop(key, None)  # popped and put back: the file keeps the newest last
            pace = seconds / samples
            if isinstance(old, dict) and _positive(old.get("per_sample")):
                pace = self.NEWEST_WEIGHT * pace + (1 - self.NEWEST_WEIGHT) * float(old["per_sample"])
            data["shapes"][key] = {"per_sample": pace, "runs": int(old.get("runs", 0)) + 1 if isinstance(old, dict) else 1}
            while len(data["shapes"]) > self.max_shapes:
                data["shapes"].pop(next(iter(data["shapes"])))
            data["starts"][f"{settings.engine}-{'cold' if cold else 'warm'}"] = round(start_seconds, 3)
            if modelled is not None and modelled > 0:
                slowdown = data.get("slowdown") if isinstance(data.get("slowdown"), dict) else {}
                kind = f"{settings.engine}/{settings.arch}"
                # Clamped: one odd run (a machine busy with something else) must not make every
                # estimate for shapes never run absurd.
                ratio = min(max((seconds / samples) / modelled, MIN_SLOWDOWN), MAX_SLOWDOWN)
                if _positive(slowdown.get(kind)):
                    ratio = self.NEWEST_WEIGHT * ratio + (1 - self.NEWEST_WEIGHT) * float(slowdown[kind])
                slowdown[kind] = ratio
                data["slowdown"] = slowdown  # one entry per engine and architecture: bounded
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                atomic_write_bytes(self.path, json.dumps(data, indent=1).encode("utf-8"))
            except OSError:
                pass  # a read-only state folder costs better estimates, not the run


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < math.inf


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
    """Why this server cannot train with these settings' engine, in plain words; None if it can."""
    problem = keras_problem() if settings.engine == "keras" else None
    if problem:
        return f"Keras training is not available on this server: {problem}. Choose the NumPy engine."
    return None
