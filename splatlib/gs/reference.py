"""Slow, obviously correct dense compositing in PyTorch: every Gaussian at every pixel.

Used only by the tests to check the numba kernels' image and gradients. It applies the same
rules (tile footprint, alpha bounds, early stop) with plain tensor maths and autograd.
"""

from __future__ import annotations

import torch

from .cpu_kernels import ALPHA_MAX, ALPHA_MIN, T_MIN
from .rasterize import TILE, Projected


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
