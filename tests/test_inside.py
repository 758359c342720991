"""Looking inside: what a model sees in each digit (real digits it is surest about, digits it makes
up), the back query, first layers, a convnet's feature maps, the nearest training images, and the
Look inside page."""
import gc
import threading

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from mnistcore.explain import imagine as imagining
from mnistcore.explain.convnet import feature_maps, strongest_maps
from mnistcore.explain.imagine import imagine, input_gradient, remembered, surest_digits
from mnistcore.lab import services
from mnistcore.explain.inside import back_query, first_layer_images, hidden_unit_images
from mnistcore.nets import load_model
from mnistcore.nets.numpy_net import NeuralNetWork
from sitetools import APP, FIRST_MLP, weights_copy

RUN_NAME = "{day}T120000Z-{engine}-0123abcd.{suffix}"  # what the model store calls a saved run
DIGITS = [str(d) for d in range(10)]


@pytest.fixture(scope="module")
def default_model():
    return load_model(FIRST_MLP)  # the MLP: its hidden units, back query and analytic gradient


@pytest.fixture(scope="module")
def class_means(mnist):
    """The mean MNIST training image of each digit, (10, 784): what each digit looks like to us."""
    (x_train, y_train), _ = mnist
    return np.stack([x_train[y_train == d].reshape(-1, 784).mean(axis=0) / 255 for d in range(10)])


def likeness(images, class_means) -> np.ndarray:
    """(10, 10) correlations: row d, image d; column c, the mean MNIST image of digit c."""
    return np.corrcoef(np.reshape(images, (10, 784)), class_means)[:10, 10:]


# ---------------------------------------------------------------------------- what it sees in each digit


def test_the_shipped_model_makes_up_digits_that_look_like_digits(default_model, class_means):
    imagined = imagine(default_model)
    assert imagined.shape == (10, 28, 28) and imagined.dtype == np.float32
    assert imagined.min() >= 0 and np.allclose(imagined.max(axis=(1, 2)), 1)
    assert np.sum(default_model.predict(imagined) == np.arange(10)) >= 9
    # To us: each looks most like its own digit's mean MNIST image, and clearly so (measured:
    # 9 of 10, correlations 0.45-0.67), where the tutorial's back query shows noise (0.17 at best)
    # and so does the same ascent without the smoothness prior (0.03-0.33).
    own = np.diag(likeness(imagined, class_means))
    assert np.sum(likeness(imagined, class_means).argmax(axis=1) == np.arange(10)) >= 8
    assert own.min() > 0.35 and own.mean() > 0.45, own.round(2)
    back = np.diag(likeness([back_query(default_model, d) for d in range(10)], class_means))
    assert back.max() < 0.3, back.round(2)


def test_without_the_smoothness_prior_it_makes_up_noise(default_model, class_means, monkeypatch):
    """What the prior is for: the bare gradient ascent convinces the model but not us."""
    for name, value in (("BLUR", 0), ("FADE", 0), ("JITTER", 0)):
        monkeypatch.setattr(imagining, name, value)
    bare = imagine(default_model)
    assert np.sum(default_model.predict(bare) == np.arange(10)) >= 9
    assert np.diag(likeness(bare, class_means)).mean() < 0.35


def test_the_digits_it_is_surest_about_are_that_digit(default_model, mnist, class_means):
    (_, _), (x_test, y_test) = mnist
    means, chosen = surest_digits(default_model, x_test[:2000], k=50)
    assert means.shape == (10, 28, 28) and chosen.shape == (10, 50)
    assert (y_test[:2000][chosen] == np.arange(10)[:, None]).mean() > 0.99
    proba = default_model.predict_proba(x_test[:2000])
    for d in range(10):  # the 50 highest probabilities of d, highest first
        assert np.allclose(proba[chosen[d], d], np.sort(proba[:, d])[::-1][:50])
    assert np.allclose(means[3], x_test[:2000][chosen[3]].mean(axis=0) / 255, atol=1e-6)
    assert (likeness(means, class_means).argmax(axis=1) == np.arange(10)).all()
    assert np.diag(likeness(means, class_means)).min() > 0.85
    with pytest.raises(ValueError, match="k must be from 1 to the number of images"):
        surest_digits(default_model, x_test[:20], k=21)


