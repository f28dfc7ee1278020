"""Rendering with gsplat's CUDA kernels: the GPU back end of the trainer.

Imported only when the parameters live on a CUDA device (see `render.py`): importing gsplat
compiles its kernels on first use.
"""

from __future__ import annotations

import torch
from gsplat import rasterization

from .cpu_project import EPS2D, NEAR
from .rasterize import Projected


def render(params: dict[str, torch.Tensor], viewmat: torch.Tensor, K: torch.Tensor, width: int,
           height: int, sh_degree: int, background: torch.Tensor | None = None) -> tuple[torch.Tensor, Projected]:
    """Render raw model parameters from one camera with gsplat; same conventions as the CPU path.

    `Projected.screen` keeps gsplat's own [1, N, 2] screen-space tensor, whose gradient
    densification reads; `means2d` is its [N, 2] view, as the CPU path returns.
    """
    coeffs = torch.cat([params["sh0"], params["shN"]], 1)
    img, _, meta = rasterization(
        params["means"], params["quats"], torch.exp(params["scales"]), torch.sigmoid(params["opacities"]),
        coeffs, viewmat[None], K[None], width, height, near_plane=NEAR, eps2d=EPS2D, sh_degree=sh_degree,
        packed=False, backgrounds=None if background is None else background[None])
    radii = meta["radii"][0]
    if radii.dim() == 2:  # gsplat ≥ 1.5 gives x and y radii; a Gaussian is drawn only if both are > 0
        radii = torch.where((radii > 0).all(-1), radii.amax(-1), 0)
    return img[0], Projected(meta["means2d"][0], meta["conics"][0], meta["depths"][0], radii, screen=meta["means2d"])
