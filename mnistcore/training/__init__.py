"""Training, shared by the CLI and the Train page: settings, recipes, one run, and how long runs take.

`TrainSettings` is what a person chooses (settings.py); `recipes` are settings known to work, for
people who do not know what a learning rate is (recipes.py); `run_training` trains, watches and
evaluates one run (run.py); `estimate_seconds` and `Timings` say how long a run will take on this
server (timing.py). What differs between networks is in the registry, mnistcore.nets.registry.
"""
from .recipes import BEST, Recipe, recipes
from .run import (CHANCE, CURVE_SAMPLE, POINTS_FIRST_EPOCH, POINTS_PER_EPOCH, STOP_REASONS, TrainResult,
                  run_training)
from .settings import (ACTIVATIONS, EXPLAINED, LIMITS, OPTIMIZERS, SCHEDULES, TrainSettings, engine_problem,
                       new_model, plural, risky)
from .timing import Timings, describe_seconds, estimate_phases, estimate_seconds, shape_key

__all__ = ["ACTIVATIONS", "BEST", "CHANCE", "CURVE_SAMPLE", "EXPLAINED", "LIMITS", "OPTIMIZERS", "POINTS_FIRST_EPOCH",
           "POINTS_PER_EPOCH", "SCHEDULES", "STOP_REASONS", "Recipe", "Timings",
           "TrainResult", "TrainSettings", "describe_seconds", "engine_problem", "estimate_phases", "estimate_seconds",
           "new_model", "plural", "recipes", "risky", "run_training", "shape_key"]
