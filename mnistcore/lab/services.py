"""The lab server's shared state, made once per server process and shared by every visitor.

The model store, the training slot, the feedback store, MNIST, the nearest-image index and saved
models loaded by name. What several server processes must share is not here but in files they
all read: the live model (live.json, which every ModelStore checks), the slot's board (an SQLite
file) and the lab drawings (SQLite). They live in a plain module-level registry, not in Streamlit's
`st.cache_resource`: any connected client may send Streamlit a `clear_cache` message, which
empties `st.cache_resource` for everyone, and a second slot or store made after it would let two
runs train at once and orphan the first. Nothing a client sends can empty this registry.

Each object is made on first use, by one thread (others asking at the same moment wait for it),
and keyed by its configuration (`config`), so tests pointing MNISTLAB_WEIGHTS_DIR or
MNISTLAB_FEEDBACK_DB elsewhere get their own. Everything here is thread-safe.
"""
from __future__ import annotations

import atexit
import datetime as dt
import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import asdict
from typing import TypeVar
from collections.abc import Callable

from threadpoolctl import threadpool_limits

from ..data import load_mnist, resolve_data_dir
from ..explain.answer import DigitReference
from ..explain.nearest import NearestImages
from ..nets import DigitModel, load_model
from ..nets.base import Progress
from ..openset import reference_for
from ..training import Timings, TrainResult, TrainSettings, recipes, run_training
from ..training.run import companion
from ..training.timing import probe
from . import config
from .classroom import ClassBoard
from .coordination import RunBoard
from .feedback import FeedbackStore
from .handwriting import HandwritingReports, trained_up_to
from .limits import SharedRateLimit
from .slot import TrainingSlot
from .slot.runs import RUNNING, Run, after_batch
from .slot.worker import TRAINING_NICENESS, lower_priority
from .store import ModelStore

T = TypeVar("T")
# Wrong passcodes per hour, by whom. A visitor and a device (a browser) get few; an address, which
# a room shares, more: a stranger in the room cannot use up the teacher's own.
PASSCODE_GUESSES = {"visitor": 10, "device": 10, "address": 100}
PASSCODE_WINDOW = 3600.0
ADDRESS_DRAWINGS = 10  # an address may save this many times a device's labelled drawings (a room)
SAVED_MODELS_KEPT = 16  # models loaded by name (Draw's comparison, Look inside), most recent kept

log = logging.getLogger("mnistlab")
if not log.handlers:  # what the server logs (refusals, budgets, stopped runs) goes to its stderr
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(asctime)s mnistlab %(levelname)s %(message)s"))
    log.addHandler(_handler)
    log.setLevel(logging.INFO)
    log.propagate = False

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
    folder, kept, signal = config.weights_dir(), config.budget("runs_kept"), config.live_signal_path()
    url = config.database_url()

    def make() -> ModelStore:
        if url is None:
            return ModelStore(folder, runs_kept=kept, signal_path=signal)
        from .pg.store import PgModelStore  # the live model and the runs in the lab's PostgreSQL

        return PgModelStore(url, folder, runs_kept=kept, signal_path=signal)

    return _once(("store", str(folder), kept, url), make)


def training_slot() -> TrainingSlot:
    """The lab's one training slot, shared with every server process using the same board
    ($MNISTLAB_SLOT_DB, else runs/slot.db beside the models it publishes)."""
    seconds, places, path = config.heartbeat_seconds(), config.budget("places_per_client"), config.slot_db_path()
    url = config.database_url()
    timings_path = config.timings_path()

    def train(settings: TrainSettings, data, **callbacks) -> TrainResult:
        """run_training, timed for the next estimates, with the lab's drawings read when the run starts."""
        lab = feedback_store().training_set() if settings.lab_drawings else None
        return run_training(settings, data, timings=timings, **callbacks,
                            lab_drawings=(lab.images, lab.labels) if lab is not None else None,
                            lab_not_digits=lab.not_digits if lab is not None else None,
                            lab_record=lab.record if lab is not None else None)

    def make() -> TrainingSlot:
        prober = threading.Thread(target=probe_networks, args=(timings,), daemon=True, name="timing-probe")
        prober.start()
        atexit.register(_end_probe, prober)
        return TrainingSlot(train=train, heartbeat_timeout=seconds, places_per_client=places, board=_board(path, url),
                            timings=timings, on_model=keep_for_class)

    timings = Timings(timings_path)
    return _once(("slot", seconds, places, str(path), url, str(timings_path)), make)


