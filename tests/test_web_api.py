"""The HTTP API through FastAPI's test client: every endpoint and every error."""

import json
import os
import shutil
import socket
import threading
import time
from dataclasses import fields

import httpx
import numpy as np
import pytest
import uvicorn
from fastapi.testclient import TestClient
from PIL import Image

from splatlib.formats.ply import write_ply
from splatlib.formats.splat import write_splat
from splatlib.library import LocalStore, SQLiteCatalog, Status
from splatlib.pipeline import PipelineOptions
from splatlib.web.app import Settings, create_app
from tests.helpers import FAST, random_gaussians


def make_client(tmp_path, **kwargs) -> TestClient:
    """A client as our own pages are: the test client's host allowed, the client header sent."""
    settings = Settings(home=tmp_path / "lib", run_workers=False, allowed_hosts=("testserver",), **kwargs)
    return TestClient(create_app(settings), headers={"X-Splatlib-Client": "1"})


@pytest.fixture
def client(tmp_path):
    with make_client(tmp_path) as c:
        yield c


def upload(client, path, **extra):
    with open(path, "rb") as f:
        return client.post("/api/scenes", files={"file": (path.name, f, "application/octet-stream")}, **extra)


def test_upload_list_show_delete(client, orbit_video):
    r = upload(client, orbit_video, data={"title": "My orbit"})
    assert r.status_code == 201, r.text
    scene = r.json()
    assert scene["status"] == "queued" and scene["title"] == "My orbit" and len(scene["id"]) == 12
    assert scene["uploadBytes"] == orbit_video.stat().st_size
    time.sleep(0.01)
    second = upload(client, orbit_video).json()
    listed = client.get("/api/scenes").json()["scenes"]
    assert [s["id"] for s in listed] == [second["id"], scene["id"]]  # newest first
    assert [s["id"] for s in client.get("/api/scenes?limit=1&offset=1").json()["scenes"]] == [scene["id"]]
    assert client.get("/api/scenes?status=failed").json()["scenes"] == []
    assert client.get(f"/api/scenes/{scene['id']}").json()["title"] == "My orbit"
    assert client.delete(f"/api/scenes/{scene['id']}").status_code == 204
    assert client.get(f"/api/scenes/{scene['id']}").status_code == 404


def test_photos_upload(client, tmp_path):
    files = []
    for i in range(3):
        p = tmp_path / f"p{i}.jpg"
        Image.fromarray(np.full((20, 30, 3), 50 * i, np.uint8)).save(p)
        files.append(("file", (p.name, open(p, "rb"), "image/jpeg")))
    r = client.post("/api/scenes", files=files)
    assert r.status_code == 201 and r.json()["inputKind"] == "photos"


def test_bad_ids(client):
    assert client.get("/api/scenes/..%2F..%2Fetc").status_code in (400, 404)
    assert client.get("/api/scenes/NOT-AN-ID").status_code == 400
    assert client.get("/api/scenes/abcdefghijkl").status_code == 404
    assert client.post("/api/scenes/abcdefghijkl/retry").status_code == 404
    assert client.get("/api/scenes/abcdefghijkl/files/scene.splat").status_code == 404


@pytest.mark.parametrize("name,content,status,detail", [
    ("notes.txt", b"hello", 415, "unsupported file type"),
    ("fake.mp4", b"garbage" * 100, 415, "not a readable video"),
    ("empty.mov", b"", 415, "empty"),
    ("fake.jpg", b"garbage" * 100, 415, "not a readable image"),
])
def test_rejected_uploads(client, tmp_path, name, content, status, detail):
    path = tmp_path / name
    path.write_bytes(content)
    r = upload(client, path)
    assert r.status_code == status and detail in r.json()["error"]["message"]
    assert client.get("/api/scenes").json()["scenes"] == []


def test_no_file_field(client):
    r = client.post("/api/scenes", data={"title": "x"}, files={"other": ("a.mp4", b"x")})
    assert r.status_code == 422 and "field 'file'" in r.json()["error"]["message"]


def test_oversized_upload(tmp_path, orbit_video):
    with make_client(tmp_path, max_upload_bytes=10_000) as client:
        r = upload(client, orbit_video)
        assert r.status_code == 413 and "too large" in r.json()["error"]["message"]
        assert client.get("/api/scenes").json()["scenes"] == []


