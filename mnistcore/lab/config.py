"""Every setting the lab server reads: where its files live, who may train, test switches.

This is the only module that reads MNISTLAB_* environment variables or Streamlit's secrets rules
(MNIST_DATA_DIR, the data folder, belongs to mnistcore.data, which the CLI uses too).

From the environment:
- `MNISTLAB_WEIGHTS_DIR`: the model store's folder (default: weights/ in the project). Tests and
  the browser test point it at a temporary copy so they never touch the real models.
- `MNISTLAB_TRAIN_LIMIT`: train on the first N images only (tests and quick demos); the Train
  page says so when it is set.
- `MNISTLAB_HEARTBEAT_SECONDS`: how long a run or a place in the queue outlives its closed tab
  (default: HEARTBEAT_SECONDS).
- `MNISTLAB_FEEDBACK_DB`: the lab drawings database (default: data/lab.db in the project).
- `MNISTLAB_PUBLISH_FLOOR`: the test accuracy (0 to 1) a model needs to be published, or made live
  again, without a question; below it, or below the live model, publishing asks (and demo mode refuses).
  Default PUBLISH_FLOOR.
- `MNISTLAB_TIMINGS`: how long runs took on this server, for honest estimates (default:
  data/timings.json in the project).
- `MNISTLAB_SLOT_DB`: the training slot's board, shared by every server process that names the
  same file (default: runs/slot.db in the model store's folder, so processes serving one store
  share one slot).
- `MNISTLAB_LIMITS_DB`: the budgets shared by every server process (default: runs/limits.db in
  the model store's folder).
- `MNISTLAB_DATABASE_URL`: a `postgresql://` address. Set, the state the lab's machines share (the
  slot's board, the budgets) lives in that PostgreSQL database (mnistcore.lab.pg) instead of the
  SQLite files above, so any number of machines serve one lab. Unset (the default): SQLite files.

Budgets for what visitors may create (whole numbers; see `budget`):
- `MNISTLAB_DRAWINGS_PER_MINUTE`: labelled drawings one device (browser) may save per minute (20);
  one address (a room behind one Wi-Fi) ten times as many.
- `MNISTLAB_DRAWINGS_PER_SESSION`: labelled drawings one browser session may save (200).
- `MNISTLAB_MAX_DRAWINGS`: labelled drawings the lab's database holds in all (20,000).
- `MNISTLAB_PLACES_PER_CLIENT`: runs one device (browser; else address) may have training or waiting (2).
- `MNISTLAB_RUNS_KEPT`: published models kept on disk besides the live one and the shipped one (20).

Who may train, from the environment or from the `[mnistlab]` section of Streamlit's
`.streamlit/secrets.toml` (the environment wins where both are set):
- `MNISTLAB_DEMO` / `demo`: yes (1, true, on) switches on demo mode: training, publishing and
  making an earlier model live are off; Draw and Gallery stay open. Default: off (training open).
- `MNISTLAB_PASSCODE` / `passcode`: when set, training and publishing need this passcode (once
  per browser session), whatever the demo setting says.
- `MNISTLAB_CLASS_TRAINING` / `class_training`: yes lets every visitor train in demo mode, without
  the passcode and within the usual budgets; their models are their own (the class board), and
  only the passcode holder makes one live. Default: off.

A mistake in these (a value that is neither yes nor no, an empty value, a passcode that is not
text or is blank, an unreadable secrets file) closes training rather than opening it, and
`Access.problem` says what to fix.
"""
from __future__ import annotations

import functools
import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ..paths import LAB_DB_PATH, STATIC_DIR, WEIGHTS_DIR
from ..paths import DATA_DIR

WEIGHTS_ENV = "MNISTLAB_WEIGHTS_DIR"
FEEDBACK_ENV = "MNISTLAB_FEEDBACK_DB"
DATABASE_ENV = "MNISTLAB_DATABASE_URL"
TRAIN_LIMIT_ENV = "MNISTLAB_TRAIN_LIMIT"
HEARTBEAT_ENV = "MNISTLAB_HEARTBEAT_SECONDS"
DEMO_ENV, PASSCODE_ENV = "MNISTLAB_DEMO", "MNISTLAB_PASSCODE"
CLASS_TRAINING_ENV, CLASS_TRAINING_SECRET = "MNISTLAB_CLASS_TRAINING", "class_training"
# In secrets.toml the two live in a section, not at the top level: Streamlit copies top-level text
# secrets into os.environ (but not true/false), which would make the order of precedence depend
# on how a value happens to be written.
SECRETS_SECTION, DEMO_SECRET, PASSCODE_SECRET = "mnistlab", "demo", "passcode"
YES, NO = ("1", "true", "yes", "on"), ("0", "false", "no", "off")  # blank is neither: it closes training


