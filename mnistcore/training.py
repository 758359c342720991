"""Training orchestration shared by the CLI and the Train page: settings, limits, one run.

`TrainSettings` is what a person chooses; `LIMITS` keep a run within a few minutes on the lab
server; `run_training` builds the model, trains it with progress callbacks, and evaluates it.
With `lab_drawings`, the drawings visitors labelled on the Draw page (`mnistcore.feedback`) join
the MNIST training images, and the result reports the new model's accuracy on them separately.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .feedback import Collected, FeedbackStore
from .models import Callback, DigitModel, Evaluation, evaluate

ENGINES = ("numpy", "keras")
KERAS_ARCHS = ("mlp", "cnn")

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
    lab_drawings: bool = False     # also train on the lab's labelled drawings (mnistcore.feedback)

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
    if settings.engine == "numpy":
        from .numpy_net import NeuralNetWork
        return NeuralNetWork(784, int(settings.hidden), 10, float(settings.learning_rate),
                             activation=settings.activation, momentum=float(settings.momentum),
                             seed=settings.seed)
    from .keras_net import KerasModel  # TensorFlow is imported only here, when Keras is chosen
    return KerasModel(arch=settings.arch, seed=settings.seed)


@dataclass
class TrainResult:
    model: DigitModel
    evaluation: Evaluation | None      # on the test set; None when stopped before one epoch
    stopped: bool                      # True when a callback stopped the run early
    history: list = field(default_factory=list)  # Progress per completed epoch
    lab_count: int = 0                 # lab drawings added to the training images
    lab_evaluation: Evaluation | None = None  # on those drawings (seen in training: not a test)


def run_training(settings: TrainSettings, data, on_batch: Callback | None = None,
                 on_epoch: Callback | None = None, feedback: FeedbackStore | None = None) -> TrainResult:
    """Train a new model on `data` = load_mnist()'s ((x_train, y_train), (x_test, y_test)).

    Progress goes to the callbacks (returning True stops); test accuracy is reported per epoch.
    The model's info carries the final test accuracy. With `settings.lab_drawings`, the drawings
    in `feedback` (default: the lab's database, `feedback.default_db_path()`) are added to the
    training images (after `train_limit` is applied to MNIST's); ValueError when there are none.
    """
    settings.validate()
    (x_train, y_train), (x_test, y_test) = data
    if settings.train_limit is not None:
        x_train, y_train = x_train[: settings.train_limit], y_train[: settings.train_limit]
    lab = None
    if settings.lab_drawings:
        lab = lab_drawings(feedback)
        x_train, y_train = np.concatenate([x_train, lab.images]), np.concatenate([y_train, lab.labels])
    model = build_model(settings)
    history = []

    def epoch_done(progress):
        history.append(progress)
        return on_epoch(progress) if on_epoch is not None else None

    model.fit(x_train, y_train, epochs=int(settings.epochs), batch_size=int(settings.batch_size),
              on_batch=on_batch, on_epoch=epoch_done, validation=(x_test, y_test))
    stopped = len(history) < settings.epochs
    lab_count = len(lab) if lab is not None else 0
    if not history:
        return TrainResult(model, None, True, history, lab_count)
    ev = evaluate(model, x_test, y_test)
    model.info = replace(model.info, test_accuracy=round(ev.accuracy, 6))
    lab_ev = evaluate(model, lab.images, lab.labels) if lab is not None else None
    return TrainResult(model, ev, stopped, history, lab_count, lab_ev)


def lab_drawings(feedback: FeedbackStore | None = None) -> Collected:
    """The lab's labelled drawings to train on; ValueError (or FileNotFoundError) when there are none."""
    store = feedback if feedback is not None else FeedbackStore(create=False)
    collected = store.all()
    if len(collected) == 0:
        raise ValueError(f"there are no lab drawings to train on yet: {store.path} is empty. "
                         "Label some drawings on the Draw page first.")
    return collected
