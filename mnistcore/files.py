"""Atomic file writes: a reader sees the old file or the new one, never half of either."""
from __future__ import annotations

import os
import re
import tempfile
import time
from pathlib import Path
from typing import BinaryIO
from collections.abc import Callable

# atomic_write's temporary file: ".<target name>.<8 random characters>.tmp" (mkstemp's own
# characters), in the target's folder. A process killed mid-write leaves it behind.
TEMP_NAME = re.compile(r"\..+\.[a-z0-9_]{8}\.tmp")


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], None]) -> Path:
    """Call `write(f)` on a temporary file beside `path`, fsync it, then rename it into place.

    The temporary file lives in the same folder so the rename is atomic on POSIX; the folder
    is fsynced too so the rename itself survives a crash. On any error the temporary file is
    removed and `path` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)  # see TEMP_NAME
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file ordinary permissions
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write `data` to `path` atomically."""
    return atomic_write(path, lambda f: f.write(data))


def remove_stale_temp_files(folder: str | os.PathLike, older_than: float) -> tuple[int, int]:
    """Remove atomic_write's temporary files in `folder` last written over `older_than` seconds ago.

    Returns (files removed, bytes freed). Younger files are kept: another process may be writing
    them right now. Only regular files named as atomic_write names them are touched.
    """
    removed = freed = 0
    cutoff = time.time() - older_than
    try:
        entries = list(os.scandir(folder))
    except OSError:  # no such folder (yet), or not one we may read: nothing to clean
        return 0, 0
    for entry in entries:
        if not TEMP_NAME.fullmatch(entry.name) or not entry.is_file(follow_symlinks=False):
            continue
        try:
            stat = entry.stat(follow_symlinks=False)
            if stat.st_mtime >= cutoff:
                continue
            os.unlink(entry.path)
        except OSError:  # gone meanwhile (renamed into place, cleaned by another process), or not ours to remove
            continue
        removed += 1
        freed += stat.st_size
    return removed, freed


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it; done once, at import
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some file systems do not let a folder be opened; the rename still happened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
