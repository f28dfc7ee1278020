"""Scene catalogs: the interface, and the SQLite implementation used on a laptop."""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Protocol

import orjson

from ..errors import LeaseLost, SceneNotFound
from .records import Scene, Status

_JSON_FIELDS = ("stages_done", "options", "metrics")
_FIELDS = tuple(Scene.__dataclass_fields__)
_COLUMNS = ", ".join(_FIELDS)  # selected by name: a library made by an older version has them in another order
_JSON_AT = tuple(_FIELDS.index(n) for n in _JSON_FIELDS)
_STAGES_DONE_AT, _STATUS_AT, _GENERATION_AT = (_FIELDS.index(n) for n in ("stages_done", "status", "generation"))


def _loads(text: str):
    """A JSON field: orjson (a fifth of the time of `json`, most of a listing's), `json` for what only
    it reads (NaN, written by `json.dumps` before any check refused it)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


Owner = tuple[str, int]
"""(worker, generation) of a claim: an update made as owner succeeds only while that claim holds."""


def lease_lost(scene_id: str, owner: Owner) -> LeaseLost:
    return LeaseLost(f"scene {scene_id} was taken over by another process while this one ({owner[0]}) was paused "
                     "past its lease; stopping without writing its state or outputs")


class Catalog(Protocol):
    """Where scene records live (SQLite here, DynamoDB on AWS)."""

    def put(self, scene: Scene) -> None: ...

    def get(self, scene_id: str) -> Scene: ...

    def update(self, scene_id: str, owner: Owner | None = None, **fields) -> Scene: ...

    def list(self, status: Status | None = None, limit: int = 100, offset: int = 0) -> list[Scene]: ...

    def delete(self, scene_id: str, seen: Scene | None = None) -> bool: ...

    def claim(self, scene_id: str, seen: Scene, worker: str, lease_until: float) -> bool: ...


class SQLiteCatalog:
    """Scene records in one SQLite file; safe for several threads and processes."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        columns = ", ".join(f"{name} {'TEXT PRIMARY KEY' if name == 'id' else ''}"
                            for name in Scene.__dataclass_fields__)
        with self._conn() as db:
            db.execute(f"CREATE TABLE IF NOT EXISTS scenes ({columns})")
            have = {row["name"] for row in db.execute("PRAGMA table_info(scenes)")}
            for name in Scene.__dataclass_fields__:  # libraries made by an older version gain new fields
                if name not in have:
                    db.execute(f"ALTER TABLE scenes ADD COLUMN {name}")
            db.execute("CREATE INDEX IF NOT EXISTS scenes_created ON scenes (created_at)")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    @staticmethod
    def _encode(name: str, value):
        if name in _JSON_FIELDS:
            return json.dumps(value)
        if name == "status":
            return Status(value).value
        return value

    @staticmethod
    def _decode(row: sqlite3.Row | tuple) -> Scene:
        """A record from a row of `_COLUMNS` (in the dataclass's field order)."""
        v = list(row)
        for i in _JSON_AT:
            v[i] = _loads(v[i]) if v[i] else ({} if i != _STAGES_DONE_AT else [])
        v[_STATUS_AT] = Status(v[_STATUS_AT])
        v[_GENERATION_AT] = v[_GENERATION_AT] or 0  # a record from before fencing
        return Scene(*v)

    def put(self, scene: Scene) -> None:
        """Insert or replace a whole record."""
        names = list(Scene.__dataclass_fields__)
        values = [self._encode(n, getattr(scene, n)) for n in names]
        self._conn().execute(
            f"INSERT OR REPLACE INTO scenes ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})", values)

    def get(self, scene_id: str) -> Scene:
        """The record with that id; SceneNotFound if there is none."""
        row = self._conn().execute(f"SELECT {_COLUMNS} FROM scenes WHERE id = ?", (scene_id,)).fetchone()
        if row is None:
            raise SceneNotFound(f"no scene with id {scene_id}")
        return self._decode(row)

    def update(self, scene_id: str, owner: Owner | None = None, **fields) -> Scene:
        """Set some fields (and updated_at) atomically; returns the new record.

        With `owner`, only while that claim still holds the scene (LeaseLost otherwise)."""
        unknown = set(fields) - set(Scene.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown scene fields: {sorted(unknown)}")
        fields.setdefault("updated_at", time.time())
        sets = ", ".join(f"{k} = ?" for k in fields)
        where, args = "id = ?", [scene_id]
        if owner is not None:
            where += " AND worker = ? AND IFNULL(generation, 0) = ?"
            args += list(owner)
        cur = self._conn().execute(f"UPDATE scenes SET {sets} WHERE {where}",
                                   [self._encode(k, v) for k, v in fields.items()] + args)
        if cur.rowcount == 0:
            self.get(scene_id)  # SceneNotFound if it is gone
            raise lease_lost(scene_id, owner)
        return self.get(scene_id)

    def list(self, status: Status | None = None, limit: int = 100, offset: int = 0) -> list[Scene]:
        """Scenes newest first, optionally only those with one status."""
        where, args = ("WHERE status = ?", [Status(status).value]) if status else ("", [])
        rows = self._conn().execute(
            f"SELECT {_COLUMNS} FROM scenes {where} ORDER BY created_at DESC LIMIT ? OFFSET ?", args + [limit, offset])
        return [self._decode(r) for r in rows]

    def claim(self, scene_id: str, seen: Scene, worker: str, lease_until: float) -> bool:
        """Mark the scene processing by `worker` if nobody changed its status, owner or generation since
        `seen`; the claim's generation is `seen.generation + 1`.

        Two processes that saw the same record race here; exactly one wins.
        """
        cur = self._conn().execute(
            "UPDATE scenes SET status = ?, worker = ?, lease_until = ?, generation = ?, error = NULL, "
            "error_stage = NULL, updated_at = ? WHERE id = ? AND status = ? AND IFNULL(worker, '') = ? "
            "AND IFNULL(lease_until, 0) = ? AND IFNULL(generation, 0) = ?",
            (Status.PROCESSING.value, worker, lease_until, seen.generation + 1, time.time(), scene_id,
             seen.status.value, seen.worker or "", seen.lease_until or 0, seen.generation))
        return cur.rowcount == 1

    def delete(self, scene_id: str, seen: Scene | None = None) -> bool:
        """Remove a record (with `seen`: only if its status, owner and generation are still those);
        False if `seen` is out of date, SceneNotFound if there is no record."""
        where, args = "id = ?", [scene_id]
        if seen is not None:
            where += " AND status = ? AND IFNULL(worker, '') = ? AND IFNULL(generation, 0) = ?"
            args += [seen.status.value, seen.worker or "", seen.generation]
        if self._conn().execute(f"DELETE FROM scenes WHERE {where}", args).rowcount == 0:
            self.get(scene_id)  # SceneNotFound if it is gone
            return False
        return True
