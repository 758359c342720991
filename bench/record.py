"""`--record`: what a benchmark prints, also kept under a dated heading in docs/measurements.md.

Each script has one section there, between an opening and a closing comment that name it; a new
recording replaces that section (or is added at the end) and leaves every other line alone. The
file is rewritten whole into a temporary file and renamed over the old one, under a lock, so two
benchmarks recording at once cannot interleave or lose each other's sections.

    parser = argparse.ArgumentParser(...)
    record.add_argument(parser)
    args = parser.parse_args()
    with record.recording("bench.crowd", args.record):
        ...  # everything printed here is recorded
"""
from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import io
import os
import platform
import re
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

MEASUREMENTS = Path(__file__).resolve().parent.parent / "docs" / "measurements.md"


def add_argument(parser) -> None:
    parser.add_argument("--record", action="store_true",
                        help=f"also write what is printed into {MEASUREMENTS.parent.name}/{MEASUREMENTS.name}, "
                             "replacing this script's previous section")


def cpu_line() -> str:
    """The machine, as far as it moves the figures: CPU model and cores, AVX-512, OpenBLAS' kernel."""
    model, flags = platform.processor() or "unknown CPU", set()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    kernels = set()
    with contextlib.suppress(ImportError):
        import numpy  # noqa: F401 - loads the OpenBLAS that threadpoolctl describes
        from threadpoolctl import threadpool_info
        kernels = {i.get("architecture") for i in threadpool_info() if i.get("internal_api") == "openblas"}
    blas = ", ".join(sorted(k for k in kernels if k)) or "none found"
    return (f"CPU: {model}, {os.cpu_count()} cores; AVX-512: {'yes' if 'avx512f' in flags else 'no'}; "
            f"OpenBLAS kernel: {blas}")


def section(script: str, command: str, printed: str, day: dt.date) -> str:
    """The Markdown for one recording of `script`: heading, command, machine, and what it printed."""
    return (f"<!-- begin {script} -->\n## {script}, {day.isoformat()}\n\n"
            f"`{command}`\n\n{cpu_line()}\n\n```\n{printed.strip(chr(10))}\n```\n<!-- end {script} -->\n")


def replace_section(text: str, script: str, new: str) -> str:
    """`text` with `script`'s section replaced by `new`, or `new` added at the end if it had none."""
    pattern = re.compile(rf"<!-- begin {re.escape(script)} -->\n.*?<!-- end {re.escape(script)} -->\n?", re.S)
    if pattern.search(text):
        return pattern.sub(lambda _: new, text, count=1)
    return text.rstrip("\n") + "\n\n" + new if text.strip() else new


def write_section(script: str, new: str, path: Path = MEASUREMENTS) -> None:
    """Put `new` in `path` in place of `script`'s section, atomically and under a lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    folder = os.open(path.parent, os.O_RDONLY)  # the lock: the file itself is replaced, its folder stays
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, prefix=f".{path.name}.",
                                         delete=False) as out:
            out.write(replace_section(text, script, new))
        os.replace(out.name, path)
    finally:
        os.close(folder)  # closing releases the lock


class _Tee(io.TextIOBase):
    """Writes to the terminal and keeps a copy."""

    def __init__(self, terminal):
        self.terminal, self.kept = terminal, io.StringIO()

    def write(self, text: str) -> int:
        self.kept.write(text)
        return self.terminal.write(text)

    def flush(self) -> None:
        self.terminal.flush()


@contextlib.contextmanager
def recording(script: str, enabled: bool, path: Path = MEASUREMENTS) -> Iterator[None]:
    """With `enabled`, record everything printed inside as `script`'s section of `path` (not if it fails)."""
    if not enabled:
        yield
        return
    tee = _Tee(sys.stdout)
    command = " ".join([".venv/bin/python -m", script, *sys.argv[1:]])
    with contextlib.redirect_stdout(tee):
        yield
    write_section(script, section(script, command, tee.kept.getvalue(), dt.date.today()), path)
    print(f"recorded in {path}")
