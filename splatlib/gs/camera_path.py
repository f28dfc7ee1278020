"""Camera paths through a trained scene: an orbit, the capture's own path smoothed, or one from a file.

Keyframes use the capture's conventions (OpenCV: x right, y down, z forward; camera-to-world
rotation and position in scene units; vertical field of view in degrees). A path file is JSON:
`{"version": 1, "keyframes": [{"position": [x, y, z], "rotation": [[…], […], […]], "fov": 50.0}, …]}`,
so a path made elsewhere can be brought in and ours taken out.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

PATH_VERSION = 1


@dataclass(frozen=True)
class Keyframe:
    position: np.ndarray  # [3] camera centre
    rotation: np.ndarray  # [3, 3] camera to world, columns right, down, forward
    fov: float  # vertical field of view, degrees

    def viewmat(self) -> np.ndarray:
        """World-to-camera 4×4 matrix."""
        m = np.eye(4)
        m[:3, :3] = self.rotation.T
        m[:3, 3] = -self.rotation.T @ self.position
        return m

    def intrinsics(self, width: int, height: int) -> np.ndarray:
        """Pinhole K for an image of this size (square pixels, centred principal point)."""
        f = 0.5 * height / math.tan(math.radians(self.fov) / 2)
        return np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1]])


def look_at(position: np.ndarray, target: np.ndarray, up: np.ndarray) -> np.ndarray:
    """Camera-to-world rotation of a camera at `position` looking at `target`, `up` pointing up in the image."""
    forward = _unit(target - position)
    right = _unit(np.cross(forward, up))  # OpenCV: x right, y down, z forward
    down = np.cross(forward, right)
    return np.stack([right, down, forward], axis=1)


def capture_keyframes(cameras: list[dict]) -> list[Keyframe]:
    """The capture's cameras (INRIA cameras.json entries), in image-name order."""
    if not cameras:
        raise InputError("the scene has no cameras to make a path from")
    ordered = sorted(cameras, key=lambda c: c["img_name"])
    return [Keyframe(np.array(c["position"], float), np.array(c["rotation"], float),
                     math.degrees(2 * math.atan(0.5 * c["height"] / c["fy"]))) for c in ordered]


def orbit_path(cameras: list[dict], frames: int) -> list[Keyframe]:
    """One turn around the point the capture looked at, at the capture's mean height and distance,
    starting from the first camera's side and turning the way the capture went."""
    keys = capture_keyframes(cameras)
    centre = _look_point(keys)
    up = _capture_up(keys)
    offsets = np.array([k.position - centre for k in keys])
    height = float(np.mean(offsets @ up))
    flat = offsets - np.outer(offsets @ up, up)
    radius = float(np.mean(np.linalg.norm(flat, axis=1)))
    e1 = _unit(flat[0]) if np.linalg.norm(flat[0]) > 1e-9 else _unit(np.cross(up, [1.0, 0, 0]))
    e2 = np.cross(up, e1)
    turning = float(np.sign(np.sum(np.cross(flat[:-1], flat[1:]) @ up))) or 1.0
    fov = float(np.median([k.fov for k in keys]))
    path = []
    for i in range(frames):
        angle = turning * 2 * math.pi * i / frames
        position = centre + radius * (math.cos(angle) * e1 + math.sin(angle) * e2) + height * up
        path.append(Keyframe(position, look_at(position, centre, up), fov))
    return path


def smooth_capture_path(cameras: list[dict], frames: int) -> list[Keyframe]:
    """The capture's trajectory, smoothed (a moving average over about a fifth of it) and resampled."""
    keys = capture_keyframes(cameras)
    if len(keys) < 2:
        return [keys[0]] * frames
    fov = float(np.median([k.fov for k in keys]))
    return _along(_smooth(np.array([k.position for k in keys])), _smooth(np.array([k.rotation[:, 2] for k in keys])),
                  _smooth(np.array([-k.rotation[:, 1] for k in keys])), np.full(len(keys), fov), frames)


def resample(keyframes: list[Keyframe], frames: int) -> list[Keyframe]:
    """`frames` views evenly along a path file's keyframes (positions, view directions and fov interpolated)."""
    if len(keyframes) == 1:
        return keyframes * frames
    return _along(np.array([k.position for k in keyframes]), np.array([k.rotation[:, 2] for k in keyframes]),
                  np.array([-k.rotation[:, 1] for k in keyframes]), np.array([k.fov for k in keyframes]), frames)


