"""The saved-model file format, read without loading weights (or TensorFlow).

Both engines save one zip archive:
- NumPy: an `.npz` of the weight arrays plus `info.npy`, the `ModelInfo` as JSON text;
- Keras: Keras' own `.keras` archive (with its `config.json`) plus `mnistlab.json`, our `ModelInfo`.
Every marker of the format is spelled here and nowhere else.
"""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from .base import ModelFileError, ModelInfo

NUMPY_INFO_ENTRY = "info.npy"        # np.savez's name for the `info` array
KERAS_INFO_ENTRY = "mnistlab.json"   # added by us to Keras' archive
KERAS_CONFIG_ENTRY = "config.json"   # written by Keras itself


def model_kind(path: str | os.PathLike) -> str:
    """"numpy" or "keras" for a saved model file; ModelFileError for anything else."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    if path.stat().st_size == 0:
        raise ModelFileError(f"{path}: the file is empty")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError) as err:
        raise ModelFileError(f"{path}: not a saved model (not a zip archive: {err})") from None
    if NUMPY_INFO_ENTRY in names:
        return "numpy"
    if KERAS_INFO_ENTRY in names and KERAS_CONFIG_ENTRY in names:
        return "keras"
    raise ModelFileError(f"{path}: a zip archive, but not a model saved by MNIST Lab")


def read_info(path: str | os.PathLike) -> ModelInfo:
    """A saved model's metadata, without loading its weights (or TensorFlow)."""
    path = Path(path)
    kind = model_kind(path)
    try:
        with zipfile.ZipFile(path) as archive:
            if kind == "numpy":
                with archive.open(NUMPY_INFO_ENTRY) as f:
                    text = str(np.load(f, allow_pickle=False))
            else:
                text = archive.read(KERAS_INFO_ENTRY).decode("utf-8")
    except (OSError, ValueError, zipfile.BadZipFile) as err:
        raise ModelFileError(f"{path}: cannot read model metadata ({err})") from None
    return ModelInfo.from_json(text, path)