def test_a_useless_model_still_gets_pictures(mnist):
    """An untrained network: at a black image its ReLUs are all off (no gradient), so imagining
    starts from dark grey; the surest digits need nothing but predict_proba."""
    (_, _), (x_test, _) = mnist
    net = NeuralNetWork(784, 32, 10, 0.1, activation="relu", seed=0)
    imagined = imagine(net, steps=20)
    assert np.isfinite(imagined).all() and (imagined.max(axis=(1, 2)) == 1).all()
    assert surest_digits(net, x_test[:200], k=10)[0].shape == (10, 28, 28)


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_input_gradient_of_the_numpy_network_against_finite_differences(activation):
    net = NeuralNetWork(784, 20, 10, 0.1, activation=activation, seed=0)
    rng = np.random.default_rng(1)
    net.bh[:] = rng.normal(0, 0.1, 20)
    net.bo[:] = rng.normal(0, 0.1, 10)
    x = (rng.random((3, 784)) * 0.8 + 0.1).astype(np.float32)
    digits = np.array([3, 7, 1])
    gradient = input_gradient(net, x, digits)
    rows = np.arange(3)
    for pixel in (100, 400, 650):
        step = np.zeros((1, 784), np.float32)
        step[0, pixel] = 0.01
        up, down = (np.log(net.predict_proba(x + sign * step)[rows, digits]) for sign in (1, -1))
        assert np.allclose(gradient[:, pixel], (up - down) / 0.02, rtol=0.02, atol=1e-4)


def test_remembered_makes_each_thing_once_per_model_and_forgets_it_with_the_model():
    held = [NeuralNetWork(784, 4, 10, 0.1, seed=0)]  # the only reference, dropped at the end
    calls = []
    started = threading.Barrier(4)

    def ask():
        started.wait()  # all four ask at once
        remembered(held[0], "thing", lambda: calls.append(1) or np.ones(3))

    def nested():  # making one thing may need another of the same model (imagining, its gradient)
        calls.append(remembered(held[0], "outer", lambda: remembered(held[0], "inner", lambda: 1) + 1))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [1]
    assert remembered(held[0], "another", lambda: "made") == "made"
    assert remembered(held[0], "another", lambda: "again") == "made"
    inner = threading.Thread(target=nested)
    inner.start()
    inner.join(timeout=10)  # a bound on a deadlock, not a wait for anything
    assert not inner.is_alive() and calls == [1, 2]
    before = len(imagining._remembered)
    held.clear()
    gc.collect()
    assert len(imagining._remembered) == before - 1


# ---------------------------------------------------------------------------- first layers, feature maps


def test_back_query_of_the_tutorials_sigmoid_network(small_mnist):
    (x, y), _ = small_mnist
    net = NeuralNetWork(784, 100, 10, 0.1, seed=0).fit(x, y, epochs=1, batch_size=1)
    imagined = np.array([back_query(net, d) for d in range(10)])
    assert imagined.min() >= 0 and imagined.max() <= 1 + 1e-6
    assert np.sum(net.predict(imagined) == np.arange(10)) >= 7
    with pytest.raises(ValueError, match="digit must be 0-9"):
        back_query(net, 10)


def test_hidden_units_as_images(default_model):
    images, units = hidden_unit_images(default_model, 12)
    assert images.shape == (12, 28, 28) and len(set(units.tolist())) == 12
    norms = np.linalg.norm(default_model.wih, axis=1)
    assert norms[units[0]] == norms.max()  # the strongest unit first
    assert np.isclose(np.abs(images - 0.5).reshape(12, -1).max(axis=1), 0.5).all()
    assert first_layer_images(default_model, 4).shape == (4, 28, 28)


def test_strongest_maps_come_first_on_one_brightness_scale():
    maps = np.zeros((5, 5, 4), np.float32)
    maps[..., 1] = 2.0     # the strongest
    maps[0, 0, 3] = 10.0   # the brightest pixel, but a weak map on average (10/25 = 0.4)
    maps[..., 2] = 0.5
    shown, filters = strongest_maps(maps, count=3)
    assert filters.tolist() == [1, 2, 3] and shown.shape == (3, 5, 5)
    assert shown.max() == 1 and shown[0, 0, 0] == pytest.approx(0.2)  # 2 of the brightest 10
    with pytest.raises(ValueError, match=r"\(h, w, filters\)"):
        strongest_maps(maps[..., 0])


