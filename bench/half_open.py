"""One client holding thousands of half-sent requests against nginx (deploy/serve_lab.py), on 127.0.0.1
only, while new visitors open Draw and draw: how long each new visitor's drawing takes.

    .venv/bin/python -m bench.half_open                   # 5,000 held, 20 visitors, the deploy/ config
    .venv/bin/python -m bench.half_open --held 5000 --visitors 20 --template /tmp/old.conf.template

Bounded: the held connections and the visitors are counted, and everything stops at the end.
Figures, never pass/fail; the load average is printed with them, since other work skews them.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(PROJECT / "tests"), str(PROJECT / "deploy")]

import protocol  # noqa: E402
import serve_lab  # noqa: E402
from sitetools import drawing, free_port, weights_copy  # noqa: E402
from test_processes import half_open  # noqa: E402


def one_visit(url: str) -> float:
    """Seconds from connecting to the answer to one drawing on Draw; inf when it failed."""
    start = time.perf_counter()
    try:
        visitor = protocol.Visitor(url, timeout=30).open("draw")
        canvas = next(c.id for c in visitor.of_type("bidi_component") if "drawable_canvas" in c.component_name)
        seven = np.zeros((28, 28), np.uint8)
        seven[5, 8:20], seven[5:24, 18] = 255, 255
        visitor.run(protocol.component(canvas, drawing(seven)))
        visitor.close()
    except Exception as err:  # noqa: BLE001 - a refused or reset visitor is the figure we want
        print(f"  visitor failed: {type(err).__name__}: {err}"[:200])
        return float("inf")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--held", type=int, default=5000, help="half-sent requests held (at most 10,000)")
    parser.add_argument("--visitors", type=int, default=20)
    parser.add_argument("--template", type=Path, help="another nginx.conf.template to compare with")
    args = parser.parse_args()
    if not 0 <= args.held <= 10_000:
        parser.error(f"--held must be from 0 to 10,000; got {args.held}")
    if args.template:
        serve_lab.TEMPLATE = args.template
    folder = Path(tempfile.mkdtemp(prefix="half-open-"))
    weights = weights_copy(folder / "weights", None)
    port = free_port()
    os.environ.update({"MNISTLAB_WEIGHTS_DIR": str(weights), "MNISTLAB_FEEDBACK_DB": str(folder / "lab.db")})
    lab = serve_lab.Lab(1, port, "127.0.0.1", folder, serve_lab.find_nginx(), sys.executable)
    lab.start()
    url = f"http://127.0.0.1:{port}"
    try:
        held = half_open(port, args.held)
        times = [one_visit(url) for _ in range(args.visitors)]
        for connection in held:
            connection.close()
    finally:
        lab.stop()
    ok = sorted(t for t in times if t != float("inf"))
    p95 = sorted(times)[max(0, int(round(0.95 * len(times))) - 1)]
    print(f"{args.held} half-sent requests held; {len(ok)} of {len(times)} visitors drew; "
          f"median {statistics.median(ok) if ok else float('nan'):.2f} s, p95 {p95:.2f} s; "
          f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