def _board(path, url: str | None):
    """The slot's board: in PostgreSQL when the lab has one (several machines), else an SQLite file."""
    if url is None:
        return RunBoard(path)
    from .pg.board import PgRunBoard

    return PgRunBoard(url)


def _shared_limit(path, name: str, counts: dict[str, int], seconds: float):
    """A budget counted once for the lab: in its PostgreSQL when it has one, else an SQLite file."""
    url = config.database_url()
    if url is None:
        return SharedRateLimit(path, name, counts, seconds)
    from .pg.limits import PgSharedRateLimit

    return PgSharedRateLimit(url, name, counts, seconds)


_PROBE_ENDING = threading.Event()  # set at exit: the start-up probe stops at its next batch


class _Ending(Exception):
    """The process is exiting: the start-up probe gives up."""


def probe_networks(timings: Timings) -> None:
    """Time a few batches of each recipe's network that this server has never timed (seconds, once),
    as the slot trains them (one BLAS thread, its bookkeeping after every batch, the companion's fit
    after the last epoch): the first visitor's estimate is then this machine's, not the cost model's."""
    untimed = [r.settings for r in recipes().values()  # not Keras: importing TensorFlow would cost more
               if not r.settings.network.tensorflow and timings.probed(r.settings) is None]
    if not untimed:  # timed on an earlier start: nothing to do, nothing left running at exit
        return
    lower_priority(TRAINING_NICENESS)  # as the slot's worker trains: behind the pages, and timed so

    def unless_ending(work: Callable) -> Callable:
        def checked(*args):
            if _PROBE_ENDING.is_set():
                raise _Ending
            return work(*args)
        return checked

    try:
        data = mnist()
        reference_for(*data[0])  # every run's companion needs it: made once per process, before the first run
        with threadpool_limits(limits=1, user_api="blas"):
            for settings in untimed:
                probe(settings, data, timings, on_batch=unless_ending(slot_bookkeeping(settings)),
                      finish=unless_ending(lambda model: companion(model, data)))
    except _Ending:
        pass
    except Exception:  # noqa: BLE001 - estimates fall back on the cost model; the log says why
        log.warning("training: timing the networks at start-up failed", exc_info=True)


def _end_probe(prober: threading.Thread) -> None:
    """At exit: stop the start-up probe at its next batch, and give it a few seconds to.

    Left running, a daemon thread inside NumPy while the interpreter tears down crashed about 1
    exit in 15 of a short-lived process here (status -11, after the program's last line had run).
    A batch takes milliseconds; fitting the companion, which has no batches to stop at, takes 3 s
    on a quiet machine: a busier one may not wait for all of it.
    """
    _PROBE_ENDING.set()
    prober.join(timeout=5)


def slot_bookkeeping(settings: TrainSettings) -> Callable[[Progress], bool]:
    """What the slot's worker does after every batch of a run (its figures, its expected end), for a
    probe to time with the batches: for the tutorial's one image at a time it is a good part of the run."""
    now = dt.datetime.now(dt.UTC)
    run = [Run("probe", "probe", "probe", settings, RUNNING, now, now, started_at=now)]

    def on_batch(progress: Progress) -> bool:
        now = dt.datetime.now(dt.UTC)
        run[0] = after_batch(run[0], progress, now)
        return False  # a probe never stops early

    return on_batch


