"""The model interface both engines share, and the metadata saved with every model.

Every model (NumPy `NeuralNetWork`, Keras `KerasModel`) has:
- `info`: a `ModelInfo` (what it is, how it was trained, how well it does);
- `predict_proba(images) -> (n, 10)` float32, rows summing to 1, columns in digit order;
- `predict(images) -> (n,)` digits as int64;
- `fit(images, labels, epochs=, batch_size=, on_batch=, on_epoch=, validation=, augment=)`
  reporting `Progress`; a callback that returns True stops training (as in scipy.optimize);
  `augment` distorts each mini-batch as it is drawn (never the stored images);
- `save(path)`, written atomically; `mnistcore.nets.load_model(path)` reads any saved model back.
`predict` and `score` are given here once, from `predict_proba`.
Images may be uint8 0-255 or float 0-1, shaped (n, 28, 28) or (n, 784), or one (28, 28) image.
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import math
import os
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from collections.abc import Callable

import numpy as np
from threadpoolctl import ThreadpoolController

from ..i18n import gettext as _
from ..i18n import ngettext, percent


class ModelFileError(ValueError):
    """A model file is missing, empty, damaged or not one of ours; the message names it."""


@dataclass(frozen=True)
class ModelInfo:
    """What a model is and how it was made; saved inside the model file as JSON."""

    engine: str                    # "numpy" or "keras"
    architecture: str              # e.g. "784-512-10 relu/softmax" or "cnn"
    settings: dict = field(default_factory=dict)  # the engine's own config (hidden, learning_rate, ...)
    epochs: int = 0                # complete epochs trained
    batch_size: int = 0
    train_samples: int = 0         # training images per epoch
    test_accuracy: float | None = None  # on the 10,000 MNIST test images
    train_seconds: float = 0.0
    trained_at: str = ""           # ISO 8601, UTC
    # Distortions applied while training (mnistcore.augment's settings), None for plain MNIST.
    augment: dict | None = None
    # The lab's drawings trained on: {"count", "up_to_id", "newest"} (FeedbackStore.training_set),
    # so the Lab handwriting page measures the model only on drawings it has not seen.
    lab_drawings: dict | None = None
    # The temperature that calibrates its probabilities on canvas drawings (Draw's certainty words;
    # fitted by bench/draw_bench.py --fit-temperature on a twin that never saw the drawn images);
    # None: mnistcore.explain.answer.TEMPERATURE, fitted for the first shipped model's recipe.
    temperature: float | None = None
    # Its companion that knows what is not a digit, with its own temperature and certainty words
    # (mnistcore.openset.OpenSet.as_dict), fitted when it was trained; None for older models.
    open_set: dict | None = None

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str, where: str | Path) -> ModelInfo:
        try:
            data = json.loads(text)
            return cls(**data)
        except (TypeError, ValueError) as err:
            raise ModelFileError(f"{where}: model metadata is unreadable ({err})") from None

    def summary(self) -> str:
        """One line for people, in the current language: engine, architecture, training, accuracy, date."""
        accuracy = _("untested") if self.test_accuracy is None else \
            _("{accuracy} test accuracy").format(accuracy=percent(self.test_accuracy, 2))
        when = _("trained {when} UTC").format(when=self.trained_at[:16].replace("T", " ")) if self.trained_at \
            else _("never trained")
        epochs = ngettext("{epochs} epoch at batch {batch}", "{epochs} epochs at batch {batch}",
                          self.epochs).format(epochs=self.epochs, batch=self.batch_size)
        return _("{engine} {architecture}, {epochs}, {accuracy}, {when}").format(
            engine=self.engine, architecture=self.architecture, epochs=epochs, accuracy=accuracy, when=when)

    def trained(self, epochs: int, batch_size: int, train_samples: int, seconds: float) -> ModelInfo:
        """A copy stamped with a finished training run (test accuracy is set after evaluation)."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        return replace(self, epochs=epochs, batch_size=batch_size, train_samples=train_samples,
                       train_seconds=round(seconds, 2), trained_at=now, test_accuracy=None)


