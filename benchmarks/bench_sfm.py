"""Structure from motion on the real photo sets in ../shared/data (skipped when absent).

- fountain_p11: registered images and camera-centre error against the ground truth after a
  similarity (Umeyama) alignment, as a fraction of the extent of the ground-truth camera centres.
- lund: registered frames and seconds per sub-step.
- a video encoded from the lund frames (bundled ffmpeg) through the same path as an upload.

Run: .venv/bin/python benchmarks/bench_sfm.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pycolmap

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from splatlib.media import ffmpeg_exe  # noqa: E402
from splatlib.stages.frames import FrameOptions, extract_frames  # noqa: E402
from splatlib.stages.sfm import run_sfm  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Similarity (s, R, t) minimising |s·R·src + t − dst|²."""
    mu_s, mu_d = src.mean(0), dst.mean(0)
    xs, xd = src - mu_s, dst - mu_d
    cov = xd.T @ xs / len(src)
    u, d, vt = np.linalg.svd(cov)
    sign = np.eye(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[2, 2] = -1
    rot = u @ sign @ vt
    scale = np.trace(np.diag(d) @ sign) / xs.var(0).sum()
    return scale, rot, mu_d - scale * rot @ mu_s


def gt_centre(path: Path) -> np.ndarray:
    return np.array(path.read_text().split("\n")[7].split(), dtype=np.float64)


def run(source: Path, kind: str, tmp: Path, **frame_options) -> tuple[dict, Path, dict, float]:
    frames = tmp / f"frames-{source.stem}"
    manifest = extract_frames(source, frames, FrameOptions(**frame_options))
    t0 = time.perf_counter()
    report = run_sfm(frames, tmp / f"sfm-{source.stem}", kind)
    return report, tmp / f"sfm-{source.stem}", manifest, time.perf_counter() - t0


def main() -> None:
    pycolmap.logging.minloglevel = 2
    if not DATA.exists():
        print(f"skipped: {DATA} is absent")
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fountain = DATA / "fountain_p11"
        report, sfm_dir, manifest, seconds = run(fountain / "images", "photos", tmp)
        rec = pycolmap.Reconstruction(str(sfm_dir / "sparse"))
        by_frame = {im.name: im.projection_center() for im in rec.images.values()}
        names = [f["source"] for f in manifest["frames"] if f["name"] in by_frame]
        est = np.array([by_frame[f["name"]] for f in manifest["frames"] if f["name"] in by_frame])
        gt = np.array([gt_centre(fountain / "gt_cameras" / f"{n}.camera") for n in names])
        s, R, t = umeyama(est, gt)
        err = np.linalg.norm((s * (R @ est.T)).T + t - gt, axis=1)
        extent = np.linalg.norm(gt.max(0) - gt.min(0))
        print(f"fountain_p11: {report['registered_frames']}/{report['total_frames']} registered in {seconds:.1f} s; "
              f"camera-centre error after similarity alignment: mean {100 * err.mean() / extent:.3f}%, "
              f"max {100 * err.max() / extent:.3f}% of the camera extent ({extent:.2f} m); "
              f"reprojection {report['mean_reprojection_error']:.3f} px; sub-steps {json.dumps(report['seconds'])}")

        lund = DATA / "lund"
        report, _, _, seconds = run(lund, "photos", tmp)
        print(f"lund photos: {report['registered_frames']}/{report['total_frames']} registered in {seconds:.1f} s "
              f"({report['matching']} matching, fallback: {report['fallback']}); sub-steps {json.dumps(report['seconds'])}")

        video = tmp / "lund.mp4"
        subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-framerate", "2", "-pattern_type", "glob",
                        "-i", str(lund / "*.jpg"), "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "18", str(video)],
                       check=True)
        report, _, _, seconds = run(video, "video", tmp, fps=2.0)
        print(f"lund as a video: {report['registered_frames']}/{report['total_frames']} registered in {seconds:.1f} s "
              f"({report['matching']} matching, fallback: {report['fallback']}); sub-steps {json.dumps(report['seconds'])}")


if __name__ == "__main__":
    main()
