"""A full disk (issue 15): a clear error naming the device, nothing partial kept, the scene failed and
retryable. The end-to-end cases run on a real small file system (a tmpfs, mounted where the tests
run as root, as in CI); the rest run anywhere."""

from __future__ import annotations

import errno
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import splatlib.space as space
from splatlib.errors import DiskFull
from splatlib.layout import SPLAT, SceneKeys
from splatlib.library import LocalStore, SQLiteCatalog, Status
from splatlib.pipeline import STAGES, Pipeline
from splatlib.web.app import Settings, create_app
from tests.helpers import FAST


@pytest.fixture
def small_disk(tmp_path):
    """A 16 MB tmpfs mounted for the test, unmounted after it."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small file system needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(disk)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


def fill(disk: Path, leave: int) -> Path:
    """Fill `disk` up to `leave` bytes free; returns the filler, to delete to free the space again."""
    filler = disk / f"filler-{len(list(disk.glob('filler-*')))}"
    filler.write_bytes(bytes(max(0, shutil.disk_usage(disk).free - leave)))
    return filler


def test_disk_full_is_told_from_other_errors():
    assert space.is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert space.is_disk_full(sqlite3.OperationalError("database or disk is full"))
    try:
        try:
            raise OSError(errno.EDQUOT, "Disk quota exceeded")
        except OSError as inner:
            raise RuntimeError("writing the model failed") from inner
    except RuntimeError as outer:
        assert space.is_disk_full(outer)
    assert not space.is_disk_full(OSError(errno.EACCES, "Permission denied"))
    assert not space.is_disk_full(sqlite3.OperationalError("database is locked"))


def test_every_stage_that_fills_the_disk_fails_cleanly_and_a_retry_finishes(small_disk, orbit_video, monkeypatch):
    """Each stage in turn meets a full disk: the scene fails naming the device, what the stage had
    written is gone, the upload and the finished stages are kept; with room again, a retry goes on.
    The catalog is kept on another disk here, so that recording the failure never depends on how
    much of the last 32 KB SQLite's journal took (with the catalog on the full disk too, the stage's
    removed files usually make room for it; when they do not, the run says so and the lease runs out)."""
    monkeypatch.setattr(space, "RESERVE_BYTES", 64 * 1024)
    catalog, store = SQLiteCatalog(small_disk.parent / "catalog.sqlite"), LocalStore(small_disk / "store")
    pipe = Pipeline(catalog, store)
    scene = pipe.create_scene(orbit_video, options=FAST)
    k = SceneKeys(scene.id)
    upload = store.path(scene.input_key).read_bytes()
    for i, stage in enumerate(STAGES):
        filler = fill(small_disk, leave=32 * 1024)
        failed = pipe.retry(scene.id)
        assert failed.status == Status.FAILED and failed.error_stage == stage, (stage, failed.error)
        assert re.fullmatch(rf"{stage} failed: no space left on tmpfs, mounted at {re.escape(str(small_disk))} "
                            r"for the [a-z ]+ \(\d+\.\d MB free, about \d+\.\d MB needed\); free some space, "
                            r"then retry the scene", failed.error), failed.error
        assert failed.stages_done == list(STAGES[:i])
        if stage in ("frames", "sfm"):
            assert not store.exists(getattr(k, stage))
        if stage == "convert":
            assert not store.exists(k.output(SPLAT)) and store.exists(failed.ply_key)  # training kept
        assert store.path(scene.input_key).read_bytes() == upload
        filler.unlink()
        done = pipe.retry(scene.id, until=stage)
        assert done.stages_done == list(STAGES[:i + 1]), done.error
    assert catalog.get(scene.id).status == Status.COMPLETED
    assert catalog._conn().execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_an_upload_that_does_not_fit_is_refused_before_copying(small_disk, orbit_video):
    catalog, store = SQLiteCatalog(small_disk / "lib" / "catalog.sqlite"), LocalStore(small_disk / "lib" / "store")
    with pytest.raises(DiskFull, match=r"no space left on tmpfs, mounted at .* for the upload \(1[0-9]\.?\d* MB free, "
                                       r"about 25[0-9] MB needed\)"):
        Pipeline(catalog, store).create_scene(orbit_video)
    assert catalog.list() == [] and list((small_disk / "lib" / "store").rglob("*.mp4")) == []


def test_an_upload_cut_off_by_a_full_disk_leaves_nothing(small_disk, orbit_video, monkeypatch):
    """The free space was there when checked, and gone during the copy (another program wrote)."""
    monkeypatch.setattr("splatlib.pipeline.ensure_room", lambda *a: None)
    catalog, store = SQLiteCatalog(small_disk / "lib" / "catalog.sqlite"), LocalStore(small_disk / "lib" / "store")
    fill(small_disk, leave=orbit_video.stat().st_size // 2)
    with pytest.raises(DiskFull, match="no space left on tmpfs"):
        Pipeline(catalog, store).create_scene(orbit_video)
    assert catalog.list() == [] and [p for p in (small_disk / "lib" / "store").rglob("*") if p.is_file()] == []


def test_the_web_answers_507_with_the_reason_and_keeps_nothing(small_disk, orbit_video):
    home = small_disk / "lib"
    app = create_app(Settings(home=home, run_workers=False, allowed_hosts=("testserver",)))
    with TestClient(app, headers={"X-Splatlib-Client": "1"}) as client:
        with open(orbit_video, "rb") as f:
            r = client.post("/api/scenes", files={"file": ("clip.mp4", f, "video/mp4")})
        assert r.status_code == 507 and "no space left on tmpfs" in r.json()["error"]["message"], r.text
        assert client.get("/api/scenes").json()["scenes"] == []
    assert [p for p in home.rglob("*") if p.is_file() and p.suffix == ".mp4"] == []


def test_the_cli_says_the_disk_is_full_without_a_traceback(small_disk, orbit_video):
    run = subprocess.run([sys.executable, "-m", "splatlib.cli", "run", str(orbit_video), "--library",
                          str(small_disk / "lib")], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2 and "no space left on tmpfs" in run.stderr and "Traceback" not in run.stderr, run.stderr
