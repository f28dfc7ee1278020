"""CPU rasterizer for 3D Gaussians: projection and SH colours (`cpu_project`), tile binning and
depth-sorted front-to-back compositing (`cpu_kernels`) in numba kernels with hand-written backward
passes, wrapped as autograd functions.

`reference.py` holds slow PyTorch versions of the same maths (autograd for the gradients) that
the tests compare against.

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
from . import cpu_project

TILE = kernels.TILE


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


class _Composite(torch.autograd.Function):
    """Front-to-back compositing by the numba kernels, with their hand-written backward pass."""

    @staticmethod
    def forward(ctx, means2d, conics, colors, opacities, background, radii, depths, width, height):
        arrays = [x.detach().contiguous().float().numpy() for x in (means2d, conics, colors, opacities, background)]
        tiles_x, tiles_y = (width + TILE - 1) // TILE, (height + TILE - 1) // TILE
        bins = kernels.bin_tiles(arrays[0], arrays[1], arrays[3], radii.numpy(), depths.detach().numpy(),
                                 tiles_x, tiles_y)
        image = np.empty((height, width, 3), np.float32)  # the kernel writes every pixel
        final_t = np.empty((height, width), np.float32)
        last = np.empty((height, width), np.int64)
        kernels.composite_forward(*bins[:2], *arrays, width, height, tiles_x, image, final_t, last)
        ctx.state = (bins, arrays, width, height, tiles_x, final_t, last)
        return torch.from_numpy(image), torch.from_numpy(1.0 - final_t)

    @staticmethod
    def backward(ctx, grad_image, grad_alpha):
        (tile_start, pair_gauss, order, rank_start, slot_pair), arrays, width, height, tiles_x, final_t, last = ctx.state
        pair_grads = np.empty((len(pair_gauss), kernels.GRAD_COLS), np.float32)  # every row written in parallel
        kernels.composite_backward(tile_start, pair_gauss, *arrays, width, height, tiles_x, final_t, last,
                                   grad_image.contiguous().float().numpy(), pair_grads)
        grads = [np.zeros_like(x) for x in arrays[:4]]  # means2d, conics, colours, opacities
        kernels.sum_pair_grads(order, rank_start, slot_pair, pair_grads, grads[0], grads[1], grads[3], grads[2])
        return (*(torch.from_numpy(g) for g in grads), None, None, None, None, None)


def rasterize(proj: Projected, colors: torch.Tensor, opacities: torch.Tensor, width: int, height: int,
              background: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Composite projected Gaussians; returns image [H, W, 3] and alpha [H, W].

    The alpha output carries no gradient; the image does, to means2d, conics, colours and opacities.
    """
    bg = background if background is not None else torch.zeros(3)
    return _Composite.apply(proj.means2d, proj.conics, colors, opacities, bg, proj.radii, proj.depths, width, height)


class _ProjectColor(torch.autograd.Function):
    """Projection and SH colours of every Gaussian by the numba kernels, with their hand-written
    backward pass; depths and radii carry no gradient."""

    @staticmethod
    def forward(ctx, means, quats, log_scales, sh0, shN, viewmat, K, width, height, degree):
        scales = torch.exp(log_scales.detach())  # here, in SIMD: the kernels' vector loops have no exp
        arrays = [x.detach().contiguous().float().numpy() for x in (means, quats, scales, sh0, shN)]
        view = viewmat.detach().double().numpy()
        intrinsics = tuple(float(K[i, j]) for i, j in ((0, 0), (1, 1), (0, 2), (1, 2)))
        n = len(means)
        means2d, conics = np.empty((n, 2), np.float32), np.empty((n, 3), np.float32)
        depths, radii, colors = np.empty(n, np.float32), np.empty(n, np.int64), np.empty((n, 3), np.float32)
        cpu_project.project_forward(*arrays, view, *intrinsics, width, height, degree,
                                    means2d, conics, depths, radii, colors)
        ctx.state = (arrays, view, intrinsics, width, height, degree, radii, colors)
        outputs = [torch.from_numpy(x) for x in (means2d, conics, colors, depths, radii)]
        ctx.mark_non_differentiable(outputs[3], outputs[4])
        return tuple(outputs)

    @staticmethod
    def backward(ctx, v_means2d, v_conics, v_colors, _depths, _radii):
        (means, quats, scales, sh0, shN), view, intrinsics, width, height, degree, radii, colors = ctx.state
        n = len(means)
        v = [np.zeros((n, k), np.float32) if g is None else g.contiguous().float().numpy()
             for g, k in ((v_means2d, 2), (v_conics, 3), (v_colors, 3))]
        grads = [np.empty_like(x) for x in (means, quats, scales, sh0, shN)]  # the third: d/d log scales
        cpu_project.project_backward(means, quats, scales, view, *intrinsics, width, height, degree, radii,
                                     colors, *v, *grads)
        return (*(torch.from_numpy(g) for g in grads), None, None, None, None, None)


def render(params: dict[str, torch.Tensor], viewmat: torch.Tensor, K: torch.Tensor, width: int,
           height: int, sh_degree: int, background: torch.Tensor | None = None) -> tuple[torch.Tensor, Projected]:
    """Render raw model parameters (log scales, logit opacities, SH) from one camera."""
    means2d, conics, colors, depths, radii = _ProjectColor.apply(
        params["means"], params["quats"], params["scales"], params["sh0"], params["shN"], viewmat, K,
        width, height, sh_degree)
    proj = Projected(means2d, conics, depths, radii)
    img, _ = rasterize(proj, colors, torch.sigmoid(params["opacities"]), width, height, background)
    return img, proj
