"""Ports for the servers the tests and benchmarks start (Streamlit, nginx, PostgreSQL), from one place.

A port from `bind(("127.0.0.1", 0))` comes from the kernel's ephemeral range, which every outgoing
connection on the host draws from too: between choosing it and a server's bind, a client (nginx to an
upstream, a test's visitor) may take it. So ports here come from below that range, where no outgoing
connection goes; each is reserved by a lock file that every test process on the host respects (held
until the process ends, so two pytest workers or two worktrees never get the same one) and is checked
free by a bind. Servers that fail on a taken port are then a bug, not a race.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import random
import socket
import tempfile
import threading
from pathlib import Path

LOCK_DIR = Path(tempfile.gettempdir()) / "mnistlab-ports"
LOWEST = 10_000  # below: well-known services' habits
_held: dict[int, int] = {}  # port -> the descriptor of its lock file, held for this process's life
_lock = threading.Lock()


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range for outgoing connections (Linux's default when it cannot be read)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def candidates() -> range:
    """The ports handed out: below the ephemeral range, or above it where too little room is below."""
    low, high = ephemeral_range()
    return range(LOWEST, low) if low - LOWEST >= 2000 else range(high + 1, 65536)


def _reserve(port: int) -> int | None:
    """The descriptor of `port`'s lock file, now locked by this process; None when another holds it."""
    handle = os.open(LOCK_DIR / str(port), os.O_CREAT | os.O_RDWR, 0o666)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        os.close(handle)
        if err.errno in (errno.EAGAIN, errno.EACCES):
            return None
        raise
    return handle


def _bindable(port: int) -> bool:
    """Nobody listens on `port` (SO_REUSEADDR as the servers bind: old TIME_WAIT connections do not count)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int = 1, tries: int = 500) -> int:
    """The first of `count` consecutive ports reserved for this process (serve_lab's nginx and the
    Streamlit processes after it take consecutive ports)."""
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count!r}")
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(OSError):  # one folder for every user's tests on the host (root's and others')
        os.chmod(LOCK_DIR, 0o1777)
    ports = candidates()
    with _lock:
        for _ in range(tries):
            first = random.randrange(ports.start, ports.stop - count + 1)
            block = range(first, first + count)
            if any(port in _held for port in block):
                continue
            got = []
            for port in block:
                handle = _reserve(port)
                if handle is None:
                    break
                got.append((port, handle))
            if len(got) == count and all(_bindable(port) for port in block):
                _held.update(got)
                return first
            for _, handle in got:
                os.close(handle)  # another process's, or in use by something else: try elsewhere
    raise RuntimeError(f"no {count} free consecutive ports in {ports.start}-{ports.stop - 1} after {tries} tries")


def free_port() -> int:
    """One port reserved for this process, free to bind (see the module docstring)."""
    return free_ports(1)

