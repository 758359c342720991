"""How honest the Draw page's answers are: digits read, non-digits refused, certainty in words.

    .venv/bin/python -m bench.draw_bench                          # under a minute on 2 cores
    .venv/bin/python -m bench.draw_bench --digits train --seed 1  # the tuning set (see below)
    .venv/bin/python -m bench.draw_bench --fit-temperature        # answer.TEMPERATURE (see below)

Builds a fixed set of canvas drawings as a visitor makes them with the site's 22-px pen on the
280 x 280 canvas (tests/drawings.py draws them): real MNIST digits of every size, pen and
position, and what is not a digit (dots, straight lines at every angle, blobs, scribbles,
letters and signs, two-digit numbers). Each goes through the page's own path,
`ink_steps` -> the live model -> `judge_drawing`, and the script prints

- how often a real digit is refused, and what it is taken for;
- how often a non-digit is accepted as a digit, per kind;
- the accuracy on the digits accepted, and by certainty word ("sure", "fairly sure", "guessing");
- the calibration: the calibrated confidence, in bins, against the accuracy in each bin.

Digits come from the MNIST test set (`--digits test`, the default). The thresholds in
mnistcore/explain/answer.py were chosen on the same kinds of drawings made from the last 5,000
MNIST training images with another seed (`--digits train --seed 1`), never from the test set.
`--fit-temperature` fits answer.TEMPERATURE as that module documents: it first trains the
shipped recipe on the first 55,000 training images (about 6 minutes on 2 busy cores; kept in
--twin for the next time), then fits on drawings of the other 5,000 the page would read.
"""
from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # small matrices: one thread is faster, and polite

import numpy as np

from bench import record
from mnistcore.data import load_mnist
from mnistcore.explain.answer import CERTAINTY, DigitReference, judge_drawing, open_set_for, temperature_for
from mnistcore.nets import load_model
from mnistcore.preprocess import ink_steps
from tests.drawings import (CANVAS, as_canvas, pen_blob, pen_digit, pen_dot, pen_line, pen_number,
                            pen_scribble, pen_shape)

# (group, how many, pen widths, ink sizes in px (pen included)). Digits are placed anywhere on the
# canvas they fit. The site's pen is 22 px; "thin" is a stylus or a zoomed-out page, "thick" a marker.
DIGIT_GROUPS = [
    ("digit, site pen, 120-260 px", 500, (22,), (120, 260)),
    ("digit, site pen, 80-120 px", 200, (22,), (80, 120)),
    ("digit, site pen, 40-80 px", 200, (22,), (40, 80)),
    ("digit, thin pen, 100-260 px", 150, (6, 8, 10), (100, 260)),
    ("digit, thin pen, 40-60 px", 200, (4, 5, 6, 8), (40, 60)),
    ("digit, thick pen, 160-260 px", 150, (30, 34), (160, 260)),
]
NON_DIGITS = {"dot": 100, "line": 150, "blob": 100, "scribble": 150, "letter": 240, "sign": 150, "number": 150}
LETTERS = ["A", "X", "S", "H", "K", "M", "W", "E"]
SIGNS = ["+", "#", "star", "square", "triangle"]


