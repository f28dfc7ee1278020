"""The gallery on AWS in Chromium: the static site (`splatlib site`), Cognito sign-in, the browser
API (our handler behind an API Gateway stand-in with a JWT authorizer and CORS), a presigned POST
straight to S3, the pipeline's adapters, and the viewer reading presigned file URLs.

Services come from a moto server on loopback. S3's event delivery and Step Functions are played by
the test (a new upload → `upload_landed`, then the stages' Lambda handlers and Batch entrypoints in
the state machine's order; test_aws_pipeline runs the real state machine). What only a real
account shows: CloudFront and its origin access control, the real authorizer, S3's bucket CORS
(moto's server allows every origin).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote_plus

import boto3
import numpy as np
import pytest
import requests
from moto.server import ThreadedMotoServer
from PIL import Image

from splatlib.aws import api as aws_api
from splatlib.aws import batch, handlers
from splatlib.web.site import build_site

from .api_gateway import BrowserApi, jwks
from .aws_env import BUCKET, REGION, TABLE, create_bucket, create_table
from .helpers import ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("node") is None or not (ROOT / "node_modules" / "playwright-core").exists()
                       or not Path("/usr/bin/chromium").exists(), reason="needs node, `npm ci` and Debian's chromium"),
]
EMAIL, TEMPORARY, NEW = "first@example.com", "Temporary-pass-1", "Chosen-password-2"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def _serve(folder: Path) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _play_s3_events_and_step_functions(stop: threading.Event, problems: list[str]) -> None:
    """S3 delivers each new upload's event to upload_landed; each started scene then runs its stages
    through the same adapters the state machine calls, in its order, failures to HandleFailure."""
    s3 = boto3.client("s3", region_name=REGION)
    delivered: set[str] = set()
    while not stop.wait(0.5):
        for item in s3.list_objects_v2(Bucket=BUCKET, Prefix="uploads/").get("Contents", []):
            if item["Key"] in delivered:
                continue
            delivered.add(item["Key"])
            record = {"s3": {"bucket": {"name": BUCKET}, "object": {"key": quote_plus(item["Key"])}}}
            for scene_id in aws_api.upload_landed({"Records": [record]})["started"]:
                stage = "frames"
                try:
                    handlers.extract_frames({"sceneId": scene_id})
                    for stage in ("sfm", "train"):
                        if batch.run(stage, scene_id) != 0:
                            raise RuntimeError(f"the {stage} job exited non-zero")
                    stage = "convert"
                    handlers.convert({"sceneId": scene_id})
                except Exception as exc:  # what the state machine's Catch does
                    problems.append(f"{stage}: {exc}")
                    handlers.handle_failure({"sceneId": scene_id, "stage": stage, "error": {"Cause": str(exc)}})


@pytest.fixture
def aws_site(tmp_path, monkeypatch):
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    moto_url = "http://{}:{}".format(*moto.get_host_and_port())
    requests.post(f"{moto_url}/moto-api/reset", timeout=10)  # the backends are the process's: start empty
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_ENDPOINT_URL": moto_url,
                        "AWS_DEFAULT_REGION": REGION, "ASSETS_BUCKET": BUCKET, "SCENES_TABLE": TABLE,
                        "WORK_DIR": str(tmp_path / "work"), "MAX_UPLOAD_MB": "50"}.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "work").mkdir()
    create_bucket()
    create_table()
    machine = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name="splat-gallery", roleArn="arn:aws:iam::123456789012:role/splat-test", definition=json.dumps(
            {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}))
    monkeypatch.setenv("STATE_MACHINE_ARN", machine["stateMachineArn"])
    # the pool as infra/modules/gallery makes it, and an invited user (a temporary password)
    idp = boto3.client("cognito-idp", region_name=REGION)
    pool = idp.create_user_pool(PoolName="splat-users", UsernameAttributes=["email"],
                                AdminCreateUserConfig={"AllowAdminCreateUserOnly": True})["UserPool"]["Id"]
    client = idp.create_user_pool_client(
        UserPoolId=pool, ClientName="splat-gallery", GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    idp.admin_create_user(UserPoolId=pool, Username=EMAIL, TemporaryPassword=TEMPORARY, MessageAction="SUPPRESS")
    site = tmp_path / "site"
    build_site(site)
    pages = _serve(site)
    origin = f"http://127.0.0.1:{pages.server_address[1]}"
    boto3.client("s3", region_name=REGION).put_bucket_cors(Bucket=BUCKET, CORSConfiguration={"CORSRules": [
        {"AllowedMethods": ["GET", "POST"], "AllowedOrigins": [origin], "AllowedHeaders": ["*"]}]})
    issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{pool}"
    stop, problems = threading.Event(), []
    player = threading.Thread(target=_play_s3_events_and_step_functions, args=(stop, problems), daemon=True)
    with BrowserApi(origin, jwks(moto_url, pool), issuer, client) as api:
        (site / "config.json").write_text(json.dumps(  # what Terraform writes (envs/example: gallery_config)
            {"api": api.url, "region": REGION, "userPool": pool, "clientId": client, "authEndpoint": moto_url + "/"}))
        player.start()
        yield {"site": origin, "api": api, "problems": problems, "pool": pool}
        stop.set()
        player.join(timeout=60)
    pages.shutdown()
    moto.stop()


def test_sign_in_upload_and_view_on_the_aws_gallery(aws_site, orbit_video, tmp_path):
    out = tmp_path / "view.png"
    run = subprocess.run(["node", str(ROOT / "tests" / "js" / "aws_gallery.mjs"), aws_site["site"], str(orbit_video),
                          EMAIL, TEMPORARY, NEW, str(out)], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-4000:]
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert not aws_site["problems"], aws_site["problems"]
    assert seen["message"].startswith("Uploaded") and seen["folderHintHidden"], seen
    assert seen["card"]["status"] == "completed" and seen["card"]["href"].startswith("/scene.html?id="), seen
    assert seen["viewerError"] is None and {"scene.spz", "scene.sog", "thumbnail.jpg"} <= set(seen["downloads"]), seen
    assert seen["localTools"] == []  # clean-up, video and share run beside `splatlib serve` only
    view = np.asarray(Image.open(out).convert("RGB"), dtype=np.float32)
    assert view.std(axis=(0, 1)).mean() > 15, "the 3D view is blank"  # a drawn scene, not one flat colour
    # the scene as the API holds it: the options the form set, the original upload kept in S3
    scene_id = seen["card"]["href"].split("=", 1)[1]
    calls = aws_site["api"].requests
    assert ("OPTIONS", "/api/scenes", 204) in calls and ("POST", "/api/scenes", 201) in calls  # preflight, then create
    assert all(status != 401 for _, _, status in calls)  # the pages signed in before their first call
    scene = json.loads(aws_api.api({"routeKey": "GET /api/scenes/{id}", "pathParameters": {"id": scene_id}})["body"])
    assert scene["options"]["iterations"] == 150 and scene["options"]["sh_degree"] == 1
    original = boto3.client("s3", region_name=REGION).get_object(Bucket=BUCKET, Key=scene["inputKey"])["Body"].read()
    assert original == orbit_video.read_bytes()


def test_the_browser_api_wants_a_pool_token_and_the_gallerys_origin(aws_site):
    api = aws_site["api"]
    assert requests.get(f"{api.url}/api/scenes", timeout=10).status_code == 401
    forged = "Bearer eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOiJ4In0.c2ln"
    assert requests.get(f"{api.url}/api/scenes", headers={"Authorization": forged}, timeout=10).status_code == 401
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization,content-type"}
    ours, theirs = (requests.options(f"{api.url}/api/scenes", headers={**preflight, "Origin": origin}, timeout=10)
                    for origin in (aws_site["site"], "https://evil.example"))
    assert ours.headers.get("access-control-allow-origin") == aws_site["site"]
    assert "access-control-allow-origin" not in theirs.headers
