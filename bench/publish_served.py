"""Publish on machine A, served on machine B: how long after A's publish returns B's store hands
out the new model, over N publishes. Figures, not pass/fail.

    .venv/bin/python -m bench.publish_served                 # 20 publishes, B told by NOTIFY only
    .venv/bin/python -m bench.publish_served --check-every 1 # B also looks every second (the default store)

How: a throwaway PostgreSQL (tests/pgserver.py) and two model stores with their own folders, B in
its own Python process (as another machine), asking `live()` every 10 ms as visitors' reruns would.
With `--check-every 3600` (the default here) only the LISTEN/NOTIFY announcement can tell B.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parent.parent
B_CODE = """
import sys, time
from mnistcore.lab.pg.store import PgModelStore
store = PgModelStore(sys.argv[1], sys.argv[2], check_every=float(sys.argv[3]))
print("ready", flush=True)
name = store.live().name
while True:
    live = store.live().name
    if live != name:
        name = live
        print(time.time(), name, flush=True)
    time.sleep(0.01)
"""


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--publishes", type=int, default=20)
    parser.add_argument("--check-every", type=float, default=3600.0, help="B's store's own look at the database")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT / "tests"))
    import pgserver
    from sitetools import tiny_model, weights_copy

    from mnistcore.data import load_mnist
    from mnistcore.lab.pg import close_all
    from mnistcore.lab.pg.store import PgModelStore

    (x, y), _ = load_mnist()
    small = ((x[:3000], y[:3000]), (x[:100], y[:100]))
    model = tiny_model(small, hidden=16, samples=500, seed=1)
    with pgserver.postgres_server() as server, tempfile.TemporaryDirectory() as folder:
        url = pgserver.fresh_database(server)
        a = PgModelStore(url, weights_copy(Path(folder) / "a", small))
        b = subprocess.Popen([sys.executable, "-c", B_CODE, url, str(weights_copy(Path(folder) / "b", small)),
                              str(args.check_every)], cwd=PROJECT, stdout=subprocess.PIPE, text=True,
                             env={"PYTHONPATH": str(PROJECT), "PATH": "/usr/bin:/bin"})
        assert b.stdout.readline().strip() == "ready"
        seen: dict[str, float] = {}
        threading.Thread(target=lambda: [seen.__setitem__(line.split()[1], float(line.split()[0]))
                                         for line in b.stdout], daemon=True).start()
        published = {}
        for _ in range(args.publishes):
            live = a.publish(model)
            published[live.name] = time.time()
            time.sleep(1.0)  # one publish a second: each is seen before the next
        b.kill()
        a.close()
        close_all()  # before the server stops
    delays = np.array([seen[name] - at for name, at in published.items() if name in seen])
    print(f"{len(delays)} of {len(published)} publishes served on B; after A's publish returned: "
          f"p50 {np.percentile(delays, 50) * 1000:.0f} ms, p95 {np.percentile(delays, 95) * 1000:.0f} ms, "
          f"max {delays.max() * 1000:.0f} ms (B's own check every {args.check_every:g} s)")


if __name__ == "__main__":
    main()
