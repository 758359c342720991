"""The tutorial's three-layer network in NumPy, grown into a real tool.

`NeuralNetWork(inputnodes, hiddennodes, outputnodes, learningrate)` with `train(inputs_list,
targets_list)` and `query(inputs)` is the tutorial's class: same weights `wih`/`who`, same
initialisation, sigmoid via `scipy.special.expit`, same per-sample backpropagation. Its loops run
unchanged against this class (through `mnistcore.tutorial`).

Around it: `activation="relu"` (ReLU hidden layer, softmax output, cross-entropy, biases),
momentum, `optimizer="adam"` and a cosine learning-rate `schedule` (both off by default, both saved
in NetConfig), seeding, vectorised mini-batch `fit`, the shared model interface (`predict_proba`,
`predict`, `save`, `load`), all in float32.

Shapes: weights are stored as in the tutorial, `wih` (hidden, inputs) and `who` (outputs, hidden);
batches are row-major, X (B, inputs), so a layer is `X @ wih.T`.
"""
from __future__ import annotations

import contextlib
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import scipy.special
from scipy.linalg import blas

from ..files import atomic_write
from .base import (Augment, Callback, DigitModel, ModelFileError, ModelInfo, Progress, as_batch, augmented,
                   blas_controller, cosine_factor, fit_data, run_epochs)
from .saved import NUMPY_WEIGHTS, open_checked, read_weights

ACTIVATIONS = ("sigmoid", "relu")
OPTIMIZERS = ("sgd", "adam")       # "sgd": the tutorial's plain step (with momentum when set)
SCHEDULES = ("constant", "cosine")  # "cosine": the step size falls to 0 over the run, half a cosine
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8

DTYPE = np.float32
# Below this batch size the BLAS calls are too small to share between threads: handing each one
# to a second thread costs more than it saves, and far more on a busy machine.
SINGLE_THREAD_BELOW = 32

