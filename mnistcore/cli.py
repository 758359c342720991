"""Command line: `python -m mnistcore fetch | train | evaluate | export-csv`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import data
from .evaluation import evaluate, format_evaluation
from .lab.feedback import FeedbackError, FeedbackStore
from .nets import ModelFileError, load_model
from .training import LIMITS, TrainSettings, run_training


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return args.command(args)
    except (ValueError, ModelFileError, data.MnistUnavailable, FeedbackError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m mnistcore", description="MNIST Lab command line")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    fetch = sub.add_parser("fetch", help="download and verify MNIST into the data folder")
    fetch.add_argument("--data-dir", help="folder for the MNIST files (default: $MNIST_DATA_DIR or data/mnist)")
    fetch.set_defaults(command=_fetch)

    d = TrainSettings()
    train = sub.add_parser("train", help="train a model and save it")
    train.add_argument("--engine", choices=["numpy", "keras"], default=d.engine)
    train.add_argument("--epochs", type=int, default=d.epochs, help=_range("epochs", d.epochs))
    train.add_argument("--batch-size", type=int, default=d.batch_size, help=_range("batch_size", d.batch_size))
    train.add_argument("--hidden", type=int, default=d.hidden, help="numpy: hidden units; " + _range("hidden", d.hidden))
    train.add_argument("--learning-rate", type=float, default=d.learning_rate,
                       help="numpy: " + _range("learning_rate", d.learning_rate))
    train.add_argument("--momentum", type=float, default=d.momentum, help="numpy: " + _range("momentum", d.momentum))
    train.add_argument("--activation", choices=["relu", "sigmoid"], default=d.activation,
                       help="numpy: relu (softmax output) or sigmoid (the tutorial's network)")
    train.add_argument("--arch", choices=["mlp", "cnn"], default=d.arch, help="keras: mlp (the tutorial's) or cnn")
    train.add_argument("--seed", type=int, default=d.seed)
    train.add_argument("--train-limit", type=int, default=None, help="train on the first N images only")
    train.add_argument("--with-lab-drawings", action="store_true",
                       help="also train on the drawings visitors labelled on the Draw page")
    train.add_argument("--feedback-db", metavar="PATH",
                       help="with --with-lab-drawings: the lab drawings database "
                            "(default: $MNISTLAB_FEEDBACK_DB or data/lab.db)")
    train.add_argument("--data-dir", help="MNIST folder (default: $MNIST_DATA_DIR or data/mnist)")
    train.add_argument("--out", required=True, help="where to save the model (.npz for numpy, .keras for keras)")
    train.set_defaults(command=_train)

    ev = sub.add_parser("evaluate", help="test accuracy, per-digit accuracy and confusion matrix of a saved model")
    ev.add_argument("path", help="a saved model file")
    ev.add_argument("--data-dir")
    ev.set_defaults(command=_evaluate)

    export = sub.add_parser("export-csv", help="write mnist_train.csv and mnist_test.csv (the tutorial's format)")
    export.add_argument("dir")
    export.add_argument("--data-dir")
    export.set_defaults(command=_export)
    return parser


def _range(name: str, default) -> str:
    low, high = LIMITS[name]
    return f"{low:g} to {high:g} (default {default})"


def _fetch(args) -> int:
    data.fetch_mnist(args.data_dir)
    return 0


def _train(args) -> int:
    settings = TrainSettings(
        engine=args.engine, epochs=args.epochs, batch_size=args.batch_size, hidden=args.hidden,
        learning_rate=args.learning_rate, activation=args.activation, momentum=args.momentum,
        arch=args.arch, seed=args.seed, train_limit=args.train_limit, lab_drawings=args.with_lab_drawings,
    ).validate()
    out = Path(args.out)
    expected_suffix = ".npz" if settings.engine == "numpy" else ".keras"
    if out.suffix != expected_suffix:
        raise ValueError(f"--out for a {settings.engine} model must end in {expected_suffix}; got {out}")
    if args.feedback_db is not None and not settings.lab_drawings:
        raise ValueError("--feedback-db only says where the lab drawings are: add --with-lab-drawings to train on them")
    lab = FeedbackStore(args.feedback_db, create=False).all() if settings.lab_drawings else None
    mnist = data.load_mnist(args.data_dir)
    print(f"training: {settings.describe()}", flush=True)

    def report(p):
        print(f"epoch {p.epoch}/{p.epochs}: loss {p.loss:.4f}, train accuracy {p.accuracy:.4f}, "
              f"test accuracy {p.test_accuracy:.4f}, {p.seconds:.1f} s", flush=True)

    result = run_training(settings, mnist, on_epoch=report,
                          lab_drawings=(lab.images, lab.labels) if lab is not None else None)
    if result.lab_evaluation is not None:
        print(f"lab drawings: {result.lab_count} added to training; "
              f"accuracy on them: {result.lab_evaluation.accuracy:.4f}")
    result.model.save(out)
    print(f"saved {out}")
    print(f"test accuracy: {result.evaluation.accuracy:.4f}")
    return 0


def _evaluate(args) -> int:
    model = load_model(args.path)
    (_, _), (x_test, y_test) = data.load_mnist(args.data_dir)
    print(f"model: {model.info.summary()}")
    print(format_evaluation(evaluate(model, x_test, y_test)))
    return 0


def _export(args) -> int:
    (x_train, y_train), (x_test, y_test) = data.load_mnist(args.data_dir)
    folder = Path(args.dir)
    for name, images, labels in (("mnist_train.csv", x_train, y_train), ("mnist_test.csv", x_test, y_test)):
        path = data.export_csv(images, labels, folder / name)
        print(f"wrote {path} ({len(labels)} rows)")
    return 0
