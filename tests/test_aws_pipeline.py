"""The AWS path end to end in moto: API handler -> upload -> Step Functions -> Lambda and Batch
adapters -> DynamoDB + S3, with our real handler and entrypoint code (see aws_env.py)."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import asdict

import boto3
import pytest
import requests
from moto import mock_aws
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.batch_simple.models import BatchSimpleBackend
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch import (
    StateTaskServiceBatch,
)

from splatlib.aws import api, handlers, runtime
from splatlib.aws import batch as batch_entry
from splatlib.library import Status
from splatlib.pipeline import STAGES

from .aws_env import (BUCKET, REGION, TABLE, batch_hook, boto_to_sfn_response, deploy, lambda_hook,
                      sfn_to_boto_parameters, wait_for_execution)
from .helpers import FAST, HELD_OUT_PSNR_FLOOR, count_stage_calls, make_stage_fail

MOTO_CONFIG = {"stepfunctions": {"execute_state_machine": True},
               "lambda": {"use_docker": False}, "batch": {"use_docker": False}}


@pytest.fixture
def aws(monkeypatch, tmp_path):
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION, "ASSETS_BUCKET": BUCKET, "SCENES_TABLE": TABLE,
                        "WORK_DIR": str(tmp_path / "work"), "MAX_UPLOAD_MB": "50"}.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "work").mkdir()
    monkeypatch.setattr(LambdaSimpleBackend, "invoke", lambda_hook)
    monkeypatch.setattr(BatchSimpleBackend, "_mark_job_as_finished", batch_hook)
    monkeypatch.setattr(StateTaskServiceBatch, "_normalise_parameters", sfn_to_boto_parameters)
    monkeypatch.setattr(StateTaskServiceBatch, "_normalise_response", boto_to_sfn_response)
    with mock_aws(config=MOTO_CONFIG):
        arns = deploy()
        monkeypatch.setenv("STATE_MACHINE_ARN", arns["state_machine_arn"])
        yield arns


def call(route: str, body: dict | None = None, **path) -> tuple[int, dict]:
    out = api.api({"routeKey": route, "pathParameters": path, "body": json.dumps(body) if body else None})
    return out["statusCode"], json.loads(out["body"]) if "body" in out else None


def upload(video, options=FAST) -> str:
    """Create a scene through the API, upload with its presigned POST, fire the S3 trigger."""
    status, created = call("POST /api/scenes", {"filename": video.name, "title": "orbit", "options": asdict(options)})
    assert status == 201, created
    post = created["upload"]
    with open(video, "rb") as f:
        reply = requests.post(post["url"], data=post["fields"], files={"file": f})
    assert reply.status_code in (200, 204), reply.text
    key = post["fields"]["key"]
    started = api.upload_landed({"Records": [{"s3": {"bucket": {"name": BUCKET}, "object": {"key": key}}}]})
    assert started == {"started": [created["scene"]["id"]]}
    return created["scene"]["id"]


def finish(scene_id: str) -> tuple[dict, dict]:
    status, scene = call("GET /api/scenes/{id}", id=scene_id)
    run = wait_for_execution(scene["worker"])
    return run, call("GET /api/scenes/{id}", id=scene_id)[1]


def test_happy_path(aws, orbit_video, tmp_path):
    scene_id = upload(orbit_video)
    run, scene = finish(scene_id)
    assert run["status"] == "SUCCEEDED", run
    assert scene["status"] == "completed" and scene["stagesDone"] == ["frames", "sfm", "train", "convert"]
    assert scene["metrics"]["registered_frames"] >= 15 and scene["metrics"]["psnr"] > HELD_OUT_PSNR_FLOOR
    assert set(scene["metrics"]["seconds"]) == {"frames", "sfm", "train", "convert"}
    s3 = boto3.client("s3", region_name=REGION)
    splat = s3.get_object(Bucket=BUCKET, Key=scene["splatKey"])["Body"].read()
    assert len(splat) == 32 * scene["metrics"]["num_gaussians"]
    assert requests.get(scene["files"]["thumbnail.jpg"]["url"]).content[:2] == b"\xff\xd8"
    original = s3.get_object(Bucket=BUCKET, Key=scene["inputKey"])["Body"].read()
    assert original == orbit_video.read_bytes()
    output = json.loads(run["output"])
    assert output["convertResult"] == {"splatKey": scene["splatKey"]}
    assert list((tmp_path / "work").iterdir()) == []  # each handler and job removed its working copy


@pytest.mark.slow
@pytest.mark.parametrize("stage", STAGES)
def test_failure_in_each_state_then_retry(stage, aws, orbit_video, monkeypatch):
    calls = count_stage_calls(monkeypatch)
    with monkeypatch.context() as m:
        make_stage_fail(m, stage)
        scene_id = upload(orbit_video)
        run, scene = finish(scene_id)
    assert run["status"] == "FAILED" and run["error"] == "SceneFailed"
    assert scene["status"] == "failed" and scene["errorStage"] == stage
    assert scene["error"] == f"{stage} failed: Boom: disk on fire"
    assert scene["stagesDone"] == list(STAGES[:STAGES.index(stage)])
    s3 = boto3.client("s3", region_name=REGION)
    assert s3.get_object(Bucket=BUCKET, Key=scene["inputKey"])["Body"].read() == orbit_video.read_bytes()

    status, retried = call("POST /api/scenes/{id}/retry", id=scene_id)
    assert status == 202 and retried["status"] == "processing"
    run, scene = finish(scene_id)
    assert run["status"] == "SUCCEEDED" and scene["status"] == "completed" and scene["error"] is None
    for s in STAGES:  # finished stages are not redone
        assert calls[s] == 1, s


def test_bad_video_fails_in_extract_frames(aws, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00garbage" * 50)
    run, scene = finish(upload(bad))
    assert run["status"] == "FAILED"
    assert scene["status"] == "failed" and scene["errorStage"] == "frames"
    assert scene["error"].startswith("frames failed: broken.mp4 is not a readable video")


def test_a_job_killed_by_batch_gets_a_readable_error(aws, orbit_video, monkeypatch):
    """A job that dies outside our code (here: out of memory) leaves the record to HandleFailure."""
    def oom(self, include_start_attempt, job):
        if "train" not in job.job_definition.container_properties["command"]:
            return batch_hook(self, include_start_attempt, job)
        self.backend._jobs[job.job_id] = job
        job._start_attempt()
        job.job_stopped_reason = "Essential container in task exited"
        job.latest_attempt["container"].update(exitCode=137, reason="OutOfMemoryError: Container killed due to memory usage")
        job._mark_stopped(success=False)
    monkeypatch.setattr(BatchSimpleBackend, "_mark_job_as_finished", oom)
    run, scene = finish(upload(orbit_video))
    assert run["status"] == "FAILED"
    assert scene["status"] == "failed" and scene["error"] == "train failed: it ran out of memory"
    assert scene["errorStage"] == "train" and scene["stagesDone"] == ["frames", "sfm"]


def test_batch_entrypoint_exit_codes(aws, monkeypatch):
    assert batch_entry.main(["colmap"]) == 2  # usage
    monkeypatch.setenv("SCENE_ID", "../../etc")
    with pytest.raises(Exception, match="not a valid scene id"):
        batch_entry.main(["sfm"])
    status, created = call("POST /api/scenes", {"filename": "v.mp4"})
    monkeypatch.setenv("SCENE_ID", created["scene"]["id"])
    assert batch_entry.main(["sfm"]) == batch_entry.EXIT_STAGE_FAILED  # frames never ran
    _, scene = call("GET /api/scenes/{id}", id=created["scene"]["id"])
    assert scene["error"] == "sfm failed: the earlier stage(s) frames have not run"
    with pytest.raises(handlers.StageFailed, match="convert failed"):
        handlers.convert({"sceneId": created["scene"]["id"]})


def test_api_routes_and_errors(aws, tmp_path):
    assert call("POST /api/scenes", {"filename": "notes.txt"})[0] == 400
    assert call("POST /api/scenes", {"filename": "a.mp4", "options": {"bogus": 1}})[0] == 400
    assert call("POST /api/scenes", {"filename": "a.mp4", "options": {"device": "tpu"}})[0] == 400
    assert call("POST /api/scenes", {"filename": "a.mp4", "options": {"sfm_features": "orb"}})[0] == 400
    assert call("POST /api/scenes", {"filename": "a.mp4", "options": {"matching": "vocab_tree"}})[0] == 400
    assert call("POST /api/scenes", {"filename": "a.mp4", "options": {"minutes": 0.01}})[0] == 400
    status, body = call("POST /api/scenes", {"filename": "a.mp4", "options": {"iterations": 10 ** 9}})
    assert status == 400 and "iterations must be an integer from 50 to 30000" in body["error"]["message"]  # no GPU for days
    assert call("GET /api/scenes/{id}", id="../../etc")[0] == 400
    assert call("GET /api/scenes/{id}", id="abcdefabcdef")[0] == 404
    status, created = call("POST /api/scenes", {"filename": "../../my clip.MOV", "title": "Clip"})
    assert status == 201
    scene = created["scene"]
    assert scene["inputKey"] == f"uploads/{scene['id']}/my_clip.MOV" and scene["status"] == "queued"
    policy = json.loads(base64.b64decode(created["upload"]["fields"]["policy"]))
    assert ["content-length-range", 1, 50 * 1024 ** 2] in policy["conditions"]  # MAX_UPLOAD_MB
    assert [s["id"] for s in call("GET /api/scenes")[1]["scenes"]] == [scene["id"]]
    assert call("GET /api/scenes", None)[1]["scenes"][0]["title"] == "Clip"
    listed = api.api({"routeKey": "GET /api/scenes", "queryStringParameters": {"status": "failed"}})
    assert json.loads(listed["body"]) == {"scenes": [], "limit": 50, "offset": 0}
    assert call("POST /api/scenes/{id}/retry", id=scene["id"])[0] == 409  # queued, not failed
    # uploads under other keys, for unknown scenes or twice are ignored
    for key in ("uploads/abcdefabcdef/x.mp4", f"uploads/{scene['id']}/other.mp4", "frames/x/y.jpg"):
        assert api.upload_landed({"Records": [{"s3": {"object": {"key": key}}}]}) == {"started": []}
    s3 = boto3.client("s3", region_name=REGION)
    s3.put_object(Bucket=BUCKET, Key=scene["inputKey"], Body=b"x")
    status, deleted = call("DELETE /api/scenes/{id}", id=scene["id"])
    assert status == 204 and "Contents" not in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"uploads/{scene['id']}")
    assert call("GET /api/scenes/{id}", id=scene["id"])[0] == 404


def test_api_takes_a_time_budget(aws):
    status, created = call("POST /api/scenes", {"filename": "a.mp4", "options": {"minutes": 5}})
    assert status == 201 and created["scene"]["options"]["minutes"] == 5


def test_a_duplicate_upload_event_starts_one_execution(aws):
    _, created = call("POST /api/scenes", {"filename": "a.mp4"})
    scene_id, key = created["scene"]["id"], created["scene"]["inputKey"]
    boto3.client("s3", region_name=REGION).put_object(Bucket=BUCKET, Key=key, Body=b"not a video")
    seen = runtime.catalog().get(scene_id)  # two deliveries of one event, both read the queued scene
    first, second = api.start_execution(seen), api.start_execution(seen)
    assert first is not None and second is None
    event = {"Records": [{"s3": {"object": {"key": key}}}]}
    assert api.upload_landed(event) == {"started": []}  # a later redelivery too
    sfn = boto3.client("stepfunctions", region_name=REGION)
    runs = sfn.list_executions(stateMachineArn=os.environ["STATE_MACHINE_ARN"])["executions"]
    assert [r["name"] for r in runs] == [f"{scene_id}-1"]
    wait_for_execution(first.worker)
    assert runtime.catalog().get(scene_id).status == Status.FAILED  # the bad upload, once
