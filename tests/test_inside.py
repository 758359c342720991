"""Looking inside: back query, hidden units, first-layer filters, nearest training images."""
import numpy as np
import pytest

from mnistcore.explain.inside import NearestImages, back_query, hidden_unit_images, network_images
from mnistcore.nets import load_model
from mnistcore.nets.numpy_net import NeuralNetWork


@pytest.fixture(scope="module")
def default_model():
    return load_model()


def test_back_query_imagines_digits_the_network_recognises(default_model):
    imagined = np.array([back_query(default_model, d) for d in range(10)])
    assert imagined.shape == (10, 28, 28) and imagined.min() >= 0 and imagined.max() <= 1
    # Each imagined image is read back as its own digit by the network that imagined it (most).
    assert np.sum(default_model.predict(imagined) == np.arange(10)) >= 8
    assert not np.allclose(imagined[0], imagined[1])


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
    assert network_images(default_model, 4).shape == (4, 28, 28)


def test_nearest_training_images(mnist):
    (x_train, y_train), (x_test, y_test) = mnist
    finder = NearestImages(x_train[:5000])
    idx, distances = finder.nearest(x_train[1234], k=3)
    assert idx[0] == 1234 and distances[0] == pytest.approx(0, abs=1e-3)  # itself, at distance 0
    assert (np.diff(distances) >= 0).all()
    brute = np.sqrt(((x_train[:5000].astype(np.float32) / 255 - x_test[0] / 255.0) ** 2).reshape(5000, -1).sum(1))
    idx, distances = finder.nearest(x_test[0], k=3)
    assert idx.tolist() == np.argsort(brute)[:3].tolist()
    assert np.allclose(distances, np.sort(brute)[:3], atol=1e-3)


@pytest.mark.parametrize("arch, shape", [("mlp", (8, 28, 28)), ("cnn", (8, 3, 3))])
def test_keras_first_layer_as_images(arch, shape):
    from mnistcore.nets.keras_net import KerasModel
    images = network_images(KerasModel(arch, seed=0), 8)
    assert images.shape == shape and images.min() >= 0 and images.max() <= 1
    assert np.isclose(np.abs(images - 0.5).reshape(8, -1).max(axis=1), 0.5).all()


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
