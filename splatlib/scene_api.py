"""The scene API that both back ends serve (the local server and AWS's HTTP API), in one place.

- `SceneService`: list, show, retry and delete scenes over a `Catalog` and a `BlobStore`, with a
  back end's `Runner` for what differs (a local worker queue, or Step Functions executions);
- `SceneService.present`: the one JSON form of a scene (its record, `files` with a URL and the size
  of each, `uploadBytes`);
- `ApiError` and `error_body`: the one error shape, `{"error": {"code": …, "message": …}}`, with the
  status and code of each error a user can cause.

The CLI, `splatlib.web.app` and `splatlib.aws.api` use it; `tests/test_api_contract.py` runs the
same HTTP cases against both back ends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Callable, Protocol

from .errors import DiskFull, InputError, SceneBusy, SceneNotFound, SplatError
from .layout import (CAMERAS, CLEAN_PLY, CLEAN_SPLAT, CLEAN_SPZ, HOLDOUT, METRICS, PREVIEW, SOG, SPLAT, SPZ, THUMBNAIL,
                     VIDEO, SceneKeys)
from .library import BlobStore, Catalog, Scene, Status, validate_scene_id

PLY = "point_cloud.ply"
DOWNLOADS = {  # public name → (file under outputs/{id}/, None for the trained PLY; content type)
    SPLAT: (SPLAT, "application/octet-stream"),
    SPZ: (SPZ, "application/octet-stream"),
    SOG: (SOG, "application/zip"),
    PLY: (None, "application/octet-stream"),
    THUMBNAIL: (THUMBNAIL, "image/jpeg"),
    PREVIEW: (PREVIEW, "video/mp4"),
    VIDEO: (VIDEO, "video/mp4"),
    HOLDOUT: (HOLDOUT, "image/jpeg"),
    METRICS: (METRICS, "application/json"),
    "clean.splat": (CLEAN_SPLAT, "application/octet-stream"),  # a clean-up writes these
    "clean.spz": (CLEAN_SPZ, "application/octet-stream"),
    "clean.ply": (CLEAN_PLY, "application/octet-stream"),
}
MAX_LIMIT = 500

ERROR_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
               409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "invalid",
               500: "internal_error", 507: "insufficient_storage"}


def capture_cameras(scene: Scene, store) -> list[dict]:
    """The cameras of a completed scene (a video is rendered along them), from a local store;
    InputError while the scene has none."""
    key = SceneKeys(scene.id).output(CAMERAS)
    if scene.status != Status.COMPLETED or not scene.ply_key or not store.exists(key):
        raise InputError(f"scene {scene.id} is {scene.status.value}: only a completed scene can be rendered")
    return json.loads(store.path(key).read_text())


class ApiError(Exception):
    """An error answered to an API client: HTTP status and a message for a person (`error_body`
    adds the status's code)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def error_body(status: int, message: str) -> dict:
    """The error shape of both back ends."""
    return {"error": {"code": ERROR_CODES.get(status, "error"), "message": message}}


def as_api_error(exc: Exception) -> ApiError | None:
    """The API error for one of our exceptions (None for anything else: a bug, answered 500)."""
    if isinstance(exc, ApiError):
        return exc
    for kind, status in ((SceneNotFound, 404), (SceneBusy, 409), (DiskFull, 507), (InputError, 400), (SplatError, 400)):
        if isinstance(exc, kind):
            return ApiError(status, str(exc))
    return None


class Runner(Protocol):
    """What a back end does to run scenes."""

    def running(self, scene: Scene) -> bool:
        """Whether something runs the scene now (or is starting it)."""

    def start(self, scene: Scene) -> Scene | None:
        """Queue or start a failed, stopped or abandoned scene again; None if another caller just did."""


FileUrl = Callable[[Scene, str, str], str]
"""(scene, public file name, store key) → the URL a client downloads it from."""


@dataclass
class SceneService:
    catalog: Catalog
    store: BlobStore
    runner: Runner
    file_url: FileUrl

    def list(self, status: str | None = None, limit: int = 50, offset: int = 0) -> list[Scene]:
        """Scenes newest first, optionally with one status."""
        if status is not None and status not in {s.value for s in Status}:
            raise ApiError(400, f"unknown status {status!r}; one of {', '.join(s.value for s in Status)}")
        if not 1 <= limit <= MAX_LIMIT or not 0 <= offset <= 10 ** 9:
            raise ApiError(400, f"limit must be from 1 to {MAX_LIMIT} and offset from 0 to 10^9")
        return self.catalog.list(Status(status) if status else None, limit, offset)

    def get(self, scene_id: str) -> Scene:
        """The scene with this id (InputError for a malformed id, SceneNotFound for an unknown one:
        400 and 404 by `as_api_error`)."""
        return self.catalog.get(validate_scene_id(scene_id))

    def retry(self, scene_id: str) -> Scene:
        """Run a failed or stopped scene (or one whose worker died) again; finished stages are kept."""
        scene = self.get(scene_id)
        if scene.status not in (Status.FAILED, Status.STOPPED, Status.PROCESSING) or self.runner.running(scene):
            raise ApiError(409, f"scene {scene.id} is {scene.status.value}; only failed or stopped scenes are retried")
        started = self.runner.start(scene)
        if started is None:
            raise ApiError(409, f"scene {scene.id} was just started by another request")
        return started

    def delete(self, scene_id: str) -> None:
        """Remove a scene that nothing runs, with all its files. The record goes first, and only if
        nobody claimed the scene since it was read, so nothing runs a scene whose files are gone."""
        scene = self.get(scene_id)
        if self.runner.running(scene):
            raise ApiError(409, f"scene {scene.id} is being processed ({scene.worker}); wait for it to finish")
        if not self.catalog.delete(scene.id, scene):
            raise ApiError(409, f"scene {scene.id} was just started; wait for it to finish")
        for prefix in SceneKeys(scene.id).prefixes():
            self.store.delete_prefix(prefix)

    def file_key(self, scene: Scene, name: str) -> str | None:
        """The store key of a downloadable file, by its public name (404 for a name we do not offer)."""
        if name not in DOWNLOADS:
            raise ApiError(404, f"unknown file {name!r}; available: {', '.join(DOWNLOADS)}")
        key = DOWNLOADS[name][0]
        return scene.ply_key if key is None else SceneKeys(scene.id).output(key)

    def present(self, scene: Scene) -> dict:
        """The scene's JSON: its record, `files` (name → url, bytes: those that exist) and `uploadBytes`.

        Sizes come from the record (the stages keep them), so a listing reads no files; a record from
        before they were kept falls back to the store."""
        view = scene.to_dict()
        recorded = scene.metrics.get("file_bytes")
        files = {}
        for name in DOWNLOADS:
            key = self.file_key(scene, name)
            if not key:
                continue
            size = recorded.get(key) if recorded is not None else self.store.size(key) if self.store.exists(key) else None
            if size is not None:
                files[name] = {"url": self.file_url(scene, name, key), "bytes": size}
        view["files"] = files
        view["uploadBytes"] = scene.metrics.get("upload_bytes") if "upload_bytes" in scene.metrics else \
            self.store.size(scene.input_key) if scene.input_key and self.store.exists(scene.input_key) else 0
        return view