def test_numpy_convnet_filters_feature_maps_and_gradient(mnist):
    numpy_cnn = pytest.importorskip("mnistcore.nets.numpy_cnn", reason="the NumPy convnet is not here yet")
    (_, _), (x_test, _) = mnist
    net = numpy_cnn.ConvNet(numpy_cnn.CnnConfig(filters1=6, filters2=8, seed=0))
    assert first_layer_images(net, 4).shape == (4, 3, 3)
    layers = feature_maps(net, x_test[0])
    assert [(name, maps.shape) for name, maps in layers] == [("conv1", (26, 26, 6)), ("conv2", (11, 11, 8))]
    assert all(maps.min() >= 0 for _, maps in layers)
    assert_gradient_raises_the_probability(net, x_test[:2])
    assert imagine(net, steps=5).shape == (10, 28, 28)


def assert_gradient_raises_the_probability(model, images):
    """A small step along input_gradient makes the model surer of the digit (for each image)."""
    x = images.reshape(len(images), 784).astype(np.float32) / 255 * 0.8 + 0.1
    digits = np.arange(len(x)) + 3
    gradient = input_gradient(model, x, digits)
    step = 0.01 * gradient / np.abs(gradient).max(axis=1, keepdims=True)
    rows = np.arange(len(x))
    before, after = (model.predict_proba(image)[rows, digits] for image in (x, np.clip(x + step, 0, 1)))
    assert (after > before).all(), (before, after)


# ---------------------------------------------------------------------------- the page


@pytest.fixture
def site(tmp_path, monkeypatch, small_mnist):
    """The site with private weights and lab database; returns (AppTest, weights folder)."""
    folder = weights_copy(tmp_path / "weights", small_mnist)
    (folder / "runs").mkdir(exist_ok=True)
    monkeypatch.setenv("MNISTLAB_WEIGHTS_DIR", str(folder))
    monkeypatch.setenv("MNISTLAB_FEEDBACK_DB", str(tmp_path / "lab.db"))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    return at, folder


def show(at: AppTest, model: str | None = None) -> AppTest:
    """The Look inside page (with `model` chosen), which must run without exceptions."""
    if model is None:
        at.switch_page("pages/inside.py").run()
    else:
        at.selectbox(key="model").set_value(model).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_look_inside_shows_what_an_mlp_sees(tmp_path, monkeypatch, small_mnist):
    monkeypatch.setenv("MNISTLAB_WEIGHTS_DIR", str(weights_copy(tmp_path / "mlp", small_mnist, default=FIRST_MLP)))
    monkeypatch.setenv("MNISTLAB_FEEDBACK_DB", str(tmp_path / "lab.db"))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    show(at)
    assert [s.value for s in at.header] == ["What it sees in each digit", "What its hidden units look for"]
    surest, made_up, units = at.image[0], at.image[1], at.image[2]
    assert surest.captions == made_up.captions == DIGITS and len(units.captions) == 24
    assert [m.value for m in at.markdown if m.value.startswith("**")][:2] == [
        "**Real digits it is surest about**", "**Digits it makes up**"]
    captions = " ".join(c.value for c in at.caption)
    assert "average of the 50 handwritten digits (of 2,000 from MNIST's test set)" in captions
    assert "starting from a dark grey picture: 150 small changes" in captions
    assert not at.expander  # the back query is the sigmoid network's alone
    assert imagining.digit_pictures_ready(services.saved_model("default"))  # the next view is instant