def build(images: np.ndarray, labels: np.ndarray, seed: int):
    """The drawings: a list of (group, kind, label or None, (280, 280) ink), always the same for a seed."""
    rng = np.random.default_rng(seed)
    out = []
    for group, count, pens, (low, high) in DIGIT_GROUPS:
        for i in rng.choice(len(images), count, replace=False):
            pen, size = int(rng.choice(pens)), int(rng.integers(low, high + 1))
            top, left = rng.integers(0, CANVAS - size + 1, 2)
            out.append((group, "digit", int(labels[i]), pen_digit(images[i], size, int(top), int(left), pen)))

    def anywhere(size):  # a centre that keeps something `size` px across on the canvas
        return tuple(rng.uniform(size / 2, CANVAS - size / 2, 2))

    for _ in range(NON_DIGITS["dot"]):
        out.append(("dot", "dot", None, pen_dot(anywhere(40), wiggle=float(rng.choice([0, 4, 8])), rng=rng)))
    for _ in range(NON_DIGITS["line"]):
        length, angle = float(rng.uniform(60, 260)), float(rng.uniform(0, 180))
        # Within 40 degrees of upright a straight stroke is how most people write a 1.
        kind = "upright line" if abs(angle - 90) <= 40 else "line"
        label = 1 if kind == "upright line" else None
        out.append((kind, kind, label, pen_line(length, angle, anywhere(length * 0.75))))
    for _ in range(NON_DIGITS["blob"]):
        radius = float(rng.uniform(15, 70))
        out.append(("blob", "blob", None, pen_blob(radius, anywhere(2.4 * radius), rng)))
    for _ in range(NON_DIGITS["scribble"]):
        size = float(rng.uniform(80, 240))
        out.append(("scribble", "scribble", None, pen_scribble(rng, size, int(rng.integers(5, 16)), anywhere(size))))
    for k in range(NON_DIGITS["letter"]):
        size = float(rng.uniform(100, 240))
        name = LETTERS[k % len(LETTERS)]
        out.append((f"letter {name}", "letter", None, pen_shape(name, size, anywhere(size * 1.1), rng)))
    for k in range(NON_DIGITS["sign"]):
        size = float(rng.uniform(100, 240))
        name = SIGNS[k % len(SIGNS)]
        out.append((f"sign {name}", "sign", None, pen_shape(name, size, anywhere(size * 1.1), rng)))
    for _ in range(NON_DIGITS["number"]):
        a, b = rng.choice(len(images), 2, replace=False)
        size = int(rng.integers(90, 170))
        out.append(("number", "number", None, pen_number(images[a], images[b], size, int(rng.integers(6, 30)),
                                                         int(rng.integers(0, CANVAS - size)))))
    return out


def read_all(drawings, model, reference):
    """Each drawing through the page's path: rows of (group, kind, label, verdict, verdict without
    the reference, raw top probability, seconds for ink_steps + predict + judge_drawing)."""
    rows = []
    companion = open_set_for(model.info)  # the page answers with it when the model has one
    for group, kind, label, ink in drawings:
        canvas = as_canvas(ink)
        started = time.perf_counter()
        steps = ink_steps(canvas)
        probabilities = None if steps is None else model.predict_proba(steps.centred)[0]
        verdict = judge_drawing(steps, probabilities, reference=reference, temperature=temperature_for(model.info),
                                open_set=companion)
        seconds = time.perf_counter() - started
        plain = judge_drawing(steps, probabilities, temperature=temperature_for(model.info))
        raw = None if probabilities is None else float(probabilities.max())
        rows.append(dict(group=group, kind=kind, label=label, verdict=verdict, plain=plain, raw=raw, seconds=seconds))
    return rows


def percent(part: int, whole: int) -> str:
    return f"{part / whole:6.1%}" if whole else "     -"


