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

    Raises ReconstructionError when too few frames can be placed.
    """
    frames_dir, out_dir = Path(frames_dir), Path(out_dir)
    names = sorted(p.name for p in frames_dir.glob("frame_*.jpg"))
    total = len(names)
    threads = options.num_threads if options.num_threads > 0 else (os.cpu_count() or 1)
    seconds: dict[str, float] = {}
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="splatlib-sfm-") as tmp:
        db = Path(tmp) / "database.db"
        t0 = time.perf_counter()
        progress(0.02, "extracting features")
        extraction = pycolmap.FeatureExtractionOptions()
        extraction.max_image_size = options.max_image_size
        extraction.num_threads = threads
        extraction.sift.max_num_features = options.max_features
        reader = pycolmap.ImageReaderOptions()
        reader.camera_model = "OPENCV" if kind == "photos" else "SIMPLE_RADIAL"
        camera_mode = pycolmap.CameraMode.PER_IMAGE if kind == "photos" else pycolmap.CameraMode.SINGLE
        pycolmap.extract_features(db, frames_dir, image_names=names, camera_mode=camera_mode,
                                  reader_options=reader, extraction_options=extraction,
                                  device=pycolmap.Device.cpu)
        seconds["features"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        matching = _choose_matching(options, kind, total)
        progress(0.25, f"{matching} matching")
        match_opts = pycolmap.FeatureMatchingOptions()
        match_opts.num_threads = threads
        if matching == "sequential":
            pairing = pycolmap.SequentialPairingOptions()
            pairing.overlap = options.sequential_overlap
            pairing.quadratic_overlap = True
            pairing.loop_detection = False  # needs a vocabulary download; never offline
            pycolmap.match_sequential(db, matching_options=match_opts, pairing_options=pairing,
                                      device=pycolmap.Device.cpu)
        else:
            pycolmap.match_exhaustive(db, matching_options=match_opts, device=pycolmap.Device.cpu)
        seconds["matching"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        progress(0.5, "mapping")
        mapper = pycolmap.IncrementalPipelineOptions()
        mapper.num_threads = threads
        registered_so_far = [0]

        def on_next_image() -> None:
            registered_so_far[0] += 1
            progress(0.5 + 0.4 * min(1.0, registered_so_far[0] / max(total, 1)),
                     f"placed {registered_so_far[0]} of {total} frames")

        models = pycolmap.incremental_mapping(db, frames_dir, Path(tmp) / "sparse", options=mapper,
                                              next_image_callback=on_next_image)
        seconds["mapping"] = time.perf_counter() - t0
        if not models:
            raise ReconstructionError(_placement_message(0, total))
        best = max(models.values(), key=lambda r: r.num_reg_images())
        registered = best.num_reg_images()
        if registered < max(3, options.min_registered_fraction * total):
            raise ReconstructionError(_placement_message(registered, total))

        t0 = time.perf_counter()
        progress(0.92, "undistorting images")
        model_dir = Path(tmp) / "best"
        model_dir.mkdir()
        best.write(model_dir)
        pycolmap.undistort_images(out_dir, model_dir, frames_dir, output_type="COLMAP")
        seconds["undistort"] = time.perf_counter() - t0
    _flatten_sparse(out_dir)
    report = {
        "matching": matching,
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
