"""Cleaning a finished scene (issue 17, item 3): a copy beside the original, checked on the held-out
views, from the CLI and the API."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from fastapi.testclient import TestClient

from splatlib.cli import main
from splatlib.errors import InputError
from splatlib.formats.ply import read_ply, write_ply
from splatlib.layout import CLEAN_PLY, CLEAN_REPORT, CLEAN_SPLAT, SceneKeys
from splatlib.library import LocalStore, SQLiteCatalog
from splatlib.pipeline import Pipeline
from splatlib.stages.clean import CleanOptions, parse_crop
from splatlib.web.app import Settings, create_app


@pytest.fixture
def scene_copy(completed_scene, tmp_path):
    """The shared finished scene copied into a library of this test's own, with far-away junk added
    to its model: 300 Gaussians 50 scene-widths out, where no camera looked."""
    scene, shared, _ = completed_scene
    home = shutil.copytree(shared.path.parent, tmp_path / "lib")
    store = LocalStore(home / "store")
    ply = store.path(scene.ply_key)
    g = read_ply(ply)
    far = g.means[:300] + 50 * np.ptp(g.means, axis=0)
    junk = type(g)(means=far, scales=g.scales[:300], quats=g.quats[:300], opacities=g.opacities[:300],
                   sh0=g.sh0[:300], shN=g.shN[:300])
    write_ply(ply, type(g)(*(np.concatenate([a, b]) for a, b in zip(
        (g.means, g.scales, g.quats, g.opacities, g.sh0, g.shN),
        (junk.means, junk.scales, junk.quats, junk.opacities, junk.sh0, junk.shN)))))
    return scene, SQLiteCatalog(home / "catalog.sqlite"), store, len(g) + 300


def test_clean_removes_what_no_camera_saw_and_keeps_the_held_out_views(scene_copy):
    scene, catalog, store, total = scene_copy
    original = store.path(scene.ply_key).read_bytes()
    report = Pipeline(catalog, store).clean(scene.id, CleanOptions())
    k = SceneKeys(scene.id)
    assert store.path(scene.ply_key).read_bytes() == original  # never overwritten
    cleaned = read_ply(store.path(k.output(CLEAN_PLY)))
    assert report["gaussians"] == {"before": total, "after": len(cleaned)}
    assert report["removed"]["outside the crop box"] >= 300  # the junk, at least
    assert (np.abs(cleaned.means) < 40 * np.ptp(read_ply(store.path(scene.ply_key)).means[:-300], axis=0)).all()
    assert report["psnr"]["before"] - report["psnr"]["after"] <= 0.1 and report["psnr"]["judged_on"] == "held-out views"
    assert report["bytes"]["after"]["ply"] < report["bytes"]["before"]["ply"]  # the junk was in the PLY only
    assert json.loads(store.path(k.output(CLEAN_REPORT)).read_text()) == report
    record = catalog.get(scene.id)
    assert record.metrics["clean"]["gaussians"] == len(cleaned)
    assert record.metrics["file_bytes"][k.output(CLEAN_SPLAT)] == store.size(k.output(CLEAN_SPLAT))


def test_a_rule_that_costs_too_much_is_given_up(scene_copy):
    """A crop box around a corner of the scene would cut what the views show: it is given up, and
    what is written still holds the held-out PSNR."""
    scene, catalog, store, _ = scene_copy
    g = read_ply(store.path(scene.ply_key))
    low = np.percentile(g.means[:-300], 1, axis=0)
    box = ",".join(f"{v:.3f}" for v in (*low, *(low + 0.05)))
    report = Pipeline(catalog, store).clean(scene.id, CleanOptions(crop=box, floaters=False))
    assert report["given_up"] and report["given_up"][0].startswith("outside the crop box")
    assert report["psnr"]["before"] - report["psnr"]["after"] <= 0.1


@pytest.mark.parametrize("crop", ["1,2,3", "a,b,c,d,e,f", "0,0,0,0,1,1", "nan,0,0,1,1,1"])
def test_a_bad_crop_box_is_refused(crop):
    with pytest.raises(InputError, match="--crop"):
        parse_crop(crop)


def test_the_cli_cleans_and_reports(scene_copy, capsys):
    scene, catalog, store, _ = scene_copy
    code = main(["clean", scene.id, "--library", str(store.root.parent), "-q"])
    out = capsys.readouterr().out
    assert code == 0 and "Gaussians removed" in out and "held-out views:" in out and ".splat" in out
    assert main(["clean", scene.id, "--crop", "1,2", "--library", str(store.root.parent)]) == 2


def test_the_api_cleans_and_lists_the_cleaned_files(scene_copy):
    scene, catalog, store, _ = scene_copy
    settings = Settings(home=store.root.parent, run_workers=False, allowed_hosts=("testserver",))
    with TestClient(create_app(settings), headers={"X-Splatlib-Client": "1"}) as client:
        r = client.post(f"/api/scenes/{scene.id}/clean", json={"crop": "auto", "floaters": True})
        assert r.status_code == 200, r.text
        assert r.json()["gaussians"]["after"] < r.json()["gaussians"]["before"]
        files = client.get(f"/api/scenes/{scene.id}").json()["files"]
        assert {"clean.splat", "clean.spz", "clean.ply"} <= set(files)
        got = client.get(files["clean.splat"]["url"])
        assert got.status_code == 200 and len(got.content) == files["clean.splat"]["bytes"]
        assert client.post(f"/api/scenes/{scene.id}/clean", json={"crop": "1,2"}).status_code == 422
        assert client.post(f"/api/scenes/{scene.id}/clean", content="nope").status_code == 422
