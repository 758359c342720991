"""The saved-model file format, read and checked without loading weights (or TensorFlow).

Both engines save one zip archive:
- NumPy: an `.npz` of the weight arrays plus `info.npy`, the `ModelInfo` as JSON text (the MLP's
  wih, who, bh, bo; the convnet's w1, b1, w2, b2, w3, b3, its settings marked "arch": "cnn");
- Keras: Keras' own `.keras` archive (with its `config.json`) plus `mnistlab.json`, our `ModelInfo`.
Every marker of the format is spelled here and nowhere else, and so is every limit.

A file is checked before it can cost memory: a crafted file (a 50 KB npz declaring 100,000
hidden units, a 1 MB zip bomb, a Keras config with Dense(100000)) once cost 1-3 GB before it was
refused. `model_kind` and `read_info` read only the zip directory, the first bytes of each
weight array (its .npy header) and the small JSON entries, each read with a size cap, and refuse
any file whose network would exceed the limits below. The engines' `load` then reads the weights.
"""
from __future__ import annotations

import contextlib
import io
import json
import math
import os
import zipfile
from pathlib import Path
from typing import BinaryIO, Iterator

import numpy as np

from .base import ModelFileError, ModelInfo

NUMPY_INFO_ENTRY = "info.npy"        # np.savez's name for the `info` array
NUMPY_WEIGHTS = ("wih", "who", "bh", "bo")  # the weight arrays, each saved as "<name>.npy", float32
NUMPY_WEIGHT_DTYPE = np.dtype(np.float32)
NUMPY_SIZES = {"inputnodes": "inputs", "hiddennodes": "hidden units", "outputnodes": "outputs"}  # in settings
# The NumPy convnet (numpy_cnn.ConvNet): settings["arch"] == "cnn" (MLP files have no "arch").
CNN_ARCH = "cnn"
CNN_WEIGHTS = ("w1", "b1", "w2", "b2", "w3", "b3")  # conv, conv, dense; Keras' layouts; float32
CNN_SIZES = {"filters1": "filters in the first convolution", "filters2": "filters in the second"}
KERAS_INFO_ENTRY = "mnistlab.json"   # added by us to Keras' archive
KERAS_CONFIG_ENTRY = "config.json"   # written by Keras itself
KERAS_WEIGHTS_ENTRY = "model.weights.h5"  # written by Keras itself

# ---------------------------------------------------------------------------- limits
# Generous for any network the lab trains (the Train page allows up to 1024 hidden units; the
# Keras MLP has 0.4 M parameters, the convnet 35 k), small enough that no file can cost much.
MAX_UNITS = 4096                 # nodes in any layer, filters in any convolution
MAX_PARAMETERS = 4_000_000       # weights in one network: 16 MB of float32 (784-4096-10 has 3.26 M)
MAX_LAYER_OUTPUTS = 50_000       # values one Keras layer outputs per image (the convnet's largest: 21,632)
MAX_WINDOW = 28                  # a convolution kernel, pooling window or stride: at most an image wide
MAX_METADATA_BYTES = 64 * 1024   # info.npy and every .json entry (a few KB in practice)
# The whole archive, uncompressed: the weights three times over (Keras saves Adam's two slots per
# weight beside it), plus room for headers and metadata. Also the most a file may weigh on disk.
MAX_ARCHIVE_BYTES = 3 * 4 * MAX_PARAMETERS + 1024 * 1024
MAX_ENTRIES = 16                 # files in the archive (NumPy MLP: 5, convnet: 7, Keras: 4)
MAX_DIRECTORY_BYTES = 64 * 1024  # the archive's list of files (ours: under 1 KB)
NPY_HEADER_BYTES = 4096          # read of each .npy member to find its header (ours are 128 bytes)

# What a Keras file of ours may hold (keras_net.build_network uses only these): the layers, by
# the shape they take, and every other object its config.json names. Keras builds anything its
# config names, so anything else is refused before Keras sees it.
KERAS_MODEL = "Sequential"
KERAS_LAYERS = ("InputLayer", "Dense", "Conv2D", "MaxPooling2D", "Flatten", "Dropout")
KERAS_OBJECTS = ("DTypePolicy", "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "Zeros", "Ones",
                 "RandomNormal", "RandomUniform", "RMSprop", "Adam", "SGD")


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
    # zipfile builds an object for every entry of the central directory (a 35 MB file of 400,000
    # empty entries cost 230 MB), so its size is read first, from the end record: the file's last
    # 22 bytes in every archive we write (no zip comment; no ZIP64 record, which only archives
    # of 65,535 entries or 4 GB need).
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


# ---------------------------------------------------------------------------- Keras models


