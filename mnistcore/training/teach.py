"""Teach a model one drawing: a few learning steps on it, mixed with a little MNIST, on a copy.

What Draw's "Teach it" does when a model reads a visitor's drawing wrong: the copy takes the
tutorial's step, weights += learning rate × error × input, on a batch holding the drawing a few
times and some MNIST training digits (so it does not forget the rest), until it reads the drawing
as the digit taught, for at most `steps` steps or `seconds`. The model given is never changed.
"""
from __future__ import annotations

import copy
import time
from dataclasses import replace

import numpy as np

from ..i18n import N_
from ..nets.base import DigitModel

RULE = N_("weights += learning rate × error × input")  # translated where it is shown
COPIES = 8          # the drawing, this many times in each batch
MIXED = 8           # MNIST training digits beside it in each batch
STEPS = 8           # at most this many steps
SECONDS = 0.15      # and no longer than this (a step of the shipped convnet takes about 20 ms)
BOOST = 3.0         # the copy learns at this many times its own learning rate: one drawing, few steps


def teachable(model: DigitModel) -> bool:
    """Can `model` be copied and taught here? (A model that cannot be deep-copied, e.g. Keras', cannot.)"""
    try:
        copy.deepcopy(model)
    except (TypeError, ValueError, AttributeError, NotImplementedError):
        return False
    return True


def teach(model: DigitModel, image: np.ndarray, digit: int, images: np.ndarray, labels: np.ndarray, *,
          steps: int = STEPS, seconds: float | None = SECONDS, seed: int = 0) -> tuple[DigitModel, int]:
    """A copy of `model` taught that `image` (28, 28) in [0, 1] is `digit`; returns (copy, steps taken).

    `images`, `labels`: MNIST training digits (uint8 or [0, 1], as `fit` takes them) to mix in.
    Stops as soon as the copy reads `image` as `digit`, after `steps` steps, or after `seconds`
    (None: no time limit). ValueError for a digit outside 0 to 9 or an image of another shape.
    """
    if isinstance(digit, bool) or not isinstance(digit, (int, np.integer)) or not 0 <= digit <= 9:
        raise ValueError(f"digit must be a whole number from 0 to 9, got {digit!r}")
    image = np.asarray(image, dtype=np.float32)
    if image.shape != (28, 28):
        raise ValueError(f"image must be (28, 28), got shape {image.shape}")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a whole number >= 1, got {steps!r}")
    taught = copy.deepcopy(model)
    config = getattr(taught, "config", None)
    if config is not None and hasattr(config, "learning_rate"):
        taught.config = replace(config, learning_rate=min(1.0, config.learning_rate * BOOST))
    mnist = np.asarray(images, dtype=np.float32)
    if mnist.max(initial=0) > 1:
        mnist = mnist / 255.0  # the drawing is in [0, 1]: the batch must be one scale
    rng = np.random.default_rng(seed)
    started, taken = time.perf_counter(), 0
    while taken < steps:
        taken += 1
        pick = rng.choice(len(mnist), MIXED, replace=False)
        x = np.concatenate([np.repeat(image[None], COPIES, axis=0), mnist[pick].reshape(-1, 28, 28)])
        y = np.concatenate([np.full(COPIES, digit), np.asarray(labels)[pick]]).astype(np.int64)
        taught.fit(x, y, epochs=1, batch_size=len(x))
        if int(np.argmax(taught.predict_proba(image[None])[0])) == digit:
            break
        if seconds is not None and time.perf_counter() - started > seconds:
            break
    if config is not None and hasattr(config, "learning_rate"):
        taught.config = config  # the copy keeps its own settings: the boost was for these steps only
    return taught, taken
