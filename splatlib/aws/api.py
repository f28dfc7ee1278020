"""Lambda handlers of the HTTP API (API Gateway HTTP API, payload format 2.0) and the upload trigger.

- `POST /scenes` {"filename", "title"?, "options"?}: records a queued scene and returns a
  presigned POST (size-limited) for the video; nothing runs until the upload lands.
- `GET /scenes[?status=…&limit=…]`, `GET /scenes/{id}`: the library, with download URLs.
- `POST /scenes/{id}/retry`: start a failed or stopped scene again (finished stages are kept).
- `DELETE /scenes/{id}`: remove a scene that is not running, with its files.
- `upload_landed`: S3 ObjectCreated on `uploads/` starts the pipeline for that scene.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import asdict
from pathlib import PurePosixPath
from urllib.parse import unquote_plus

import boto3

from ..errors import InputError, SceneNotFound, SplatError
from ..library import Scene, Status, new_scene_id, validate_scene_id
from ..media import VIDEO_SUFFIXES
from ..layout import SPZ, SceneKeys
from ..pipeline import PipelineOptions, safe_filename
from . import runtime
from .s3 import S3Store

log = logging.getLogger(__name__)

_UPLOAD_KEY = re.compile(r"^uploads/([a-z0-9]{12})/[^/]+$")
URL_SECONDS = 3600


class HttpError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


def _max_upload_bytes() -> int:
    return int(float(os.environ.get("MAX_UPLOAD_MB", "2048")) * 1024 ** 2)


def _response(status: int, body) -> dict:
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def _store() -> S3Store:
    return S3Store(runtime.env("ASSETS_BUCKET"))


def _scene_view(scene: Scene) -> dict:
    view = scene.to_dict()
    if scene.status == Status.COMPLETED:
        store = _store()
        view["downloads"] = {name: store.presigned_url(key, URL_SECONDS) for name, key in
                             (("splat", scene.splat_key), ("thumbnail", scene.thumbnail_key), ("ply", scene.ply_key),
                              ("spz", SceneKeys(scene.id).output(SPZ))) if key}
    return view


def start_execution(scene: Scene) -> Scene | None:
    """Claim the scene (a conditional update: of two deliveries of one S3 event, or two retries, one
    wins) and start the state machine for it, named after the scene and the claim's generation, so
    that a repeated start of the same attempt is the same execution. None if another caller won."""
    catalog = runtime.catalog()
    claimer = f"start:{scene.id}:{scene.generation + 1}"
    if not catalog.claim(scene.id, scene, claimer, time.time() + 3600):
        log.info("scene %s was started by another invocation", scene.id)
        return None
    sfn = boto3.client("stepfunctions")
    run = sfn.start_execution(stateMachineArn=runtime.env("STATE_MACHINE_ARN"),
                              name=f"{scene.id}-{scene.generation + 1}",
                              input=json.dumps({"sceneId": scene.id, "videoKey": scene.input_key}))
    return catalog.update(scene.id, (claimer, scene.generation + 1), worker=run["executionArn"], message="started")


def _running(scene: Scene) -> bool:
    """Whether the scene's execution runs (or is being started right now)."""
    if scene.status != Status.PROCESSING:
        return False
    if not (scene.worker or "").startswith("arn:"):
        return (scene.worker or "").startswith("start:") and time.time() - scene.updated_at < 300
    status = boto3.client("stepfunctions").describe_execution(executionArn=scene.worker)["status"]
    return status == "RUNNING"


