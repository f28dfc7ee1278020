"""Synthetic test scenes: a textured little world rendered by ray casting, written as a video.

Used by `splatlib demo` and by the tests, so both run on a fresh machine with no data.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from .media import ffmpeg_exe

_SPHERES = np.array([  # centre x, y, z, radius
    [0.0, 0.0, 0.5, 0.5],
    [0.95, -0.45, 0.3, 0.3],
    [-0.8, 0.65, 0.35, 0.35],
    [0.3, 0.95, 0.2, 0.2],
])
_WALL_RADIUS = 5.0

DEMO_VIDEO = {"seconds": 10.0, "fps": 10.0}  # `splatlib demo`'s input: 100 frames at 480×360
DEMO_OPTIONS = {"iterations": 600, "image_size": 320, "max_gaussians": 40_000}
"""The demo's pipeline settings beside the defaults: 21-42 s of `splatlib run` on 2 cores and 23.6-25.1 dB
held-out in 34 of the 35 quality-ledger runs of 2026-12-04 and 05 (benchmarks/bench_quality.py); the other got
a poor SfM model and ended at 16.7 dB, before a video was mapped until two mappings agree (README, "The quality
ledger")."""


def make_texture(seed: int, size: int = 512) -> np.ndarray:
    """A colourful texture with many corners and blobs, good for SIFT; float RGB in [0, 1]."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (size, size), tuple(int(v) for v in rng.integers(60, 200, 3)))
    draw = ImageDraw.Draw(img)
    for _ in range(260):
        x, y = rng.integers(0, size, 2)
        r = int(rng.integers(4, size // 10))
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
        else:
            draw.rectangle([x - r, y - r // 2, x + r, y + r // 2], fill=colour)
    return np.asarray(img, dtype=np.float32) / 255.0


def _sample(tex: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Bilinear lookup with wrap-around; u, v in texture repeats."""
    h, w, _ = tex.shape
    x = (u % 1.0) * w - 0.5
    y = (v % 1.0) * h - 0.5
    x0 = np.floor(x).astype(np.int64)
    y0 = np.floor(y).astype(np.int64)
    fx = (x - x0)[..., None]
    fy = (y - y0)[..., None]
    x0 %= w
    y0 %= h
    x1 = (x0 + 1) % w
    y1 = (y0 + 1) % h
    top = tex[y0, x0] * (1 - fx) + tex[y0, x1] * fx
    bottom = tex[y1, x0] * (1 - fx) + tex[y1, x1] * fx
    return top * (1 - fy) + bottom * fy


def orbit_pose(t: float, radius: float = 3.2, height: float = 1.3, arc_deg: float = 200.0):
    """Camera-to-world rotation (columns: right, down, forward) and centre at phase t in [0, 1]."""
    angle = np.deg2rad(-arc_deg / 2 + arc_deg * t)
    centre = np.array([radius * np.cos(angle), radius * np.sin(angle), height + 0.15 * np.sin(3 * angle)])
    target = np.array([0.0, 0.0, 0.35])
    forward = target - centre
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward], axis=1), centre


