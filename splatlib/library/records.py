"""The scene record and its status machine."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass, field
from enum import Enum

from ..errors import InputError

_ID_RE = re.compile(r"^[a-z0-9]{12}$")


class Status(str, Enum):
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    STOPPED = "stopped"  # stopped on request after a stage (`--until`); `retry` continues it


def new_scene_id() -> str:
    """A fresh random scene id: 12 lowercase base-36 characters."""
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "".join(secrets.choice(alphabet) for _ in range(12))


def validate_scene_id(scene_id: str) -> str:
    """Return `scene_id` if it has the shape of a generated id; InputError otherwise."""
    if not isinstance(scene_id, str) or not _ID_RE.fullmatch(scene_id):  # match() took "…\n" as well
        raise InputError(f"{scene_id!r} is not a valid scene id")
    return scene_id


@dataclass
class Scene:
    """One scene: the same fields in SQLite and DynamoDB (camelCase keys in `to_dict`)."""

    id: str
    title: str
    status: Status = Status.QUEUED
    input_key: str = ""  # uploads/{id}/… : the original, never modified
    input_kind: str = "video"  # video | photos
    stage: str | None = None  # current or last stage
    progress: float = 0.0  # of the current stage, 0..1
    message: str = ""  # short progress text of the current stage
    eta_seconds: float | None = None  # estimated time left of the current stage, from its pace so far
    stages_done: list[str] = field(default_factory=list)
    options: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    error: str | None = None
    error_stage: str | None = None
    splat_key: str | None = None
    ply_key: str | None = None
    thumbnail_key: str | None = None
    worker: str | None = None  # host:pid of the process running it
    lease_until: float | None = None  # the worker renews this while it runs the scene
    generation: int = 0  # claims so far: with `worker`, the fencing token of the process that owns the scene
    created_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    completed_at: float | None = None

    def to_dict(self) -> dict:
        """JSON-ready dict with the spec's camelCase keys (splatKey, thumbnailKey, completedAt, …).

        Nested values (options, metrics, stages_done) are the record's own, not copies: listing a
        thousand scenes spent 60 ms deep-copying them with `asdict`.
        """
        d = {key: getattr(self, name) for name, key in _RECORD_KEYS}
        d["status"] = self.status.value
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Scene":
        """Inverse of `to_dict`."""
        values = {snake(k): v for k, v in d.items()}
        values["status"] = Status(values.get("status", "queued"))
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in values.items() if k in known})


def camel(name: str) -> str:
    """The record key of a field: `splat_key` -> `splatKey`."""
    head, *rest = name.split("_")
    return head + "".join(w.capitalize() for w in rest)


def snake(name: str) -> str:
    """Inverse of `camel`."""
    return re.sub(r"([A-Z])", lambda m: "_" + m.group(1).lower(), name)


_RECORD_KEYS = tuple((name, camel(name)) for name in Scene.__dataclass_fields__)