def save_path(path: Path, keyframes: list[Keyframe]) -> None:
    data = {"version": PATH_VERSION, "keyframes": [
        {"position": k.position.tolist(), "rotation": k.rotation.tolist(), "fov": k.fov} for k in keyframes]}
    Path(path).write_text(json.dumps(data, indent=1))


def load_path(path: Path) -> list[Keyframe]:
    """Keyframes from a path file; InputError naming what is wrong."""
    try:
        data = json.loads(Path(path).read_text())
        keyframes = [Keyframe(np.array(k["position"], float).reshape(3), np.array(k["rotation"], float).reshape(3, 3),
                              float(k["fov"])) for k in data["keyframes"]]
    except OSError as exc:
        raise InputError(f"cannot read the camera path {path}: {exc.strerror}") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{path} is not a camera path file (JSON with keyframes of position, rotation, fov): "
                         f"{exc}") from None
    if not keyframes:
        raise InputError(f"{path} has no keyframes")
    for k in keyframes:
        if not (np.isfinite(k.position).all() and np.isfinite(k.rotation).all() and 1 <= k.fov <= 170):
            raise InputError(f"{path}: a keyframe has a non-finite position or rotation, or a fov outside 1-170°")
    return keyframes


def _along(positions: np.ndarray, forwards: np.ndarray, ups: np.ndarray, fovs: np.ndarray,
           frames: int) -> list[Keyframe]:
    """`frames` views evenly along a sequence of ≥ 2 poses: positions, view and up directions and fov
    interpolated linearly, each view rebuilt level with its up."""
    path = []
    for t in np.linspace(0, len(positions) - 1, frames):
        i = min(int(t), len(positions) - 2)
        a = t - i
        position = (1 - a) * positions[i] + a * positions[i + 1]
        forward = (1 - a) * forwards[i] + a * forwards[i + 1]
        up = (1 - a) * ups[i] + a * ups[i + 1]
        fov = float((1 - a) * fovs[i] + a * fovs[i + 1])
        path.append(Keyframe(position, look_at(position, position + forward, up), fov))
    return path


def _capture_up(keys: list[Keyframe]) -> np.ndarray:
    """The capture's up: a hand-held camera keeps its x axis level, so up is the direction normal to
    all the cameras' x axes (their mean up when the x axes barely turn, as on a straight walk)."""
    mean_up = _unit(-np.mean([k.rotation[:, 1] for k in keys], axis=0))
    _, s, vt = np.linalg.svd(np.array([k.rotation[:, 0] for k in keys]))
    if len(s) < 2 or s[1] < 0.1 * s[0]:
        return mean_up
    return vt[2] if vt[2] @ mean_up > 0 else -vt[2]


def _look_point(keys: list[Keyframe]) -> np.ndarray:
    """The point nearest to every camera's optical axis (least squares): what the capture looked at."""
    a, b = np.zeros((3, 3)), np.zeros(3)
    for k in keys:
        d = k.rotation[:, 2]
        p = np.eye(3) - np.outer(d, d)
        a += p
        b += p @ k.position
    if np.linalg.cond(a) > 1e6:  # axes nearly parallel (a forward walk): a point ahead of the middle camera
        mid = keys[len(keys) // 2]
        spread = max(float(np.ptp([k.position for k in keys], axis=0).max()), 1e-3)
        return mid.position + mid.rotation[:, 2] * spread
    return np.linalg.solve(a, b)


def _smooth(values: np.ndarray) -> np.ndarray:
    width = max(1, len(values) // 5) | 1
    if width == 1:
        return values
    pad = width // 2
    padded = np.concatenate([values[:1].repeat(pad, 0), values, values[-1:].repeat(pad, 0)])
    kernel = np.ones(width) / width
    return np.stack([np.convolve(padded[:, j], kernel, mode="valid") for j in range(values.shape[1])], axis=1)


def _unit(v: np.ndarray) -> np.ndarray:
    return v / max(float(np.linalg.norm(v)), 1e-12)
