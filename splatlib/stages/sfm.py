"""Structure from motion with COLMAP (pycolmap): frames in, an undistorted PINHOLE model out.

Output layout in `out_dir`: `sparse/{cameras,images,points3D}.bin` and `images/` (undistorted),
plus `report.json` with the registration figures.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pycolmap
from PIL import Image

from ..errors import ReconstructionError
from . import Progress, no_progress

log = logging.getLogger(__name__)

REPORT = "report.json"


@dataclass(frozen=True)
class SfmOptions:
    matching: str = "auto"  # auto | sequential | exhaustive
    max_image_size: int = 1600
    max_features: int = 8192
    sequential_overlap: int = 10
    min_registered_fraction: float = 0.5
    num_threads: int = -1


def _choose_matching(options: SfmOptions, kind: str, count: int) -> str:
    if options.matching != "auto":
        return options.matching
    return "exhaustive" if kind == "photos" and count <= 60 else "sequential"


def run_sfm(frames_dir: Path, out_dir: Path, kind: str = "video", options: SfmOptions = SfmOptions(),
            progress: Progress = no_progress) -> dict:
    """Register the frames in `frames_dir` and write the undistorted model to `out_dir`.

    While fewer than 90% of the frames are placed, fallbacks run: without the EXIF focal length,
    then with the other matching strategy; the best model is kept and the report names the
    fallback used. Raises ReconstructionError when too few frames can be placed.
    """
    frames_dir, out_dir = Path(frames_dir), Path(out_dir)
    names = sorted(p.name for p in frames_dir.glob("frame_*.jpg"))
    total = len(names)
    matching = _choose_matching(options, kind, total)
    seconds: dict[str, float] = {}
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="splatlib-sfm-") as tmp:
        models, had_prior = _Attempt(frames_dir, names, kind, matching, options, seconds, progress).run(
            Path(tmp) / "first", use_focal_prior=True)
        best = _largest(models)
        fallback = None
        # fallbacks while fewer than 90% are placed: ignore an EXIF focal length (often wrong on
        # edited or cropped photos), then also try the other matching strategy; keep the best model
        other = "exhaustive" if matching == "sequential" else "sequential"
        plans = ([("focal length estimated (EXIF ignored)", matching)] if had_prior else []) + [
            (f"{other} matching, focal length estimated", other)]
        for i, (label, how) in enumerate(plans):
            if best is not None and best.num_reg_images() >= 0.9 * total:
                break
            log.info("placed %s of %d frames; trying: %s", best.num_reg_images() if best else 0, total, label)
            retry_models, _ = _Attempt(frames_dir, names, kind, how, options, seconds, progress).run(
                Path(tmp) / f"fallback-{i}", use_focal_prior=False)
            retry_best = _largest(retry_models)
            if retry_best is not None and (best is None or retry_best.num_reg_images() > best.num_reg_images()):
                models, best, fallback, matching = retry_models, retry_best, label, how
        registered = best.num_reg_images() if best is not None else 0
        if registered < max(3, options.min_registered_fraction * total):
            raise ReconstructionError(_placement_message(registered, total))

        t0 = time.perf_counter()
        progress(0.95, "undistorting images")
        model_dir = Path(tmp) / "best"
        model_dir.mkdir()
        best.write(model_dir)
        pycolmap.undistort_images(out_dir, model_dir, frames_dir, output_type="COLMAP")
        seconds["undistort"] = time.perf_counter() - t0
    _flatten_sparse(out_dir)
    report = {
        "matching": matching,
        "fallback": fallback,
        "total_frames": total,
        "registered_frames": registered,
        "models": len(models),
        "points3D": best.num_points3D(),
        "mean_reprojection_error": float(best.compute_mean_reprojection_error()),
        "mean_track_length": float(best.compute_mean_track_length()),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
    }
    (out_dir / REPORT).write_text(json.dumps(report, indent=1))
    for junk in ("stereo", "run-colmap-geometric.sh", "run-colmap-photometric.sh"):
        path = out_dir / junk
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    progress(1.0, f"placed {registered} of {total} frames")
    return report


def _largest(models: dict) -> "pycolmap.Reconstruction | None":
    return max(models.values(), key=lambda r: r.num_reg_images()) if models else None


class _Attempt:
    """One COLMAP run (features, matching, incremental mapping) into its own database."""

    def __init__(self, frames_dir: Path, names: list[str], kind: str, matching: str, options: SfmOptions,
                 seconds: dict[str, float], progress: Progress):
        self.frames_dir, self.names, self.kind, self.matching = frames_dir, names, kind, matching
        self.options, self.seconds, self.progress = options, seconds, progress
        self.threads = options.num_threads if options.num_threads > 0 else (os.cpu_count() or 1)

    def _timed(self, step: str, t0: float) -> None:
        self.seconds[step] = self.seconds.get(step, 0.0) + time.perf_counter() - t0

    def run(self, workdir: Path, use_focal_prior: bool) -> tuple[dict, bool]:
        """Returns the models COLMAP made and whether any camera had a focal-length prior."""
        workdir.mkdir(parents=True)
        db = workdir / "database.db"
        total = len(self.names)
        t0 = time.perf_counter()
        self.progress(0.02, "extracting features")
        extraction = pycolmap.FeatureExtractionOptions()
        extraction.max_image_size = self.options.max_image_size
        extraction.num_threads = self.threads
        extraction.sift.max_num_features = self.options.max_features
        reader = pycolmap.ImageReaderOptions()
        reader.camera_model = "SIMPLE_RADIAL"
        groups = camera_groups(self.frames_dir, self.names) if self.kind == "photos" else [self.names]
        for group in groups:  # one shared camera per group
            pycolmap.extract_features(db, self.frames_dir, image_names=group, camera_mode=pycolmap.CameraMode.SINGLE,
                                      reader_options=reader, extraction_options=extraction,
                                      device=pycolmap.Device.cpu)
        had_prior = _drop_focal_priors(db, keep=use_focal_prior)
        self._timed("features", t0)

        t0 = time.perf_counter()
        self.progress(0.25, f"{self.matching} matching")
        match_opts = pycolmap.FeatureMatchingOptions()
        match_opts.num_threads = self.threads
        if self.matching == "sequential":
            pairing = pycolmap.SequentialPairingOptions()
            pairing.overlap = self.options.sequential_overlap
            pairing.quadratic_overlap = True
            pairing.loop_detection = False  # needs a vocabulary download; never offline
            pycolmap.match_sequential(db, matching_options=match_opts, pairing_options=pairing,
                                      device=pycolmap.Device.cpu)
        else:
            pycolmap.match_exhaustive(db, matching_options=match_opts, device=pycolmap.Device.cpu)
        self._timed("matching", t0)

        t0 = time.perf_counter()
        self.progress(0.5, "mapping")
        mapper = pycolmap.IncrementalPipelineOptions()
        mapper.num_threads = self.threads
        placed = [0]

        def on_next_image() -> None:
            placed[0] += 1
            self.progress(0.5 + 0.4 * min(1.0, placed[0] / max(total, 1)), f"placing frames ({placed[0]} tried)")

        models = pycolmap.incremental_mapping(db, self.frames_dir, workdir / "sparse", options=mapper,
                                              next_image_callback=on_next_image)
        self._timed("mapping", t0)
        return models, had_prior


def _drop_focal_priors(db_path: Path, keep: bool) -> bool:
    """Whether any camera had an EXIF focal prior; unless `keep`, reset those to 1.2 × the long side."""
    db = pycolmap.Database.open(str(db_path))
    try:
        cameras = db.read_all_cameras()
        had_prior = any(c.has_prior_focal_length for c in cameras)
        if not keep:
            for cam in cameras:
                if cam.has_prior_focal_length:
                    cam.params = [1.2 * max(cam.width, cam.height), cam.width / 2, cam.height / 2, 0.0]
                    cam.has_prior_focal_length = False
                    db.update_camera(cam)
    finally:
        db.close()
    return had_prior


def camera_groups(frames_dir: Path, names: list[str]) -> list[list[str]]:
    """Photos grouped by what makes a distinct camera: image size, EXIF camera model and focal length."""
    groups: dict[tuple, list[str]] = {}
    for name in names:
        with Image.open(Path(frames_dir) / name) as im:
            exif = im.getexif()
            focal = exif.get_ifd(0x8769).get(0x920A)  # Exif IFD: FocalLength
            key = (im.size, exif.get(0x0110), str(focal))  # 0x0110: Model
        groups.setdefault(key, []).append(name)
    return list(groups.values())


def _flatten_sparse(out_dir: Path) -> None:
    """COLMAP may write `sparse/` or `sparse/0/`; normalise to `sparse/`."""
    nested = out_dir / "sparse" / "0"
    if nested.is_dir():
        for f in nested.iterdir():
            f.rename(out_dir / "sparse" / f.name)
        nested.rmdir()


def _placement_message(registered: int, total: int) -> str:
    return (f"only {registered} of {total} frames could be placed; the camera must move around the "
            "scene and the frames must overlap (move slowly, avoid blank walls and motion blur)")
