"""The state machine template: the same stages as the local runner, and the spec's defects fixed."""

from __future__ import annotations

import json
import re

import pytest

from splatlib.aws.failures import describe_failure
from splatlib.pipeline import STAGES

from .aws_env import ASL

STATE_OF_STAGE = {"frames": "ExtractFrames", "sfm": "RunCOLMAP", "train": "Run3DGS", "convert": "ConvertAndNotify"}
LAMBDA_TRANSIENT = {"Lambda.ServiceException", "Lambda.AWSLambdaException", "Lambda.SdkClientException",
                    "Lambda.TooManyRequestsException"}


@pytest.fixture(scope="module")
def asl() -> dict:
    return json.loads(ASL.read_text())


def test_task_states_follow_the_local_stage_order(asl):
    states, name, path = asl["States"], asl["StartAt"], []
    while name:
        path.append(name)
        name = states[name].get("Next")
    assert path == [STATE_OF_STAGE[s] for s in STAGES]
    assert states[path[-1]].get("End") is True


def test_every_task_is_caught_and_marks_its_stage(asl):
    states = asl["States"]
    for stage, name in STATE_OF_STAGE.items():
        (catch,) = states[name]["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"] and catch["ResultPath"] == "$.error"
        marker = states[catch["Next"]]
        assert marker["Type"] == "Pass" and marker["Result"] == stage and marker["Next"] == "HandleFailure"
    assert states["HandleFailure"]["Catch"] and states[states["HandleFailure"]["Next"]]["Type"] == "Fail"


def test_retries_and_no_task_tokens(asl):
    text = ASL.read_text()
    assert "Task.Token" not in text and "waitForTaskToken" not in text
    for name, state in asl["States"].items():
        if state["Type"] != "Task":
            continue
        retried = {e for r in state["Retry"] for e in r["ErrorEquals"]}
        if state["Resource"].endswith("lambda:invoke"):
            assert retried == LAMBDA_TRANSIENT, name
        else:
            assert state["Resource"] == "arn:aws:states:::batch:submitJob.sync" and "TimeoutSeconds" in state
        assert all(r["BackoffRate"] > 1 and r["MaxAttempts"] >= 2 for r in state["Retry"]), name


@pytest.mark.parametrize("stage,error,expected", [
    ("frames", {"Error": "StageFailed", "Cause": json.dumps({"errorMessage": "frames failed: clip.mp4 has no video",
                                                              "errorType": "StageFailed"})},
     "frames failed: clip.mp4 has no video"),
    ("convert", {"Error": "Sandbox.Timedout", "Cause": json.dumps({"errorMessage": "Task timed out after 900.00 seconds"})},
     "convert failed: Task timed out after 900.00 seconds"),
    ("sfm", {"Error": "States.TaskFailed", "Cause": json.dumps({
        "Status": "FAILED", "StatusReason": "Host EC2 (instance i-0abc) terminated.", "Attempts": []})},
     "sfm failed: the Spot instance running it was reclaimed"),
    ("train", {"Error": "States.TaskFailed", "Cause": json.dumps({
        "Status": "FAILED", "StatusReason": "Essential container in task exited",
        "Attempts": [{"Container": {"ExitCode": 1}}]})},
     "train failed: the job stopped with exit code 1 (Essential container in task exited)"),
    ("train", {"Error": "States.Timeout", "Cause": ""}, "train failed: it ran past its time limit"),
    ("sfm", {"Error": "Batch.ClientException", "Cause": "Job queue does not exist"},
     "sfm failed: Job queue does not exist"),
    ("sfm", None, "sfm failed: an unknown error"),
])
def test_failure_messages_are_readable(stage, error, expected):
    assert describe_failure(stage, error) == expected


def test_a_job_cancelled_for_want_of_capacity_says_so(monkeypatch):
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("QUEUE_WAIT_MINUTES", "60")
    cancelled = {"Error": "States.TaskFailed", "Cause": json.dumps({
        "Status": "FAILED", "StatusReason": "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", "Attempts": []})}
    assert describe_failure("train", cancelled).startswith("train failed: no GPU capacity in eu-west-1 after 60 minutes")
    assert describe_failure("sfm", cancelled).startswith("sfm failed: no CPU capacity in eu-west-1 after 60 minutes")


def test_state_machine_timeouts_cover_every_attempt_and_the_queue_wait(asl):
    batch = (ASL.parents[0] / "batch.tf").read_text()
    variables = (ASL.parents[0] / "variables.tf").read_text()
    longest_wait = int(re.search(r"var\.queue_wait_minutes <= (\d+)", variables).group(1)) * 60
    attempts = int(re.search(r"attempts = (\d+)", batch).group(1))
    states = asl["States"]
    for job, state in (("colmap", "RunCOLMAP"), ("train", "Run3DGS")):
        per_attempt = int(re.search(rf"^\s*{job}\s*=\s*\{{[^}}\n]*timeout = (\d+)", batch, re.M).group(1))
        assert states[state]["TimeoutSeconds"] >= attempts * per_attempt + longest_wait, state
