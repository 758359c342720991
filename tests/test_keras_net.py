"""The Keras engine's own promises: the tutorial's network, keras-io's convnet, seeding, safe
loading, TensorFlow kept out of NumPy-only work, and no output on stdout or stderr.

The shared interface (shapes, callbacks, stopping, save/load, bad files) is in test_contract.py.
"""
from __future__ import annotations

import subprocess
import sys
import zipfile

import numpy as np
import pytest

from mnistcore.nets import load_model
from mnistcore.nets.base import ModelFileError, ModelInfo
from mnistcore.paths import PROJECT_DIR

keras_net = pytest.importorskip("mnistcore.nets.keras_net")
keras = keras_net.keras
KerasModel = keras_net.KerasModel


def run_python(code: str, *args: str) -> subprocess.CompletedProcess:
    """Run `code` in a fresh interpreter (this virtualenv's) from the project folder."""
    return subprocess.run([sys.executable, "-c", code, *args], cwd=PROJECT_DIR, capture_output=True,
                          text=True, timeout=300)


def save_plain(net, path, info: ModelInfo | None = None) -> None:
    """Save a compiled Keras model with Keras itself; with `info`, add our metadata entry so
    mnistcore.nets.saved recognises the archive as ours."""
    net.optimizer.build(net.trainable_variables)  # as KerasModel.save does: no warning on load
    net.save(path)
    if info is not None:
        with zipfile.ZipFile(path, "a") as archive:
            archive.writestr("mnistlab.json", info.to_json())


MLP_INFO = ModelInfo(engine="keras", architecture="mlp 784-512-10 relu/softmax", settings={"arch": "mlp", "seed": 0})


# ---------------------------------------------------------------------------- the networks


def test_mlp_is_the_tutorial_network():
    model = KerasModel("mlp", seed=0)
    net = model.model
    assert tuple(net.inputs[0].shape) == (None, 784)
    hidden, output = net.layers
    assert isinstance(hidden, keras.layers.Dense) and hidden.units == 512
    assert hidden.activation is keras.activations.relu
    assert isinstance(output, keras.layers.Dense) and output.units == 10
    assert output.activation is keras.activations.softmax
    assert net.count_params() == 784 * 512 + 512 + 512 * 10 + 10
    compiled = net.get_compile_config()
    assert compiled["optimizer"]["class_name"] == "RMSprop"
    # Keras' default learning rate, as in the tutorial
    assert compiled["optimizer"]["config"]["learning_rate"] == pytest.approx(0.001)
    assert compiled["loss"] == "categorical_crossentropy"
    assert compiled["metrics"] == ["accuracy"]
    assert model.info.engine == "keras"
    assert model.info.architecture == "mlp 784-512-10 relu/softmax"
    assert model.info.settings == {"arch": "mlp", "seed": 0}


def test_cnn_is_the_keras_io_convnet():
    model = KerasModel("cnn", seed=0)
    net = model.model
    assert tuple(net.inputs[0].shape) == (None, 28, 28, 1)
    shapes = [(type(layer).__name__, tuple(layer.output.shape)) for layer in net.layers]
    assert shapes == [("Conv2D", (None, 26, 26, 32)), ("MaxPooling2D", (None, 13, 13, 32)),
                      ("Conv2D", (None, 11, 11, 64)), ("MaxPooling2D", (None, 5, 5, 64)),
                      ("Flatten", (None, 1600)), ("Dropout", (None, 1600)), ("Dense", (None, 10))]
    assert net.layers[5].rate == 0.5
    assert net.count_params() == 34826  # the figure keras-io's example prints
    compiled = net.get_compile_config()
    assert compiled["optimizer"]["class_name"] == "Adam"
    assert compiled["loss"] == "categorical_crossentropy"
    assert model.info.settings == {"arch": "cnn", "seed": 0}


@pytest.mark.parametrize("arch, seed", [("rnn", 0), ("mlp", -1), ("mlp", 2**32), ("mlp", 1.5), ("mlp", True)])
def test_bad_settings_are_refused(arch, seed):
    with pytest.raises(ValueError, match=repr(arch) if arch == "rnn" else "seed"):
        KerasModel(arch, seed=seed)


# ---------------------------------------------------------------------------- seeding


