"""One render call for both back ends, chosen by the device the parameters live on."""

from __future__ import annotations

import torch

from . import rasterize
from .rasterize import Projected


def render(params: dict[str, torch.Tensor], viewmat: torch.Tensor, K: torch.Tensor, width: int,
           height: int, sh_degree: int, background: torch.Tensor | None = None) -> tuple[torch.Tensor, Projected]:
    """Image [H, W, 3] and projection of raw model parameters: gsplat on CUDA, numba kernels on a CPU."""
    if params["means"].is_cuda:
        from . import gsplat_render  # only here: importing gsplat builds its CUDA kernels
        return gsplat_render.render(params, viewmat, K, width, height, sh_degree, background)
    return rasterize.render(params, viewmat, K, width, height, sh_degree, background)
