"""What a Keras model file of ours may declare, checked before Keras or TensorFlow reads it.

Keras builds every layer's weights while it reads config.json, and reads each HDF5 weight dataset
whole, so a crafted file could cost gigabytes before Keras refuses it. These checks work out the
sizes from the config and the datasets' shapes alone, against the limits in `file_format`.
"""
from __future__ import annotations

import math
import os
import zipfile
from pathlib import Path

from .base import ModelFileError
from .file_format import (KERAS_LAYERS, KERAS_MODEL, KERAS_OBJECTS, KERAS_WEIGHTS_ENTRY, MAX_ARCHIVE_BYTES,
                          MAX_LAYER_OUTPUTS, MAX_PARAMETERS, MAX_UNITS, MAX_WINDOW)


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
        extra = [name for name in archive.namelist()
                 if name.startswith("model.weights") and name != KERAS_WEIGHTS_ENTRY]
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
