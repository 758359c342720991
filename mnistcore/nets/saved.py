"""Reading a saved model: its kind, its metadata and its NumPy weights, each checked before it costs memory.

The format's markers and limits are in `file_format`, the checks of a Keras config in
`keras_checks`; both are importable from here too.

A crafted file (a small npz declaring a huge hidden layer, a zip bomb, a Keras config with a huge
Dense layer) could cost gigabytes before it was refused. `model_kind` and `read_info` read only
the zip directory, the first bytes of each weight array (its .npy header) and the small JSON
entries, each with a size cap, and refuse any file whose network would exceed the limits. The
engines' `load` then reads the weights.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import zipfile
from pathlib import Path
from typing import BinaryIO
from collections.abc import Iterator

import numpy as np

from .base import ModelFileError, ModelInfo
from .file_format import (CNN_ARCH, CNN_SIZES, CNN_WEIGHTS, KERAS_CONFIG_ENTRY, KERAS_INFO_ENTRY, KERAS_LAYERS,
                          KERAS_MODEL, KERAS_OBJECTS, KERAS_WEIGHTS_ENTRY, MAX_ARCHIVE_BYTES, MAX_DIRECTORY_BYTES,
                          MAX_ENTRIES, MAX_LAYER_OUTPUTS, MAX_METADATA_BYTES, MAX_PARAMETERS, MAX_UNITS, MAX_WINDOW,
                          NPY_HEADER_BYTES, NUMPY_INFO_ENTRY, NUMPY_SIZES, NUMPY_WEIGHT_DTYPE, NUMPY_WEIGHTS)
from .keras_checks import check_keras_config, check_keras_weights

# Importable from here: the readers below, and the format's names and checks they rely on.
__all__ = ["CNN_ARCH", "CNN_SIZES", "CNN_WEIGHTS", "KERAS_CONFIG_ENTRY", "KERAS_INFO_ENTRY", "KERAS_LAYERS",
           "KERAS_MODEL", "KERAS_OBJECTS", "KERAS_WEIGHTS_ENTRY", "MAX_ARCHIVE_BYTES", "MAX_DIRECTORY_BYTES",
           "MAX_ENTRIES", "MAX_LAYER_OUTPUTS", "MAX_METADATA_BYTES", "MAX_PARAMETERS", "MAX_UNITS", "MAX_WINDOW",
           "NPY_HEADER_BYTES", "NUMPY_INFO_ENTRY", "NUMPY_SIZES", "NUMPY_WEIGHT_DTYPE", "NUMPY_WEIGHTS",
           "check_keras_config", "check_keras_weights", "cnn_shapes", "is_cnn", "model_kind", "npy_header",
           "numpy_shapes", "open_checked", "read_info", "read_weights"]


def read_weights(f: BinaryIO, path: Path, shapes: dict[str, tuple[int, ...]]) -> dict[str, np.ndarray]:
    """The arrays named in `shapes` from a NumPy network's file that `open_checked` has checked
    (its open file `f`), each float32, of its shape and finite; ModelFileError names the file."""
    try:
        with np.load(f, allow_pickle=False) as npz:  # the file just checked, not the path again
            arrays = {name: npz[name] for name in shapes}
    except KeyError as err:
        raise ModelFileError(f"{path}: saved network is missing the array {err}") from None
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
        raise ModelFileError(f"{path}: cannot read saved network ({err})") from None
    for name, shape in shapes.items():
        array = arrays[name]
        if array.shape != tuple(shape) or array.dtype != np.float32:
            raise ModelFileError(f"{path}: {name} is {array.dtype} {array.shape}, expected float32 {tuple(shape)}")
        if not np.isfinite(array).all():
            raise ModelFileError(f"{path}: {name} contains NaN or infinite values")
        arrays[name] = np.ascontiguousarray(array)
    return arrays


def model_kind(path: str | os.PathLike) -> str:
    """"numpy" or "keras" for a saved model file within the limits; ModelFileError for anything else."""
    with open_checked(path) as (_, kind, _):
        return kind


def read_info(path: str | os.PathLike) -> ModelInfo:
    """A saved model's metadata, without loading its weights (or TensorFlow), once the file is checked."""
    with open_checked(path) as (_, _, info):
        return info


