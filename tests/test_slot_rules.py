"""The slot's pure parts: queue rules over records at a given time, and records as the board keeps them.
No threads and no clock here: every time is a fixed datetime."""
import datetime as dt
import json

import numpy as np
import pytest

from mnistcore.lab.slot import rules
from mnistcore.lab.slot.runs import (FAILED, RUNNING, WAITING, QueueFull, Record, Run, SlotBusy, after_batch,
                                     after_epoch, from_row, to_row)
from mnistcore.nets.base import Progress
from mnistcore.training import TrainSettings

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
SETTINGS = TrainSettings(epochs=2, batch_size=64, hidden=16)


def record(owner: str, state: str = WAITING, seconds: float = 60.0, heard: dt.datetime = T0, client=None,
           process: str = "p1", ended: int = 0) -> Record:
    run = Run(f"id-{owner}", owner, owner.title(), SETTINGS, state, T0, T0 + dt.timedelta(seconds=seconds),
              started_at=T0 if state == RUNNING else None)
    return Record(run, seconds, heard, client=client, process=process, ended=ended)


def test_admit_refuses_a_second_run_of_one_owner_or_too_many_of_one_client_and_a_full_queue():
    records = [record("ada", RUNNING, client="1.2.3.4"), record("bob", client="1.2.3.4")]
    with pytest.raises(ValueError, match="already have a run in progress"):
        rules.admit(records, "ada", None, True, 5, 2)
    with pytest.raises(ValueError, match="already have a run waiting"):
        rules.admit(records, "bob", None, True, 5, 2)
    with pytest.raises(ValueError, match="already has 2 runs"):
        rules.admit(records, "cy", "1.2.3.4", True, 5, 2)
    with pytest.raises(SlotBusy, match="Ada is training a model.*One run at a time"):
        rules.admit(records, "cy", None, False, 5, 2)
    with pytest.raises(QueueFull, match=r"The queue is full \(1 waiting\)"):
        rules.admit(records, "cy", None, True, 1, 2)
    rules.admit(records, "cy", None, True, 2, 2)  # a place is free: no error
    rules.admit([], "cy", None, False, 0, 2)      # the slot is free: no queue needed


def test_begin_next_starts_the_head_of_the_queue_only_in_its_own_process():
    records = [record("ada", process="p2"), record("bob")]
    rules.begin_next(records, "p1", T0)
    assert [r.run.state for r in records] == [WAITING, WAITING]  # ada is next, and p2 begins her run
    rules.begin_next(records, "p2", T0 + dt.timedelta(seconds=5))
    assert records[0].run.state == RUNNING and records[0].run.started_at == T0 + dt.timedelta(seconds=5)
    assert records[0].run.expected_end == T0 + dt.timedelta(seconds=65)
    rules.begin_next(records, "p1", T0)
    assert records[1].run.state == WAITING  # the slot is taken


def test_give_up_stops_the_unheard_drops_their_places_and_fails_the_runs_of_stopped_processes():
    late = T0 + dt.timedelta(seconds=31)
    records = [record("ada", RUNNING), record("bob", heard=late), record("cy")]
    assert rules.anything_to_give_up(records, late, 30.0, set())
    rules.give_up(records, late, 30.0, set())
    assert [r.run.owner for r in records] == ["ada", "bob"]  # cy's place is gone, ada's run asked to stop
    assert records[0].stop and "page was closed" in records[0].run.note and records[0].run.running
    assert not rules.anything_to_give_up(records, late, 30.0, set())  # ada's run is stopping already
    records = [record("ada", RUNNING, process="p2"), record("bob", process="p2"), record("cy")]
    rules.give_up(records, T0, 30.0, {"p2"})
    assert [(r.run.owner, r.run.state) for r in records] == [("ada", FAILED), ("cy", WAITING)]
    assert records[0].ended == 1 and records[0].run.finished_at == T0 and "process" in records[0].run.error


def test_the_queue_says_when_each_run_should_start_and_old_results_go():
    running = record("ada", RUNNING, seconds=100)
    records = [running, record("bob", seconds=60), record("cy", seconds=30)]
    queue = rules.queue_of(records, running.run, T0)
    assert [(r.owner, r.position) for r in queue] == [("bob", 1), ("cy", 2)]
    assert [r.expected_start for r in queue] == [T0 + dt.timedelta(seconds=100), T0 + dt.timedelta(seconds=160)]
    ended = [record(f"o{i}", FAILED, ended=i + 1) for i in range(rules.RESULTS_KEPT + 2)]
    ended.append(record("o0", FAILED, ended=99))  # o0's later run: their first one goes
    rules.keep_recent(ended)
    assert sorted(r.ended for r in ended) == [4, 5, 6, 7, 8, 9, 10, 99]
    assert rules.next_ended(ended) == 100 and rules.last_ended(ended).ended == 99


def test_progress_from_the_engines_becomes_the_runs_curve_and_survives_the_board():
    run = record("ada", RUNNING, seconds=100).run
    batch = Progress(1, 2, 250, 1000, np.float32(0.5), np.float64(0.8), 1.0, 0.45, np.float32(0.85))
    run = after_batch(run, batch, T0 + dt.timedelta(seconds=10))
    assert run.points == (batch,) and run.fraction == 0.25 and run.batch_loss == 0.5
    assert run.expected_end == T0 + dt.timedelta(seconds=40)  # a quarter done in 10 s: 30 s to go
    run = after_batch(run, Progress(1, 2, 300, 1000, 0.4, 0.8, 1.1), T0)
    assert len(run.points) == 1  # no test figures: not a curve point
    end = Progress(1, 2, 500, 1000, 0.3, 0.9, 2.0, 0.25, 0.92)
    run = after_epoch(run, end)
    assert run.history == (end,) and run.history[0].epochs_done == 1.0 and run.points[0].epochs_done == 0.5
    row = json.loads(json.dumps(to_row(Record(run, 100.0, T0))))  # plain JSON, NumPy numbers and all
    back = from_row(row)
    assert back.run == run and back.heard == T0 and type(back.run.points[0].test_accuracy) is float


def test_points_in_a_board_file_from_an_older_server_are_read_as_progress():
    row = to_row(Record(record("ada", FAILED).run, 60.0, T0))
    row["run"]["history"] = [[1, 0.3, 0.9, 0.25, 0.92]]            # (epoch, loss, accuracy, test loss, test accuracy)
    row["run"]["points"] = [[0.25, 0.5, 0.8, 0.45, 0.85]]          # (epochs done, ...)
    run = from_row(row).run
    assert run.history[0].epoch == 1 and run.history[0].epochs_done == 1.0 and run.history[0].test_accuracy == 0.92
    assert run.points[0].epoch == 1 and run.points[0].epochs_done == 0.25 and run.points[0].loss == 0.5
