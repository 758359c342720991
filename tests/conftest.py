"""Shared fixtures: real MNIST, loaded once per test session (fetched first if missing). And the
markers `server` and `subprocess`, set here on every test that starts a real server or a fresh
Python, so that `make test-fast` can leave them out and no test needs to remember its marker."""
import functools
import inspect
import os
import time

import numpy as np
import pytest

import pgserver
from mnistcore.data import load_mnist
from mnistcore.lab import pg
from mnistcore.lab.config import class_signal_path, live_signal_path
from mnistcore.paths import STATIC_DIR, WEIGHTS_DIR
from probed import probed_already

_STARTED = time.time()
# Every Python a test starts (servers, fresh interpreters) prints its threads' stacks if it crashes
# (a segfault shows as exit status -11 and nothing else): passed on through the environment.
os.environ.setdefault("PYTHONFAULTHANDLER", "1")
# What the code of a test starts, recognised by what it calls. Servers: tests/sitetools.running_site,
# and test_processes.serve_lab (deploy/serve_lab.py: Streamlit processes behind nginx). Browsers
# always start a server. A fresh Python: the CLI, import checks from scratch, the tutorial's script.
# The site in this process: Streamlit's AppTest runs whole pages, often through a training run.
STARTERS = {"server": ("running_site(", "serve_lab("), "subprocess": ("sys.executable",),
            "site": ("AppTest", "private_site(")}


@functools.cache
def _source(function) -> str:
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return ""


def _names(code) -> set[str]:
    """The global names `code` and the functions, lambdas and comprehensions inside it use."""
    return set(code.co_names).union(*(_names(c) for c in code.co_consts if inspect.iscode(c)))


def _code_of(item) -> str:
    """The source of a test, of its fixtures, and of the functions of their own module they call."""
    functions = [getattr(item, "function", None)]
    functions += [d.func for defs in item._fixtureinfo.name2fixturedefs.values() for d in defs]
    functions = [f for f in functions if inspect.isfunction(f)]
    helpers = [f.__globals__.get(name) for f in functions for name in _names(f.__code__)]
    functions += [h for h in helpers if inspect.isfunction(h) and h.__module__ in {f.__module__ for f in functions}]
    return "\n".join(_source(f) for f in dict.fromkeys(functions))


def starts(item) -> set[str]:
    """Which of STARTERS' markers `item` needs."""
    code = _code_of(item)
    needed = {marker for marker, calls in STARTERS.items() if any(call in code for call in calls)}
    # A real PostgreSQL: asked for by name, or one parameter of a suite run against both back ends
    params = getattr(getattr(item, "callspec", None), "params", {})
    postgres = {"pg_server", "pg_url", "database"} & set(getattr(item, "fixturenames", ())) or any(
        isinstance(value, str) and value == "postgres" for value in params.values())
    return needed | ({"server"} if item.get_closest_marker("browser") or postgres else set())


def pytest_collection_modifyitems(config, items):
    for item in items:
        for marker in starts(item):
            item.add_marker(marker)


def pytest_sessionfinish(session):
    """Servers started by tests (on temporary model stores) each left a live-model file in static/
    (mnistcore.lab.store's signal): remove those made during this session, once every worker is
    done (in the controlling process), never the one for the project's own weights/."""
    if hasattr(session.config, "workerinput"):
        return
    keep = live_signal_path(WEIGHTS_DIR)
    keep_class = class_signal_path(WEIGHTS_DIR)  # the class board's file, likewise (mnistcore.lab.classroom)
    for path in [*STATIC_DIR.glob("live-*.json"), *STATIC_DIR.glob("class-*.json")]:
        if path == keep_class:
            continue
        try:
            if path != keep and path.stat().st_mtime >= _STARTED - 1:
                path.unlink()
        except OSError:
            pass


def _session_variable(name: str, value: str):
    previous = os.environ.get(name)
    os.environ[name] = value
    yield value
    if previous is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = previous


@pytest.fixture(scope="session", autouse=True)
def private_timings(tmp_path_factory):
    """Runs trained by tests record their pace in a file of the test session's (servers started by
    tests inherit it), never in the project's data/timings.json, which the lab's estimates read.
    Its networks count as probed already (tests/probed.py)."""
    path = probed_already(tmp_path_factory.mktemp("timings") / "timings.json")
    yield from _session_variable("MNISTLAB_TIMINGS", str(path))


@pytest.fixture(scope="session", autouse=True)
def private_lab_db(tmp_path_factory):
    """Drawings labelled in tests go to a database of the test session's (servers started by tests
    inherit it) unless a test names its own, never to the project's data/lab.db."""
    yield from _session_variable("MNISTLAB_FEEDBACK_DB", str(tmp_path_factory.mktemp("lab") / "lab.db"))


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


@pytest.fixture(scope="session")
def pg_server():
    """A real PostgreSQL server for this test session (tests/pgserver.py); skipped where there is none."""
    reason = pgserver.missing_reason()
    if reason:
        pytest.skip(reason)
    with pgserver.postgres_server() as url:
        yield url
        pg.close_all()  # slots' threads may outlive their tests: their pools stay open until the end


@pytest.fixture
def pg_url(pg_server):
    """The URL of a new, empty database on the session's PostgreSQL server."""
    return pgserver.fresh_database(pg_server)


@pytest.fixture(params=["sqlite", "postgres"])
def database(request):
    """Each back end in turn: None for the SQLite files of one machine, else a PostgreSQL URL."""
    return request.getfixturevalue("pg_url") if request.param == "postgres" else None
