"""`terraform apply` of the example environment against a moto server, checked with boto3, then destroyed."""

from __future__ import annotations

import importlib
import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import boto3
import pytest
import torch
from moto.iam.access_control import IAMPolicyStatement, PermissionResult
from moto.iam.policy_conditions import CONDITION_OPERATIONS
from moto.server import ThreadedMotoServer
from moto.stepfunctions.responses import StepFunctionResponse

from splatlib.aws import runtime
from splatlib.aws.api import ROUTES
from splatlib.aws.batch import EXIT_STAGE_FAILED
from splatlib.aws.dynamodb import STATUS_INDEX, DynamoDBCatalog
from splatlib.library import Scene, Status, new_scene_id

from .aws_env import list_state_machine_versions, validate_state_machine_definition
from .helpers import FAST, INFRA, provider_mirror

DOCKER = Path(__file__).resolve().parents[1] / "docker"

SERVICES = ["apigatewayv2", "batch", "budgets", "cloudfront", "cloudwatch", "cloudwatchlogs", "cognitoidp", "dynamodb",
            "ec2", "ecr", "events", "iam", "kms", "lambda", "s3", "sns",
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
    # Bucket policies as AWS evaluates them for this server's callers: every request to AWS comes over
    # TLS, a Bool condition compares (moto skips operators it lacks, so the buckets' "deny unless TLS"
    # statement held for every write), and a statement whose condition does not hold does not apply
    # (moto denied)
    monkeypatch.setitem(CONDITION_OPERATIONS, "Bool", lambda expected, actual: str(actual).lower() in (
        [str(v).lower() for v in expected] if isinstance(expected, list) else [str(expected).lower()]))
    original = IAMPolicyStatement.is_action_permitted

    def as_over_tls(self, action, resource="*", principal=None, incoming_condition_values=None):
        values = {"aws:SecureTransport": "true", **(incoming_condition_values or {})}
        if self._statement.get("Condition") and not self._check_conditions(values):
            return PermissionResult.NEUTRAL
        return original(self, action, resource, principal, values)

    monkeypatch.setattr(IAMPolicyStatement, "is_action_permitted", as_over_tls)
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


def dockerfile(name: str) -> dict:
    """ENTRYPOINT, CMD (exec form), ENV and WORKDIR of docker/NAME.Dockerfile, as Docker reads them."""
    text = (DOCKER / f"{name}.Dockerfile").read_text().replace("\\\n", " ")
    found = {"ENTRYPOINT": [], "CMD": [], "ENV": {}, "WORKDIR": "/"}
    for line in text.splitlines():
        word, _, rest = line.strip().partition(" ")
        if word in ("ENTRYPOINT", "CMD"):
            found[word] = json.loads(rest)
        elif word == "WORKDIR":
            found[word] = rest.strip()
        elif word == "ENV":
            found["ENV"].update(item.split("=", 1) for item in shlex.split(rest))
    return found


def container_argv(image: dict, job_command: list[str] | None) -> list[str]:
    """What a container runs: Batch's `command` replaces CMD and is appended to the ENTRYPOINT."""
    return image["ENTRYPOINT"] + (job_command if job_command is not None else image["CMD"])


def test_container_argv_is_entrypoint_then_command():
    image = {"ENTRYPOINT": ["python", "-m", "m"], "CMD": ["sfm"]}
    assert container_argv(image, None) == ["python", "-m", "m", "sfm"]
    assert container_argv(image, ["train"]) == ["python", "-m", "m", "train"]


def _aws_env(m, endpoint: str, out: dict) -> None:
    for name, value in {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
                        "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
                        "ASSETS_BUCKET": out["bucket"]["value"], "SCENES_TABLE": out["scenes_table"]["value"]}.items():
        m.setenv(name, value)


def _scene_with_frames(endpoint: str, out: dict, video, monkeypatch) -> str:
    """A scene whose video is uploaded and whose frames stage has run, in the applied bucket and table."""
    scene = Scene(id=new_scene_id(), title="contract", input_key="", options=asdict(FAST))
    scene.input_key = f"uploads/{scene.id}/{video.name}"
    with monkeypatch.context() as m:
        _aws_env(m, endpoint, out)
        # the bucket's TLS-only policy refuses moto's plain-HTTP endpoint; the rest of the wiring is as applied
        boto3.client("s3").delete_bucket_policy(Bucket=out["bucket"]["value"])
        boto3.client("s3").upload_file(str(video), out["bucket"]["value"], scene.input_key)
        with runtime.pipeline() as pipeline:
            pipeline.catalog.put(scene)
            assert pipeline.run_stage(scene.id, "frames").status != Status.FAILED
    return scene.id


def _run_container(image_name: str, job: dict, scene_id: str, endpoint: str, tmp_path) -> subprocess.CompletedProcess:
    """Run a job definition's container argv here: the image's ENTRYPOINT + the job's command, the image's
    and the job's environment, SCENE_ID as the state machine passes it; our venv's python stands in for
    the image's (and PATH stays ours)."""
    image = dockerfile(image_name)
    container = job["containerProperties"]
    argv = container_argv(image, container.get("command"))
    assert argv[0] == "python", argv
    env = {**os.environ, **{k: v for k, v in image["ENV"].items() if k != "PATH"},
           **{e["name"]: e["value"] for e in container["environment"]},
           "SCENE_ID": scene_id, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing",
           "AWS_SECRET_ACCESS_KEY": "testing", "WORK_DIR": str(tmp_path / f"work-{image_name}")}
    (tmp_path / f"work-{image_name}").mkdir()
    return subprocess.run([sys.executable, *argv[1:]], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=600)


@pytest.mark.slow
def test_example_applies_to_moto_and_is_wired_as_the_code_expects(moto_server, tmp_path, orbit_video, monkeypatch):
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
    # the Batch jobs, as their images would run them, do their stage against this account's bucket and table
    jobs = {j["jobDefinitionName"]: j for j in client("batch").describe_job_definitions(status="ACTIVE")["jobDefinitions"]}
    assert set(jobs) == {"splat-example-colmap", "splat-example-train"}
    for job in jobs.values():
        assert job["retryStrategy"]["attempts"] == 3 and job["containerProperties"]["image"].endswith(":t1")
    # each queue: Spot first, on-demand behind it, and a RUNNABLE limit that cancels for want of capacity
    envs = {e["computeEnvironmentArn"]: e for e in client("batch").describe_compute_environments()["computeEnvironments"]}
    for queue in client("batch").describe_job_queues()["jobQueues"]:
        order = sorted(queue["computeEnvironmentOrder"], key=lambda o: o["order"])
        assert [envs[o["computeEnvironment"]]["computeResources"]["type"] for o in order] == ["SPOT", "EC2"]
    # moto does not keep a queue's time limits: read what Terraform applied
    state = json.loads(_terraform(env_dir, "show", "-json"))["values"]["root_module"]
    queues = [r for m in state["child_modules"] for r in m["resources"] if r["type"] == "aws_batch_job_queue"]
    assert len(queues) == 2
    for queue in queues:
        (limit,) = queue["values"]["job_state_time_limit_action"]
        assert limit["state"] == "RUNNABLE" and limit["action"] == "CANCEL" and limit["max_time_seconds"] == 3600
    (template,) = [r for m in state["child_modules"] for r in m["resources"] if r["type"] == "aws_launch_template"]
    (disk,) = template["values"]["block_device_mappings"]
    assert disk["ebs"][0]["volume_size"] == 100 and disk["ebs"][0]["encrypted"] == "true"
    for job in jobs.values():
        assert {"name": "AWS_DEFAULT_REGION", "value": "us-east-1"} in job["containerProperties"]["environment"]
    gpu = [e for e in envs.values() if e["computeEnvironmentName"].endswith("gpu-spot")][0]
    assert gpu["computeResources"]["ec2Configuration"][0]["imageType"] == "ECS_AL2023_NVIDIA"
    alarms = {a["AlarmName"] for a in client("cloudwatch").describe_alarms()["MetricAlarms"]}
    assert {"splat-example-executions-failed", "splat-example-failed-starts",
            "splat-example-extract-frames-throttles"} <= alarms
    # IAM: the pipeline never writes or deletes under uploads/; SubmitJob only for our queues and jobs;
    # services that document it must act for this account
    iam = client("iam")
    for role, policy in (("splat-example-batch-job", "stages"), ("splat-example-lambda", "stages")):
        statements = iam.get_role_policy(RoleName=role, PolicyName=policy)["PolicyDocument"]["Statement"]
        for st in statements:
            writes = {"s3:PutObject", "s3:DeleteObject"} & set(st["Action"] if isinstance(st["Action"], list) else [st["Action"]])
            resources = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
            assert not writes or all(r.split(":::", 1)[1].split("/", 1)[1].split("/")[0] in ("frames", "sfm", "outputs")
                                     for r in resources), (role, st)
    sfn_policy = iam.get_role_policy(RoleName="splat-example-sfn", PolicyName="pipeline")["PolicyDocument"]
    (submit,) = [st for st in sfn_policy["Statement"] if "batch:SubmitJob" in st["Action"]]
    assert "*" not in submit["Resource"] and len(submit["Resource"]) == 4
    trust = iam.get_role(RoleName="splat-example-sfn")["Role"]["AssumeRolePolicyDocument"]["Statement"][0]
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"
    scene_id = _scene_with_frames(moto_server, out, orbit_video, monkeypatch)
    sfm = _run_container("colmap", jobs["splat-example-colmap"], scene_id, moto_server, tmp_path)
    assert sfm.returncode == 0, sfm.stderr[-2000:]
    with monkeypatch.context() as m:
        _aws_env(m, moto_server, out)
        assert "sfm" in DynamoDBCatalog(out["scenes_table"]["value"]).get(scene_id).stages_done
        train = _run_container("train", jobs["splat-example-train"], scene_id, moto_server, tmp_path)
        if not torch.cuda.is_available():  # the GPU job fails loudly where torch sees no GPU
            scene = DynamoDBCatalog(out["scenes_table"]["value"]).get(scene_id)
            assert train.returncode == EXIT_STAGE_FAILED, train.stderr[-2000:]
            assert scene.error.startswith("train failed: --device cuda: torch sees no CUDA GPU"), scene.error
    # the table has the index the catalog queries; uploads/ triggers upload_landed
    table = client("dynamodb").describe_table(TableName=out["scenes_table"]["value"])["Table"]
    assert [i["IndexName"] for i in table["GlobalSecondaryIndexes"]] == [STATUS_INDEX]
    notify = client("s3").get_bucket_notification_configuration(Bucket=out["bucket"]["value"])
    (config,) = notify["LambdaFunctionConfigurations"]
    assert config["LambdaFunctionArn"].endswith(":splat-example-upload-landed")
    assert [(r["Name"].lower(), r["Value"]) for r in config["Filter"]["Key"]["FilterRules"]] == [("prefix", "uploads/")]
    # the gallery: its config names the browsers' API and the pool; that API takes the pool's tokens, and
    # it and the assets bucket allow the gallery's origin only; scripts keep the SigV4 API
    origin = out["gallery_url"]["value"]
    gallery = json.loads(client("s3").get_object(Bucket=out["site_bucket"]["value"], Key="config.json")["Body"].read())
    assert gallery["userPool"] == out["user_pool_id"]["value"] and gallery["region"] == "us-east-1"
    apis = {a["Name"]: a for a in client("apigatewayv2").get_apis()["Items"]}
    browser, scripts = apis["splat-example-api-browser"], apis["splat-example-api"]
    assert gallery["api"] == browser["ApiEndpoint"] != out["api_endpoint"]["value"] == scripts["ApiEndpoint"]
    assert browser["CorsConfiguration"]["AllowOrigins"] == [origin] and "CorsConfiguration" not in scripts
    for api, kind in ((browser, "JWT"), (scripts, "AWS_IAM")):
        routes = client("apigatewayv2").get_routes(ApiId=api["ApiId"])["Items"]
        assert sorted(r["RouteKey"] for r in routes) == sorted(ROUTES)
        assert {r["AuthorizationType"] for r in routes} == {kind}
    (authorizer_id,) = {r["AuthorizerId"] for r in client("apigatewayv2").get_routes(ApiId=browser["ApiId"])["Items"]}
    authorizer = client("apigatewayv2").get_authorizer(ApiId=browser["ApiId"], AuthorizerId=authorizer_id)
    assert authorizer["AuthorizerType"] == "JWT" and authorizer["JwtConfiguration"]["Audience"] == [gallery["clientId"]]
    assert authorizer["JwtConfiguration"]["Issuer"].endswith("/" + gallery["userPool"])
    cors = client("s3").get_bucket_cors(Bucket=out["bucket"]["value"])["CORSRules"]
    assert [rule["AllowedOrigins"] for rule in cors] == [[origin]]
    client_config = client("cognito-idp").describe_user_pool_client(UserPoolId=gallery["userPool"],
                                                                    ClientId=gallery["clientId"])["UserPoolClient"]
    assert "ClientSecret" not in client_config and "ALLOW_USER_PASSWORD_AUTH" in client_config["ExplicitAuthFlows"]

    _terraform(env_dir, "destroy", "-input=false", "-auto-approve", "-var", "force_destroy=true", "-var", "image_tag=t1")
