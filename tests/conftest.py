"""Shared fixtures: real MNIST, loaded once per test session (fetched first if missing)."""
import os
import time

import numpy as np
import pytest

from mnistcore.data import load_mnist
from mnistcore.lab.config import live_signal_path
from mnistcore.paths import STATIC_DIR, WEIGHTS_DIR

_STARTED = time.time()


def pytest_sessionfinish(session):
    """Servers started by tests (on temporary model stores) each left a live-model file in static/
    (mnistcore.lab.store's signal): remove those made during this session, once every worker is
    done (in the controlling process), never the one for the project's own weights/."""
    if hasattr(session.config, "workerinput"):
        return
    keep = live_signal_path(WEIGHTS_DIR)
    for path in STATIC_DIR.glob("live-*.json"):
        try:
            if path != keep and path.stat().st_mtime >= _STARTED - 1:
                path.unlink()
        except OSError:
            pass


@pytest.fixture(scope="session", autouse=True)
def private_timings(tmp_path_factory):
    """Runs trained by tests record their pace in a file of the test session's (servers started by
    tests inherit it), never in the project's data/timings.json, which the lab's estimates read."""
    path = tmp_path_factory.mktemp("timings") / "timings.json"
    previous = os.environ.get("MNISTLAB_TIMINGS")
    os.environ["MNISTLAB_TIMINGS"] = str(path)
    yield path
    if previous is None:
        os.environ.pop("MNISTLAB_TIMINGS", None)
    else:
        os.environ["MNISTLAB_TIMINGS"] = previous


@pytest.fixture(scope="session")
def mnist():
    """load_mnist()'s ((x_train, y_train), (x_test, y_test)), read-only so no test can change it."""
    (x_train, y_train), (x_test, y_test) = load_mnist()
    for array in (x_train, y_train, x_test, y_test):
        array.flags.writeable = False
    return (x_train, y_train), (x_test, y_test)


@pytest.fixture(scope="session")
def small_mnist(mnist):
    """3,000 training and 1,000 test images: enough to learn from, quick to train on."""
    (x_train, y_train), (x_test, y_test) = mnist
    return (x_train[:3000], y_train[:3000]), (x_test[:1000], y_test[:1000])


@pytest.fixture
def rng():
    return np.random.default_rng(0)
