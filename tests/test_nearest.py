"""The small nearest-image index (mnistcore.explain.nearest) gives exactly the brute-force answer."""
import numpy as np
import pytest

from mnistcore.explain.nearest import NearestImages
from mnistcore.preprocess import ink_steps
from sitetools import canvas_image


def brute_force(train: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The k nearest of all `train` images to each query (ties: lower index first), and their
    squared distances; pixels in [0, 1]. Every image is scanned (float32), then the best 20 of
    each scan are ranked by the exact float64 distance: float32's error (~1e-5) is far smaller
    than the gap between a 3rd and a 20th nearest."""
    x = train.reshape(len(train), -1)
    q = (queries.reshape(len(queries), -1) / (255.0 if queries.dtype == np.uint8 else 1.0)).astype(np.float32)
    squared = np.empty((len(q), len(x)), np.float32)
    for start in range(0, len(x), 10_000):
        part = x[start:start + 10_000].astype(np.float32) / 255
        squared[:, start:start + 10_000] = (part * part).sum(1) - 2 * q @ part.T
    near = np.sort(np.argpartition(squared, 20, axis=1)[:, :20], axis=1)  # sorted: ties go to the lower index
    exact = ((x[near].astype(np.float64) / 255 - q[:, None, :].astype(np.float64)) ** 2).sum(2)
    order = np.argsort(exact, axis=1, kind="stable")[:, :k]
    return np.take_along_axis(near, order, 1), np.take_along_axis(exact, order, 1)


@pytest.fixture(scope="module")
def index(mnist):
    (x_train, _), _ = mnist
    return NearestImages(x_train)


def test_small_and_no_copy_of_the_images(index, mnist):
    (x_train, _), _ = mnist
    assert np.shares_memory(index.images, x_train)
    assert index.nbytes < 20 * 2**20  # the float32 copy it replaces was 188 MB


def test_same_top3_as_brute_force_on_300_test_digits(index, mnist):
    (x_train, _), (x_test, _) = mnist
    queries = x_test[np.random.default_rng(0).choice(len(x_test), 300, replace=False)]
    expected, squared = brute_force(x_train, queries, 3)
    for query, want, want_squared in zip(queries, expected, squared):
        idx, distances = index.nearest(query, k=3)
        assert idx.tolist() == want.tolist()
        assert np.allclose(distances, np.sqrt(want_squared), atol=1e-4)


def test_same_top3_as_brute_force_on_drawings(index, mnist):
    """Drawings as the page reads them: canvas-sized, preprocessed, floats in [0, 1]."""
    (x_train, _), (x_test, _) = mnist
    queries = np.array([ink_steps(canvas_image(x_test[i])).centred.reshape(28, 28) for i in range(40)])
    expected, _ = brute_force(x_train, queries, 3)
    for query, want in zip(queries, expected):
        assert index.nearest(query, k=3)[0].tolist() == want.tolist()


def test_a_training_image_is_its_own_nearest(index, mnist):
    (x_train, _), _ = mnist
    idx, distances = index.nearest(x_train[1234], k=5)
    assert idx[0] == 1234 and distances[0] == pytest.approx(0, abs=1e-6) and (np.diff(distances) >= 0).all()
