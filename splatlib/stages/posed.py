"""Scenes whose cameras are already known: a COLMAP project (`images/` + `sparse/0/`) or a
nerfstudio / instant-ngp folder (`transforms.json` + its images).

Such a scene skips frame extraction and mapping. Its model is written as the SfM stage writes one
(undistorted PINHOLE cameras, `images/`, `sparse/`, `report.json`), so training and conversion
run unchanged. Where the cameras come without 3D points (every `transforms.json`, a COLMAP
model of poses only), COLMAP triangulates them from SIFT matches with the cameras held fixed.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from ..errors import InputError, ReconstructionError
from ..layout import SFM_REPORT
from ..media import IMAGE_SUFFIXES
from ..options import default
from . import Progress, no_progress
from .sfm import model_figures, write_undistorted

log = logging.getLogger(__name__)

TRANSFORMS = "transforms.json"
PROJECT = "project"  # the folder under uploads/{id}/ that keeps a project as it was laid out
PROJECT_KINDS = ("colmap", "transforms")
MIN_VIEWS = 3
MIN_POINTS = 100
"""A model with fewer 3D points is triangulated again from the images (with its cameras fixed)."""
POINTS_PER_VIEW = 20
"""Triangulation with the true cameras gives far more (54 per view on the 320×240 synthetic orbit,
hundreds on real photos); with the cameras' axes flipped the same views gave 7, at 1.9 px error."""

_OPENGL_TO_OPENCV = np.diag([1.0, -1.0, -1.0, 1.0])  # transforms.json: x right, y up, z back


@dataclass(frozen=True)
class View:
    """One image with its camera: COLMAP's model name and parameters, and the world-to-camera pose."""

    name: str  # path relative to the image folder, with "/"
    model: str
    width: int
    height: int
    params: tuple[float, ...]
    rotation: np.ndarray  # 3x3, world to camera (OpenCV axes: x right, y down, z forward)
    translation: np.ndarray  # 3


def project_kind(folder: Path) -> str | None:
    """"colmap" or "transforms" for a folder holding such a project; None for anything else."""
    folder = Path(folder)
    if (folder / TRANSFORMS).is_file():
        return "transforms"
    if _sparse_dir(folder) is not None:
        return "colmap"
    return None


def project_images(folder: Path, kind: str) -> list[str]:
    """The images a project's cameras belong to, relative to `folder`; InputError naming what is
    missing or unsafe."""
    folder = Path(folder)
    if kind == "transforms":
        return [v.name for v in read_transforms(folder)]
    return [f"images/{name}" for name in _colmap_image_names(folder)]


def project_files(folder: Path, kind: str) -> list[str]:
    """The files of a project that a scene keeps (the model and the images it uses), relative to `folder`."""
    folder = Path(folder)
    if kind == "transforms":
        model = [TRANSFORMS]
    else:
        model = [p.relative_to(folder).as_posix() for p in sorted(_sparse_dir(folder).iterdir())
                 if p.is_file() and p.stem in ("cameras", "images", "points3D", "rigs", "frames")]
    return model + project_images(folder, kind)


def read_transforms(folder: Path) -> list[View]:
    """The views of a nerfstudio / instant-ngp `transforms.json` (OpenGL camera axes; intrinsics at
    the top level or per frame: fl_x/fl_y or camera_angle_x, cx, cy, w, h, k1–k4, p1, p2)."""
    folder = Path(folder)
    try:
        data = json.loads((folder / TRANSFORMS).read_text())
        frames = data["frames"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{TRANSFORMS} cannot be read: {exc}") from None
    if not isinstance(frames, list) or len(frames) < MIN_VIEWS:
        raise InputError(f"{TRANSFORMS} lists {len(frames) if isinstance(frames, list) else 0} frame(s); "
                         f"at least {MIN_VIEWS} are needed")
    views = []
    for i, frame in enumerate(frames):
        try:
            name = _image_name(folder, str(frame["file_path"]))
            c2w = np.asarray(frame["transform_matrix"], dtype=np.float64)[:3, :4]
            model, width, height, params = _camera({**data, **frame}, folder / name)
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"{TRANSFORMS}, frame {i + 1}: {exc}") from None
        if not np.isfinite(c2w).all():
            raise InputError(f"{TRANSFORMS}, frame {i + 1}: the transform_matrix is not finite")
        c2w = np.vstack([c2w, [0, 0, 0, 1]]) @ _OPENGL_TO_OPENCV
        u, _, vt = np.linalg.svd(c2w[:3, :3])  # a rotation even if the file's has drifted from one
        rotation = (u @ vt).T
        views.append(View(name, model, width, height, params, rotation, -rotation @ c2w[:3, 3]))
    return views


