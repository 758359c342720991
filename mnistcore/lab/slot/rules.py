"""The slot's queue rules, over the board's records: who may ask for a run, who trains next, when a
run is given up, which ended runs are kept. Pure functions: the time is passed in, no threads."""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace
from collections.abc import Iterable

from ...i18n import gettext as _
from ...i18n import percent
from .runs import FAILED, PAGE_CLOSED, PROCESS_STOPPED, RUNNING, WAITING, QueueFull, Record, Run, SlotBusy

log = logging.getLogger("mnistlab")

QUEUE_SIZE = 5               # runs that may wait; more would mean hours in line
PLACES_PER_CLIENT = 2        # runs one client (address) may have training or waiting at once
RESULTS_KEPT = 8             # ended runs whose models are kept for their owners to publish


def current(records: Iterable[Record]) -> Record | None:
    """The run in progress, anyone's."""
    return next((r for r in records if r.run.state == RUNNING), None)


def find(records: Iterable[Record], run_id: str) -> Record | None:
    return next((r for r in records if r.run.run_id == run_id), None)


def last_ended(records: Iterable[Record]) -> Record | None:
    return max((r for r in records if r.ended), key=lambda r: r.ended, default=None)


def next_ended(records: Iterable[Record]) -> int:
    """The `ended` number of the next run to end."""
    return max((r.ended for r in records), default=0) + 1


def admit(records: list[Record], owner: str, client: str | None, may_wait: bool, queue_size: int,
          places_per_client: int) -> None:
    """Raise why `owner` (asking from `client`) may not add a run now; return when they may.

    ValueError: they already have a run in progress or waiting, or `client` already has
    `places_per_client` (one script opening many sessions must not hold the whole queue).
    SlotBusy: another run trains and they would not wait; QueueFull: `queue_size` runs wait already.
    """
    active = [r for r in records if r.active]
    if any(r.run.owner == owner for r in active):
        mine_now = any(r.run.owner == owner and r.run.running for r in active)
        raise ValueError(_("you already have a run in progress: one at a time") if mine_now
                         else _("you already have a run waiting in the queue: one at a time"))
    if client is not None and sum(r.client == client for r in active) >= places_per_client:
        raise ValueError(_("this device already has {count} runs training or waiting, the most one device may "
                           "have: please wait until one of them ends").format(count=places_per_client))
    busy = current(records)
    if busy is None:
        return
    c = busy.run
    # In the language of the page that asked (the refusal is made in its thread).
    says = _("{name} is training a model (started at {start}, {done} done, expected to finish around {end}).").format(
        name=c.label, start=f"{c.started_at.astimezone():%H:%M}", done=percent(c.fraction),
        end=f"{c.expected_end.astimezone():%H:%M}")
    if not may_wait:
        raise SlotBusy(says + _(" One run at a time: please wait until it finishes."))
    if sum(r.run.state == WAITING for r in records) >= queue_size:
        raise QueueFull(says + _(" The queue is full ({count} waiting): please try again when a place frees "
                                 "up.").format(count=queue_size))


def unheard(record: Record, now: dt.datetime, timeout: float) -> bool:
    """Its owner has not been heard from for `timeout` seconds (their tab was closed)."""
    return (now - record.heard).total_seconds() > timeout


def anything_to_give_up(records: Iterable[Record], now: dt.datetime, timeout: float, stopped: set[str]) -> bool:
    """Would `give_up` change anything? `stopped`: the server processes known to have stopped."""
    return (any(r.active and unheard(r, now, timeout) and not (r.run.running and r.stop) for r in records)
            or bool(stopped))


def give_up(records: list[Record], now: dt.datetime, timeout: float, stopped: set[str]) -> None:
    """Stop the run, and drop the places, of owners not heard from within `timeout` seconds; fail
    the run, and drop the places, of the server processes in `stopped`. Changes `records`."""
    for record in records:
        if record.run.running and not record.stop and unheard(record, now, timeout):
            record.stop = True  # the run ends at its next batch and frees the slot; the live model stays
            record.run = replace(record.run, note=PAGE_CLOSED.format(seconds=f"{timeout:g}"))
    records[:] = [r for r in records if not (r.run.state == WAITING and unheard(r, now, timeout))]
    for record in records:
        if record.run.running and record.process in stopped:
            record.run = replace(record.run, state=FAILED, finished_at=now,
                                 error=PROCESS_STOPPED)
            record.ended = next_ended(records)
            log.warning("slot: run %s of %s failed: its server process stopped", record.run.run_id,
                        record.run.label)
    records[:] = [r for r in records if not (r.run.state == WAITING and r.process in stopped)]


def begin_next(records: list[Record], process: str, now: dt.datetime) -> None:
    """If the slot is free and the next run in line is `process`'s, make it the current one (its
    worker trains it; another process's run is begun by that process). Changes `records`."""
    if current(records) is not None:
        return
    head = next((r for r in records if r.run.state == WAITING), None)
    if head is None or head.process != process:
        return
    head.run = replace(head.run, state=RUNNING, started_at=now,
                       expected_end=now + dt.timedelta(seconds=head.seconds))
    # Their previous model is given up once a new run starts.
    records[:] = [r for r in records if not (r.ended and r.run.owner == head.run.owner)]


def keep_recent(records: list[Record]) -> None:
    """Keep each owner's last ended run only, and those of the last RESULTS_KEPT owners."""
    ended = sorted((r for r in records if r.ended), key=lambda r: r.ended, reverse=True)
    kept, owners = set(), set()
    for record in ended:
        if record.run.owner not in owners and len(owners) < RESULTS_KEPT:
            owners.add(record.run.owner)
            kept.add(id(record))
    records[:] = [r for r in records if not r.ended or id(r) in kept]


def queue_of(records: Iterable[Record], running: Run | None, now: dt.datetime) -> tuple[Run, ...]:
    """The waiting runs, each with its place and expected start (after `running`, the run in progress)."""
    start = max(now, running.expected_end) if running is not None else now
    runs = []
    for position, record in enumerate((r for r in records if r.run.state == WAITING), 1):
        runs.append(replace(record.run, position=position, expected_start=start))
        start += dt.timedelta(seconds=record.seconds)
    return tuple(runs)
