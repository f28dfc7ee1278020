"""Slow, obviously correct PyTorch versions of the CPU kernels' maths, with autograd for the gradients.

`project` is the EWA projection of `cpu_project` in tensor ops; `rasterize_dense` composites every
Gaussian at every pixel with the same rules as `cpu_kernels` (tile footprint, alpha bounds, early
stop). The tests check the kernels' outputs and gradients against them; the step benchmark's
baseline uses `project` too.
"""

from __future__ import annotations

import torch

from .cpu_kernels import ALPHA_MAX, ALPHA_MIN, T_MIN
from .cpu_project import EPS2D, NEAR
from .rasterize import TILE, Projected, quat_to_rotmat


def project(means: torch.Tensor, quats: torch.Tensor, scales: torch.Tensor, viewmat: torch.Tensor,
            K: torch.Tensor, width: int, height: int, near: float = NEAR) -> Projected:
    """EWA splatting of 3D Gaussians (activated `scales`) into one pinhole camera."""
    R, t = viewmat[:3, :3], viewmat[:3, 3]
    p = means @ R.T + t
    x, y, z = p.unbind(-1)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    zc = torch.clamp_min(z, near)
    tan_x, tan_y = 0.5 * width / fx, 0.5 * height / fy
    tx = zc * torch.clamp(x / zc, -(cx / fx + 0.3 * tan_x), (width - cx) / fx + 0.3 * tan_x)
    ty = zc * torch.clamp(y / zc, -(cy / fy + 0.3 * tan_y), (height - cy) / fy + 0.3 * tan_y)
    zeros = torch.zeros_like(zc)
    J = torch.stack([fx / zc, zeros, -fx * tx / zc ** 2, zeros, fy / zc, -fy * ty / zc ** 2],
                    -1).reshape(-1, 2, 3)
    M = quat_to_rotmat(quats) * scales[:, None, :]
    T = J @ R @ M
    cov = T @ T.transpose(1, 2)
    a = cov[:, 0, 0] + EPS2D
    b = cov[:, 0, 1]
    c = cov[:, 1, 1] + EPS2D
    det = a * c - b * b
    conics = torch.stack([c, -b, a], -1) / det.clamp_min(1e-12)[:, None]
    mid = 0.5 * (a + c)
    lam = mid + torch.sqrt(torch.clamp_min(mid * mid - det, 0.1))
    radii = torch.ceil(3 * torch.sqrt(lam)).detach()
    means2d = torch.stack([fx * x / zc + cx, fy * y / zc + cy], -1)
    m = means2d.detach()
    visible = ((z > near) & (det > 0) & (m[:, 0] + radii > 0) & (m[:, 0] - radii < width)
               & (m[:, 1] + radii > 0) & (m[:, 1] - radii < height))
    radii = torch.where(visible, radii, torch.zeros_like(radii)).to(torch.int64)
    return Projected(means2d, conics, z, radii)


def rasterize_dense(proj: Projected, colors: torch.Tensor, opacities: torch.Tensor, width: int,
                    height: int, background: torch.Tensor) -> torch.Tensor:
    """Composite every visible Gaussian at every pixel in depth order; returns [H, W, 3]."""
    ids = torch.nonzero(proj.radii > 0).squeeze(1)
    ids = ids[torch.argsort(proj.depths.detach()[ids], stable=True)]
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    px = xs.reshape(1, -1).double() + 0.5
    py = ys.reshape(1, -1).double() + 0.5
    m = proj.means2d[ids].double()
    conic = proj.conics[ids].double()
    dx = px - m[:, 0:1]
    dy = py - m[:, 1:2]
    power = -0.5 * (conic[:, 0:1] * dx * dx + conic[:, 2:3] * dy * dy) - conic[:, 1:2] * dx * dy
    alpha = torch.clamp_max(opacities[ids].double()[:, None] * torch.exp(power), float(ALPHA_MAX))
    # a Gaussian reaches only the tiles its 3-sigma square touches
    r = proj.radii[ids].double()[:, None]
    md = m.detach()
    tx, ty = torch.floor(px / TILE), torch.floor(py / TILE)
    in_tiles = ((tx >= torch.floor((md[:, 0:1] - r) / TILE)) & (tx <= torch.floor((md[:, 0:1] + r) / TILE))
                & (ty >= torch.floor((md[:, 1:2] - r) / TILE)) & (ty <= torch.floor((md[:, 1:2] + r) / TILE)))
    alpha = torch.where(in_tiles & (power <= 0) & (alpha >= float(ALPHA_MIN)), alpha, torch.zeros_like(alpha))
    trans_after = torch.cumprod(1 - alpha, 0)
    trans_before = trans_after / (1 - alpha)
    weight = alpha * trans_before * (trans_after > float(T_MIN))
    rgb = weight.T @ colors[ids].double()
    rest = 1 - weight.sum(0)
    rgb = rgb + rest[:, None] * background.double()
    return rgb.reshape(height, width, 3).float()
