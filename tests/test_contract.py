"""One contract, both engines: the checks every model (mnistcore.nets.base) must pass.

Each test runs over the NumPy network and the Keras networks. Models are small and trained for
one epoch on a few thousand real MNIST images (the session fixture `mnist` from conftest.py),
so the whole module stays quick on 2 cores.
The multi-epoch callback checks skip the CNN: its fit is the slow one and shares the MLP's code.
"""
from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass

import numpy as np
import pytest

from mnistcore.nets import load_model, read_info
from mnistcore.nets.base import ModelFileError, Progress
from mnistcore.nets.numpy_net import NeuralNetWork

TRAIN_N = 3000   # training images: enough to learn a lot in one epoch
PROBE_N = 500    # test images used to compare predictions
BATCH = 32


def make_model(engine: str):
    """A fresh, seeded, untrained model for an engine name used in the parameters below."""
    if engine == "numpy":
        return NeuralNetWork(784, 64, 10, 0.05, activation="relu", momentum=0.9, seed=0)
    from mnistcore.nets.keras_net import KerasModel  # TensorFlow loads only for the Keras cases
    return KerasModel(engine.removeprefix("keras-"), seed=0)


def model_class(engine: str):
    if engine == "numpy":
        return NeuralNetWork
    from mnistcore.nets.keras_net import KerasModel
    return KerasModel


def suffix(engine: str) -> str:
    return ".npz" if engine == "numpy" else ".keras"


ENGINES = ["numpy", "keras-mlp", "keras-cnn"]
TRAINING_ENGINES = ["numpy", "keras-mlp"]


@dataclass
class Trained:
    engine: str
    model: object
    accuracy_before: float  # on the probe images, before fit
    accuracy_after: float
    returned: object        # what fit returned


@pytest.fixture(scope="module", params=ENGINES)
def trained(request, mnist) -> Trained:
    """One model per engine, trained for one epoch; tests must not change it."""
    (x_train, y_train), (x_test, y_test) = mnist
    model = make_model(request.param)
    before = model.score(x_test[:PROBE_N], y_test[:PROBE_N])[1]
    returned = model.fit(x_train[:TRAIN_N], y_train[:TRAIN_N], epochs=1, batch_size=BATCH)
    after = model.score(x_test[:PROBE_N], y_test[:PROBE_N])[1]
    return Trained(request.param, model, before, after, returned)


@pytest.fixture(params=TRAINING_ENGINES)
def fresh(request):
    """A fresh, untrained model per engine, for the tests that train (and stop) it."""
    return make_model(request.param)


# ---------------------------------------------------------------------------- predicting


def test_predict_shapes_and_dtypes(trained, mnist):
    (_, _), (x_test, _) = mnist
    model = trained.model
    for images, n in [(x_test[:7], 7),                                     # uint8 (n, 28, 28)
                      (x_test[:5].reshape(5, 784) / 255.0, 5),             # float64 (n, 784)
                      (x_test[:4].reshape(4, 784).astype(np.float32) / 255, 4),
                      (x_test[0], 1)]:                                     # one (28, 28) image
        proba = model.predict_proba(images)
        assert proba.shape == (n, 10) and proba.dtype == np.float32
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
        assert (proba >= 0).all()
        predicted = model.predict(images)
        assert predicted.shape == (n,) and np.issubdtype(predicted.dtype, np.integer)
        np.testing.assert_array_equal(predicted, proba.argmax(axis=1))


def test_uint8_and_scaled_float_agree(trained, mnist):
    (_, _), (x_test, _) = mnist
    images = x_test[:PROBE_N]
    as_float = images.reshape(len(images), 784).astype(np.float32) / 255
    np.testing.assert_array_equal(trained.model.predict(images), trained.model.predict(as_float))
    np.testing.assert_allclose(trained.model.predict_proba(images), trained.model.predict_proba(as_float), atol=1e-6)


