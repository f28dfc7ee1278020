"""One API, two back ends: the same HTTP cases against the local server (FastAPI's TestClient) and the
AWS API handler (API Gateway HTTP API events, payload format 2.0, against moto).

Each back end is a `Backend`: `request(method, path, query)` answers (status, JSON body or None), and
`seed(scene, files)` puts a record and its output files where that back end keeps them. Creating a
scene is left out: the upload protocols differ on purpose (multipart here, presigned POST to S3
there), and each back end's own tests cover it.
"""

from __future__ import annotations

import json
import os
import re
import socket
import time
from dataclasses import dataclass
from typing import Callable

import boto3
import pytest
import requests
from fastapi.testclient import TestClient
from moto import mock_aws

from splatlib.aws import api as aws_api
from splatlib.aws import runtime
from splatlib.layout import SPLAT, THUMBNAIL, SceneKeys
from splatlib.library import LocalStore, Scene, SQLiteCatalog, Status, new_scene_id
from splatlib.scene_api import ERROR_CODES
from splatlib.web.app import Settings, create_app

from .api_gateway import event as gateway_event
from .aws_env import BUCKET, REGION, TABLE, create_bucket, create_table
from .helpers import INFRA

OPENAPI_FILE = aws_api.OPENAPI
RECORD_KEYS = set(Scene(id="abcdefabcdef", title="t").to_dict())


@dataclass
class Backend:
    name: str
    request: Callable[..., tuple[int, dict | None]]
    seed: Callable[[Scene, dict[str, bytes]], None]
    fetch: Callable[[str], bytes]  # a file's URL as `files` gives it -> its bytes
    make_running: Callable[[str], None]  # make a scene's runner report it running
    stored: Callable[[], list[str]]  # every key in the back end's store


def _local(tmp_path) -> Backend:
    home = tmp_path / "lib"
    client = TestClient(create_app(Settings(home=home, run_workers=False, allowed_hosts=("testserver",))),
                        headers={"X-Splatlib-Client": "1"})
    catalog, store = SQLiteCatalog(home / "catalog.sqlite"), LocalStore(home / "store")

    def request(method: str, path: str, query: dict | None = None):
        r = client.request(method, path, params=query)
        return r.status_code, r.json() if r.content else None

    def seed(scene: Scene, files: dict[str, bytes]) -> None:
        for key, data in files.items():
            store.path(key).parent.mkdir(parents=True, exist_ok=True)
            store.path(key).write_bytes(data)
        catalog.put(scene)

    def make_running(scene_id: str) -> None:  # this process, alive, with a lease
        catalog.update(scene_id, status=Status.PROCESSING, worker=f"{socket.gethostname()}:{os.getpid()}",
                       lease_until=time.time() + 600)

    def stored() -> list[str]:
        return [p.relative_to(store.root).as_posix() for p in store.root.rglob("*") if p.is_file()]

    return Backend("local", request, seed, lambda url: client.get(url).content, make_running, stored)


def _aws(monkeypatch, tmp_path) -> Backend:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION, "ASSETS_BUCKET": BUCKET, "SCENES_TABLE": TABLE,
                        "WORK_DIR": str(tmp_path / "work")}.items():
        monkeypatch.setenv(name, value)
    create_bucket()
    create_table()
    sfn = boto3.client("stepfunctions", region_name=REGION)
    role = "arn:aws:iam::123456789012:role/splat-test"
    machine = sfn.create_state_machine(name="splat-contract", roleArn=role, definition=json.dumps(
        {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}))
    monkeypatch.setenv("STATE_MACHINE_ARN", machine["stateMachineArn"])

    def request(method: str, path: str, query: dict | None = None):
        out = aws_api.api(gateway_event(method, path, query))
        assert set(out) <= {"statusCode", "headers", "body", "isBase64Encoded", "cookies"}, out  # format 2.0
        return out["statusCode"], json.loads(out["body"]) if out.get("body") else None

    def seed(scene: Scene, files: dict[str, bytes]) -> None:
        s3 = boto3.client("s3", region_name=REGION)
        for key, data in files.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=data)
        runtime.catalog().put(scene)

    def make_running(scene_id: str) -> None:
        scene = runtime.catalog().get(scene_id)
        if scene.status != Status.PROCESSING:
            assert aws_api.start_execution(scene) is not None

    def stored() -> list[str]:
        listing = boto3.client("s3", region_name=REGION).list_objects_v2(Bucket=BUCKET)
        return [item["Key"] for item in listing.get("Contents", [])]

    return Backend("aws", request, seed, lambda url: requests.get(url, timeout=10).content, make_running, stored)


