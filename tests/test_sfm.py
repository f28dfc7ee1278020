"""Structure from motion on generated frames: the report, and the fallback when too few are placed."""

from __future__ import annotations

import json

import pycolmap
import pytest

from splatlib.stages import sfm
from splatlib.stages.frames import FrameOptions, extract_frames


@pytest.fixture(scope="module")
def orbit_frames(orbit_video, tmp_path_factory):
    frames = tmp_path_factory.mktemp("frames")
    extract_frames(orbit_video, frames, FrameOptions(fps=3.0, max_size=480))
    return frames


def test_report_has_the_quality_figures(orbit_frames, tmp_path):
    report = sfm.run_sfm(orbit_frames, tmp_path / "sfm", "video", sfm.SfmOptions(max_image_size=480))
    assert report["matching"] == "sequential" and report["fallback"] is None
    assert report["registered_frames"] >= 0.9 * report["total_frames"] == 0.9 * 18
    assert report["points3D"] > 100 and 0 < report["mean_reprojection_error"] < 2
    assert report["mean_track_length"] > 2
    assert {"features", "matching", "mapping", "undistort"} <= set(report["seconds"])
    assert json.loads((tmp_path / "sfm" / sfm.REPORT).read_text()) == report
    model = pycolmap.Reconstruction(tmp_path / "sfm" / "sparse")
    assert model.num_reg_images() == report["registered_frames"]


def test_fallback_runs_when_too_few_frames_are_placed(orbit_frames, tmp_path, monkeypatch):
    """The default mapping places 3 of 18 frames (as when COLMAP loses track on a real video); the
    fallbacks then run on the same matches, place them all, and the report says which did."""
    real_map = sfm._Colmap.map
    calls = []

    def default_places_three(self, trial, out):
        calls.append(trial.label)
        models = real_map(self, trial, out)
        if trial.label is None:
            best = sfm._largest(models)
            for frame_id in sorted(best.reg_frame_ids())[3:]:
                best.deregister_frame(frame_id)
        return models
    monkeypatch.setattr(sfm._Colmap, "map", default_places_three)
    report = sfm.run_sfm(orbit_frames, tmp_path / "sfm", "video", sfm.SfmOptions(max_image_size=480))
    assert calls == [None, "relaxed mapper thresholds"]  # no EXIF focal length: that trial is skipped
    assert report["fallback"] == "relaxed mapper thresholds"
    assert report["matching"] == "sequential" and report["registered_frames"] >= 16
    assert set(report["seconds"]) == {"features", "matching", "mapping", "undistort"}


def test_fallback_order():
    labels = [t.label for t in sfm._trials("exhaustive")]
    assert labels[0] is None and labels[1] == "relaxed mapper thresholds"
    assert [t.matching for t in sfm._trials("exhaustive")] == ["exhaustive"] * 3 + ["sequential"]
    assert [t.focal_prior for t in sfm._trials("sequential")] == [True, True, False, False]
