"""Image losses and quality metrics: L1, SSIM, PSNR."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    x = torch.arange(size, dtype=torch.float32) - size // 2
    g = torch.exp(-x * x / (2 * sigma * sigma))
    g /= g.sum()
    return (g[:, None] * g[None, :]).expand(3, 1, size, size).contiguous()


_WINDOW = _gaussian_window()


def ssim(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean SSIM of two [H, W, 3] images in [0, 1] (11×11 Gaussian window, σ = 1.5)."""
    x = a.permute(2, 0, 1)[None]
    y = b.permute(2, 0, 1)[None]
    pad = _WINDOW.shape[-1] // 2
    mu_x = F.conv2d(x, _WINDOW, padding=pad, groups=3)
    mu_y = F.conv2d(y, _WINDOW, padding=pad, groups=3)
    sxx = F.conv2d(x * x, _WINDOW, padding=pad, groups=3) - mu_x ** 2
    syy = F.conv2d(y * y, _WINDOW, padding=pad, groups=3) - mu_y ** 2
    sxy = F.conv2d(x * y, _WINDOW, padding=pad, groups=3) - mu_x * mu_y
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