def import_project(folder: Path, out_dir: Path, kind: str, sfm_max_size: int = default("sfm_max_size"),
                   progress: Progress = no_progress) -> dict:
    """Write the project's model to `out_dir` as the SfM stage does (undistorted, `report.json`);
    returns the report."""
    import pycolmap  # here, not at the top: the CLI and the API start without it

    folder, out_dir = Path(folder), Path(out_dir)
    seconds: dict[str, float] = {}
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="splatlib-posed-") as tmp:
        work = Path(tmp)
        if kind == "transforms":
            images_dir, views, model = folder, read_transforms(folder), None
        else:
            images_dir = folder / "images"
            progress(0.05, "reading the COLMAP model")
            model = pycolmap.Reconstruction(_sparse_dir(folder))
            views = _views_of(model)
        total = len(views)
        if total < MIN_VIEWS:
            raise InputError(f"the project places {total} image(s); at least {MIN_VIEWS} are needed")
        missing = [v.name for v in views if not (images_dir / v.name).is_file()]
        if missing:
            raise InputError(f"{len(missing)} image(s) of the model are missing, e.g. {missing[0]}")
        triangulated = model is None or model.num_points3D() < MIN_POINTS
        if triangulated:
            model = _triangulate(images_dir, views, work, sfm_max_size, seconds, progress)
        if triangulated and model.num_points3D() < max(MIN_POINTS, POINTS_PER_VIEW * total):
            raise ReconstructionError(
                f"only {model.num_points3D()} 3D points could be triangulated from the {total} given cameras; the "
                "poses may not belong to these images (transforms.json's axes are OpenGL's: x right, y up, "
                "z backwards), or the images may not overlap")
        progress(0.9, "undistorting images")
        image_bytes = sum((images_dir / v.name).stat().st_size for v in views)
        seconds["undistort"] = write_undistorted(model, images_dir, image_bytes, out_dir, work)
    _pinhole_where_undistorted(out_dir / "sparse")
    report = {
        "source": "transforms.json" if kind == "transforms" else "COLMAP project",
        "points": "triangulated from SIFT matches, cameras fixed" if triangulated else "the project's own",
        "total_frames": total,
        "registered_frames": model.num_reg_images(),
        **model_figures(model),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
    }
    (out_dir / SFM_REPORT).write_text(json.dumps(report, indent=1))
    progress(1.0, f"{model.num_reg_images()} cameras given, {model.num_points3D()} points")
    return report


