"""Training orchestration shared by the CLI and the Train page: settings, limits, one run.

`TrainSettings` is what a person chooses; `LIMITS` keep a run within a few minutes on the lab
server; `estimate_seconds` says how long a run should take there; `run_training` builds the model,
trains it with progress callbacks, and evaluates it. With `lab_drawings`, extra labelled images
(the drawings visitors labelled on the Draw page, which the caller reads from the lab's store) join
the MNIST training images, and the result reports the new model's accuracy on them separately.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .evaluation import Evaluation, evaluate
from .nets import ENGINES, KERAS_ARCHS, build_model as build_engine, keras_problem
from .nets.base import Callback, DigitModel

# Inclusive bounds for the numbers a person may choose: (low, high).
LIMITS: dict[str, tuple[float, float]] = {
    "epochs": (1, 30),
    "batch_size": (1, 1024),
    "hidden": (16, 1024),
    "learning_rate": (0.0001, 1.0),
    "momentum": (0.0, 0.99),
}


@dataclass(frozen=True)
class TrainSettings:
    """One training run. Fields marked numpy/keras apply to that engine only."""

    engine: str = "numpy"          # "numpy" (our network) or "keras"
    epochs: int = 10
    batch_size: int = 128
    hidden: int = 512              # numpy: hidden units
    learning_rate: float = 0.1     # numpy: step size
    activation: str = "relu"       # numpy: "relu" (softmax output) or "sigmoid" (the tutorial's)
    momentum: float = 0.9          # numpy: 0 = the tutorial's plain step
    arch: str = "mlp"              # keras: "mlp" (the tutorial's network) or "cnn"
    seed: int | None = 0           # weights and shuffling; None = fresh randomness
    train_limit: int | None = None # train on the first N images only (quick runs and tests)
    lab_drawings: bool = False     # also train on the lab's labelled drawings (given to run_training)

    def validate(self) -> "TrainSettings":
        """Return self, or raise ValueError naming the bad value and the allowed range."""
        if self.engine not in ENGINES:
            raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {self.engine!r}")
        if self.engine == "keras" and self.arch not in KERAS_ARCHS:
            raise ValueError(f"arch must be one of {', '.join(KERAS_ARCHS)}; got {self.arch!r}")
        if self.engine == "numpy" and self.activation not in ("relu", "sigmoid"):
            raise ValueError(f"activation must be relu or sigmoid; got {self.activation!r}")
        for name, (low, high) in LIMITS.items():
            value = getattr(self, name)
            whole = name in ("epochs", "batch_size", "hidden")
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
                    or (whole and int(value) != value) or not (low <= value <= high):
                kind = "a whole number" if whole else "a number"
                raise ValueError(f"{name.replace('_', ' ')} must be {kind} from {low:g} to {high:g}; got {value!r}")
        if self.train_limit is not None and not (1 <= self.train_limit):
            raise ValueError(f"train limit must be at least 1; got {self.train_limit!r}")
        if not isinstance(self.lab_drawings, bool):
            raise ValueError(f"lab drawings must be True or False; got {self.lab_drawings!r}")
        return self

    def describe(self) -> str:
        lab = ", with the lab's drawings" if self.lab_drawings else ""
        if self.engine == "numpy":
            return (f"NumPy {self.activation} network, {self.hidden} hidden units, learning rate "
                    f"{self.learning_rate:g}, momentum {self.momentum:g}, {self.epochs} epochs at batch "
                    f"{self.batch_size}{lab}")
        return f"Keras {self.arch.upper()}, {self.epochs} epochs at batch {self.batch_size}{lab}"


def build_model(settings: TrainSettings) -> DigitModel:
    """A fresh, untrained model for these settings."""
    settings.validate()
    return build_engine(settings.engine, arch=settings.arch, hidden=settings.hidden,
                        learning_rate=settings.learning_rate, activation=settings.activation,
                        momentum=settings.momentum, seed=settings.seed)


@dataclass
class TrainResult:
    model: DigitModel
    evaluation: Evaluation | None      # on the test set; None when stopped before one epoch
    stopped: bool                      # True when a callback stopped the run early
    history: list = field(default_factory=list)  # Progress per completed epoch
    lab_count: int = 0                 # lab drawings added to the training images
    lab_evaluation: Evaluation | None = None  # on those drawings (seen in training: not a test)


def run_training(settings: TrainSettings, data, on_batch: Callback | None = None,
                 on_epoch: Callback | None = None,
                 lab_drawings: tuple[np.ndarray, np.ndarray] | None = None) -> TrainResult:
    """Train a new model on `data` = load_mnist()'s ((x_train, y_train), (x_test, y_test)).

    Progress goes to the callbacks (returning True stops); test accuracy is reported per epoch.
    The model's info carries the final test accuracy. With `settings.lab_drawings`,
    `lab_drawings` = (images (n, 28, 28) uint8, labels (n,)) are added to the training images
    (after `train_limit` is applied to MNIST's); ValueError when there are none.
    """
    settings.validate()
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
    history = []

    def epoch_done(progress):
        history.append(progress)
        return on_epoch(progress) if on_epoch is not None else None

    model.fit(x_train, y_train, epochs=int(settings.epochs), batch_size=int(settings.batch_size),
              on_batch=on_batch, on_epoch=epoch_done, validation=(x_test, y_test))
    stopped = len(history) < settings.epochs
    lab_count = len(lab[0]) if lab is not None else 0
    if not history:
        return TrainResult(model, None, True, history, lab_count)
    ev = evaluate(model, x_test, y_test)
    model.info = replace(model.info, test_accuracy=round(ev.accuracy, 6))
    lab_ev = evaluate(model, *lab) if lab is not None else None
    return TrainResult(model, ev, stopped, history, lab_count, lab_ev)


# ---------------------------------------------------------------------------- how long a run takes
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
    """Why this server cannot train with these settings' engine, in plain words; None if it can."""
    problem = keras_problem() if settings.engine == "keras" else None
    if problem:
        return f"Keras training is not available on this server: {problem}. Choose the NumPy engine."
    return None
