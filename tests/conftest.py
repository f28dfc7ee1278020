"""Shared fixtures: small generated inputs so the tests pass on a fresh machine."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from splatlib.library import LocalStore, SQLiteCatalog
from splatlib.pipeline import Pipeline
from splatlib.synthetic import make_orbit_video

from .helpers import FAST


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


def _png_bomb(path: Path, side: int) -> Path:
    """A greyscale PNG of side×side pixels, a few dozen KB on disk (one colour compresses to nothing)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = zlib.compress(bytes(side + 1) * side, 9)  # each row: filter byte 0, then side black pixels
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b""))
    return path


@pytest.fixture
def bomb_png():
    """Makes decompression bombs: `bomb_png(path, side)`."""
    return _png_bomb
