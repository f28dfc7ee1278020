"""A moto 'deployment' of the AWS path, with hooks that run our real code in-process.

moto without Docker only echoes Lambda payloads and marks Batch jobs succeeded; the hooks
below run the handler named by each Lambda function, and the Batch entrypoint named by each
job definition's command, in this process, against the same mocked S3, DynamoDB and Step
Functions.
"""

from __future__ import annotations

import importlib
import io
import json
import re
import time
import zipfile
from pathlib import Path

import boto3

from splatlib.aws.dynamodb import STATUS_INDEX

ROOT = Path(__file__).resolve().parents[1]
ASL = ROOT / "infra" / "modules" / "pipeline" / "state_machine.asl.json"
REGION = "us-east-1"
BUCKET = "splat-assets-test"
TABLE = "splat-scenes-test"

LAMBDAS = {  # function -> handler (the image command Terraform sets)
    "extract_frames": "splatlib.aws.handlers.extract_frames",
    "convert": "splatlib.aws.handlers.convert",
    "handle_failure": "splatlib.aws.handlers.handle_failure",
}
JOBS = {"colmap": "sfm", "train": "train"}  # job definition -> stage given to `python -m splatlib.aws.batch`


def render_asl(values: dict[str, str]) -> str:
    """Terraform's templatefile, for the only syntax our template uses: ${name}."""
    text = ASL.read_text()
    names = set(re.findall(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", text))
    missing = names - set(values)
    assert not missing, f"no value for {missing}"
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: values[m.group(1)], text)


def lambda_hook(self, function_name, qualifier, body, headers, response_headers):
    """Replaces moto's LambdaSimpleBackend.invoke: run the real handler and answer like Lambda does."""
    event = json.loads(body) if body else {}
    module, name = self.get_function(function_name, qualifier).handler.rsplit(".", 1)
    try:
        result = getattr(importlib.import_module(module), name)(event, None)
        return json.dumps(result).encode()
    except Exception as exc:  # what the Lambda runtime reports for an unhandled exception
        response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps({"errorMessage": str(exc), "errorType": type(exc).__name__, "stackTrace": []}).encode()


def batch_hook(self, include_start_attempt, job):
    """Replaces moto's simple-Batch 'mark as finished': run the entrypoint, finish by its exit code."""
    from splatlib.aws import batch

    self.backend._jobs[job.job_id] = job
    job.job_started_at = __import__("datetime").datetime.now()
    job.log_stream_name = job._stream_name
    if include_start_attempt:
        job._start_attempt()
    command = job.job_definition.container_properties["command"]
    overrides = {e["name"]: e["value"] for e in (job.container_overrides or {}).get("environment", [])}
    assert command[:3] == ["python", "-m", "splatlib.aws.batch"], command
    code = batch.run(command[3], overrides["SCENE_ID"])
    job.exit_code = code
    job.latest_attempt["container"]["exitCode"] = code
    if code:
        job.job_stopped_reason = "Essential container in task exited"
        job.latest_attempt["container"]["reason"] = "Essential container in task exited"
    job._mark_stopped(success=code == 0)


def _operation(task, service: str | None, action: str | None):
    import botocore.session
    from botocore import xform_name

    model = botocore.session.get_session().get_service_model(task._get_boto_service_name(service))
    wanted = task._get_boto_service_action(action)
    return model.operation_model(next(op for op in model.operation_names if xform_name(op) == wanted))


def sfn_to_boto_parameters(self, parameters, boto_service_name=None, service_action_name=None):
    """moto leaves this step out (DESIGN.md §8): Step Functions' `JobName` -> boto's `jobName`, …"""
    self._to_boto_request(parameters, _operation(self, boto_service_name, service_action_name).input_shape)


def boto_to_sfn_response(self, response, boto_service_name=None, service_action_name=None):
    """…and back: DescribeJobs' `jobId` -> Step Functions' `JobId`, as AWS hands it to the state."""
    self._from_boto_response(response, _operation(self, boto_service_name, service_action_name).output_shape)


def create_bucket() -> None:
    boto3.client("s3", region_name=REGION).create_bucket(Bucket=BUCKET)


def create_table() -> None:
    """The scenes table as infra/modules/storage defines it."""
    boto3.client("dynamodb", region_name=REGION).create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": n, "AttributeType": t}
                              for n, t in (("id", "S"), ("status", "S"), ("createdAt", "N"))],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[{"IndexName": STATUS_INDEX, "Projection": {"ProjectionType": "ALL"},
                                 "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"},
                                               {"AttributeName": "createdAt", "KeyType": "RANGE"}]}])