def _triangulate(images_dir: Path, views: list[View], work: Path, sfm_max_size: int,
                 seconds: dict[str, float], progress: Progress):
    """COLMAP's point triangulation for fixed cameras: SIFT features, matches, then points."""
    import pycolmap

    t0 = time.perf_counter()
    progress(0.05, "extracting features")
    db_path = work / "features.db"
    extraction = pycolmap.FeatureExtractionOptions()
    extraction.max_image_size = sfm_max_size
    pycolmap.extract_features(db_path, images_dir, image_names=[v.name for v in views],
                              camera_mode=pycolmap.CameraMode.PER_IMAGE, extraction_options=extraction,
                              device=pycolmap.Device.cpu)
    seconds["features"] = time.perf_counter() - t0
    # the model takes the database's ids, and the database the given cameras, so that both agree
    db = pycolmap.Database.open(str(db_path))
    try:
        ids = {image.name: (image.image_id, image.camera_id) for image in db.read_all_images()}
        cameras, images = [], []
        for v in views:
            image_id, camera_id = ids[v.name]
            db.update_camera(pycolmap.Camera(camera_id=camera_id, model=v.model, width=v.width, height=v.height,
                                             params=list(v.params)))
            cameras.append(f"{camera_id} {v.model} {v.width} {v.height} {_numbers(v.params)}\n")
            qx, qy, qz, qw = pycolmap.Rotation3d(v.rotation).quat
            images.append(f"{image_id} {_numbers((qw, qx, qy, qz, *v.translation))} {camera_id} {v.name}\n\n")
    finally:
        db.close()
    given = work / "given"
    given.mkdir()
    (given / "cameras.txt").write_text("".join(cameras))
    (given / "images.txt").write_text("".join(images))
    (given / "points3D.txt").write_text("")
    t0 = time.perf_counter()
    progress(0.3, "matching")
    if len(views) <= 100:
        pycolmap.match_exhaustive(db_path, device=pycolmap.Device.cpu)
    else:
        pairing = pycolmap.SequentialPairingOptions()
        pairing.overlap = 10
        pycolmap.match_sequential(db_path, pairing_options=pairing, device=pycolmap.Device.cpu)
    seconds["matching"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    progress(0.7, "triangulating points")
    out = work / "triangulated"
    out.mkdir()
    model = pycolmap.triangulate_points(pycolmap.Reconstruction(given), db_path, images_dir, out)
    seconds["triangulation"] = time.perf_counter() - t0
    return model


def _pinhole_where_undistorted(sparse: Path) -> None:
    """COLMAP's undistorter copies an image whose camera has no distortion and keeps its model (an
    OPENCV camera with zero coefficients); training reads PINHOLE cameras, so such models become one."""
    import pycolmap

    model = pycolmap.Reconstruction(sparse)
    kept = ("PINHOLE", "SIMPLE_PINHOLE")
    cameras = [c for c in model.cameras.values() if c.model.name not in kept and c.is_undistorted()]
    for c in cameras:
        fx, fy, cx, cy = c.focal_length_x, c.focal_length_y, c.principal_point_x, c.principal_point_y
        c.model, c.params = pycolmap.CameraModelId.PINHOLE, [fx, fy, cx, cy]
    if cameras:
        model.write(sparse)


def _numbers(values) -> str:
    return " ".join(repr(float(x)) for x in values)  # every digit: COLMAP's text model is read back exactly


def _views_of(model) -> list[View]:
    views = []
    for image in model.images.values():
        if not image.has_pose:
            continue
        camera = model.cameras[image.camera_id]
        pose = image.cam_from_world()
        views.append(View(image.name, camera.model.name, camera.width, camera.height, tuple(camera.params),
                          np.asarray(pose.rotation.matrix()), np.asarray(pose.translation)))
    return sorted(views, key=lambda v: v.name)


def _sparse_dir(folder: Path) -> Path | None:
    for sparse in (folder / "sparse" / "0", folder / "sparse"):
        if any((sparse / f"cameras.{ext}").is_file() for ext in ("bin", "txt")):
            return sparse
    return None


def _colmap_image_names(folder: Path) -> list[str]:
    import pycolmap

    try:
        model = pycolmap.Reconstruction(_sparse_dir(folder))
    except Exception as exc:  # pycolmap raises ValueError or RuntimeError for a broken model
        raise InputError(f"the COLMAP model in {_sparse_dir(folder)} cannot be read: {exc}") from None
    names = [_image_name(folder / "images", v.name) for v in _views_of(model)]
    if len(names) < MIN_VIEWS:
        raise InputError(f"the COLMAP model places {len(names)} image(s); at least {MIN_VIEWS} are needed")
    return names


def _image_name(root: Path, given: str) -> str:
    """`given` as a safe path relative to `root` of an image that exists (instant-ngp's names may
    leave out the extension)."""
    rel = PurePosixPath(given.replace("\\", "/"))
    parts = [p for p in rel.parts if p != "."]
    if rel.is_absolute() or not parts or ".." in parts:
        raise ValueError(f"image path {given!r} must stay inside the project folder")
    name = "/".join(parts)
    if not (root / name).is_file():
        found = [f"{name}{s}" for s in sorted(IMAGE_SUFFIXES) if (root / f"{name}{s}").is_file()]
        if not found:
            raise ValueError(f"image {given!r} does not exist")
        name = found[0]
    if Path(name).suffix.lower() not in IMAGE_SUFFIXES:
        raise ValueError(f"{name} is not an image this library reads ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return name


def _camera(intrinsics: dict, image: Path) -> tuple[str, int, int, tuple[float, ...]]:
    """COLMAP's camera model, size and parameters from transforms.json's keys."""
    width, height = intrinsics.get("w"), intrinsics.get("h")
    if not width or not height:
        with Image.open(image) as im:
            width, height = im.size
    width, height = int(width), int(height)
    if "fl_x" in intrinsics:
        fx = float(intrinsics["fl_x"])
    elif "camera_angle_x" in intrinsics:
        fx = 0.5 * width / math.tan(0.5 * float(intrinsics["camera_angle_x"]))
    else:
        raise KeyError("no focal length (fl_x or camera_angle_x)")
    fy = float(intrinsics.get("fl_y", fx))
    cx, cy = float(intrinsics.get("cx", width / 2)), float(intrinsics.get("cy", height / 2))
    k = [float(intrinsics.get(key, 0.0)) for key in ("k1", "k2", "k3", "k4")]
    p = [float(intrinsics.get(key, 0.0)) for key in ("p1", "p2")]
    if intrinsics.get("camera_model") == "OPENCV_FISHEYE":
        return "OPENCV_FISHEYE", width, height, (fx, fy, cx, cy, *k)
    if k[2] or k[3]:
        return "FULL_OPENCV", width, height, (fx, fy, cx, cy, k[0], k[1], *p, k[2], k[3], 0.0, 0.0)
    return "OPENCV", width, height, (fx, fy, cx, cy, k[0], k[1], *p)