def check_keras_config(config: object, path: str | os.PathLike) -> int:
    """The weights a Keras config.json's network has; ModelFileError unless it is one of ours within the limits.

    Keras builds every layer's weights while it reads the config, before it reads any weights, so
    the sizes are checked here: each layer's output shape is worked out from the input layer's,
    and with it the weights each layer would make. (Up to a Python Lambda layer, which Keras'
    safe mode refuses.)
    """
    if not isinstance(config, dict) or config.get("class_name") != KERAS_MODEL or config.get("module") != "keras":
        found = config.get("class_name") if isinstance(config, dict) else config
        raise ModelFileError(f"{path}: holds a Keras {found!r} model; MNIST Lab saves {KERAS_MODEL} models only")
    body = config.get("config")
    layers = body.get("layers") if isinstance(body, dict) else None
    if not isinstance(layers, list) or not layers:
        raise ModelFileError(f"{path}: the Keras config lists no layers")
    # Everything but the layers (dtype, compile_config with the optimizer, build_config).
    for key, value in [*config.items(), *body.items()]:
        if key not in ("config", "layers"):
            _check_keras_objects(value, path)
    shape = None      # one image's shape (no batch axis) as it enters the next layer
    parameters = 0
    for layer in layers:
        if _is_python_lambda(layer):
            # Keras' safe_mode refuses a Lambda layer holding Python code as it reaches it, before
            # it makes any later layer (or the optimizer); keras_net loads with safe_mode=True.
            break
        name, shape, weights = _keras_layer(layer, shape, path)
        parameters += weights
        if parameters > MAX_PARAMETERS:
            raise ModelFileError(f"{path}: layer {name!r} brings the network to {parameters} weights; "
                                 f"at most {MAX_PARAMETERS}")
    else:
        # Keras builds the whole model for these shapes too: they must be the input layer's.
        first = [None, *_input_shape(layers[0], path)]
        for declared in ((config.get("build_config") or {}).get("input_shape"), body.get("build_input_shape")):
            if declared is not None and declared != first:
                raise ModelFileError(f"{path}: the model is built for input {declared}, "
                                     f"but its input layer takes {first}")
    return parameters


def _is_python_lambda(layer: object) -> bool:
    if not isinstance(layer, dict) or layer.get("class_name") != "Lambda" or layer.get("module") != "keras.layers":
        return False
    function = (layer.get("config") or {}).get("function")
    return isinstance(function, dict) and function.get("class_name") == "__lambda__"


def _check_keras_objects(tree: object, path: Path) -> None:
    """Every object a config (part) names is one of KERAS_OBJECTS, from Keras itself."""
    if isinstance(tree, list):
        for item in tree:
            _check_keras_objects(item, path)
    elif isinstance(tree, dict):
        if "class_name" in tree:
            cls, module = tree.get("class_name"), tree.get("module")
            if cls not in KERAS_OBJECTS or not isinstance(module, str) or module.split(".")[0] != "keras" \
                    or tree.get("registered_name") is not None:
                raise ModelFileError(f"{path}: the Keras config names {cls!r} (module {module!r}), "
                                     "which MNIST Lab's networks never use")
        for value in tree.values():
            _check_keras_objects(value, path)


def _keras_layer(layer: object, shape: tuple[int, ...] | None, path: Path) -> tuple[str, tuple[int, ...], int]:
    """(name, output shape, weights) of one layer of a Sequential config taking inputs of `shape`."""
    if not isinstance(layer, dict) or not isinstance(layer.get("config"), dict):
        raise ModelFileError(f"{path}: the Keras config has a layer that is not an object: {str(layer)[:80]}")
    cls, config = layer.get("class_name"), layer["config"]
    name = config.get("name", cls)
    if cls not in KERAS_LAYERS or layer.get("module") != "keras.layers" or layer.get("registered_name") is not None:
        raise ModelFileError(f"{path}: layer {name!r} is a {cls!r} (module {layer.get('module')!r}); "
                             f"MNIST Lab's networks use only {', '.join(KERAS_LAYERS)}")
    _check_keras_objects(config, path)
    if (cls == "InputLayer") != (shape is None):
        raise ModelFileError(f"{path}: layer {name!r} is a {cls}; an InputLayer must come first, and only there")
    if shape is not None:
        declared = (layer.get("build_config") or {}).get("input_shape")
        if declared is not None and declared != [None, *shape]:  # Keras would build it for `declared`
            raise ModelFileError(f"{path}: layer {name!r} is built for input {declared}, "
                                 f"but receives {[None, *shape]}")
    weights = 0
    if cls == "InputLayer":
        out = _input_shape(layer, path)
    elif cls == "Dense":
        units = _whole(config, "units", name, path, MAX_UNITS)
        lora = config.get("lora_rank") or 0
        lora = _whole({"lora_rank": lora}, "lora_rank", name, path, MAX_UNITS, low=0)
        weights = shape[-1] * units + units + lora * (shape[-1] + units)
        out = shape[:-1] + (units,)
    elif cls in ("Conv2D", "MaxPooling2D"):
        out, weights = _window_layer(cls, config, shape, name, path)
    elif cls == "Flatten":
        out = (math.prod(shape),)
    else:  # Dropout
        out = shape
    if math.prod(out) > MAX_LAYER_OUTPUTS:
        raise ModelFileError(f"{path}: layer {name!r} outputs {out} = {math.prod(out)} values per image; "
                             f"at most {MAX_LAYER_OUTPUTS}")
    return name, out, weights


