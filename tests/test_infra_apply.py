"""`terraform apply` of the example environment against a moto server, checked with boto3, then destroyed."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import socket
import subprocess

import boto3
import pytest
from moto.server import ThreadedMotoServer
from moto.stepfunctions.responses import StepFunctionResponse

from splatlib.aws.batch import JOB_STAGES
from splatlib.aws.dynamodb import STATUS_INDEX

from .aws_env import list_state_machine_versions, validate_state_machine_definition
from .test_infra import INFRA, provider_mirror

SERVICES = ["apigatewayv2", "batch", "cloudwatchlogs", "dynamodb", "ec2", "ecr", "iam", "kms", "lambda", "s3",
            "sfn", "sqs", "sts"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def moto_server(monkeypatch):
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")  # AWSBatchServiceRole & co. exist
    monkeypatch.setattr(StepFunctionResponse, "validate_state_machine_definition", validate_state_machine_definition,
                        raising=False)
    monkeypatch.setattr(StepFunctionResponse, "list_state_machine_versions", list_state_machine_versions,
                        raising=False)
    port = _free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


def _terraform(where, *args: str, timeout: int = 600) -> str:
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_CLI_CONFIG_FILE": os.devnull}
    run = subprocess.run(["terraform", *args, "-no-color"], cwd=where, env=env,
                         capture_output=True, text=True, timeout=timeout)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return run.stdout


@pytest.mark.slow
def test_example_applies_to_moto_and_is_wired_as_the_code_expects(moto_server, tmp_path):
    mirror = provider_mirror()
    if not shutil.which("terraform") or mirror is None:
        pytest.skip("terraform or its local AWS provider mirror is missing")
    shutil.copytree(INFRA, tmp_path / "infra", ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"))
    env_dir = tmp_path / "infra" / "envs" / "example"
    endpoints = "\n".join(f'    {name} = "{moto_server}"' for name in SERVICES)
    (env_dir / "moto_override.tf").write_text(f'''provider "aws" {{
  access_key                  = "testing"
  secret_key                  = "testing"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  s3_use_path_style           = true
  max_retries                 = 3 # the local server can drop a kept-alive connection mid-apply
  endpoints {{
{endpoints}
  }}
}}
''')
    _terraform(env_dir, "init", "-input=false", "-backend=false", f"-plugin-dir={mirror}")
    _terraform(env_dir, "apply", "-input=false", "-auto-approve", "-var", "force_destroy=true", "-var", "image_tag=t1")
    out = json.loads(_terraform(env_dir, "output", "-json"))

    def client(name):
        return boto3.client(name, endpoint_url=moto_server, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    # the state machine is our template, pointing at the functions and queues Terraform made
    sfn = client("stepfunctions").describe_state_machine(stateMachineArn=out["state_machine_arn"]["value"])
    definition = json.loads(sfn["definition"])
    assert definition["StartAt"] == "ExtractFrames" and "${" not in sfn["definition"]
    lam = client("lambda")
    functions = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
    assert definition["States"]["ExtractFrames"]["Parameters"]["FunctionName"] == \
        functions["splat-example-extract-frames"]["FunctionArn"]
    # every function's handler exists in splatlib, and every image has the exact tag
    for name in functions:
        config = lam.get_function(FunctionName=name)
        command = config["Configuration"]["ImageConfigResponse"]["ImageConfig"]["Command"][0]
        module, attr = command.rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), attr)), command
        assert config["Code"]["ImageUri"].endswith(":t1")
    # the Batch jobs run the entrypoint with a stage it knows
    batch = client("batch")
    for job in batch.describe_job_definitions(status="ACTIVE")["jobDefinitions"]:
        command = job["containerProperties"]["command"]
        assert command[:3] == ["python", "-m", "splatlib.aws.batch"] and command[3] in JOB_STAGES
        assert job["retryStrategy"]["attempts"] == 3 and job["containerProperties"]["image"].endswith(":t1")
    # the table has the index the catalog queries; uploads/ triggers upload_landed
    table = client("dynamodb").describe_table(TableName=out["scenes_table"]["value"])["Table"]
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == [STATUS_INDEX]
    notify = client("s3").get_bucket_notification_configuration(Bucket=out["bucket"]["value"])
    (config,) = notify["LambdaFunctionConfigurations"]
    assert config["LambdaFunctionArn"].endswith(":splat-example-upload-landed")
    assert [(r["Name"].lower(), r["Value"]) for r in config["Filter"]["Key"]["FilterRules"]] == [("prefix", "uploads/")]

    _terraform(env_dir, "destroy", "-input=false", "-auto-approve", "-var", "force_destroy=true", "-var", "image_tag=t1")
