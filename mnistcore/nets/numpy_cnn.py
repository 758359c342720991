"""A small convolutional network in NumPy: keras-io's MNIST convnet, layer for layer.

    input (28, 28, 1) -> conv 3x3, 32 filters, ReLU -> max-pool 2x2 -> conv 3x3, 64 filters, ReLU
    -> max-pool 2x2 -> flatten (1600) -> dropout 0.5 -> dense 10 -> softmax; Adam, cross-entropy.

The same network as `keras_net`'s "cnn" (same weight layouts, Glorot-uniform initialisation,
Adam with Keras' defaults), behind the shared model interface (`fit`, `predict_proba`, `save`,
`load`), in float32. The layer maths is in `conv_layers` and `winograd`.

Why it is computed this way (bench/cnn.py measures it):
- The second convolution, nine tenths of the multiplications as Keras counts them, runs as
  Winograd's F(2x2, 3x3) (`winograd`): 2.25 times fewer, in 16 matrix products per pass. The
  first, with one input channel, is one product of unrolled windows. Activations are laid out
  (row, column, image, channel), so that the transforms and copies run on long contiguous runs.
- ReLU commutes with max-pooling, and so does adding a per-filter bias, so both are applied
  after pooling, on a quarter of the values. The first convolution needs no input gradient.
- Pooling floors away conv2's 11th row and column, and only they read conv1's 13th pooled row
  and column: training computes neither (24 x 24 of conv1's 26 x 26 outputs, 10 x 10 of conv2's
  11 x 11). The probabilities are Keras' to float32 rounding.
- `fit` splits each batch between two threads with one BLAS thread each: NumPy's element-wise
  loops release the GIL, so they use both cores too, and OpenBLAS's own second thread, which
  stalls whenever the machine is busy, is not needed. The threads take the batch in small
  pieces, as each is free, so one held back by other programs does not make the other wait.
- Training reuses its buffers batch after batch; prediction allocates its own, so any number of
  threads may predict with one shared model while none trains it.
"""
from __future__ import annotations

import contextlib
import itertools
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..files import atomic_write
from .base import (Augment, Callback, DigitModel, ModelFileError, ModelInfo, Progress, as_batch, augmented,
                   blas_controller, blas_threads, cosine_factor, fit_data, run_epochs)
from . import winograd
from .conv_layers import (KERNEL, column_sums, conv, conv_all, conv_backward, flatten, pool, pool_backward,
                          pooled_side, relu_backward, softmax, unflatten)
from .saved import CNN_ARCH, CNN_WEIGHTS, cnn_shapes, is_cnn, open_checked, read_weights

DTYPE = np.float32
SIDE = 28                   # input images are 28 x 28, one channel
POOLED2 = pooled_side(pooled_side(SIDE))  # 5: the second block's pooled rows (and columns)
# The first block's pooled rows that the second convolution's kept outputs read: 12 of 13. Its
# 13th row and column feed only conv2's 11th, which pooling floors away, so training skips them.
POOLED1 = 2 * POOLED2 + KERNEL - 1
PREDICT_VALUES = 4_000_000  # activations per forward pass in predict_proba (16 MB): bounded memory
MAX_WORKERS = 2             # threads fit may split a batch between (this lab's machines have 2 cores)
PIECE = 32                  # images a thread takes from a batch at a time (pieces of 16 to 64 cost the same)
# Keras' Adam defaults (keras.optimizers.Adam): the convnet compiles with optimizer="adam".
BETA1, BETA2, EPSILON = 0.9, 0.999, 1e-7


