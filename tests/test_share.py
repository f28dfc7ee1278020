"""One HTML file of a scene (issue 17, item 1): viewer and data inlined, it opens from disk in
Chromium with the network refused."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

import splatlib.web.share as share
from splatlib.cli import main
from splatlib.web.app import Settings, create_app

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not Path("/usr/bin/chromium").exists() or not (ROOT / "node_modules" / "three").exists(),
                    reason="needs Debian's chromium and `npm ci`")
def test_a_share_file_opens_from_disk_with_no_network(completed_scene, tmp_path, capsys):
    scene, _, store = completed_scene
    out = tmp_path / "scene.html"
    assert main(["share", scene.id, str(out), "--library", str(store.root.parent)]) == 0
    assert "needs no network" in capsys.readouterr().out
    shot = tmp_path / "shot.png"
    run = subprocess.run(["node", str(ROOT / "tests" / "js" / "share_open.mjs"), str(out), str(shot)],
                         capture_output=True, text=True, timeout=180)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout.strip().splitlines()[-1])
    assert seen == {"error": None, "fetched": [], "title": scene.title}
    img = np.asarray(Image.open(shot).convert("RGB"), dtype=np.float32)
    assert (img.max(axis=2) > 30).mean() > 0.3 and img.std() > 20  # the scene, not a black page


def test_a_scene_too_big_to_share_says_what_to_do(completed_scene, tmp_path, capsys, monkeypatch):
    scene, _, store = completed_scene
    monkeypatch.setattr(share, "MAX_BYTES", 1_000_000)
    assert main(["share", scene.id, str(tmp_path / "x.html"), "--library", str(store.root.parent)]) == 2
    err = capsys.readouterr().err
    assert "the limit is 1 MB" in err and "splatlib clean" in err and "--max-gaussians" in err
    assert not (tmp_path / "x.html").exists()


def test_the_api_gives_the_share_file_as_a_download(completed_scene):
    scene, _, store = completed_scene
    settings = Settings(home=store.root.parent, run_workers=False, allowed_hosts=("testserver",))
    with TestClient(create_app(settings)) as client:
        r = client.get(f"/api/scenes/{scene.id}/share")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        assert r.headers["content-disposition"] == f'attachment; filename="{scene.title}.html"'
        assert '<script type="importmap">' in r.text and 'id="scene"' in r.text
        no_clean = client.get(f"/api/scenes/{scene.id}/share?clean=true")  # the shared scene is never cleaned
        assert no_clean.status_code == 409 and "no cleaned scene" in no_clean.json()["error"]["message"]
