"""The server's shared objects as pages use them: one per server process (mnistcore.lab.services),
never in st.cache_resource, which any client can clear. Where one cannot be had, the visitor is
told why and the page stops."""
from __future__ import annotations

import gc
import logging
import threading

import streamlit as st
from threadpoolctl import threadpool_limits

from mnistcore.data import MnistUnavailable, resolve_data_dir
from mnistcore.explain.answer import calibrate, read_answer, temperature_for
from mnistcore.explain.reading import Reader
from mnistcore.lab import compare, services
from mnistcore.lab.services import feedback_store, handwriting_reports, saved_model  # noqa: F401 - for the pages
from mnistcore.lab.store import Live
from mnistcore.training.teach import RULE, teach  # noqa: F401 - RULE for the pages
from ui.text import N_, _, ngettext, number, public

log = logging.getLogger("mnistlab")
# One BLAS thread for the whole server process: what visitors ask for is tiny products (1 x 784),
# after each of which a second OpenBLAS thread only spins, burning CPU; a crowd keeps both cores
# busy anyway, and the training slot limits itself to one as well.
threadpool_limits(limits=1, user_api="blas")


class Reads:
    """How many drawings this server process is reading right now. A crowd drawing at once (a
    class of 50) asks more of one process than it can give, and Streamlit starts every visitor's
    rerun at once, so all of them get slower together. Leaving out the pictures and nearest
    images (a quarter of a drawing's cost) while several drawings are read at once keeps up."""

    BUSY = 2  # drawings being read at once, this one included, from which the pictures wait

    def __init__(self):
        self._lock = threading.Lock()
        self._now = 0

    def busy(self) -> bool:
        with self._lock:
            return self._now >= self.BUSY

    def __enter__(self):
        with self._lock:
            self._now += 1

    def __exit__(self, *exc):
        with self._lock:
            self._now -= 1


# One per server process (this module is imported once; a page's own globals are made afresh on
# every run, so a counter kept there would count one visitor's runs only).
READS = Reads()
_ready: set[str] = set()  # what has been made once in this process: asked for again, no spinner
store = services.model_store
slot = services.training_slot


def mnist():
    """MNIST as load_mnist() returns it; if it cannot be had, a clear error and the page stops."""
    try:
        with st.spinner(_("Getting MNIST… (the first time, this downloads about 11 MB)")):
            return services.mnist()
    except MnistUnavailable as err:
        log.error("MNIST could not be downloaded: %s", err)
        st.error(_("**MNIST could not be downloaded.** This page needs the MNIST images.\n\n{problem}").format(
            problem=public(err)))
    except (ValueError, OSError) as err:
        log.error("MNIST in %s cannot be read: %s", resolve_data_dir(), err)
        st.error(_("**The MNIST files in {folder} cannot be read:** {problem}\n\nDelete the folder's contents and "
                   "reload this page to download them again, or ask whoever runs the lab server to run "
                   "`python -m mnistcore fetch`.").format(folder=public(resolve_data_dir()), problem=public(err)))
    st.stop()


def warm_up() -> None:
    """Start making what Draw's first answer needs (MNIST's digit reference, the nearest-image
    index) in the background, so that the visitor's first stroke is not kept waiting for them."""
    def make():
        try:
            services.digit_reference()
            services.nearest_images()
        except Exception:  # noqa: BLE001 - the page itself says what is wrong when it needs them
            log.warning("draw: warming up failed", exc_info=True)
        _freeze_once()

    if not st.session_state.get("warming_up"):
        st.session_state.warming_up = True
        threading.Thread(target=make, daemon=True, name="warm-up").start()


_frozen = threading.Event()


def _freeze_once() -> None:
    """What the server has made by its first warm-up (Streamlit, the models, the indexes) stays
    for good: out of the garbage collector's sight, so its full passes, which stop every visitor's
    rerun, are shorter (bench/crowd.py). Once per process: frozen objects are never collected as
    cycles, so freezing again for every visitor would keep their sessions' cycles forever."""
    if not _frozen.is_set():
        _frozen.set()
        gc.freeze()


def _made_once(name: str, make, waiting: str):
    """make(), under a spinner saying `waiting` until it has once succeeded (a spinner costs a
    thread and two messages: not worth it on every stroke for what is already made)."""
    if name in _ready:
        return make()
    with st.spinner(waiting):
        value = make()
    _ready.add(name)
    return value


def digit_reference():
    """What MNIST's digits look like (to tell a digit from a scribble), or None without MNIST:
    the Draw page then still answers, with one check fewer."""
    try:
        return _made_once("digit reference", services.digit_reference, _("Getting to know MNIST's digits…"))
    except (MnistUnavailable, ValueError, OSError) as err:
        log.warning("draw: no MNIST reference for judging drawings: %s", err)
        return None


def nearest_images():
    """The finder over MNIST's training images (built once per server) and (x_train, y_train)."""
    (x_train, y_train), _test = mnist()  # shows what to do and stops the page when MNIST is missing
    with st.spinner(_("Indexing the {count} MNIST training images…").format(count=number(60_000))):
        return services.nearest_images(), (x_train, y_train)


