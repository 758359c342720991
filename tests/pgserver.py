"""A real PostgreSQL server for tests: Debian's binaries, a throwaway cluster in a temporary folder,
listening on 127.0.0.1 at a port from tests/ports.py with trust authentication, removed afterwards."""
from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

from ports import free_port

BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)  # the newest version first
USER = "postgres"  # initdb refuses to run as root; Debian's package makes this user
_numbers = itertools.count(1)


def binaries() -> Path | None:
    """The folder with initdb and pg_ctl, or None where PostgreSQL is not installed."""
    for folder in BIN_DIRS:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    return None


def missing_reason() -> str | None:
    """Why a real server cannot be started here, or None when it can."""
    if binaries() is None:
        return "PostgreSQL is not installed (Debian: apt-get install postgresql)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: initdb refuses root"
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (requirements.lock)"
    return None


def _as_server_user(args: list[str]) -> list[str]:
    return ["runuser", "-u", USER, "--", *args] if os.geteuid() == 0 else args


@contextlib.contextmanager
def postgres_server(settings: tuple[str, ...] = ()) -> Iterator[str]:
    """Start a server; yields the URL of its `postgres` database. Stopped and deleted at the end.
    `settings`: more server settings, each "name=value" (a benchmark counting statements)."""
    folder = Path(tempfile.mkdtemp(prefix="mnistlab-pg-"))
    data, bin_dir, port = folder / "data", binaries(), free_port()
    if os.geteuid() == 0:
        shutil.chown(folder, USER)
    run = dict(check=True, capture_output=True, text=True)
    try:
        subprocess.run(_as_server_user([str(bin_dir / "initdb"), "-D", str(data), "-U", USER, "-A", "trust",
                                        "-E", "UTF8", "--no-sync"]), **run)
        options = " ".join([f"-h 127.0.0.1 -p {port} -k {folder} -F -c max_connections=500",
                            *(f"-c {setting}" for setting in settings)])
        subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options,
                                        "-l", str(folder / "log"), "-w", "start"]), **run)
        try:
            yield f"postgresql://{USER}@127.0.0.1:{port}/postgres"
        finally:
            subprocess.run(_as_server_user([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                                            "-w", "stop"]), capture_output=True)
    except subprocess.CalledProcessError as error:
        raise RuntimeError(f"PostgreSQL did not start: {error.stderr or error.stdout}") from error
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def fresh_database(server_url: str) -> str:
    """A new empty database on the server at `server_url`; returns its URL."""
    import psycopg

    name = f"lab_{os.getpid()}_{next(_numbers)}"
    with psycopg.connect(server_url, autocommit=True) as db:
        db.execute(f'CREATE DATABASE "{name}"')
    return server_url.rsplit("/", 1)[0] + "/" + name
