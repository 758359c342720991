"""The networks: one interface (`base`), one file format (`saved`), the engines, and the registry of
networks one can train (`registry`), which is the only module that names every engine.

Importing it is cheap: TensorFlow is imported only when a Keras model is built or loaded.
"""
from __future__ import annotations

import os
from pathlib import Path

from ..paths import DEFAULT_MODEL_PATH
from .base import DigitModel, ModelFileError, ModelInfo, Progress
from .registry import ENGINES, MODEL_SETTINGS, NETWORKS, Network, arch_of, archs, keras_problem, network, network_of
from .saved import model_kind, open_checked, read_info

__all__ = ["ENGINES", "NETWORKS", "DigitModel", "ModelFileError", "ModelInfo", "Network", "Progress", "archs",
           "build_model", "keras_problem", "load_model", "model_kind", "network", "network_of", "read_info"]


def build_model(engine: str, *, arch: str = "mlp", seed: int | None = 0, **settings) -> DigitModel:
    """A fresh, untrained model of `engine` ("numpy" or "keras") and `arch` ("mlp" or "cnn"), by keywords.

    `settings` are model settings (registry.MODEL_SETTINGS: hidden, learning_rate, ...); those the
    network does not use are ignored, and those not given (or None) take the network's defaults,
    e.g. NumPy "mlp": 784-512-10 ReLU, SGD at 0.1 with momentum 0.9; NumPy "cnn": keras-io's
    convnet, Adam at 0.001. Keras uses only `seed`. ValueError names an unknown engine, arch or setting.
    """
    unknown = [name for name in settings if name not in MODEL_SETTINGS]
    if unknown:
        raise ValueError(f"unknown model settings {', '.join(unknown)}; known: {', '.join(MODEL_SETTINGS)}")
    chosen = network(engine, arch)
    return chosen.build(seed, **{name: value for name, value in settings.items()
                                 if name in chosen.applies and value is not None})


def load_model(path: str | os.PathLike | None = None) -> DigitModel:
    """Load any saved model, NumPy (MLP or convnet) or Keras; None loads the shipped default model.

    Never unpickles: NumPy weights load with allow_pickle=False, Keras with safe_mode=True.
    """
    path = Path(path) if path is not None else DEFAULT_MODEL_PATH
    with open_checked(path) as (_, kind, info):  # the metadata only; each engine's load checks again
        pass
    return network(kind, arch_of(info.settings)).load(path)