def nearest_training_images(image, k: int = 3) -> tuple[tuple[int, int], ...]:
    """(index, label) of the k training images nearest `image`, nearest first; () without MNIST
    (`nearest_images()` then says why, where the page shows them)."""
    try:
        finder = _made_once("nearest", services.nearest_images,
                            _("Indexing the {count} MNIST training images…").format(count=number(60_000)))
        y_train = services.mnist()[0][1]
    except (MnistUnavailable, ValueError, OSError) as err:
        log.warning("draw: no nearest images: %s", err)
        return ()
    return tuple((int(i), int(y_train[i])) for i in finder.nearest(image, k=k)[0])


def drawing_reader(live: Live) -> Reader:
    """How the Draw page reads drawings with the live model: MNIST's digit reference and nearest
    images fetched when a drawing first needs them (without MNIST, it reads with one check fewer)."""
    return Reader(live.model, live.id, temperature_for(live.info), reference=digit_reference,
                  nearest=nearest_training_images)


def saved_models_answers(image) -> dict[str, list]:
    """Every saved model's answer for a (28, 28) image, as the columns of mnistcore.lab.compare.table."""
    runs = store().runs()
    with st.spinner(ngettext("Asking {count} saved model… (the first Keras model takes a few seconds to load)",
                             "Asking {count} saved models… (the first Keras model takes a few seconds to load)",
                             len(runs)).format(count=len(runs))):
        return compare.table(compare.compare(image, runs, saved_model))


def model_choices(live: Live) -> dict[str, str]:
    """Every saved model a visitor may pick, by name, with a line describing each. The live model is
    always listed, even when its file became unreadable since it was loaded."""
    labels = {run.name: (compare.live_marked if run.live else str)(compare.describe_run(run.name, run.info))
              for run in store().runs() if run.info is not None}
    if live.name not in labels:
        labels = {live.name: compare.live_marked(compare.describe_run(live.name, live.info))} | labels
    return labels


class_board = services.class_board  # every model trained in this lab (mnistcore.lab.classroom)


def my_model(token: str) -> Live | None:
    """The visitor's own newest model from the class board, as a Live a Reader can use (its name
    "class:<run id>"); None when they have none, or its file cannot be read (logged)."""
    board = class_board()
    entry = board.latest_of(services.class_owner(token))
    if entry is None:
        return None
    try:
        model = board.model(entry.run_id)
    except (ValueError, OSError) as err:  # ModelFileError is a ValueError
        log.warning("draw: the class model of run %s cannot be loaded: %s", entry.run_id, err)
        return None
    return Live(model, model.info, f"class:{entry.run_id}", version=0)


def answer_of(live: Live, image) -> tuple[int, float]:
    """(digit, calibrated probability) of `live`'s answer for a (28, 28) image: the other model's
    answer shown beside the one that reads the drawing."""
    answer = read_answer(calibrate(live.model.predict_proba(image[None])[0], temperature_for(live.info)))
    return answer.digit, answer.probability


class_owner = services.class_owner  # a visitor's key on the class board


TEACH_PROBLEM = "teach_problem"  # session key: why the last Teach it did nothing
TAUGHT = "taught"  # session key: this visitor's taught copies, newest last, as (base model's id, Live, before)


def taught_live(base: Live) -> Live:
    """This visitor's newest taught copy of `base` (Teach it on Draw), else `base` itself."""
    return next((live for base_id, live, _ in reversed(st.session_state.get(TAUGHT, [])) if base_id == base.id), base)


def teaching_of(live: Live) -> tuple | None:
    """(digit, probability) `live`'s base answered before it was taught, None for an untaught model."""
    return next((before for _, taught, before in st.session_state.get(TAUGHT, []) if taught is live), None)


def teach_it(base: Live, image, digit: int) -> int:
    """Teach this visitor's copy of `base` (their newest taught one, if any) that `image` is `digit`;
    returns the steps taken. Only their session holds the copy: nobody else's answers change."""
    (x_train, y_train), _test = mnist()
    answering = taught_live(base)
    before = answer_of(answering, image)
    try:
        model, steps = teach(answering.model, image, digit, x_train, y_train)
    except Exception:  # noqa: BLE001 - a model that cannot be copied or taught here (Keras'): say so, log why
        log.warning("draw: teaching %s failed", base.name, exc_info=True)
        st.session_state[TEACH_PROBLEM] = N_("This model cannot be taught here: try it with a NumPy model.")
        return 0
    stack = st.session_state.setdefault(TAUGHT, [])
    stack.append((base.id, Live(model, model.info, f"taught:{len(stack) + 1}:{base.name}", version=0), before))
    return steps


def untaught(base: Live) -> None:
    """Undo this visitor's last teaching of `base`."""
    stack = st.session_state.get(TAUGHT, [])
    last = next((i for i in range(len(stack) - 1, -1, -1) if stack[i][0] == base.id), None)
    if last is not None:
        del stack[last]