def deploy() -> dict[str, str]:
    """Create what infra/ would (inside an active moto mock); returns the state machine ARN and friends."""
    create_bucket()
    create_table()
    iam = boto3.client("iam", region_name=REGION)
    role = iam.create_role(RoleName="splat-test", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    zipped = io.BytesIO()
    with zipfile.ZipFile(zipped, "w") as z:
        z.writestr("placeholder.py", "")  # the hook runs the installed splatlib instead
    lam = boto3.client("lambda", region_name=REGION)
    arns = {f"{name}_function_arn": lam.create_function(
        FunctionName=f"splat-{name}", Runtime="python3.13", Role=role, Handler=handler,
        Code={"ZipFile": zipped.getvalue()})["FunctionArn"] for name, handler in LAMBDAS.items()}
    batch = boto3.client("batch", region_name=REGION)
    for kind in ("cpu", "gpu"):
        env = batch.create_compute_environment(computeEnvironmentName=f"splat-{kind}", type="UNMANAGED", serviceRole=role,
                                               state="ENABLED")["computeEnvironmentArn"]
        arns[f"{kind}_job_queue_arn"] = batch.create_job_queue(
            jobQueueName=f"splat-{kind}", state="ENABLED", priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": env}])["jobQueueArn"]
    for name, stage in JOBS.items():
        arns[f"{name}_job_definition_arn"] = batch.register_job_definition(
            jobDefinitionName=f"splat-{name}", type="container",
            containerProperties={"image": f"splat-{name}:test", "vcpus": 1, "memory": 1024,
                                 "command": ["python", "-m", "splatlib.aws.batch", stage]})["jobDefinitionArn"]
    sfn = boto3.client("stepfunctions", region_name=REGION)
    arns["state_machine_arn"] = sfn.create_state_machine(
        name="splat-pipeline", roleArn=role, definition=render_asl(arns))["stateMachineArn"]
    return arns


def wait_for_execution(arn: str, timeout: float = 600) -> dict:
    """Poll until the execution leaves RUNNING."""
    sfn = boto3.client("stepfunctions", region_name=REGION)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = sfn.describe_execution(executionArn=arn)
        if run["status"] != "RUNNING":
            return run
        time.sleep(0.2)
    raise TimeoutError(f"execution {arn} still running after {timeout} s")


def validate_state_machine_definition(self):
    """moto lacks ValidateStateMachineDefinition, which the AWS provider calls before it creates a
    state machine (DESIGN.md §8): answer with the verdict of moto's own ASL parser."""
    from moto.core.responses import ActionResult
    from moto.stepfunctions.parser.asl.parse.asl_parser import AmazonStateLanguageParser, ASLParserException

    try:
        AmazonStateLanguageParser.parse(self._get_param("definition"))
    except ASLParserException as exc:
        return ActionResult({"result": "FAIL", "diagnostics": [
            {"severity": "ERROR", "code": "SCHEMA_VALIDATION_FAILED", "message": str(exc)}]})
    return ActionResult({"result": "OK", "diagnostics": []})


def list_state_machine_versions(self):
    """moto lacks ListStateMachineVersions too; our state machines publish no versions."""
    from moto.core.responses import ActionResult

    return ActionResult({"stateMachineVersions": []})