def test_bad_images_are_refused(trained):
    with pytest.raises(ValueError, match="shaped"):
        trained.model.predict_proba(np.zeros((3, 27, 27), np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        trained.model.predict_proba(np.full((2, 784), 255.0))


# ---------------------------------------------------------------------------- training


def test_fit_improves_accuracy_and_stamps_info(trained):
    model = trained.model
    assert trained.returned is model
    assert trained.accuracy_before < 0.3
    assert trained.accuracy_after > 0.8, f"{trained.engine}: {trained.accuracy_after:.3f} after one epoch"
    assert model.stopped_ is False
    assert (model.info.epochs, model.info.batch_size, model.info.train_samples) == (1, BATCH, TRAIN_N)
    assert model.info.trained_at and model.info.train_seconds > 0
    assert len(model.history_) == 1 and model.history_[0].epoch == 1


def test_fit_refuses_bad_settings(fresh, mnist):
    model = fresh
    (x_train, y_train), _ = mnist
    with pytest.raises(ValueError, match="epochs"):
        model.fit(x_train[:10], y_train[:10], epochs=0)
    with pytest.raises(ValueError, match="labels"):
        model.fit(x_train[:10], y_train[:9])


def test_progress_reported_per_batch_and_epoch(fresh, mnist):
    model = fresh
    (x_train, y_train), (x_test, y_test) = mnist
    n, batch, epochs = 1000, 128, 2
    batches, ends = [], []
    model.fit(x_train[:n], y_train[:n], epochs=epochs, batch_size=batch, on_batch=batches.append,
              on_epoch=ends.append, validation=(x_test[:PROBE_N], y_test[:PROBE_N]))

    assert len(batches) == epochs * -(-n // batch)  # ceil(n / batch) per epoch
    assert all(isinstance(p, Progress) for p in batches + ends)
    seen = [p.samples_seen for p in batches]
    assert seen == sorted(set(seen)) and seen[0] == batch
    assert all(p.total_samples == epochs * n and p.epochs == epochs for p in batches + ends)
    assert batches[-1].fraction == 1.0 and ends[-1].fraction == 1.0
    assert [p.epoch for p in batches] == sorted(p.epoch for p in batches)
    seconds = [p.seconds for p in batches]
    assert seconds == sorted(seconds)
    for p in batches:
        assert np.isfinite(p.loss) and p.loss > 0 and 0 <= p.accuracy <= 1
        assert p.test_loss is None and p.test_accuracy is None
    assert [(p.epoch, p.samples_seen) for p in ends] == [(1, n), (2, 2 * n)]
    for p in ends:
        assert 0 <= p.test_accuracy <= 1 and np.isfinite(p.test_loss)
    assert ends[-1].test_accuracy > 0.5  # 16 small steps: learning, not learnt
    # The epoch's numbers are the last batch's running means over the whole epoch.
    last_of_epoch_1 = batches[len(batches) // 2 - 1]
    assert last_of_epoch_1.samples_seen == n
    assert ends[0].loss == pytest.approx(last_of_epoch_1.loss, rel=1e-4)
    assert ends[0].accuracy == pytest.approx(last_of_epoch_1.accuracy, abs=1e-6)
    assert model.history_ == ends and model.stopped_ is False


def test_stop_mid_epoch_keeps_last_complete_epoch(fresh, mnist):
    model = fresh
    (x_train, y_train), (x_test, _) = mnist
    n, probe = 1000, x_test[:PROBE_N]
    after_epoch = {}
    at_stop = {}

    def on_epoch(p):
        after_epoch[p.epoch] = model.predict_proba(probe)

    def on_batch(p):
        if p.epoch == 2 and p.samples_seen >= n + n // 2:
            at_stop["proba"] = model.predict_proba(probe)
            return True
        return None

    model.fit(x_train[:n], y_train[:n], epochs=3, batch_size=100, on_batch=on_batch, on_epoch=on_epoch)
    assert list(after_epoch) == [1]
    assert model.stopped_ is True
    assert model.info.epochs == 1 and len(model.history_) == 1
    assert not np.allclose(at_stop["proba"], after_epoch[1])  # epoch 2 did move the weights ...
    np.testing.assert_allclose(model.predict_proba(probe), after_epoch[1], rtol=0, atol=1e-6)  # ... and they came back


def test_stop_in_first_epoch_keeps_untrained_weights(fresh, mnist):
    model = fresh
    (x_train, y_train), (x_test, _) = mnist
    probe = x_test[:PROBE_N]
    untrained = model.predict_proba(probe)
    model.fit(x_train[:1000], y_train[:1000], epochs=2, batch_size=100, on_batch=lambda p: p.samples_seen >= 500)
    assert model.stopped_ is True and model.info.epochs == 0 and model.history_ == []
    np.testing.assert_allclose(model.predict_proba(probe), untrained, rtol=0, atol=1e-6)


def test_stop_from_on_epoch_ends_after_that_epoch(fresh, mnist):
    model = fresh
    (x_train, y_train), _ = mnist
    batches = []
    model.fit(x_train[:500], y_train[:500], epochs=3, batch_size=100, on_batch=batches.append,
              on_epoch=lambda p: p.epoch == 1)
    assert model.stopped_ is True
    assert model.info.epochs == 1 and len(model.history_) == 1
    assert {p.epoch for p in batches} == {1} and batches[-1].samples_seen == 500


# ---------------------------------------------------------------------------- saving and loading


def test_save_then_load_model_round_trips(trained, mnist, tmp_path):
    (_, _), (x_test, _) = mnist
    model = trained.model
    path = tmp_path / f"model{suffix(trained.engine)}"
    assert model.save(path) == path
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary files left behind
    loaded = load_model(path)
    assert type(loaded) is type(model)
    assert loaded.info == model.info == read_info(path)
    probe = x_test[:PROBE_N]
    np.testing.assert_allclose(loaded.predict_proba(probe), model.predict_proba(probe), rtol=0, atol=1e-6)
    np.testing.assert_array_equal(loaded.predict(probe), model.predict(probe))
    assert model_class(trained.engine).load(path).info == model.info


def test_save_replaces_an_existing_file(trained, tmp_path):
    path = tmp_path / f"model{suffix(trained.engine)}"
    path.write_bytes(b"an older file")
    trained.model.save(path)
    assert load_model(path).info == trained.model.info


def _write_bad_file(case: str, path, trained: Trained, tmp_path) -> None:
    """Make `path` one kind of file that is not a loadable model of this engine."""
    if case == "missing":
        return
    if case == "empty":
        path.write_bytes(b"")
    elif case == "truncated":
        good = tmp_path / f"good{path.suffix}"
        trained.model.save(good)
        data = good.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif case == "random bytes":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    elif case == "foreign zip":
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("config.json", "{}")
            archive.writestr("readme.txt", "not a model")
    elif case == "pickle":
        with open(path, "wb") as f:
            pickle.dump({"wih": np.zeros((64, 784)), "info": "{}"}, f)
    elif case == "other engine":
        other = make_model("keras-mlp" if trained.engine == "numpy" else "numpy")
        staged = tmp_path / f"other{suffix('keras-mlp' if trained.engine == 'numpy' else 'numpy')}"
        other.save(staged)
        path.write_bytes(staged.read_bytes())  # the other engine's archive under this engine's suffix


BAD_FILES = ["missing", "empty", "truncated", "random bytes", "foreign zip", "pickle", "other engine"]


@pytest.mark.parametrize("case", BAD_FILES)
def test_bad_files_raise_model_file_error_naming_the_path(trained, case, tmp_path):
    path = tmp_path / f"bad{suffix(trained.engine)}"
    _write_bad_file(case, path, trained, tmp_path)
    if case != "other engine":  # load_model goes by content, so it would rightly load that one
        with pytest.raises(ModelFileError) as err:
            load_model(path)
        assert str(path) in str(err.value)
    with pytest.raises(ModelFileError) as err:
        model_class(trained.engine).load(path)
    assert str(path) in str(err.value)
