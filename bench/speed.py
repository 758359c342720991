"""Speed and accuracy figures on this machine, printed, never asserted.

    .venv/bin/python -m bench.speed            # everything (about 5 minutes on 2 cores)
    .venv/bin/python -m bench.speed --no-keras # NumPy figures only

Prints: versions and the machine's float32 matrix-multiply rate; one epoch of the same
784-512-10 ReLU/softmax network at batch 128 in NumPy and in Keras, measured alternately after a
warm-up (median of repeats, ratio, and the fraction of the matmul rate the NumPy epoch reaches);
time to 98% test accuracy for NumPy's default settings and for the tutorial's Keras network;
the tutorial's own per-sample loop against ours (batch_size=1); inference latency for one drawing
and throughput on the 10,000 test images for both engines.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy

import bench.record  # by its full name: the tutorial's loop below calls its lines `record`
from mnistcore.data import export_csv, load_mnist
from mnistcore.nets import load_model
from mnistcore.nets.numpy_net import NeuralNetWork
from mnistcore.preprocess import canvas_to_mnist
from mnistcore.training import TrainSettings, new_model

N_TRAIN = 60000
# Multiply-adds of one epoch of 784-512-10 at any batch size: forward through both layers, the
# output layer's weight and input gradients, the hidden layer's weight gradient (no input grad).
EPOCH_FLOP = 2 * N_TRAIN * (784 * 512 + 512 * 10 + 512 * 10 + 10 * 512 + 784 * 512)


def matmul_rate(repeats: int = 30) -> float:
    """Best sustained float32 GFLOP/s of NumPy's BLAS on a large square product."""
    a = np.random.default_rng(0).random((2048, 2048), dtype=np.float32)
    b = np.random.default_rng(1).random((2048, 2048), dtype=np.float32)
    c = np.empty_like(a)
    np.matmul(a, b, out=c)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        np.matmul(a, b, out=c)
        times.append(time.perf_counter() - start)
    return 2 * 2048**3 / min(times) / 1e9


def numpy_epoch(net, x, y) -> float:
    start = time.perf_counter()
    net.fit(x, y, epochs=1, batch_size=128)
    return time.perf_counter() - start


def keras_epoch(model, x, y) -> float:
    start = time.perf_counter()
    model.fit(x, y, epochs=1, batch_size=128)
    return time.perf_counter() - start


def epoch_ratio(data, repeats: int, keras: bool) -> None:
    (x, y), _ = data
    print("\n## One epoch, 784-512-10 ReLU/softmax, batch 128, float32, 60,000 images")
    net = NeuralNetWork(784, 512, 10, 0.1, activation="relu", momentum=0.9, seed=0)
    model = new_model(TrainSettings(engine="keras", arch="mlp", seed=0)) if keras else None
    numpy_epoch(net, x, y)  # warm-up: buffers, BLAS threads, page faults
    if model is not None:
        keras_epoch(model, x, y)  # warm-up: graph tracing
    numpy_times, keras_times = [], []
    for _ in range(repeats):  # alternate, so both see the same machine state
        numpy_times.append(numpy_epoch(net, x, y))
        if model is not None:
            keras_times.append(keras_epoch(model, x, y))
    numpy_s = statistics.median(numpy_times)
    rate = EPOCH_FLOP / numpy_s / 1e9
    print(f"NumPy epoch: median {numpy_s:.3f} s over {repeats} ({', '.join(f'{t:.3f}' for t in numpy_times)}); "
          f"{EPOCH_FLOP / 1e9:.0f} GFLOP -> {rate:.0f} GFLOP/s = {rate / PEAK:.0%} of the matmul rate")
    if keras_times:
        keras_s = statistics.median(keras_times)
        print(f"Keras epoch: median {keras_s:.3f} s over {repeats} ({', '.join(f'{t:.3f}' for t in keras_times)})")
        print(f"ratio NumPy/Keras: {numpy_s / keras_s:.2f} (goal <= 0.5)")


def time_to_98(data, keras: bool, max_epochs: int = 20) -> None:
    (x, y), (xt, yt) = data
    print("\n## Time to 98.0% test accuracy (training time only, test scoring excluded)")
    runs = [("NumPy default settings", TrainSettings())]
    if keras:
        runs.append(("Keras, the tutorial's MLP (rmsprop, batch 128)", TrainSettings(engine="keras", arch="mlp")))
    for name, settings in runs:
        model = new_model(settings)
        trained, reached, accuracy = 0.0, None, 0.0
        for epoch in range(1, max_epochs + 1):
            start = time.perf_counter()
            model.fit(x, y, epochs=1, batch_size=settings.batch_size)
            trained += time.perf_counter() - start
            accuracy = float(np.mean(model.predict(xt) == yt))
            if accuracy >= 0.98:
                reached = epoch
                break
        if reached:
            print(f"{name}: {trained:.1f} s ({reached} epochs, test accuracy {accuracy:.4f})")
        else:
            print(f"{name}: not reached in {max_epochs} epochs ({trained:.1f} s, best {accuracy:.4f})")


