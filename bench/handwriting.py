"""How well models read handwriting unlike MNIST's: one table, models by distortions. Figures, not pass/fail.

    .venv/bin/python -m bench.handwriting                                   # the shipped model
    .venv/bin/python -m bench.handwriting --models runs/a.npz runs/b.keras  # and these files
    .venv/bin/python -m bench.handwriting --train mlp,mlp-aug --epochs 15 --save-dir runs/robust
    .venv/bin/python -m bench.handwriting --cost                            # what augmentation costs an epoch

The candidates in weights/ were made by (one BLAS thread, so that the sums come out the same):

    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.handwriting --no-default --train mlp-aug \
        --epochs 20 --save-dir weights --save-prefix candidate-    # about a CPU minute in all
    OPENBLAS_NUM_THREADS=1 .venv/bin/python -m bench.handwriting --no-default --train cnn-aug \
        --epochs 6 --save-dir weights --save-prefix candidate-     # NumPy CNN, about a CPU minute an epoch

MNIST's digits were written by census staff and students and cropped and centred one way; the
canvas gets slanted, rotated, off-centre, small, thick and thin writing, and styles MNIST rarely
has. Columns (each an accuracy, on the same `--n` MNIST test digits unless said):

- MNIST: the 28 x 28 test images as they are (all 10,000);
- canvas: each test digit drawn on a canvas (4 x MNIST's size) and read back through the Draw
  page's own preprocessing (mnistcore.preprocess.ink_steps: crop, 20-px box, stroke width,
  centre of mass); every column below goes the same way, its distortion applied on the canvas;
- rotated: turned by 20 degrees, left or right (alternately);
- scaled: drawn at 0.6-1.2 times the size, before the preprocessing centres it;
- thick, thin: strokes widened by one MNIST pixel each side, or narrowed by half a pixel each
  side (MNIST's strokes are only 2-3 pixels wide);
- elastic: a smooth random warp (about 2.5 MNIST pixels);
- shifted: drawn off-centre on the canvas;
- mix: each digit a random combination of all of the above;
- styled: drawings in styles MNIST rarely has (crossed 7, flagged 1 with a base, closed and open
  4, straight-tailed 9, 2 with a loop; tests/styled_drawings.py), drawn with the site's pen;
- lab: the drawings visitors labelled (data/lab.db, or MNISTLAB_FEEDBACK_DB), when there are any.

Rows are models: the shipped weights/default.npz, files given with --models, and models trained
here with --train (mlp: the shipped recipe; mlp-aug: the same with augmentation,
mnistcore.augment.ROBUST; cnn, cnn-aug: the NumPy CNN; keras-cnn, keras-cnn-aug: the Keras CNN).
The distorted sets are made once and kept in --cache.

`--cost` instead measures an epoch of the NumPy MLP (784-512-10 relu, batch 128) on all 60,000
training images with and without augmentation, alternately in one run, so both see the same load.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy import ndimage

from mnistcore.augment import ROBUST, Distortions, elastic_field, make_augment, warp
from mnistcore.data import load_mnist
from mnistcore.nets import build_model, load_model
from mnistcore.preprocess import ink_steps

ZOOM = 4                 # the canvas is drawn at 4 x MNIST's size: 4 canvas pixels are one MNIST pixel
MARGIN = 4               # MNIST pixels of extra canvas on every side, so turned and shifted digits fit
CANVAS = (28 + 2 * MARGIN) * ZOOM
COLUMNS = ("canvas", "rotated", "scaled", "thick", "thin", "elastic", "shifted", "mix")
TRAINABLE = ("mlp", "mlp-aug", "cnn", "cnn-aug", "keras-cnn", "keras-cnn-aug")


# ------------------------------------------------------------------ distorted copies of the test set

def on_canvas(digit: np.ndarray, scale: float = 1.0, shift=(0, 0)) -> np.ndarray:
    """An MNIST digit (28, 28) uint8 drawn on a (CANVAS, CANVAS) float32 ink canvas, `scale` times
    its size, its middle `shift` (dy, dx) canvas px off the canvas' middle."""
    ink = np.clip(ndimage.zoom(digit.astype(np.float32) / 255, ZOOM * scale, order=1), 0, 1)
    canvas = np.zeros((CANVAS, CANVAS), np.float32)
    h, w = ink.shape
    top, left = (CANVAS - h) // 2 + int(shift[0]), (CANVAS - w) // 2 + int(shift[1])
    canvas[top : top + h, left : left + w] = ink  # the caller keeps shifts within the canvas
    return canvas


