"""`python -m mnistcore train --with-lab-drawings` on a lab kept in PostgreSQL: it trains on the
drawings every machine labelled, read from the database, not on a local file."""
import os
import subprocess
import sys
from pathlib import Path

from mnistcore.lab import config
from mnistcore.lab.pg.feedback import PgFeedbackStore
from mnistcore.nets import load_model

PROJECT = Path(__file__).resolve().parent.parent


def test_training_reads_the_lab_drawings_from_postgresql(pg_url, tmp_path, mnist):
    (_, _), (x_test, y_test) = mnist
    store = PgFeedbackStore(pg_url)
    for image, label in zip(x_test[:9], y_test[:9]):
        store.add(image, label=int(label), predicted=int(label), confidence=0.9, model="m", raw_size=(280, 280))
    out = tmp_path / "model.npz"
    # No local drawings file anywhere: the SQLite default would be refused as missing.
    env = {**os.environ, "PYTHONPATH": str(PROJECT), config.DATABASE_ENV: pg_url,
           config.FEEDBACK_ENV: str(tmp_path / "no-such-lab.db")}
    done = subprocess.run([sys.executable, "-m", "mnistcore", "train", "--epochs", "1", "--hidden", "16",
                           "--train-limit", "1000", "--with-lab-drawings", "--out", str(out)],
                          cwd=PROJECT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "lab drawings: 9 added to training" in done.stdout
    info = load_model(out).info
    assert info.train_samples == 1000 + 9 and info.lab_drawings["up_to_id"] == store.training_set().record["up_to_id"]
    assert not (tmp_path / "no-such-lab.db").exists()