@pytest.fixture(params=["local", "aws"])
def backend(request, tmp_path, monkeypatch):
    if request.param == "local":
        yield _local(tmp_path)
        return
    with mock_aws():
        yield _aws(monkeypatch, tmp_path)


def _completed(backend: Backend) -> tuple[Scene, dict[str, bytes]]:
    scene = Scene(id=new_scene_id(), title="Fountain", input_kind="video", status=Status.COMPLETED,
                  stages_done=["frames", "sfm", "train", "convert"])
    k = SceneKeys(scene.id)
    scene.input_key = k.upload("clip.mp4")
    scene.splat_key, scene.thumbnail_key = k.output(SPLAT), k.output(THUMBNAIL)
    files = {scene.input_key: b"video", scene.splat_key: b"\x01" * 64, scene.thumbnail_key: b"\xff\xd8jpeg"}
    scene.metrics = {"psnr": 24.5, "upload_bytes": 5,
                     "file_bytes": {scene.splat_key: 64, scene.thumbnail_key: 6}}
    backend.seed(scene, files)
    return scene, files


def _failed(backend: Backend) -> Scene:
    scene = Scene(id=new_scene_id(), title="Broken", input_kind="video", status=Status.FAILED,
                  stages_done=["frames"], error="sfm failed: only 2 of 40 frames could be placed",
                  error_stage="sfm")
    scene.input_key = SceneKeys(scene.id).upload("clip.mp4")
    scene.metrics = {"upload_bytes": 5, "file_bytes": {}}
    backend.seed(scene, {scene.input_key: b"video", f"frames/{scene.id}/frame_0001.jpg": b"jpeg"})
    return scene


def _without_urls(value):
    """A JSON value less its URLs (a presigned one is signed anew at every answer)."""
    if isinstance(value, dict):
        return {k: _without_urls(v) for k, v in value.items() if k != "url"}
    return [_without_urls(v) for v in value] if isinstance(value, list) else value


def assert_error(answer: tuple[int, dict | None], status: int, words: str = "") -> None:
    code, body = answer
    assert code == status, body
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert body["error"]["code"] == ERROR_CODES[status] and words in body["error"]["message"], body


def test_an_empty_library(backend):
    assert backend.request("GET", "/api/scenes") == (200, {"scenes": [], "limit": 50, "offset": 0})


def test_malformed_requests_are_400_and_unknown_scenes_404(backend):
    assert_error(backend.request("GET", "/api/scenes", {"status": "bogus"}), 400, "unknown status 'bogus'")
    assert_error(backend.request("GET", "/api/scenes", {"limit": 0}), 400, "limit")
    assert_error(backend.request("GET", "/api/scenes", {"limit": "many"}), 400, "limit")
    assert_error(backend.request("GET", "/api/scenes", {"offset": -1}), 400, "offset")
    assert_error(backend.request("GET", "/api/scenes/NOT-AN-ID"), 400, "scene id")
    assert_error(backend.request("GET", "/api/scenes/abcdefabcdef"), 404, "abcdefabcdef")
    assert_error(backend.request("POST", "/api/scenes/abcdefabcdef/retry"), 404)
    assert_error(backend.request("DELETE", "/api/scenes/abcdefabcdef"), 404)


