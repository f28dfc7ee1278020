"""The training loss on the CPU, (1 − λ)·L1 + λ·(1 − SSIM), and its gradient in one numba pass.

The PyTorch version (`metrics.photometric_loss` with `metrics.ssim`) runs some twenty image-sized
tensor ops forward and as many back; here the render's gradient is computed with the loss, from the
same two separable blurs (the five local statistics, then the three derivative maps; the
zero-padded symmetric blur is its own adjoint). Same window (11 taps, σ = 1.5), same constants.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .blur import separable_blur

_C1, _C2 = 0.01 ** 2, 0.03 ** 2
_FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}  # fast maths that keeps NaN (a bad render must show in the loss)


@njit(parallel=True, fastmath=_FAST, cache=True)
def _statistics_stack(render, target, out):
    """[15, H, W]: x, y, x², y², xy per channel (x the render, y the target, both [H, W, 3])."""
    height, width = render.shape[0], render.shape[1]
    for r in prange(height):
        for c in range(3):
            for col in range(width):
                x = render[r, col, c]
                y = target[r, col, c]
                out[c, r, col] = x
                out[3 + c, r, col] = y
                out[6 + c, r, col] = x * x
                out[9 + c, r, col] = y * y
                out[12 + c, r, col] = x * y


@njit(parallel=True, fastmath=_FAST, cache=True)
def _ssim_derivatives(stats, scale, out, row_sums):
    """The SSIM map's sum per row into `row_sums`, and into `out` [9, H, W] the derivatives of
    `scale`·mean(SSIM) with respect to the local means μx, E[x²] and E[xy]."""
    height, width = stats.shape[1], stats.shape[2]
    for r in prange(height):
        total = 0.0
        for c in range(3):
            for col in range(width):
                mu_x = stats[c, r, col]
                mu_y = stats[3 + c, r, col]
                a1 = 2 * mu_x * mu_y + _C1
                a2 = 2 * (stats[12 + c, r, col] - mu_x * mu_y) + _C2
                b1 = mu_x * mu_x + mu_y * mu_y + _C1
                b2 = (stats[6 + c, r, col] - mu_x * mu_x) + (stats[9 + c, r, col] - mu_y * mu_y) + _C2
                d = b1 * b2
                s = a1 * a2 / d
                total += s
                out[c, r, col] = scale * (2 * mu_y * (a2 - a1) / d - 2 * mu_x * s * (1 / b1 - 1 / b2))
                out[3 + c, r, col] = scale * (-s / b2)
                out[6 + c, r, col] = scale * (2 * a1 / d)
        row_sums[r] = total


@njit(parallel=True, fastmath=_FAST, cache=True)
def _render_gradient(render, target, blurred, l1_scale, grad, row_sums):
    """The loss's gradient with respect to the render into `grad` [H, W, 3], and |x − y| per row."""
    height, width = render.shape[0], render.shape[1]
    for r in prange(height):
        total = 0.0
        for col in range(width):
            for c in range(3):
                x = render[r, col, c]
                y = target[r, col, c]
                diff = x - y
                total += abs(diff)
                sign = 1.0 if diff > 0 else (-1.0 if diff < 0 else 0.0)
                grad[r, col, c] = (l1_scale * sign + blurred[c, r, col] + 2 * x * blurred[3 + c, r, col]
                                   + y * blurred[6 + c, r, col])
        row_sums[r] = total


def loss_and_gradient(render: np.ndarray, target: np.ndarray, taps: np.ndarray, lam: float
                      ) -> tuple[float, np.ndarray]:
    """(1 − λ)·mean|x − y| + λ·(1 − mean SSIM(x, y)) of two float32 [H, W, 3] images, and its
    gradient with respect to `render`."""
    height, width = render.shape[:2]
    n = float(height * width * 3)
    stats = np.empty((15, height, width), np.float32)
    _statistics_stack(render, target, stats)
    stats = separable_blur(stats, taps)
    derivatives = np.empty((9, height, width), np.float32)
    ssim_rows = np.empty(height, np.float64)
    _ssim_derivatives(stats, -lam / n, derivatives, ssim_rows)
    blurred = separable_blur(derivatives, taps)
    grad = np.empty_like(render)
    l1_rows = np.empty(height, np.float64)
    _render_gradient(render, target, blurred, (1 - lam) / n, grad, l1_rows)
    loss = (1 - lam) * l1_rows.sum() / n + lam * (1 - ssim_rows.sum() / n)
    return float(loss), grad
