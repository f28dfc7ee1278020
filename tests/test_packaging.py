"""The package as a user installs it (issue 17, item 6): a built wheel carries the viewer's JavaScript,
so `splatlib serve` and `splatlib share` from an installed wheel show scenes in 3D with no npm and no
checkout."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from splatlib.web.vendor import FILES
from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not Path("/usr/bin/chromium").exists() or not (ROOT / "node_modules" / "three").exists(),
                                 reason="needs Debian's chromium and `npm ci`")]


def test_an_installed_wheel_serves_the_viewer_without_npm(tmp_path, completed_scene):
    scene, shared, _ = completed_scene
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(tmp_path / "dist")], check=True, capture_output=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("splatlib-*.whl"))
    listed = zipfile.ZipFile(wheel).namelist()
    packaged = {n for n in listed if n.startswith("splatlib/web/vendor/")}
    assert packaged == {f"splatlib/web/vendor/{p}/{n}" for p, names in FILES.items() for n in names}
    assert "splatlib/web/openapi.json" in listed  # the AWS API handler serves it
    # installed on its own: the rest of the environment (torch, fastapi, …) is this one's, but
    # `splatlib` resolves to the installed wheel, far from any node_modules
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(tmp_path / "site"),
                    str(wheel)], check=True, capture_output=True, timeout=300)
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    where = subprocess.run([sys.executable, "-c", "import splatlib.web.vendor as v; print(v.find_vendor_dir())"],
                           env=env, cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()
    assert where == str(tmp_path / "site" / "splatlib" / "web" / "vendor"), where
    library = shutil.copytree(shared.path.parent, tmp_path / "lib")
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "splatlib.cli", "serve", "--library", str(library), "--port",
                               str(port)], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{base}/api/options", timeout=2)
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()
                time.sleep(0.3)
        with urllib.request.urlopen(f"{base}/vendor/spark/spark.module.js") as r:
            assert r.status == 200 and len(r.read()) > 1_000_000
        shot = tmp_path / "view.png"
        subprocess.run(["node", str(ROOT / "tests" / "js" / "screenshot.mjs"), f"{base}/scenes/{scene.id}", str(shot)],
                       check=True, capture_output=True, text=True, timeout=180)
        img = np.asarray(Image.open(shot).convert("RGB"), dtype=np.float32)
        assert (img.max(axis=2) > 30).mean() > 0.3 and img.std() > 20  # the 3D view shows the scene
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    # and a share file written by the installed package opens from disk, offline
    page = tmp_path / "shared.html"
    subprocess.run([sys.executable, "-m", "splatlib.cli", "share", scene.id, str(page), "--library", str(library)],
                   env=env, cwd=tmp_path, check=True, capture_output=True, timeout=120)
    run = subprocess.run(["node", str(ROOT / "tests" / "js" / "share_open.mjs"), str(page), str(tmp_path / "s.png")],
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0 and json.loads(run.stdout.strip().splitlines()[-1])["error"] is None, run.stderr
