"""Keras on full MNIST, on this machine: the tutorial's network and keras-io's convnet.

For each network: seconds per training epoch (60,000 images, test evaluation excluded), test
accuracy after every epoch (10,000 images), and milliseconds to predict one image (the drawing
page's case). Seeded, so a rerun trains the same way.

    .venv/bin/python -m bench.keras_bench                 # both: mlp 5 epochs, cnn 12 epochs
    .venv/bin/python -m bench.keras_bench --only mlp
"""
from __future__ import annotations

import argparse
import os
import platform
import time


from bench import record
from mnistcore.data import load_mnist

# The tutorial: network.fit(train_images, train_labels, epochs=5, batch_size=128).
# keras-io's mnist_convnet trains 15 epochs at batch 128 (on 54,000 images). On all 60,000 the
# convnet first reached 99.0% test accuracy at epoch 9 (seed 0); 12 leave a margin.
RUNS = {"mlp": (5, 128), "cnn": (12, 128)}


def bench(arch: str, epochs: int, batch_size: int, data, seed: int = 0) -> None:
    from mnistcore.nets.keras_net import KerasModel

    (x_train, y_train), (x_test, y_test) = data
    model = KerasModel(arch, seed=seed)
    print(f"\n{model.info.architecture}: {epochs} epochs at batch {batch_size}, seed {seed}", flush=True)
    evaluating = 0.0       # seconds spent scoring the test set, kept out of the epoch times
    last_end = 0.0

    def on_epoch(progress) -> None:
        nonlocal evaluating, last_end
        started = time.perf_counter()
        test_loss, test_acc = model.score(x_test, y_test)
        trained = progress.seconds - evaluating  # training seconds so far
        print(f"  epoch {progress.epoch:2d}: {trained - last_end:6.1f} s   train accuracy "
              f"{progress.accuracy:.4f}   test accuracy {test_acc:.4f}   test loss {test_loss:.4f}", flush=True)
        last_end = trained
        evaluating += time.perf_counter() - started

    model.fit(x_train, y_train, epochs=epochs, batch_size=batch_size, on_epoch=on_epoch)
    _, accuracy = model.score(x_test, y_test)
    model.predict(x_test[0])  # the first call builds the compiled predict step
    started = time.perf_counter()
    for image in x_test[:200]:
        model.predict(image)
    one_ms = (time.perf_counter() - started) / 200 * 1000
    print(f"  => {arch}: {last_end / epochs:.1f} s per epoch, test accuracy {accuracy:.4f}, "
          f"{one_ms:.2f} ms to predict one image", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(RUNS), help="run one network only")
    parser.add_argument("--cnn-epochs", type=int, default=RUNS["cnn"][0])
    record.add_argument(parser)
    args = parser.parse_args()
    with record.recording("bench.keras_bench", args.record):
        run(args)


def run(args) -> None:
    data = load_mnist()
    from mnistcore.nets.keras_net import keras  # first: it quiets TensorFlow before importing it
    import tensorflow as tf

    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__} ({keras.backend.backend()} backend), "
          f"Python {platform.python_version()}, {os.cpu_count()} CPU cores, "
          f"oneDNN {'off' if os.environ.get('TF_ENABLE_ONEDNN_OPTS') == '0' else 'on'}")
    runs = dict(RUNS, cnn=(args.cnn_epochs, RUNS["cnn"][1]))
    for arch, (epochs, batch_size) in runs.items():
        if args.only in (None, arch):
            bench(arch, epochs, batch_size, data)

if __name__ == "__main__":
    main()
