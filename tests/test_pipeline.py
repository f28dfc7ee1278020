"""The runner end to end: a generated video through every stage, failures, retries."""

import json
import threading
import time
from dataclasses import replace

import numpy as np
import pytest
from PIL import Image

import splatlib.pipeline as pipeline_module
from splatlib.errors import InputError, LeaseLost
from splatlib.formats.ply import read_ply
from splatlib.library import Status
from splatlib.scene_api import SceneService
from splatlib.pipeline import STAGES, Pipeline, PipelineOptions
from splatlib.layout import SFM_REPORT
from tests.helpers import FAST, HELD_OUT_PSNR_FLOOR, count_stage_calls, make_stage_fail


def test_full_run_on_a_generated_video(completed_scene):
    scene, catalog, store = completed_scene
    assert scene.status == Status.COMPLETED, scene.error
    assert scene.stages_done == list(STAGES) and scene.error is None and scene.completed_at
    assert scene.ply_key.endswith("point_cloud/iteration_150/point_cloud.ply")
    g = read_ply(store.path(scene.ply_key))
    assert len(g) == scene.metrics["num_gaussians"] > 100
    assert store.size(scene.splat_key) == 32 * len(g)
    with Image.open(store.path(scene.thumbnail_key)) as im:
        assert np.asarray(im).std() > 10  # a picture, not a blank
    m = scene.metrics
    assert m["total_frames"] == 18 and m["registered_frames"] >= 16
    assert m["psnr"] > HELD_OUT_PSNR_FLOOR and 0 < m["ssim"] <= 1
    assert set(m["seconds"]) == set(STAGES)
    assert store.exists(f"outputs/{scene.id}/metrics.json") and store.exists(f"outputs/{scene.id}/holdout.jpg")
    assert store.exists(scene.input_key)


@pytest.mark.slow
@pytest.mark.parametrize("stage", STAGES)
def test_failure_in_each_stage_then_retry(stage, pipeline, orbit_video, monkeypatch):
    calls = count_stage_calls(monkeypatch)
    with monkeypatch.context() as m:
        make_stage_fail(m, stage)
        scene = pipeline.create_scene(orbit_video, options=FAST)
        scene = pipeline.run(scene.id)
    assert scene.status == Status.FAILED
    assert scene.error == f"{stage} failed: Boom: disk on fire" and scene.error_stage == stage
    assert pipeline.store.path(scene.input_key).read_bytes() == orbit_video.read_bytes()
    done_before = STAGES[:STAGES.index(stage)]
    assert scene.stages_done == list(done_before)

    scene = pipeline.retry(scene.id)
    assert scene.status == Status.COMPLETED, scene.error
    for s in STAGES:  # finished stages are not redone
        assert calls[s] == 1, s


def test_unregistrable_frames_fail_clearly(pipeline, tmp_path):
    rng = np.random.default_rng(0)
    for i in range(6):
        Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(tmp_path / f"noise_{i}.png")
    scene = pipeline.run(pipeline.create_scene(tmp_path, options=FAST).id)
    assert scene.status == Status.FAILED and scene.error_stage == "sfm"
    assert "of 6 frames could be placed" in scene.error and "overlap" in scene.error


