"""tests/ports.py: the ports test servers get are reserved once per host and free to bind."""
import fcntl
import os
import socket

import pytest

import ports


def test_blocks_are_reserved_for_this_process_only():
    first = ports.free_ports(3)
    other = ports.free_port()
    assert other not in range(first, first + 3)
    assert all(port in ports.candidates() for port in range(first, first + 3))
    low, _ = ports.ephemeral_range()
    assert first + 2 < low  # never where outgoing connections take their ports
    handle = os.open(ports.LOCK_DIR / str(first + 1), os.O_RDWR)
    try:  # another process (another open file) cannot have it while this one lives
        with pytest.raises(BlockingIOError):
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(handle)


def test_a_port_another_holds_or_listens_on_is_passed_over(monkeypatch):
    first = ports.free_ports(3)
    for port in range(first, first + 3):  # give them back, as if reserved by nobody
        os.close(ports._held.pop(port))
    other = os.open(ports.LOCK_DIR / str(first), os.O_RDWR)  # the first: reserved by another process
    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
    with socket.socket() as listener:  # the second: a server listens there
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", first + 1))
        listener.listen()
        monkeypatch.setattr(ports, "candidates", lambda: range(first, first + 3))
        try:
            assert ports.free_port() == first + 2
            with pytest.raises(RuntimeError, match="no 1 free consecutive ports"):
                ports.free_ports(1, tries=50)
        finally:
            os.close(other)
