"""One process's access to the slot's run board: reading the records, changing them under the
board's lock, saying this process is alive, and what only this process has of its runs (their data,
stop flags and trained models). The TrainingSlot and its worker thread share one Book."""
from __future__ import annotations

import contextlib
import datetime as dt
import logging
import secrets
import threading
from dataclasses import dataclass, field
from collections.abc import Callable

from ...training import TrainResult
from ..coordination import RunBoard
from . import rules
from .runs import WAITING, Record, from_row, to_row

log = logging.getLogger("mnistlab")

BEAT_SECONDS = 2.0      # how often a process with a shared board says it is alive
PROCESS_TIMEOUT = 15.0  # a process silent this long has stopped: its run fails and its places go

Clock = Callable[[], dt.datetime]


@dataclass
class Local:
    """What only the process a run was asked in has of it."""

    data: tuple | None               # MNIST, until the run has trained
    stop: threading.Event = field(default_factory=threading.Event)  # the worker's quick check
    result: TrainResult | None = None
    posted: bool = False             # on the board: from now on, gone from the board means given up


class Book:
    """The slot's records on `board`, as this process (named `process` there) reads and changes them."""

    def __init__(self, board: RunBoard, clock: Clock, heartbeat_timeout: float):
        self.board = board
        self.clock = clock
        self.heartbeat_timeout = heartbeat_timeout
        self.process = secrets.token_hex(6)   # this process's name on the board
        self.local: dict[str, Local] = {}     # runs asked for in this process, by id
        self.cond = threading.Condition()     # the worker waits on it; notified after every change
        self.wake = False                     # a change the worker should look at (under cond)
        self.worker: threading.Thread | None = None  # its own changes need not wake it
        self._cache: tuple[object, list[Record]] = (None, [])  # the board's rows last read, as records
        self._closed = threading.Event()
        if board.shared:
            board.beat(self.process)
            threading.Thread(target=self._beat, daemon=True, name="training-slot-beat").start()

    def records(self) -> list[Record]:
        """The board's records (shared: do not change them). Converted once per change of the board."""
        rows = self.board.read()
        cache = self._cache
        if cache[0] is not rows:
            cache = (rows, [from_row(row) for row in rows.values()])
            self._cache = cache
        return cache[1]

    @contextlib.contextmanager
    def changing(self):
        """The board's records, to change: locked against every other writer, in any process, and
        written back at the end of the block. First gives up on what nobody is watching any more."""
        with self.board.change() as rows:
            records = [from_row(row) for row in rows.values()]
            rules.give_up(records, self.clock(), self.heartbeat_timeout, self.stopped_processes(records))
            yield records
            rules.keep_recent(records)
            rows.clear()
            rows.update((r.run.run_id, to_row(r)) for r in records)
        for record in records:
            local = self.local.get(record.run.run_id)
            if local is not None and record.stop:
                local.stop.set()
        # Forget the runs given up since (their models too). Only those known to have been on the
        # board, and against the board as it is now: a submit may be under way in another thread.
        posted = [run_id for run_id, local in list(self.local.items()) if local.posted]
        on_board = {r.run.run_id for r in self.records()}
        for run_id in posted:
            if run_id not in on_board:
                self.local.pop(run_id, None)
        with self.cond:
            self.wake = self.wake or threading.current_thread() is not self.worker
            self.cond.notify_all()  # for TrainingSlot.wait(), too

    def stopped_processes(self, records: list[Record]) -> set[str]:
        """The processes holding runs on the board that no longer say they are alive."""
        others = {r.process for r in records if r.active and r.process != self.process}
        if not others or not self.board.shared:
            return set()
        return others - self.board.alive(PROCESS_TIMEOUT)

    def waiting_here(self) -> bool:
        """Is a run asked for in this process waiting in the queue?"""
        return any(r.run.state == WAITING and r.process == self.process for r in self.records())

    def close(self) -> None:
        """Stop saying this process is alive."""
        self._closed.set()

    def _beat(self) -> None:
        """Say every BEAT_SECONDS that this process is alive, so the others do not give up its runs."""
        while not self._closed.wait(BEAT_SECONDS):
            try:
                self.board.beat(self.process)
            except Exception:  # noqa: BLE001 - a busy database: the next beat is in time
                log.warning("slot: could not record that this process is alive", exc_info=True)