def report(rows) -> None:
    digits = [r for r in rows if r["kind"] == "digit"]
    print("\nReal digits: what the page says (refused = any answer but a digit)")
    print(f"  {'group':32s} {'n':>4s} {'refused':>7s}  {'read right':>10s}  refused as")
    for group, *_ in DIGIT_GROUPS:
        mine = [r for r in digits if r["group"] == group]
        accepted = [r for r in mine if r["verdict"].kind == "digit"]
        right = sum(r["verdict"].digit == r["label"] for r in accepted)
        why = Counter(r["verdict"].kind for r in mine if r["verdict"].kind != "digit")
        print(f"  {group:32s} {len(mine):4d} {percent(len(mine) - len(accepted), len(mine))}  "
              f"{percent(right, len(accepted)):>10s}  {', '.join(f'{k} {n}' for k, n in why.most_common())}")
    usual = [r for r in digits if "40-80" not in r["group"]]
    refused = sum(r["verdict"].kind != "digit" for r in usual)
    print(f"  wrongly refused, every group but the site pen's 40-80 px: {refused} of {len(usual)} "
          f"({refused / len(usual):.1%}); of those the model would have read right: "
          f"{sum(r['verdict'].kind != 'digit' and r['verdict'].best_guess == r['label'] for r in usual)}")

    print("\nNot digits: how often the page reads one as a digit anyway (with the MNIST reference / without)")
    print(f"  {'group':16s} {'n':>4s} {'accepted':>8s} {'without':>8s}  what it says instead")
    groups = list(dict.fromkeys(r["group"] for r in rows if r["kind"] != "digit"))
    for group in groups:
        mine = [r for r in rows if r["group"] == group]
        accepted = sum(r["verdict"].kind == "digit" for r in mine)
        plain = sum(r["plain"].kind == "digit" for r in mine)
        said = Counter(r["verdict"].kind for r in mine if r["verdict"].kind != "digit")
        print(f"  {group:16s} {len(mine):4d} {percent(accepted, len(mine)):>8s} {percent(plain, len(mine)):>8s}  "
              f"{', '.join(f'{k} {n}' for k, n in said.most_common())}")
    for kind in NON_DIGITS:
        mine = [r for r in rows if r["kind"] == kind]
        accepted = sum(r["verdict"].kind == "digit" for r in mine)
        print(f"  all {kind + 's':12s} {len(mine):4d} {percent(accepted, len(mine)):>8s} "
              f"{percent(sum(r['plain'].kind == 'digit' for r in mine), len(mine)):>8s}")
    upright = [r for r in rows if r["kind"] == "upright line"]
    ones = sum(r["verdict"].digit == 1 for r in upright)
    print(f"  (upright lines are 1s: {ones} of {len(upright)} read as a 1, "
          f"{sum(r['verdict'].kind == 'digit' and r['verdict'].digit != 1 for r in upright)} as another digit)")

    accepted = [r for r in digits if r["verdict"].kind == "digit"]
    right = [r["verdict"].digit == r["label"] for r in accepted]
    print(f"\nDigits read: {len(accepted)} of {len(digits)}, right {np.mean(right):.1%}. By the words shown:")
    for word in CERTAINTY:
        mine = [ok for r, ok in zip(accepted, right) if r["verdict"].words.startswith(word)]
        print(f"  {word:12s} {len(mine):5d} drawings ({len(mine) / len(accepted):5.1%}), "
              f"right {np.mean(mine) if mine else 0:6.1%}")

    print("\nCalibration on the digits read: confidence shown (calibrated) against accuracy; raw = the model's own")
    print(f"  {'confidence':>11s} {'n':>5s} {'mean':>6s} {'right':>6s} | {'raw n':>6s} {'mean':>6s} {'right':>6s}")
    calibrated = np.array([r["verdict"].probability for r in accepted])
    raw = np.array([r["raw"] for r in accepted])
    edges = [0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0001]
    for low, high in zip(edges[:-1], edges[1:]):
        cells = []
        for conf in (calibrated, raw):
            inside = (conf >= low) & (conf < high)
            ok = np.array(right)[inside]
            cells.append(f"{inside.sum():5d} {conf[inside].mean() if inside.any() else 0:6.3f} "
                         f"{ok.mean() if inside.any() else 0:6.3f}")
        print(f"  {low:4.2f}-{min(high, 1):4.2f}  {cells[0]} | {cells[1]}")
    for name, conf in (("calibrated", calibrated), ("raw", raw)):
        # Expected calibration error: the gap between confidence and accuracy, averaged over the bins.
        ece = sum(abs(conf[m].mean() - np.array(right)[m].mean()) * m.mean()
                  for low, high in zip(edges[:-1], edges[1:]) if (m := (conf >= low) & (conf < high)).any())
        print(f"  expected calibration error, {name}: {ece:.3f}")
    print(f"  the raw probability would show as \"100%\" for {np.sum(raw >= 0.995)} of {len(raw)} digits read; "
          f"the page shows at most \"about 99%\" (calibrated, highest {calibrated.max():.4f})")
    seconds = np.array([r["seconds"] for r in rows]) * 1000
    print(f"\nTime per drawing, ink_steps + predict + judge_drawing: median {np.median(seconds):.1f} ms, "
          f"95th percentile {np.percentile(seconds, 95):.1f} ms")


