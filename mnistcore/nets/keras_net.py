"""The tutorial's Keras network, and the keras-io convnet, behind the shared model interface.

arch "mlp" is the Keras tutorial's network exactly: the 784 pixels scaled to [0, 1],
`Dense(512, relu)`, `Dense(10, softmax)`, `rmsprop`, categorical cross-entropy on one-hot labels
(`to_categorical`), accuracy. arch "cnn" is keras-io's `mnist_convnet`: two 3x3 convolutions
(32, 64 filters) each followed by 2x2 max-pooling, dropout 0.5, `Dense(10, softmax)`, `adam`.

`KerasModel` has the same interface as `NeuralNetWork` (see mnistcore.nets.base): `info`,
`predict_proba`, `predict`, `score`, `fit` with `Progress` callbacks, `save`, `load`.

Importing this module imports TensorFlow, which takes seconds; mnistcore imports it only when a
Keras model is built or loaded.
"""
from __future__ import annotations

import os

# Before TensorFlow loads: keep its start-up log lines out of the CLI and the site.
# TF_CPP_MIN_LOG_LEVEL=3 hides its C++ INFO/WARNING/ERROR lines. The oneDNN notice ("oneDNN
# custom operations are on ...", printed twice) is written before any log level is read; the
# only switch for it, TF_ENABLE_ONEDNN_OPTS=0, makes the convnet's predictions slower, so
# instead stderr is muted while TensorFlow loads (_import_keras_quietly).
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import logging
import shutil
import sys
import tempfile
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..files import atomic_write
from .base import Augment, Callback, DigitModel, ModelFileError, ModelInfo, Progress, as_batch, augmented, fit_data
from .keras_checks import check_keras_weights
from .saved import KERAS_INFO_ENTRY, read_info


def _import_keras_quietly():
    """Import keras (and TensorFlow) with file descriptor 2 pointed at /dev/null.

    Python errors still surface, as exceptions raised after stderr is restored. For the few
    seconds of the import, other threads' stderr is muted too; this runs once per process.
    """
    if "tensorflow" in sys.modules:  # already loaded (and already noisy, or not): nothing to mute
        import keras
        return keras
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no stderr to protect
        import keras
        return keras
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        import keras
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return keras


keras = _import_keras_quietly()
# TensorFlow's Python-side warnings (e.g. "5 out of the last 5 calls ... triggered tf.function
# retracing", which a site loading one model after another provokes) reach stderr through this
# logger; let only errors through.
logging.getLogger("tensorflow").setLevel(logging.ERROR)

ARCHS = ("mlp", "cnn")
ARCHITECTURES = {"mlp": "mlp 784-512-10 relu/softmax", "cnn": "cnn conv32-conv64-10 relu/softmax"}
INPUT_SHAPES = {"mlp": (784,), "cnn": (28, 28, 1)}  # one image, as each network takes it
PREDICT_BATCH = 1024  # images per forward pass in predict_proba: bounded memory for any n


def build_network(arch: str) -> keras.Model:
    """A fresh compiled Keras model for `arch` ("mlp" or "cnn"), outputs (n, 10) softmax."""
    layers = keras.layers
    if arch == "mlp":
        # The tutorial: network.add(layers.Dense(512, activation='relu', input_shape=(28 * 28,))) ...
        model = keras.Sequential([
            keras.Input(shape=INPUT_SHAPES["mlp"]),
            layers.Dense(512, activation="relu"),
            layers.Dense(10, activation="softmax"),
        ], name="mlp")
        model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
        return model
    if arch == "cnn":
        # keras-io examples/vision/mnist_convnet.py
        model = keras.Sequential([
            keras.Input(shape=INPUT_SHAPES["cnn"]),
            layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),   # (26, 26, 32)
            layers.MaxPooling2D(pool_size=(2, 2)),                      # (13, 13, 32)
            layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),   # (11, 11, 64)
            layers.MaxPooling2D(pool_size=(2, 2)),                      # (5, 5, 64)
            layers.Flatten(),                                           # (1600,)
            layers.Dropout(0.5),
            layers.Dense(10, activation="softmax"),
        ], name="cnn")
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
        return model
    raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")