@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_same_seed_same_model_after_fit(arch, mnist):
    (x_train, y_train), (x_test, _) = mnist
    n = 1000 if arch == "mlp" else 300
    first = KerasModel(arch, seed=7)
    initial = first.model.get_weights()
    first.fit(x_train[:n], y_train[:n], batch_size=64)
    second = KerasModel(arch, seed=7)
    for a, b in zip(initial, second.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    other = KerasModel(arch, seed=8)  # re-seeds the global generators that fit shuffles with ...
    assert not np.array_equal(initial[0], other.model.get_weights()[0])
    second.fit(x_train[:n], y_train[:n], batch_size=64)  # ... but fit seeds them again
    probe = x_test[:300]
    np.testing.assert_allclose(first.predict_proba(probe), second.predict_proba(probe), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(first.predict(probe), second.predict(probe))


# ---------------------------------------------------------------------------- saving and loading


def test_loaded_model_keeps_training_where_it_left_off(mnist, tmp_path):
    (x_train, y_train), _ = mnist
    model = KerasModel("mlp", seed=0).fit(x_train[:500], y_train[:500], batch_size=100)
    loaded = load_model(model.save(tmp_path / "m.keras"))
    # compile=True brings the optimizer back with its state: 5 steps taken so far.
    assert int(loaded.model.optimizer.iterations) == int(model.model.optimizer.iterations) == 5
    loaded.fit(x_train[500:1000], y_train[500:1000], batch_size=100)
    assert loaded.info.epochs == 2 and int(loaded.model.optimizer.iterations) == 10


def test_save_needs_the_keras_suffix(tmp_path):
    with pytest.raises(ValueError, match=r"\.keras"):
        KerasModel("mlp", seed=0).save(tmp_path / "model.npz")
    assert list(tmp_path.iterdir()) == []


def test_a_lambda_layer_is_refused_by_safe_mode(tmp_path):
    path = tmp_path / "lambda.keras"
    net = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Lambda(lambda x: x * 2.0),
                            keras.layers.Dense(10, activation="softmax")])
    net.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    save_plain(net, path, MLP_INFO)
    for load in (load_model, KerasModel.load):
        with pytest.raises(ModelFileError, match="safe_mode") as err:
            load(path)
        assert str(path) in str(err.value)
    # The file is otherwise sound: it is safe mode, and only safe mode, that refuses it.
    assert keras.saving.load_model(path, safe_mode=False) is not None


def test_a_plain_keras_file_is_not_ours(tmp_path):
    path = tmp_path / "plain.keras"
    save_plain(keras_net.build_network("mlp"), path)
    with pytest.raises(ModelFileError, match="not a model saved by MNIST Lab"):
        load_model(path)


@pytest.mark.parametrize("arch, info, message", [
    ("mlp", ModelInfo(engine="numpy", architecture="784-512-10", settings={"arch": "mlp"}), "engine 'numpy'"),
    ("mlp", ModelInfo(engine="keras", architecture="rnn", settings={"arch": "rnn"}), "arch is 'rnn'"),
    ("cnn", MLP_INFO, r"expected \(None, 784\)"),  # a CNN whose metadata says it is the MLP
])
def test_metadata_must_match_the_network(arch, info, message, tmp_path):
    path = tmp_path / "mismatch.keras"
    save_plain(keras_net.build_network(arch), path, info)
    with pytest.raises(ModelFileError, match=message) as err:
        KerasModel.load(path)
    assert str(path) in str(err.value)


def test_damaged_weights_inside_a_sound_archive(tmp_path):
    good, bad = tmp_path / "good.keras", tmp_path / "bad.keras"
    KerasModel("mlp", seed=0).save(good)
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(bad, "w") as target:
        for entry in source.infolist():
            data = source.read(entry)
            if entry.filename.endswith(".h5"):
                data = data[:200] + bytes(len(data) - 200)  # header kept, weights zeroed out
            target.writestr(entry, data)
    with pytest.raises(ModelFileError, match="cannot load Keras model") as err:
        load_model(bad)
    assert str(bad) in str(err.value)


# ---------------------------------------------------------------------------- speed and quiet


def test_one_image_takes_the_compiled_predict_step(mnist, monkeypatch):
    """Keras' model.predict sets up a dataset on every call (60 ms or more for one image); predictions
    go through its compiled step instead, one call per batch. bench/keras_bench.py prints the time."""
    (_, _), (x_test, _) = mnist
    model = KerasModel("mlp", seed=0)
    step, batches = model.model.predict_on_batch, []

    def counted_step(batch):
        batches.append(len(batch))
        return step(batch)

    def slow_path(*args, **kwargs):
        raise AssertionError("model.predict was called: the slow path")

    monkeypatch.setattr(model.model, "predict", slow_path)
    monkeypatch.setattr(model.model, "predict_on_batch", counted_step)
    assert model.predict(x_test[0]).shape == (1,)
    assert model.predict(x_test[:20]).shape == (20,)
    assert batches == [1, 20]


def test_numpy_work_never_imports_tensorflow(tmp_path):
    code = """
import sys
import numpy as np
import mnistcore, mnistcore.nets, mnistcore.nets.numpy_net, mnistcore.training
from mnistcore.nets import load_model, read_info
from mnistcore.nets.numpy_net import NeuralNetWork
from mnistcore.training import TrainSettings, new_model

net = NeuralNetWork(784, 16, 10, 0.1, activation="relu", seed=0)
net.fit(np.zeros((20, 28, 28), np.uint8), np.arange(20) % 10)
path = net.save(sys.argv[1])
read_info(path)
load_model(path).predict(np.zeros((28, 28), np.uint8))
new_model(TrainSettings(engine="numpy", hidden=16))
print(sorted(m for m in sys.modules if m.split(".")[0] in ("tensorflow", "keras")))
"""
    result = run_python(code, str(tmp_path / "net.npz"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_keras_work_prints_nothing(tmp_path):
    """Import, build, fit, save, load, predict in a fresh process: stdout and stderr stay empty."""
    code = """
import sys
import numpy as np
from mnistcore.nets.keras_net import KerasModel
from mnistcore.nets import load_model

x = np.random.default_rng(0).integers(0, 256, (64, 28, 28), dtype=np.uint8)
y = np.arange(64) % 10
model = KerasModel("cnn", seed=0).fit(x, y, epochs=2, batch_size=32, validation=(x, y))
load_model(model.save(sys.argv[1])).predict(x[0])
"""
    result = run_python(code, str(tmp_path / "cnn.keras"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert result.stderr == ""
