"""Training on this machine: time to 98% test accuracy per recipe, and estimates against the truth.

    .venv/bin/python -m bench.train_bench [--part reach estimate points] [--recipes best quick]

- reach: each Train page recipe (and the tutorial's own Keras network) trained on all 60,000
  images as the lab's slot trains it (one BLAS thread; --threads 2 for both cores), after a short
  warm-up run on 2,000 images (as a server that has trained before); prints the test accuracy after every
  epoch, the seconds when 98.0% was first reached (or "not reached"), and the whole run's time.
- estimate: a grid of settings, each run twice on --limit images: the first with an empty timings
  file (the modelled estimate), the second after the first has been recorded (the calibrated
  estimate, as the server's second visitor gets it). Prints estimate / actual for both; the
  calibrated one should be within +-30%.
- first: every recipe, and batch sizes from 1 to 1024 of the tutorial's network and of each convnet
  recipe, as a fresh server's first visitor gets them: an empty timings file, the start-up probe
  (mnistcore.training.timing.probe, as mnistcore.lab.services.probe_networks runs it), then the
  estimate against the real time of a run on --limit images with the slot's bookkeeping after
  every batch, the final test and the companion's fit. The ratio should be within 0.7 to 1.3.
- teach: Draw's "Teach it" on the shipped model, for test digits it reads wrong: the time and steps
  taken until the copy reads each as its true digit (the page's budget is under 0.2 s).
- points: what a curve point costs (scoring 1,000 test images), per model, against one epoch.

Prints the load average beside each figure: on a shared 2-core machine they move with it.
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path


from threadpoolctl import threadpool_limits

from bench import record
from mnistcore.data import load_mnist
from mnistcore.lab.services import slot_bookkeeping
from mnistcore.openset import reference_for
from mnistcore.training import (CURVE_SAMPLE, Timings, TrainSettings, estimate_seconds, new_model, recipes,
                                run_training)
from mnistcore.training.run import companion, sample_score
from mnistcore.training.timing import probe

TARGET = 0.98
KERAS_TUTORIAL = TrainSettings(engine="keras", arch="mlp", epochs=5, batch_size=128)  # rmsprop, 512 relu, as written
GRID = [
    TrainSettings(epochs=2, batch_size=128, hidden=512),
    TrainSettings(epochs=2, batch_size=32, hidden=128),
    TrainSettings(epochs=1, batch_size=1, hidden=200, activation="sigmoid", momentum=0.0),
    TrainSettings(epochs=2, batch_size=128, hidden=512, learning_rate=0.2, schedule="cosine"),
    TrainSettings(epochs=2, batch_size=256, hidden=1024, optimizer="adam", learning_rate=0.001),
]


def load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def reach(data, names: list[str], threads: int = 1) -> None:
    menu = {**{key: recipe.settings for key, recipe in recipes().items()}, "keras-tutorial": KERAS_TUTORIAL}
    (x_train, y_train), test = data
    for name in names:
        settings = menu[name]
        if settings.engine == "numpy":  # warm, as a server that has trained before is (its memory, its code paths)
            with threadpool_limits(limits=threads, user_api="blas"):
                run_training(replace(settings, epochs=1, train_limit=2000), ((x_train[:2000], y_train[:2000]), test))
        started = time.perf_counter()
        marks = []

        def on_epoch(p, marks=marks, started=started):
            marks.append((p.epoch, p.test_accuracy, time.perf_counter() - started))

        try:
            with threadpool_limits(limits=threads, user_api="blas"):
                result = run_training(settings, data, on_epoch=on_epoch)
        except Exception as err:  # noqa: BLE001 - Keras may be missing: say so, go on
            print(f"{name:15s} could not train: {type(err).__name__}: {err}")
            continue
        total = time.perf_counter() - started
        first = next(((epoch, seconds) for epoch, accuracy, seconds in marks if accuracy >= TARGET), None)
        curve = ", ".join(f"{accuracy:.2%}" for _, accuracy, _ in marks)
        reached = f"98% after epoch {first[0]} at {first[1]:.1f} s" if first else \
            f"98% not reached (best {max(a for _, a, _ in marks):.2%})"
        print(f"{name:15s} {reached}; whole run {total:.1f} s; test accuracy by epoch: {curve}   "
              f"({settings.describe()}; {threads} BLAS thread{'s' if threads > 1 else ''}; {load()})", flush=True)
        del result


def estimate(data, limit: int) -> None:
    (x_train, y_train), test = data
    small = ((x_train[:limit], y_train[:limit]), test)
    reference_for(*small[0])  # the companion's, made once per process before the first run, as the lab does
    with tempfile.TemporaryDirectory() as folder:
        timings = Timings(Path(folder) / "timings.json")
        print(f"{'settings':70s} {'modelled':>9s} {'actual':>7s} {'ratio':>6s}   "
              f"{'calibrated':>10s} {'actual':>7s} {'ratio':>6s}")
        for settings in GRID:
            settings = replace(settings, train_limit=limit)
            figures = []
            for _ in range(2):
                guess = estimate_seconds(settings, limit, timings)
                started = time.perf_counter()
                with threadpool_limits(limits=1, user_api="blas"):
                    run_training(settings, small, on_batch=lambda p: None, timings=timings)
                actual = time.perf_counter() - started
                figures.append((guess, actual))
            (m, a1), (c, a2) = figures
            print(f"{settings.describe()[:70]:70s} {m:8.1f}s {a1:6.1f}s {m / a1:6.2f}   {c:9.1f}s {a2:6.1f}s "
                  f"{c / a2:6.2f}   ({load()})", flush=True)


BATCHES = (1, 4, 32, 128, 1024)  # batch sizes tried for the tutorial's network and the convnet (the page allows 1-1024)


def first(data, limit: int, names: list[str], batches: tuple[int, ...] = BATCHES) -> None:
    (x_train, y_train), test = data
    small = ((x_train[:limit], y_train[:limit]), test)
    menu = recipes()
    runs = [(name, menu[name].settings) for name in names if name in menu]
    runs += [(f"{name} b{batch}", replace(menu[name].settings, batch_size=batch))
             for name in menu if name in names and not menu[name].settings.network.tensorflow
             and (name == "tutorial" or menu[name].settings.arch == "cnn") for batch in batches
             if batch != menu[name].settings.batch_size]
    reference_for(x_train, y_train)  # the probe's companion reads the whole set, as the lab's does...
    reference_for(*small[0])  # ...and the runs' theirs: made once per process before the first run, as the lab does
    print(f"{'run':14s} {'estimate':>9s} {'actual':>7s} {'ratio':>6s}   settings")
    ratios = []
    for name, settings in runs:
        if settings.network.tensorflow:
            continue  # Keras' start-up dominates and is measured by `estimate`'s calibrated run
        settings = replace(settings, train_limit=limit)
        with tempfile.TemporaryDirectory() as folder, threadpool_limits(limits=1, user_api="blas"):
            timings = Timings(Path(folder) / "timings.json")  # a fresh server's, probed as the lab's start-up does
            probe(settings, data, timings, on_batch=slot_bookkeeping(settings), finish=lambda m: companion(m, data))
            guess = estimate_seconds(settings, limit, timings)
            started = time.perf_counter()
            result = run_training(settings, small, on_batch=slot_bookkeeping(settings))
            actual = time.perf_counter() - started
        stopped = f"stopped itself after {len(result.history)} of {settings.epochs} epochs; " if result.stopped else ""
        if not result.stopped:  # a run that gave up early says nothing of the estimate
            ratios.append(guess / actual)
        print(f"{name:14s} {guess:8.1f}s {actual:6.1f}s {guess / actual:6.2f}   {stopped}{settings.describe()[:80]} "
              f"({load()})", flush=True)
    if ratios:
        inside = sum(0.7 <= r <= 1.3 for r in ratios)
        clock = "CPU" if time.perf_counter is time.process_time else "wall-clock"
        print(f"estimate / actual from {min(ratios):.2f} to {max(ratios):.2f} ({clock} seconds); {inside} of "
              f"{len(ratios)} runs that did not stop early within +-30%; {record.cpu_line()}", flush=True)


def teach_part(data, count: int = 20) -> None:
    import numpy as np

    from mnistcore.nets import load_model
    from mnistcore.training.teach import teach

    (x_train, y_train), (x_test, y_test) = data
    model = load_model()
    wrong = np.flatnonzero(model.predict(x_test) != y_test)[:count]
    times, turned = [], 0
    with threadpool_limits(limits=1, user_api="blas"):
        for i in wrong:
            started = time.perf_counter()
            taught, steps = teach(model, x_test[i].astype(np.float32) / 255, int(y_test[i]), x_train, y_train)
            times.append(time.perf_counter() - started)
            turned += int(taught.predict(x_test[i:i + 1])[0] == y_test[i])
    print(f"teach it (shipped model, {len(wrong)} test digits it reads wrong): "
          f"median {np.median(times) * 1000:.0f} ms, "
          f"slowest {max(times) * 1000:.0f} ms; turned to the true digit: {turned} of {len(wrong)} ({load()})",
          flush=True)


def points(data) -> None:
    (x_train, y_train), (x_test, y_test) = data
    for name, settings in (("best", recipes()["best"].settings), ("tutorial", recipes()["tutorial"].settings),
                           ("cnn", recipes()["cnn"].settings)):
        model = new_model(settings)
        with threadpool_limits(limits=1, user_api="blas"):
            started = time.perf_counter()
            for _ in range(5):
                sample_score(model, x_test[:CURVE_SAMPLE], y_test[:CURVE_SAMPLE])
        per_point = (time.perf_counter() - started) / 5
        print(f"{name:10s} one curve point ({CURVE_SAMPLE:,} test images): {per_point * 1000:.0f} ms; "
              f"8 per epoch: {8 * per_point:.2f} s per epoch ({load()})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", nargs="*", default=["points", "teach", "first", "estimate", "reach"],
                        choices=["reach", "first", "estimate", "points", "teach"])
    parser.add_argument("--recipes", nargs="*", default=["quick", "best", "tutorial", "cnn", "keras-tutorial"])
    parser.add_argument("--limit", type=int, default=10_000, help="training images per estimate run")
    parser.add_argument("--batches", type=int, nargs="*", default=list(BATCHES),
                        help="first: the batch sizes tried besides the recipes' own (none: the recipes only)")
    parser.add_argument("--threads", type=int, default=1,
                        help="reach: BLAS threads (default 1, as the lab's slot trains)")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="cpu: time everything (probes, estimates, runs) in this process's CPU seconds, "
                             "to check the estimates' arithmetic on a machine busy with other work")
    record.add_argument(parser)
    args = parser.parse_args()
    if args.clock == "cpu":
        time.perf_counter = time.process_time  # every module reads time.perf_counter through `time`
    with record.recording("bench.train_bench", args.record):
        run(args)


def run(args) -> None:
    data = load_mnist()
    for part in args.part:
        print(f"--- {part}", flush=True)
        {"reach": lambda: reach(data, args.recipes, args.threads), "estimate": lambda: estimate(data, args.limit),
         "first": lambda: first(data, args.limit, args.recipes, tuple(args.batches)), "teach": lambda: teach_part(data),
         "points": lambda: points(data)}[part]()


if __name__ == "__main__":
    main()
