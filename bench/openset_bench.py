"""Does a model know what it doesn't know? Draw's answers on held-out drawings, before and after
its companion (mnistcore.openset), against the goals:

    .venv/bin/python -m bench.openset_bench                         # the shipped model
    .venv/bin/python -m bench.openset_bench --model m.npz --refit   # fit a companion first (not saved)
    .venv/bin/python -m bench.openset_bench --write-to weights/default.npz   # fit and save one

The held-out drawings (mnistcore.nondigits.HELD_OUT: other letters and shapes, other hands, other
seeds) are made from MNIST test images 5,000-9,999; companions are fitted on drawings of images
0-4,999 in the FIT style, so nothing here was fitted on. Columns: "hand-set" is Draw without a
companion (hand-set thresholds, the model's own temperature); "saved" with the companion the model
file carries (when it has one); "refitted" with one fitted now by this code (--refit, --write-to).
"""
from __future__ import annotations

import argparse
import os
import time
from collections import Counter
from dataclasses import replace

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from bench import record
from mnistcore.data import load_mnist
from mnistcore.explain.answer import judge_drawing, open_set_for
from mnistcore.nets import load_model
from mnistcore.nondigits import HELD_OUT, canvas_steps, drawings
from mnistcore.openset import fit_open_set, reference_for
from mnistcore.training.run import OPEN_SET_IMAGES

GOALS = dict(others_taken=0.10, digits_refused=0.02, sure_right=0.99, calibration_error=0.02)
TAUGHT = ("letter", "sign", "scribble")  # what the goal on non-digits counts; numbers and cut digits are shown apart


def rates(rows, which: int) -> dict:
    """The goals' figures for one column of verdicts (0 = the first)."""
    digits = [r for r in rows if r[0].label >= 0]
    others = [r for r in rows if r[0].kind in TAUGHT]
    read = [r for r in digits if r[1 + which].kind == "digit"]
    right = np.array([r[1 + which].digit == r[0].label for r in read])
    confidence = np.array([r[1 + which].probability for r in read])
    sure = np.array([r[1 + which].words == "sure" for r in read])
    edges = np.linspace(0, 1.0001, 11)
    ece = sum(abs(confidence[m].mean() - right[m].mean()) * m.mean()
              for low, high in zip(edges[:-1], edges[1:]) if (m := (confidence >= low) & (confidence < high)).any())
    return dict(others_taken=np.mean([r[1 + which].kind == "digit" for r in others]),
                digits_refused=1 - len(read) / len(digits), sure_right=right[sure].mean() if sure.any() else 1.0,
                sure_share=sure.mean(), calibration_error=ece, read_right=right.mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="a saved model (default: the shipped weights/default.npz)")
    parser.add_argument("--refit", action="store_true", help="fit a companion now, whether the model has one or not")
    parser.add_argument("--write-to", default=None, help="fit a companion and save it into this model file")
    parser.add_argument("--count", type=int, default=1000, help="held-out digits, and as many non-digits")
    record.add_argument(parser)
    args = parser.parse_args()
    with record.recording("bench.openset_bench", args.record):
        run(args)


def run(args) -> None:
    started = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = load_mnist()
    model = load_model(args.write_to or args.model)
    companions = {"hand-set": None}
    if open_set_for(model.info) is not None:
        companions["saved"] = open_set_for(model.info)
    if args.refit or args.write_to or len(companions) == 1:
        tick = time.perf_counter()
        fitted = fit_open_set(model, (x_train, y_train), (x_test[:OPEN_SET_IMAGES], y_test[:OPEN_SET_IMAGES]))
        print(f"companion fitted in {time.perf_counter() - tick:.1f} s: {fitted.fitted_on}")
        companions["refitted"] = fitted
        if args.write_to:
            model.info = replace(model.info, open_set=fitted.as_dict())
            model.save(args.write_to)
            print(f"{args.write_to}: companion saved in its info")
    print(f"model {model.info.architecture}, {model.info.test_accuracy} on MNIST's test set")
    for name, companion in companions.items():
        if companion is not None:
            print(f"  {name} companion: threshold {companion.threshold}, temperature {companion.temperature}, "
                  f"sure from {companion.sure}, fairly sure from {companion.fairly_sure}")
    reference = reference_for(x_train, y_train)
    rows, seconds = [], []
    for drawing in drawings(x_test[OPEN_SET_IMAGES:], y_test[OPEN_SET_IMAGES:], HELD_OUT, args.count, args.count):
        steps = canvas_steps(drawing)
        p = None if steps is None else model.predict_proba(steps.centred)[0]
        verdicts = []
        for companion in companions.values():
            tick = time.perf_counter()
            verdicts.append(judge_drawing(steps, p, reference=reference, open_set=companion,
                                          temperature=model.info.temperature or 2.0))
            if companion is not None:
                seconds.append(time.perf_counter() - tick)
        rows.append((drawing, *verdicts))
    print(f"\n{len(rows)} held-out drawings ({HELD_OUT.name} style)")
    columns = range(len(companions))
    print(f"  {'goal':34s} " + " ".join(f"{name:>9s}" for name in companions) + "  target")
    figures = [rates(rows, c) for c in columns]
    for name, target in GOALS.items():
        sign = ">=" if name == "sure_right" else "<="
        print(f"  {name.replace('_', ' '):34s} " + " ".join(f"{f[name]:9.3f}" for f in figures) + f"  {sign} {target}")
    for name in ("sure_share", "read_right"):
        print(f"  {name.replace('_', ' '):34s} " + " ".join(f"{f[name]:9.3f}" for f in figures))
    for kind in ("letter", "sign", "scribble", "number", "cut"):
        mine = [r for r in rows if r[0].kind == kind]
        taken = [np.mean([r[1 + c].kind == "digit" for r in mine]) for c in columns]
        print(f"  {kind + 's taken for a digit':34s} " + " ".join(f"{t:9.3f}" for t in taken) + f"  (n={len(mine)})")
    worst = Counter(r[0].name for r in rows if r[0].kind in TAUGHT and r[-1].kind == "digit").most_common(8)
    print(f"  still taken for a digit, {list(companions)[-1]}: {worst}")
    if seconds:
        print(f"  judge_drawing with a companion: median {np.median(seconds) * 1000:.2f} ms per drawing")
    print(f"\n{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
