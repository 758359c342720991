"""The training slot: one run at a time on the server, a short queue, shared between server processes.

- `training_slot.py`: TrainingSlot, what pages call (submit, heartbeat, stop, publish, view);
- `runs.py`: a run's record and its curve (Progress points), as pages read it and the board keeps it;
- `rules.py`: the queue rules (who may ask, who trains next, who is given up): pure functions;
- `book.py`: this process's access to the run board (mnistcore.lab.coordination);
- `worker.py`: the thread that trains this process's runs, at a lower CPU priority.
"""
from ..names import clean_label, name_problem  # a run's label is a visitor's name
from .rules import PLACES_PER_CLIENT, QUEUE_SIZE, RESULTS_KEPT
from .runs import FAILED, FINISHED, RUNNING, STOPPED, WAITING, QueueFull, Run, SlotBusy, SlotView
from .training_slot import MAX_RUN_SECONDS, TrainingSlot

__all__ = ["FAILED", "FINISHED", "MAX_RUN_SECONDS", "PLACES_PER_CLIENT", "QUEUE_SIZE", "RESULTS_KEPT", "RUNNING",
           "STOPPED", "WAITING", "QueueFull", "Run", "SlotBusy", "SlotView", "TrainingSlot",
           "clean_label", "name_problem"]
