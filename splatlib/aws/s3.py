"""The blob store in an S3 bucket, with a local working folder that stages read and write.

`local_dir(prefix)` downloads what the bucket holds under a prefix (skipping files already
there with the same size) and `save_dir(prefix)` uploads what is new or changed, in parallel.
"""

from __future__ import annotations

import mimetypes
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..library.store import check_key

_WORKERS = 16


class S3Store:
    """Keys of DESIGN.md §3 in one bucket; a working copy under `workdir`."""

    def __init__(self, bucket: str, workdir: Path | None = None, client=None):
        import boto3

        self.bucket = bucket
        self.s3 = client or boto3.client("s3")
        self._root = Path(workdir).resolve() if workdir else None
        self._synced: dict[str, tuple[int, float]] = {}  # key -> (size, mtime) as last downloaded/uploaded

    @property
    def root(self) -> Path:
        """The working folder (made on first use, so URL-only callers create none)."""
        if self._root is None:
            self._root = Path(tempfile.mkdtemp(prefix="splatlib-")).resolve()
        return self._root

    def path(self, key: str) -> Path:
        """Working-copy path of a key."""
        return self.root / check_key(key)

    def _objects(self, prefix: str):
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=check_key(prefix) + "/"):
            yield from page.get("Contents", [])

    def local_dir(self, prefix: str) -> Path:
        """The working folder of `prefix`, filled with the bucket's objects under it."""
        folder = self.path(prefix)
        folder.mkdir(parents=True, exist_ok=True)
        todo = []
        for obj in self._objects(prefix):
            dest = self.path(obj["Key"])
            if not (dest.is_file() and dest.stat().st_size == obj["Size"]):
                todo.append((obj["Key"], dest))
            else:
                self._remember(obj["Key"], dest)
        with ThreadPoolExecutor(_WORKERS) as pool:
            list(pool.map(lambda kd: self._download(*kd), todo))
        return folder

    def _download(self, key: str, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        self.s3.download_file(self.bucket, key, str(dest))
        self._remember(key, dest)

    def _remember(self, key: str, path: Path) -> None:
        st = path.stat()
        self._synced[key] = (st.st_size, st.st_mtime)

    def save_dir(self, prefix: str) -> None:
        """Upload the files under `prefix` that are new or changed since they were synced."""
        folder = self.path(prefix)
        todo = []
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            key = path.relative_to(self.root).as_posix()
            st = path.stat()
            if self._synced.get(key) != (st.st_size, st.st_mtime):
                todo.append((key, path))
        with ThreadPoolExecutor(_WORKERS) as pool:
            list(pool.map(lambda kp: self.put_file(*kp), todo))

    def put_file(self, key: str, src: Path) -> None:
        """Upload one file under `key` (with a content type guessed from its name)."""
        kind = mimetypes.guess_type(str(src))[0] or "application/octet-stream"
        self.s3.upload_file(str(src), self.bucket, check_key(key), ExtraArgs={"ContentType": kind})
        if Path(src).resolve() == self.path(key):
            self._remember(key, Path(src))

    def exists(self, key: str) -> bool:
        """Whether an object or a prefix with objects exists under `key`."""
        listing = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=check_key(key), MaxKeys=1)
        return any(o["Key"] == key or o["Key"].startswith(key + "/") for o in listing.get("Contents", []))

    def size(self, prefix: str) -> int:
        """Total bytes of the object `prefix` or of the objects under it."""
        listing = self.s3.list_objects_v2(Bucket=self.bucket, Prefix=check_key(prefix), MaxKeys=1)
        exact = [o for o in listing.get("Contents", []) if o["Key"] == prefix]
        return exact[0]["Size"] if exact else sum(o["Size"] for o in self._objects(prefix))

    def delete_prefix(self, prefix: str) -> None:
        """Delete every object under `prefix` (and the object `prefix` itself)."""
        keys = [o["Key"] for o in self._objects(prefix)]
        if self.exists(prefix) and prefix not in keys:
            keys.append(prefix)
        for start in range(0, len(keys), 1000):
            self.s3.delete_objects(Bucket=self.bucket, Delete={
                "Objects": [{"Key": k} for k in keys[start:start + 1000]], "Quiet": True})
        for key in keys:
            self._synced.pop(key, None)

    def presigned_post(self, key: str, max_bytes: int, expires: int = 3600) -> dict:
        """A time-limited browser upload (url + form fields) of one object of 1 to `max_bytes` bytes."""
        return self.s3.generate_presigned_post(self.bucket, check_key(key), ExpiresIn=expires,
                                               Conditions=[["content-length-range", 1, max_bytes]])

    def presigned_url(self, key: str, expires: int = 3600) -> str:
        """A time-limited GET URL for one object."""
        return self.s3.generate_presigned_url("get_object", Params={"Bucket": self.bucket, "Key": check_key(key)},
                                              ExpiresIn=expires)


def workdir_from_env() -> Path:
    """A fresh working folder inside $WORK_DIR, or inside the system temp dir (/tmp on Lambda)."""
    return Path(tempfile.mkdtemp(prefix="splatlib-", dir=os.environ.get("WORK_DIR") or None))
