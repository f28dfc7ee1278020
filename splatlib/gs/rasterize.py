"""CPU rasterizer for 3D Gaussians: EWA projection and tile binning in PyTorch (autograd),
depth-sorted front-to-back compositing in numba with a hand-written backward pass.

The compositing runs in numba kernels (`cpu_kernels`); `reference.py` holds a slow dense
PyTorch version of the same maths that the tests compare against.

Conventions follow gsplat so that both back ends give the same image for the same Gaussians:
pixel centres at (x + 0.5, y + 0.5), a 0.3 px² low-pass on the 2D covariance, alpha capped at
0.99, contributions under 1/255 skipped, and a ray stops before transmittance would fall
under 1e-4.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import cpu_kernels as kernels
from .sh import sh_to_color

TILE = kernels.TILE
EPS2D = 0.3


def quat_to_rotmat(quats: torch.Tensor) -> torch.Tensor:
    """Unnormalised quaternions w x y z [N, 4] to rotation matrices [N, 3, 3]."""
    w, x, y, z = torch.nn.functional.normalize(quats, dim=-1).unbind(-1)
    return torch.stack([
        1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
        2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
        2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
    ], dim=-1).reshape(-1, 3, 3)


@dataclass
class Projected:
    """One camera's projection of N Gaussians; the same shapes from both back ends."""

    means2d: torch.Tensor  # [N, 2] pixels
    conics: torch.Tensor  # [N, 3] inverse 2D covariance a, b, c
    depths: torch.Tensor  # [N]
    radii: torch.Tensor  # [N] int, 0 when culled
    screen: torch.Tensor | None = None  # the tensor the image was made from when not `means2d` (gsplat's [1, N, 2])

    def retain_screen_grad(self) -> None:
        """Keep the image's gradient with respect to the 2D means after backward (densification reads it)."""
        (self.means2d if self.screen is None else self.screen).retain_grad()

    def screen_grad(self) -> torch.Tensor | None:
        """That gradient, [N, 2] pixels, or None before backward."""
        grad = (self.means2d if self.screen is None else self.screen).grad
        return None if grad is None else grad.reshape(-1, 2)


def project(means: torch.Tensor, quats: torch.Tensor, scales: torch.Tensor, viewmat: torch.Tensor,
            K: torch.Tensor, width: int, height: int, near: float = 0.01) -> Projected:
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


def tile_pairs(proj: Projected, width: int, height: int) -> tuple[torch.Tensor, torch.Tensor, int, int]:
    """(tile id, Gaussian index) pairs sorted by tile, then by depth front to back."""
    tiles_x, tiles_y = (width + TILE - 1) // TILE, (height + TILE - 1) // TILE
    ids = torch.nonzero(proj.radii > 0).squeeze(1)
    ids = ids[torch.argsort(proj.depths.detach()[ids])]
    m = proj.means2d.detach()[ids]
    r = proj.radii[ids].to(m.dtype)
    x0 = torch.clamp(torch.floor((m[:, 0] - r) / TILE), 0, tiles_x).long()
    x1 = torch.clamp(torch.floor((m[:, 0] + r) / TILE) + 1, 0, tiles_x).long()
    y0 = torch.clamp(torch.floor((m[:, 1] - r) / TILE), 0, tiles_y).long()
    y1 = torch.clamp(torch.floor((m[:, 1] + r) / TILE) + 1, 0, tiles_y).long()
    w = x1 - x0
    counts = w * (y1 - y0)
    keep = counts > 0
    ids, x0, y0, w, counts = ids[keep], x0[keep], y0[keep], w[keep], counts[keep]
    owner = torch.repeat_interleave(torch.arange(len(ids)), counts)
    start = torch.cumsum(counts, 0) - counts
    local = torch.arange(int(counts.sum())) - start[owner]
    tile = (y0[owner] + local // w[owner]) * tiles_x + x0[owner] + local % w[owner]
    order = torch.sort(tile, stable=True).indices
    return tile[order], ids[owner[order]], tiles_x, tiles_y


class _Composite(torch.autograd.Function):
    """Front-to-back compositing by the numba kernels, with their hand-written backward pass."""

    @staticmethod
    def forward(ctx, means2d, conics, colors, opacities, background, tile_start, pair_gauss,
                width, height, tiles_x):
        arrays = [x.detach().contiguous().float().numpy() for x in (means2d, conics, colors, opacities, background)]
        image = np.zeros((height, width, 3), np.float32)
        final_t = np.zeros((height, width), np.float32)
        last = np.zeros((height, width), np.int64)
        ts, pg = tile_start.numpy(), pair_gauss.numpy()
        kernels.composite_forward(ts, pg, *arrays, width, height, tiles_x, image, final_t, last)
        ctx.state = (ts, pg, arrays, width, height, tiles_x, final_t, last, means2d.shape[0])
        return torch.from_numpy(image), torch.from_numpy(1.0 - final_t)

    @staticmethod
    def backward(ctx, grad_image, grad_alpha):
        ts, pg, arrays, width, height, tiles_x, final_t, last, n = ctx.state
        pair_grads = np.zeros((len(pg), kernels.GRAD_COLS), np.float32)
        kernels.composite_backward(ts, pg, *arrays, width, height, tiles_x, final_t, last,
                                   grad_image.contiguous().float().numpy(), pair_grads)
        grads = torch.zeros(n, kernels.GRAD_COLS).index_add_(0, torch.from_numpy(pg), torch.from_numpy(pair_grads))
        return grads[:, 0:2], grads[:, 2:5], grads[:, 6:9], grads[:, 5], None, None, None, None, None, None


def rasterize(proj: Projected, colors: torch.Tensor, opacities: torch.Tensor, width: int, height: int,
              background: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Composite projected Gaussians; returns image [H, W, 3] and alpha [H, W].

    The alpha output carries no gradient; the image does, to means2d, conics, colours and opacities.
    """
    tile_of_pair, gauss_of_pair, tiles_x, tiles_y = tile_pairs(proj, width, height)
    counts = torch.bincount(tile_of_pair, minlength=tiles_x * tiles_y)
    tile_start = torch.cat([torch.zeros(1, dtype=torch.long), torch.cumsum(counts, 0)])
    bg = background if background is not None else torch.zeros(3)
    return _Composite.apply(proj.means2d, proj.conics, colors, opacities, bg, tile_start,
                            gauss_of_pair.contiguous(), width, height, tiles_x)


def render(params: dict[str, torch.Tensor], viewmat: torch.Tensor, K: torch.Tensor, width: int,
           height: int, sh_degree: int, background: torch.Tensor | None = None) -> tuple[torch.Tensor, Projected]:
    """Render raw model parameters (log scales, logit opacities, SH) from one camera."""
    scales = torch.exp(params["scales"])
    proj = project(params["means"], params["quats"], scales, viewmat, K, width, height)
    cam_centre = -viewmat[:3, :3].T @ viewmat[:3, 3]
    dirs = torch.nn.functional.normalize(params["means"].detach() - cam_centre, dim=-1)
    coeffs = torch.cat([params["sh0"], params["shN"]], 1)
    colors = sh_to_color(coeffs, dirs, sh_degree)
    img, _ = rasterize(proj, colors, torch.sigmoid(params["opacities"]), width, height, background)
    return img, proj
