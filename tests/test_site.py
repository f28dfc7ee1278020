"""`splatlib site`: the gallery as static files (what S3 + CloudFront serve on AWS)."""

import json

import pytest
from fastapi.testclient import TestClient

from splatlib.cli import main
from splatlib.web.app import Settings, create_app
from splatlib.web.vendor import find_vendor_dir

pytestmark = pytest.mark.skipif(find_vendor_dir() is None, reason="three.js and Spark missing: run `npm ci`")


def test_the_site_has_the_servers_pages_scripts_and_settings(tmp_path, capsys):
    assert main(["site", str(tmp_path / "site")]) == 0
    site = tmp_path / "site"
    client = TestClient(create_app(Settings(home=tmp_path / "lib", run_workers=False)), base_url="http://127.0.0.1")
    for page, served in (("index.html", client.get("/").text), ("scene.html", client.get("/static/scene.html").text)):
        assert (site / page).read_text() == served.replace('<html lang="en">', '<html lang="en" data-backend="aws">')
    for path in ("static/gallery.js", "static/common.js", "static/viewer.js", "vendor/spark/spark.module.js",
                 "vendor/three/build/three.module.js", "vendor/three/examples/jsm/controls/OrbitControls.js"):
        route = client.get("/" + path)
        assert route.status_code == 200 and (site / path).read_bytes() == route.content, path
    assert json.loads((site / "options.json").read_text()) == client.get("/api/options").json()
    assert not (site / "config.json").exists()  # the deployment writes it (Terraform)
    assert "aws s3 sync" in capsys.readouterr().out


def test_the_site_is_not_written_over_a_folder_with_files(tmp_path, capsys):
    (tmp_path / "keep.txt").write_text("mine")
    assert main(["site", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err and (tmp_path / "keep.txt").read_text() == "mine"