def test_token_protects_writes(tmp_path, orbit_video):
    with make_client(tmp_path, token="s3cret") as client:
        assert upload(client, orbit_video).status_code == 401
        assert upload(client, orbit_video, headers={"Authorization": "Bearer wrong"}).status_code == 401
        r = upload(client, orbit_video, headers={"Authorization": "Bearer s3cret"})
        assert r.status_code == 201
        scene_id = r.json()["id"]
        assert client.get("/api/scenes").status_code == 200  # reads stay open
        assert client.delete(f"/api/scenes/{scene_id}").status_code == 401
        assert client.delete(f"/api/scenes/{scene_id}", headers={"Authorization": "Bearer s3cret"}).status_code == 204


def test_private_server_needs_the_token_for_reads(tmp_path, orbit_video):
    auth = {"Authorization": "Bearer s3cret"}
    with make_client(tmp_path, token="s3cret", private=True) as client:
        scene_id = upload(client, orbit_video, headers=auth).json()["id"]
        for path in ("/api/scenes", f"/api/scenes/{scene_id}", f"/api/scenes/{scene_id}/files/thumbnail.jpg"):
            assert client.get(path).status_code == 401, path
        assert client.get("/api/scenes", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get(f"/api/scenes/{scene_id}", headers=auth).json()["id"] == scene_id
        assert client.get("/").status_code == 200 and client.get(f"/scenes/{scene_id}").status_code == 200  # pages hold no data
        assert client.get("/scenes/abcdefghijkl").status_code == 200  # nor do they tell which scenes exist

        assert client.post("/api/session", json={"token": "wrong"}).status_code == 401
        r = client.post("/api/session", json={"token": "s3cret"})
        assert r.status_code == 204 and "s3cret" not in r.headers["set-cookie"]
        assert "httponly" in r.headers["set-cookie"].lower() and "samesite=strict" in r.headers["set-cookie"].lower()
        assert client.get(f"/api/scenes/{scene_id}").status_code == 200  # the page's cookie now serves for reads
        client.cookies.clear()
        assert client.get("/api/scenes").status_code == 401


def _fake_outputs(client, orbit_video):
    """A scene whose outputs exist (written directly), to test downloads without training."""
    scene = upload(client, orbit_video).json()
    app = client.app
    store = app.state.workers.make_pipeline().store
    out = store.local_dir(f"outputs/{scene['id']}")
    g = random_gaussians(100, 3)
    ply = out / "point_cloud" / "iteration_7" / "point_cloud.ply"
    ply.parent.mkdir(parents=True)
    write_ply(ply, g)
    write_splat(out / "scene.splat", g)
    Image.new("RGB", (8, 8), "red").save(out / "thumbnail.jpg")
    app.state.workers.make_pipeline().catalog.update(
        scene["id"], status=Status.COMPLETED, ply_key=f"outputs/{scene['id']}/point_cloud/iteration_7/point_cloud.ply")
    return scene["id"], out


def test_downloads_with_types_and_ranges(client, orbit_video):
    scene_id, out = _fake_outputs(client, orbit_video)
    files = client.get(f"/api/scenes/{scene_id}").json()["files"]
    assert set(files) == {"scene.splat", "point_cloud.ply", "thumbnail.jpg"}
    r = client.get(files["scene.splat"]["url"])
    assert r.status_code == 200 and r.content == (out / "scene.splat").read_bytes()
    assert r.headers["content-type"] == "application/octet-stream"
    assert client.get(files["thumbnail.jpg"]["url"]).headers["content-type"] == "image/jpeg"
    part = client.get(files["scene.splat"]["url"], headers={"Range": "bytes=32-63"})
    assert part.status_code == 206 and part.content == (out / "scene.splat").read_bytes()[32:64]
    assert client.get(f"/api/scenes/{scene_id}/files/scene.spz").status_code == 404
    assert client.get(f"/api/scenes/{scene_id}/files/..%2Fcatalog.sqlite").status_code == 404
    assert client.get(f"/api/scenes/{scene_id}/files/secret.txt").status_code == 404


def test_retry_and_busy(client, orbit_video):
    scene = upload(client, orbit_video).json()
    catalog = client.app.state.workers.make_pipeline().catalog
    catalog.update(scene["id"], status=Status.FAILED, error="sfm failed: x", stages_done=["frames"])
    r = client.post(f"/api/scenes/{scene['id']}/retry")
    assert r.status_code == 202 and r.json()["status"] == "queued" and r.json()["stagesDone"] == ["frames"]
    catalog.update(scene["id"], status=Status.PROCESSING, worker="elsewhere:1", lease_until=time.time() + 60)
    assert client.post(f"/api/scenes/{scene['id']}/retry").status_code == 409
    assert client.delete(f"/api/scenes/{scene['id']}").status_code == 409


def test_pages_and_schema(client):
    assert "Splat Library" in client.get("/").text
    assert client.get("/static/gallery.js").status_code == 200
    schema = client.get("/api/openapi.json").json()
    assert {"/api/scenes", "/api/scenes/{scene_id}", "/api/scenes/{scene_id}/retry",
            "/api/scenes/{scene_id}/files/{name}"} <= set(schema["paths"])


def test_video_and_photos_together_rejected(client, orbit_video, tmp_path):
    photo = tmp_path / "p.jpg"
    Image.new("RGB", (8, 8)).save(photo)
    files = [("file", (orbit_video.name, open(orbit_video, "rb"), "video/mp4")),
             ("file", (photo.name, open(photo, "rb"), "image/jpeg"))]
    r = client.post("/api/scenes", files=files)
    assert r.status_code == 422 and "not both" in r.json()["error"]["message"]


def test_upload_with_a_time_budget(client, orbit_video):
    scene = upload(client, orbit_video, data={"minutes": "2.5"}).json()
    assert scene["options"]["minutes"] == 2.5
    for bad in ("0.1", "abc", "nan", "100000"):
        r = upload(client, orbit_video, data={"minutes": bad})
        assert r.status_code == 422 and "minutes" in r.json()["error"]["message"], bad
    assert len(client.get("/api/scenes").json()["scenes"]) == 1  # nothing created for a bad budget


def test_every_option_is_listed_and_accepted_at_upload(tmp_path, orbit_video):
    """The form and the API are made from the one option table: each option is listed with its
    bounds or choices, and an upload may set it; bad values are refused with the option's name."""
    with make_client(tmp_path, options=FAST) as client:
        _options_round_trip(client, orbit_video)


def _options_round_trip(client, orbit_video):
    listed = {o["name"]: o for o in client.get("/api/options").json()["options"]}
    assert list(listed) == [f.name for f in fields(PipelineOptions)]
    assert listed["iterations"]["minimum"] == 50 and listed["matching"]["choices"] == ["auto", "sequential", "exhaustive"]
    assert listed["iterations"]["default"] == 150  # this server's own setting (FAST), not the library default
    scene = upload(client, orbit_video, data={"iterations": "300", "sh_degree": "1", "matching": "sequential",
                                              "fps": "2.5"}).json()
    assert {k: scene["options"][k] for k in ("iterations", "sh_degree", "matching", "fps")} == \
        {"iterations": 300, "sh_degree": 1, "matching": "sequential", "fps": 2.5}
    for name, bad in (("iterations", "2.5"), ("iterations", "0"), ("sh_degree", "4"), ("matching", "vocab")):
        r = upload(client, orbit_video, data={name: bad})
        assert r.status_code == 422 and name in r.json()["error"]["message"], (name, bad)


def test_no_other_site_can_drive_the_server(tmp_path, orbit_video):
    with make_client(tmp_path) as client:
        scene = upload(client, orbit_video).json()
        plain = TestClient(client.app)  # a browser's simple request: no client header
        # a cross-site multipart form post, a text/plain retry, a DELETE through a rebound DNS name
        with open(orbit_video, "rb") as f:
            r = plain.post("/api/scenes", files={"file": ("a.mp4", f)}, headers={"Origin": "http://evil.example"})
        assert r.status_code == 403 and "cross-site" in r.json()["error"]["message"]
        r = plain.post(f"/api/scenes/{scene['id']}/retry", content=b"x", headers={"Content-Type": "text/plain"})
        assert r.status_code == 403 and "X-Splatlib-Client" in r.json()["error"]["message"]
        r = client.post(f"/api/scenes/{scene['id']}/retry", headers={"Sec-Fetch-Site": "cross-site"})
        assert r.status_code == 403
        r = client.delete(f"/api/scenes/{scene['id']}", headers={"Host": "attacker.example:8000"})
        assert r.status_code == 400 and "unexpected Host" in r.json()["error"]["message"]
        assert client.get(f"/api/scenes/{scene['id']}").status_code == 200  # still there
        # our own pages: same origin, with the header
        same = {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"}
        assert client.delete(f"/api/scenes/{scene['id']}", headers=same).status_code == 204


def test_security_headers_and_local_api_docs(client):
    for path in ("/", "/api/scenes", "/api/docs", "/api/openapi.json"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["x-content-type-options"] == "nosniff" and r.headers["x-frame-options"] == "DENY"
        csp = r.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "unsafe-eval'" not in csp.replace(
            "wasm-unsafe-eval'", "")
    docs = client.get("/api/docs").text
    assert "cdn" not in docs.lower() and 'src="/vendor/swagger/swagger-ui-bundle.js"' in docs
    assert client.get("/vendor/swagger/swagger-ui-bundle.js").status_code == 200


def test_host_check_follows_the_bound_address(tmp_path):
    settings = Settings(home=tmp_path / "lib", run_workers=False, host="0.0.0.0", token="t")
    with TestClient(create_app(settings), base_url="http://my-laptop.lan:8000") as c:
        assert c.get("/api/scenes").status_code == 200  # bound to every interface: any name (writes need the token)
    settings = Settings(home=tmp_path / "lib", run_workers=False, allowed_hosts=("splats.lan",))
    with TestClient(create_app(settings), base_url="http://splats.lan:8000") as c:
        assert c.get("/api/scenes").status_code == 200
    with TestClient(create_app(settings), base_url="http://[::1]:8000") as c:
        assert c.get("/api/scenes").status_code == 200
    with TestClient(create_app(settings), base_url="http://other.lan") as c:
        assert c.get("/api/scenes").status_code == 400


def test_every_photo_and_the_users_names_are_kept(client, tmp_path):
    names = ["a b.jpg", "a_b.jpg", "é.jpg", "ü.jpg", "same.jpg", "same.jpg"]
    files = []
    for i, name in enumerate(names):
        p = tmp_path / f"p{i}.jpg"
        Image.fromarray(np.full((20, 30, 3), 40 * i, np.uint8)).save(p)
        files.append(("file", (name, p.read_bytes(), "image/jpeg")))
    r = client.post("/api/scenes", files=files)
    assert r.status_code == 201, r.text
    scene = r.json()
    store = tmp_path / "lib" / "store" / "uploads" / scene["id"]
    stored = sorted(p.name for p in (store / "photos").iterdir())
    assert len(stored) == 6 and stored == sorted(json.loads((store / "names.json").read_text()))
    assert sorted(json.loads((store / "names.json").read_text()).values()) == sorted(names)
    kept = sorted((store / "photos" / n).read_bytes() for n in stored)
    assert kept == sorted(content for _, (_, content, _) in files)  # six different photos, none overwritten


def test_a_video_named_in_any_script_keeps_its_extension_and_title(client, orbit_video):
    for name in ("café 🎥.mp4", "видео.mp4", "動画.mp4", "v" * 150 + ".mp4"):
        with open(orbit_video, "rb") as f:
            r = client.post("/api/scenes", files={"file": (name, f, "video/mp4")})
        assert r.status_code == 201, (name, r.text)
        assert r.json()["title"] == name[:-4][:200] and r.json()["inputKey"].endswith(".mp4")


def test_a_decompression_bomb_is_refused_with_a_clear_error(client, tmp_path, bomb_png):
    bomb = bomb_png(tmp_path / "bomb.png", 20000)
    assert bomb.stat().st_size < 1_000_000
    files = [("file", (n, bomb.read_bytes(), "image/png")) for n in ("a.png", "b.png", "c.png")]
    r = client.post("/api/scenes", files=files)
    assert r.status_code == 413 and "20000×20000" in r.json()["error"]["message"] and "200 MP" in r.json()["error"]["message"]
    assert client.get("/api/scenes").json()["scenes"] == []


def test_small_defects_are_4xx_not_500(client, tmp_path):
    assert client.get("/api/scenes?offset=99999999999999999999999").status_code == 400
    assert client.get("/api/scenes/abcdefabcdef%0A").status_code == 400  # a trailing newline is no id


def test_stale_upload_folders_are_removed_at_start(tmp_path):
    tmp_root = tmp_path / "lib" / "tmp"
    old, fresh = tmp_root / "tmpold", tmp_root / "tmpfresh"
    for folder in (old, fresh):
        (folder / "in").mkdir(parents=True)
    os.utime(old, (time.time() - 2 * 3600,) * 2)
    with make_client(tmp_path):
        assert not old.exists() and fresh.exists()  # a fresh one may be another server's upload


def test_listing_reads_sizes_from_the_records_not_the_files(completed_scene, monkeypatch):
    """Issue 15: listing stat'ed every file of every scene on every request; the stages now keep the
    sizes in the record, and a list reads no file at all."""
    scene, catalog, store = completed_scene
    home = store.root.parent
    expected = {name: store.size(key) for name, key in (("scene.splat", scene.splat_key),
                                                        ("point_cloud.ply", scene.ply_key))}
    with make_client_at(home) as client:
        monkeypatch.setattr(LocalStore, "size", lambda *a: (_ for _ in ()).throw(AssertionError("stat in a list")))
        monkeypatch.setattr(LocalStore, "exists", lambda *a: (_ for _ in ()).throw(AssertionError("stat in a list")))
        listed = next(s for s in client.get("/api/scenes").json()["scenes"] if s["id"] == scene.id)
    assert {n: listed["files"][n]["bytes"] for n in expected} == expected
    assert {"scene.spz", "scene.sog", "thumbnail.jpg", "preview.mp4", "holdout.jpg", "metrics.json"} <= set(listed["files"])
    assert listed["uploadBytes"] == scene.metrics["upload_bytes"] > 0


def test_a_listing_shows_every_change_of_a_record(completed_scene, tmp_path):
    """Listed scenes are encoded once per version of their record: each write must show at once,
    whichever way it was made (an update, a claim, a lease renewed), and a NaN metric is null."""
    scene, shared, _ = completed_scene
    home = shutil.copytree(shared.path.parent, tmp_path / "lib")  # the shared scene stays as it is
    catalog = SQLiteCatalog(home / "catalog.sqlite")
    with make_client_at(home) as client:
        def listed() -> dict:
            return next(s for s in client.get("/api/scenes").json()["scenes"] if s["id"] == scene.id)

        assert listed()["title"] == scene.title
        catalog.update(scene.id, title="renamed")
        assert listed()["title"] == "renamed"
        current = catalog.update(scene.id, status=Status.QUEUED)
        assert catalog.claim(scene.id, current, "host:1", time.time() + 60)
        assert listed()["status"] == "processing" and listed()["worker"] == "host:1"
        catalog.update(scene.id, ("host:1", current.generation + 1), lease_until=123.0)
        assert listed()["leaseUntil"] == 123.0
        catalog.update(scene.id, metrics={**scene.metrics, "psnr": float("nan")})
        assert listed()["metrics"]["psnr"] is None


def make_client_at(home) -> TestClient:
    settings = Settings(home=home, run_workers=False, allowed_hosts=("testserver",))
    return TestClient(create_app(settings), headers={"X-Splatlib-Client": "1"})


def test_checking_an_upload_does_not_hold_up_other_requests(tmp_path, orbit_video, monkeypatch):
    """Issue 15: decoding an upload to check it (and copying it into the library) ran on the event
    loop, so every other request waited for it. A real server; the check made to take 2 s."""
    import splatlib.web.app as web

    real = web.probe_video
    monkeypatch.setattr(web, "probe_video", lambda path: (time.sleep(2), real(path))[1])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(Settings(home=tmp_path / "lib", run_workers=False)),
                                           host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, headers={"X-Splatlib-Client": "1"}, timeout=30) as client:
            created = {}

            def send():
                with open(orbit_video, "rb") as f:
                    created["status"] = client.post("/api/scenes", files={"file": ("o.mp4", f, "video/mp4")}).status_code
            uploader = threading.Thread(target=send)
            uploader.start()
            time.sleep(0.8)  # the upload is being checked now
            t0 = time.perf_counter()
            assert client.get("/api/options").status_code == 200
            waited = time.perf_counter() - t0
            uploader.join()
        assert created["status"] == 201 and waited < 0.5, waited
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _project_files(folder, root: str = "orbit") -> list:
    return [("file", (f"{root}/{p.relative_to(folder).as_posix()}", p.read_bytes(), "application/octet-stream"))
            for p in sorted(folder.rglob("*")) if p.is_file()]


def test_a_project_folder_upload_keeps_its_layout(client, tmp_path):
    """A browser sends a chosen folder's files named by their paths in it (`orbit/images/view_000.png`);
    a capture with its cameras is kept as laid out, and the folder's name is the title."""
    from splatlib.synthetic import make_transforms_project

    project = make_transforms_project(tmp_path / "orbit", views=6, width=96, height=72)
    r = client.post("/api/scenes", files=_project_files(project))
    assert r.status_code == 201, r.text
    scene = r.json()
    assert scene["inputKind"] == "transforms" and scene["title"] == "orbit"
    kept = LocalStore(tmp_path / "lib" / "store").path(scene["inputKey"])
    assert scene["inputKey"].endswith("/project") and (kept / "transforms.json").is_file()
    assert sorted(p.name for p in (kept / "images").iterdir()) == sorted(p.name for p in (project / "images").iterdir())
    assert scene["uploadBytes"] == sum(p.stat().st_size for p in project.rglob("*") if p.is_file())


@pytest.mark.parametrize("rename, status, message", [
    ({"orbit/images/view_001.png": "orbit/../../view_001.png"}, 400, "must stay inside the project"),
    ({"orbit/images/view_001.png": "orbit/images/other.png"}, 422, "does not exist"),
])
def test_a_broken_project_upload_is_refused(client, tmp_path, rename, status, message):
    from splatlib.synthetic import make_transforms_project

    project = make_transforms_project(tmp_path / "orbit", views=6, width=96, height=72)
    files = [(field, (rename.get(name, name), data, kind)) for field, (name, data, kind) in _project_files(project)]
    r = client.post("/api/scenes", files=files)
    assert r.status_code == status and message in r.json()["error"]["message"], r.text
    assert client.get("/api/scenes").json()["scenes"] == []


def test_a_video_is_made_from_the_api_with_its_progress(completed_scene, tmp_path):
    import av

    scene, shared, _ = completed_scene
    home = shutil.copytree(shared.path.parent, tmp_path / "lib")
    with make_client_at(home) as client:
        assert client.get(f"/api/scenes/{scene.id}/video").json() == {"state": "none"}
        bad = client.post(f"/api/scenes/{scene.id}/video", json={"path": "sideways"})
        assert bad.status_code == 422 and "capture or orbit" in bad.json()["error"]["message"]
        assert client.post(f"/api/scenes/{scene.id}/video", json={"size": "65x48"}).status_code == 422
        r = client.post(f"/api/scenes/{scene.id}/video", json={"path": "orbit", "seconds": 1, "fps": 8, "size": "64x48"})
        assert r.status_code == 202 and r.json()["state"] == "rendering", r.text
        deadline = time.time() + 120
        while (state := client.get(f"/api/scenes/{scene.id}/video").json())["state"] == "rendering":
            assert time.time() < deadline and 0 <= state["progress"] <= 1
            time.sleep(0.2)
        assert state["state"] == "done", state
        listed = client.get(f"/api/scenes/{scene.id}").json()["files"]["video.mp4"]
        got = client.get(listed["url"])
        assert got.status_code == 200 and len(got.content) == listed["bytes"]
    with av.open(str(LocalStore(home / "store").path(f"outputs/{scene.id}/video.mp4"))) as f:
        frames = list(f.decode(video=0))
    assert len(frames) == 8 and (frames[0].width, frames[0].height) == (64, 48)


def test_a_video_of_an_unfinished_scene_is_refused(client, orbit_video):
    scene = upload(client, orbit_video).json()
    r = client.post(f"/api/scenes/{scene['id']}/video", json={})
    assert r.status_code == 409 and "only a completed scene" in r.json()["error"]["message"]