def _create(body: dict) -> tuple[int, dict]:
    filename = str(body.get("filename") or "")
    if PurePosixPath(filename).suffix.lower() not in VIDEO_SUFFIXES:
        raise HttpError(400, f"'filename' must name a video ({', '.join(sorted(VIDEO_SUFFIXES))})")
    try:
        options = PipelineOptions(**(body.get("options") or {}))
    except (TypeError, ValueError) as exc:  # an unknown option, or a choice no stage knows
        raise HttpError(400, f"bad options: {exc}") from None
    scene_id = new_scene_id()
    title = str(body.get("title") or PurePosixPath(filename).stem)[:200]
    scene = Scene(id=scene_id, title=title, input_kind="video", options=asdict(options),
                  input_key=SceneKeys(scene_id).upload(safe_filename(filename)), message="waiting for the upload")
    runtime.catalog().put(scene)
    post = _store().presigned_post(scene.input_key, _max_upload_bytes(), URL_SECONDS)
    return 201, {"scene": scene.to_dict(), "upload": {"url": post["url"], "fields": post["fields"],
                                                      "maxBytes": _max_upload_bytes()}}


def _route(event: dict) -> tuple[int, dict]:
    route = event.get("routeKey", "")
    params = event.get("pathParameters") or {}
    query = event.get("queryStringParameters") or {}
    catalog = runtime.catalog()
    if route == "POST /scenes":
        try:
            body = json.loads(event.get("body") or "{}")
        except json.JSONDecodeError:
            raise HttpError(400, "the body must be JSON") from None
        return _create(body if isinstance(body, dict) else {})
    if route == "GET /scenes":
        status = query.get("status")
        if status and status not in {s.value for s in Status}:
            raise HttpError(400, f"unknown status {status!r}")
        raw = str(query.get("limit", "100"))
        limit = min(max(int(raw), 1), 500) if raw.isdigit() else 100
        return 200, {"scenes": [s.to_dict() for s in catalog.list(Status(status) if status else None, limit)]}
    scene = catalog.get(validate_scene_id(params.get("id")))
    if route == "GET /scenes/{id}":
        return 200, _scene_view(scene)
    if route == "POST /scenes/{id}/retry":
        # a failed or stopped scene, or one whose start never reached a running execution
        if scene.status not in (Status.FAILED, Status.STOPPED, Status.PROCESSING) or _running(scene):
            raise HttpError(409, f"scene {scene.id} is {scene.status.value}; only failed or stopped scenes are retried")
        started = start_execution(scene)
        if started is None:
            raise HttpError(409, f"scene {scene.id} was just started by another request")
        return 202, started.to_dict()
    if route == "DELETE /scenes/{id}":
        if _running(scene):
            raise HttpError(409, f"scene {scene.id} is being processed; wait for it to finish")
        if not catalog.delete(scene.id, scene):  # the record first, only if nobody started it meanwhile
            raise HttpError(409, f"scene {scene.id} was just started; wait for it to finish")
        store = _store()
        for prefix in SceneKeys(scene.id).prefixes():
            store.delete_prefix(prefix)
        return 200, {"deleted": scene.id}
    raise HttpError(404, f"no route {route!r}")


def api(event: dict, context=None) -> dict:
    """API Gateway entry: routes, and turns errors into JSON with the right status code."""
    try:
        return _response(*_route(event))
    except HttpError as exc:
        return _response(exc.status, {"error": str(exc)})
    except SceneNotFound as exc:
        return _response(404, {"error": str(exc)})
    except (InputError, SplatError) as exc:
        return _response(400, {"error": str(exc)})


def upload_landed(event: dict, context=None) -> dict:
    """S3 ObjectCreated under `uploads/`: start the pipeline of the scene that was waiting for it."""
    started = []
    catalog = runtime.catalog()
    for record in event.get("Records", []):
        key = unquote_plus(record.get("s3", {}).get("object", {}).get("key", ""))
        match = _UPLOAD_KEY.match(key)
        if not match:
            log.warning("ignoring object %r: not a scene upload", key)
            continue
        try:
            scene = catalog.get(match.group(1))
        except SceneNotFound:
            log.warning("ignoring upload %r: no such scene", key)
            continue
        if scene.input_key != key or scene.status != Status.QUEUED:  # S3 delivers an event at least once
            log.warning("ignoring upload %r for scene %s (%s)", key, scene.id, scene.status.value)
            continue
        if start_execution(scene) is not None:
            started.append(scene.id)
    return {"started": started}
