"""The networks: one interface (`base`), one file format (`saved`), two engines.

This is the only module that names both engines. Importing it is cheap: TensorFlow is imported
only when a Keras model is built or loaded.
"""
from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from ..paths import DEFAULT_MODEL_PATH
from .base import DigitModel, ModelFileError, ModelInfo, Progress
from .saved import is_cnn, model_kind, open_checked, read_info

ENGINES = ("numpy", "keras")
KERAS_ARCHS = ("mlp", "cnn")
NUMPY_ARCHS = ("mlp", "cnn")

__all__ = ["ENGINES", "KERAS_ARCHS", "NUMPY_ARCHS", "DigitModel", "ModelFileError", "ModelInfo", "Progress",
           "build_model", "keras_problem", "load_model", "model_kind", "read_info"]


def build_model(engine: str, *, arch: str = "mlp", hidden: int = 512, learning_rate: float | None = None,
                activation: str = "relu", momentum: float = 0.9, seed: int | None = 0,
                optimizer: str = "sgd", schedule: str = "constant") -> DigitModel:
    """A fresh, untrained model of `engine` ("numpy" or "keras") and `arch` ("mlp" or "cnn").

    NumPy "mlp": 784-`hidden`-10 with `activation`, SGD at `learning_rate` (default 0.1) with
    `momentum`. NumPy "cnn": keras-io's convnet (conv 32, conv 64, dense 10), Adam at
    `learning_rate` (default 0.001); `hidden`, `activation` and `momentum` do not apply.
    Keras: the tutorial's MLP or keras-io's convnet, with Keras' own optimisers (only `seed` applies).
    ValueError names an unknown engine or arch.
    """
    if engine == "numpy":
        if arch == "mlp":
            from .numpy_net import NeuralNetWork
            rate = 0.1 if learning_rate is None else float(learning_rate)
            return NeuralNetWork(784, int(hidden), 10, rate, activation=activation, momentum=float(momentum),
                                 seed=seed, optimizer=optimizer, schedule=schedule)
        if arch == "cnn":
            from .numpy_cnn import CnnConfig, ConvNet
            rate = CnnConfig.learning_rate if learning_rate is None else float(learning_rate)
            return ConvNet(CnnConfig(learning_rate=rate, seed=seed, schedule=schedule))
        raise ValueError(f"arch for the numpy engine must be one of {', '.join(NUMPY_ARCHS)}; got {arch!r}")
    if engine == "keras":
        if arch not in KERAS_ARCHS:
            raise ValueError(f"arch for the keras engine must be one of {', '.join(KERAS_ARCHS)}; got {arch!r}")
        from .keras_net import KerasModel  # imports TensorFlow: only when a Keras model is built
        return KerasModel(arch=arch, seed=seed)
    raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")


def load_model(path: str | os.PathLike | None = None) -> DigitModel:
    """Load any saved model, NumPy (MLP or convnet) or Keras; None loads the shipped default model.

    Never unpickles: NumPy weights load with allow_pickle=False, Keras with safe_mode=True.
    """
    path = Path(path) if path is not None else DEFAULT_MODEL_PATH
    with open_checked(path) as (_, kind, info):  # the metadata only; each engine's load checks again
        pass
    if kind == "numpy":
        if is_cnn(info.settings):
            from .numpy_cnn import ConvNet
            return ConvNet.load(path)
        from .numpy_net import NeuralNetWork
        return NeuralNetWork.load(path)
    from .keras_net import KerasModel  # imports TensorFlow: only when a Keras model is loaded
    return KerasModel.load(path)


def keras_problem() -> str | None:
    """Why this machine cannot use the Keras engine, in plain words; None if it can.

    Looks without importing anything (TensorFlow takes seconds to import).
    """
    for module, what in (("tensorflow", "TensorFlow is not installed"),
                         ("mnistcore.nets.keras_net", "the Keras engine (mnistcore/nets/keras_net.py) is missing")):
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if not found:
            return what
    return None
