"""50 frames at 1024 px: the default path (sharpest of 3 candidates per frame, sequential matching,
SIFT at frame resolution first) against a plain baseline (fps sampling, exhaustive matching,
COLMAP's default SIFT), same video, same machine, same run.

The video is the synthetic textured orbit (splatlib.synthetic) rendered at 1024×768, 25 s at 6 fps,
so that 2 fps gives 50 frames. Prints seconds (frames + SfM), frames placed, the camera-centre error
against the orbit that rendered the video, and the speed-up.

With --train, both models are then trained briefly (800 steps at 320 px, 30k Gaussians) to show
what the sparser coarse model costs downstream: held-out PSNR of each.

Run: .venv/bin/python benchmarks/bench_sfm_speed.py [--train]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pycolmap

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_sfm import centre_error  # noqa: E402
from splatlib.stages.frames import FrameOptions, extract_frames  # noqa: E402
from splatlib.stages.sfm import SfmOptions, run_sfm  # noqa: E402
from splatlib.stages.train import TrainOptions, train_gaussians  # noqa: E402
from splatlib.synthetic import make_orbit_video, orbit_pose  # noqa: E402

SIZE = 1024


SECONDS, FPS = 25, 6


def timed_path(video: Path, work: Path, frames: FrameOptions, sfm: SfmOptions) -> tuple[float, dict, str]:
    """Seconds for frames + SfM, the SfM report, and the camera error against the rendering orbit."""
    t0 = time.perf_counter()
    manifest = extract_frames(video, work / "frames", frames)
    report = run_sfm(work / "frames", work / "sfm", "video", sfm)
    seconds = time.perf_counter() - t0
    rec = pycolmap.Reconstruction(str(work / "sfm" / "sparse"))
    placed = {im.name: im.projection_center() for im in rec.images.values()}
    last = SECONDS * FPS - 1
    shown = {f["name"]: round(f["time"] * FPS) / last for f in manifest["frames"]}  # orbit phase of each frame
    est = np.array([placed[n] for n in sorted(placed)])
    gt = np.array([orbit_pose(shown[n])[1] for n in sorted(placed)])
    mean, worst, _ = centre_error(est, gt)
    return seconds, report, f"camera error mean {mean:.3f}% max {worst:.3f}% of extent"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--train", action="store_true", help="also train on both models and compare held-out PSNR")
    args = parser.parse_args()
    pycolmap.logging.minloglevel = 2
    trained = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        video = make_orbit_video(tmp / "orbit.mp4", seconds=SECONDS, fps=FPS, width=SIZE, height=SIZE * 3 // 4)
        ours = timed_path(video, tmp / "ours", FrameOptions(fps=2.0, sfm_max_size=SIZE), SfmOptions(sfm_max_size=SIZE))
        base = timed_path(video, tmp / "base", FrameOptions(fps=2.0, sfm_max_size=SIZE, oversample=1),
                          SfmOptions(matching="exhaustive", sfm_max_size=SIZE, first_octave=-1))
        if args.train:
            for name in ("ours", "base"):
                report = train_gaussians(tmp / name / "sfm", tmp / name / "train",
                                         TrainOptions(iterations=800, image_size=320, max_gaussians=30_000))
                trained[name] = f"trained: held-out PSNR {report['psnr']:.2f} dB, SSIM {report['ssim']:.3f}"
    for key, name, (s, r, err) in (("ours", "default", ours), ("base", "baseline (fps, exhaustive)", base)):
        print(f"{name:27s} {s:6.1f} s  placed {r['registered_frames']}/{r['total_frames']}  {err}  "
              f"reprojection {r['mean_reprojection_error']:.2f} px  {r['points3D']} points  {r['features']}  "
              f"sub-steps {r['seconds']}  {trained.get(key, '')}")
    print(f"speed-up {base[0] / ours[0]:.1f}x; baseline: fps sampling + exhaustive matching + COLMAP's default SIFT "
          "(first octave -1), same video, same run")


if __name__ == "__main__":
    main()
