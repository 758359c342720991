"""The class board: every model trained in this lab, whose it is, and how well it reads.

A finished run belongs to its visitor: its model is kept here (never made live by being kept), so
its owner can try it on Draw and everyone can compare it with the class. Files, in one folder
(`weights/class/` by default):
- `<run id>.npz|.keras`: each run's model, never overwritten; the newest `kept` are kept;
- `board.json`: one entry per model (owner's name, recipe, test accuracy, accuracy on the lab's
  drawings it did not train on), rewritten atomically under a lock file, so processes sharing the
  folder (`make serve-lab`) never lose each other's entries. (mnistcore.lab.pg.classroom: the same
  board in PostgreSQL, for every machine of the lab.)

Owners are named by a key (a hash of the visitor's token, made by the pages), never the token.
After every change the board writes `{"live": "<version>"}` to `signal_path`, the small static file
open pages poll (ui.chrome), as the model store does for the live model.
"""
from __future__ import annotations

import fcntl
import json
import logging
import re
import threading
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

from ..files import atomic_write_bytes
from ..nets import load_model
from ..nets.base import DigitModel

KEPT = 200          # models kept on disk (a class of 30 training a few times each), newest first
MODELS_LOADED = 8   # models kept in memory for Draw, the most recently asked for first
RUN_ID = re.compile(r"[0-9a-f]{12}")  # what the training slot calls a run (secrets.token_hex(6))
SUFFIX = {"numpy": ".npz", "keras": ".keras"}

log = logging.getLogger("mnistlab")


@dataclass(frozen=True)
class ClassModel:
    """One model trained in this lab, as the board lists it."""

    run_id: str
    owner: str                          # the owner's key (a hash; never shown)
    label: str                          # the owner's name as others see it
    recipe: str                         # the training settings in words
    test_accuracy: float                # on MNIST's 10,000 test images
    drawings_accuracy: float | None     # on the lab's labelled drawings it did not train on; None: none yet
    drawings: int                       # how many drawings that accuracy is measured on
    trained_at: str                     # UTC, ISO 8601
    file: str                           # the model's file name in the board's folder
    settings: dict | None = None        # the TrainSettings' fields: the recipe in each visitor's language


def ranked(entries: list[ClassModel]) -> list[ClassModel]:
    """Best first: by test accuracy, then by accuracy on the lab's drawings, then the earliest."""
    return sorted(entries, key=lambda e: (-e.test_accuracy, -(e.drawings_accuracy or 0.0), e.trained_at))


class ClassBoard:
    """The models of one lab, in `folder` (see the module docstring). Thread-safe and process-safe."""

    def __init__(self, folder: str | Path, signal_path: str | Path | None = None, kept: int = KEPT):
        if isinstance(kept, bool) or not isinstance(kept, int) or kept < 1:
            raise ValueError(f"kept must be a whole number >= 1, got {kept!r}")
        self.folder = Path(folder)
        self.board_file = self.folder / "board.json"
        self.signal_path = Path(signal_path) if signal_path is not None else None
        self.kept = kept
        self._lock = threading.Lock()
        self._loaded: OrderedDict[str, DigitModel] = OrderedDict()

    # ------------------------------------------------------------------ reading

    def entries(self) -> list[ClassModel]:
        """Every model on the board, best first (`ranked`)."""
        return ranked(self._read())

    def version(self) -> str:
        """Changes whenever the board does: what open pages compare with the signal file."""
        try:
            stat = self.board_file.stat()
        except OSError:
            return "empty"
        return f"{stat.st_mtime_ns}-{stat.st_size}"

    def find(self, run_id: str) -> ClassModel | None:
        return next((e for e in self._read() if e.run_id == run_id), None)

    def latest_of(self, owner: str) -> ClassModel | None:
        """`owner`'s newest model, None when they have none."""
        theirs = [e for e in self._read() if e.owner == owner]
        return max(theirs, key=lambda e: e.trained_at) if theirs else None

    def model(self, run_id: str) -> DigitModel:
        """The model of run `run_id`, loaded once; ValueError when the board has no such model."""
        with self._lock:
            if run_id in self._loaded:
                self._loaded.move_to_end(run_id)
                return self._loaded[run_id]
        entry = self.find(run_id)
        if entry is None:
            raise ValueError(f"no model of run {run_id!r} is on the class board")
        model = load_model(self._file(entry))
        with self._lock:
            self._loaded[run_id] = model
            while len(self._loaded) > MODELS_LOADED:
                self._loaded.popitem(last=False)
        return model

    # ------------------------------------------------------------------ adding

    def add(self, run_id: str, owner: str, label: str, recipe: str, model: DigitModel, trained_at: str,
            drawings_accuracy: float | None = None, drawings: int = 0, settings: dict | None = None) -> ClassModel:
        """Keep run `run_id`'s model on the board; the entry already there if it was kept before."""
        if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
            raise ValueError(f"{run_id!r} is not a training run's id (12 hexadecimal digits)")
        engine = model.info.engine
        if engine not in SUFFIX:
            raise ValueError(f"cannot keep a model of engine {engine!r}; expected one of {', '.join(SUFFIX)}")
        if model.info.test_accuracy is None:
            raise ValueError(f"run {run_id}'s model was never tested: the board lists tested models only")
        entry = ClassModel(run_id, owner, label, recipe, float(model.info.test_accuracy),
                           None if drawings_accuracy is None else float(drawings_accuracy), int(drawings),
                           trained_at, run_id + SUFFIX[engine], settings)
        kept = self._keep(entry, model)
        if kept is not entry:
            return kept
        with self._lock:
            self._loaded[run_id] = model
        self.write_signal()
        return entry

    def _keep(self, entry: ClassModel, model: DigitModel) -> ClassModel:
        """Put `entry` and its model on the board, the newest `kept` staying; returns the entry
        already there for that run, if any (then nothing changes), else `entry`."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with self._locked():
            entries = self._read()
            known = next((e for e in entries if e.run_id == entry.run_id), None)
            if known is not None:
                return known
            model.save(self.folder / entry.file)  # complete before the board names it
            entries.append(entry)
            entries.sort(key=lambda e: e.trained_at, reverse=True)
            for old in entries[self.kept:]:
                (self.folder / old.file).unlink(missing_ok=True)
            self._write(entries[:self.kept])
        return entry

    def _file(self, entry: ClassModel) -> Path:
        """Where `entry`'s model file is on this machine."""
        return self.folder / entry.file

    def write_signal(self) -> None:
        """{"live": version()} in `signal_path`, for open pages. Best effort, as the store's."""
        if self.signal_path is None:
            return
        try:
            atomic_write_bytes(self.signal_path, json.dumps({"live": self.version()}).encode("utf-8"))
        except OSError as err:
            log.warning("class board: could not write %s for open pages (%s)", self.signal_path, err)

    # ------------------------------------------------------------------ the file

    @contextmanager
    def _locked(self):
        """One writer at a time, across threads and processes."""
        with self._lock, open(self.folder / ".board.lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _read(self) -> list[ClassModel]:
        try:
            rows = json.loads(self.board_file.read_text(encoding="utf-8"))["models"]
            return [ClassModel(**row) for row in rows]
        except FileNotFoundError:
            return []
        except (OSError, ValueError, KeyError, TypeError) as err:
            log.warning("class board: %s cannot be read (%s); showing an empty board", self.board_file, err)
            return []

    def _write(self, entries: list[ClassModel]) -> None:
        text = json.dumps({"models": [asdict(e) for e in entries]}, indent=1) + "\n"
        atomic_write_bytes(self.board_file, text.encode("utf-8"))
