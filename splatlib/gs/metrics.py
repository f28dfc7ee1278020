"""Image losses and quality metrics: L1, SSIM, PSNR."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _gaussian_taps(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-x * x / (2 * sigma * sigma))
    return g / g.sum()


_TAPS = _gaussian_taps()


def _blur(x: torch.Tensor) -> torch.Tensor:
    """Separable 11×11 Gaussian filter (σ = 1.5, zero padding) of every channel of [1, C, H, W]."""
    c, k = x.shape[1], len(_TAPS)
    x = F.conv2d(x, _TAPS.view(1, 1, 1, k).expand(c, 1, 1, k), padding=(0, k // 2), groups=c)
    return F.conv2d(x, _TAPS.view(1, 1, k, 1).expand(c, 1, k, 1), padding=(k // 2, 0), groups=c)


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean SSIM of two [H, W, 3] images in [0, 1] (11×11 Gaussian window, σ = 1.5)."""
    x = a.permute(2, 0, 1)[None]
    y = b.permute(2, 0, 1)[None]
    stats = _blur(torch.cat([x, y, x * x, y * y, x * y], 1))  # all five local means in one pass
    mu_x, mu_y, xx, yy, xy = stats.split(3, dim=1)
    sxx = xx - mu_x ** 2
    syy = yy - mu_y ** 2
    sxy = xy - mu_x * mu_y
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    num = (2 * mu_x * mu_y + c1) * (2 * sxy + c2)
    den = (mu_x ** 2 + mu_y ** 2 + c1) * (sxx + syy + c2)
    return (num / den).mean()


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of two images in [0, 1]."""
    mse = float(((a.clamp(0, 1) - b) ** 2).mean())
    return float("inf") if mse == 0 else -10.0 * torch.log10(torch.tensor(mse)).item()


def photometric_loss(render: torch.Tensor, target: torch.Tensor, lam: float = 0.2) -> torch.Tensor:
    """(1 − λ)·L1 + λ·(1 − SSIM), the loss of the 3DGS paper."""
    return (1 - lam) * (render - target).abs().mean() + lam * (1 - ssim(render, target))
