"""Bring your own cameras (issue 17): a nerfstudio / instant-ngp `transforms.json` folder or a COLMAP
project runs without frame extraction and mapping, with the same outputs and metrics."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from splatlib.cli import main
from splatlib.errors import InputError
from splatlib.library import LocalStore, SQLiteCatalog, Status
from splatlib.pipeline import Pipeline
from splatlib.stages.posed import PROJECT, project_kind, read_transforms
from splatlib.synthetic import make_transforms_project
from tests.helpers import FAST, HELD_OUT_PSNR_FLOOR


@pytest.fixture(scope="module")
def transforms_project(tmp_path_factory) -> Path:
    return make_transforms_project(tmp_path_factory.mktemp("nerfstudio") / "orbit", views=16)


@pytest.fixture(scope="module")
def posed_scene(tmp_path_factory, transforms_project):
    home = tmp_path_factory.mktemp("posed")
    catalog, store = SQLiteCatalog(home / "catalog.sqlite"), LocalStore(home / "store")
    pipe = Pipeline(catalog, store)
    scene = pipe.create_scene(transforms_project, options=FAST)
    return pipe.run(scene.id), pipe, store


def test_a_transforms_folder_runs_without_mapping_on_its_own_cameras(posed_scene, transforms_project):
    scene, _, store = posed_scene
    assert scene.status == Status.COMPLETED, scene.error
    assert scene.input_kind == "transforms" and scene.input_key.endswith(f"/{PROJECT}")
    kept = store.path(scene.input_key)
    assert (kept / "transforms.json").read_bytes() == (transforms_project / "transforms.json").read_bytes()
    assert len(list((kept / "images").glob("*.png"))) == 16
    report = json.loads(store.path(f"sfm/{scene.id}/report.json").read_text())
    assert report["source"] == "transforms.json" and report["points"].startswith("triangulated")
    # the given cameras explain the matches: COLMAP's points reproject to within a pixel
    assert report["registered_frames"] == 16 and report["points3D"] >= 300
    assert report["mean_reprojection_error"] < 1.0
    assert "seconds" in scene.metrics and "sfm" in scene.metrics["seconds"]
    assert scene.metrics["psnr"] >= HELD_OUT_PSNR_FLOOR
    assert not list(store.path(f"frames/{scene.id}").glob("*"))  # nothing extracted


def test_a_colmap_project_keeps_its_own_points(posed_scene, tmp_path):
    """The model a scene's SfM stage wrote is itself a COLMAP project (`images/` + `sparse/`)."""
    first, pipe, store = posed_scene
    project = shutil.copytree(store.path(f"sfm/{first.id}"), tmp_path / "colmap", ignore=shutil.ignore_patterns("*.json"))
    assert project_kind(project) == "colmap"
    scene = pipe.run(pipe.create_scene(project, options=FAST).id)
    assert scene.status == Status.COMPLETED, scene.error
    report = json.loads(store.path(f"sfm/{scene.id}/report.json").read_text())
    assert report["source"] == "COLMAP project" and report["points"] == "the project's own"
    assert report["points3D"] == first.metrics["points3D"] and report["registered_frames"] == 16


def test_a_colmap_project_without_points_is_triangulated(posed_scene, tmp_path):
    import pycolmap

    first, pipe, store = posed_scene
    project = shutil.copytree(store.path(f"sfm/{first.id}"), tmp_path / "poses-only", ignore=shutil.ignore_patterns("*.json"))
    model = pycolmap.Reconstruction(project / "sparse")
    for point_id in list(model.points3D):
        model.delete_point3D(point_id)
    model.write(project / "sparse")
    assert pycolmap.Reconstruction(project / "sparse").num_points3D() == 0
    scene = pipe.run(pipe.create_scene(project, options=FAST).id)
    assert scene.status == Status.COMPLETED, scene.error
    assert scene.metrics["points3D"] >= 300


def test_cameras_with_the_wrong_axes_fail_with_a_clear_message(tmp_path):
    project = make_transforms_project(tmp_path / "opencv-axes", views=16, opengl=False)
    pipe = Pipeline(SQLiteCatalog(tmp_path / "lib" / "catalog.sqlite"), LocalStore(tmp_path / "lib" / "store"))
    scene = pipe.run(pipe.create_scene(project, options=FAST).id)
    assert scene.status == Status.FAILED and scene.error_stage == "sfm"
    assert "could be triangulated from the 16 given cameras" in scene.error and "OpenGL" in scene.error


def test_instant_ngp_names_and_field_of_view_are_read(transforms_project, tmp_path):
    """instant-ngp's files give `camera_angle_x` instead of a focal length, no image size, and
    image paths without their extension."""
    project = shutil.copytree(transforms_project, tmp_path / "ngp")
    data = json.loads((project / "transforms.json").read_text())
    for key in ("fl_x", "fl_y", "cx", "cy", "w", "h", "camera_model"):
        data.pop(key)
    data["camera_angle_x"] = 1.0
    for frame in data["frames"]:
        frame["file_path"] = "./" + frame["file_path"][:-len(".png")]
    (project / "transforms.json").write_text(json.dumps(data))
    views = read_transforms(project)
    assert [v.name for v in views][:2] == ["images/view_000.png", "images/view_001.png"]
    assert views[0].model == "OPENCV" and (views[0].width, views[0].height) == (320, 240)
    assert views[0].params[0] == pytest.approx(160 / 0.5463024898437905)  # 0.5·w / tan(0.5·angle)


@pytest.mark.parametrize("change, message", [
    (lambda d: d["frames"][0].update(file_path="../outside.png"), "must stay inside the project folder"),
    (lambda d: d["frames"][0].update(file_path="images/missing.png"), "does not exist"),
    (lambda d: d["frames"][0].pop("transform_matrix"), "frame 1"),
    (lambda d: d.update(frames=d["frames"][:2]), "at least 3 are needed"),
    (lambda d: d.pop("fl_x"), "no focal length"),
])
def test_a_broken_transforms_file_is_refused_before_any_scene(transforms_project, tmp_path, capsys, change, message):
    project = shutil.copytree(transforms_project, tmp_path / "broken")
    (tmp_path / "outside.png").write_bytes((project / "images" / "view_000.png").read_bytes())
    data = json.loads((project / "transforms.json").read_text())
    change(data)
    (project / "transforms.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match=message):
        read_transforms(project)
    code = main(["run", str(project), "--library", str(tmp_path / "lib")])
    assert code == 2 and message in capsys.readouterr().err
    assert not list((tmp_path / "lib" / "store").rglob("*.png"))


def test_a_transforms_file_that_is_not_json_is_refused(tmp_path):
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "transforms.json").write_text("{not json")
    with pytest.raises(InputError, match="transforms.json cannot be read"):
        read_transforms(tmp_path / "p")
