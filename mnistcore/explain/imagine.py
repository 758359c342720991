"""What a model "imagines" for each digit, shown two ways that work for every model we have.

- `surest_digits`: the average of the real images the model is surest show each digit. Needs only
  `predict_proba`, so it works for every engine and architecture, trained well or badly.
- `imagine`: an image made from scratch, pixel by pixel, to raise the model's probability of a
  digit (activation maximisation, Erhan et al. 2009), with a smoothness prior: after each small
  gradient step the image is blurred a little, faded a little and kept within [0, 1], and the
  model sees it shifted by up to two pixels, a new shift each step, so only smooth strokes the
  model really needs survive (without the prior the result is noise the model still reads as the digit). Needs the
  gradient of log p(digit) with respect to the pixels (`input_gradient`): worked out from the
  weights for the NumPy MLP, by the NumPy CNN itself, by TensorFlow for Keras models.

`digit_pictures` gives both, computed once per model and remembered as long as the model exists
(`remembered`): the surest digits cost one forward pass over 2,000 test images, imagining 150
small steps, seconds for a convnet.
All images returned here are float32 (10, 28, 28) in [0, 1], row d for digit d.
"""
from __future__ import annotations

import threading
import weakref
from typing import TypeVar
from collections.abc import Callable

import numpy as np
import scipy.ndimage

from ..nets.base import DigitModel, as_batch, blas_controller
from ..nets.registry import network_of

T = TypeVar("T")
SUREST = 50       # real images averaged per digit...
SAMPLE = 2000     # ...chosen from this many test images: as clear as from all 10,000, a fifth of the work
STEPS = 150       # gradient steps when imagining
STEP_SIZE = 0.1   # largest change of one pixel in one step (the gradient is scaled to this)
BLUR = 0.5        # px, standard deviation of the Gaussian blur after each step
FADE = 0.05       # each step every pixel loses this fraction: what the model does not need goes dark
START = 0.1       # the dark grey every image starts from (at pure black an untrained ReLU net has no gradient)
JITTER = 2        # px: the model sees the image shifted by up to this much, a new shift each step
DIGITS = np.arange(10)