def distorted(digit: np.ndarray, kind: str, index: int, rng: np.random.Generator) -> np.ndarray:
    """Digit `index` of the test set on a canvas, with distortion `kind` (one of COLUMNS)."""
    if kind == "mix":
        kinds = [k for k in ("rotated", "scaled", "thick", "thin", "elastic", "shifted") if rng.random() < 0.5]
        if "thick" in kinds and "thin" in kinds:
            kinds.remove("thick" if rng.random() < 0.5 else "thin")
    else:
        kinds = [kind]
    scale = rng.uniform(0.6, 1.2) if "scaled" in kinds else 1.0
    room = (CANVAS - 28 * ZOOM * scale) / 2 - 2
    shift = rng.uniform(-room, room, 2) if "shifted" in kinds else (0, 0)
    canvas = on_canvas(digit, scale, shift if "rotated" not in kinds else (0, 0))
    if "rotated" in kinds:
        angle = (20.0 if index % 2 else -20.0) if kind == "rotated" else rng.uniform(-20, 20)
        canvas = warp(canvas[None], angle, shift=shift if "shifted" in kinds else (0, 0))[0]
    if "elastic" in kinds:
        canvas = warp(canvas[None], 0.0, field=elastic_field(rng, 1, 2.5 * ZOOM, side=CANVAS))[0]
    # Thick: one MNIST pixel (ZOOM canvas px) more each side; thin: half a pixel less, as a disk.
    if "thick" in kinds:
        canvas = ndimage.grey_dilation(canvas, footprint=_disk(ZOOM), mode="constant")
    if "thin" in kinds:
        canvas = ndimage.grey_erosion(canvas, footprint=_disk(ZOOM // 2), mode="constant", cval=0.0)
    return canvas


def _disk(radius: int) -> np.ndarray:
    y, x = np.ogrid[-radius : radius + 1, -radius : radius + 1]
    return x * x + y * y <= radius * radius


def read_back(canvas: np.ndarray) -> np.ndarray:
    """A canvas through the Draw page's preprocessing: (28, 28) float32, blank if nothing is left."""
    steps = ink_steps(canvas)
    return np.zeros((28, 28), np.float32) if steps is None else steps.centred


def test_sets(images: np.ndarray, labels: np.ndarray, n: int, seed: int, cache: Path) -> dict:
    """{column: (images (m, 28, 28) float32, labels (m,))} for COLUMNS and "styled"; kept in `cache`."""
    if cache.exists():
        with np.load(cache) as saved:
            print(f"distorted test sets from {cache}")
            return {name: (saved[f"{name}_x"], saved[f"{name}_y"]) for name in (*COLUMNS, "styled")}
    from tests.styled_drawings import styled_set
    pick = np.random.default_rng(seed).choice(len(images), n, replace=False)
    sets = {}
    for kind in COLUMNS:
        began = time.perf_counter()
        rng = np.random.default_rng([seed, COLUMNS.index(kind)])
        sets[kind] = (np.stack([read_back(distorted(images[i], kind, j, rng)) for j, i in enumerate(pick)]),
                      labels[pick])
        print(f"  {kind}: {n} drawings made and preprocessed in {time.perf_counter() - began:.0f} s", flush=True)
    drawings, digits, _ = styled_set()
    sets["styled"] = (np.stack([read_back(d) for d in drawings]), digits)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(cache, **{f"{name}_{part}": value for name, (x, y) in sets.items()
                                  for part, value in (("x", x), ("y", y))})
    return sets


def lab_drawings():
    """(images, labels) of the lab's labelled drawings, or None when there is no lab database."""
    from mnistcore.lab.config import feedback_db_path
    from mnistcore.lab.feedback import FeedbackStore
    path = feedback_db_path()
    if not path.exists():
        return None
    collected = FeedbackStore(path, create=False).all()
    usable = np.array([status in ("ok", "accepted") for status in collected.status], bool)  # not held or rejected
    if not usable.any():
        return None
    return collected.images[usable], collected.labels[usable].astype(np.int64)


# ------------------------------------------------------------------ models

def train(name: str, epochs: int, seed: int, x: np.ndarray, y: np.ndarray, distortions: Distortions = ROBUST):
    """A model trained here: `name` one of TRAINABLE; the "-aug" ones with `distortions`."""
    augment = make_augment(distortions) if name.endswith("-aug") else None
    if name.startswith("mlp"):
        model = build_model("numpy", hidden=512, learning_rate=0.1, momentum=0.9, activation="relu", seed=seed)
    elif name.startswith("keras-cnn"):
        model = build_model("keras", arch="cnn", seed=seed)
    else:
        model = build_model("numpy", arch="cnn", seed=seed)
    began = time.perf_counter()

    def report(progress):
        print(f"    {name} epoch {progress.epoch}/{progress.epochs}: train accuracy {progress.accuracy:.4f}, "
              f"{progress.seconds:.0f} s", flush=True)

    model.fit(x, y, epochs=epochs, batch_size=128, on_epoch=report, augment=augment)
    print(f"  {name}: trained {epochs} epochs in {time.perf_counter() - began:.0f} s", flush=True)
    return model


def accuracy(model, images: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(model.predict(images) == labels))


# ------------------------------------------------------------------ what augmentation costs

def epoch_cost(rounds: int, fractions: list[float]) -> None:
    """Epochs of the NumPy MLP with and without augmentation, alternately; medians printed.

    Both wall-clock and CPU seconds: on a machine shared with other work the wall clock swings by
    a factor of two from one epoch to the next, while the CPU time this process spends (with BLAS
    on one thread, OPENBLAS_NUM_THREADS=1) is the work itself.
    """
    (x, y), _ = load_mnist()
    model = build_model("numpy", seed=0)
    kinds = [("none", None)] + [(f"ROBUST, fraction {f:g}", make_augment(Distortions(fraction=f))) for f in fractions]
    wall = {name: [] for name, _ in kinds}
    cpu = {name: [] for name, _ in kinds}
    for _ in range(rounds):
        for name, augment in kinds:
            began, began_cpu = time.perf_counter(), time.process_time()
            model.fit(x, y, epochs=1, batch_size=128, augment=augment)
            wall[name].append(time.perf_counter() - began)
            cpu[name].append(time.process_time() - began_cpu)
    print(f"one epoch, NumPy MLP 784-512-10 relu, batch 128, 60,000 images, median of {rounds} "
          f"(OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}, load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores):")
    for label, times in (("CPU", cpu), ("wall", wall)):
        base = statistics.median(times["none"])
        for name, _ in kinds:
            median = statistics.median(times[name])
            print(f"  {label:4s} augment {name:22s} {median:6.2f} s  ({median / base - 1:+.0%})   all: "
                  + " ".join(f"{t:.2f}" for t in times[name]))


# ------------------------------------------------------------------ the table

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="*", default=[], help="saved model files to evaluate too")
    parser.add_argument("--no-default", action="store_true", help="leave out the shipped weights/default.npz")
    parser.add_argument("--train", default="", help=f"models to train here, comma-separated: {', '.join(TRAINABLE)}")
    parser.add_argument("--epochs", type=int, default=15, help="epochs for --train (default 15)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the trained models and the distortions")
    parser.add_argument("--save-dir", type=Path, help="save the trained models here (PREFIXNAME.npz / .keras)")
    parser.add_argument("--save-prefix", default="", help="put this before each saved model's name (e.g. candidate-)")
    parser.add_argument("--fraction", type=float, default=ROBUST.fraction,
                        help=f"share of each batch the -aug models see distorted (default {ROBUST.fraction:g})")
    parser.add_argument("--n", type=int, default=1000, help="test digits per distorted column (default 1000)")
    parser.add_argument("--cache", type=Path, help="where the distorted test sets are kept "
                        "(default /tmp/mnistlab-handwriting-N-SEED.npz)")
    parser.add_argument("--cost", action="store_true", help="measure what augmentation costs an epoch, then stop")
    parser.add_argument("--rounds", type=int, default=3, help="--cost: epochs of each kind (default 3)")
    parser.add_argument("--fractions", default="1,0.5", help="--cost: Distortions.fraction values (default 1,0.5)")
    args = parser.parse_args()
    if args.cost:
        epoch_cost(args.rounds, [float(f) for f in args.fractions.split(",")])
        return
    wanted = [name for name in args.train.split(",") if name]
    unknown = [name for name in wanted if name not in TRAINABLE]
    if unknown:
        parser.error(f"--train: unknown model {', '.join(unknown)}; choose from {', '.join(TRAINABLE)}")
    if not 10 <= args.n <= 10_000:
        parser.error(f"--n must be 10 to 10,000, got {args.n}")

    try:
        distortions = replace(ROBUST, fraction=args.fraction)
    except ValueError as err:
        parser.error(f"--fraction: {err}")
    (x_train, y_train), (x_test, y_test) = load_mnist()
    cache = args.cache or Path(f"/tmp/mnistlab-handwriting-{args.n}-{args.seed}.npz")
    sets = test_sets(x_test, y_test, args.n, args.seed, cache)
    lab = lab_drawings()
    if lab is not None:
        sets["lab"] = lab

    models = {} if args.no_default else {"shipped (default.npz)": load_model(None)}
    models.update({Path(path).name: load_model(path) for path in args.models})
    for name in wanted:
        model = train(name, args.epochs, args.seed, x_train, y_train, distortions)
        if args.save_dir is not None:
            args.save_dir.mkdir(parents=True, exist_ok=True)
            suffix = ".keras" if name.startswith("keras") else ".npz"
            model.info = replace(model.info, test_accuracy=accuracy(model, x_test, y_test))
            print(f"  saved {model.save(args.save_dir / (args.save_prefix + name + suffix))}")
        models[name] = model

    columns = ["MNIST", *sets]
    counts = {"MNIST": len(y_test), **{name: len(y) for name, (_, y) in sets.items()}}
    print(f"\naccuracy (%); test digits per column: {', '.join(f'{c} {counts[c]}' for c in columns)}")
    width = max(len(name) for name in models) + 2
    print("model".ljust(width) + "".join(f"{c:>9s}" for c in columns))
    for name, model in models.items():
        row = [accuracy(model, x_test, y_test)] + [accuracy(model, x, y) for x, y in sets.values()]
        print(name.ljust(width) + "".join(f"{100 * a:9.1f}" for a in row), flush=True)


if __name__ == "__main__":
    main()
