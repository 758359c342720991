"""The NumPy convnet against Keras' on full MNIST, on this machine: speed, accuracy, inference.

    .venv/bin/python -m bench.cnn                        # 12 epochs each, about 30 minutes on 2 cores
    .venv/bin/python -m bench.cnn --epochs 14 --save runs/cnn.npz
    .venv/bin/python -m bench.cnn --no-keras --epochs 2  # NumPy only
    .venv/bin/python -m bench.cnn --accuracy --epochs 15 --robust --schedule cosine --save runs/cnn.npz
    git worktree add --detach ../before COMMIT && .venv/bin/python -m bench.cnn --before ../before --epochs 3

One run trains both networks from scratch (seed 0), the same architecture (keras-io's convnet:
conv 32, pool, conv 64, pool, dropout 0.5, dense 10, Adam), on the same 60,000 images at batch
128, float32, alternating epoch by epoch so both see the same machine; --before adds the NumPy
convnet of another checkout (an older commit's worktree) to the rotation. Prints, per epoch, each
one's training seconds (test scoring excluded), test accuracy, and a short float32 matmul timing
taken right after; then the median epoch time over epochs 2 onwards (epoch 1 is the warm-up:
Keras traces its graph, NumPy allocates its buffers), each one's GFLOP/s (as Keras counts the
network's work) as a share of the matmul rate three ways (its best at the start; the median of
the timings between epochs, under the same load; per CPU-second, which other programs' turns on
the cores do not move), the ratio to Keras' epoch, and each one's training time to 99.0% test
accuracy. Then inference: one image through predict_proba, one 280x280 drawing from canvas to
probabilities, and the 10,000 test images.
With --accuracy, NumPy only: one `fit` over all the epochs (so a cosine schedule falls once, over
the whole run, not once per epoch as alternating single-epoch fits would make it), optionally with
the training distortions (--robust); per epoch the training seconds (scoring excluded) and test
accuracy, and the training time to 99.0% and to 99.2%.
Figures, never pass/fail; the load average is printed with them, since other work skews them.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import platform
import statistics
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits


from bench import record
from mnistcore.augment import ROBUST, make_augment
from mnistcore.data import load_mnist
from mnistcore.nets.numpy_cnn import CnnConfig, ConvNet
from mnistcore.nets.numpy_net import NeuralNetWork
from mnistcore.preprocess import canvas_to_mnist

BATCH = 128
# Floating-point operations of one image through one training step, as Keras computes the
# network: conv1 forward and kernel gradient (the pixels need no gradient); conv2 forward,
# kernel gradient and input gradient over all 11 x 11 outputs; the dense layer's three products.
FLOP_PER_IMAGE = 2 * (2 * 26 * 26 * 9 * 32 + 3 * 11 * 11 * 288 * 64 + 3 * 1600 * 10)
# What the NumPy network multiplies: conv1 over the 24 x 24 of its 26 x 26 outputs that anything
# reads after pooling; conv2 by Winograd's F(2x2, 3x3) (mnistcore/nets/winograd.py), 16 products
# over its 25 tiles of 2 x 2 outputs in each of its three passes, instead of 9 per output: 40% of
# what Keras counts.
EXECUTED_PER_IMAGE = 2 * (2 * 24 * 24 * 9 * 32 + 3 * 16 * 25 * 32 * 64 + 3 * 1600 * 10)


def load() -> str:
    return "load average " + " ".join(f"{v:.1f}" for v in os.getloadavg())


def matmul_rate(threads: int | None = None, repeats: int = 20) -> tuple[float, float]:
    """Float32 GFLOP/s of NumPy's BLAS on a 2048 x 2048 product: (best of `repeats`, per CPU-second).

    The second figure divides by the process' CPU time over all repeats, so it does not count the
    moments other programs had the cores: it is what the product does with the time it gets.
    """
    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    b = np.random.default_rng(1).random((2048, 2048), dtype=np.float32)
    c = np.empty_like(a)
    with threadpool_limits(threads, user_api="blas"):
        np.matmul(a, b, out=c)
        best, cpu = float("inf"), time.process_time()
        for _ in range(repeats):
            start = time.perf_counter()
            np.matmul(a, b, out=c)
            best = min(best, time.perf_counter() - start)
        cpu = time.process_time() - cpu
    return 2 * 2048**3 / best / 1e9, 2 * 2048**3 * repeats / cpu / 1e9


def timed_epoch(model, x, y) -> tuple[float, float]:
    """(seconds, CPU seconds of the whole process) of one epoch of `fit`."""
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(x, y, epochs=1, batch_size=BATCH)
    return time.perf_counter() - start, time.process_time() - cpu


def older_convnet(root: str):
    """The ConvNet class of another checkout of this project (e.g. an older commit's worktree).

    Its `mnistcore` is imported under another name, so both versions train in one process.
    """
    package = Path(root).resolve() / "mnistcore"
    if not (package / "nets" / "numpy_cnn.py").is_file():
        raise SystemExit(f"--before: {root} holds no mnistcore/nets/numpy_cnn.py")
    spec = importlib.util.spec_from_file_location("mnistcore_before", package / "__init__.py",
                                                  submodule_search_locations=[str(package)])
    module = importlib.util.module_from_spec(spec)
    sys.modules["mnistcore_before"] = module
    spec.loader.exec_module(module)
    return importlib.import_module("mnistcore_before.nets.numpy_cnn")


def race(data, epochs: int, keras: bool, rates: tuple[float, float], save: str | None, limit: int | None,
         before: str | None) -> ConvNet:
    """The networks trained side by side, alternating epochs; the figures printed as they come."""
    (x, y), (xt, yt) = data
    if limit:
        x, y = x[:limit], y[:limit]
    net = ConvNet(CnnConfig(seed=0))
    models = {"NumPy": net}
    if before:
        old = older_convnet(before)
        models["NumPy before"] = old.ConvNet(old.CnnConfig(seed=0))
    if keras:
        from mnistcore.nets.keras_net import KerasModel
        models["Keras"] = KerasModel("cnn", seed=0)
    print(f"\n## Training side by side: {len(x)} images, batch {BATCH}, float32, seed 0, {epochs} epochs"
          + (f"; 'NumPy before' is {before}" if before else ""))
    times = {name: [] for name in models}
    cpu = {name: [] for name in models}
    accuracy = {name: [] for name in models}
    between = []  # the matmul rate measured after each round of epochs, under the same load
    for epoch in range(1, epochs + 1):
        parts = []
        for name, model in models.items():
            seconds, cpu_seconds = timed_epoch(model, x, y)
            acc = float(np.mean(model.predict(xt) == yt))
            times[name].append(seconds)
            cpu[name].append(cpu_seconds)
            accuracy[name].append(acc)
            parts.append(f"{name} {seconds:6.1f} s, test accuracy {acc:.4f}")
        between.append(matmul_rate(repeats=5)[0])
        print(f"epoch {epoch:2d}: " + "   ".join(parts) + f"   (matmul {between[-1]:.0f} GFLOP/s, {load()})",
              flush=True)
    summary(models, times, cpu, accuracy, rates, between, len(x))
    if save:
        net.info = replace(net.info, test_accuracy=accuracy["NumPy"][-1])
        print(f"saved the NumPy convnet to {net.save(save)}")
    return net


def summary(models, times, cpu, accuracy, rates, between, n) -> None:
    """Median epochs (the first is the warm-up), shares of the matmul rate, ratios to Keras, time to 99%."""
    print("\n## Summary")
    epochs = len(times["NumPy"])
    later = slice(1, None) if epochs > 1 else slice(None)  # epoch 1 is the warm-up
    medians = {name: statistics.median(t[later]) for name, t in times.items()}
    flop = FLOP_PER_IMAGE * n
    best, per_cpu = rates
    alongside = statistics.median(between)
    print(f"float32 matmul rate: {best:.0f} GFLOP/s (best at the start), {alongside:.0f} GFLOP/s (median of the "
          f"measurements between epochs), {per_cpu:.0f} GFLOP per CPU-second")
    for name, seconds in medians.items():
        rate = flop / seconds / 1e9
        cpu_rate = flop / statistics.median(cpu[name][later]) / 1e9
        print(f"{name} epoch: median {seconds:.1f} s over epochs {'2' if epochs > 1 else '1'}-{epochs} "
              f"({flop / 1e9:.0f} GFLOP as Keras counts them: {rate:.1f} GFLOP/s)")
        print(f"  share of the matmul rate: {rate / best:.0%} of the best, {rate / alongside:.0%} of the one "
              f"alongside, {cpu_rate / per_cpu:.0%} per CPU-second" +
              (f"; epoch time / Keras' {seconds / medians['Keras']:.2f}" if "Keras" in medians else ""))
    if "NumPy before" in medians:
        print(f"NumPy now / before: epoch time {medians['NumPy'] / medians['NumPy before']:.2f}")
    print(f"NumPy executes {EXECUTED_PER_IMAGE * n / medians['NumPy'] / 1e9:.1f} GFLOP/s of its own work "
          f"({EXECUTED_PER_IMAGE / FLOP_PER_IMAGE:.0%} of what Keras counts)")
    for name in models:
        reached = next((i for i, acc in enumerate(accuracy[name]) if acc >= 0.99), None)
        when = (f"{sum(times[name][: reached + 1]):.0f} s of training ({reached + 1} epochs)" if reached is not None
                else f"not reached in {epochs} epochs")
        print(f"{name}: 99.0% after {when}; final test accuracy {accuracy[name][-1]:.4f}, "
              f"best {max(accuracy[name]):.4f}")


def accuracy_run(data, epochs: int, robust: bool, schedule: str, seed: int, save: str | None) -> ConvNet:
    """One NumPy fit over all epochs; test accuracy after each, scored outside the timed training."""
    (x, y), (xt, yt) = data
    net = ConvNet(CnnConfig(seed=seed, schedule=schedule))
    print(f"\n## One run: {len(x)} images, batch {BATCH}, float32, seed {seed}, {epochs} epochs, "
          f"schedule {schedule}, distortions {'on ' + str(ROBUST.fraction) + ' of each batch' if robust else 'off'}")
    scoring = [0.0]  # seconds spent scoring, taken out of the training clock
    trained, accuracy = [], []

    def on_epoch(progress) -> None:
        start = time.perf_counter()
        accuracy.append(float(np.mean(net.predict(xt) == yt)))
        trained.append(progress.seconds - scoring[0])
        scoring[0] += time.perf_counter() - start
        print(f"epoch {progress.epoch:2d}: {trained[-1]:6.1f} s of training so far, "
              f"test accuracy {accuracy[-1]:.4f}   ({load()})", flush=True)

    net.fit(x, y, epochs=epochs, batch_size=BATCH, on_epoch=on_epoch,
            augment=make_augment(ROBUST) if robust else None)
    for goal in (0.99, 0.992):
        reached = next((i for i, acc in enumerate(accuracy) if acc >= goal), None)
        print(f"{goal:.1%}: " + (f"after {trained[reached]:.0f} s of training ({reached + 1} epochs)"
                                 if reached is not None else f"not reached in {epochs} epochs"))
    print(f"final test accuracy {accuracy[-1]:.4f}, best {max(accuracy):.4f}")
    if save:
        net.info = replace(net.info, test_accuracy=accuracy[-1], augment=asdict(ROBUST) if robust else None)
        print(f"saved the NumPy convnet to {net.save(save)}")
    return net


def inference(net: ConvNet, data) -> None:
    _, (xt, _) = data
    print("\n## Inference, NumPy convnet")
    net.predict_proba(xt[:1])  # first call: nothing to warm, but fair to both timings below
    one = []
    for image in xt[:300]:
        start = time.perf_counter()
        net.predict_proba(image)
        one.append(time.perf_counter() - start)
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[..., 3] = 255
    canvas[50:230, 130:152, :3] = 255  # a "1" drawn with the site's brush, as in bench/speed.py
    drawn, preprocessing = [], []
    for _ in range(100):
        start = time.perf_counter()
        image = canvas_to_mnist(canvas)
        preprocessing.append(time.perf_counter() - start)
        net.predict_proba(image)
        drawn.append(time.perf_counter() - start)
    whole = []
    for _ in range(3):
        start = time.perf_counter()
        net.predict_proba(xt)
        whole.append(time.perf_counter() - start)
    print(f"one image -> probabilities: median {statistics.median(one) * 1e3:.2f} ms "
          f"(95th percentile {np.percentile(one, 95) * 1e3:.2f} ms)")
    print(f"one 280x280 RGBA drawing -> canvas_to_mnist -> probabilities: median "
          f"{statistics.median(drawn) * 1e3:.2f} ms (goal < 5 ms), of which canvas_to_mnist "
          f"{statistics.median(preprocessing) * 1e3:.2f} ms")
    print(f"10,000 test images: {len(xt) / statistics.median(whole):.0f} images/s "
          f"(median of 3: {statistics.median(whole):.2f} s)   ({load()})")


def mlp_epoch(data, repeats: int = 3) -> None:
    """The MLP path, for comparison with bench/speed.py's figure: it must not have slowed down."""
    (x, y), _ = data
    net = NeuralNetWork(784, 512, 10, 0.1, activation="relu", momentum=0.9, seed=0)
    net.fit(x, y, epochs=1, batch_size=BATCH)  # warm-up
    times = [timed_epoch(net, x, y) for _ in range(repeats)]
    print(f"\n## The MLP (784-512-10, batch 128): median epoch {statistics.median(times):.2f} s "
          f"({', '.join(f'{t:.2f}' for t in times)})   ({load()})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12, help="epochs each network trains (default 12)")
    parser.add_argument("--no-keras", action="store_true", help="NumPy only")
    parser.add_argument("--save", metavar="PATH", help="write the trained NumPy convnet here (.npz)")
    parser.add_argument("--limit", type=int, help="train on the first N images only (a quick look)")
    parser.add_argument("--before", metavar="DIR",
                        help="also train the convnet of another checkout, alternating (e.g. a worktree of an "
                             "older commit: git worktree add --detach DIR COMMIT)")
    parser.add_argument("--mlp", action="store_true", help="also time the MLP's epoch")
    parser.add_argument("--accuracy", action="store_true",
                        help="NumPy only, one fit over all epochs (see --robust, --schedule, --seed)")
    parser.add_argument("--robust", action="store_true", help="with --accuracy: the training distortions")
    parser.add_argument("--schedule", choices=("constant", "cosine"), default="constant",
                        help="with --accuracy: Adam's step size over the run (default constant)")
    parser.add_argument("--seed", type=int, default=0, help="with --accuracy: the seed (default 0)")
    record.add_argument(parser)
    args = parser.parse_args()
    with record.recording("bench.cnn", args.record):
        run(args)


def run(args) -> None:
    data = load_mnist()
    if args.accuracy:
        net = accuracy_run(data, args.epochs, args.robust, args.schedule, args.seed, args.save)
        inference(net, data)
        return
    print(f"NumPy {np.__version__}, Python {platform.python_version()}, {os.cpu_count()} CPU cores, {load()}")
    if not args.no_keras:
        from mnistcore.nets.keras_net import keras  # first: it quiets TensorFlow before importing it
        import tensorflow as tf
        print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}")
    print(record.cpu_line())
    rates, rate_one = matmul_rate(), matmul_rate(threads=1)[0]
    print(f"float32 matmul (2048 x 2048): {rates[0]:.0f} GFLOP/s on all cores, {rate_one:.0f} GFLOP/s on one")
    net = race(data, args.epochs, not args.no_keras, rates, args.save, args.limit, args.before)
    inference(net, data)
    if args.mlp:
        mlp_epoch(data)


if __name__ == "__main__":
    main()
