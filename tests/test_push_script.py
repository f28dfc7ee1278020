"""docker/push.sh: a rerun after a partial failure skips the images whose immutable tag is pushed.

The aws, docker and terraform commands are small scripts on PATH that record how they are called
(no registry or Docker engine here): this checks the script's own logic, not ECR's.
"""

import os
import stat
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REPOS = '{"colmap": "123.dkr.ecr.us-east-1.amazonaws.com/splat-colmap", ' \
        '"train": "123.dkr.ecr.us-east-1.amazonaws.com/splat-train", ' \
        '"lambda": "123.dkr.ecr.us-east-1.amazonaws.com/splat-lambda"}'


def _tool(bin_dir: Path, name: str, body: str) -> None:
    path = bin_dir / name
    path.write_text(f"#!/usr/bin/env bash\necho \"{name} $*\" >> \"$CALLS\"\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def test_push_skips_tags_already_in_the_registry(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _tool(bin_dir, "terraform", f"echo '{REPOS}'")
    # the colmap image was pushed by the run that failed; describe-images finds only it
    _tool(bin_dir, "aws", 'case "$*" in *describe-images*splat-colmap*) exit 0;; *describe-images*) exit 254;; '
                          '*get-login-password*) echo secret;; esac')
    _tool(bin_dir, "docker", "cat > /dev/null || true")
    calls = tmp_path / "calls"
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", CALLS=str(calls))
    run = subprocess.run(["bash", "docker/push.sh", "v1"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    log = calls.read_text().splitlines()
    pushed = [line.split()[-1] for line in log if line.startswith("docker push")]
    assert pushed == ["123.dkr.ecr.us-east-1.amazonaws.com/splat-train:v1",
                      "123.dkr.ecr.us-east-1.amazonaws.com/splat-lambda:v1"]
    assert not any("colmap.Dockerfile" in line for line in log if line.startswith("docker build"))
    assert "already in the registry" in run.stdout
    refused = subprocess.run(["bash", "docker/push.sh", "latest"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert refused.returncode == 2 and "exact tag" in refused.stderr
