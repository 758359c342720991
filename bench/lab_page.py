"""The Lab handwriting page with a large collection of drawings. Figures, not pass/fail.

Fills a temporary lab database with N drawings (default 100,000: MNIST's test digits over and
over, one in twenty labelled as another digit), straight through SQL in one transaction, so the
store's own cap (feedback.MAX_ROWS) does not stop it. Then, in this process, with the site on a
temporary copy of the weights:

- what a page view cost before: reading every drawing and having the live model read them all;
- the page (AppTest) the first time (the report worked out), then warm, then on page 100 of the
  whole collection, then after one more drawing (only it is read);
- the downloads: building each once, and the next click (shared);
- the process's peak memory.

    .venv/bin/python -m bench.lab_page               # 100,000 drawings
    .venv/bin/python -m bench.lab_page --rows 20000  # the store's default cap

Needs MNIST (data/mnist). Nothing outside a temporary folder is touched.
"""
from __future__ import annotations

import argparse
import os
import resource
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from bench import record
from mnistcore.data import load_mnist
from mnistcore.lab import handwriting, services
from mnistcore.lab.feedback import FeedbackStore
from tests.sitetools import APP, weights_copy

INSERT = ("INSERT INTO drawings (created_at, image, raw_height, raw_width, label, predicted, confidence, model)"
          " VALUES ('2025-01-01T00:00:00+00:00', ?, 280, 280, ?, ?, 0.9, 'bench')")


def fill(db: Path, rows: int, images: np.ndarray, labels: np.ndarray, start: int = 0) -> None:
    """`rows` drawings into `db` in one transaction: MNIST digits in turn, one in 20 relabelled."""
    rng = np.random.default_rng(start)
    which = (start + np.arange(rows)) % len(images)
    said = labels[which].astype(np.int64)
    wrong = rng.random(rows) < 0.05
    said[wrong] = (said[wrong] + 1) % 10
    with sqlite3.connect(db) as connection:
        connection.executemany(INSERT, ((images[i].tobytes(), int(s), int(s)) for i, s in zip(which, said)))


def timed(action) -> float:
    begin = time.perf_counter()
    action()
    return time.perf_counter() - begin


def view(at: AppTest, page: str = "pages/handwriting.py") -> float:
    seconds = timed(lambda: at.switch_page(page).run())
    if at.exception:
        raise RuntimeError(f"the page failed: {[e.value for e in at.exception]}")
    return seconds


def peak_memory() -> str:
    return f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.2f} GB"  # Linux: kB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="drawings in the database (default 100,000)")
    parser.add_argument("--views", type=int, default=10, help="warm page views to time (default 10)")
    parser.add_argument("--no-before", action="store_true", help="skip timing the old whole-table page view")
    record.add_argument(parser)
    args = parser.parse_args()
    if args.rows < 1 or args.views < 1:
        parser.error(f"--rows and --views must be >= 1, got {args.rows} and {args.views}")
    with record.recording("bench.lab_page", args.record):
        run(args)


def run(args) -> None:
    folder = Path(tempfile.mkdtemp(prefix="mnistlab-bench-handwriting-"))
    data = load_mnist()
    (_, _), (x_test, y_test) = data
    db = folder / "lab.db"
    FeedbackStore(db)  # the schema
    seconds = timed(lambda: fill(db, args.rows, x_test, y_test))
    print(f"{args.rows:,} drawings written in {seconds:.1f} s; database {db.stat().st_size / 1e6:.0f} MB")

    os.environ["MNISTLAB_WEIGHTS_DIR"] = str(weights_copy(folder / "weights", data))
    os.environ["MNISTLAB_FEEDBACK_DB"] = str(db)
    for name in ("MNISTLAB_DEMO", "MNISTLAB_PASSCODE", "MNISTLAB_TRAIN_LIMIT"):
        os.environ.pop(name, None)
    store, lab = services.model_store(), services.feedback_store()
    live = store.require_live()
    store.evaluation(live, x_test, y_test)  # the MNIST figures, cached for the site: not what is measured here
    print(f"live model: {live.info.engine} {live.id}")

    if not args.no_before:
        def whole_table():
            handwriting.report(live.model, lab.all())
        print(f"before: every view read every drawing and the model read them all: {timed(whole_table):.2f} s "
              f"(peak memory so far {peak_memory()})")

    at = AppTest.from_file(str(APP), default_timeout=600)
    at.run()
    print(f"page, first view (the live model reads every drawing, once): {view(at):.2f} s")
    warm = [view(at) for _ in range(args.views)]
    print(f"page, warm: median {statistics.median(warm) * 1000:.0f} ms, slowest {max(warm) * 1000:.0f} ms "
          f"(n={len(warm)})")
    at.toggle(key="lab_only_mistakes").set_value(False)
    at.run()
    at.session_state["lab_page"] = min(100, -(-args.rows // 48))
    print(f"page, warm, every drawing, page {at.session_state['lab_page']}: {view(at) * 1000:.0f} ms")

    fill(db, 1, x_test, y_test, start=args.rows)
    spread = np.unique(np.linspace(1, args.rows, 48).astype(np.int64))  # ids all over the collection
    print(f"page, after one more drawing (only it is read): {view(at) * 1000:.0f} ms")
    print(f"  of which: version() {timed(lab.version) * 1000:.1f} ms, "
          f"48 drawings by id {timed(lambda: lab.rows(spread)) * 1000:.1f} ms")

    for kind in ("csv", "npz"):
        built = timed(lambda kind=kind: lab.download(kind))
        again = timed(lambda kind=kind: lab.download(kind))
        made = lab.download(kind)
        print(f"download {kind}: the newest {made.rows:,} of {made.version.count:,} drawings, "
              f"{len(made.data) / 1e6:.1f} MB, built in {built:.2f} s; the next click {again * 1000:.1f} ms")
    print(f"peak memory of this process: {peak_memory()}")

if __name__ == "__main__":
    main()