def digit_pictures(model: DigitModel, test_images: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """What the page shows of a model's digits: `surest_digits` among the first SAMPLE of
    `test_images` (always MNIST's test images: remembered per model, not per image set), and
    `imagine`, or None for a model whose input gradient we cannot take. Both (10, 28, 28)."""
    surest = remembered(model, "surest test digits", lambda: surest_digits(model, test_images[:SAMPLE])[0])
    try:
        gradient_function(model)
    except ValueError:
        return surest, None
    return surest, remembered(model, "imagined digits", lambda: imagine(model))


def digit_pictures_ready(model: DigitModel) -> bool:
    """Has `digit_pictures` been worked out for this model already (so asking costs nothing)?"""
    with _lock:
        entry = _remembered.get(model)
        return entry is not None and {"surest test digits", "imagined digits"} <= entry["values"].keys()


def surest_digits(model: DigitModel, images: np.ndarray, k: int = SUREST) -> tuple[np.ndarray, np.ndarray]:
    """For each digit, the mean of the `k` images the model gives the highest probability of it.

    `images`: (n, 28, 28) or (n, 784), uint8 or float in [0, 1], n >= k. Returns the means
    (10, 28, 28) float32 in [0, 1] and the images chosen, (10, k) indices into `images`, surest first.
    """
    n = len(images)
    if not 1 <= k <= n:
        raise ValueError(f"k must be from 1 to the number of images ({n}), got {k!r}")
    proba = model.predict_proba(images)                       # (n, 10)
    chosen = np.argpartition(-proba, k - 1, axis=0)[:k].T     # (10, k), in no order yet
    order = np.argsort(-np.take_along_axis(proba.T, chosen, axis=1), axis=1)
    chosen = np.take_along_axis(chosen, order, axis=1)
    means = np.stack([as_batch(images[rows]).mean(axis=0) for rows in chosen])  # (10, 784)
    return means.reshape(10, 28, 28), chosen


def imagine(model: DigitModel, steps: int = STEPS, seed: int = 0) -> np.ndarray:
    """For each digit, an image made by gradient ascent on log p(digit), smoothed at each step.

    Starts from a dark grey image (START). Each step: shift by up to JITTER px, take
    the gradient, shift back, move every pixel by at most STEP_SIZE along it, blur by BLUR px,
    fade by FADE, clip to [0, 1]. The result is scaled so its brightest pixel is 1 (how bright
    it came out says little; where the light is says what the model looks for). Returns
    (10, 28, 28) float32 in [0, 1]. ValueError when the model gives no input gradient.
    """
    gradient = gradient_function(model)
    rng = np.random.default_rng(seed)  # the shifts: the same model imagines the same images
    x = np.full((10, 28, 28), START, np.float32)
    with _single_blas_thread():
        x = _ascend(gradient, x, steps, rng)
    brightest = x.reshape(10, -1).max(axis=1)[:, None, None]
    return (x / np.maximum(brightest, 1e-12)).astype(np.float32)


def _ascend(gradient, x: np.ndarray, steps: int, rng: np.random.Generator) -> np.ndarray:
    """imagine's loop: `steps` smoothed gradient steps on images x (10, 28, 28)."""
    for _ in range(steps):
        dy, dx = rng.integers(-JITTER, JITTER + 1, size=2)
        shifted = np.roll(x, (dy, dx), axis=(1, 2))
        g = np.roll(gradient(shifted.reshape(10, 784), DIGITS).reshape(10, 28, 28), (-dy, -dx), axis=(1, 2))
        largest = np.abs(g).reshape(10, -1).max(axis=1)[:, None, None]
        x = x + STEP_SIZE * g / np.maximum(largest, 1e-12)
        x = scipy.ndimage.gaussian_filter(x, sigma=(0, BLUR, BLUR))
        x = np.clip(x * (1.0 - FADE), 0.0, 1.0)
    return x


def input_gradient(model: DigitModel, images: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """d log p(digits[i] | images[i]) / d pixels: (n, 784) float32, for images (n, 784) in [0, 1]."""
    return gradient_function(model)(as_batch(images), np.asarray(digits))


def gradient_function(model: DigitModel) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The model's input gradient as a function (images (n, 784) float32, digits (n,)) -> (n, 784).

    ValueError for a model whose gradient we cannot take.
    """
    if network_of(model.info).tensorflow:
        return remembered(model, "keras gradient", lambda: _keras_gradient(model))
    if hasattr(model, "input_gradient"):   # the NumPy CNN works out its own
        return lambda x, digits: np.asarray(model.input_gradient(x, digits), np.float32)
    if hasattr(model, "wih"):              # the NumPy MLP: from its weights, below
        return lambda x, digits: _mlp_gradient(model, x, digits)
    raise ValueError(f"cannot take the input gradient of a {model.info.engine} {model.info.architecture} model")


def _mlp_gradient(net, x: np.ndarray, digits: np.ndarray) -> np.ndarray:
    """Backpropagation from log p(digit) to the pixels, for the NumPy network, as predict_proba
    computes p: sigmoid pixels scaled to 0.01-1, outputs normalised to sum to 1; ReLU/softmax."""
    rows = np.arange(len(x))
    scaled = x * np.float32(0.99) + np.float32(0.01) if net.activation == "sigmoid" else x
    hidden_in = scaled @ net.wih.T + net.bh                             # (n, hidden)
    if net.activation == "sigmoid":
        hidden = 1.0 / (1.0 + np.exp(-hidden_in))
        out = 1.0 / (1.0 + np.exp(-(hidden @ net.who.T + net.bo)))     # (n, 10), each in (0, 1)
        # log p_d = log out_d - log sum(out): d/d out_j = [j = d] / out_d - 1 / sum(out)
        d_out = np.repeat(-1.0 / out.sum(axis=1, keepdims=True), out.shape[1], axis=1)
        d_out[rows, digits] += 1.0 / out[rows, digits]
        d_logits = d_out * out * (1.0 - out)
        d_hidden_in = (d_logits @ net.who) * hidden * (1.0 - hidden)
        return (d_hidden_in @ net.wih * np.float32(0.99)).astype(np.float32)
    logits = np.maximum(hidden_in, 0) @ net.who.T + net.bo
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    p /= p.sum(axis=1, keepdims=True)
    d_logits = -p                                                       # d log softmax_d / d logits
    d_logits[rows, digits] += 1.0
    d_hidden_in = (d_logits @ net.who) * (hidden_in > 0)
    return (d_hidden_in @ net.wih).astype(np.float32)


def _keras_gradient(model) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The input gradient of a Keras model through TensorFlow, compiled once per model."""
    import tensorflow as tf  # already imported: the model is a Keras one

    network = model.model
    shape = (-1,) + tuple(network.input_shape[1:])   # (n, 784) or (n, 28, 28, 1)

    @tf.function(reduce_retracing=True)
    def gradient(x, digits):
        with tf.GradientTape() as tape:
            tape.watch(x)
            p = network(tf.reshape(x, shape), training=False)           # (n, 10) softmax
            log_p = tf.math.log(tf.gather(p, digits, batch_dims=1) + 1e-30)
        return tape.gradient(log_p, x)

    return lambda x, digits: gradient(tf.constant(x, tf.float32), tf.constant(digits, tf.int32)).numpy()


def _single_blas_thread():
    """A context in which BLAS uses one thread: ten images at a time are far too few to share
    between threads. The limit is process-wide, for the moment this takes."""
    return blas_controller().limit(limits=1, user_api="blas")


# ---------------------------------------------------------------------------- remembered per model

_lock = threading.Lock()
_remembered: weakref.WeakKeyDictionary[DigitModel, dict] = weakref.WeakKeyDictionary()


def remembered(model: DigitModel, key: str, make: Callable[[], T]) -> T:
    """`make()` the first time it is asked for this model and key; after that, what it made.

    Kept as long as the model object exists (models never change once made live), so the
    server's registry of loaded models bounds the memory. One thread makes each thing; others
    asking for the same model meanwhile wait for it instead of making it again.
    """
    with _lock:
        # Re-entrant: making one thing may need another of the same model (imagine, its gradient).
        entry = _remembered.setdefault(model, {"lock": threading.RLock(), "values": {}})
    with entry["lock"]:
        if key not in entry["values"]:
            entry["values"][key] = make()
        return entry["values"][key]
