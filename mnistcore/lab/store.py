"""The model store: the one live model every page and every visitor uses, and its history.

Files, all under one folder (`weights/` by default):
- `default.npz`: the shipped model; always listed, and always a safe place to fall back to.
- `runs/<UTC time>-<engine>-<id>.npz|.keras`: published models, never overwritten; the newest
  `runs_kept` are kept (and the live one, always), older ones are removed after each publish.
- `live.json`: `{"live": "<run file name>"}` or `{"live": "default"}`: which model is live.
- `.<name>.<random>.tmp`: a file being written (mnistcore.files); one older than a few minutes
  was left by a crash, and is removed when a store is made (at server start).

Every visitor's session shares one `ModelStore` (the site keeps one per process: `mnistcore.lab.services`), so
it is thread-safe: `live()` hands out an immutable snapshot, and a change (publish, make_live)
writes its files first and swaps the snapshot last, so a reader sees the old model or the new
one, never a mix. Models are only ever loaded by name from inside this folder.

Several server processes may serve one folder (`make serve-lab`): each has its own store, and
each notices when another has changed live.json. `live()` looks at the file's identity (a
`stat`, at most once every `check_every` seconds, 1 by default) and, when it has changed, loads
the model it names; meanwhile the others keep getting the model that was live, so no visitor
waits for the load but the one who noticed.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import re
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..evaluation import Evaluation, evaluate
from ..files import TEMP_NAME, atomic_write_bytes, remove_stale_temp_files
from ..nets import load_model, read_info
from ..nets.base import DigitModel, ModelFileError, ModelInfo
from ..paths import WEIGHTS_DIR

DEFAULT_NAME = "default"
SIGNAL_NAME = re.compile(r"live-[0-9a-f]{16}\.json")  # config.live_signal_path's names
STALE_SIGNAL_SECONDS = 7 * 24 * 3600                  # another store's live-model file unchanged this long: gone
# What a run file is called; the pattern admits no "/" or "..", so a name can never leave runs/.
RUN_NAME = re.compile(r"\d{8}T\d{6}Z-(numpy|keras)-[0-9a-f]{8}\.(npz|keras)")
SUFFIX = {"numpy": ".npz", "keras": ".keras"}
EVALUATIONS_KEPT = 4  # test-set evaluations cached, newest live models first
RUNS_KEPT = 20        # published run files kept on disk, newest first (the live one always)
STALE_TEMP_SECONDS = 300  # a temporary file untouched this long belongs to a write that died
CHECK_SECONDS = 1.0   # how often live() looks whether another process has changed live.json

log = logging.getLogger("mnistlab")


@dataclass(frozen=True)
class Live:
    """The live model at one moment. Nobody changes the model once it is live."""

    model: DigitModel
    info: ModelInfo
    name: str      # "default" or a file name in runs/
    version: int   # counts changes of the live model in this process, starting at 1

    @property
    def id(self) -> str:
        """Unique for each time a model is made live: the key for anything computed from it."""
        return f"{self.version}:{self.name}"

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_NAME


@dataclass(frozen=True)
class RunEntry:
    """One model the store can make live: the shipped default or a published run."""

    name: str
    info: ModelInfo | None   # None when the file cannot be read (then `error` says why)
    error: str | None
    live: bool               # is this the live model right now?

    @property
    def is_default(self) -> bool:
        return self.name == DEFAULT_NAME


class NoLiveModel(RuntimeError):
    """Neither the recorded live model nor the shipped default could be loaded."""


class ModelStore:
    """The live model and the saved runs in `weights_dir` (see the module docstring)."""

    def __init__(self, weights_dir: str | Path = WEIGHTS_DIR, default_path: str | Path | None = None, *,
                 runs_kept: int = RUNS_KEPT, check_every: float = CHECK_SECONDS,
                 signal_path: str | Path | None = None):
        if isinstance(runs_kept, bool) or not isinstance(runs_kept, int) or runs_kept < 1:
            raise ValueError(f"runs_kept must be a whole number >= 1 (the live run), got {runs_kept!r}")
        self.weights_dir = Path(weights_dir)
        self.runs_dir = self.weights_dir / "runs"
        self.live_file = self.weights_dir / "live.json"
        self.default_path = Path(default_path) if default_path is not None else self.weights_dir / "default.npz"
        self.runs_kept = runs_kept
        self.check_every = float(check_every)
        self._lock = threading.Lock()         # guards _live, _warning and _checked; held only for a moment
        self._change_lock = threading.Lock()  # one publish or make_live at a time (file I/O inside)
        self._eval_lock = threading.Lock()    # evaluations are computed once, not by every visitor
        self._evaluations: dict[tuple, Evaluation] = {}
        self._remove_stale_temp_files()
        self._seen = self._live_file_identity()  # live.json as this store last read or wrote it
        self._checked = time.monotonic()
        self._live, self._warning = self._load_at_start()
        # Open pages poll this file from the browser (ui.chrome) instead of the server: written
        # after every change of the live model in this process, and at start.
        self.signal_path = Path(signal_path) if signal_path is not None else None
        self._remove_stale_signals()
        self._write_signal()

    # ------------------------------------------------------------------ reading

    def live(self) -> Live | None:
        """The live model, or None when no model could be loaded at all (see `warning`).

        When another process has made another model live, the model live.json now names."""
        self._notice_changes()
        with self._lock:
            return self._live

    def require_live(self) -> Live:
        """The live model, or NoLiveModel with the reason."""
        live = self.live()
        if live is None:
            raise NoLiveModel(self.warning or "no model is live")
        return live

    @property
    def warning(self) -> str | None:
        """Why the store is not using the model it was asked to use, in plain words; else None."""
        with self._lock:
            return self._warning

    def runs(self) -> list[RunEntry]:
        """Published runs, newest first, then the shipped default. Reads metadata only."""
        live = self.live()
        live_name = live.name if live is not None else None
        entries = []
        for name in self._run_names() + [DEFAULT_NAME]:
            try:
                info, error = read_info(self.path_of(name)), None
            except (ModelFileError, OSError) as err:
                info, error = None, str(err)
            entries.append(RunEntry(name, info, error, live=(name == live_name)))
        return entries

    def path_of(self, name: str) -> Path:
        """The file behind a run name; ValueError for anything that is not one of ours."""
        if name == DEFAULT_NAME:
            return self.default_path
        if not isinstance(name, str) or not RUN_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not the name of a saved run (expected e.g. "
                             f"'20250101T120000Z-numpy-0123abcd.npz' or {DEFAULT_NAME!r})")
        path = self.runs_dir / name
        # A symbolic link inside runs/ must not lead the store to a file elsewhere.
        if path.resolve().parent != self.runs_dir.resolve():
            raise ValueError(f"{name!r} does not lead to a file inside {self.runs_dir}")
        return path

    def evaluation(self, live: Live, images: np.ndarray, labels: np.ndarray) -> Evaluation:
        """`live`'s accuracy, confusion matrix and predictions on `images`, computed once per model.

        Meant for the 10,000 MNIST test images: every visitor of the Gallery shares the result.
        """
        labels = np.asarray(labels)
        key = (live.id, np.shape(images), hashlib.sha1(labels.tobytes()).hexdigest())
        with self._eval_lock:
            cached = self._evaluations.get(key)
            if cached is None:
                cached = evaluate(live.model, images, labels)
                self._evaluations[key] = cached
                while len(self._evaluations) > EVALUATIONS_KEPT:
                    del self._evaluations[next(iter(self._evaluations))]  # the oldest
            return cached

    # ------------------------------------------------------------------ changing the live model

    def publish(self, model: DigitModel) -> Live:
        """Save `model` as a new run and make it live; returns the new snapshot.

        Order matters: the model file is complete (atomic save) before live.json names it, and
        live.json is written before the in-memory swap, so a crash at any point leaves a store
        that loads a whole model on the next start.
        """
        engine = model.info.engine
        if engine not in SUFFIX:
            raise ValueError(f"cannot publish a model of engine {engine!r}; expected one of {', '.join(SUFFIX)}")
        with self._change_lock, self._across_processes():
            name = _new_run_name(engine)
            model.save(self.runs_dir / name)
            self._saved(name)
            self._write_live_file(name)
            live = self._swap(name, model)
            self._write_signal()
            # Under the change lock, so no make_live can be loading a file removed here.
            self._remove_old_runs()
            return live

    def make_live(self, name: str) -> Live:
        """Make a saved run (or "default") live again; ValueError / ModelFileError when it cannot be."""
        path = self.path_of(name)
        with self._change_lock, self._across_processes():
            model = load_model(path)
            self._write_live_file(name)
            live = self._swap(name, model)
            self._write_signal()
            return live

    def live_name(self) -> str:
        """The name of the model live.json names now, read afresh: whether a model just published is
        still the live one, when another process may have published since (ValueError if damaged)."""
        return self._read_live_file() if self._has_live_record() else DEFAULT_NAME

    # The record of what is live and the list of runs: files here; a subclass may keep them elsewhere
    # (mnistcore.lab.pg.store: in PostgreSQL, shared by several machines).

    def _has_live_record(self) -> bool:
        return self.live_file.exists()

    def _run_names(self) -> list[str]:
        """The published runs' names, newest first."""
        if not self.runs_dir.is_dir():
            return []
        return sorted((p.name for p in self.runs_dir.iterdir() if RUN_NAME.fullmatch(p.name)), reverse=True)

    def _saved(self, name: str) -> None:
        """The run `name` has just been saved in runs/ (before it is made live)."""

    def _remove_run(self, name: str) -> None:
        (self.runs_dir / name).unlink()

    @contextlib.contextmanager
    def _across_processes(self):
        """One change of the live model at a time among all processes on this folder (an flock)."""
        with open(self.weights_dir / ".live.lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _swap(self, name: str, model: DigitModel) -> Live:
        with self._lock:
            version = self._live.version + 1 if self._live is not None else 1
            self._live = Live(model, model.info, name, version)
            self._warning = None  # the live model is now the one live.json names
            return self._live

    def _write_live_file(self, name: str) -> None:
        record = {"live": name, "since": _now().isoformat(timespec="seconds")}
        atomic_write_bytes(self.live_file, (json.dumps(record, indent=2) + "\n").encode("utf-8"))
        self._seen = self._live_file_identity()  # our own change: nothing to notice

    def _write_signal(self) -> None:
        """{"live": the name of the model live.json names} in `signal_path`, for browsers to compare
        with the model their page shows. Best effort: without it, pages notice on their next rerun."""
        if self.signal_path is None:
            return
        try:
            name = self.live_name()
            self.signal_path.parent.mkdir(parents=True, exist_ok=True)  # static/ is not in git: nothing else is there
            atomic_write_bytes(self.signal_path, json.dumps({"live": name}).encode("utf-8"))
        except (OSError, ValueError) as err:
            log.warning("store: could not write %s for open pages (%s)", self.signal_path, err)

    # ------------------------------------------------------------------ changes made by other processes

    def _notice_changes(self) -> None:
        """If another process has rewritten live.json since this store last read or wrote it, make
        the model it names live here too. Looks at most once every `check_every` seconds."""
        now = time.monotonic()
        with self._lock:
            if now - self._checked < self.check_every:
                return
            self._checked = now
        if self._live_file_identity() == self._seen:
            return
        # One thread loads; the others go on with the model that was live (and a publish or
        # make_live under way here will write live.json itself).
        if not self._change_lock.acquire(blocking=False):
            return
        try:
            seen = self._live_file_identity()
            if seen == self._seen:
                return
            self._seen = seen  # tried once per change: a file that cannot be loaded is not retried every second
            name = self._read_live_file()
            live = self.live_unchecked()
            if live is None or live.name != name:
                self._swap(name, load_model(self.path_of(name)))
                log.info("store: %s was made live by another process", name)
        except Exception as err:  # noqa: BLE001 - keep serving the model that was live, and say why
            log.warning("store: could not load the model live.json names now (%s)", err)
            with self._lock:
                self._warning = (f"Another server process made a model live that could not be loaded here ({err}). "
                                 "The model that was live stays live on this page.")
        finally:
            self._change_lock.release()

    def live_unchecked(self) -> Live | None:
        """The live model as this store has it, without looking at live.json."""
        with self._lock:
            return self._live

    def _live_file_identity(self) -> tuple | None:
        """What changes whenever live.json is rewritten (atomic writes make a new file)."""
        try:
            stat = self.live_file.stat()
        except OSError:
            return None
        return stat.st_ino, stat.st_mtime_ns, stat.st_size

    # ------------------------------------------------------------------ housekeeping

    def _remove_old_runs(self) -> None:
        """Remove run files beyond the newest `runs_kept`, never the live one. Hold the change lock.

        Newest by name, as `runs` lists them (names begin with the UTC second of publishing). A
        file that cannot be removed is logged and left: publishing has succeeded either way.
        """
        live = self.live_unchecked()
        removed = 0
        for name in self._run_names()[self.runs_kept:]:
            if live is not None and name == live.name:
                continue
            try:
                self._remove_run(name)
                removed += 1
            except FileNotFoundError:
                pass
            except OSError as err:
                log.warning("store: could not remove the old run %s (%s)", name, err)
        if removed:
            log.info("store: removed %d old run file%s, keeping the newest %d",
                     removed, "" if removed == 1 else "s", self.runs_kept)

    def _remove_stale_temp_files(self) -> None:
        """Remove temporary files that writes killed mid-way left in weights/ and runs/."""
        removed = freed = 0
        for folder in (self.weights_dir, self.runs_dir):
            count, size = remove_stale_temp_files(folder, older_than=STALE_TEMP_SECONDS)
            removed, freed = removed + count, freed + size
        if removed:
            log.warning("store: removed %d stale temporary file%s (%.1f MB) left by interrupted writes",
                        removed, "" if removed == 1 else "s", freed / 1e6)

    def _remove_stale_signals(self) -> None:
        """Remove the live-model files (and their interrupted writes) that stores on other folders
        left in the signal's folder and have not rewritten for STALE_SIGNAL_SECONDS: a test's, an old
        store's. A server rewrites its own at every start and every change. Hidden files there go
        too: everything in that folder is served to anyone who asks."""
        if self.signal_path is None:
            return
        folder = self.signal_path.parent
        remove_stale_temp_files(folder, older_than=STALE_TEMP_SECONDS)
        cutoff = time.time() - STALE_SIGNAL_SECONDS
        for path in folder.glob("*"):
            try:
                hidden = path.name.startswith(".") and not TEMP_NAME.fullmatch(path.name)
                old = SIGNAL_NAME.fullmatch(path.name) and path.stat().st_mtime < cutoff and path != self.signal_path
                if (hidden or old) and path.is_file():
                    path.unlink()
            except OSError:  # removed by another process meanwhile, or not ours to remove
                continue

    # ------------------------------------------------------------------ start-up

    def _load_at_start(self) -> tuple[Live | None, str | None]:
        """The model live.json names, else the shipped default with a warning saying why."""
        problem = None
        if self._has_live_record():
            try:
                name = self._read_live_file()
                return Live(*_loaded(self.path_of(name)), name=name, version=1), None
            except Exception as err:  # noqa: BLE001 - whatever went wrong, fall back and say why
                problem = f"The live model recorded in {self.live_file.name} could not be loaded ({err})."
        try:
            live = Live(*_loaded(self.default_path), name=DEFAULT_NAME, version=1)
        except Exception as err:  # noqa: BLE001 - the pages say what to do instead of crashing
            message = (f"No model could be loaded: the shipped model {self.default_path} is unusable ({err}). "
                       "Train one on the Train page and publish it, or run "
                       "`python -m mnistcore train --out weights/default.npz`.")
            return None, " ".join(filter(None, [problem, message]))
        if problem:
            return live, problem + " The shipped default model is live instead."
        return live, None

    def _read_live_file(self) -> str:
        try:
            record = json.loads(self.live_file.read_text(encoding="utf-8"))
            name = record["live"]
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{self.live_file} is damaged ({type(err).__name__}: {err})") from None
        if not isinstance(name, str):
            raise ValueError(f"{self.live_file} names {name!r}, not a run")
        return name


def _loaded(path: Path) -> tuple[DigitModel, ModelInfo]:
    model = load_model(path)
    return model, model.info


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_run_name(engine: str) -> str:
    return f"{_now():%Y%m%dT%H%M%SZ}-{engine}-{secrets.token_hex(4)}{SUFFIX[engine]}"
