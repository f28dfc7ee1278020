"""Image losses and quality metrics: L1, SSIM, PSNR."""

from __future__ import annotations

import numpy as np
import torch

from . import cpu_loss
from .blur import separable_blur


def _gaussian_taps(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size, dtype=np.float32) - size // 2
    g = np.exp(-x * x / (2 * sigma * sigma))
    return g / g.sum()


_TAPS = _gaussian_taps()


def _blur(x: torch.Tensor) -> torch.Tensor:
    """Separable 11×11 Gaussian filter (σ = 1.5, zero padding) of every channel of [1, C, H, W]
    (no gradient: SSIM's backward is written out below). numba on a CPU, two convolutions on a GPU."""
    if x.is_cuda:
        c, pad = x.shape[1], len(_TAPS) // 2
        taps = torch.from_numpy(_TAPS).to(x.device)
        rows = torch.nn.functional.conv2d(x.detach(), taps.view(1, 1, 1, -1).expand(c, 1, 1, -1), padding=(0, pad), groups=c)
        return torch.nn.functional.conv2d(rows, taps.view(1, 1, -1, 1).expand(c, 1, -1, 1), padding=(pad, 0), groups=c)
    return torch.from_numpy(separable_blur(x.detach()[0].float().numpy(), _TAPS))[None]


_C1, _C2 = 0.01 ** 2, 0.03 ** 2


def _ssim_terms(x: torch.Tensor, y: torch.Tensor):
    """Local SSIM map and its factors for [1, 3, H, W] images."""
    stats = _blur(torch.cat([x, y, x * x, y * y, x * y], 1))  # all five local means in one pass
    mu_x, mu_y, xx, yy, xy = stats.split(3, dim=1)
    a1 = 2 * mu_x * mu_y + _C1
    a2 = 2 * (xy - mu_x * mu_y) + _C2
    b1 = mu_x ** 2 + mu_y ** 2 + _C1
    b2 = (xx - mu_x ** 2) + (yy - mu_y ** 2) + _C2
    return a1 * a2 / (b1 * b2), mu_x, mu_y, a1, a2, b1, b2


class _SSIM(torch.autograd.Function):
    """Mean SSIM with a hand-written gradient for the first image: one 9-channel blur instead of
    autograd's trip back through the 15-channel one and a dozen element-wise steps."""

    @staticmethod
    def forward(ctx, x, y):
        s, mu_x, mu_y, a1, a2, b1, b2 = _ssim_terms(x, y)
        ctx.save_for_backward(x, y, s, mu_x, mu_y, a1, a2, b1, b2)
        return s.mean()

    @staticmethod
    def backward(ctx, grad):
        x, y, s, mu_x, mu_y, a1, a2, b1, b2 = ctx.saved_tensors
        g = grad / s.numel()
        d = b1 * b2
        d_mu = g * (2 * mu_y * (a2 - a1) / d - 2 * mu_x * s * (1 / b1 - 1 / b2))  # ∂S/∂μx
        d_xx = g * (-s / b2)  # ∂S/∂E[x²]
        d_xy = g * (2 * a1 / d)  # ∂S/∂E[xy]
        # the zero-padded symmetric blur is its own adjoint
        b_mu, b_xx, b_xy = _blur(torch.cat([d_mu, d_xx, d_xy], 1)).split(3, dim=1)
        return b_mu + 2 * x * b_xx + y * b_xy, None


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean SSIM of two [H, W, 3] images in [0, 1] (11×11 Gaussian window, σ = 1.5); the gradient
    flows to `a` only (the render; `b` is the photo)."""
    x = a.permute(2, 0, 1)[None]
    y = b.detach().permute(2, 0, 1)[None]
    if not a.requires_grad:
        return _ssim_terms(x, y)[0].mean()
    return _SSIM.apply(x, y)


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of two images in [0, 1]."""
    mse = float(((a.clamp(0, 1) - b) ** 2).mean())
    return float("inf") if mse == 0 else -10.0 * torch.log10(torch.tensor(mse)).item()


class _CpuLoss(torch.autograd.Function):
    """The loss and its gradient at once by numba kernels (`cpu_loss`)."""

    @staticmethod
    def forward(ctx, render, target, lam):
        value, grad = cpu_loss.loss_and_gradient(render.detach().contiguous().float().numpy(),
                                                 target.detach().contiguous().float().numpy(), _TAPS, lam)
        ctx.grad = torch.from_numpy(grad)
        return torch.tensor(value, dtype=render.dtype)

    @staticmethod
    def backward(ctx, grad):
        return ctx.grad * grad, None, None


def photometric_loss(render: torch.Tensor, target: torch.Tensor, lam: float = 0.2) -> torch.Tensor:
    """(1 − λ)·L1 + λ·(1 − SSIM), the loss of the 3DGS paper; the gradient flows to `render`."""
    if not render.is_cuda and render.requires_grad:
        return _CpuLoss.apply(render, target, lam)
    return (1 - lam) * (render - target).abs().mean() + lam * (1 - ssim(render, target))
