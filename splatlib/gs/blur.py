"""Separable blur of image stacks in numba: each pass a row-wise multiply-add that vectorises.

About 9× faster than `torch.nn.functional.conv2d` with a grouped separable kernel on this CPU
(15 channels at 256², 11 taps: 0.9 ms against 8 ms), which made SSIM the largest part of a step.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange


@njit(parallel=True, fastmath=True, cache=True)
def _blur_into(src, taps, out, tmp):
    n_ch, height, width = src.shape
    n_taps = taps.shape[0]
    half = n_taps // 2
    for cy in prange(n_ch * height):  # along rows, zero padding
        c = cy // height
        y = cy % height
        row = tmp[c, y]
        s = src[c, y]
        for x in range(np.uint64(width)):
            row[x] = 0.0
        for k in range(n_taps):
            t = taps[k]
            lo = max(0, half - k)
            hi = min(width, width + half - k)
            off = k - half
            for x in range(np.uint64(lo), np.uint64(hi)):  # unsigned: no wraparound code, so it vectorises
                row[x] += t * s[np.uint64(np.int64(x) + off)]
    for cy in prange(n_ch * height):  # along columns
        c = cy // height
        y = cy % height
        o = out[c, y]
        for x in range(np.uint64(width)):
            o[x] = 0.0
        for k in range(n_taps):
            yy = y + k - half
            if 0 <= yy < height:
                t = taps[k]
                s = tmp[c, yy]
                for x in range(np.uint64(width)):
                    o[x] += t * s[x]


def separable_blur(src: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Blur every channel of a float32 [C, H, W] stack with `taps` along x, then y (zero padding)."""
    src = np.ascontiguousarray(src, dtype=np.float32)
    out = np.empty_like(src)
    _blur_into(src, np.ascontiguousarray(taps, dtype=np.float32), out, np.empty_like(src))
    return out