def absolute(path: str | os.PathLike) -> Path:
    """`path` absolute, with its links resolved; for an absolute path, worked out once: Path.resolve()
    is a system call per folder on the way, and the store's folder is asked for on every rerun.
    A relative path depends on the working folder, so it is resolved every time."""
    path = Path(path)
    return _resolved(path) if path.is_absolute() else path.resolve()


@functools.lru_cache(maxsize=64)
def _resolved(path: Path) -> Path:
    return path.resolve()


def weights_dir() -> Path:
    """The model store's folder: $MNISTLAB_WEIGHTS_DIR, else weights/ in the project."""
    value = os.environ.get(WEIGHTS_ENV, "").strip()
    return absolute(value) if value else WEIGHTS_DIR


def live_signal_path(folder: Path | None = None) -> Path:
    """Where browsers read which model is live (ModelStore's `signal_path`) for the model store in
    `folder` (default: weights_dir()): a file in the site's static folder, one per store folder,
    so servers on different stores (tests) never mix."""
    folder = absolute(folder) if folder is not None else weights_dir()
    digest = hashlib.blake2b(str(folder).encode(), digest_size=8).hexdigest()
    return STATIC_DIR / f"live-{digest}.json"


def class_dir() -> Path:
    """The class board's folder (mnistcore.lab.classroom): class/ in the model store's folder."""
    return weights_dir() / "class"


def class_signal_path(folder: Path | None = None) -> Path:
    """Where browsers read the class board's version, as `live_signal_path` for the live model."""
    live = live_signal_path(folder)
    return live.with_name(live.name.replace("live-", "class-", 1))


SLOT_DB_ENV = "MNISTLAB_SLOT_DB"


def slot_db_path() -> Path:
    """$MNISTLAB_SLOT_DB, else runs/slot.db in the model store's folder (git-ignored, like runs/)."""
    value = os.environ.get(SLOT_DB_ENV, "").strip()
    return absolute(value) if value else weights_dir() / "runs" / "slot.db"


PUBLISH_FLOOR_ENV, TIMINGS_ENV = "MNISTLAB_PUBLISH_FLOOR", "MNISTLAB_TIMINGS"
PUBLISH_FLOOR = 0.95  # a model under 95% reads one digit in 20 wrong, far worse than the shipped one


def publish_floor() -> float:
    """$MNISTLAB_PUBLISH_FLOOR as a fraction from 0 to 1, else PUBLISH_FLOOR."""
    value = os.environ.get(PUBLISH_FLOOR_ENV, "").strip()
    if not value:
        return PUBLISH_FLOOR
    try:
        floor = float(value)
    except ValueError:
        floor = -1.0
    if not 0 <= floor <= 1:
        raise ValueError(f"{PUBLISH_FLOOR_ENV} must be a test accuracy from 0 to 1 (0.95 is 95%); got {value!r}")
    return floor


LIMITS_DB_ENV = "MNISTLAB_LIMITS_DB"


def limits_db_path() -> Path:
    """$MNISTLAB_LIMITS_DB, else runs/limits.db in the model store's folder: the budgets every server
    process on one store counts together (passcode guesses, labelled drawings)."""
    value = os.environ.get(LIMITS_DB_ENV, "").strip()
    return absolute(value) if value else weights_dir() / "runs" / "limits.db"


def database_url() -> str | None:
    """$MNISTLAB_DATABASE_URL (a postgresql:// address), or None: the lab keeps its SQLite files."""
    value = os.environ.get(DATABASE_ENV, "").strip()
    if not value:
        return None
    if not value.startswith(("postgresql://", "postgres://")):
        raise ValueError(f"{DATABASE_ENV} must be a postgresql:// address; got {value.split('@')[-1]!r}")
    return value


def timings_path() -> Path:
    """$MNISTLAB_TIMINGS, else data/timings.json in the project (git-ignored, beside lab.db)."""
    value = os.environ.get(TIMINGS_ENV, "").strip()
    return Path(value) if value else DATA_DIR / "timings.json"


def feedback_db_path() -> Path:
    """$MNISTLAB_FEEDBACK_DB, else data/lab.db in the project (git-ignored)."""
    value = os.environ.get(FEEDBACK_ENV, "").strip()
    return Path(value) if value else LAB_DB_PATH


BUDGETS = {  # name: (environment variable, default, low, high)
    "drawings_per_minute": ("MNISTLAB_DRAWINGS_PER_MINUTE", 20, 1, 10_000),
    "drawings_per_session": ("MNISTLAB_DRAWINGS_PER_SESSION", 200, 1, 1_000_000),
    "max_drawings": ("MNISTLAB_MAX_DRAWINGS", 20_000, 1, 10_000_000),
    "places_per_client": ("MNISTLAB_PLACES_PER_CLIENT", 2, 1, 100),
    "runs_kept": ("MNISTLAB_RUNS_KEPT", 20, 1, 10_000),
}


