"""Structure from motion on the real photo sets in ../shared/data (skipped when absent).

- fountain_p11: registered images and camera-centre error against the ground truth after a
  similarity (Umeyama) alignment, as a fraction of the extent of the ground-truth camera centres.
- lund: registered frames and seconds per sub-step.
- videos encoded from the fountain and lund frames (bundled ffmpeg) through the same path as an
  upload (the video path starts SIFT at octave 0, photos at -1); fountain's camera error again.

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


def centre_error(est: np.ndarray, gt: np.ndarray) -> tuple[float, float, float]:
    """Mean and max camera-centre error after a similarity alignment, in % of the ground truth's extent."""
    s, R, t = umeyama(est, gt)
    err = np.linalg.norm((s * (R @ est.T)).T + t - gt, axis=1)
    extent = np.linalg.norm(gt.max(0) - gt.min(0))
    return 100 * err.mean() / extent, 100 * err.max() / extent, extent


def run(source: Path, kind: str, tmp: Path, **frame_options) -> tuple[dict, Path, dict, float]:
    frames = tmp / f"frames-{source.stem}"
    manifest = extract_frames(source, frames, FrameOptions(**frame_options))
    t0 = time.perf_counter()
    report = run_sfm(frames, tmp / f"sfm-{source.stem}", kind)
    return report, tmp / f"sfm-{source.stem}", manifest, time.perf_counter() - t0


def encode(pattern: str, video: Path) -> Path:
    """An H.264 video at 2 frames per second of the images matching `pattern`, in name order."""
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", "-framerate", "2", "-pattern_type", "glob",
                    "-i", pattern, "-vf", "scale='min(1920,iw)':-2", "-c:v", "libx264", "-pix_fmt", "yuv420p",
                    "-crf", "18", str(video)], check=True)
    return video


def fountain_error(report: dict, sfm_dir: Path, source_of: dict[str, str], label: str, seconds: float) -> None:
    """Print registration and camera error; `source_of` maps frame names to fountain image names."""
    fountain = DATA / "fountain_p11"
    rec = pycolmap.Reconstruction(str(sfm_dir / "sparse"))
    by_frame = {im.name: im.projection_center() for im in rec.images.values()}
    frames = sorted(by_frame)
    est = np.array([by_frame[f] for f in frames])
    gt = np.array([gt_centre(fountain / "gt_cameras" / f"{source_of[f]}.camera") for f in frames])
    mean, worst, extent = centre_error(est, gt)
    print(f"{label}: {report['registered_frames']}/{report['total_frames']} registered in {seconds:.1f} s; "
          f"camera-centre error after similarity alignment: mean {mean:.3f}%, max {worst:.3f}% of the camera "
          f"extent ({extent:.2f} m); reprojection {report['mean_reprojection_error']:.3f} px; "
          f"sub-steps {json.dumps(report['seconds'])}")


def main() -> None:
    pycolmap.logging.minloglevel = 2
    if not DATA.exists():
        print(f"skipped: {DATA} is absent")
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        fountain = DATA / "fountain_p11"
        report, sfm_dir, manifest, seconds = run(fountain / "images", "photos", tmp)
        fountain_error(report, sfm_dir, {f["name"]: f["source"] for f in manifest["frames"]}, "fountain_p11", seconds)
        images = sorted(p.name for p in (fountain / "images").glob("*.jpg"))
        report, sfm_dir, manifest, seconds = run(encode(str(fountain / "images" / "*.jpg"), tmp / "fountain.mp4"),
                                                 "video", tmp, fps=2.0)
        shown = {f["name"]: images[int(f["time"] * 2 + 1e-6)] for f in manifest["frames"]}  # 2 images a second
        fountain_error(report, sfm_dir, shown, "fountain as a video", seconds)

        lund = DATA / "lund"
        report, _, _, seconds = run(lund, "photos", tmp)
        print(f"lund photos: {report['registered_frames']}/{report['total_frames']} registered in {seconds:.1f} s "
              f"({report['matching']} matching, fallback: {report['fallback']}); sub-steps {json.dumps(report['seconds'])}")

        video = encode(str(lund / "*.jpg"), tmp / "lund.mp4")
        report, _, _, seconds = run(video, "video", tmp, fps=2.0)
        print(f"lund as a video: {report['registered_frames']}/{report['total_frames']} registered in {seconds:.1f} s "
              f"({report['matching']} matching, fallback: {report['fallback']}); sub-steps {json.dumps(report['seconds'])}")


if __name__ == "__main__":
    main()
