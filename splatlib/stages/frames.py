"""ExtractFrames: a video or a folder of photos in, numbered JPEG frames and a manifest out."""

from __future__ import annotations

import json
import logging
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputError
from ..media import IMAGE_SUFFIXES, VIDEO_SUFFIXES, check_photo, ffmpeg_exe, probe_video
from ..options import default
from ..space import raise_if_disk_full
from . import Progress, no_progress
from .posed import project_kind

log = logging.getLogger(__name__)

MIN_FRAMES = 3
MANIFEST = "frames.json"


@dataclass(frozen=True)
class FrameOptions:
    fps: float = default("fps")
    max_frames: int = default("max_frames")
    sfm_max_size: int = default("sfm_max_size")  # long side, pixels; frames are never upscaled
    oversample: int = 3  # candidates decoded per kept frame; the sharpest one is kept


def input_kind(path: Path) -> str:
    """'video', 'photos', or for a folder with known cameras 'colmap' or 'transforms' (see
    `posed`); InputError for anything else."""
    path = Path(path)
    if path.is_dir():
        return project_kind(path) or "photos"
    if path.is_file():
        if path.suffix.lower() in VIDEO_SUFFIXES:
            return "video"
        if path.suffix.lower() in IMAGE_SUFFIXES:
            raise InputError("a single photo is not enough: give a folder of photos or a video")
        raise InputError(f"{path.name}: unsupported file type {path.suffix or '(none)'}; "
                         f"give a video ({', '.join(sorted(VIDEO_SUFFIXES))}) or a folder of photos")
    raise InputError(f"{path}: no such file or folder")


