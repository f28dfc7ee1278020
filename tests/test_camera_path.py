"""Camera paths: the orbit circles what the capture looked at, the smoothed capture follows it, files round-trip."""

import json
import math

import numpy as np
import pytest

from splatlib.errors import InputError
from splatlib.gs.camera_path import (capture_keyframes, load_path, look_at, orbit_path, resample, save_path,
                                     smooth_capture_path)

CENTRE = np.array([0.5, -0.2, 3.0])
UP = np.array([0.0, -1.0, 0.0])  # the capture's up: world -y, as COLMAP models of upright phones often are


def ring_capture(n: int = 12, arc: float = math.pi, radius: float = 4.0, height: float = 1.0) -> list[dict]:
    """Cameras on an arc around CENTRE, `height` above it, each looking at it (cameras.json entries)."""
    e1, e2 = np.array([1.0, 0, 0]), np.array([0, 0, 1.0])
    cams = []
    for i in range(n):
        a = arc * i / (n - 1)
        pos = CENTRE + radius * (math.cos(a) * e1 + math.sin(a) * e2) + height * UP
        cams.append({"img_name": f"frame_{i:04d}.jpg", "position": pos.tolist(),
                     "rotation": look_at(pos, CENTRE, UP).tolist(), "width": 640, "height": 480, "fy": 500.0})
    return cams


def looks_at(key, point) -> float:
    """Cosine between the keyframe's view direction and the direction to `point`."""
    to = point - key.position
    return float(key.rotation[:, 2] @ to / np.linalg.norm(to))


def test_orbit_circles_the_point_the_capture_looked_at():
    cams = ring_capture()
    path = orbit_path(cams, 36)
    assert len(path) == 36
    for key in path:
        assert looks_at(key, CENTRE) > 0.9999
        offset = key.position - CENTRE
        assert offset @ UP == pytest.approx(1.0, abs=1e-6)  # the capture's height
        assert np.linalg.norm(offset - (offset @ UP) * UP) == pytest.approx(4.0, abs=1e-6)  # and distance
        assert np.linalg.det(key.rotation) == pytest.approx(1.0) and -key.rotation[:, 1] @ UP > 0.9
    np.testing.assert_allclose(path[0].position, cams[0]["position"], atol=1e-6)  # starts where the capture did
    assert path[1].position @ np.array([0, 0, 1.0]) > path[0].position @ np.array([0, 0, 1.0])  # turns its way
    assert path[0].fov == pytest.approx(math.degrees(2 * math.atan(240 / 500)))


def test_smoothed_capture_follows_the_capture():
    cams = ring_capture(n=20)
    rng = np.random.default_rng(0)
    for c in cams:  # a shaky hand
        c["position"] = (np.array(c["position"]) + rng.normal(0, 0.05, 3)).tolist()
    path = smooth_capture_path(cams, 60)
    keys = capture_keyframes(cams)
    assert len(path) == 60
    steps = np.linalg.norm(np.diff([k.position for k in path], axis=0), axis=1)
    raw = np.linalg.norm(np.diff([k.position for k in keys], axis=0), axis=1)
    assert steps.max() < raw.max() / 2  # smoother than the shaky frames, 3 frames per capture step
    assert min(np.linalg.norm(path[30].position - k.position) for k in keys) < 0.5
    assert all(looks_at(k, CENTRE) > 0.95 for k in path)


def test_path_file_round_trip_and_bad_files(tmp_path):
    path = orbit_path(ring_capture(), 8)
    save_path(tmp_path / "p.json", path)
    back = load_path(tmp_path / "p.json")
    assert len(back) == 8 and all(np.allclose(a.rotation, b.rotation) for a, b in zip(path, back))
    dense = resample(back, 29)
    assert len(dense) == 29 and np.allclose(dense[0].position, path[0].position)
    assert np.allclose(dense[-1].position, path[-1].position)

    (tmp_path / "bad.json").write_text("{not json")
    (tmp_path / "empty.json").write_text(json.dumps({"version": 1, "keyframes": []}))
    (tmp_path / "nan.json").write_text(json.dumps({"keyframes": [{"position": [0, 0, "x"], "rotation": [], "fov": 1}]}))
    wide = json.loads((tmp_path / "p.json").read_text())
    wide["keyframes"][0]["fov"] = 179
    (tmp_path / "wide.json").write_text(json.dumps(wide))
    for name, says in (("bad.json", "not a camera path"), ("empty.json", "no keyframes"),
                       ("nan.json", "not a camera path"), ("wide.json", "fov"), ("missing.json", "cannot read")):
        with pytest.raises(InputError, match=says):
            load_path(tmp_path / name)
