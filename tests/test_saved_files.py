"""Saved model files are checked before they cost memory: crafted files are refused, cheaply.

Each crafted file here once cost 1-5 GB before it was refused (a 1 KB npz declaring 100,000 hidden
units: 940 MB; a 1 MB zip bomb in info.npy: 1.9 GB; a Keras config with Dense(100000): 900 MB;
an HDF5 dataset declaring 1.2 GB in a 3 MB .keras: 4.8 GB). The memory tests load them in a
fresh interpreter and measure how far its peak resident memory rises.
"""
from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mnistcore.nets import keras_problem, load_model, read_info
from mnistcore.nets.base import ModelFileError, ModelInfo
from mnistcore.nets.numpy_net import NeuralNetWork
from mnistcore.nets.saved import MAX_METADATA_BYTES, MAX_PARAMETERS, MAX_UNITS, check_keras_config, model_kind
from mnistcore.paths import PROJECT_DIR

MEMORY_RISE_MB = 100  # refusing a crafted file may cost this much at most (they cost 900+ MB before)


def peak_rise(call: str) -> tuple[float, bool, str]:
    """Run `call` in a fresh interpreter: (rise of its peak memory in MB, TensorFlow imported?, error)."""
    code = f"""
import resource, sys
import mnistcore.nets as nets
from mnistcore.nets import saved
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    {call}
    message = "no error"
except Exception as err:
    message = f"{{type(err).__name__}}: {{err}}"
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)  # KB on Linux
print("tensorflow" in sys.modules)
print(message)
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    rise, tensorflow, message = done.stdout.strip().split("\n", 2)
    return float(rise), tensorflow == "True", message


# ---------------------------------------------------------------------------- building files by hand


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def numpy_settings(**changes) -> dict:
    return {"inputnodes": 784, "hiddennodes": 16, "outputnodes": 10, "learningrate": 0.1,
            "activation": "relu", "momentum": 0.9, "seed": 0, **changes}


def numpy_file(path: Path, settings: dict, arrays: dict | None = None) -> Path:
    """An npz as NeuralNetWork.save writes it, with the given settings; float32 zeros of the
    right shapes for 784-16-10 unless `arrays` says otherwise (None: no such entry)."""
    info = ModelInfo(engine="numpy", architecture="crafted", settings=settings)
    members = {"wih": np.zeros((16, 784), np.float32), "who": np.zeros((10, 16), np.float32),
               "bh": np.zeros(16, np.float32), "bo": np.zeros(10, np.float32), "info": np.array(info.to_json()),
               **(arrays or {})}
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in members.items():
            if array is not None:
                archive.writestr(f"{name}.npy", array if isinstance(array, bytes) else npy(array))
    return path


def info_bomb(path: Path, characters: int) -> Path:
    """A working 784-16-10 npz whose info.npy is a string of `characters` characters (4 bytes each)
    that deflate squeezes to almost nothing. Streamed, so building it costs no memory either."""
    numpy_file(path, numpy_settings(), {"info": None})
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": f"<U{characters}", "fortran_order": False, "shape": ()})
    with zipfile.ZipFile(path, "a", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("info.npy", "w", force_zip64=True) as f:
            f.write(header.getvalue())
            zeros, left = bytes(1 << 20), characters * 4
            while left:
                f.write(zeros[: min(left, len(zeros))])
                left -= min(left, len(zeros))
    return path


def layer(cls: str, build: list | None = None, **config) -> dict:
    entry = {"module": "keras.layers", "class_name": cls, "registered_name": None,
             "config": {"name": config.pop("name", cls.lower()), "trainable": True, **config}}
    if build is not None:
        entry["build_config"] = {"input_shape": build}
    return entry


GLOROT = {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": None},
          "registered_name": None}


def dense(units: int, inputs: int, name: str = "dense", **config) -> dict:
    return layer("Dense", [None, inputs], **{"name": name, "units": units, "activation": "relu", "use_bias": True,
                                             "kernel_initializer": GLOROT, **config})


MLP = [layer("InputLayer", batch_shape=[None, 784], name="input_layer"), dense(512, 784), dense(10, 512, "dense_1")]
CNN = [layer("InputLayer", batch_shape=[None, 28, 28, 1], name="input_layer"),
       layer("Conv2D", [None, 28, 28, 1], name="conv2d", filters=32, kernel_size=[3, 3], strides=[1, 1],
             padding="valid", data_format="channels_last", dilation_rate=[1, 1], groups=1, use_bias=True),
       layer("MaxPooling2D", name="max_pooling2d", pool_size=[2, 2], strides=[2, 2], padding="valid"),
       layer("Conv2D", [None, 13, 13, 32], name="conv2d_1", filters=64, kernel_size=[3, 3], strides=[1, 1],
             padding="valid", data_format="channels_last", dilation_rate=[1, 1], groups=1, use_bias=True),
       layer("MaxPooling2D", name="max_pooling2d_1", pool_size=[2, 2], strides=[2, 2], padding="valid"),
       layer("Flatten", [None, 5, 5, 64], name="flatten"), layer("Dropout", name="dropout", rate=0.5),
       dense(10, 1600, "dense_2")]


def keras_config(layers: list, inputs: list | None = None) -> dict:
    """A config.json shaped as Keras 3 writes one for a compiled Sequential model."""
    inputs = inputs or layers[0]["config"].get("batch_shape")
    optimizer = {"module": "keras.optimizers", "class_name": "RMSprop", "config": {"name": "rmsprop"},
                 "registered_name": None}
    return {"module": "keras", "class_name": "Sequential", "registered_name": None,
            "config": {"name": "crafted", "trainable": True, "layers": layers, "build_input_shape": inputs},
            "build_config": {"input_shape": inputs},
            "compile_config": {"optimizer": optimizer, "loss": "categorical_crossentropy", "metrics": ["accuracy"]}}


def keras_file(path: Path, config: dict, weights: bytes = b"not read: refused before") -> Path:
    """A .keras archive as KerasModel.save writes one, built without TensorFlow."""
    info = ModelInfo(engine="keras", architecture="mlp 784-512-10 relu/softmax", settings={"arch": "mlp", "seed": 0})
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("metadata.json", json.dumps({"keras_version": "3.15.1"}))
        archive.writestr("config.json", json.dumps(config))
        archive.writestr("model.weights.h5", weights)
        archive.writestr("mnistlab.json", info.to_json())
    return path


def h5_bomb(rows: int) -> bytes:
    """An HDF5 weights file whose first Dense kernel declares (rows, 784) float32, stored as a
    compressed fill value (a few KB); the other weights as Keras saves them."""
    h5py = pytest.importorskip("h5py")
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        h5.create_dataset("layers/dense/vars/0", shape=(rows, 784), dtype="float32", chunks=(1024, 784),
                          compression="gzip", fillvalue=0.0)
        for name, shape in {"layers/dense/vars/1": (512,), "layers/dense_1/vars/0": (512, 10),
                            "layers/dense_1/vars/1": (10,)}.items():
            h5.create_dataset(name, data=np.zeros(shape, np.float32))
    return buffer.getvalue()


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    """400 MB of info.npy in a 2 MB file."""
    return info_bomb(tmp_path_factory.mktemp("bomb") / "bomb.npz", characters=100_000_000)


# ---------------------------------------------------------------------------- the three crafted files


def test_a_network_declaring_100000_hidden_units_is_refused_before_it_is_built(tmp_path):
    path = numpy_file(tmp_path / "huge.npz", numpy_settings(hiddennodes=100_000))
    assert path.stat().st_size < 100_000  # the arrays of a 784-16-10 network
    for call in (f"nets.load_model({str(path)!r})", f"nets.read_info({str(path)!r})"):
        rise, _, message = peak_rise(call)
        assert message == f"ModelFileError: {path}: declares 100000 hidden units; at most {MAX_UNITS}"
        assert rise < MEMORY_RISE_MB, f"{call} raised the peak memory by {rise:.0f} MB"


def test_a_zip_bomb_in_info_npy_is_refused_unread(bomb):
    assert bomb.stat().st_size < 3_000_000  # 400 MB inside
    for call in (f"nets.load_model({str(bomb)!r})", f"nets.read_info({str(bomb)!r})"):
        rise, _, message = peak_rise(call)
        assert message == (f"ModelFileError: {bomb}: info.npy unpacks to 400000128 bytes; "
                           f"at most {MAX_METADATA_BYTES}")
        assert rise < MEMORY_RISE_MB, f"{call} raised the peak memory by {rise:.0f} MB"


def test_a_keras_config_with_dense_100000_is_refused_without_tensorflow(tmp_path):
    layers = [MLP[0], dense(100_000, 784), dense(10, 100_000, "dense_1")]
    path = keras_file(tmp_path / "dense.keras", keras_config(layers))
    rise, tensorflow, message = peak_rise(f"nets.load_model({str(path)!r})")
    assert message == f"ModelFileError: {path}: layer 'dense' declares units 100000; at most {MAX_UNITS}"
    assert rise < MEMORY_RISE_MB, f"load_model raised the peak memory by {rise:.0f} MB"
    assert not tensorflow  # refused before TensorFlow was even imported


def test_an_hdf5_shape_bomb_in_keras_weights_is_refused_unread(tmp_path):
    path = keras_file(tmp_path / "h5bomb.keras", keras_config(MLP), weights=h5_bomb(rows=400_000))  # 1.25 GB
    assert path.stat().st_size < 1_000_000
    assert read_info(path).engine == "keras"  # the config is sound: only the weights file is a bomb
    rise, _, message = peak_rise(f"saved.check_keras_weights({str(path)!r})")
    assert message.startswith(f"ModelFileError: {path}: model.weights.h5 declares 1254422568 bytes of weights")
    assert rise < MEMORY_RISE_MB, f"check_keras_weights raised the peak memory by {rise:.0f} MB"


@pytest.mark.skipif(keras_problem() is not None, reason=str(keras_problem()))
def test_keras_load_checks_the_weights_file_before_keras_reads_it(tmp_path):
    path = keras_file(tmp_path / "h5bomb.keras", keras_config(MLP), weights=h5_bomb(rows=400_000))
    from mnistcore.nets.keras_net import KerasModel
    with pytest.raises(ModelFileError, match="model.weights.h5 declares 1254422568 bytes"):
        KerasModel.load(path)


# ---------------------------------------------------------------------------- NumPy files: every limit


@pytest.mark.parametrize("settings, arrays, message", [
    (numpy_settings(inputnodes=4096, hiddennodes=4096), {},
     f"declares a 4096-4096-10 network of 16822282 weights; at most {MAX_PARAMETERS}"),
    (numpy_settings(outputnodes=10**9), {}, f"declares 1000000000 outputs; at most {MAX_UNITS}"),
    (numpy_settings(hiddennodes="16"), {}, "declare '16' hidden units"),
    (numpy_settings(hiddennodes=0), {}, "declare 0 hidden units"),
    ({k: v for k, v in numpy_settings().items() if k != "hiddennodes"}, {}, "declare None hidden units"),
    (numpy_settings(), {"wih": np.zeros((1, 784), np.float16)},
     r"wih is float16 \(1, 784\), expected float32 \(16, 784\)"),
    (numpy_settings(), {"who": np.zeros((10, 17), np.float32)},
     r"who is float32 \(10, 17\), expected float32 \(10, 16\)"),
    (numpy_settings(), {"bo": None}, "missing the array 'bo'"),
    (numpy_settings(), {"bh": b"\x93NUMPY\x02\x00" + (2**31).to_bytes(4, "little") + b"{"},
     "bh.npy is not an array we can read"),
    (numpy_settings(), {"info": np.array(["{}", "{}"])}, r"info.npy is <U2 \(2,\), expected text"),
])
def test_numpy_files_outside_the_limits_are_refused_by_their_headers(tmp_path, settings, arrays, message):
    path = numpy_file(tmp_path / "crafted.npz", settings, arrays)
    for read in (read_info, load_model, NeuralNetWork.load):
        with pytest.raises(ModelFileError, match=message) as err:
            read(path)
        assert str(err.value).startswith(f"{path}: ")


def test_a_sound_numpy_file_passes_the_checks_and_loads(tmp_path):
    net = NeuralNetWork(784, 16, 10, 0.1, activation="relu", seed=0)
    path = net.save(tmp_path / "sound.npz")
    assert model_kind(path) == "numpy" and read_info(path) == net.info
    np.testing.assert_array_equal(load_model(path).wih, net.wih)


def test_archives_that_would_cost_memory_to_open_are_refused(tmp_path):
    sound = NeuralNetWork(784, 16, 10, 0.1, seed=0).save(tmp_path / "sound.npz")
    commented = tmp_path / "commented.npz"
    commented.write_bytes(sound.read_bytes())
    with zipfile.ZipFile(commented, "a") as archive:
        archive.comment = b"a comment hides where the directory ends"
    many = numpy_file(tmp_path / "many.npz", numpy_settings())
    with zipfile.ZipFile(many, "a") as archive:  # 3,000 entries: a directory zipfile would parse whole
        for i in range(3000):
            archive.writestr(f"padding-{i:05d}-{'x' * 20}.npy", b"")
    big = tmp_path / "big.npz"
    with open(big, "wb") as f:
        f.truncate(60_000_000)  # sparse: nothing written
    for path, message in [(commented, "one with a comment"), (many, "directory holds 2[0-9]{5} bytes; at most 65536"),
                          (big, "the file holds 60000000 bytes; at most")]:
        with pytest.raises(ModelFileError, match=message):
            load_model(path)
    assert load_model(sound).info.architecture.startswith("784-16-10")


# ---------------------------------------------------------------------------- Keras configs: every limit


def test_our_keras_networks_pass_with_keras_own_parameter_counts():
    assert check_keras_config(keras_config(MLP), "mlp") == 784 * 512 + 512 + 512 * 10 + 10
    assert check_keras_config(keras_config(CNN), "cnn") == 34_826  # keras-io's convnet, as model.summary() says


def conv(filters=32, kernel=(3, 3), build=(28, 28, 1), **config) -> dict:
    return layer("Conv2D", [None, *build], filters=filters, kernel_size=list(kernel), strides=[1, 1], padding="valid",
                 data_format="channels_last", dilation_rate=[1, 1], groups=1, use_bias=True, **config)


IMAGE = CNN[0]
NESTED = {"module": "keras.models", "class_name": "Sequential", "registered_name": None,
          "config": {"name": "inner", "layers": [dense(100_000, 784)]}}


@pytest.mark.parametrize("layers, message", [
    ([IMAGE, conv(filters=100_000)], "layer 'conv2d' declares filters 100000; at most 4096"),
    ([IMAGE, conv(kernel=(1000, 1000))], "layer 'conv2d' declares kernel_size 1000; at most 28"),
    ([IMAGE, conv(kernel=(5, 5), build=(4, 4, 1))],
     r"built for input \[None, 4, 4, 1\], but receives \[None, 28, 28, 1\]"),
    ([IMAGE, conv(filters=4096, kernel=(1, 1))], r"outputs \(28, 28, 4096\) = 3211264 values per image; at most 50000"),
    ([MLP[0], dense(4096, 784), dense(4096, 4096, "dense_1")],
     "layer 'dense_1' brings the network to 19996672 weights"),
    ([MLP[0], dense(512, 784, lora_rank=10**6)], "declares lora_rank 1000000; at most 4096"),
    ([MLP[0], dense(512, 784, kernel_initializer=NESTED)],
     "names 'Sequential' .module 'keras.models'., which MNIST Lab's networks never use"),
    ([MLP[0], layer("Embedding", input_dim=10**8, output_dim=512)], "layer 'embedding' is a 'Embedding'"),
    ([MLP[0], {**dense(512, 784), "module": "keras_hub.layers"}], r"module 'keras_hub.layers'"),
    ([dense(512, 784)], "an InputLayer must come first"),
    ([layer("InputLayer", batch_shape=[None, 10**6])], "declares batch_shape 1000000; at most 4096"),
])
def test_keras_configs_outside_the_limits_are_refused(tmp_path, layers, message):
    path = keras_file(tmp_path / "crafted.keras", keras_config(layers))
    with pytest.raises(ModelFileError, match=message) as err:
        load_model(path)  # refused before TensorFlow is imported (see the Dense(100000) test)
    assert str(err.value).startswith(f"{path}: ")


def test_a_keras_model_built_for_another_input_than_its_input_layer_is_refused(tmp_path):
    path = keras_file(tmp_path / "crafted.keras", keras_config(MLP, inputs=[None, 10**6]))
    with pytest.raises(ModelFileError, match=r"model is built for input \[None, 1000000\]"):
        read_info(path)


def test_a_python_lambda_is_left_for_keras_safe_mode_to_refuse():
    """Keras stops at the Lambda (safe_mode=True): nothing after it is built, so nothing after it
    is checked; everything before it is (test_keras_net shows safe mode refusing it)."""
    python_lambda = layer("Lambda", function={"class_name": "__lambda__", "config": {"code": "..."}})
    assert check_keras_config(keras_config([MLP[0], python_lambda, dense(100_000, 784)]), "x") == 0
    with pytest.raises(ModelFileError, match="declares units 100000"):
        check_keras_config(keras_config([MLP[0], dense(100_000, 784), python_lambda]), "x")
    named_function = layer("Lambda", function={"module": "keras.ops", "class_name": "function", "config": "tile"})
    with pytest.raises(ModelFileError, match="is a 'Lambda'"):  # no Python code: Keras would run it
        check_keras_config(keras_config([MLP[0], named_function]), "x")


def test_oversized_keras_metadata_is_refused_unread(tmp_path):
    path = keras_file(tmp_path / "big.keras", keras_config(MLP))
    bloated = tmp_path / "bloated.keras"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(bloated, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            target.writestr(name, " " * 10_000_000 if name == "metadata.json" else source.read(name))  # 10 KB packed
    with pytest.raises(ModelFileError, match=f"metadata.json unpacks to 10000000 bytes; at most {MAX_METADATA_BYTES}"):
        model_kind(bloated)
    assert model_kind(path) == "keras"


# ---------------------------------------------------------------------------- NumPy convnets


def cnn_settings(**changes) -> dict:
    return {"arch": "cnn", "filters1": 4, "filters2": 8, "learning_rate": 0.001, "dropout": 0.5, "seed": 0,
            **changes}


def cnn_file(path: Path, settings: dict, arrays: dict | None = None) -> Path:
    """An npz as ConvNet.save writes it, with the given settings; float32 zeros of the right
    shapes for filters 4 and 8 unless `arrays` says otherwise (None: no such entry)."""
    info = ModelInfo(engine="numpy", architecture="crafted", settings=settings)
    members = {"w1": np.zeros((3, 3, 1, 4), np.float32), "b1": np.zeros(4, np.float32),
               "w2": np.zeros((3, 3, 4, 8), np.float32), "b2": np.zeros(8, np.float32),
               "w3": np.zeros((200, 10), np.float32), "b3": np.zeros(10, np.float32),
               "info": np.array(info.to_json()), **(arrays or {})}
    with zipfile.ZipFile(path, "w") as archive:
        for name, array in members.items():
            if array is not None:
                archive.writestr(f"{name}.npy", array if isinstance(array, bytes) else npy(array))
    return path


def test_a_convnet_declaring_100000_filters_is_refused_before_it_is_built(tmp_path):
    path = cnn_file(tmp_path / "huge.npz", cnn_settings(filters2=100_000))
    assert path.stat().st_size < 100_000
    for call in (f"nets.load_model({str(path)!r})", f"nets.read_info({str(path)!r})"):
        rise, tensorflow, message = peak_rise(call)
        assert message == f"ModelFileError: {path}: declares 100000 filters in the second; at most {MAX_UNITS}"
        assert rise < MEMORY_RISE_MB, f"{call} raised the peak memory by {rise:.0f} MB"
        assert not tensorflow


@pytest.mark.parametrize("settings, arrays, message", [
    # 100 filters are few weights, but 67,600 values per image in the first layer's output
    (cnn_settings(filters1=100), {},
     "the first convolution's 100 filters output 67600 values per image; at most 50000"),
    (cnn_settings(filters2=1000), {}, "the second convolution's 1000 filters output 121000 values per image"),
    (cnn_settings(filters1="4"), {}, r"declare '4' filters in the first convolution \(filters1\)"),
    (cnn_settings(filters2=0), {}, r"declare 0 filters in the second \(filters2\)"),
    (cnn_settings(), {"w2": np.zeros((3, 3, 4, 9), np.float32)},
     r"w2 is float32 \(3, 3, 4, 9\), expected float32 \(3, 3, 4, 8\)"),
    (cnn_settings(), {"w3": np.zeros((200, 10), np.float16)},
     r"w3 is float16 \(200, 10\), expected float32 \(200, 10\)"),
    (cnn_settings(), {"b3": None}, "missing the array 'b3'"),
])
def test_convnet_files_outside_the_limits_are_refused_by_their_headers(tmp_path, settings, arrays, message):
    from mnistcore.nets.numpy_cnn import ConvNet

    path = cnn_file(tmp_path / "crafted.npz", settings, arrays)
    for read in (read_info, load_model, ConvNet.load):
        with pytest.raises(ModelFileError, match=message) as err:
            read(path)
        assert str(err.value).startswith(f"{path}: ")


def test_a_sound_convnet_file_passes_the_checks_and_loads(tmp_path):
    from mnistcore.nets.numpy_cnn import ConvNet

    path = cnn_file(tmp_path / "sound.npz", cnn_settings())
    assert model_kind(path) == "numpy" and read_info(path).settings["arch"] == "cnn"
    loaded = load_model(path)
    assert isinstance(loaded, ConvNet) and loaded.w3.shape == (200, 10)
    # settings the format allows but the network refuses (a dropout of 1 drops everything)
    with pytest.raises(ModelFileError, match="saved settings are invalid.*dropout"):
        load_model(cnn_file(tmp_path / "dropout.npz", cnn_settings(dropout=1.0)))