@dataclass(frozen=True)
class CnnConfig:
    """Everything needed to rebuild the network; saved with the weights (plus "arch": "cnn")."""

    filters1: int = 32            # filters of the first 3x3 convolution
    filters2: int = 64            # filters of the second
    learning_rate: float = 0.001  # Adam's step size (Keras' default)
    dropout: float = 0.5          # fraction of the flattened features dropped while training
    seed: int | None = None       # weights, shuffling and dropout; None = fresh randomness
    schedule: str = "constant"    # "cosine": Adam's step falls to 0 over each fit's batches, half a cosine

    def validate(self) -> None:
        for name in ("filters1", "filters2"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        if isinstance(self.learning_rate, bool) or not isinstance(self.learning_rate, (int, float)) \
                or not 0 < self.learning_rate <= 1:
            raise ValueError(f"learning_rate must be a number in (0, 1], got {self.learning_rate!r}")
        if isinstance(self.dropout, bool) or not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be a number in [0, 1), got {self.dropout!r}")
        if self.seed is not None and (isinstance(self.seed, bool) or not isinstance(self.seed, (int, np.integer))
                                      or self.seed < 0):
            raise ValueError(f"seed must be a whole number >= 0 or None, got {self.seed!r}")
        if self.schedule not in ("constant", "cosine"):
            raise ValueError(f"schedule must be constant or cosine, got {self.schedule!r}")


def glorot_uniform(rng: np.random.Generator, shape: tuple[int, ...], fan_in: int, fan_out: int) -> np.ndarray:
    """Keras' default kernel initialiser: uniform in +-sqrt(6 / (fan_in + fan_out))."""
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(DTYPE)


# ---------------------------------------------------------------------------- the network


class ConvNet(DigitModel):
    """keras-io's MNIST convnet in NumPy; weights w1, b1 (conv), w2, b2 (conv), w3, b3 (dense).

    Kernels are stored as Keras stores them: w1 (3, 3, 1, filters1), w2 (3, 3, filters1,
    filters2), w3 (25 * filters2, 10), so weights copy across engines unchanged.
    """

    def __init__(self, config: CnnConfig | None = None):
        self.config = config or CnnConfig()
        self.config.validate()
        f1, f2 = self.config.filters1, self.config.filters2
        self._rng = np.random.default_rng(self.config.seed)
        self.w1 = glorot_uniform(self._rng, (KERNEL, KERNEL, 1, f1), 9, 9 * f1)
        self.b1 = np.zeros(f1, DTYPE)
        self.w2 = glorot_uniform(self._rng, (KERNEL, KERNEL, f1, f2), 9 * f1, 9 * f2)
        self.b2 = np.zeros(f2, DTYPE)
        self.w3 = glorot_uniform(self._rng, (25 * f2, 10), 25 * f2, 10)
        self.b3 = np.zeros(10, DTYPE)
        self._step_scale = 1.0  # the schedule's factor on the step size for the current batch
        self._adam = None   # Adam's moments and step count, created on the first step
        self._buffers = []  # fit's arrays, one set per worker, reused batch after batch during a fit
        self.info = ModelInfo(engine="numpy", architecture=f"cnn conv{f1}-conv{f2}-10 relu/softmax",
                              settings={"arch": CNN_ARCH, **asdict(self.config)})
        self.history_: list[Progress] = []

    def _weights(self) -> list[np.ndarray]:
        return [getattr(self, name) for name in CNN_WEIGHTS]

    # ------------------------------------------------------------------ forward and backward

    def _forward(self, x: np.ndarray, buffers: dict, keep: np.ndarray | None = None) -> dict:
        """The forward pass on x (B, 784); returns every activation the backward pass needs.

        `keep` (B, 25 * filters2): dropout's mask, already scaled by 1 / (1 - rate); None at
        inference. `buffers` holds arrays to reuse from one call to the next (or a fresh dict).
        """
        b, f1, f2 = len(x), self.config.filters1, self.config.filters2
        buffer = _buffers(buffers, self.w1.dtype)
        # (rows, columns, image, channel), as conv_layers lays activations out
        pixels = buffer("x", (SIDE, SIDE, b))
        np.copyto(pixels, x.reshape(b, SIDE, SIDE).transpose(1, 2, 0))
        a = {"x": pixels[..., None], "keep": keep}
        p1, p2 = POOLED1, POOLED2
        a["cols1"] = buffer("cols1", (KERNEL, KERNEL, 1, 2, 2, p1, p1, b))
        a["z1"] = conv(a["x"], self.w1, a["cols1"], buffer("z1", (2, 2, p1, p1, b, f1)))   # 24 x 24 of 26 x 26
        a["m1"] = pool(a["z1"], buffer("m1", (p1, p1, b, f1)))
        a1 = np.add(a["m1"], self.b1, out=buffer("a1", (p1, p1, b, f1)))
        a["a1"] = np.maximum(a1, 0, out=a1)                                                 # ReLU after pooling
        a["u2"] = winograd.kernel_transform(self.w2)
        a["work2"] = [buffer(f"conv2_{k}", (size,)) for k, size in enumerate(winograd.workspace(a1.shape, f2))]
        a["z2"] = winograd.conv(a1, a["u2"], a["work2"], buffer("z2", (2, 2, p2, p2, b, f2)))  # 10 x 10 of 11 x 11
        a["m2"] = pool(a["z2"], buffer("m2", (p2, p2, b, f2)))
        a2 = np.add(a["m2"], self.b2, out=buffer("a2", (p2, p2, b, f2)))
        a["a2"] = np.maximum(a2, 0, out=a2)
        a["flat"] = flatten(a2, keep, buffer("flat", (b, 25 * f2)))                         # (B, 1600)
        logits = np.matmul(a["flat"], self.w3, out=buffer("p", (b, 10)))
        logits += self.b3
        a["p"] = softmax(logits)                                                             # (B, 10)
        return a

    def _backward(self, a: dict, dlogits: np.ndarray, buffers: dict, input_gradient: bool = False) -> dict:
        """Gradients of every weight (and of the pixels, when asked) from d(loss)/d(logits) (B, 10).

        Follows `_forward`'s activations `a` backwards; returns {"w1": ..., "b3": ..., "x": ...}.
        """
        b, f2 = len(dlogits), self.config.filters2
        buffer = _buffers(buffers, self.w1.dtype)
        g = {name: buffer("d" + name, getattr(self, name).shape) for name in CNN_WEIGHTS}
        # dense
        np.matmul(a["flat"].T, dlogits, out=g["w3"])
        np.sum(dlogits, axis=0, out=g["b3"])
        dflat = np.matmul(dlogits, self.w3.T, out=buffer("dflat", (b, 25 * f2)))   # (B, 1600)
        if a["keep"] is not None:
            dflat *= a["keep"]
        # the second block's ReLU and bias, its pooling, its convolution
        live = np.greater(a["a2"], 0, out=buffer("live", a["a2"].shape, bool))
        d = unflatten(dflat, live, buffer("d2", live.shape))
        column_sums(d, g["b2"], buffer("ones", (d.size // f2,)))
        dz2 = pool_backward(a["z2"], a["m2"], d, a["z2"])  # in place: z2 is not needed after this
        da1 = buffer("da1", a["a1"].shape)
        winograd.conv_backward(a["work2"], a["u2"], dz2, g["w2"], da1)
        # the first block's: the pixels need no gradient to train
        relu_backward(da1, a["a1"], buffer("live", da1.shape, bool))
        column_sums(da1, g["b1"], buffer("ones", (da1.size // da1.shape[-1],)))
        dz1 = pool_backward(a["z1"], a["m1"], da1, a["z1"])
        if input_gradient:
            dx = np.empty((SIDE, SIDE, b, 1), self.w1.dtype)
            conv_backward(a["cols1"], self.w1, dz1, g["w1"], dx)
            g["x"] = np.ascontiguousarray(dx[..., 0].transpose(2, 0, 1)).reshape(b, SIDE * SIDE)
        else:
            conv_backward(a["cols1"], self.w1, dz1, g["w1"])
        return g

    def _loss_gradients(self, x: np.ndarray, y: np.ndarray, keep: np.ndarray | None = None,
                        buffers: dict | None = None, batch: int | None = None) -> tuple[float, np.ndarray, dict]:
        """(summed cross-entropy, predicted digits (B,), gradients of the loss summed / `batch`).

        `batch` defaults to len(x): the gradients of the mean loss. A worker given part of a
        batch passes the whole batch's size, so the workers' gradients add up to the batch's.
        """
        buffers = {} if buffers is None else buffers
        a = self._forward(x, buffers, keep)
        p = a["p"]
        rows = np.arange(len(y))
        loss = -float(np.sum(np.log(np.maximum(p[rows, y], 1e-30))))
        predicted = p.argmax(axis=1)  # before p is turned into the gradient below
        dlogits = p                 # d(mean cross-entropy)/d(logits) = (p - onehot) / B, in place
        dlogits[rows, y] -= 1
        dlogits /= len(y) if batch is None else batch
        return loss, predicted, self._backward(a, dlogits, buffers)

    def _adam_step(self, grads: dict) -> None:
        """Adam as Keras does it: bias correction folded into the step size, epsilon outside the root."""
        if self._adam is None:
            self._adam = {"t": 0, **{name: (np.zeros_like(w), np.zeros_like(w)) for name, w in
                                     zip(CNN_WEIGHTS, self._weights())}}
        self._adam["t"] += 1
        t = self._adam["t"]
        # A Python float: a NumPy float64 here would turn every float32 update into float64.
        step = float(self.config.learning_rate * self._step_scale * np.sqrt(1 - BETA2**t) / (1 - BETA1**t))
        for name in CNN_WEIGHTS:
            weight, grad = getattr(self, name), grads[name]
            m, v = self._adam[name]
            m += (grad - m) * (1 - BETA1)
            v += (grad * grad - v) * (1 - BETA2)
            weight -= (step * m / (np.sqrt(v) + EPSILON)).astype(weight.dtype)

    # ------------------------------------------------------------------ training

    def fit(self, images: np.ndarray, labels: np.ndarray, epochs: int = 1, batch_size: int = 128,
            on_batch: Callback | None = None, on_epoch: Callback | None = None,
            validation: tuple[np.ndarray, np.ndarray] | None = None,
            augment: Augment | None = None) -> ConvNet:
        """Train on images (n, 28, 28) or (n, 784) with digit labels (n,) in shuffled mini-batches.

        Callbacks get a `Progress`; returning True stops training. A stop in the middle of an
        epoch restores the weights (and Adam's state) of the last complete epoch. `augment`
        distorts each batch as it is drawn. Returns self.
        """
        x, y = fit_data(images, labels, epochs, batch_size, keep_uint8=True)
        n = len(x)
        started = time.perf_counter()
        # Workers with one BLAS thread each (see the module docstring); as many as BLAS may use
        # threads, so the lab's training slot, which allows one, gets one.
        workers = max(1, min(MAX_WORKERS, blas_threads(), os.cpu_count() or 1))
        self._buffers = [{} for _ in range(workers)]
        with contextlib.ExitStack() as stack:
            pool = None
            if workers > 1:
                pool = stack.enter_context(ThreadPoolExecutor(workers - 1, thread_name_prefix="convnet"))
                stack.enter_context(blas_controller().limit(limits=1, user_api="blas"))
            completed = self._epochs(x, y, epochs, batch_size, on_batch, on_epoch, validation, started, augment,
                                     pool, workers)
        self._buffers = []  # 30 MB that a trained model, kept for predictions, does not need
        self.stopped_ = completed < epochs
        self.info = self.info.trained(self.info.epochs + completed, batch_size, n, time.perf_counter() - started)
        return self

    def _epochs(self, x, y, epochs, batch_size, on_batch, on_epoch, validation, started, augment,
                pool=None, workers=1) -> int:
        """fit's loop (base.run_epochs); returns the number of complete epochs."""

        def train_batch(xb, yb, done):
            if augment is not None:
                xb = augmented(augment, xb, self._rng)
            loss, predicted, grads = self._batch_gradients(xb, yb, pool, workers)
            if self.config.schedule == "cosine":  # big steps first, fine ones at the end
                self._step_scale = cosine_factor(done)
            self._adam_step(grads)
            return loss, predicted

        return run_epochs(self, x, y, epochs, batch_size, train_batch, on_batch, on_epoch, validation, started)

    def _batch_gradients(self, x, y, pool, workers) -> tuple[float, np.ndarray, dict]:
        """_loss_gradients of one batch (with dropout), in pieces of up to PIECE images that `workers`
        threads take in turn: the calling thread and `workers` - 1 from `pool`.

        A thread that finishes a piece takes the next one, so a thread the machine holds back for a
        while does not hold up the batch. Each piece draws its dropout from a generator of its own,
        seeded here in order, and the pieces' gradients are summed in order: the result does not
        depend on which thread took which piece, nor on how many threads there are.
        """
        size = min(PIECE, -(-len(x) // workers))  # a small batch still goes to every thread
        bounds = list(range(0, len(x), size)) + [len(x)]
        pieces = len(bounds) - 1
        seeds = self._rng.integers(2**63, size=pieces) if self.config.dropout else [None] * pieces
        results = [None] * pieces
        taken = itertools.count()  # next() on it is one step under the GIL: each piece goes to one thread

        def work(buffers: dict) -> None:
            while (i := next(taken)) < pieces:
                a, b = bounds[i], bounds[i + 1]
                keep = self._dropout(b - a, seeds[i], buffers)
                loss, predicted, grads = self._loss_gradients(x[a:b], y[a:b], keep, buffers, len(x))
                results[i] = loss, predicted, {name: grad.copy() for name, grad in grads.items()}

        helpers = [pool.submit(work, self._buffers[k]) for k in range(1, min(workers, pieces))] if pool else []
        work(self._buffers[0])
        for future in helpers:
            future.result()
        grads = results[0][2]
        for _, _, more in results[1:]:
            for name in CNN_WEIGHTS:
                grads[name] += more[name]
        return sum(r[0] for r in results), np.concatenate([r[1] for r in results]), grads

    def _dropout(self, n: int, seed: int | None, buffers: dict) -> np.ndarray | None:
        """Keras' Dropout for n images: a (n, 25 * filters2) mask, 0 with probability `dropout`, else
        1 / (1 - dropout); None without dropout."""
        rate = self.config.dropout
        if not rate:
            return None
        keep = np.random.default_rng(seed).random((n, self.w3.shape[0]), DTYPE,
                                                  out=_buffers(buffers, DTYPE)("keep", (n, self.w3.shape[0])))
        np.greater_equal(keep, rate, out=keep)  # 1.0 where kept
        keep *= DTYPE(1 / (1 - rate))
        return keep

    def _snapshot(self) -> tuple[list[np.ndarray], dict | None]:
        adam = None
        if self._adam is not None:
            adam = {name: value if name == "t" else (value[0].copy(), value[1].copy())
                    for name, value in self._adam.items()}
        return [w.copy() for w in self._weights()], adam

    def _restore(self, saved) -> None:
        weights, adam = saved
        for weight, copy in zip(self._weights(), weights):
            weight[...] = copy
        self._adam = adam

    # ------------------------------------------------------------------ the model interface

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """(n, 10) float32 probabilities, rows summing to 1, columns in digit order."""
        x = as_batch(images)
        if len(x) == 1:
            return self._predict_one(x)
        out = np.empty((len(x), 10), DTYPE)
        f1, f2 = self.config.filters1, self.config.filters2
        # the largest arrays: conv1's windows and outputs, conv2's work arrays
        per_image = 4 * POOLED1**2 * (f1 + 9) + sum(winograd.workspace((POOLED1, POOLED1, 1, f1), f2))
        step = max(1, PREDICT_VALUES // per_image)  # bounded memory for any n
        buffers = {}  # this call's own: other threads may predict with this model at the same time
        for begin in range(0, len(x), step):
            out[begin : begin + step] = self._forward(x[begin : begin + step], buffers)["p"]
        return out

    def _predict_one(self, x: np.ndarray) -> np.ndarray:
        """predict_proba for one image (1, 784), in products small enough for one BLAS thread: OpenBLAS
        hands a product above 65,536 x 4 multiply-adds to its second thread, which a busy machine is
        slow to run; conv2 as nine products (121 x 32 x 64, one per kernel position) stays below.
        """
        f1, f2, p1 = self.config.filters1, self.config.filters2, POOLED1
        x4 = x.reshape(SIDE, SIDE, 1, 1)  # (rows, columns, image, channel)
        cols1 = np.empty((KERNEL, KERNEL, 1, 2, 2, p1, p1, 1), DTYPE)
        z1 = conv(x4, self.w1, cols1, np.empty((2, 2, p1, p1, 1, f1), DTYPE))
        a1 = np.maximum(pool(z1, np.empty((p1, p1, 1, f1), DTYPE)) + self.b1, 0)
        z2 = conv_all(a1.reshape(1, p1, p1, f1), self.w2)[0]                           # (10, 10, f2)
        a2 = np.maximum(z2.reshape(5, 2, 5, 2, f2).max(axis=(1, 3)) + self.b2, 0)     # (5, 5, f2)
        return softmax((a2.reshape(1, 25 * f2) @ self.w3 + self.b3).astype(DTYPE))

    def conv_filters(self) -> np.ndarray:
        """The first convolution's filters, (filters1, 3, 3) float32: what each looks for in the pixels."""
        return np.ascontiguousarray(self.w1[:, :, 0, :].transpose(2, 0, 1))

    def feature_maps(self, image: np.ndarray) -> list[tuple[str, np.ndarray]]:
        """What each convolution sees in one image ((28, 28) or (784,), uint8 or float 0-1).

        [("conv1", (26, 26, filters1)), ("conv2", (11, 11, filters2))], float32 after ReLU.
        """
        x = as_batch(image)
        if len(x) != 1:
            raise ValueError(f"feature_maps takes one image, got {len(x)}")
        f1 = self.config.filters1
        conv1 = np.maximum(conv_all(x.reshape(1, SIDE, SIDE, 1), self.w1)[0] + self.b1, 0)  # (26, 26, filters1)
        a1 = conv1.reshape(13, 2, 13, 2, f1).max(axis=(1, 3))  # pooled, all 13 rows: conv2's 11th needs the 13th
        conv2 = np.maximum(conv_all(a1[None], self.w2)[0] + self.b2, 0)             # (11, 11, filters2)
        return [("conv1", conv1.astype(DTYPE)), ("conv2", conv2.astype(DTYPE))]

    def input_gradient(self, images: np.ndarray, digits: np.ndarray) -> np.ndarray:
        """d log p(digit) / d pixels for each image, (n, 784) float32, pixels scaled to [0, 1].

        `digits` (n,) the digit whose probability each image's gradient raises. No dropout
        (the network as it predicts). For activation maximisation: step the pixels along it.
        """
        x = as_batch(images)
        digits = np.asarray(digits)
        if digits.shape != (len(x),) or not np.issubdtype(digits.dtype, np.integer) \
                or (len(x) and (digits.min() < 0 or digits.max() > 9)):
            raise ValueError(f"digits must be {len(x)} whole numbers 0-9, got {digits!r}")
        out = np.empty(x.shape, DTYPE)
        for begin in range(0, len(x), 256):
            xb, yb = x[begin : begin + 256], digits[begin : begin + 256]
            buffers = {}
            a = self._forward(xb, buffers)
            dlogits = -a["p"]                   # d log softmax_y / d logits = onehot - p
            dlogits[np.arange(len(yb)), yb] += 1
            out[begin : begin + len(xb)] = self._backward(a, dlogits, buffers, input_gradient=True)["x"]
        return out

    # ------------------------------------------------------------------ saving

    def save(self, path: str | os.PathLike) -> Path:
        """Write weights and metadata to one .npz file, atomically (Adam's state is not kept)."""
        arrays = {name: getattr(self, name) for name in CNN_WEIGHTS}
        arrays["info"] = np.array(self.info.to_json())
        return atomic_write(path, lambda f: np.savez(f, **arrays))

    @classmethod
    def load(cls, path: str | os.PathLike) -> ConvNet:
        """Load a network saved by `save`; ModelFileError names the file when anything is off.

        `open_checked` checks the file first from the arrays' headers alone (settings within
        the format's limits, every array float32 and shaped as the settings say); only then is
        the network built and are the weights read.
        """
        path = Path(path)
        with open_checked(path) as (f, _, info):
            if info.engine != "numpy" or not is_cnn(info.settings):
                raise ModelFileError(f"{path}: holds a {info.engine!r} {info.architecture!r} model, "
                                     "not a NumPy convolutional network")
            settings = {key: value for key, value in info.settings.items() if key != "arch"}
            try:
                net = cls(CnnConfig(**settings))
            except (TypeError, ValueError) as err:
                raise ModelFileError(f"{path}: saved settings are invalid ({err})") from None
            expected = cnn_shapes(info.settings, path)
            arrays = read_weights(f, path, {name: expected[name] for name in CNN_WEIGHTS})
        for name, array in arrays.items():
            setattr(net, name, array)
        net.info = info
        return net


def _buffers(buffers: dict, dtype: np.dtype):
    """buffer(name, shape, kind=dtype): a C-contiguous array kept in `buffers`, reused by the next call of
    that shape.

    Reusing fit's 30 MB of activations from batch to batch saves the page faults of fresh ones;
    kept by exact shape (an epoch's last, smaller batch gets its own) so every array stays
    contiguous, as the matrix products' `out=` reshapes need.
    """
    def buffer(name: str, shape: tuple[int, ...], kind: np.dtype = dtype) -> np.ndarray:
        key = (name, tuple(shape), np.dtype(kind).str)
        array = buffers.get(key)
        if array is None:
            array = buffers[key] = np.empty(shape, kind)
        return array
    return buffer
