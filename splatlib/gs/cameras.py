"""Training views from a COLMAP model with undistorted cameras (PINHOLE, as undistortion writes them)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pycolmap
import torch
from PIL import Image

from ..errors import ReconstructionError


@dataclass
class Camera:
    name: str
    viewmat: torch.Tensor  # [4, 4] world to camera
    K: torch.Tensor  # [3, 3] intrinsics at width × height
    width: int
    height: int
    image: torch.Tensor | None = None  # [H, W, 3] float in [0, 1]

    @property
    def centre(self) -> torch.Tensor:
        return -self.viewmat[:3, :3].T @ self.viewmat[:3, 3]

    def to(self, device: torch.device) -> "Camera":
        """A copy whose tensors live on `device`."""
        image = None if self.image is None else self.image.to(device)
        return replace(self, viewmat=self.viewmat.to(device), K=self.K.to(device), image=image)


def load_colmap(sfm_dir: Path, max_size: int, load_images: bool = True
                ) -> tuple[list[Camera], np.ndarray, np.ndarray]:
    """Cameras sorted by image name, resized so the long side is at most `max_size`,
    and the sparse points (xyz float32 [P, 3], rgb float32 [P, 3] in [0, 1])."""
    sfm_dir = Path(sfm_dir)
    rec = pycolmap.Reconstruction(str(sfm_dir / "sparse"))
    cams = []
    for image in sorted(rec.images.values(), key=lambda im: im.name):
        cam = rec.cameras[image.camera_id]
        if not cam.is_undistorted():  # a distortion model whose terms are all 0 is a pinhole: COLMAP's
            # undistortion leaves such a camera as it is
            raise ReconstructionError(f"camera model {cam.model_name} is not undistorted (PINHOLE)")
        s = min(1.0, max_size / max(cam.width, cam.height))
        w, h = max(1, round(cam.width * s)), max(1, round(cam.height * s))
        sx, sy = w / cam.width, h / cam.height
        K = torch.tensor(cam.calibration_matrix(), dtype=torch.float32)
        K[0] *= sx
        K[1] *= sy
        viewmat = torch.eye(4)
        viewmat[:3] = torch.tensor(image.cam_from_world().matrix(), dtype=torch.float32)
        img = None
        if load_images:
            with Image.open(sfm_dir / "images" / image.name) as im:
                im = im.convert("RGB")
                if im.size != (w, h):
                    im = im.resize((w, h), Image.LANCZOS)
                img = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255.0)
        cams.append(Camera(image.name, viewmat, K, w, h, img))
    points = list(rec.points3D.values())
    xyz = np.array([p.xyz for p in points], dtype=np.float32).reshape(-1, 3)
    rgb = np.array([p.color for p in points], dtype=np.float32).reshape(-1, 3) / 255.0
    return cams, xyz, rgb


def halved(cam: Camera) -> Camera:
    """The view at half its width and height: each output pixel the mean of the 2×2 it covers."""
    w, h = cam.width // 2, cam.height // 2
    K = cam.K.clone()
    K[:2] /= 2  # pixel centres at +0.5: a 2× box downsample halves fx, fy, cx, cy exactly
    image = None
    if cam.image is not None:
        image = cam.image[:2 * h, :2 * w].reshape(h, 2, w, 2, 3).mean(dim=(1, 3)).contiguous()
    return replace(cam, K=K, width=w, height=h, image=image)


def split_holdout(cams: list[Camera], every: int) -> tuple[list[Camera], list[Camera]]:
    """Every `every`-th view (0, every, 2·every, …) is held out for evaluation."""
    if every <= 0 or len(cams) < 2 * every:
        every = max(2, len(cams) // 3) if len(cams) >= 6 else 0
    if every == 0:
        return cams, []
    test = [c for i, c in enumerate(cams) if i % every == 0]
    train = [c for i, c in enumerate(cams) if i % every != 0]
    return train, test


def scene_extent(cams: list[Camera]) -> float:
    """Radius of the camera centres around their mean, ×1.1, as in the 3DGS reference."""
    centres = torch.stack([c.centre for c in cams])
    return float(1.1 * (centres - centres.mean(0)).norm(dim=1).max().clamp_min(1e-6))
