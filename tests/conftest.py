"""Shared fixtures: small generated inputs so the tests pass on a fresh machine."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from splatlib.library import LocalStore, SQLiteCatalog
from splatlib.media import ffmpeg_exe
from splatlib.pipeline import Pipeline, PipelineOptions
from splatlib.synthetic import make_orbit_video

FAST = PipelineOptions(fps=3.0, iterations=150, image_size=160, max_gaussians=4000, sfm_max_size=480)


@pytest.fixture(scope="session")
def orbit_video(tmp_path_factory) -> Path:
    """A 6 s synthetic orbit video, 320×240 at 10 fps (18 frames at 3 fps)."""
    return make_orbit_video(tmp_path_factory.mktemp("video") / "orbit.mp4", seconds=6, fps=10,
                            width=320, height=240)


@pytest.fixture
def library(tmp_path) -> tuple[SQLiteCatalog, LocalStore]:
    return SQLiteCatalog(tmp_path / "lib" / "catalog.sqlite"), LocalStore(tmp_path / "lib" / "store")


@pytest.fixture
def pipeline(library) -> Pipeline:
    return Pipeline(*library)


@pytest.fixture(scope="session")
def completed_scene(tmp_path_factory, orbit_video):
    """One scene run through the whole pipeline, shared by the tests that only read it."""
    home = tmp_path_factory.mktemp("done")
    catalog, store = SQLiteCatalog(home / "catalog.sqlite"), LocalStore(home / "store")
    pipe = Pipeline(catalog, store)
    scene = pipe.create_scene(orbit_video, options=FAST)
    return pipe.run(scene.id), catalog, store


def ffmpeg(*args: str) -> None:
    """Run the bundled ffmpeg quietly (to make odd test inputs)."""
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", *args], check=True)
