import json

import numpy as np
import pytest
from PIL import Image

from splatlib.errors import InputError
from splatlib.stages.frames import FrameOptions, extract_frames, input_kind
from tests.helpers import ffmpeg


def test_video_frames_at_requested_fps(orbit_video, tmp_path):
    manifest = extract_frames(orbit_video, tmp_path, FrameOptions(fps=2))
    names = sorted(p.name for p in tmp_path.glob("frame_*.jpg"))
    assert names == [f"frame_{i:04d}.jpg" for i in range(1, 13)]
    assert manifest["count"] == 12 and manifest["kind"] == "video"
    assert json.loads((tmp_path / "frames.json").read_text())["count"] == 12
    with Image.open(tmp_path / names[0]) as im:
        assert im.size == (320, 240)


def test_frame_cap_spreads_over_the_video(orbit_video, tmp_path):
    manifest = extract_frames(orbit_video, tmp_path, FrameOptions(fps=10, max_frames=5))
    assert manifest["count"] == 5
    times = [f["time"] for f in manifest["frames"]]
    assert times[-1] >= 4.0  # spread over the 6 s, not the first half second


def test_long_side_is_capped(orbit_video, tmp_path):
    extract_frames(orbit_video, tmp_path, FrameOptions(fps=1, sfm_max_size=160))
    with Image.open(next(tmp_path.glob("frame_*.jpg"))) as im:
        assert im.size == (160, 120)


def test_photo_folder_applies_exif_orientation(tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    for i in range(3):
        im = Image.fromarray(np.full((20, 40, 3), 60 * i, np.uint8))
        exif = Image.Exif()
        exif[0x0112] = 6  # rotate 90° clockwise on display
        im.save(src / f"IMG_{i}.jpg", exif=exif)
    (src / "notes.txt").write_text("not a photo")
    manifest = extract_frames(src, tmp_path / "out")
    assert manifest["count"] == 3 and manifest["frames"][0]["source"] == "IMG_0.jpg"
    with Image.open(tmp_path / "out" / "frame_0001.jpg") as im:
        assert im.size == (20, 40)


def test_too_few_photos(tmp_path):
    for i in range(2):
        Image.new("RGB", (8, 8)).save(tmp_path / f"{i}.png")
    with pytest.raises(InputError, match="at least 3"):
        extract_frames(tmp_path, tmp_path / "out")


def test_empty_file(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        extract_frames(tmp_path / "empty.mp4", tmp_path / "out")


def test_not_a_video(tmp_path):
    (tmp_path / "fake.mp4").write_bytes(b"this is not a video at all" * 100)
    with pytest.raises(InputError, match="not a readable video"):
        extract_frames(tmp_path / "fake.mp4", tmp_path / "out")


def test_audio_only(tmp_path):
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", str(tmp_path / "a.mp4"))
    with pytest.raises(InputError, match="no video stream"):
        extract_frames(tmp_path / "a.mp4", tmp_path / "out")


def test_too_short(tmp_path):
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-t", "0.5", "-pix_fmt", "yuv420p",
           str(tmp_path / "short.mp4"))
    with pytest.raises(InputError, match="too short"):
        extract_frames(tmp_path / "short.mp4", tmp_path / "out", FrameOptions(fps=2))


def test_unsupported_inputs(tmp_path):
    (tmp_path / "doc.txt").write_text("x")
    with pytest.raises(InputError, match="unsupported file type"):
        input_kind(tmp_path / "doc.txt")
    Image.new("RGB", (8, 8)).save(tmp_path / "one.jpg")
    with pytest.raises(InputError, match="single photo"):
        input_kind(tmp_path / "one.jpg")


def test_blurred_frames_are_skipped(tmp_path):
    from PIL import ImageFilter

    from splatlib.synthetic import render_orbit, write_video
    frames = render_orbit(12, 192, 144, seed=3)
    blurred = {1, 4, 9, 11}  # at most one per group of three candidates
    for i in blurred:
        frames[i] = np.asarray(Image.fromarray(frames[i]).filter(ImageFilter.GaussianBlur(3)))
    video = write_video(frames, tmp_path / "shaky.mp4", fps=6)
    manifest = extract_frames(video, tmp_path / "out", FrameOptions(fps=2, oversample=3))
    chosen = [round(f["time"] * 6) for f in manifest["frames"]]
    assert manifest["count"] == 4 and len(set(chosen)) == 4
    assert not set(chosen) & blurred, chosen
    assert all(f["sharpness"] > 0 for f in manifest["frames"])
    assert not (tmp_path / "out" / "candidates").exists()


def test_photo_exif_focal_length_is_kept(tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    for i in range(3):
        exif = Image.Exif()
        exif.get_ifd(0x8769)[0x920A] = 4.3  # FocalLength, in the Exif sub-IFD
        exif[0x0110] = "TestCam"
        Image.fromarray(np.full((20, 40, 3), 60 * i, np.uint8)).save(src / f"{i}.jpg", exif=exif)
    extract_frames(src, tmp_path / "out")
    with Image.open(tmp_path / "out" / "frame_0001.jpg") as im:
        saved = im.getexif()
        assert float(saved.get_ifd(0x8769)[0x920A]) == 4.3 and saved[0x0110] == "TestCam"


def test_rotation_metadata_gives_upright_frames(tmp_path):
    """A phone's portrait video: landscape pixels plus a display rotation; frames come out portrait."""
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t", "2", "-pix_fmt", "yuv420p",
           str(tmp_path / "landscape.mp4"))
    ffmpeg("-display_rotation", "90", "-i", str(tmp_path / "landscape.mp4"), "-c", "copy", str(tmp_path / "portrait.mp4"))
    manifest = extract_frames(tmp_path / "portrait.mp4", tmp_path / "out", FrameOptions(fps=2))
    assert manifest["rotation"] in (90, -90, 270)
    with Image.open(tmp_path / "out" / "frame_0001.jpg") as im:
        assert im.size == (240, 320)