def budget(name: str) -> int:
    """One of BUDGETS, from its environment variable or its default; ValueError naming a bad value."""
    env, default, low, high = BUDGETS[name]
    value = os.environ.get(env, "").strip()
    if not value:
        return default
    if not value.isdigit() or not low <= int(value) <= high:
        raise ValueError(f"{env} must be a whole number from {low:,} to {high:,}; got {value!r}")
    return int(value)


def train_limit() -> int | None:
    """$MNISTLAB_TRAIN_LIMIT as a whole number >= 1, or None when unset."""
    value = os.environ.get(TRAIN_LIMIT_ENV, "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"{TRAIN_LIMIT_ENV} must be a whole number >= 1; got {value!r}")
    return int(value)


HEARTBEAT_SECONDS = 90.0  # without a heartbeat for this long, a run or a place in the queue is given up.
# Not less than a minute: Chrome wakes the timers of a tab that has been in the background for
# five minutes only once a minute, so someone who starts a run and switches tabs would lose it.
MIN_HEARTBEAT_SECONDS = 10  # pages other than Train send a heartbeat every 5 s


def heartbeat_seconds() -> float:
    """$MNISTLAB_HEARTBEAT_SECONDS as a number of seconds >= 10, else the default."""
    value = os.environ.get(HEARTBEAT_ENV, "").strip()
    if not value:
        return HEARTBEAT_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not MIN_HEARTBEAT_SECONDS <= seconds < float("inf"):
        raise ValueError(f"{HEARTBEAT_ENV} must be a number of seconds from {MIN_HEARTBEAT_SECONDS}; got {value!r}")
    return seconds


@dataclass(frozen=True)
class Access:
    """Who may train and change the live model on this server."""

    demo: bool                 # training, publishing and making live are off for visitors...
    passcode: str | None       # ...except those who give this passcode (None: nobody)
    problem: str | None = None # a mistake in the configuration, for the Train page to show
    class_training: bool = False  # demo mode: visitors may still train models of their own

    @property
    def open(self) -> bool:
        """Everybody may train (the default, on one's own machine)."""
        return not self.demo

    def unlocks(self, given: str) -> bool:
        """Is `given` the passcode? Compared in constant time, so timing does not give it away."""
        if self.passcode is None:
            return False
        return hmac.compare_digest(given.strip().encode("utf-8"), self.passcode.encode("utf-8"))


def access(secrets: Mapping[str, object] | None = None, environ: Mapping[str, str] | None = None,
           problem: str | None = None) -> Access:
    """Demo mode and passcode from the environment, else from `secrets` (secrets.toml's [mnistlab]).

    `problem`: something already known to be wrong (a secrets file that cannot be read); like a
    wrong value, it closes training.
    """
    environ = os.environ if environ is None else environ
    secrets = secrets or {}
    problems = [problem] if problem else []

    def setting(env_name: str, secret_name: str) -> tuple[object, str]:
        """The value, and where it was set (for messages)."""
        if env_name in environ:
            return environ[env_name], env_name
        return secrets.get(secret_name), f"{secret_name} in [{SECRETS_SECTION}] of secrets.toml"

    demo_value, where = setting(DEMO_ENV, DEMO_SECRET)
    words = str(demo_value).strip().lower()
    demo = demo_value is True or (isinstance(demo_value, (str, int)) and words in YES)
    if demo_value is not None and not isinstance(demo_value, bool) and words not in YES + NO:
        problems.append(f"{where} is {demo_value!r}, which is neither yes (1, true) nor no (0, false)"
                        if words else f"{where} is set but blank; write yes (1, true) or no (0, false)")

    passcode_value, where = setting(PASSCODE_ENV, PASSCODE_SECRET)
    passcode = None
    if isinstance(passcode_value, (str, int)) and not isinstance(passcode_value, bool):
        passcode = str(passcode_value).strip() or None
        if passcode is None:  # set, but to nothing: a mistake, not "no passcode"
            problems.append(f"{where} is set but blank; give a long random passcode, or remove the setting")
    elif passcode_value is not None:
        problems.append(f"{where} must be text; got a {type(passcode_value).__name__}")
    class_value, where = setting(CLASS_TRAINING_ENV, CLASS_TRAINING_SECRET)
    class_words = str(class_value).strip().lower()
    class_training = class_value is True or (isinstance(class_value, (str, int)) and class_words in YES)
    if class_value is not None and not isinstance(class_value, bool) and class_words not in YES + NO:
        problems.append(f"{where} is {class_value!r}, which is neither yes (1, true) nor no (0, false)")
    if passcode is not None or problems:
        # A passcode means: closed to those who do not have it. A mistake closes training too:
        # a typo must not open training on a public demo.
        demo = True
    if problems:
        class_training = False
    return Access(demo=demo, passcode=passcode, problem="; ".join(problems) or None, class_training=class_training)
