"""The shared model interface: input contract, metadata, loading, evaluation."""
import subprocess
import sys

import numpy as np
import pytest

from mnistcore.evaluation import evaluate, evaluation_from_proba, format_evaluation
from mnistcore.nets import load_model, read_info
from mnistcore.nets.base import as_batch
from mnistcore.nets.saved import model_kind
from mnistcore.paths import DEFAULT_MODEL_PATH

@pytest.mark.parametrize("shape", [(3, 28, 28), (3, 784)])
def test_as_batch_accepts_uint8_and_floats(shape):
    images = np.random.default_rng(0).integers(0, 256, shape).astype(np.uint8)
    x = as_batch(images)
    assert x.shape == (3, 784) and x.dtype == np.float32 and x.flags.c_contiguous
    assert np.allclose(as_batch(images.astype(np.float64) / 255), x)
    assert as_batch(images[0]).shape == (1, 784)


@pytest.mark.parametrize("images, message", [
    (np.zeros((3, 27, 28), np.uint8), r"shaped \(n, 28, 28\)"),
    (np.zeros((3, 785), np.uint8), r"shaped \(n, 28, 28\)"),
    (np.full((2, 784), 255.0), r"float images must be in \[0, 1\], got 255"),
    (np.full((2, 784), np.nan), "NaN"),
    (np.array([["x"] * 784]), "dtype"),
])
def test_as_batch_refuses_what_it_cannot_read(images, message):
    with pytest.raises(ValueError, match=message):
        as_batch(images)


def test_evaluation_counts_every_cell():
    labels = np.array([0, 0, 1, 2, 2, 2])
    predictions = np.array([0, 1, 1, 2, 0, 2])
    proba = np.eye(10, dtype=np.float32)[predictions]
    ev = evaluation_from_proba(proba, labels)
    assert ev.accuracy == pytest.approx(4 / 6)
    assert ev.confusion[0, 0] == 1 and ev.confusion[0, 1] == 1 and ev.confusion[2, 0] == 1 and ev.confusion[2, 2] == 2
    assert ev.confusion.sum() == 6 and ev.count == 6
    assert ev.per_digit[0] == 0.5 and ev.per_digit[1] == 1.0 and ev.per_digit[2] == pytest.approx(2 / 3)
    assert np.isnan(ev.per_digit[5])
    text = format_evaluation(ev)
    assert text.splitlines()[-1] == "test accuracy: 0.6667" and "(none)" in text


def test_default_model_loads_without_tensorflow():
    code = ("import sys, mnistcore, mnistcore.nets as m, mnistcore.training, mnistcore.preprocess, mnistcore.paths;"
            "model = m.load_model(); model.predict(__import__('numpy').zeros((1, 784), 'uint8'));"
            "print(m.read_info(mnistcore.paths.DEFAULT_MODEL_PATH).engine);"
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["numpy", "False", "False"]


def test_read_info_matches_the_loaded_model():
    model = load_model()
    assert read_info(DEFAULT_MODEL_PATH) == model.info  # metadata without loading weights
    assert model_kind(DEFAULT_MODEL_PATH) == "numpy"
    assert "numpy" in model.info.summary() and "%" in model.info.summary()


def test_evaluate_a_model_on_real_images(mnist):
    model = load_model()
    x_test, y_test = mnist[1]
    ev = evaluate(model, x_test[:500], y_test[:500])
    assert ev.accuracy > 0.95 and ev.predictions.shape == (500,) and (ev.confidence <= 1).all()


def test_only_the_tutorial_entry_point_gives_numpy_back_its_asfarray():
    """The site and the CLI leave NumPy as it is; `mnistcore.tutorial` adds NumPy 1.x's asfarray."""
    code = ("import numpy as np, mnistcore.nets, mnistcore.lab.services, mnistcore.cli;"
            "print(hasattr(np, 'asfarray'));"
            "from mnistcore.tutorial import NeuralNetWork;"
            "print(np.asfarray([1, 2]).dtype, np.asfarray([1, 2], dtype=np.float32).dtype,"
            "      np.asfarray([1, 2], dtype=np.int32).dtype, np.asfarray(np.array(['3', '4'])).tolist())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # NumPy 1.x: float64 by default, a float dtype kept, any other dtype made float64; strings parsed.
    assert done.stdout.split("\n")[:2] == ["False", "float64 float32 float64 [3.0, 4.0]"]
