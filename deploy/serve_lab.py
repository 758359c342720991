"""Serve MNIST Lab from several Streamlit processes behind nginx, on one machine.

    make serve-lab PROCESSES=2 PORT=8501
    .venv/bin/python deploy/serve_lab.py --processes 2 --port 8501

Starts PROCESSES `streamlit run` processes on 127.0.0.1 (ports PORT+1, PORT+2, ...) and nginx
on PORT (all addresses by default, so phones on the lab's network can reach it), with a private
nginx configuration in a state folder: no root needed. The processes share what must be shared
through files: the live model (weights/live.json), the training slot's board
(weights/runs/slot.db) and the lab drawings (data/lab.db), so the environment that names those
(MNISTLAB_*) is passed to each. A process that exits is started again. Ctrl-C (or SIGTERM)
stops them all.

Only the standard library: this script runs Streamlit, it does not import it.
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
STATIC_DIR = PROJECT_DIR / "static"  # mnistcore.paths.STATIC_DIR (this script runs outside the venv's imports)
TEMPLATE = Path(__file__).with_name("nginx.conf.template")
START_SECONDS = 60.0  # how long a Streamlit process may take to answer its health check


# Which process answered, for tests and debugging only: it names internal addresses.
PROCESS_HEADER = "            add_header X-MNISTLab-Process $upstream_addr always;"


def nginx_config(ports: list[int], listen: str, state: Path, process_header: bool = False,
                 upstreams: tuple[str, ...] = ()) -> str:
    """The nginx configuration for Streamlit processes on 127.0.0.1:`ports` and at `upstreams`
    (host:port, other machines'), nginx on `listen`; with `process_header`, every answer says which
    process gave it (X-MNISTLab-Process)."""
    addresses = [f"127.0.0.1:{port}" for port in ports] + list(upstreams)
    servers = "\n".join(f"        server {address} max_fails=1 fail_timeout=5s;" for address in addresses)
    text = TEMPLATE.read_text(encoding="utf-8")
    for name, value in (("@SERVERS@", servers), ("@LISTEN@", listen), ("@STATE@", str(state)),
                        ("@STATIC@", str(STATIC_DIR)), ("@DEPLOY@", str(TEMPLATE.parent)),
                        ("@DEBUG_HEADERS@", PROCESS_HEADER if process_header else "")):
        text = text.replace(name, value)
    return text


def find_nginx() -> str | None:
    """nginx's path, or None: Debian puts it in /usr/sbin, which a user's PATH may lack."""
    return shutil.which("nginx") or next((p for p in ("/usr/sbin/nginx",) if os.access(p, os.X_OK)), None)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as reply:
            return reply.read() == b"ok"
    except OSError:
        return False


def wait_until_healthy(url: str, process: subprocess.Popen, timeout: float) -> None:
    """Wait for `url` (a /_stcore/health) to answer ok; RuntimeError if `process` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while not answers(url):
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode} before {url} answered")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {timeout:g} s")
        time.sleep(0.2)  # polling a server that is starting