def _input_shape(layer: dict, path: Path) -> tuple[int, ...]:
    config = layer.get("config") or {}
    name = config.get("name", "input")
    batch_shape = config.get("batch_shape")
    if not isinstance(batch_shape, list) or len(batch_shape) < 2 or batch_shape[0] is not None:
        raise ModelFileError(f"{path}: input layer {name!r} declares batch_shape {batch_shape!r}, "
                             "expected [null, size, ...]")
    return tuple(_whole({"batch_shape": size}, "batch_shape", name, path, MAX_UNITS) for size in batch_shape[1:])


def _window_layer(cls: str, config: dict, shape: tuple[int, ...], name: str, path: Path):
    """Output shape and weights of a Conv2D or MaxPooling2D on (height, width, channels) inputs."""
    if len(shape) != 3:
        raise ModelFileError(f"{path}: layer {name!r} ({cls}) receives {shape}, expected (height, width, channels)")
    if config.get("data_format", "channels_last") != "channels_last":
        raise ModelFileError(f"{path}: layer {name!r} has data_format {config.get('data_format')!r}, "
                             "expected 'channels_last'")
    padding = config.get("padding", "valid")
    if padding not in ("valid", "same"):
        raise ModelFileError(f"{path}: layer {name!r} has padding {padding!r}, expected 'valid' or 'same'")
    window_key = "kernel_size" if cls == "Conv2D" else "pool_size"
    window = _pair(config, window_key, name, path)
    strides = _pair(config, "strides", name, path) if config.get("strides") is not None else window
    dilation = _pair(config, "dilation_rate", name, path) if cls == "Conv2D" else (1, 1)
    sides = []
    for size, k, s, d in zip(shape[:2], window, strides, dilation):
        span = d * (k - 1) + 1
        side = -(-size // s) if padding == "same" else (size - span) // s + 1
        if side < 1:
            raise ModelFileError(f"{path}: layer {name!r} ({cls}) has a {window_key} of {list(window)} "
                                 f"wider than its input {shape}")
        sides.append(side)
    channels = shape[2]
    if cls == "MaxPooling2D":
        return (*sides, channels), 0
    filters = _whole(config, "filters", name, path, MAX_UNITS)
    groups = _whole({"groups": config.get("groups", 1)}, "groups", name, path, MAX_UNITS)
    if channels % groups or filters % groups:
        raise ModelFileError(f"{path}: layer {name!r} has {groups} groups for {channels} channels "
                             f"and {filters} filters")
    weights = window[0] * window[1] * (channels // groups) * filters + filters
    return (*sides, filters), weights


def _pair(config: dict, key: str, name: str, path: Path) -> tuple[int, int]:
    value = config.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = [value, value]
    if not isinstance(value, list) or len(value) != 2:
        raise ModelFileError(f"{path}: layer {name!r} declares {key} {value!r}, expected two whole numbers")
    return tuple(_whole({key: v}, key, name, path, MAX_WINDOW) for v in value)


def _whole(config: dict, key: str, name: str, path: Path, high: int, low: int = 1) -> int:
    """config[key] as a whole number in [low, high], else ModelFileError naming the layer and value."""
    value = config.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ModelFileError(f"{path}: layer {name!r} declares {key} {value!r}; expected a whole number >= {low}")
    if value > high:
        raise ModelFileError(f"{path}: layer {name!r} declares {key} {value}; at most {high}")
    return value


def check_keras_weights(path: str | os.PathLike) -> None:
    """Refuse a .keras archive whose weights file declares more data than the limits allow.

    An HDF5 dataset may declare a huge shape while storing next to nothing (compressed fill
    values), and Keras reads each dataset whole before it compares shapes; its own guard starts
    at 4 GB. Reads the datasets' shapes only (h5py, which Keras uses, without TensorFlow).
    """
    import h5py  # only here: nothing else of ours reads HDF5

    path = Path(path)
    with zipfile.ZipFile(path) as archive:
        extra = [name for name in archive.namelist() if name.startswith("model.weights") and name != KERAS_WEIGHTS_ENTRY]
        if extra or KERAS_WEIGHTS_ENTRY not in archive.namelist():
            raise ModelFileError(f"{path}: Keras weights are in {extra or 'no file'}, expected {KERAS_WEIGHTS_ENTRY}")
        declared = []

        def add(name, item):
            if isinstance(item, h5py.Dataset):
                declared.append(math.prod(item.shape or ()) * item.dtype.itemsize)

        try:
            with archive.open(KERAS_WEIGHTS_ENTRY) as member, h5py.File(member, "r") as weights:
                weights.visititems(add)
        except (OSError, ValueError, KeyError, RuntimeError) as err:  # h5py's errors for a damaged file
            raise ModelFileError(f"{path}: cannot load Keras model ({KERAS_WEIGHTS_ENTRY} is unreadable: "
                                 f"{type(err).__name__}: {err})") from None
    if sum(declared) > MAX_ARCHIVE_BYTES:
        raise ModelFileError(f"{path}: {KERAS_WEIGHTS_ENTRY} declares {sum(declared)} bytes of weights; "
                             f"at most {MAX_ARCHIVE_BYTES}")
