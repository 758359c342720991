"""The lab server's shared state, made once per server process and shared by every visitor.

The model store, the training slot, the feedback store, MNIST, the nearest-image index and saved
models loaded by name. They live in a plain module-level registry, not in Streamlit's
`st.cache_resource`: any connected client may send Streamlit a `clear_cache` message, which
empties `st.cache_resource` for everyone, and a second slot or store made after it would let two
runs train at once and orphan the first. Nothing a client sends can empty this registry.

Each object is made on first use, by one thread (others asking at the same moment wait for it),
and keyed by its configuration (`config`), so tests pointing MNISTLAB_WEIGHTS_DIR or
MNISTLAB_FEEDBACK_DB elsewhere get their own. Everything here is thread-safe.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Callable, TypeVar

from ..data import load_mnist, resolve_data_dir
from ..explain.inside import NearestImages
from ..nets import DigitModel, load_model
from . import config
from .feedback import FeedbackStore
from .slot import TrainingSlot
from .store import ModelStore

T = TypeVar("T")
SAVED_MODELS_KEPT = 16  # models loaded by name (Draw's comparison, Look inside), most recent kept

_registry_lock = threading.Lock()         # guards the two dicts; held only for a moment
_made: OrderedDict[tuple, object] = OrderedDict()
_making: dict[tuple, threading.Lock] = {}  # one lock per key while it is being made


def _once(key: tuple, make: Callable[[], T], keep: int | None = None) -> T:
    """The object registered under `key`, made by `make()` the first time it is asked for.

    A `make` that raises registers nothing (the next caller tries again). With `keep`, at most
    that many objects of this kind (`key[0]`) are kept, the least recently used given up first.
    """
    with _registry_lock:
        if key in _made:
            _made.move_to_end(key)
            return _made[key]
        making = _making.setdefault(key, threading.Lock())
    with making:  # a slow make (MNIST, the index) holds up only those who want the same thing
        with _registry_lock:
            if key in _made:
                return _made[key]
        value = make()
        with _registry_lock:
            _made[key] = value
            _making.pop(key, None)
            if keep is not None:
                same = [k for k in _made if k[0] == key[0]]
                for old in same[: max(0, len(same) - keep)]:
                    del _made[old]
        return value


def model_store() -> ModelStore:
    """The live model and the saved runs ($MNISTLAB_WEIGHTS_DIR, else weights/)."""
    folder = config.weights_dir()
    return _once(("store", str(folder)), lambda: ModelStore(folder))


def training_slot() -> TrainingSlot:
    """The server's one training slot."""
    seconds = config.heartbeat_seconds()
    return _once(("slot", seconds), lambda: TrainingSlot(heartbeat_timeout=seconds))


def feedback_store() -> FeedbackStore:
    """The lab drawings database ($MNISTLAB_FEEDBACK_DB, else data/lab.db)."""
    path = config.feedback_db_path().resolve()
    return _once(("feedback", str(path)), lambda: FeedbackStore(path))


def mnist():
    """load_mnist()'s ((x_train, y_train), (x_test, y_test)), read-only, so no visitor can change
    what the others see. Raises what load_mnist raises (MnistUnavailable, ValueError, OSError)."""
    folder = resolve_data_dir().resolve()

    def load():
        data = load_mnist(folder)
        for part in data:
            for array in part:
                array.flags.writeable = False
        return data

    return _once(("mnist", str(folder)), load)


def nearest_images() -> NearestImages:
    """The nearest-image finder over MNIST's 60,000 training images."""
    return _once(("nearest", str(resolve_data_dir().resolve())), lambda: NearestImages(mnist()[0][0]))


def saved_model(name: str) -> DigitModel:
    """The model saved under `name` in the model store ("default" or a run); the live one as it is.

    Raises what `ModelStore.path_of` and `load_model` raise (ValueError, ModelFileError, OSError).
    Loading a Keras model imports TensorFlow: call this only when the visitor asks for one.
    The file's modification time is part of the key: a file replaced in place is loaded afresh.
    """
    store = model_store()
    live = store.live()
    if live is not None and live.name == name:
        return live.model
    path = store.path_of(name)
    return _once(("model", str(path), path.stat().st_mtime_ns), lambda: load_model(path), keep=SAVED_MODELS_KEPT)
