"""50 frames at 1024 px: the default path (sharpest of 3 candidates per frame, sequential matching)
against a plain baseline (fps sampling, exhaustive matching), same video, same machine, same run.

The video is the synthetic textured orbit (splatlib.synthetic) rendered at 1024×768, 25 s at 6 fps,
so that 2 fps gives 50 frames. Prints seconds (frames + SfM), frames placed and the speed-up.

Run: .venv/bin/python benchmarks/bench_sfm_speed.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import pycolmap

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from splatlib.stages.frames import FrameOptions, extract_frames  # noqa: E402
from splatlib.stages.sfm import SfmOptions, run_sfm  # noqa: E402
from splatlib.synthetic import make_orbit_video  # noqa: E402

SIZE = 1024


def timed_path(video: Path, work: Path, frames: FrameOptions, sfm: SfmOptions) -> tuple[float, dict]:
    t0 = time.perf_counter()
    extract_frames(video, work / "frames", frames)
    report = run_sfm(work / "frames", work / "sfm", "video", sfm)
    return time.perf_counter() - t0, report


def main() -> None:
    pycolmap.logging.minloglevel = 2
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        video = make_orbit_video(tmp / "orbit.mp4", seconds=25, fps=6, width=SIZE, height=SIZE * 3 // 4)
        ours_s, ours = timed_path(video, tmp / "ours", FrameOptions(fps=2.0, max_size=SIZE),
                                  SfmOptions(max_image_size=SIZE))
        base_s, base = timed_path(video, tmp / "base", FrameOptions(fps=2.0, max_size=SIZE, oversample=1),
                                  SfmOptions(matching="exhaustive", max_image_size=SIZE))
    for name, s, r in (("default (sharpest, sequential)", ours_s, ours), ("baseline (fps, exhaustive)", base_s, base)):
        print(f"{name:32s} {s:7.1f} s  placed {r['registered_frames']}/{r['total_frames']}  "
              f"reprojection {r['mean_reprojection_error']:.2f} px  sub-steps {r['seconds']}")
    print(f"speed-up {base_s / ours_s:.1f}x; baseline: fps sampling + exhaustive matching, same video, same run")


if __name__ == "__main__":
    main()