def tutorial_loop(data, epochs: int) -> None:
    """The tutorial's loop (CSV records parsed per sample, as it does) with its class and ours."""
    from tests.tutorial import original_class
    (x, y), (xt, yt) = data
    print(f"\n## The tutorial's per-sample training (784-200-10 sigmoid, learning rate 0.1), {epochs} epoch(s)")
    with tempfile.TemporaryDirectory() as tmp:
        export_csv(x, y, Path(tmp) / "mnist_train.csv")
        export_csv(xt, yt, Path(tmp) / "mnist_test.csv")
        train_lines = (Path(tmp) / "mnist_train.csv").read_text().splitlines()
        test_lines = (Path(tmp) / "mnist_test.csv").read_text().splitlines()
    np.random.seed(0)
    theirs = original_class.NeuralNetWork(784, 200, 10, 0.1)
    ours_train = NeuralNetWork(784, 200, 10, 0.1, seed=0)
    ours_fit = NeuralNetWork(784, 200, 10, 0.1, seed=0)
    rows = []
    for name, net in (("tutorial's class, tutorial's loop", theirs), ("our class, tutorial's loop", ours_train)):
        start = time.perf_counter()
        for _ in range(epochs):
            for record in train_lines:  # the tutorial's loop body, verbatim
                all_values = record.split(',')
                inputs = (np.asfarray(all_values[1:]))/255.0 * 0.99 + 0.01
                targets = np.zeros(10) + 0.01
                targets[int(all_values[0])] = 0.99
                net.train(inputs, targets)
        seconds = (time.perf_counter() - start) / epochs
        rows.append((name, seconds, _tutorial_score(net, test_lines)))
    start = time.perf_counter()
    ours_fit.fit(x, y, epochs=epochs, batch_size=1)
    seconds, accuracy = (time.perf_counter() - start) / epochs, float(np.mean(ours_fit.predict(xt) == yt))
    rows.append(("our fit(batch_size=1)", seconds, accuracy))
    base = rows[0][1]
    for name, seconds, accuracy in rows:
        print(f"{name:36s} {seconds:6.2f} s/epoch  ({base / seconds:4.1f}x)  test accuracy {accuracy:.4f}")


def _tutorial_score(net, test_lines) -> float:
    scores = []
    with contextlib.redirect_stdout(io.StringIO()):  # the tutorial's query prints every answer
        for record in test_lines:
            all_values = record.split(',')
            outputs = net.query((np.asarray(all_values[1:], dtype=float)) / 255.0 * 0.99 + 0.01)
            scores.append(int(np.argmax(outputs) == int(all_values[0])))
    return float(np.mean(scores))


def inference(data, keras: bool) -> None:
    _, (xt, yt) = data
    print("\n## Inference")
    canvas = np.zeros((280, 280, 4), np.uint8)
    canvas[..., 3] = 255
    canvas[50:230, 130:152, :3] = 255  # a "1" drawn with the site's brush
    model = load_model()
    times = []
    for _ in range(300):
        start = time.perf_counter()
        model.predict_proba(canvas_to_mnist(canvas))
        times.append(time.perf_counter() - start)
    print(f"one 280x280 drawing -> probabilities, NumPy default model: median {statistics.median(times) * 1e3:.2f} ms, "
          f"95th percentile {np.percentile(times, 95) * 1e3:.2f} ms")
    models = [("NumPy default model", model)]
    if keras:
        (x, y), _ = data
        for arch in ("mlp", "cnn"):
            m = new_model(TrainSettings(engine="keras", arch=arch, seed=0))
            m.fit(x[:1000], y[:1000], epochs=1, batch_size=128)
            models.append((f"Keras {arch}", m))
    for name, m in models:
        m.predict_proba(xt[:256])
        start = time.perf_counter()
        m.predict_proba(xt)
        seconds = time.perf_counter() - start
        print(f"{name}: 10,000 test images in {seconds:.3f} s = {len(xt) / seconds:,.0f} images/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-keras", action="store_true", help="skip the Keras figures")
    parser.add_argument("--repeats", type=int, default=5, help="alternating epoch pairs to time")
    parser.add_argument("--tutorial-epochs", type=int, default=1, help="epochs of the tutorial's loop (5 = its own)")
    parser.add_argument("--only", choices=["ratio", "98", "tutorial", "inference"], action="append")
    bench.record.add_argument(parser)
    args = parser.parse_args()
    with bench.record.recording("bench.speed", args.record):
        run(args)


def run(args) -> None:
    keras = not args.no_keras
    global PEAK
    PEAK = matmul_rate()
    print("# MNIST Lab speed figures")
    print(f"Python {platform.python_version()}, NumPy {np.__version__}, SciPy {scipy.__version__}, "
          f"{os.cpu_count()} CPUs")
    if keras:
        import mnistcore.nets.keras_net  # noqa: F401  (quiet TensorFlow start-up)
        import tensorflow as tf
        import keras as k
        print(f"TensorFlow {tf.__version__}, Keras {k.__version__}")
    print(f"float32 matmul rate (2048x2048, NumPy's BLAS): {PEAK:.0f} GFLOP/s")
    data = load_mnist()
    only = set(args.only or ["ratio", "98", "tutorial", "inference"])
    if "ratio" in only:
        epoch_ratio(data, args.repeats, keras)
    if "98" in only:
        time_to_98(data, keras)
    if "tutorial" in only:
        tutorial_loop(data, args.tutorial_epochs)
    if "inference" in only:
        inference(data, keras)

PEAK = 1.0

if __name__ == "__main__":
    main()