def photo_files(folder: Path) -> list[Path]:
    """The photos of a photo folder, by name: its own, or when it has none those of its `images/`
    subfolder (the layout of many datasets, with cameras or masks beside it); InputError if neither
    holds a photo."""
    for place in (folder, folder / "images"):
        if place.is_dir():
            photos = sorted(p for p in place.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if photos:
                return photos
    raise InputError(f"{folder.name} holds no photos ({', '.join(sorted(IMAGE_SUFFIXES))}), "
                     f"neither itself nor in an images/ folder; give a folder of photos or a video")


def extract_frames(source: Path, out_dir: Path, options: FrameOptions = FrameOptions(),
                   progress: Progress = no_progress) -> dict:
    """Write `frame_%04d.jpg` into `out_dir` from a video file or a photo folder.

    Returns the manifest (also written as `frames.json`): kind, count and per-frame info.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("frame_*.jpg"):
        old.unlink()
    kind = input_kind(source)
    if kind == "video":
        manifest = _from_video(Path(source), out_dir, options, progress)
    else:
        manifest = _from_photos(Path(source), out_dir, options, progress)
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=1))
    return manifest


def _scale_filter(max_size: int) -> str:
    # shrink the long side to max_size, keep aspect, even dimensions; never upscale
    return (f"scale='if(gte(iw,ih),min({max_size},iw),-2)':'if(gte(iw,ih),-2,min({max_size},ih))'")


def sharpness(gray: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of a greyscale image (higher is sharper)."""
    lap = (gray[1:-1, :-2] + gray[1:-1, 2:] + gray[:-2, 1:-1] + gray[2:, 1:-1] - 4 * gray[1:-1, 1:-1])
    return float(lap.var())


def image_sharpness(path: Path, size: int = 256) -> float:
    """Sharpness of an image file measured on a small greyscale copy (a few ms)."""
    with Image.open(path) as im:
        im.draft("L", (size, size))  # JPEG decodes straight to a reduced size
        small = im.convert("L")
        small.thumbnail((size, size))
        return sharpness(np.asarray(small, dtype=np.float32))


def _from_video(video: Path, out_dir: Path, options: FrameOptions, progress: Progress) -> dict:
    """Decode `oversample` candidates per wanted frame and keep the sharpest of each group."""
    info = probe_video(video)
    fps = options.fps
    if info.duration > 0 and info.duration * fps > options.max_frames:
        fps = options.max_frames / info.duration
        log.info("capping %s at %d frames: sampling at %.3f fps", video.name, options.max_frames, fps)
    rate = fps * options.oversample
    candidates_dir = out_dir / "candidates"
    if candidates_dir.exists():
        shutil.rmtree(candidates_dir)
    candidates_dir.mkdir()
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-progress", "pipe:1",
           "-i", str(video), "-vf", f"fps={rate},{_scale_filter(options.sfm_max_size)}",
           "-q:v", "2", "-frames:v", str(options.max_frames * options.oversample),
           str(candidates_dir / "candidate_%05d.jpg")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        m = re.match(r"out_time_us=(\d+)", line)
        if m and info.duration > 0:
            progress(min(0.8, 0.8 * int(m.group(1)) / 1e6 / info.duration), "decoding video")
    stderr = proc.stderr.read() if proc.stderr else ""
    if proc.wait() != 0:
        shutil.rmtree(candidates_dir)
        raise_if_disk_full(stderr)
        raise InputError(f"{video.name}: ffmpeg could not decode the video: {stderr.strip()[-300:]}")
    candidates = sorted(candidates_dir.glob("candidate_*.jpg"))
    scores = [image_sharpness(c) for c in candidates]
    entries = []
    for start in range(0, len(candidates), options.oversample):
        group = range(start, min(start + options.oversample, len(candidates)))
        best = max(group, key=lambda i: scores[i])
        name = f"frame_{len(entries) + 1:04d}.jpg"
        candidates[best].rename(out_dir / name)
        entries.append({"name": name, "time": round(best / rate, 3), "sharpness": round(scores[best], 2),
                        "candidates": len(group)})
    shutil.rmtree(candidates_dir)
    if len(entries) < MIN_FRAMES:
        raise InputError(f"{video.name} is too short: it gave {len(entries)} frame(s) at {fps:g} fps, "
                         f"at least {MIN_FRAMES} are needed; film longer or raise --fps")
    progress(1.0, f"{len(entries)} frames (sharpest of {options.oversample} each)")
    return {"kind": "video", "source": video.name, "fps": fps, "oversample": options.oversample,
            "duration": info.duration, "rotation": info.rotation, "count": len(entries), "frames": entries}


def _from_photos(folder: Path, out_dir: Path, options: FrameOptions, progress: Progress) -> dict:
    photos = photo_files(folder)
    if len(photos) < MIN_FRAMES:
        raise InputError(f"{folder.name} has {len(photos)} photo(s); at least {MIN_FRAMES} are needed")
    if len(photos) > options.max_frames:
        step = len(photos) / options.max_frames
        photos = [photos[int(i * step)] for i in range(options.max_frames)]
    for photo in photos:
        check_photo(photo, unreadable_ok=True)  # refuse a decompression bomb before decoding any
    entries = []
    for i, photo in enumerate(photos):
        try:
            with Image.open(photo) as im:
                im.draft("RGB", (options.sfm_max_size, options.sfm_max_size))  # JPEG: decode at a fraction of the size
                upright = ImageOps.exif_transpose(im)
                exif = upright.getexif()  # keeps the focal length that COLMAP uses as a prior
                exif.get_ifd(0x8769)  # load the Exif sub-IFD (FocalLength…) so that it is written too
                upright = upright.convert("RGB")
                upright.thumbnail((options.sfm_max_size, options.sfm_max_size), Image.LANCZOS)
                name = f"frame_{i + 1:04d}.jpg"
                upright.save(out_dir / name, quality=95, exif=exif)
                entries.append({"name": name, "source": photo.name, "size": list(upright.size)})
        except (UnidentifiedImageError, OSError) as exc:
            log.warning("skipping unreadable photo %s: %s", photo.name, exc)
        progress((i + 1) / len(photos), f"photo {i + 1}/{len(photos)}")
    if len(entries) < MIN_FRAMES:
        raise InputError(f"{folder.name}: only {len(entries)} readable photo(s); at least {MIN_FRAMES} are needed")
    # keep numbering dense even if a photo was skipped
    for i, entry in enumerate(entries):
        want = f"frame_{i + 1:04d}.jpg"
        if entry["name"] != want:
            (out_dir / entry["name"]).rename(out_dir / want)
            entry["name"] = want
    return {"kind": "photos", "source": folder.name, "count": len(entries), "frames": entries}