@contextlib.contextmanager
def open_checked(path: str | os.PathLike) -> Iterator[tuple[BinaryIO, str, ModelInfo]]:
    """(open file, kind, metadata) of a saved model, after every check that needs no weights.

    Load the weights from this file object rather than opening the path again: then the file
    that was checked is the file that is read, even if another is renamed into its place.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        f = open(path, "rb")
    except OSError as err:
        raise ModelFileError(f"{path}: cannot open model file ({err})") from None
    with f:
        kind, info = _checked(path, f)
        f.seek(0)
        yield f, kind, info


def _checked(path: Path, f: BinaryIO) -> tuple[str, ModelInfo]:
    """The file's kind and metadata, after every check that needs no weights (see the module docstring)."""
    try:
        _check_file(path, f)
        with zipfile.ZipFile(f) as archive:
            kind = _kind(archive, path)
            _check_sizes(archive, path)
            if kind == "numpy":
                info = ModelInfo.from_json(_numpy_info_text(archive, path), path)
                if info.engine == "numpy":  # another engine's metadata: the engines' load refuses it
                    if is_cnn(info.settings):
                        _check_arrays(archive, path, cnn_shapes(info.settings, path))
                    else:
                        _check_arrays(archive, path, numpy_shapes(info.settings, path))
            else:
                info = ModelInfo.from_json(_read_small(archive, KERAS_INFO_ENTRY, path).decode("utf-8"), path)
                check_keras_config(json.loads(_read_small(archive, KERAS_CONFIG_ENTRY, path)), path)
    except ModelFileError:
        raise
    # Anything else the file's contents provoke (a config of the wrong shape, say) is its fault.
    except (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError, RecursionError,
            zipfile.BadZipFile) as err:
        raise ModelFileError(f"{path}: cannot read saved model ({type(err).__name__}: {err})") from None
    return kind, info


# ---------------------------------------------------------------------------- the archive


def _check_file(path: Path, f: BinaryIO) -> None:
    """Refuse, before zipfile reads its directory, a file too big or with too large a directory."""
    size = os.fstat(f.fileno()).st_size
    if size == 0:
        raise ModelFileError(f"{path}: the file is empty")
    if size > MAX_ARCHIVE_BYTES:
        raise ModelFileError(f"{path}: the file holds {size} bytes; at most {MAX_ARCHIVE_BYTES}")
    # zipfile builds an object for every entry of the central directory, so its size is read first,
    # from the end record: the file's last 22 bytes in every archive we write (no zip comment; no
    # ZIP64 record, which only archives of 65,535 entries or 4 GB need).
    f.seek(max(0, size - 42))
    tail = f.read()
    end = tail[-22:]
    if len(end) < 22 or end[:4] != b"PK\x05\x06" or end[-2:] != b"\0\0":
        raise ModelFileError(f"{path}: not a saved model (not a zip archive, or one with a comment)")
    if tail[-42:-38] == b"PK\x06\x07":
        raise ModelFileError(f"{path}: not a saved model (a ZIP64 archive)")
    directory = int.from_bytes(end[12:16], "little")  # bytes of the central directory
    if directory > MAX_DIRECTORY_BYTES:
        raise ModelFileError(f"{path}: the archive's directory holds {directory} bytes; "
                             f"at most {MAX_DIRECTORY_BYTES}")
    f.seek(0)


def _kind(archive: zipfile.ZipFile, path: Path) -> str:
    names = set(archive.namelist())
    if NUMPY_INFO_ENTRY in names:
        return "numpy"
    if KERAS_INFO_ENTRY in names and KERAS_CONFIG_ENTRY in names:
        return "keras"
    raise ModelFileError(f"{path}: a zip archive, but not a model saved by MNIST Lab")


def _check_sizes(archive: zipfile.ZipFile, path: Path) -> None:
    """Refuse entries that would unpack to more than the limits (a zip bomb), from the directory alone."""
    entries = archive.infolist()
    if len(entries) > MAX_ENTRIES:
        raise ModelFileError(f"{path}: the archive holds {len(entries)} entries; at most {MAX_ENTRIES}")
    for entry in entries:
        if (entry.filename == NUMPY_INFO_ENTRY or entry.filename.endswith(".json")) \
                and entry.file_size > MAX_METADATA_BYTES:
            raise ModelFileError(f"{path}: {entry.filename} unpacks to {entry.file_size} bytes; "
                                 f"at most {MAX_METADATA_BYTES}")
    total = sum(entry.file_size for entry in entries)
    if total > MAX_ARCHIVE_BYTES:
        raise ModelFileError(f"{path}: the archive unpacks to {total} bytes; at most {MAX_ARCHIVE_BYTES}")


def _read_small(archive: zipfile.ZipFile, name: str, path: Path) -> bytes:
    """A metadata entry's bytes, reading at most MAX_METADATA_BYTES whatever its directory says."""
    with archive.open(name) as f:
        data = f.read(MAX_METADATA_BYTES + 1)
    if len(data) > MAX_METADATA_BYTES:
        raise ModelFileError(f"{path}: {name} holds more than {MAX_METADATA_BYTES} bytes")
    return data


# ---------------------------------------------------------------------------- NumPy networks


