"""Command line: `python -m mnistcore fetch | train | evaluate | export-csv | db`."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import data
from .evaluation import evaluate, format_evaluation
from .lab.feedback import FeedbackError, FeedbackStore
from .nets import ENGINES, MODEL_SETTINGS, NETWORKS, ModelFileError, load_model, network
from .nets.registry import ARCHS
from .training import ACTIVATIONS, LIMITS, OPTIMIZERS, SCHEDULES, TrainSettings, plural, run_training
from .training.run import prepare_companion


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

    fetch = sub.add_parser("fetch", help="download and verify MNIST into the data folder, and draw the drawings "
                                         "every trained model's open-set companion is fitted on (once)")
    fetch.add_argument("--data-dir", help="folder for the MNIST files (default: $MNIST_DATA_DIR or data/mnist)")
    fetch.set_defaults(command=_fetch)

    d = TrainSettings()
    train = sub.add_parser("train", help="train a model and save it")
    train.add_argument("--engine", choices=list(ENGINES), default=d.engine)
    train.add_argument("--epochs", type=int, default=d.epochs, help=_range("epochs", d.epochs))
    train.add_argument("--batch-size", type=int, default=d.batch_size, help=_range("batch_size", d.batch_size))
    # Model settings default to None ("not given"): a setting given for a model that does not use
    # it is refused (see _train), and the ones not given take the network's defaults.
    train.add_argument("--hidden", type=int, help=_users("hidden") + "hidden units; " + _range("hidden", d.hidden))
    train.add_argument("--learning-rate", type=float,
                       help=_users("learning_rate") + _range("learning_rate", d.learning_rate) + _other_defaults())
    train.add_argument("--momentum", type=float,
                       help=_users("momentum") + "with sgd: " + _range("momentum", d.momentum))
    train.add_argument("--activation", choices=list(ACTIVATIONS),
                       help=_users("activation") + f"relu (softmax output) or sigmoid (the tutorial's network) "
                                                   f"(default {d.activation})")
    train.add_argument("--optimizer", choices=list(OPTIMIZERS),
                       help=_users("optimizer") + f"sgd (the tutorial's step, with momentum) or adam "
                                                  f"(default {d.optimizer})")
    train.add_argument("--schedule", choices=list(SCHEDULES),
                       help=_users("schedule") + f"constant, or cosine (the learning rate falls to 0 over the run) "
                                                 f"(default {d.schedule})")
    train.add_argument("--arch", choices=list(ARCHS), default=d.arch,
                       help="; ".join(f"{n.name}: {n.label}" for n in NETWORKS.values()))
    train.add_argument("--seed", type=int, default=d.seed)
    train.add_argument("--train-limit", type=int, default=None, help="train on the first N images only")
    train.add_argument("--robust", action="store_true",
                       help="distort every batch (rotation, shear, scale, shift, stroke width, elastic: "
                            "mnistcore.augment.ROBUST) so the model reads other handwriting than MNIST's")
    train.add_argument("--with-lab-drawings", action="store_true",
                       help="also train on the drawings visitors labelled on the Draw page")
    train.add_argument("--feedback-db", metavar="PATH",
                       help="with --with-lab-drawings: the lab drawings database "
                            "(default: the lab's PostgreSQL if $MNISTLAB_DATABASE_URL is set, "
                            "else $MNISTLAB_FEEDBACK_DB or data/lab.db)")
    train.add_argument("--data-dir", help="MNIST folder (default: $MNIST_DATA_DIR or data/mnist)")
    train.add_argument("--out", required=True, help="where to save the model (" + ", ".join(
        f"{suffix} for {engine}" for engine, suffix in dict.fromkeys((n.engine, n.suffix) for n in NETWORKS.values()))
        + ")")
    train.set_defaults(command=_train)

    ev = sub.add_parser("evaluate", help="test accuracy, per-digit accuracy and confusion matrix of a saved model")
    ev.add_argument("path", help="a saved model file")
    ev.add_argument("--data-dir")
    ev.set_defaults(command=_evaluate)

    export = sub.add_parser("export-csv", help="write mnist_train.csv and mnist_test.csv (the tutorial's format)")
    export.add_argument("dir")
    export.add_argument("--data-dir")
    export.set_defaults(command=_export)

    db = sub.add_parser("db", help="the lab's PostgreSQL database ($MNISTLAB_DATABASE_URL): upgrade, import")
    db.add_argument("action", choices=["upgrade", "import"],
                    help="upgrade: create or upgrade its tables; import: copy this machine's SQLite lab into it")
    db.set_defaults(command=_db)
    return parser


def _range(name: str, default) -> str:
    low, high = LIMITS[name]
    return f"{low:g} to {high:g} (default {default})"


def _users(name: str) -> str:
    """ "numpy mlp: ", the networks that use a setting, to start its help."""
    return ", ".join(n.name for n in NETWORKS.values() if name in n.applies) + ": "


def _other_defaults() -> str:
    """Where a network's default learning rate is not TrainSettings' own, e.g. "; numpy cnn's default is 0.001"."""
    own = TrainSettings().learning_rate
    return "".join(f"; {n.name}'s default is {n.defaults['learning_rate']:g}" for n in NETWORKS.values()
                   if n.defaults.get("learning_rate", own) != own)


def _fetch(args) -> int:
    data.fetch_mnist(args.data_dir)
    # Made once here, so that the first visitor's training run does not wait minutes for them.
    if not prepare_companion(data.load_mnist(args.data_dir), report=lambda text: print(text, file=sys.stderr)):
        print("the open-set fitting drawings are already made", file=sys.stderr)
    return 0


def _train(args) -> int:
    given = {name: getattr(args, name) for name in MODEL_SETTINGS if getattr(args, name) is not None}
    uses = network(args.engine, args.arch).applies
    ignored = [name for name in given if name not in uses]
    if "momentum" in given and given.get("optimizer") == "adam":
        ignored.append("momentum")  # Adam has its own running averages
    if ignored:
        options = ", ".join("--" + name.replace("_", "-") for name in ignored)
        used = ", ".join("--" + name.replace("_", "-") for name in uses) or "none of the model options"
        raise ValueError(f"{options} {'does' if len(ignored) == 1 else 'do'} not apply to --engine {args.engine} "
                         f"--arch {args.arch}: leave {'it' if len(ignored) == 1 else 'them'} out "
                         f"(that model uses {used})")
    # The model settings not given: the network's own defaults (the CNN's Adam step is not the MLP's).
    settings = TrainSettings.for_network(args.engine, args.arch, epochs=args.epochs, batch_size=args.batch_size,
                                         seed=args.seed, train_limit=args.train_limit,
                                         lab_drawings=args.with_lab_drawings, robust=args.robust, **given).validate()
    out = Path(args.out)
    expected_suffix = settings.network.suffix
    if out.suffix != expected_suffix:
        raise ValueError(f"--out for a {settings.engine} model must end in {expected_suffix}; got {out}")
    if args.feedback_db is not None and not settings.lab_drawings:
        raise ValueError("--feedback-db only says where the lab drawings are: add --with-lab-drawings to train on them")
    # Only labels that stand: none held for review or rejected (FeedbackStore.training_set).
    lab = lab_drawings_store(args.feedback_db).training_set() if settings.lab_drawings else None
    mnist = data.load_mnist(args.data_dir)
    print(f"training: {settings.describe()}", flush=True)

    def report(p):
        print(f"epoch {p.epoch}/{p.epochs}: loss {p.loss:.4f}, train accuracy {p.accuracy:.4f}, "
              f"test accuracy {p.test_accuracy:.4f}, {p.seconds:.1f} s", flush=True)

    result = run_training(settings, mnist, on_epoch=report,
                          lab_drawings=(lab.images, lab.labels) if lab is not None else None,
                          lab_not_digits=lab.not_digits if lab is not None else None,
                          lab_record=lab.record if lab is not None else None)
    if result.lab_evaluation is not None:
        print(f"lab drawings: {result.lab_count} added to training; "
              f"accuracy on them: {result.lab_evaluation.accuracy:.4f}")
    if lab is not None and len(lab.not_digits):
        print(f"lab drawings said not to be digits: {len(lab.not_digits)}, learned as such by its companion")
    if result.stop_reason:
        print(result.stop_reason, file=sys.stderr)
    if result.evaluation is None:
        raise ValueError("no model came out of the run (it stopped during its first epoch); nothing was saved")
    if result.stopped:
        print(f"stopped after {len(result.history)} of {plural(settings.epochs, 'epoch')}")
    result.model.save(out)
    print(f"saved {out}")
    print(f"test accuracy: {result.evaluation.accuracy:.4f}")
    return 0


def lab_drawings_store(path: str | None) -> FeedbackStore:
    """Where `train --with-lab-drawings` reads the lab's drawings: the file `path` if given; else the
    lab's PostgreSQL when MNISTLAB_DATABASE_URL is set (every machine's drawings); else this
    machine's SQLite file, which must exist."""
    from .lab import config

    url = None if path is not None else config.database_url()
    if url is None:
        return FeedbackStore(path, create=False)
    from .lab.pg.feedback import PgFeedbackStore

    return PgFeedbackStore(url)


def _evaluate(args) -> int:
    model = load_model(args.path)
    (_, _), (x_test, y_test) = data.load_mnist(args.data_dir)
    print(f"model: {model.info.summary()}")
    print(format_evaluation(evaluate(model, x_test, y_test)))
    return 0


def _db(args) -> int:
    from .lab import config
    from .lab.pg import tools

    url = config.database_url()
    if url is None:
        raise ValueError(f"set {config.DATABASE_ENV} to the lab's postgresql:// address first")
    for line in (tools.upgrade_report(url) if args.action == "upgrade" else tools.import_sqlite(url)):
        print(line)
    return 0


def _export(args) -> int:
    (x_train, y_train), (x_test, y_test) = data.load_mnist(args.data_dir)
    folder = Path(args.dir)
    for name, images, labels in (("mnist_train.csv", x_train, y_train), ("mnist_test.csv", x_test, y_test)):
        path = data.export_csv(images, labels, folder / name)
        print(f"wrote {path} ({len(labels)} rows)")
    return 0
