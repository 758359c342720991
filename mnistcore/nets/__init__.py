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
from .saved import model_kind, read_info

ENGINES = ("numpy", "keras")
KERAS_ARCHS = ("mlp", "cnn")

__all__ = ["ENGINES", "KERAS_ARCHS", "DigitModel", "ModelFileError", "ModelInfo", "Progress", "build_model",
           "keras_problem", "load_model", "model_kind", "read_info"]


def build_model(engine: str, *, arch: str = "mlp", hidden: int = 512, learning_rate: float = 0.1,
                activation: str = "relu", momentum: float = 0.9, seed: int | None = 0) -> DigitModel:
    """A fresh, untrained model. `arch` is Keras' ("mlp" or "cnn"); the others are the NumPy network's."""
    if engine == "numpy":
        from .numpy_net import NeuralNetWork
        return NeuralNetWork(784, int(hidden), 10, float(learning_rate), activation=activation,
                             momentum=float(momentum), seed=seed)
    if engine == "keras":
        from .keras_net import KerasModel  # imports TensorFlow: only when a Keras model is built
        return KerasModel(arch=arch, seed=seed)
    raise ValueError(f"engine must be one of {', '.join(ENGINES)}; got {engine!r}")


def load_model(path: str | os.PathLike | None = None) -> DigitModel:
    """Load any saved model, NumPy or Keras; None loads the shipped default model.

    Never unpickles: NumPy weights load with allow_pickle=False, Keras with safe_mode=True.
    """
    path = Path(path) if path is not None else DEFAULT_MODEL_PATH
    if model_kind(path) == "numpy":
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
