"""Disk space: telling a full disk apart from other failures, and saying so in a user's words."""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

from .errors import DiskFull

RESERVE_BYTES = 256 * 1024 ** 2
"""Room kept free beside what a file itself needs: the catalog's journal, a stage's temporary files."""


def is_disk_full(exc: BaseException) -> bool:
    """Whether `exc` (or what caused it) says the disk or the user's quota is full."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if isinstance(exc, sqlite3.OperationalError) and "disk is full" in str(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def raise_if_disk_full(tool_errors: str) -> None:
    """Raise OSError(ENOSPC) if a tool's error output (ffmpeg's) says it ran out of space, so that a
    full disk is not reported as a bad input."""
    if "No space left on device" in tool_errors or "out of disk space" in tool_errors:
        raise OSError(errno.ENOSPC, tool_errors.strip().splitlines()[-1][:300])


def _existing(path: Path) -> Path:
    """`path`, or its nearest folder that exists (a key's folder may not be made yet)."""
    path = Path(path).resolve()
    while not path.exists():
        path = path.parent
    return path


def free_bytes(path: Path) -> int:
    """Bytes free to this user on the file system holding `path`."""
    return shutil.disk_usage(_existing(path)).free


def device_of(path: Path) -> str:
    """The device holding `path`, as `df` names it ("/dev/sda1, mounted at /"), else its mount point."""
    mount = _existing(path)
    while not os.path.ismount(mount):
        mount = mount.parent
    try:
        with open("/proc/self/mounts") as f:
            devices = {fields[1]: fields[0] for fields in (line.split() for line in f) if len(fields) > 1}
    except OSError:  # not Linux
        devices = {}
    device = devices.get(str(mount))
    return f"{device}, mounted at {mount}" if device else str(mount)


def disk_full(path: Path, needed: int, what: str) -> DiskFull:
    """DiskFull for `what` (e.g. "the upload"), naming the device that holds `path`, how much is free
    and about how much is needed: `needed` bytes and the reserve."""
    return DiskFull(f"no space left on {device_of(path)} for {what} ({_mb(free_bytes(path))} MB free, "
                    f"about {_mb(needed + RESERVE_BYTES)} MB needed)")


def _mb(n: int) -> str:
    mb = n / 1024 ** 2
    return f"{mb:.1f}" if mb < 10 else f"{mb:,.0f}"


def ensure_room(path: Path, needed: int, what: str) -> None:
    """Raise DiskFull unless `needed` bytes and the reserve fit on the disk holding `path`."""
    if free_bytes(path) < needed + RESERVE_BYTES:
        raise disk_full(path, needed, what)