@dataclass(frozen=True)
class Progress:
    """What a training callback receives, after each batch and after each epoch: a point of the
    learning curve, as the run, the training slot and the Train page's chart all carry it."""

    epoch: int                 # 1-based epoch in progress (or just finished)
    epochs: int                # epochs asked for
    samples_seen: int          # training samples processed so far in this run
    total_samples: int         # epochs x training samples
    loss: float                # mean training loss over this epoch so far
    accuracy: float            # training accuracy over this epoch so far
    seconds: float             # since training started
    test_loss: float | None = None      # set at the end of an epoch when validation data is given
    test_accuracy: float | None = None

    @property
    def fraction(self) -> float:
        return self.samples_seen / self.total_samples if self.total_samples else 0.0

    @property
    def epochs_done(self) -> float:
        """How far the run has come, in epochs (0.25: a quarter of the first); whole at an epoch's end."""
        return self.samples_seen * self.epochs / self.total_samples if self.total_samples else 0.0


Callback = Callable[[Progress], "bool | None"]
# A training-time distortion: (B, 784) float32 images in [0, 1] and the model's random generator
# in, the same shape and range out (see mnistcore.augment). Applied to each mini-batch as drawn.
Augment = Callable[[np.ndarray, np.random.Generator], np.ndarray]


class DigitModel:
    """What every model is: subclasses give `predict_proba`, `fit`, `save` and an `info`."""

    info: ModelInfo

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """(n, 10) float32 probabilities, rows summing to 1, columns in digit order."""
        raise NotImplementedError

    def predict(self, images: np.ndarray) -> np.ndarray:
        """(n,) predicted digits."""
        return self.predict_proba(images).argmax(axis=1)

    def score(self, images: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
        """(mean loss, accuracy) on labelled images; loss is cross-entropy of predict_proba."""
        return loss_and_accuracy(self.predict_proba(images), labels)

    def fit(self, images: np.ndarray, labels: np.ndarray, epochs: int = 1, batch_size: int = 128,
            on_batch: Callback | None = None, on_epoch: Callback | None = None,
            validation: tuple[np.ndarray, np.ndarray] | None = None,
            augment: Augment | None = None) -> DigitModel:
        raise NotImplementedError

    def save(self, path: str | os.PathLike) -> Path:
        raise NotImplementedError


def as_batch(images: np.ndarray) -> np.ndarray:
    """Images as a C-contiguous float32 (n, 784) array in [0, 1].

    Accepts uint8 0-255 or float 0-1, shaped (n, 28, 28), (n, 784), (28, 28) or (784,).
    """
    x = np.asarray(images)
    if x.shape in ((28, 28), (784,)):
        x = x.reshape(1, 784)
    if x.ndim == 3 and x.shape[1:] == (28, 28):
        x = x.reshape(len(x), 784)
    if x.ndim != 2 or x.shape[1] != 784:
        raise ValueError(f"images must be shaped (n, 28, 28) or (n, 784), got {x.shape}")
    if x.dtype == np.uint8:
        return np.multiply(x, np.float32(1 / 255), dtype=np.float32)
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"images must be uint8 0-255 or float 0-1, got dtype {x.dtype}")
    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.size and not np.isfinite(x).all():
        raise ValueError("images contain NaN or infinite values")
    if x.size and (x.min() < 0.0 or x.max() > 1.0):
        raise ValueError(f"float images must be in [0, 1], got {x.min():g} to {x.max():g}; "
                         "pass uint8 images or divide by 255")
    return x


def check_labels(labels: np.ndarray, n: int) -> np.ndarray:
    """Digit labels as int64 (n,), or ValueError naming what is wrong."""
    y = np.asarray(labels)
    if y.shape != (n,):
        raise ValueError(f"labels must be shaped ({n},) to match the images, got {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels must be integer digits 0-9, got dtype {y.dtype}")
    if n and (y.min() < 0 or y.max() > 9):
        raise ValueError(f"labels must be digits 0-9, got values {y.min()} to {y.max()}")
    return y.astype(np.int64)


