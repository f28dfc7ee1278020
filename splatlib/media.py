"""Access to ffmpeg and to video metadata (PyAV), shared by the frame stage and the tools."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from .errors import InputError

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".webm", ".mkv", ".avi"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}

MAX_PHOTO_PIXELS = 200_000_000
"""Largest photo accepted (200 MP: the biggest phone sensors). A small file can claim a huge
picture (a 48 KB PNG of 20000×20000 px decodes to 1.2 GB), so the header is checked first."""
Image.MAX_IMAGE_PIXELS = MAX_PHOTO_PIXELS  # PIL's own guard refuses anything beyond as well


def check_photo(path: Path, unreadable_ok: bool = False) -> tuple[int, int] | None:
    """The photo's size from its header; InputError if it has too many pixels, or if it is not an
    image (None then, with `unreadable_ok`)."""
    try:
        with warnings.catch_warnings():  # we decide below, with a message for the user
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                width, height = im.size
    except Image.DecompressionBombError:
        width = height = 0  # PIL refused beyond twice its limit before reporting the size
    except (UnidentifiedImageError, OSError) as exc:
        if unreadable_ok:
            return None
        raise InputError(f"{path.name} is not a readable image") from exc
    if width * height > MAX_PHOTO_PIXELS or width * height == 0:
        size = f"{width}×{height} px ({width * height / 1e6:.0f} MP)" if width else "too many pixels"
        raise InputError(f"{path.name} is {size}; photos of up to {MAX_PHOTO_PIXELS // 1_000_000} MP are accepted")
    return width, height


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    """Path of the ffmpeg binary bundled with imageio-ffmpeg."""
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


@dataclass(frozen=True)
class VideoInfo:
    duration: float
    width: int
    height: int
    fps: float
    rotation: int


def probe_video(path: Path) -> VideoInfo:
    """Read duration, size, frame rate and rotation; raise InputError on anything unusable."""
    import av  # 60 ms to import: only where a video is probed, not in every CLI call or photo scene

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path.name}: no such file")
    if path.stat().st_size == 0:
        raise InputError(f"{path.name} is empty (0 bytes)")
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise InputError(f"{path.name} has no video stream (is it an audio file?)")
            stream = container.streams.video[0]
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / 1_000_000
            else:
                duration = 0.0
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            width = stream.codec_context.width
            height = stream.codec_context.height
            rotation = 0
            try:
                frame = next(container.decode(stream))
                rotation = int(getattr(frame, "rotation", 0) or 0)
            except (StopIteration, av.error.FFmpegError) as exc:
                raise InputError(f"{path.name}: the video stream has no decodable frame") from exc
    except av.error.FFmpegError as exc:
        raise InputError(f"{path.name} is not a readable video ({exc.strerror or exc})") from exc
    if width <= 0 or height <= 0:
        raise InputError(f"{path.name}: the video stream has no picture size")
    return VideoInfo(duration=duration, width=width, height=height, fps=fps, rotation=rotation)