class KerasModel(DigitModel):
    """A Keras digit classifier ("mlp": the tutorial's network, "cnn": keras-io's convnet)."""

    def __init__(self, arch: str = "mlp", seed: int | None = None):
        if arch not in ARCHS:
            raise ValueError(f"arch must be one of {', '.join(ARCHS)}, got {arch!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer))
                                 or not 0 <= seed < 2**32):  # NumPy's limits, which set_random_seed sets
            raise ValueError(f"seed must be a whole number from 0 to 2**32 - 1, or None; got {seed!r}")
        self.arch = arch
        self.seed = None if seed is None else int(seed)
        if self.seed is not None:
            # Seeds Python, NumPy and TensorFlow globally: the initial weights (and the dropout
            # layer's seed generator) come out the same for the same seed.
            keras.utils.set_random_seed(self.seed)
        self.model = build_network(arch)
        self.info = ModelInfo(engine="keras", architecture=ARCHITECTURES[arch],
                              settings={"arch": arch, "seed": self.seed})
        self.history_: list[Progress] = []

    # ------------------------------------------------------------------ training

    def fit(self, images: np.ndarray, labels: np.ndarray, epochs: int = 1, batch_size: int = 128,
            on_batch: Callback | None = None, on_epoch: Callback | None = None,
            validation: tuple[np.ndarray, np.ndarray] | None = None,
            augment: Augment | None = None) -> KerasModel:
        """Train on images (n, 28, 28) or (n, 784) with digit labels (n,), shuffled each epoch.

        Callbacks get a `Progress`; returning True stops training. A stop in the middle of an
        epoch restores the weights of the last complete epoch. `augment` distorts each batch as
        it is drawn (the same NumPy function the NumPy engines use). Returns self.
        """
        x, y = fit_data(images, labels, epochs, batch_size)
        n = len(x)
        targets = keras.utils.to_categorical(y, 10).astype(np.float32)  # (n, 10) one-hot
        if self.seed is not None:
            # Fit's shuffling draws from TensorFlow's global generator, which anything else in
            # the process may have advanced: re-seed so the same model trains the same way.
            # Adding the epochs already trained gives a continued run a fresh (but fixed) order.
            keras.utils.set_random_seed((self.seed + self.info.epochs) % 2**32)
        bridge = _ProgressBridge(self, n, int(epochs), int(batch_size), on_batch, on_epoch, validation)
        if augment is None:
            self.model.fit(self._inputs(x), targets, epochs=int(epochs), batch_size=int(batch_size),
                           shuffle=True, callbacks=[bridge], verbose=0)
        else:
            batches = _AugmentedBatches(x, targets, int(batch_size), augment, self._inputs, self.seed)
            self.model.fit(batches, epochs=int(epochs), callbacks=[bridge], verbose=0)
        self.stopped_ = bridge.completed < epochs
        self.info = self.info.trained(self.info.epochs + bridge.completed, int(batch_size), n,
                                      time.perf_counter() - bridge.started)
        return self

    # ------------------------------------------------------------------ the model interface

    def _inputs(self, x: np.ndarray) -> np.ndarray:
        """(n, 784) float32 from as_batch, shaped as this network takes it: (n, 784) or (n, 28, 28, 1)."""
        return x.reshape((len(x),) + INPUT_SHAPES[self.arch])

    def predict_proba(self, images: np.ndarray) -> np.ndarray:
        """(n, 10) float32 probabilities, rows summing to 1, columns in digit order."""
        x = self._inputs(as_batch(images))
        out = np.empty((len(x), 10), np.float32)
        # predict_on_batch runs Keras' compiled predict step directly; model.predict sets up a
        # dataset for every call, which costs far more than one drawing's prediction.
        for begin in range(0, len(x), PREDICT_BATCH):
            batch = x[begin : begin + PREDICT_BATCH]
            out[begin : begin + len(batch)] = self.model.predict_on_batch(batch)
        return out

    # ------------------------------------------------------------------ saving

    def save(self, path: str | os.PathLike) -> Path:
        """Write one .keras archive (Keras' own zip, plus our mnistlab.json), atomically."""
        path = Path(path)
        if path.suffix != ".keras":
            raise ValueError(f"a Keras model file must end in .keras, got {path}")
        optimizer = self.model.optimizer
        if not optimizer.built:
            # An untrained model's optimizer has no slots yet; saved like that, loading with
            # compile=True warns that it is "skipping variable loading". Build them (zeros) now.
            optimizer.build(self.model.trainable_variables)
        # Keras writes only to a file name ending in .keras, so it saves into a private folder;
        # atomic_write then copies the finished archive beside `path` and renames it into place.
        with tempfile.TemporaryDirectory(prefix="mnistlab-keras-") as folder:
            staged = Path(folder) / "model.keras"
            self.model.save(staged)
            with zipfile.ZipFile(staged, "a") as archive:
                archive.writestr(KERAS_INFO_ENTRY, self.info.to_json())
            with open(staged, "rb") as source:
                return atomic_write(path, lambda f: shutil.copyfileobj(source, f))

    @classmethod
    def load(cls, path: str | os.PathLike) -> KerasModel:
        """Load a model saved by `save`; ModelFileError names the file when anything is off.

        Keras loads with safe_mode=True: an archive whose config carries Python code (a Lambda
        layer, say) is refused rather than run. Before Keras sees the file, `read_info` checks
        its config.json (only our layers, each within the format's limits: Keras makes every
        layer's weights as it reads the config) and `check_keras_weights` the sizes its weights
        file declares, so a crafted file is refused without costing memory.
        """
        path = Path(path)
        info = read_info(path)  # ModelFileError: missing, empty, not a zip, not ours, too big
        if info.engine != "keras":
            raise ModelFileError(f"{path}: holds a model of engine {info.engine!r}, not a Keras model")
        arch = info.settings.get("arch")
        if arch not in ARCHS:
            raise ModelFileError(f"{path}: saved arch is {arch!r}, expected one of {', '.join(ARCHS)}")
        if path.suffix != ".keras":
            raise ModelFileError(f"{path}: Keras can only read model files whose names end in .keras")
        check_keras_weights(path)
        try:
            model = keras.saving.load_model(path, safe_mode=True, compile=True)
        except Exception as err:  # noqa: BLE001  Keras raises many types for damaged archives; all mean the same here
            raise ModelFileError(f"{path}: cannot load Keras model ({type(err).__name__}: {err})") from None
        want_in, want_out = (None,) + INPUT_SHAPES[arch], (None, 10)
        got_in, got_out = tuple(model.inputs[0].shape), tuple(model.outputs[0].shape)
        if got_in != want_in or got_out != want_out:
            raise ModelFileError(f"{path}: network maps {got_in} to {got_out}, "
                                 f"expected {want_in} to {want_out} for arch {arch!r}")
        net = cls.__new__(cls)  # no fresh network (and no global re-seeding): use the loaded one
        net.arch = arch
        net.seed = info.settings.get("seed")
        net.model = model
        net.info = info
        net.history_ = []
        return net