def render_view(rot: np.ndarray, centre: np.ndarray, width: int, height: int,
                textures: list[np.ndarray], focal: float | None = None) -> np.ndarray:
    """Ray-cast the scene from one camera; returns uint8 RGB (height, width, 3)."""
    f = focal or 0.9 * width
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    dirs_cam = np.stack([(xs + 0.5 - width / 2) / f, (ys + 0.5 - height / 2) / f, np.ones_like(xs)], -1)
    dirs = dirs_cam @ rot.T
    dirs /= np.linalg.norm(dirs, axis=-1, keepdims=True)
    o = centre
    best_t = np.full(dirs.shape[:2], np.inf)
    colour = np.zeros(dirs.shape, dtype=np.float64)
    sky = np.array([0.55, 0.7, 0.9]) * (0.6 + 0.4 * np.clip(dirs[..., 2:3], 0, 1))
    colour[:] = sky

    # ground plane z = 0
    with np.errstate(divide="ignore", invalid="ignore"):  # rays parallel to the ground never hit it
        t = -o[2] / dirs[..., 2]
        p = o + t[..., None] * dirs
    hit = (t > 1e-4) & (t < best_t) & (np.hypot(p[..., 0], p[..., 1]) < _WALL_RADIUS)
    colour[hit] = _sample(textures[0], p[hit][:, 0] * 0.3, p[hit][:, 1] * 0.3)
    best_t[hit] = t[hit]

    # surrounding cylinder wall
    a = dirs[..., 0] ** 2 + dirs[..., 1] ** 2
    b = 2 * (o[0] * dirs[..., 0] + o[1] * dirs[..., 1])
    c = o[0] ** 2 + o[1] ** 2 - _WALL_RADIUS ** 2
    with np.errstate(invalid="ignore", divide="ignore"):
        t = (-b + np.sqrt(b * b - 4 * a * c)) / (2 * a)
    p = o + t[..., None] * dirs
    hit = (t > 1e-4) & (t < best_t) & (p[..., 2] > 0) & (p[..., 2] < 3.0)
    ang = np.arctan2(p[..., 1], p[..., 0]) / (2 * np.pi)
    colour[hit] = _sample(textures[1], ang[hit] * 4, p[hit][:, 2] * 0.35) * 0.9
    best_t[hit] = t[hit]

    light = np.array([0.4, -0.3, 0.85])
    light /= np.linalg.norm(light)
    for i, (cx, cy, cz, r) in enumerate(_SPHERES):
        oc = o - np.array([cx, cy, cz])
        b = np.einsum("hwc,c->hw", dirs, oc)
        disc = b * b - (oc @ oc - r * r)
        with np.errstate(invalid="ignore"):
            t = -b - np.sqrt(disc)
        hit = (disc > 0) & (t > 1e-4) & (t < best_t)
        p = o + t[..., None] * dirs
        n = (p - np.array([cx, cy, cz])) / r
        u = np.arctan2(n[..., 1], n[..., 0]) / (2 * np.pi)
        v = np.arccos(np.clip(n[..., 2], -1, 1)) / np.pi
        shade = 0.45 + 0.55 * np.clip(n @ light, 0, 1)
        tex = textures[2 + i % (len(textures) - 2)]
        colour[hit] = _sample(tex, u[hit] * 2, v[hit]) * shade[hit][:, None]
        best_t[hit] = t[hit]
    return (np.clip(colour, 0, 1) * 255 + 0.5).astype(np.uint8)


def render_orbit(num_frames: int, width: int, height: int, seed: int = 0) -> list[np.ndarray]:
    """Render `num_frames` views along a smooth orbit around the scene."""
    textures = [make_texture(seed * 10 + k) for k in range(5)]
    frames = []
    for i in range(num_frames):
        rot, centre = orbit_pose(i / max(num_frames - 1, 1))
        frames.append(render_view(rot, centre, width, height, textures))
    return frames


def write_video(frames: list[np.ndarray], path: Path, fps: float = 10.0) -> Path:
    """Encode RGB frames to an H.264 mp4 with the bundled ffmpeg."""
    h, w, _ = frames[0].shape
    cmd = [ffmpeg_exe(), "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24",
           "-s", f"{w}x{h}", "-r", str(fps), "-i", "-", "-c:v", "libx264", "-preset", "veryfast",
           "-crf", "18", "-pix_fmt", "yuv420p", str(path)]
    data = b"".join(np.ascontiguousarray(f).tobytes() for f in frames)
    subprocess.run(cmd, input=data, check=True, capture_output=True)
    return path


def make_orbit_video(path: Path, seconds: float = 10.0, fps: float = 10.0,
                     width: int = 480, height: int = 360, seed: int = 0) -> Path:
    """Write a synthetic orbit video of a textured scene to `path`."""
    frames = render_orbit(max(2, int(round(seconds * fps))), width, height, seed)
    return write_video(frames, Path(path), fps)


def make_transforms_project(folder: Path, views: int = 16, width: int = 320, height: int = 240,
                            seed: int = 0, opengl: bool = True) -> Path:
    """Write the orbit's views as a nerfstudio project: `images/` and `transforms.json` with the
    true cameras (OpenGL axes as the format has them; `opengl=False` writes OpenCV axes instead,
    the mistake a converter makes)."""
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    textures = [make_texture(seed * 10 + k) for k in range(5)]
    flip = np.diag([1.0, -1.0, -1.0, 1.0]) if opengl else np.eye(4)
    frames = []
    for i in range(views):
        rot, centre = orbit_pose(i / max(views - 1, 1))
        name = f"images/view_{i:03d}.png"
        Image.fromarray(render_view(rot, centre, width, height, textures)).save(folder / name)
        c2w = np.eye(4)
        c2w[:3, :3], c2w[:3, 3] = rot, centre
        frames.append({"file_path": name, "transform_matrix": (c2w @ flip).tolist()})
    focal = 0.9 * width  # render_view's
    (folder / "transforms.json").write_text(json.dumps(
        {"camera_model": "OPENCV", "fl_x": focal, "fl_y": focal, "cx": width / 2, "cy": height / 2,
         "w": width, "h": height, "frames": frames}, indent=1))
    return folder
