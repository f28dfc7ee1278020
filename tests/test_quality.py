"""The quality guard: the demo scene, end to end at its own settings, must keep its held-out PSNR.

The floor sits about 1 dB under what the ledger measured on the code that set it
(benchmarks/bench_quality.py, benchmarks/results/quality.json), so a change that costs the user a
visibly worse scene fails here, whatever it gains in speed. The old coarse-first SfM default cost
4.5 dB on this scene in an outside measurement; `test_sfm_features_option_reaches_colmap`
(test_pipeline.py) pins the choice that fixed it: video gets the fine features.

SfM runs on one thread here: on two, COLMAP's model changes from run to run with the threads' order
(the demo's held-out PSNR spread 23.96-24.85 dB in the runs of 2026-12-04, and two CI runs of that day
fell to 21.7 dB and to a frame off the orbit); on one it is the same model every time, so the floor
tests the training and the defaults, not the thread order.
"""

import pytest

from splatlib.library import Status
from splatlib.pipeline import Pipeline, PipelineOptions
from splatlib.synthetic import DEMO_OPTIONS, DEMO_VIDEO, make_orbit_video

DEMO_PSNR_FLOOR = 23.0  # dB held-out; with one SfM thread 24.14 dB, SSIM 0.884, in 2 of 2 runs of 2026-12-04
DEMO_SSIM_FLOOR = 0.85  # (on two threads: 23.95-24.62 dB, SSIM 0.873-0.884, in 4 runs of 2026-12-03)


@pytest.mark.slow
def test_demo_scene_keeps_its_quality(library, tmp_path):
    pipeline = Pipeline(*library, sfm_threads=1)
    video = make_orbit_video(tmp_path / "demo.mp4", **DEMO_VIDEO)
    scene = pipeline.create_scene(video, "demo", PipelineOptions(**DEMO_OPTIONS))
    scene = pipeline.run(scene.id)
    assert scene.status == Status.COMPLETED, scene.error
    m = scene.metrics
    assert m["registered_frames"] == m["total_frames"] == 20
    assert m["max_step_ratio"] < 2.5, "a frame was placed off the orbit"  # 5.6-240000 with long-range matching
    assert m["psnr"] >= DEMO_PSNR_FLOOR and m["ssim"] >= DEMO_SSIM_FLOOR, (m["psnr"], m["ssim"])

