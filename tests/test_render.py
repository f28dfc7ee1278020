"""Videos of a finished scene: the convert stage's preview, and `splatlib render` along each kind of path,
read back with PyAV (a real decoder)."""

import json

import av
import numpy as np
import pytest

from splatlib.cli import main
from splatlib.layout import CAMERAS, PREVIEW, SceneKeys
from splatlib.library import LocalStore, SQLiteCatalog, Status
from splatlib.pipeline import Pipeline
from splatlib.stages.movie import fit_size, parse_size

from .helpers import FAST


def decode(path) -> list[np.ndarray]:
    with av.open(str(path)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def capture_size(store, scene, long_side: int) -> tuple[int, int]:
    """The scene's undistorted views at `long_side` px, checked to be near the orbit video's 4:3: COLMAP's
    undistorter crops a few pixels, by a distortion estimate that differs between machines."""
    camera = json.loads(store.path(SceneKeys(scene.id).output(CAMERAS)).read_text())[0]
    width, height = fit_size(camera["width"], camera["height"], long_side)
    assert width == long_side and abs(height / width - 0.75) < 0.02
    return width, height


def test_convert_makes_a_preview_video(completed_scene):
    scene, catalog, store = completed_scene
    frames = decode(store.path(SceneKeys(scene.id).output(PREVIEW)))
    width, height = capture_size(store, scene, 320)
    assert len(frames) == 36 and frames[0].shape == (height, width, 3)
    assert np.mean([f.mean() for f in frames]) > 40  # the scene, not an empty frame
    assert json.loads(store.path(SceneKeys(scene.id).output("metrics.json")).read_text())["preview"] is True


@pytest.mark.parametrize("path", ["orbit", "capture"])
def test_render_writes_the_video_it_says(completed_scene, tmp_path, capsys, path):
    scene, catalog, store = completed_scene
    library = str(store.root.parent)
    out, saved = tmp_path / f"{path}.mp4", tmp_path / f"{path}.json"
    code = main(["render", scene.id, str(out), "--path", path, "--seconds", "1", "--fps", "8", "--size", "192x144",
                 "--save-path", str(saved), "--json", "-q", "--library", library])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    frames = decode(out)
    assert result["frames"] == len(frames) == 8 and frames[0].shape == (144, 192, 3)
    assert min(f.mean() for f in frames) > 30 and np.abs(frames[0].astype(int) - frames[-1]).mean() > 3  # it moves

    again = tmp_path / "again.mp4"  # the saved path, brought back in, gives the same video
    assert main(["render", scene.id, str(again), "--path", str(saved), "--seconds", "1", "--fps", "8",
                 "--size", "192x144", "-q", "--library", library]) == 0
    assert np.abs(np.stack(decode(again)).astype(int) - np.stack(frames)).mean() < 2


def test_render_refuses_what_it_cannot_do(completed_scene, tmp_path, capsys, orbit_video):
    scene, catalog, store = completed_scene
    library = str(store.root.parent)
    for args, says in (([scene.id, "o.mp4", "--size", "1281x720"], "even"),
                       ([scene.id, "o.mp4", "--size", "big"], "1280x720"),
                       ([scene.id, "o.mp4", "--seconds", "0"], "seconds must be from 0.5 to 600"),
                       ([scene.id, "o.mp4", "--path", str(tmp_path / "none.json")], "cannot read"),
                       (["abcdefghijkl", "o.mp4"], "abcdefghijkl")):
        assert main(["render", *args, "-q", "--library", library]) == 2
        assert says in capsys.readouterr().err
    other = tmp_path / "lib"
    pipe = Pipeline(SQLiteCatalog(other / "catalog.sqlite"), LocalStore(other / "store"))
    stopped = pipe.run(pipe.create_scene(orbit_video, options=FAST).id, until="frames")
    assert stopped.status == Status.STOPPED
    assert main(["render", stopped.id, str(tmp_path / "o.mp4"), "-q", "--library", str(other)]) == 2
    assert "only a completed scene" in capsys.readouterr().err
    assert not (tmp_path / "o.mp4").exists()


def test_render_keeps_the_capture_aspect_by_default(completed_scene, tmp_path):
    scene, catalog, store = completed_scene
    out = tmp_path / "default.mp4"
    assert main(["render", scene.id, str(out), "--seconds", "0.5", "--fps", "4", "-q",
                 "--library", str(store.root.parent)]) == 0
    width, height = capture_size(store, scene, 1280)
    assert decode(out)[0].shape == (height, width, 3)


def test_parse_size():
    assert parse_size("1280x720") == (1280, 720) and parse_size("64X48") == (64, 48)