def test_look_inside_a_sigmoid_network_and_a_numpy_convnet(site, small_mnist, mnist):
    numpy_cnn = pytest.importorskip("mnistcore.nets.numpy_cnn", reason="the NumPy convnet is not here yet")
    at, folder = site
    (x, y), _ = small_mnist
    sigmoid = RUN_NAME.format(day="20250101", engine="numpy", suffix="npz")
    convnet = RUN_NAME.format(day="20250102", engine="numpy", suffix="npz")
    tutorials = NeuralNetWork(784, 32, 10, 0.1, seed=0)  # sigmoid, as in the tutorial
    tutorials.fit(x[:500], y[:500], epochs=1, batch_size=10).save(folder / "runs" / sigmoid)
    numpy_cnn.ConvNet(numpy_cnn.CnnConfig(filters1=6, filters2=8, seed=0)).save(folder / "runs" / convnet)
    show(at)
    show(at, sigmoid)
    assert at.expander[0].label == "The tutorial's back query"
    assert at.image[2].captions == DIGITS  # the back query's digits, after the two sets

    show(at, convnet)
    assert [s.value for s in at.header] == ["What it sees in each digit", "What its first convolution looks for",
                                               "What it sees in your drawing"]
    assert "Draw a digit on the Draw page to see your own here" in at.info[0].value
    assert len(at.image[2].proto.imgs) == 6  # all six filters (of the 15 shown at most)
    maps = [image.captions for image in at.image[4:]]
    assert [len(c) for c in maps] == [6, 8] and all(c.startswith("filter ") for c in maps[0] + maps[1])
    # The visitor's last drawing (the Draw page keeps it): no more "draw a digit".
    at.session_state["last_digit"] = mnist[1][0][7].astype(np.float32) / 255
    show(at, convnet)
    assert not at.info and len(at.image) == 6
    at.session_state["last_digit"] = np.zeros((5, 5))  # not a drawing: the MNIST digit instead
    show(at, convnet)
    assert "Draw a digit on the Draw page" in at.info[0].value


def test_keras_models_first_layers_feature_maps_and_gradient(mnist):
    """The one test here that imports TensorFlow: Keras' first layers, feature maps and input
    gradient, the same as the NumPy convnet's with the same weights (when it is here). (The page
    with a Keras CNN: tests/test_lab_pages.py.)"""
    pytest.importorskip("tensorflow", reason="TensorFlow is not installed")
    from mnistcore.nets.keras_net import KerasModel
    (_, _), (x_test, _) = mnist
    assert first_layer_images(KerasModel("mlp", seed=0), 8).shape == (8, 28, 28)
    cnn = KerasModel("cnn", seed=0)
    filters = first_layer_images(cnn, 8)
    assert filters.shape == (8, 3, 3) and np.isclose(np.abs(filters - 0.5).reshape(8, -1).max(axis=1), 0.5).all()
    layers = feature_maps(cnn, x_test[0])
    assert [(name, maps.shape) for name, maps in layers] == [("conv1", (26, 26, 32)), ("conv2", (11, 11, 64))]
    assert_gradient_raises_the_probability(cnn, x_test[:3])
    assert imagine(cnn, steps=3).shape == (10, 28, 28)
    try:
        from mnistcore.nets.numpy_cnn import ConvNet
    except ImportError:
        return
    twin = ConvNet()  # Keras' weights in the NumPy convnet: both engines must see the same
    for name, weights in zip(("w1", "b1", "w2", "b2", "w3", "b3"), cnn.model.get_weights()):
        setattr(twin, name, weights)
    for (_, ours), (_, theirs) in zip(feature_maps(twin, x_test[0]), layers):
        assert np.allclose(ours, theirs, atol=1e-4)
    # A little noise on the pixels: where two pooled windows hold the same values (a blank
    # background), the maximum is a tie, each engine may route the gradient to either, and which
    # one depends on the last bit of a matrix product (one BLAS thread or two). Both are right.
    noise = np.random.default_rng(0).uniform(0, 0.05, (3, 784)).astype(np.float32)
    x = np.clip(x_test[:3].reshape(3, 784).astype(np.float32) / 255 * 0.95 + noise, 0, 1)
    assert np.allclose(input_gradient(twin, x, [1, 2, 3]), input_gradient(cnn, x, [1, 2, 3]), atol=1e-4)


def test_spaced_images_keep_their_pixels_crisp_and_apart():
    from mnistcore.explain.inside import MARGIN, OUTLINE, spaced
    filters = np.random.default_rng(0).random((3, 3, 3)).astype(np.float32)
    tiles = spaced(filters, 84)
    assert len(tiles) == 3 and tiles[0].shape == (84 + 2 * MARGIN, 84 + 2 * MARGIN, 3)
    inner = tiles[0][MARGIN : MARGIN + 84, MARGIN : MARGIN + 84, 0]
    assert np.array_equal(inner[::28, ::28], np.round(filters[0] * 255))  # each weight a 28-px square
    assert (inner[:28, :28] == inner[0, 0]).all()
    assert tuple(tiles[0][MARGIN - 1, MARGIN]) == OUTLINE and (tiles[0][0] == 255).all()
    with pytest.raises(ValueError, match="margin must be at least 1"):
        spaced(filters, 84, margin=0)
