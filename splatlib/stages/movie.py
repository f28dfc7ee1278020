"""Render a camera path through a trained scene to an MP4, with our rasterizer and the bundled ffmpeg.

Used by `splatlib render` (a full-size video) and by the convert stage (a short small preview the
gallery plays on hover). Frames are rendered one at a time and piped to ffmpeg, so memory does not
grow with the video's length.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import torch

from ..errors import InputError
from ..formats import Gaussians
from ..gs.camera_path import Keyframe
from ..gs.model import from_gaussians, on_device
from ..gs.render import render
from ..media import ffmpeg_exe
from ..space import raise_if_disk_full
from . import Progress, no_progress

PREVIEW = {"seconds": 3.0, "fps": 12, "long_side": 320}
"""The convert stage's preview: 36 frames, 320 px on the long side, the capture's aspect."""


def fit_size(width: int, height: int, long_side: int) -> tuple[int, int]:
    """The capture's aspect at `long_side` pixels on its long side, both sides even."""
    s = long_side / max(width, height)
    return max(16, 2 * round(width * s / 2)), max(16, 2 * round(height * s / 2))


def parse_size(text: str) -> tuple[int, int]:
    """'1280x720' → (1280, 720); both even (H.264 in yuv420p needs it), 16 to 4096."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise InputError(f"size must look like 1280x720, not {text!r}") from None
    if not (16 <= width <= 4096 and 16 <= height <= 4096) or width % 2 or height % 2:
        raise InputError(f"size {text}: width and height must be even numbers from 16 to 4096")
    return width, height


def plan_video(cameras: list[dict], path: str = "capture", seconds: float = 10.0, fps: float = 30.0,
               size: str | None = None) -> tuple[list[Keyframe], int, int]:
    """The keyframes and frame size of a video through a scene filmed from `cameras` (cameras.json):
    `path` is "capture" (its own path, smoothed), "orbit", or a camera path file; `size` "WxH",
    else 1280 px on the long side at the capture's aspect. InputError for values out of range."""
    from ..gs import camera_path

    width, height = parse_size(size) if size else fit_size(cameras[0]["width"], cameras[0]["height"], 1280)
    if not (0.5 <= seconds <= 600 and 1 <= fps <= 120):
        raise InputError("seconds must be from 0.5 to 600 and fps from 1 to 120")
    frames = max(2, round(seconds * fps))
    if path == "orbit":
        keys = camera_path.orbit_path(cameras, frames)
    elif path == "capture":
        keys = camera_path.smooth_capture_path(cameras, frames)
    else:
        keys = camera_path.resample(camera_path.load_path(Path(path)), frames)
    return keys, width, height


@torch.no_grad()
def render_movie(gaussians: Gaussians, path: list[Keyframe], out: Path, width: int, height: int, fps: float,
                 progress: Progress = no_progress, device: torch.device | None = None,
                 background: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> dict:
    """Render each keyframe of `path` at width × height and encode them as H.264 at `fps`."""
    if len(gaussians) == 0:
        raise InputError("the scene has no Gaussians to render")
    device = device or torch.device("cpu")
    params = on_device({k: v.detach() for k, v in from_gaussians(gaussians).items()}, device)
    bg = torch.tensor(background, dtype=torch.float32, device=device)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part.mp4")
    cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}",
           "-r", f"{fps:g}", "-i", "-", "-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
           "-movflags", "+faststart", str(tmp)]
    encoder = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        for i, key in enumerate(path):
            viewmat = torch.from_numpy(key.viewmat()).float().to(device)
            K = torch.from_numpy(key.intrinsics(width, height)).float().to(device)
            img, _ = render(params, viewmat, K, width, height, gaussians.sh_degree, bg)
            encoder.stdin.write((img.clamp(0, 1).cpu().numpy() * 255 + 0.5).astype(np.uint8).tobytes())
            if i % 5 == 0 or i == len(path) - 1:
                progress((i + 1) / len(path), f"frame {i + 1}/{len(path)}")
        encoder.stdin.close()
        if encoder.wait() != 0:
            raise RuntimeError("ffmpeg could not encode the video")
    except BaseException as exc:
        encoder.kill()
        encoder.wait()
        tmp.unlink(missing_ok=True)
        errors = encoder.stderr.read().decode(errors="replace")
        raise_if_disk_full(errors)
        if isinstance(exc, (RuntimeError, BrokenPipeError)):  # ffmpeg stopped: what it said is the reason
            raise RuntimeError(f"ffmpeg could not encode the video: {errors[-500:]}") from None
        raise
    finally:
        encoder.stderr.close()
    tmp.replace(out)  # whole or not at all
    return {"frames": len(path), "width": width, "height": height, "fps": fps, "bytes": out.stat().st_size}
