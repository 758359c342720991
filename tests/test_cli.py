"""The command line, run as a person runs it: `python -m mnistcore ...` in a subprocess."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mnistcore.data import load_csv
from mnistcore.nets import load_model

PROJECT = Path(__file__).resolve().parent.parent


def cli(*args, cwd=PROJECT):
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    return subprocess.run([sys.executable, "-m", "mnistcore", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_train_then_evaluate(tmp_path, mnist):
    out = tmp_path / "model.npz"
    done = cli("train", "--engine", "numpy", "--epochs", 2, "--batch-size", 64, "--hidden", 64,
               "--learning-rate", 0.05, "--seed", 1, "--train-limit", 5000, "--out", out)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[1].startswith("epoch 1/2: loss ") and "test accuracy" in lines[1] and lines[1].endswith(" s")
    final = lines[-1]
    assert final.startswith("test accuracy: ") and len(final.split(": ")[1]) == 6
    accuracy = float(final.split(": ")[1])
    assert accuracy > 0.9
    model = load_model(out)
    assert model.info.epochs == 2 and model.info.batch_size == 64 and model.info.train_samples == 5000
    assert model.info.test_accuracy == pytest.approx(accuracy, abs=1e-4)

    evaluated = cli("evaluate", out)
    assert evaluated.returncode == 0, evaluated.stderr
    text = evaluated.stdout
    assert "per-digit accuracy:" in text and "confusion matrix" in text
    assert text.strip().splitlines()[-1] == final  # the same figure, recomputed from the file
    rows = [line for line in text.splitlines()
            if line.strip()[:2] in {f"{d}:" for d in range(10)} and len(line.split()) == 11]
    assert sum(int(v) for row in rows for v in row.split()[1:]) == 10000


@pytest.mark.parametrize("args, message", [
    (["train", "--epochs", "0", "--out", "x.npz"], "epochs must be a whole number from 1 to 30; got 0"),
    (["train", "--batch-size", "5000", "--out", "x.npz"], "batch size must be a whole number from 1 to 1024"),
    (["train", "--learning-rate", "7", "--out", "x.npz"], "learning rate must be a number from 0.0001 to 1"),
    (["train", "--hidden", "3", "--out", "x.npz"], "hidden must be a whole number from 16 to 1024"),
    (["train", "--out", "x.keras"], "must end in .npz"),
    (["evaluate", "no-such-model.npz"], "no-such-model.npz: no such model file"),
])
def test_invalid_values_get_a_message_not_a_traceback(tmp_path, args, message):
    done = cli(*args, cwd=tmp_path)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "x.npz").exists()


def test_unknown_choice_is_refused_by_argparse(tmp_path):
    done = cli("train", "--activation", "tanh", "--out", "x.npz", cwd=tmp_path)
    assert done.returncode == 2 and "invalid choice: 'tanh'" in done.stderr


def test_export_csv_writes_the_tutorials_files(tmp_path, mnist):
    done = cli("export-csv", tmp_path)
    assert done.returncode == 0, done.stderr
    images, labels = load_csv(tmp_path / "mnist_test.csv")
    assert np.array_equal(images, mnist[1][0]) and np.array_equal(labels, mnist[1][1])
    assert (tmp_path / "mnist_train.csv").stat().st_size > 100_000_000


def test_fetch_reports_a_present_cache():
    done = cli("fetch")
    assert done.returncode == 0 and "MNIST is already in" in done.stderr


def test_train_with_lab_drawings(tmp_path, mnist):
    from mnistcore.lab.feedback import FeedbackStore
    (_, _), (x_test, y_test) = mnist
    store = FeedbackStore(tmp_path / "lab.db")
    for image, label in zip(x_test[:12], y_test[:12]):
        store.add(image, label=int(label), predicted=int(label), confidence=0.9, model="m", raw_size=(280, 280))
    store.add(x_test[20].T.copy(), label=0, predicted=0, confidence=0.9, model="m", raw_size=(280, 280), not_digit=True)
    out = tmp_path / "model.npz"
    done = cli("train", "--epochs", 1, "--hidden", 32, "--train-limit", 2000, "--with-lab-drawings",
               "--feedback-db", store.path, "--out", out)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert "with the lab's drawings" in lines[0]
    lab_line = next(line for line in lines if line.startswith("lab drawings: "))
    assert lab_line.startswith("lab drawings: 12 added to training; accuracy on them: 0.")
    assert len(lab_line.split(": ")[-1]) == 6 and lines[-1].startswith("test accuracy: ")
    info = load_model(out).info
    assert info.train_samples == 2000 + 12
    assert info.lab_drawings["count"] == 12 and info.lab_drawings["up_to_id"] == store.training_set().record["up_to_id"]
    assert info.augment is None
    # The drawing said not to be a digit is not trained on as a digit, but its companion learned from it.
    assert "lab drawings said not to be digits: 1, learned as such by its companion" in lines
    assert info.open_set["fitted_on"]["lab_others"] == 1


def test_train_robust_records_its_distortions(tmp_path, mnist):
    out = tmp_path / "model.npz"
    done = cli("train", "--epochs", 1, "--hidden", 32, "--train-limit", 1000, "--robust", "--out", out)
    assert done.returncode == 0, done.stderr
    assert "made robust to other handwriting" in done.stdout.splitlines()[0]
    from mnistcore.augment import ROBUST
    assert load_model(out).info.augment["rotate"] == ROBUST.rotate


@pytest.mark.parametrize("args, message", [
    (["--with-lab-drawings", "--feedback-db", "missing.db"], "no lab drawings database at missing.db"),
    (["--feedback-db", "lab.db"], "add --with-lab-drawings"),
])
def test_train_with_lab_drawings_refuses_what_cannot_work(tmp_path, args, message):
    done = cli("train", *args, "--out", "x.npz", cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "missing.db").exists()


@pytest.mark.parametrize("args, message", [
    (["--engine", "keras", "--hidden", "100"], "--hidden does not apply to --engine keras --arch mlp"),
    (["--engine", "keras", "--learning-rate", "0.01", "--momentum", "0.5"], "--learning-rate, --momentum do not apply"),
    (["--engine", "numpy", "--arch", "cnn", "--momentum", "0.5"],
     "--momentum does not apply to --engine numpy --arch cnn"),
    (["--optimizer", "adam", "--momentum", "0.5"], "--momentum does not apply"),
])
def test_settings_the_chosen_model_would_ignore_are_refused(tmp_path, args, message):
    done = cli("train", *args, "--out", "x.npz" if "keras" not in args else "x.keras", cwd=tmp_path)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert not list(tmp_path.iterdir())


def test_a_run_that_blows_up_says_why_and_saves_nothing(tmp_path, mnist):
    done = cli("train", "--epochs", 3, "--batch-size", 1, "--hidden", 16, "--learning-rate", 1, "--momentum", 0.99,
               "--train-limit", 300, "--out", "x.npz", cwd=tmp_path)
    assert "stopped itself" in done.stderr and "Traceback" not in done.stderr
    assert "epoch 2/3" not in done.stdout  # it did not go on for 3 epochs


def test_fetch_draws_the_companions_fitting_drawings_once(tmp_path, monkeypatch, capsys, mnist):
    """fetch makes the drawings every run's companion is fitted on, so no visitor's run waits for them."""
    from mnistcore import cli as command_line
    from mnistcore import data, openset
    from mnistcore.training import run

    monkeypatch.setattr(openset, "CACHE_DIR", tmp_path / "cache")
    monkeypatch.setattr(run, "OPEN_SET_IMAGES", 30)
    monkeypatch.setattr(data, "load_mnist", lambda data_dir=None: mnist)
    assert command_line.main(["fetch"]) == 0
    first = capsys.readouterr().err
    assert "open-set fitting drawings: " in first and first.rstrip().endswith("/60")
    kept = list((tmp_path / "cache").glob("open-set-drawings-*.npz"))
    assert len(kept) == 1
    # The companion finds them where fetch left them: nothing is drawn again.
    (_, _), (x_test, y_test) = mnist
    assert not openset.prepare_fitting_drawings(x_test[:30], y_test[:30])
    assert command_line.main(["fetch"]) == 0
    assert "already made" in capsys.readouterr().err