def fit_temperature_once(twin_path: Path, write_to: Path | None = None) -> None:
    """Fit a temperature: a model's recipe trained on 55,000 images (the twin) reads drawings of the
    other 5,000. Without a twin file, the first shipped model's recipe is trained as the twin (the
    fit behind answer.TEMPERATURE). With `write_to`, the temperature goes into that model's info
    (ModelInfo.temperature): the twin must be its recipe with --train-limit 55000."""
    from mnistcore.explain.answer import fit_temperature, shape_kind
    from mnistcore.nets import build_model
    (x_train, y_train), _ = load_mnist()
    if twin_path.is_file():
        twin = load_model(twin_path)
    else:
        print("Training the shipped recipe on the first 55,000 training images (minutes) ...", flush=True)
        twin = build_model("numpy", hidden=512, learning_rate=0.1, activation="relu", momentum=0.9, seed=0)
        twin.fit(x_train[:55000], y_train[:55000], epochs=10, batch_size=128)
        twin.save(twin_path)
    held_x, held_y = x_train[55000:], y_train[55000:]
    plain = twin.predict_proba(held_x)
    print(f"held-out MNIST images: accuracy {np.mean(plain.argmax(1) == held_y):.2%}, "
          f"temperature {fit_temperature(plain, held_y):.2f}")
    images, labels = [], []
    for _, kind, label, ink in build(held_x, held_y, seed=1):
        steps = ink_steps(as_canvas(ink)) if kind == "digit" else None
        if steps is not None and shape_kind(steps.shape) == "digit":  # what the page would read
            images.append(steps.centred)
            labels.append(label)
    drawn = twin.predict_proba(np.array(images))
    temperature = fit_temperature(drawn, np.array(labels))
    print(f"drawings of them the page reads: {len(labels)}, accuracy {np.mean(drawn.argmax(1) == labels):.2%}, "
          f"temperature {temperature:.2f}  <- answer.TEMPERATURE, or the model's own")
    if write_to is not None:
        from dataclasses import replace
        model = load_model(write_to)
        model.info = replace(model.info, temperature=round(float(temperature), 2))
        model.save(write_to)
        print(f"{write_to}: temperature {model.info.temperature} written into its info")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--digits", choices=("test", "train"), default="test",
                        help="test: MNIST's test digits; train: the last 5,000 training digits (the tuning set)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default=None, help="a saved model (default: the shipped weights/default.npz)")
    parser.add_argument("--fit-temperature", action="store_true", help="fit answer.TEMPERATURE instead")
    parser.add_argument("--twin", default="/tmp/mnistlab-twin.npz",
                        help="--fit-temperature: where the 55,000-image model is kept between runs")
    parser.add_argument("--write-to", default=None,
                        help="--fit-temperature: write the fitted temperature into this model's info")
    record.add_argument(parser)
    args = parser.parse_args()
    with record.recording("bench.draw_bench", args.record):
        run(args)


def run(args) -> None:
    if args.fit_temperature:
        fit_temperature_once(Path(args.twin), Path(args.write_to) if args.write_to else None)
        return
    started = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = load_mnist()
    images, labels = (x_test, y_test) if args.digits == "test" else (x_train[55000:], y_train[55000:])
    drawings = build(images, labels, args.seed)
    # The page's reference (answer.mnist_reference): the first 1,000 training images of each digit,
    # all among the first 12,000, so none of the tuning set's last 5,000.
    reference = DigitReference(x_train, y_train)
    model = load_model(args.model)
    print(f"{len(drawings)} drawings ({args.digits} digits, seed {args.seed}), model {model.info.architecture}, "
          f"temperature {temperature_for(model.info)}; built in {time.perf_counter() - started:.0f} s")
    rows = read_all(drawings, model, reference)
    report(rows)
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