@dataclass(frozen=True)
class NetConfig:
    """Everything needed to rebuild the network; saved with the weights."""

    inputnodes: int = 784
    hiddennodes: int = 200
    outputnodes: int = 10
    learningrate: float = 0.1
    activation: str = "sigmoid"  # "sigmoid": the tutorial's network; "relu": ReLU + softmax
    momentum: float = 0.0        # 0 is the tutorial's plain gradient step
    seed: int | None = None      # weights and shuffling; None = fresh randomness
    optimizer: str = "sgd"       # "sgd" (the tutorial's step, with momentum) or "adam" (a step per weight)
    schedule: str = "constant"   # "cosine": the learning rate falls to 0 over each fit's batches
    # Files saved before optimizer and schedule existed lack them and load with these defaults.

    def validate(self) -> None:
        for name in ("inputnodes", "hiddennodes", "outputnodes"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        if not (isinstance(self.learningrate, (int, float)) and 0 < self.learningrate <= 10):
            raise ValueError(f"learningrate must be a number in (0, 10], got {self.learningrate!r}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got {self.activation!r}")
        if not (isinstance(self.momentum, (int, float)) and 0 <= self.momentum < 1):
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")


class NeuralNetWork(DigitModel):
    """Input, hidden and output layers of nodes, fully connected (the tutorial's network)."""

    def __init__(self, inputnodes: int, hiddennodes: int, outputnodes: int, learningrate: float, *,
                 activation: str = "sigmoid", momentum: float = 0.0, seed: int | None = None,
                 optimizer: str = "sgd", schedule: str = "constant"):
        self.config = NetConfig(inputnodes, hiddennodes, outputnodes, learningrate, activation, momentum, seed,
                                optimizer, schedule)
        self.config.validate()
        self.inodes, self.hnodes, self.onodes = inputnodes, hiddennodes, outputnodes
        self.lr = learningrate
        self.activation = activation
        self._rng = np.random.default_rng(seed)
        if activation == "sigmoid":
            # The tutorial's initialisation: normal, standard deviation 1/sqrt(nodes in the layer).
            wih = self._rng.normal(0.0, pow(self.hnodes, -0.5), (self.hnodes, self.inodes))
            who = self._rng.normal(0.0, pow(self.onodes, -0.5), (self.onodes, self.hnodes))
        else:
            # He initialisation keeps ReLU activations from shrinking or exploding layer by layer.
            wih = self._rng.normal(0.0, np.sqrt(2.0 / self.inodes), (self.hnodes, self.inodes))
            who = self._rng.normal(0.0, np.sqrt(1.0 / self.hnodes), (self.onodes, self.hnodes))
        self.wih = wih.astype(DTYPE)
        self.who = who.astype(DTYPE)
        # Biases: the tutorial's sigmoid network has none (these stay zero); the ReLU one learns them.
        self.bh = np.zeros(self.hnodes, DTYPE)
        self.bo = np.zeros(self.onodes, DTYPE)
        self._velocity = None  # momentum buffers (Adam: first and second moments), created on first use
        self._adam_steps = 0   # Adam's step count, for its bias correction
        self._step_scale = 1.0 # the schedule's factor on the learning rate for the current batch
        self._grads = None     # gradient buffers, reused batch after batch
        self.activation_function = lambda x: scipy.special.expit(x)
        arch = f"{inputnodes}-{hiddennodes}-{outputnodes} " + ("sigmoid" if activation == "sigmoid" else "relu/softmax")
        self.info = ModelInfo(engine="numpy", architecture=arch, settings=asdict(self.config))
        self.history_: list[Progress] = []

    # ------------------------------------------------------------------ the tutorial's interface

    def train(self, inputs_list, targets_list) -> None:
        """One backpropagation step on one sample (inputs scaled, targets 0.01/0.99), in place."""
        inputs = np.array(inputs_list, ndmin=2, dtype=DTYPE)       # (1, inputs)
        targets = np.array(targets_list, ndmin=2, dtype=DTYPE)     # (1, outputs)
        if self.activation == "relu":
            targets = targets / targets.sum()  # softmax targets must sum to 1
        with _single_blas_thread():
            self._step(inputs, targets)

    def query(self, inputs):
        """The output layer's activations for one input (list or array), as in the tutorial."""
        inputs = np.asarray(inputs, dtype=DTYPE)
        hidden_inputs = np.dot(self.wih, inputs) + _column(self.bh, inputs)
        if self.activation == "sigmoid":
            hidden_outputs = self.activation_function(hidden_inputs)
            final_inputs = np.dot(self.who, hidden_outputs) + _column(self.bo, inputs)
            return self.activation_function(final_inputs)
        hidden_outputs = np.maximum(hidden_inputs, 0)
        final_inputs = np.dot(self.who, hidden_outputs) + _column(self.bo, inputs)
        return scipy.special.softmax(final_inputs, axis=0)

    # ------------------------------------------------------------------ mini-batch training

    def _step(self, x: np.ndarray, t: np.ndarray) -> tuple[float, np.ndarray]:
        """Forward and backward pass on a batch x (B, inputs) with targets t (B, outputs).

        Updates the weights with the batch-mean gradient (a batch of 1 is the tutorial's rule).
        Returns the batch's summed loss and the network's outputs (B, outputs).
        """
        if len(x) == 1 and self.config.momentum == 0 and self.config.optimizer == "sgd" \
                and self._step_scale == 1.0:
            return self._step_one(x[0], t[0])
        batch = len(x)
        hidden_in = x @ self.wih.T + self.bh             # (B, h)
        if self.activation == "sigmoid":
            hidden = scipy.special.expit(hidden_in)
            out = scipy.special.expit(hidden @ self.who.T)  # (B, o)
            errors = t - out
            loss = 0.5 * float(np.einsum("ij,ij->", errors, errors))
            # The tutorial's update is w += lr * (error * f') . input, i.e. gradient descent on
            # half the squared error; as a gradient that is -(error * f').
            d_out = errors * out * (out - 1.0)
            d_hidden = (d_out @ self.who) * hidden * (1.0 - hidden)
        else:
            hidden = np.maximum(hidden_in, 0)
            out = _softmax(hidden @ self.who.T + self.bo)
            loss = -float(np.einsum("ij,ij->", t, np.log(np.maximum(out, 1e-30))))
            d_out = out - t                               # d(cross-entropy)/d(logits), (B, o)
            d_hidden = d_out @ self.who                   # (B, h)
            d_hidden *= hidden_in > 0
        if self.config.optimizer == "adam":
            self._adam_update(1.0 / batch, d_out, hidden, d_hidden, x)
        else:
            self._update(self.lr * self._step_scale / batch, d_out, hidden, d_hidden, x)
        return loss, out

    def _update(self, scale: float, d_out, hidden, d_hidden, x) -> None:
        """w -= scale * gradient, with momentum when set; gradient = layer delta.T @ layer input.

        The deltas (B x layer size) are scaled first, which is cheaper than scaling the
        gradients (layer size x inputs); gradients go into buffers reused batch after batch.
        Only NumPy's matmul is used here: mixing in SciPy's BLAS would wake a second BLAS
        thread pool that fights NumPy's for the same two cores.
        """
        mu = self.config.momentum
        if self._grads is None:
            self._grads = [np.empty_like(self.who), np.empty_like(self.wih)]
        if mu and self._velocity is None:
            self._velocity = [np.zeros_like(w) for w in (self.who, self.wih, self.bo, self.bh)]
        d_out *= DTYPE(scale)
        d_hidden *= DTYPE(scale)
        for i, (weight, delta, inputs) in enumerate(self._layers(d_out, hidden, d_hidden, x)):
            if inputs is None:
                grad = delta.sum(axis=0)
            else:
                grad = np.matmul(delta.T, inputs, out=self._grads[i])  # (rows, cols)
            if mu:
                velocity = self._velocity[i]
                velocity *= DTYPE(mu)
                velocity -= grad
                weight += velocity
            else:
                weight -= grad

    def _layers(self, d_out, hidden, d_hidden, x) -> list:
        """(weight, delta, layer input) for each weight array; a bias's input is None."""
        layers = [(self.who, d_out, hidden), (self.wih, d_hidden, x)]
        if self.activation == "relu":  # biases: the tutorial's sigmoid network has none
            layers += [(self.bo, d_out, None), (self.bh, d_hidden, None)]
        return layers

    def _adam_update(self, scale: float, d_out, hidden, d_hidden, x) -> None:
        """Adam (Kingma & Ba): each weight's step is the gradient's running mean over its running
        root-mean-square, so every weight moves about lr per step whatever its gradient's size.
        In place, in float32, with reused buffers: this runs once per batch on 400,000 weights."""
        beta1, beta2 = ADAM_BETAS
        if self._grads is None:
            self._grads = [np.empty_like(self.who), np.empty_like(self.wih)]
        if self._velocity is None:  # first moments, then second moments, one pair per weight array
            self._velocity = [np.zeros_like(w) for w in (self.who, self.wih, self.bo, self.bh) for _ in (0, 1)]
        self._adam_steps += 1
        t = self._adam_steps
        step = self.lr * self._step_scale * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
        d_out *= DTYPE(scale)
        d_hidden *= DTYPE(scale)
        for i, (weight, delta, inputs) in enumerate(self._layers(d_out, hidden, d_hidden, x)):
            grad = delta.sum(axis=0) if inputs is None else np.matmul(delta.T, inputs, out=self._grads[i])
            mean, square = self._velocity[2 * i], self._velocity[2 * i + 1]
            mean *= DTYPE(beta1)
            mean += DTYPE(1 - beta1) * grad
            square *= DTYPE(beta2)
            grad *= grad
            grad *= DTYPE(1 - beta2)
            square += grad
            np.sqrt(square, out=grad)
            grad += DTYPE(ADAM_EPS * np.sqrt(1 - beta2 ** t))
            np.divide(mean, grad, out=grad)
            grad *= DTYPE(step)
            weight -= grad

    def _step_one(self, x: np.ndarray, t: np.ndarray) -> tuple[float, np.ndarray]:
        """The per-sample rule with BLAS vector calls: matrix-vector products and in-place
        rank-1 updates (ger), so one sample costs a few microseconds of Python, not a copy of
        every weight matrix."""
        gemv = blas.get_blas_funcs("gemv", (self.wih,))
        ger = blas.get_blas_funcs("ger", (self.wih,))
        # wih.T is the Fortran view of wih: gemv(trans=1) on it is wih @ x, with no copy.
        hidden_in = gemv(1.0, self.wih.T, x, trans=1)
        if self.activation == "sigmoid":
            hidden = scipy.special.expit(hidden_in)
            out = scipy.special.expit(gemv(1.0, self.who.T, hidden, trans=1))
            errors = t - out
            loss = 0.5 * float(errors @ errors)
            d_out = errors * out * (out - 1.0)
            d_hidden = gemv(1.0, self.who.T, d_out) * hidden * (1.0 - hidden)   # who.T @ d_out
        else:
            hidden_in += self.bh
            hidden = np.maximum(hidden_in, 0)
            out = _softmax(gemv(1.0, self.who.T, hidden, trans=1) + self.bo)
            loss = -float(t @ np.log(np.maximum(out, 1e-30)))
            d_out = out - t
            d_hidden = gemv(1.0, self.who.T, d_out) * (hidden_in > 0)
            self.bo -= self.lr * d_out
            self.bh -= self.lr * d_hidden
        # who.T (h, o) += -lr * hidden (h,) outer d_out (o,), in place
        ger(-self.lr, hidden, d_out, a=self.who.T, overwrite_a=1)
        ger(-self.lr, x, d_hidden, a=self.wih.T, overwrite_a=1)
        return loss, out[None, :]

    def fit(self, images: np.ndarray, labels: np.ndarray, epochs: int = 1, batch_size: int = 128,
            on_batch: Callback | None = None, on_epoch: Callback | None = None,
            validation: tuple[np.ndarray, np.ndarray] | None = None,
            augment: Augment | None = None) -> NeuralNetWork:
        """Train on images (n, 28, 28) or (n, 784) with digit labels (n,) in shuffled mini-batches.

        Callbacks get a `Progress`; returning True stops training. A stop in the middle of an
        epoch restores the weights of the last complete epoch. `augment` distorts each batch as
        it is drawn. Returns self.
        """
        # ReLU networks take pixels as they are: uint8 stays uint8, made float batch by batch.
        x, y = fit_data(images, labels, epochs, batch_size, keep_uint8=self.activation == "relu")
        if augment is None:
            x = self._scale(x)  # once for all; with augment, each distorted batch is scaled instead
        if x.shape[1] != self.inodes or self.onodes != 10:
            raise ValueError(f"fit needs a 784-input, 10-output network, this one is {self.info.architecture}")
        n = len(x)
        low, high = (0.01, 0.99) if self.activation == "sigmoid" else (0.0, 1.0)
        target_rows = np.full((10, 10), low, DTYPE) + np.eye(10, dtype=DTYPE) * (high - low)
        started = time.perf_counter()
        threads = _single_blas_thread() if batch_size < SINGLE_THREAD_BELOW else contextlib.nullcontext()
        try:
            with threads:
                completed = self._epochs(x, y, epochs, batch_size, target_rows, on_batch, on_epoch, validation,
                                         started, augment)
        finally:
            self._step_scale = 1.0  # train() after fit() takes the tutorial's full step
        self.stopped_ = completed < epochs
        self.info = self.info.trained(self.info.epochs + completed, batch_size, n, time.perf_counter() - started)
        return self

    def _epochs(self, x, y, epochs, batch_size, target_rows, on_batch, on_epoch, validation, started,
                augment=None) -> int:
        """fit's loop (base.run_epochs); returns the number of complete epochs."""
        def train_batch(xb, yb, done):
            if self.config.schedule == "cosine":  # from 1 at the first batch of this fit to 0 after its last
                self._step_scale = cosine_factor(done)
            if augment is not None:
                xb = self._scale(augmented(augment, xb, self._rng))
            loss, out = self._step(xb, target_rows[yb])
            return loss, out.argmax(axis=1)

        return run_epochs(self, x, y, epochs, batch_size, train_batch, on_batch, on_epoch, validation, started)

    def _snapshot(self) -> list[np.ndarray]:
        return [w.copy() for w in (self.wih, self.who, self.bh, self.bo)]

    def _restore(self, saved: list[np.ndarray]) -> None:
        for weight, copy in zip((self.wih, self.who, self.bh, self.bo), saved):
            weight[...] = copy
        self._velocity = None
        self._adam_steps = 0

    # ------------------------------------------------------------------ the model interface

    def _scale(self, x: np.ndarray) -> np.ndarray:
        """[0, 1] pixels as this network expects them: the tutorial's 0.01-1.0 for sigmoid."""
        if self.activation == "sigmoid":
            return x * DTYPE(0.99) + DTYPE(0.01)
        return x

    def _forward(self, x: np.ndarray) -> np.ndarray:
        hidden_in = x @ self.wih.T + self.bh
        if self.activation == "sigmoid":
            return scipy.special.expit(scipy.special.expit(hidden_in) @ self.who.T + self.bo)
        return scipy.special.softmax(np.maximum(hidden_in, 0) @ self.who.T + self.bo, axis=1)

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """(n, 10) float32 probabilities; sigmoid outputs are normalised to sum to 1."""
        x = self._scale(as_batch(images))
        out = np.empty((len(x), self.onodes), DTYPE)
        for begin in range(0, len(x), 4096):  # bounded memory for any n
            out[begin : begin + 4096] = self._forward(x[begin : begin + 4096])
        if self.activation == "sigmoid":
            # A blown-up network can output 0 everywhere: keep 0/0 out of the probabilities.
            out /= np.maximum(out.sum(axis=1, keepdims=True), DTYPE(1e-30))
        return out

    # ------------------------------------------------------------------ saving

    def save(self, path: str | os.PathLike) -> Path:
        """Write weights and metadata to one .npz file, atomically."""
        arrays = dict(wih=self.wih, who=self.who, bh=self.bh, bo=self.bo, info=np.array(self.info.to_json()))
        return atomic_write(path, lambda f: np.savez(f, **arrays))

    @classmethod
    def load(cls, path: str | os.PathLike) -> NeuralNetWork:
        """Load a network saved by `save`; ModelFileError names the file when anything is off.

        `open_checked` checks the file first, from the arrays' headers alone: the settings within
        the format's limits, every array there, float32 and shaped as the settings say. Only then
        is the network built and are the weights read, so a crafted file costs no memory.
        """
        path = Path(path)
        with open_checked(path) as (f, _, info):
            if info.engine != "numpy":
                raise ModelFileError(f"{path}: holds a {info.engine!r} model, not a NumPy network")
            try:
                config = NetConfig(**info.settings)
                net = cls(config.inputnodes, config.hiddennodes, config.outputnodes, config.learningrate,
                          activation=config.activation, momentum=config.momentum, seed=config.seed,
                          optimizer=config.optimizer, schedule=config.schedule)
            except (TypeError, ValueError) as err:
                raise ModelFileError(f"{path}: saved settings are invalid ({err})") from None
            # As built from the settings: the shapes the file must have.
            arrays = read_weights(f, path, {name: getattr(net, name).shape for name in NUMPY_WEIGHTS})
        for name, array in arrays.items():
            setattr(net, name, array)
        net.info = info
        return net


def _single_blas_thread():
    """A context in which NumPy's and SciPy's BLAS use one thread (about 12 us to enter and exit)."""
    return blas_controller().limit(limits=1, user_api="blas")


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (B, o) logits, in place (the logits are not needed afterwards)."""
    logits -= logits.max(axis=-1, keepdims=True)
    np.exp(logits, out=logits)
    logits /= logits.sum(axis=-1, keepdims=True)
    return logits


def _column(bias: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    """The bias shaped like `np.dot(w, inputs)`: (n,) for a 1-D input, (n, 1) for a column."""
    return bias if inputs.ndim == 1 else bias[:, None]
