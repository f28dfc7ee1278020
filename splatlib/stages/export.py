"""Convert: trained PLY in; `scene.splat`, `scene.spz`, `scene.sog`, `thumbnail.jpg`, `preview.mp4` and
`metrics.json` out."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import FormatError
from ..formats.ply import read_ply
from ..formats.sog import write_sog
from ..formats.splat import write_splat
from ..formats.spz import write_spz
from ..gs.camera_path import smooth_capture_path
from ..gs.model import from_gaussians
from ..gs.rasterize import render
from ..layout import (CAMERAS, METRICS, PLY_GLOB, PREVIEW, SFM_REPORT, SOG, SPLAT, SPZ, THUMBNAIL,
                      TRAIN_REPORT)
from . import Progress, no_progress
from .frames import image_sharpness
from .movie import PREVIEW as PREVIEW_SETTINGS
from .movie import fit_size, render_movie

log = logging.getLogger(__name__)

THUMBNAIL_SIZE = 480


def latest_ply(outputs_dir: Path) -> Path:
    """The PLY of the highest `iteration_N` folder; FormatError if there is none."""
    found = []
    for path in Path(outputs_dir).glob(PLY_GLOB):
        m = re.fullmatch(r"iteration_(\d+)", path.parent.name)
        if m:
            found.append((int(m.group(1)), path))
    if not found:
        raise FormatError("no trained model (point_cloud/iteration_N/point_cloud.ply) was found")
    return max(found)[1]


def export_scene(outputs_dir: Path, sfm_dir: Path, frames_dir: Path,
                 progress: Progress = no_progress) -> dict:
    """Write the web formats, thumbnail and combined metrics beside the trained model."""
    outputs_dir = Path(outputs_dir)
    ply = latest_ply(outputs_dir)
    progress(0.1, "reading PLY")
    gaussians = read_ply(ply)
    progress(0.3, "writing .splat")
    splat_bytes = write_splat(outputs_dir / SPLAT, gaussians)
    progress(0.4, "writing .spz")
    spz_bytes = write_spz(outputs_dir / SPZ, gaussians)
    progress(0.5, "writing .sog")
    sog_bytes = write_sog(outputs_dir / SOG, gaussians)
    progress(0.6, "rendering thumbnail")
    thumb = outputs_dir / THUMBNAIL
    cameras = json.loads((outputs_dir / CAMERAS).read_text()) if (outputs_dir / CAMERAS).exists() else []
    thumbnail_source = _render_thumbnail(gaussians, cameras, thumb)
    if thumbnail_source is None:
        thumbnail_source = _sharpest_frame_thumbnail(Path(frames_dir), thumb)
    progress(0.7, "rendering a preview video")
    preview = _render_preview(gaussians, cameras, outputs_dir / PREVIEW)
    metrics = {"num_gaussians": len(gaussians), "thumbnail_source": thumbnail_source, "preview": preview,
               "view": initial_view(gaussians, cameras),
               "sizes": {"ply": ply.stat().st_size, "splat": splat_bytes, "spz": spz_bytes, "sog": sog_bytes}}
    for name, path in (("sfm", Path(sfm_dir) / SFM_REPORT), ("train", outputs_dir / TRAIN_REPORT)):
        if path.exists():
            metrics[name] = json.loads(path.read_text())
    (outputs_dir / METRICS).write_text(json.dumps(metrics, indent=1))
    progress(1.0, f".splat {splat_bytes / 1e6:.1f} MB")
    return metrics


def central_camera(cameras: list[dict]) -> dict:
    """The camera nearest the middle of the trajectory."""
    positions = np.array([c["position"] for c in cameras])
    return cameras[int(np.argmin(np.linalg.norm(positions - positions.mean(0), axis=1)))]


def initial_view(gaussians, cameras: list[dict]) -> dict | None:
    """Where a viewer should start: the central camera, looking at the middle of the splats, its up."""
    if not cameras or len(gaussians) == 0:
        return None
    cam = central_camera(cameras)
    rotation = np.array(cam["rotation"])
    return {"eye": cam["position"], "target": np.median(gaussians.means, axis=0).tolist(),
            "up": (-rotation[:, 1]).tolist()}


@torch.no_grad()
def _render_thumbnail(gaussians, cameras: list[dict], dest: Path) -> str | None:
    """Render from the camera nearest the middle of the trajectory; None if that fails."""
    try:
        cam = central_camera(cameras)
        c2w = np.eye(4)
        c2w[:3, :3] = np.array(cam["rotation"])
        c2w[:3, 3] = cam["position"]
        viewmat = torch.from_numpy(np.linalg.inv(c2w)).float()
        K = torch.tensor([[cam["fx"], 0, cam["cx"]], [0, cam["fy"], cam["cy"]], [0, 0, 1]], dtype=torch.float32)
        img, _ = render(from_gaussians(gaussians), viewmat, K, cam["width"], cam["height"], gaussians.sh_degree)
        pixels = (img.clamp(0, 1).numpy() * 255 + 0.5).astype(np.uint8)
        if pixels.max() == 0:
            return None
        im = Image.fromarray(pixels)
        im.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.LANCZOS)
        im.save(dest, quality=90)
        return f"render:{cam['img_name']}"
    except (OSError, KeyError, ValueError, IndexError) as exc:
        log.warning("thumbnail render failed, using the sharpest frame: %s", exc)
        return None


def _render_preview(gaussians, cameras: list[dict], dest: Path) -> bool:
    """A few seconds along the capture's smoothed path, small, for the gallery; False if it fails
    (a scene without a preview is still a scene)."""
    if not cameras:
        return False
    p = PREVIEW_SETTINGS
    try:
        path = smooth_capture_path(cameras, int(p["seconds"] * p["fps"]))
        render_movie(gaussians, path, dest, *fit_size(cameras[0]["width"], cameras[0]["height"], p["long_side"]), p["fps"])
        return True
    except (OSError, RuntimeError, ValueError, KeyError) as exc:
        log.warning("no preview video: %s", exc)
        return False


def _sharpest_frame_thumbnail(frames_dir: Path, dest: Path) -> str:
    frames = sorted(frames_dir.glob("frame_*.jpg"))
    if not frames:
        raise FormatError("no frame is available for a thumbnail")
    best = max(frames, key=image_sharpness)
    with Image.open(best) as im:
        im = im.convert("RGB")
        im.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.LANCZOS)
        im.save(dest, quality=90)
    return f"frame:{best.name}"