class Lab:
    """The Streamlit processes and nginx in front of them."""

    def __init__(self, processes: int, port: int, address: str, state: Path, nginx: str, python: str,
                 process_header: bool = False, upstreams: tuple[str, ...] = ()):
        self.process_header, self.upstreams = process_header, tuple(upstreams)
        self.ports = [port + n for n in range(1, processes + 1)]
        self.port, self.address, self.state, self.nginx, self.python = port, address, state, nginx, python
        # One cookie secret for all: a cookie one process signs is good in the others.
        # MALLOC_ARENA_MAX as `make run` sets it (the Makefile says why), unless already set.
        # Machines behind one nginx must share it: then it comes from the environment.
        self.env = {"MALLOC_ARENA_MAX": "2", "STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(32), **os.environ}
        self.streamlits: dict[int, subprocess.Popen] = {}
        self.proxy: subprocess.Popen | None = None
        self.stopping = threading.Event()

    def start_streamlit(self, port: int) -> subprocess.Popen:
        log = open(self.state / f"streamlit-{port}.log", "ab")  # noqa: SIM115 - the child writes it while it runs
        command = [self.python, "-m", "streamlit", "run", str(PROJECT_DIR / "streamlit_app.py"),
                   "--server.headless", "true", "--server.address", "127.0.0.1", "--server.port", str(port),
                   "--browser.gatherUsageStats", "false"]
        process = subprocess.Popen(command, cwd=PROJECT_DIR, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        self.streamlits[port] = process
        return process

    def start(self) -> None:
        for port in self.ports:
            self.start_streamlit(port)
        for port, process in self.streamlits.items():
            wait_until_healthy(f"http://127.0.0.1:{port}/_stcore/health", process, START_SECONDS)
        config = self.state / "nginx.conf"
        config.write_text(nginx_config(self.ports, f"{self.address}:{self.port}", self.state,
                                        self.process_header, self.upstreams), encoding="utf-8")
        # -e: nginx opens its error log before reading the configuration; keep that one private too.
        command = [self.nginx, "-p", str(self.state), "-c", str(config), "-e", str(self.state / "error.log")]
        self.proxy = subprocess.Popen(command, cwd=self.state)
        host = "127.0.0.1" if self.address in ("0.0.0.0", "[::]") else self.address
        wait_until_healthy(f"http://{host}:{self.port}/_stcore/health", self.proxy, 10)

    def watch(self) -> None:
        """Start again any Streamlit process that exits, until told to stop; nginx exiting stops all."""
        while not self.stopping.wait(1.0):
            if self.proxy.poll() is not None:
                print(f"nginx exited with {self.proxy.returncode}: see {self.state / 'error.log'}", file=sys.stderr)
                return
            for port, process in list(self.streamlits.items()):
                if process.poll() is not None:
                    print(f"the Streamlit process on port {port} exited with {process.returncode}: starting it again "
                          f"(log: {self.state / f'streamlit-{port}.log'})", file=sys.stderr)
                    self.start_streamlit(port)

    def stop(self) -> None:
        self.stopping.set()
        children = [self.proxy, *self.streamlits.values()]
        for child in children:
            if child is not None and child.poll() is None:
                child.terminate()  # nginx: a fast shutdown; Streamlit: closes its sessions
        for child in children:
            if child is not None:
                try:
                    child.wait(10)
                except subprocess.TimeoutExpired:
                    child.kill()
                    child.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=os.cpu_count() or 1,
                        help="Streamlit processes (default: one per core)")
    parser.add_argument("--port", type=int, default=8501, help="nginx's port; the processes take the next ones")
    parser.add_argument("--address", default="0.0.0.0", help="where nginx listens (default: every address)")
    parser.add_argument("--state-dir", type=Path, help="nginx's configuration, temporary files and the logs "
                        "(default: a new temporary folder)")
    parser.add_argument("--nginx", default=find_nginx(), help="the nginx program (default: found on PATH or /usr/sbin)")
    parser.add_argument("--process-header", action="store_true",
                        help="say which process answered (X-MNISTLab-Process): tests and debugging, never in public")
    parser.add_argument("--upstream", action="append", default=[], metavar="HOST:PORT",
                        help="another machine's Streamlit process, served by this nginx too (repeat for each); "
                        "the machines share one lab through MNISTLAB_DATABASE_URL and one "
                        "STREAMLIT_SERVER_COOKIE_SECRET")
    args = parser.parse_args(argv)
    if not 1 <= args.processes <= 64:
        parser.error(f"--processes must be from 1 to 64; got {args.processes}")
    if args.nginx is None:
        parser.error("nginx is not installed: apt-get install nginx-light (or nginx), or give --nginx")
    state = args.state_dir or Path(tempfile.mkdtemp(prefix="mnistlab-serve-"))
    state.mkdir(parents=True, exist_ok=True)
    for upstream in args.upstream:
        host, _, port = upstream.rpartition(":")
        if not host or not port.isdigit():
            parser.error(f"--upstream must be HOST:PORT; got {upstream!r}")
    lab = Lab(args.processes, args.port, args.address, state.resolve(), args.nginx, sys.executable, args.process_header,
              tuple(args.upstream))
    # SIGTERM as Ctrl-C: either way, everything started here is stopped.
    signal.signal(signal.SIGTERM, lambda *_: lab.stopping.set())
    try:
        lab.start()
        print(f"MNIST Lab: {args.processes} Streamlit process{'es' if args.processes != 1 else ''} "
              f"(ports {lab.ports[0]}-{lab.ports[-1]}) behind nginx on http://{args.address}:{args.port}; "
              f"logs in {state}. Ctrl-C stops them all.", flush=True)
        lab.watch()
    except KeyboardInterrupt:
        pass
    except RuntimeError as err:
        print(f"serve-lab: {err}; logs in {state}", file=sys.stderr)
        return 1
    finally:
        lab.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