def npy_header(archive: zipfile.ZipFile, name: str, path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """(shape, dtype) of an .npy entry, from its header alone (NPY_HEADER_BYTES read at most)."""
    with archive.open(name) as f:
        head = io.BytesIO(f.read(NPY_HEADER_BYTES))  # numpy reads as long a header as it declares
    try:
        version = np.lib.format.read_magic(head)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(head)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(head)
        else:
            raise ValueError(f"version {version} of the .npy format, expected 1.0 or 2.0")
    except ValueError as err:
        raise ModelFileError(f"{path}: {name} is not an array we can read ({err})") from None
    return shape, dtype


def _numpy_info_text(archive: zipfile.ZipFile, path: Path) -> str:
    """The JSON text in info.npy: a 0-d unicode array, checked by its header before it is read."""
    shape, dtype = npy_header(archive, NUMPY_INFO_ENTRY, path)
    if shape != () or dtype.kind != "U" or dtype.itemsize > MAX_METADATA_BYTES:
        raise ModelFileError(f"{path}: {NUMPY_INFO_ENTRY} is {dtype} {shape}, expected text "
                             f"of at most {MAX_METADATA_BYTES} bytes")
    data = _read_small(archive, NUMPY_INFO_ENTRY, path)
    return str(np.load(io.BytesIO(data), allow_pickle=False))


def _layer_sizes(settings: object, names: dict[str, str], path: Path) -> dict[str, int]:
    """The layer sizes `names` (settings key: what it counts) from saved settings, each 1 to MAX_UNITS."""
    if not isinstance(settings, dict):
        raise ModelFileError(f"{path}: saved settings are {type(settings).__name__}, expected a dict")
    sizes = {}
    for key, what in names.items():
        value = settings.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ModelFileError(f"{path}: saved settings declare {value!r} {what} ({key}); "
                                 "expected a whole number >= 1")
        if value > MAX_UNITS:
            raise ModelFileError(f"{path}: declares {value} {what}; at most {MAX_UNITS}")
        sizes[key] = value
    return sizes


def numpy_shapes(settings: object, path: Path) -> dict[str, tuple[int, ...]]:
    """The weight arrays' shapes that a NumPy network's saved settings call for, within the limits."""
    sizes = _layer_sizes(settings, NUMPY_SIZES, path)
    i, h, o = sizes["inputnodes"], sizes["hiddennodes"], sizes["outputnodes"]
    shapes = {"wih": (h, i), "who": (o, h), "bh": (h,), "bo": (o,)}
    parameters = sum(math.prod(shape) for shape in shapes.values())
    if parameters > MAX_PARAMETERS:
        raise ModelFileError(f"{path}: declares a {i}-{h}-{o} network of {parameters} weights; "
                             f"at most {MAX_PARAMETERS}")
    return shapes


def is_cnn(settings: object) -> bool:
    """Whether a NumPy model's saved settings are the convnet's (else: the MLP's)."""
    return isinstance(settings, dict) and settings.get("arch") == CNN_ARCH


def cnn_shapes(settings: object, path: Path) -> dict[str, tuple[int, ...]]:
    """The weight arrays' shapes that a NumPy convnet's saved settings call for, within the limits.

    Besides the weights, the filters set how much every image costs in memory as it passes
    through (26 x 26 values per first-layer filter), so the layers' outputs are limited too.
    """
    sizes = _layer_sizes(settings, CNN_SIZES, path)
    f1, f2 = sizes["filters1"], sizes["filters2"]
    for values, what in ((26 * 26 * f1, f"the first convolution's {f1} filters"),
                         (11 * 11 * f2, f"the second convolution's {f2} filters")):
        if values > MAX_LAYER_OUTPUTS:
            raise ModelFileError(f"{path}: {what} output {values} values per image; at most {MAX_LAYER_OUTPUTS}")
    shapes = {"w1": (3, 3, 1, f1), "b1": (f1,), "w2": (3, 3, f1, f2), "b2": (f2,), "w3": (25 * f2, 10), "b3": (10,)}
    parameters = sum(math.prod(shape) for shape in shapes.values())
    if parameters > MAX_PARAMETERS:
        raise ModelFileError(f"{path}: declares a conv{f1}-conv{f2}-10 network of {parameters} weights; "
                             f"at most {MAX_PARAMETERS}")
    return shapes


def _check_arrays(archive: zipfile.ZipFile, path: Path, shapes: dict[str, tuple[int, ...]]) -> None:
    """Every weight array is there, float32, and shaped as the settings say, by its header."""
    names = set(archive.namelist())
    for name, expected in shapes.items():
        if f"{name}.npy" not in names:
            raise ModelFileError(f"{path}: saved network is missing the array {name!r}")
        shape, dtype = npy_header(archive, f"{name}.npy", path)
        if shape != expected or dtype != NUMPY_WEIGHT_DTYPE:
            raise ModelFileError(f"{path}: {name} is {dtype} {shape}, expected {NUMPY_WEIGHT_DTYPE} {expected}")
