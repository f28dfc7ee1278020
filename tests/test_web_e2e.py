"""The web app as a person uses it: a real server process, a real browser, a restart mid-scene."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[1]
SERVE_ARGS = ["--fps", "3", "--iterations", "150", "--image-size", "160", "--max-gaussians", "4000", "--sfm-max-size", "480"]

pytestmark = pytest.mark.slow


def start_server(library: Path, port: int, extra: list[str] = ()) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "splatlib.cli", "serve", "--library", str(library), "--port",
                             str(port), *SERVE_ARGS, *extra], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/options", timeout=2)  # open on a private server too
            return proc
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode())
            time.sleep(0.3)
    raise RuntimeError("server did not start")


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def post_video(url: str, video: Path, headers: dict | None = None) -> dict:
    boundary = "splatlibtestboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{video.name}\"\r\n"
            f"Content-Type: video/mp4\r\n\r\n").encode() + video.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(url, data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; boundary={boundary}",
                                          "X-Splatlib-Client": "1", **(headers or {})})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def wait_for(url: str, predicate, timeout: float) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        scene = get_json(url)
        if predicate(scene):
            return scene
        time.sleep(0.5)
    raise AssertionError(f"timed out; last state {scene['status']} {scene['stage']} {scene['error']}")


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists() or not (ROOT / "node_modules" / "playwright-core").exists(),
                    reason="needs Debian's chromium and `npm ci`")
def test_upload_in_the_browser_and_view(tmp_path, orbit_video):
    port = free_port()
    server = start_server(tmp_path / "lib", port)
    try:
        shot = tmp_path / "view.png"
        run = subprocess.run(["node", str(ROOT / "tests" / "js" / "e2e_upload.mjs"), f"http://127.0.0.1:{port}/",
                              str(orbit_video), str(shot)], capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr
        img = np.asarray(Image.open(shot).convert("RGB"), dtype=np.float32)
        assert (img.max(axis=2) > 30).mean() > 0.3 and img.std() > 20  # the 3D view shows the scene
        page = np.asarray(Image.open(tmp_path / "view-page.png").convert("RGB"))
        assert page.shape[0] >= 600
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/scenes") as r:
            assert json.load(r)["scenes"][0]["options"]["sh_degree"] == 1  # the setting chosen in the form
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def test_restart_mid_scene_resumes(tmp_path, orbit_video):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(tmp_path / "lib", port, ["--iterations", "600"])
    try:
        scene = post_video(f"{base}/api/scenes", orbit_video)
        wait_for(f"{base}/api/scenes/{scene['id']}", lambda s: s["stage"] == "train", 180)
    finally:
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
    sfm_report = tmp_path / "lib" / "store" / "sfm" / scene["id"] / "report.json"
    before = sfm_report.stat().st_mtime_ns
    assert get_json_after_restart(tmp_path, scene["id"])["status"] == "completed"
    assert sfm_report.stat().st_mtime_ns == before  # finished stages are not redone after the restart


def get_json_after_restart(tmp_path: Path, scene_id: str) -> dict:
    port = free_port()
    server = start_server(tmp_path / "lib", port)
    try:
        done = wait_for(f"http://127.0.0.1:{port}/api/scenes/{scene_id}",
                        lambda s: s["status"] in ("completed", "failed"), 600)
        assert done["stagesDone"] == ["frames", "sfm", "train", "convert"], done["error"]
        return done
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists() or not (ROOT / "node_modules" / "playwright-core").exists(),
                    reason="needs Debian's chromium and `npm ci`")
def test_private_gallery_asks_once_and_reads_with_its_cookie(tmp_path, orbit_video):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = start_server(tmp_path / "lib", port, ["--token", "s3cret", "--private"])
    try:
        post_video(f"{base}/api/scenes", orbit_video, {"Authorization": "Bearer s3cret"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            get_json(f"{base}/api/scenes")
        assert refused.value.code == 401
        run = subprocess.run(["node", str(ROOT / "tests" / "js" / "private_gallery.mjs"), base + "/", "s3cret"],
                             capture_output=True, text=True, timeout=120)
        assert run.returncode == 0, run.stderr
        seen = json.loads(run.stdout.strip().splitlines()[-1])
        assert seen["prompts"] == ["This server needs its API token:"] and seen["title"] == "orbit"
        assert seen["cookieOnly"] == 200
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists() or not (ROOT / "node_modules" / "playwright-core").exists(),
                    reason="needs Debian's chromium and `npm ci`")
def test_a_project_folder_chosen_in_the_browser_runs_then_is_cleaned_and_filmed(tmp_path):
    from splatlib.synthetic import make_transforms_project

    project = make_transforms_project(tmp_path / "garden", views=12)
    port = free_port()
    server = start_server(tmp_path / "lib", port)
    try:
        run = subprocess.run(["node", str(ROOT / "tests" / "js" / "folder_upload.mjs"), f"http://127.0.0.1:{port}/",
                              str(project)], capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stderr
        card = json.loads(run.stdout.strip().splitlines()[-1])
        scene = get_json(f"http://127.0.0.1:{port}/api/scenes")["scenes"][0]
        assert card["status"] == "completed" and "garden" in card["text"], (card, scene["error"])
        assert scene["inputKind"] == "transforms" and scene["metrics"]["registered_frames"] == 12
        # the scene page's own controls: a clean-up, then a video
        assert "held-out" in card["clean"] and card["video"] == "done", card
        assert card["cropChoice"] == "box"  # editing the box's corners chose it
        # dragging a face's handle outwards widened the box, and the view did not orbit meanwhile
        drag = card["dragged"]
        assert drag["corner"] >= 0 and drag["outwards"] and drag["drawn"] and not drag["eyeMoved"], drag
        crop = get_json(f"http://127.0.0.1:{port}/api/scenes/{scene['id']}")["metrics"]["clean"]["crop"]
        assert isinstance(crop, list) and len(crop) == 6  # the second clean used the adjusted box
        assert {"clean.splat", "clean.spz", "clean.ply", "video.mp4"} <= set(card["downloads"])
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
