"""Lambda handlers of the HTTP API (API Gateway HTTP API, payload format 2.0) and the upload trigger.

The scene routes are the local server's (`splatlib.scene_api`: same JSON, same errors); only
creating a scene differs, since the upload goes straight to S3:

- `POST /api/scenes` {"filename", "title"?, "options"?}: records a queued scene and returns it with a
  presigned POST (size-limited) for the video; nothing runs until the upload lands.
- `GET /api/scenes[?status=…&limit=…&offset=…]`, `GET /api/scenes/{id}`: the library; file URLs are
  presigned S3 URLs.
- `POST /api/scenes/{id}/retry`: start a failed or stopped scene again (finished stages are kept).
- `DELETE /api/scenes/{id}`: remove a scene that is not running, with its files.
- `GET /api/openapi.json`: the local server's API description, less the routes served only there.
- `upload_landed`: S3 ObjectCreated on `uploads/` starts the pipeline for that scene.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from dataclasses import asdict
from pathlib import Path, PurePosixPath
from urllib.parse import unquote_plus

import boto3

from ..errors import SceneNotFound
from ..layout import SceneKeys
from ..library import Scene, Status, new_scene_id
from ..media import VIDEO_SUFFIXES
from ..pipeline import PipelineOptions, safe_filename
from ..scene_api import ApiError, SceneService, as_api_error, error_body
from . import runtime
from .s3 import S3Store

log = logging.getLogger(__name__)

_UPLOAD_KEY = re.compile(r"^uploads/([a-z0-9]{12})/[^/]+$")
URL_SECONDS = 3600


OPENAPI = Path(__file__).resolve().parents[1] / "web" / "openapi.json"
"""The API's description, written from the local server's app (`tests/test_api_contract.py` keeps it current)."""


def _max_upload_bytes() -> int:
    return int(float(os.environ.get("MAX_UPLOAD_MB", "2048")) * 1024 ** 2)


def _response(status: int, body=None) -> dict:
    if body is None:
        return {"statusCode": status}
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps(body)}


def _store() -> S3Store:
    return S3Store(runtime.env("ASSETS_BUCKET"))


class StepFunctionsRunner:
    """Scenes run as Step Functions executions (`scene_api.Runner`)."""

    def running(self, scene: Scene) -> bool:
        """Whether the scene's execution runs (or is being started right now)."""
        if scene.status != Status.PROCESSING:
            return False
        if not (scene.worker or "").startswith("arn:"):
            return (scene.worker or "").startswith("start:") and time.time() - scene.updated_at < 300
        status = boto3.client("stepfunctions").describe_execution(executionArn=scene.worker)["status"]
        return status == "RUNNING"

    def start(self, scene: Scene) -> Scene | None:
        return start_execution(scene)


def service() -> SceneService:
    store = _store()
    return SceneService(runtime.catalog(), store, StepFunctionsRunner(),
                        lambda scene, name, key: store.presigned_url(key, URL_SECONDS))


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


def _create(body: dict) -> tuple[int, dict]:
    filename = str(body.get("filename") or "")
    if PurePosixPath(filename).suffix.lower() not in VIDEO_SUFFIXES:
        raise ApiError(400, f"'filename' must name a video ({', '.join(sorted(VIDEO_SUFFIXES))})")
    try:
        options = PipelineOptions(**(body.get("options") or {}))
    except (TypeError, ValueError) as exc:  # an unknown option, or a choice no stage knows
        raise ApiError(400, f"bad options: {exc}") from None
    scene_id = new_scene_id()
    title = str(body.get("title") or PurePosixPath(filename).stem)[:200]
    scene = Scene(id=scene_id, title=title, input_kind="video", options=asdict(options),
                  input_key=SceneKeys(scene_id).upload(safe_filename(filename)), message="waiting for the upload")
    runtime.catalog().put(scene)
    post = _store().presigned_post(scene.input_key, _max_upload_bytes(), URL_SECONDS)
    return 201, {"scene": service().present(scene), "upload": {"url": post["url"], "fields": post["fields"],
                                                               "maxBytes": _max_upload_bytes()}}


def _integer(query: dict, name: str, default: int) -> int:
    raw = query.get(name)
    if raw is None:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ApiError(400, f"bad request: {name} must be an integer, not {raw!r}") from None


def openapi() -> dict:
    """The local server's API description, with only the routes this handler serves."""
    doc = json.loads(OPENAPI.read_text())
    served = {}
    for route in ROUTES:
        method, path = route.split(" ", 1)
        path = path.replace("{id}", "{scene_id}")
        if path in doc["paths"] and method.lower() in doc["paths"][path]:
            served.setdefault(path, {})[method.lower()] = doc["paths"][path][method.lower()]
    doc["paths"] = served
    doc["info"]["description"] = ("Splat Library on AWS. Create a scene with JSON {filename, title?, options?}: the "
                                  "answer carries a presigned POST for the video, which goes straight to S3.")
    return doc


ROUTES = ("POST /api/scenes", "GET /api/scenes", "GET /api/scenes/{id}", "POST /api/scenes/{id}/retry",
          "DELETE /api/scenes/{id}", "GET /api/openapi.json")
"""The routes this handler serves; the API module's Terraform declares the same (a test compares them)."""


def _route(event: dict) -> tuple[int, dict | None]:
    route = event.get("routeKey", "")
    params = event.get("pathParameters") or {}
    query = event.get("queryStringParameters") or {}
    if route == "POST /api/scenes":
        try:
            body = json.loads(event.get("body") or "{}")
        except json.JSONDecodeError:
            raise ApiError(400, "the body must be JSON") from None
        return _create(body if isinstance(body, dict) else {})
    if route == "GET /api/openapi.json":
        return 200, openapi()
    scenes = service()
    if route == "GET /api/scenes":
        limit, offset = _integer(query, "limit", 50), _integer(query, "offset", 0)
        found = scenes.list(query.get("status"), limit, offset)
        return 200, {"scenes": [scenes.present(s) for s in found], "limit": limit, "offset": offset}
    if route == "GET /api/scenes/{id}":
        return 200, scenes.present(scenes.get(params.get("id", "")))
    if route == "POST /api/scenes/{id}/retry":
        return 202, scenes.present(scenes.retry(params.get("id", "")))
    if route == "DELETE /api/scenes/{id}":
        scenes.delete(params.get("id", ""))
        return 204, None
    raise ApiError(404, f"no route {route!r}")


def api(event: dict, context=None) -> dict:
    """API Gateway entry: routes, and answers errors in the shape of `scene_api.error_body`."""
    try:
        return _response(*_route(event))
    except Exception as exc:
        known = as_api_error(exc)
        if known is None:
            log.exception("unexpected error")
            known = ApiError(500, f"internal error ({type(exc).__name__}); the function's log has the details")
        return _response(known.status, error_body(known.status, str(known)))


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