def test_bad_video_fails_and_keeps_the_upload(pipeline, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00garbage" * 50)
    scene = pipeline.run(pipeline.create_scene(bad).id)
    assert scene.status == Status.FAILED and scene.error.startswith("frames failed: broken.mp4 is not a readable video")
    assert pipeline.store.path(scene.input_key).read_bytes() == bad.read_bytes()


def test_until_stops_and_retry_continues(pipeline, orbit_video, monkeypatch):
    calls = count_stage_calls(monkeypatch)
    scene = pipeline.run(pipeline.create_scene(orbit_video, options=FAST).id, until="frames")
    assert scene.status == Status.STOPPED and scene.stages_done == ["frames"]
    assert pipeline.catalog.get(scene.id).message == "stopped after frames"
    scene = pipeline.retry(scene.id, until="sfm")
    assert scene.status == Status.STOPPED and scene.stages_done == ["frames", "sfm"]
    assert calls["frames"] == 1 and calls["sfm"] == 1 and calls["train"] == 0  # went on, redid nothing


@pytest.mark.parametrize("choice, features", [("auto", "SIFT from the 2x upsampled frame"),
                                              ("coarse", "SIFT at frame resolution")])
def test_sfm_features_option_reaches_colmap(pipeline, orbit_video, choice, features):
    options = replace(FAST, sfm_features=choice)
    scene = pipeline.run(pipeline.create_scene(orbit_video, options=options).id, until="sfm")
    report = json.loads(pipeline.store.path(f"sfm/{scene.id}/{SFM_REPORT}").read_text())
    assert scene.status == Status.STOPPED and report["features"] == features


def test_delete_removes_files(pipeline, orbit_video):
    scene = pipeline.run(pipeline.create_scene(orbit_video, options=FAST).id, until="frames")
    SceneService(pipeline.catalog, pipeline.store, pipeline, lambda *_: "").delete(scene.id)
    for prefix in ("uploads", "frames", "sfm", "outputs"):
        assert not pipeline.store.exists(f"{prefix}/{scene.id}")
    assert pipeline.catalog.list() == []


def test_a_paused_owner_that_lost_its_lease_writes_nothing(library, orbit_video, monkeypatch):
    """A process paused past its lease (Ctrl-Z, a sleeping laptop) while another finished the scene:
    when it resumes it stops with LeaseLost and leaves the other's record and outputs alone."""
    first, second = Pipeline(*library), Pipeline(*library)
    scene = first.create_scene(orbit_video, options=FAST)
    paused, resume = threading.Event(), threading.Event()
    real = pipeline_module.extract_frames

    def frames_then_pause(*args, **kwargs):
        result = real(*args, **kwargs)
        if not paused.is_set():  # only the first owner pauses, after doing the work
            paused.set()
            resume.wait(60)
        return result
    monkeypatch.setattr(pipeline_module, "extract_frames", frames_then_pause)
    outcome = {}

    def run_first():
        try:
            outcome["scene"] = first.run(scene.id)
        except LeaseLost as exc:
            outcome["error"] = exc
    thread = threading.Thread(target=run_first)
    thread.start()
    assert paused.wait(60)
    first.catalog.update(scene.id, lease_until=time.time() - 1)  # the lease ran out during the pause
    done = second.run(scene.id)
    assert done.status == Status.COMPLETED, done.error
    resume.set()
    thread.join(60)
    assert isinstance(outcome.get("error"), LeaseLost), outcome
    after = second.catalog.get(scene.id)
    assert after.status == Status.COMPLETED and after.stages_done == list(STAGES)
    assert after.metrics == done.metrics and after.updated_at == done.updated_at


def test_photos_whose_names_clean_up_alike_are_all_kept(pipeline, tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, name in enumerate(["a b.jpg", "a_b.jpg", "é.png"]):
        Image.fromarray(np.full((20, 30, 3), 60 * i, np.uint8)).save(folder / name)
    scene = pipeline.create_scene(folder, options=FAST)
    stored = pipeline.store.path(scene.input_key)
    assert sorted(p.name for p in stored.iterdir()) == ["a_b-2.jpg", "a_b.jpg", "upload.png"]
    names = json.loads(pipeline.store.path(f"uploads/{scene.id}/names.json").read_text())
    assert names == {"a_b.jpg": "a b.jpg", "a_b-2.jpg": "a_b.jpg", "upload.png": "é.png"}


def test_a_dataset_folder_gives_the_photos_of_its_images_folder(pipeline, tmp_path):
    dataset = tmp_path / "fountain"  # the layout of many datasets: photos in images/, cameras beside
    (dataset / "images").mkdir(parents=True)
    (dataset / "gt_cameras").mkdir()
    (dataset / "K.txt").write_text("1 0 0")
    for i in range(3):
        Image.fromarray(np.full((20, 30, 3), 60 * i, np.uint8)).save(dataset / "images" / f"{i}.jpg")
    scene = pipeline.run(pipeline.create_scene(dataset, options=FAST).id, until="frames")
    assert scene.title == "fountain" and scene.metrics["total_frames"] == 3, scene.error
    assert sorted(p.name for p in pipeline.store.path(scene.input_key).iterdir()) == ["0.jpg", "1.jpg", "2.jpg"]


def test_a_folder_without_photos_is_refused_before_a_scene_exists(pipeline, tmp_path):
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("no photos here")
    with pytest.raises(InputError, match="notes holds no photos .*neither itself nor in an images/ folder"):
        pipeline.create_scene(tmp_path / "notes")
    assert pipeline.catalog.list() == []


def test_a_decompression_bomb_fails_the_scene_clearly(pipeline, tmp_path, bomb_png):
    folder = tmp_path / "photos"
    folder.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        bomb_png(folder / name, 15000)
    scene = pipeline.run(pipeline.create_scene(folder, options=FAST).id)
    assert scene.status == Status.FAILED and scene.error_stage == "frames"
    assert "a.png is 15000×15000 px (225 MP); photos of up to 200 MP are accepted" in scene.error


@pytest.mark.parametrize("options", [{"iterations": 10 ** 9}, {"iterations": 2.5}, {"fps": float("nan")},
                                     {"max_gaussians": 10 ** 8}, {"sh_degree": 4}, {"image_size": True},
                                     {"minutes": 0.1}, {"max_frames": 2}])
def test_options_out_of_bounds_are_refused(options):
    name = next(iter(options))
    with pytest.raises(ValueError, match=f"^{name} must be"):
        PipelineOptions(**options)