def class_board() -> ClassBoard:
    """Every model trained in this lab (mnistcore.lab.classroom), in class/ beside the model store;
    in the lab's PostgreSQL when it has one (class/ is then this machine's cache)."""
    folder, signal, url = config.class_dir(), config.class_signal_path(), config.database_url()

    def make() -> ClassBoard:
        if url is None:
            return ClassBoard(folder, signal_path=signal)
        from .pg.classroom import PgClassBoard

        return PgClassBoard(url, folder, signal_path=signal)

    return _once(("class", str(folder), url), make)


def keep_for_class(run, result: TrainResult) -> None:
    """A run's model goes on the class board, owned by its visitor, with its accuracy on the lab's
    drawings it did not train on. Called by the slot's worker as each run ends."""
    model = result.model
    report = HandwritingReports(feedback_store()).report(f"class:{run.run_id}", model,
                                                         trained_up_to(model.info) or 0)
    drawings = len(report)
    accuracy = float(report.evaluation.accuracy) if drawings else None
    class_board().add(run.run_id, class_owner(run.owner), run.label, run.settings.describe(), model,
                      (run.finished_at or run.queued_at).isoformat(timespec="seconds"), accuracy, drawings,
                      asdict(run.settings))


def class_owner(token: str) -> str:
    """A visitor's key on the class board: a hash of their token, so the board never holds it."""
    return hashlib.sha256(f"class:{token}".encode()).hexdigest()[:32]


def drawing_rate() -> SharedRateLimit:
    """How many labelled drawings one device, and one address, may save per minute, counted across
    every server process (keys: device=..., address=...)."""
    count, path = config.budget("drawings_per_minute"), config.limits_db_path()
    return _once(("drawing rate", count, str(path), config.database_url()), lambda: _shared_limit(
        path, "drawings", {"device": count, "address": count * ADDRESS_DRAWINGS}, 60.0))


def passcode_guesses() -> SharedRateLimit:
    """Wrong passcodes per hour by visitor, device and address, across every server process (see
    ui.visitor.unlock): a guess is checked only while all three have some left."""
    path = config.limits_db_path()
    return _once(("passcode guesses", str(path), config.database_url()),
                 lambda: _shared_limit(path, "passcode", PASSCODE_GUESSES, PASSCODE_WINDOW))


def feedback_store() -> FeedbackStore:
    """The lab drawings database ($MNISTLAB_FEEDBACK_DB, else data/lab.db), holding at most
    $MNISTLAB_MAX_DRAWINGS drawings."""
    path, rows, url = config.absolute(config.feedback_db_path()), config.budget("max_drawings"), config.database_url()

    def make() -> FeedbackStore:
        if url is None:
            return FeedbackStore(path, max_rows=rows)
        from .pg.feedback import PgFeedbackStore  # the lab's drawings in its PostgreSQL

        return PgFeedbackStore(url, max_rows=rows)

    return _once(("feedback", str(path), rows, url), make)


def mnist():
    """load_mnist()'s ((x_train, y_train), (x_test, y_test)), read-only, so no visitor can change
    what the others see. Raises what load_mnist raises (MnistUnavailable, ValueError, OSError)."""
    folder = config.absolute(resolve_data_dir())

    def load():
        data = load_mnist(folder)
        for part in data:
            for array in part:
                array.flags.writeable = False
        return data

    return _once(("mnist", str(folder)), load)


def nearest_images() -> NearestImages:
    """The nearest-image finder over MNIST's 60,000 training images."""
    return _once(("nearest", str(config.absolute(resolve_data_dir()))), lambda: NearestImages(mnist()[0][0]))


def digit_reference() -> DigitReference:
    """What MNIST's training digits look like, digit by digit: how the Draw page tells a digit
    from a letter or a scribble (mnistcore.explain.answer.judge_drawing)."""
    return _once(("digit reference", str(config.absolute(resolve_data_dir()))),
                 lambda: DigitReference(*mnist()[0]))


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


def handwriting_reports() -> HandwritingReports:
    """The live model's report on the lab drawings, worked out once per (live model, drawings) for
    every visitor, over `feedback_store()`."""
    path = config.absolute(config.feedback_db_path())
    return _once(("handwriting", str(path), config.database_url()), lambda: HandwritingReports(feedback_store()))