def loss_and_accuracy(proba: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """Mean cross-entropy and accuracy of probabilities (n, 10) against digit labels (n,)."""
    y = check_labels(labels, len(proba))
    picked = proba[np.arange(len(y)), y]
    loss = float(-np.mean(np.log(np.maximum(picked, 1e-30))))
    return loss, float(np.mean(proba.argmax(axis=1) == y))


def fit_data(images: np.ndarray, labels: np.ndarray, epochs: int, batch_size: int,
             keep_uint8: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """What every engine's `fit` checks first: (images as_batch'd (n, 784), labels int64 (n,)).

    With `keep_uint8`, uint8 images stay uint8 (n, 784), for run_epochs to make each batch float
    as it draws it: a float32 copy of all 60,000 images would cost 188 MB, and touching that much
    fresh memory takes longer than making every batch.
    ValueError for a bad epochs or batch_size, mismatched labels, or no images at all.
    """
    if not isinstance(epochs, (int, np.integer)) or epochs < 1:
        raise ValueError(f"epochs must be a whole number >= 1, got {epochs!r}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number >= 1, got {batch_size!r}")
    x = np.asarray(images)
    if keep_uint8 and x.dtype == np.uint8 and x.ndim in (2, 3) and x.shape[1:] in ((28, 28), (784,)):
        x = x.reshape(len(x), 784)
    else:
        x = as_batch(images)
    y = check_labels(labels, len(x))
    if len(x) == 0:
        raise ValueError("fit needs at least one training image, got 0")
    return x, y

def augmented(augment: Augment, batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """augment(batch, rng), checked: float32 of the batch's shape, finite, in [0, 1].

    A bug in a distortion must stop the run with its name, not train on garbage.
    """
    out = augment(batch, rng)
    if not isinstance(out, np.ndarray) or out.shape != batch.shape or out.dtype != np.float32:
        raise ValueError(f"augment must return float32 {batch.shape}, got "
                         f"{getattr(out, 'dtype', type(out).__name__)} {getattr(out, 'shape', '')}")
    if out.size and not (np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0):
        raise ValueError("augment must return finite pixels in [0, 1]")
    return out


@functools.cache
def blas_controller() -> ThreadpoolController:
    """threadpoolctl's view of the loaded BLAS libraries, found once (a few ms), for the NumPy
    engines to limit BLAS's threads while they train."""
    return ThreadpoolController()


def blas_threads() -> int:
    """How many threads NumPy's BLAS may use right now (threadpoolctl limits included)."""
    return min((info["num_threads"] for info in blas_controller().select(user_api="blas").info()), default=1)


def cosine_factor(done: float) -> float:
    """A cosine schedule's factor on the step size: 1 at the start of a run (`done` = 0), 0 at its end."""
    return 0.5 * (1.0 + math.cos(math.pi * done))


def run_epochs(model, x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int,
               train_batch: Callable[[np.ndarray, np.ndarray, float], tuple[float, np.ndarray]],
               on_batch: Callback | None, on_epoch: Callback | None,
               validation: tuple[np.ndarray, np.ndarray] | None, started: float) -> int:
    """The mini-batch loop the NumPy engines' `fit` share; returns the number of complete epochs.

    One shuffle per epoch (from `model._rng`); `train_batch(xb, yb, done)` trains on one batch,
    `done` being the fraction of the run's images already seen (for a schedule), and returns
    (summed loss, predicted digits). Progress goes to the callbacks as `fit` documents; a stop in
    the middle of an epoch puts back the last complete epoch (`model._snapshot`, `_restore`).
    """
    n = len(x)
    saved = model._snapshot()
    completed = 0
    batch_x = np.empty((min(batch_size, n), x.shape[1]), np.float32)  # reused by every batch
    pixels = x.dtype == np.uint8  # fit_data(keep_uint8=True): made float batch by batch
    for epoch in range(1, epochs + 1):
        order = model._rng.permutation(n)
        loss_sum, correct, seen = 0.0, 0, 0
        stop = False
        for begin in range(0, n, batch_size):
            idx = order[begin : begin + batch_size]
            if pixels:
                xb = np.multiply(x[idx], np.float32(1 / 255), out=batch_x[: len(idx)])
            else:
                xb = np.take(x, idx, axis=0, out=batch_x[: len(idx)])  # gather, no new array
            yb = y[idx]
            loss, predicted = train_batch(xb, yb, ((epoch - 1) * n + begin) / (epochs * n))
            loss_sum += loss
            correct += int(np.count_nonzero(predicted == yb))
            seen += len(idx)
            if on_batch is not None:
                progress = Progress(epoch, epochs, (epoch - 1) * n + seen, epochs * n,
                                    loss_sum / seen, correct / seen, time.perf_counter() - started)
                if on_batch(progress):
                    stop = True
                    break
        if stop:
            model._restore(saved)
            break
        completed = epoch
        progress = Progress(epoch, epochs, epoch * n, epochs * n, loss_sum / n, correct / n,
                            time.perf_counter() - started)
        if validation is not None:
            test_loss, test_acc = model.score(*validation)
            progress = replace(progress, test_loss=test_loss, test_accuracy=test_acc)
        model.history_.append(progress)
        saved = model._snapshot()
        if on_epoch is not None and on_epoch(progress):
            break
    return completed
