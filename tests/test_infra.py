"""Terraform modules validate offline, checkov finds nothing unskipped, the ASL passes asl-validator."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from splatlib.gs.device import CUDA_MIN_DRIVER

from .aws_env import ASL, render_asl
from .helpers import INFRA, ROOT, provider_mirror

ROOTS = ["modules/private_bucket", "modules/storage", "modules/registry", "modules/pipeline", "modules/api", "modules/gallery",
         "envs/example"]


@pytest.fixture(scope="module")
def infra_copy(tmp_path_factory) -> Path:
    """A copy of infra/, so that `terraform init` leaves no .terraform folders in the checkout."""
    dest = tmp_path_factory.mktemp("infra") / "infra"
    shutil.copytree(INFRA, dest, ignore=shutil.ignore_patterns(".terraform*"))
    return dest


@pytest.mark.parametrize("module", ROOTS)
def test_terraform_validates_offline(module, infra_copy):
    if not shutil.which("terraform"):
        pytest.skip("terraform is not installed")
    mirror = provider_mirror()
    if mirror is None:
        pytest.skip("no local mirror of the AWS provider (terraform-provider-aws*) on this machine")
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "TF_CLI_CONFIG_FILE": os.devnull}
    where = infra_copy / module
    init = subprocess.run(["terraform", "init", "-backend=false", "-input=false", "-no-color",
                           f"-plugin-dir={mirror}"], cwd=where, env=env, capture_output=True, text=True)
    assert init.returncode == 0, init.stdout + init.stderr
    check = subprocess.run(["terraform", "validate", "-json"], cwd=where, env=env, capture_output=True, text=True)
    result = json.loads(check.stdout)
    assert result["valid"] and result["warning_count"] == 0, json.dumps(result["diagnostics"], indent=1)


def test_terraform_is_formatted():
    if not shutil.which("terraform"):
        pytest.skip("terraform is not installed")
    fmt = subprocess.run(["terraform", "fmt", "-recursive", "-check", str(INFRA)], capture_output=True, text=True)
    assert fmt.returncode == 0, f"run `terraform fmt -recursive infra`: {fmt.stdout}"


def _checkov() -> str | None:
    local = ROOT / ".venv-checkov" / "bin" / "checkov"
    return str(local) if local.exists() else shutil.which("checkov")


def test_checkov_passes():
    checkov = _checkov()
    if checkov is None:
        pytest.skip("checkov is not installed (CI installs it into .venv-checkov; see the README)")
    run = subprocess.run([checkov, "-d", str(INFRA), "--config-file", str(INFRA / ".checkov.yaml"),
                          "--skip-download", "--quiet", "--compact", "-o", "json"],
                         capture_output=True, text=True, cwd=INFRA)
    reports = json.loads(run.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})"
              for r in reports for c in r["results"]["failed_checks"]]
    assert run.returncode == 0 and not failed, "\n".join(failed) or run.stderr
    assert sum(r["summary"]["passed"] for r in reports) > 100  # it really scanned the modules


def _asl_validator() -> Path:
    tool = ROOT / "node_modules" / ".bin" / "asl-validator"
    if not tool.exists():
        pytest.skip("asl-validator is missing: run `npm ci`")
    return tool


def test_asl_validator_accepts_the_template_and_rejects_a_broken_one(tmp_path):
    tool = _asl_validator()
    names = {"extract_frames_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:splat-frames",
             "convert_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:splat-convert",
             "handle_failure_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:splat-failure",
             "colmap_job_definition_arn": "arn:aws:batch:us-east-1:123456789012:job-definition/splat-colmap:1",
             "train_job_definition_arn": "arn:aws:batch:us-east-1:123456789012:job-definition/splat-train:1",
             "cpu_job_queue_arn": "arn:aws:batch:us-east-1:123456789012:job-queue/splat-cpu",
             "gpu_job_queue_arn": "arn:aws:batch:us-east-1:123456789012:job-queue/splat-gpu"}
    rendered = tmp_path / "rendered.asl.json"
    rendered.write_text(render_asl(names))
    for path in (ASL, rendered):
        ok = subprocess.run([str(tool), "--json-path", str(path)], capture_output=True, text=True)
        assert ok.returncode == 0, ok.stdout + ok.stderr
    broken = json.loads(rendered.read_text())
    broken["States"]["RunCOLMAP"]["Next"] = "Nowhere"
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    bad = subprocess.run([str(tool), "--json-path", str(tmp_path / "broken.json")], capture_output=True, text=True)
    assert bad.returncode != 0 and "Nowhere" in bad.stdout + bad.stderr


AMI_NVIDIA_DRIVER = {"ECS_AL2_NVIDIA": 550, "ECS_AL2023_NVIDIA": 580}
"""NVIDIA driver series of the ECS-optimised GPU AMIs that Batch can use (AWS's AMI release notes)."""


def test_gpu_hosts_driver_runs_the_training_images_cuda():
    batch = (INFRA / "modules" / "pipeline" / "batch.tf").read_text()
    image_type = re.search(r'^\s*gpu\s*=\s*\{[^}\n]*image_type\s*=\s*"(\w+)"', batch, re.M).group(1)
    base = (ROOT / "docker" / "train.Dockerfile").read_text()
    cuda_major = int(re.search(r"^FROM nvidia/cuda:(\d+)\.", base, re.M).group(1))
    assert AMI_NVIDIA_DRIVER[image_type] >= CUDA_MIN_DRIVER[cuda_major], (
        f"{image_type} ships driver {AMI_NVIDIA_DRIVER[image_type]}, CUDA {cuda_major} needs {CUDA_MIN_DRIVER[cuda_major]}")
    assert AMI_NVIDIA_DRIVER["ECS_AL2_NVIDIA"] < CUDA_MIN_DRIVER[13]  # the check can fail: the old AMI would


def test_training_image_builds_kernels_for_newer_gpus_too():
    arch = re.search(r'TORCH_CUDA_ARCH_LIST="([^"]+)"', (ROOT / "docker" / "train.Dockerfile").read_text()).group(1)
    assert arch.endswith("+PTX"), arch
