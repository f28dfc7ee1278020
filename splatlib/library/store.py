"""Blob stores: the interface, and a local folder laid out with the S3 keys of DESIGN.md §3.

Stages work on local folders. `local_dir(prefix)` gives the folder that mirrors a key prefix
and `save_dir(prefix)` publishes it: for a local store the folder *is* the store, so both cost
nothing; a remote store downloads and uploads there.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Protocol


class BlobStore(Protocol):
    """Files addressed by keys such as `outputs/{id}/scene.splat`."""

    def path(self, key: str) -> Path: ...

    def local_dir(self, prefix: str) -> Path: ...

    def save_dir(self, prefix: str) -> None: ...

    def put_file(self, key: str, src: Path) -> None: ...

    def exists(self, key: str) -> bool: ...

    def size(self, prefix: str) -> int: ...

    def delete_prefix(self, prefix: str) -> None: ...


def local_bytes(path: Path) -> int:
    """Bytes of a file, or of every file under a folder; 0 if there is nothing at `path`."""
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) if path.exists() else 0


def check_key(key: str) -> str:
    """`key` without surrounding slashes; ValueError if it is empty or could escape its prefix."""
    parts = key.strip("/").split("/")
    if not key or any(p in ("", ".", "..") for p in parts) or "\\" in key:
        raise ValueError(f"unsafe store key {key!r}")
    return key.strip("/")


class LocalStore:
    """A folder whose relative paths are the keys."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, key: str) -> Path:
        """Filesystem path of a key (no guarantee that it exists)."""
        return self.root / check_key(key)

    def local_dir(self, prefix: str) -> Path:
        """The folder holding `prefix`, created if missing."""
        path = self.path(prefix)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def save_dir(self, prefix: str) -> None:
        """Nothing to do: the local folder is the store."""

    def put_file(self, key: str, src: Path) -> None:
        """Copy a file into the store under `key`."""
        dest = self.path(key)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dest)

    def exists(self, key: str) -> bool:
        """Whether a file or folder is stored under `key`."""
        return self.path(key).exists()

    def size(self, prefix: str) -> int:
        """Total bytes under `prefix` (a file or a folder)."""
        return local_bytes(self.path(prefix))

    def delete_prefix(self, prefix: str) -> None:
        """Remove everything under `prefix`."""
        path = self.path(prefix)
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