def test_a_completed_scene_reads_the_same(backend):
    scene, files = _completed(backend)
    status, shown = backend.request("GET", f"/api/scenes/{scene.id}")
    assert status == 200 and set(shown) == RECORD_KEYS | {"files", "uploadBytes"}
    assert shown["id"] == scene.id and shown["status"] == "completed" and shown["uploadBytes"] == 5
    assert set(shown["files"]) == {"scene.splat", "thumbnail.jpg"}  # those the record has
    for name, key in (("scene.splat", scene.splat_key), ("thumbnail.jpg", scene.thumbnail_key)):
        assert shown["files"][name]["bytes"] == len(files[key])
        assert backend.fetch(shown["files"][name]["url"]) == files[key]
    status, listed = backend.request("GET", "/api/scenes", {"status": "completed", "limit": 10})
    assert status == 200 and _without_urls(listed) == {"scenes": [_without_urls(shown)], "limit": 10, "offset": 0}
    assert backend.request("GET", "/api/scenes", {"offset": 1})[1]["scenes"] == []
    assert_error(backend.request("POST", f"/api/scenes/{scene.id}/retry"), 409, "only failed or stopped")


def test_retry_keeps_finished_stages_and_a_running_scene_is_left_alone(backend):
    scene = _failed(backend)
    status, retried = backend.request("POST", f"/api/scenes/{scene.id}/retry")
    assert status == 202 and retried["stagesDone"] == ["frames"] and retried["error"] is None
    assert retried["status"] in ("queued", "processing")  # a local worker picks it up; AWS started it
    backend.make_running(scene.id)
    assert_error(backend.request("POST", f"/api/scenes/{scene.id}/retry"), 409)
    assert_error(backend.request("DELETE", f"/api/scenes/{scene.id}"), 409, "wait for it to finish")
    assert backend.request("GET", f"/api/scenes/{scene.id}")[0] == 200


def test_delete_removes_the_record_and_every_file(backend):
    scene = _failed(backend)
    assert backend.request("DELETE", f"/api/scenes/{scene.id}") == (204, None)
    assert_error(backend.request("GET", f"/api/scenes/{scene.id}"), 404)
    assert backend.request("GET", "/api/scenes")[1]["scenes"] == []
    assert backend.stored() == []


def test_both_describe_the_api_with_the_same_document(backend):
    status, doc = backend.request("GET", "/api/openapi.json")
    assert status == 200
    local = json.loads(OPENAPI_FILE.read_text())
    assert "ErrorBody" in doc["components"]["schemas"]
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            assert operation == local["paths"][path][method], (path, method)
    served = {f"{m.upper()} {p}" for p, ops in doc["paths"].items() for m in ops}
    expected = {"GET /api/scenes", "GET /api/scenes/{scene_id}", "POST /api/scenes/{scene_id}/retry",
                "DELETE /api/scenes/{scene_id}"}
    assert expected <= served


def test_the_committed_api_document_is_the_servers():
    """`splatlib/web/openapi.json` (served by the AWS handler) is what the local app generates.
    To refresh it: UPDATE_OPENAPI=1 pytest tests/test_api_contract.py -k committed"""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as home:
        generated = create_app(Settings(home=Path(home), run_workers=False)).openapi()
    text = json.dumps(generated, indent=1, sort_keys=True) + "\n"
    if os.environ.get("UPDATE_OPENAPI"):
        OPENAPI_FILE.write_text(text)
    assert OPENAPI_FILE.read_text() == text, "run: UPDATE_OPENAPI=1 pytest tests/test_api_contract.py -k committed"


def test_api_gateway_routes_are_the_handlers():
    text = (INFRA / "modules" / "api" / "main.tf").read_text()
    block = re.search(r"routes\s*=\s*\[(.*?)\]", text, re.S).group(1)
    assert tuple(re.findall(r'"([^"]+)"', block)) == aws_api.ROUTES