class _AugmentedBatches(keras.utils.PyDataset):
    """Shuffled mini-batches of (n, 784) images, each distorted by `augment` as Keras asks for it.

    Runs in the training thread (no workers): the distortions are vectorised NumPy already.
    """

    def __init__(self, x, targets, batch_size, augment, shape, seed):
        super().__init__()
        self.x, self.targets, self.batch_size = x, targets, batch_size
        self.augment, self.shape = augment, shape
        self.rng = np.random.default_rng(seed)
        self.order = self.rng.permutation(len(x))

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        idx = self.order[index * self.batch_size : (index + 1) * self.batch_size]
        return self.shape(augmented(self.augment, self.x[idx], self.rng)), self.targets[idx]

    def on_epoch_end(self):
        self.order = self.rng.permutation(len(self.x))


class _ProgressBridge(keras.callbacks.Callback):
    """Turns Keras' batch and epoch events into `Progress` for our callbacks; True stops.

    Keras resets its metrics each epoch, so the loss and accuracy in its batch logs are the
    running means over the epoch so far, as `Progress` wants them.
    """

    def __init__(self, net: KerasModel, n: int, epochs: int, batch_size: int,
                 on_batch: Callback | None, on_epoch: Callback | None,
                 validation: tuple[np.ndarray, np.ndarray] | None):
        super().__init__()
        self.net, self.n, self.epochs, self.batch_size = net, n, epochs, batch_size
        self.on_batch, self.on_epoch, self.validation = on_batch, on_epoch, validation
        self.started = time.perf_counter()
        self.saved = net.model.get_weights()  # the weights of the last complete epoch
        self.completed = 0                     # complete epochs in this run
        self.interrupted = False               # on_batch asked to stop mid-epoch
        self.epoch = 1

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch + 1  # Keras counts from 0, Progress from 1

    def on_train_batch_end(self, batch, logs=None):
        if self.on_batch is None:
            return
        seen = min((batch + 1) * self.batch_size, self.n)  # `batch` is the 0-based step in this epoch
        progress = Progress(self.epoch, self.epochs, (self.epoch - 1) * self.n + seen, self.epochs * self.n,
                            float(logs["loss"]), float(logs["accuracy"]), time.perf_counter() - self.started)
        if self.on_batch(progress):
            self.interrupted = True
            self.model.stop_training = True  # Keras ends the epoch after this batch

    def on_epoch_end(self, epoch, logs=None):
        if self.interrupted:
            # Keras still reports the cut-short epoch; it does not count, and its weights go.
            # The optimizer keeps its state from those steps (numpy_net resets its momentum
            # instead); training can continue from the restored weights either way.
            self.model.set_weights(self.saved)
            return
        self.completed = self.epoch
        progress = Progress(self.epoch, self.epochs, self.epoch * self.n, self.epochs * self.n,
                            float(logs["loss"]), float(logs["accuracy"]), time.perf_counter() - self.started)
        if self.validation is not None:
            test_loss, test_acc = self.net.score(*self.validation)
            progress = replace(progress, test_loss=test_loss, test_accuracy=test_acc)
        self.net.history_.append(progress)
        self.saved = self.model.get_weights()
        if self.on_epoch is not None and self.on_epoch(progress):
            self.model.stop_training = True
