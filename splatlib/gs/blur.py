"""Separable blur of image stacks in numba: each pass a row-wise multiply-add that vectorises.

About 9× faster than `torch.nn.functional.conv2d` with a grouped separable kernel on this CPU
(15 channels at 256², 11 taps: 0.9 ms against 8 ms), which made SSIM the largest part of a step.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}  # fast maths that keeps NaN and inf (a bad render must show)


@njit(parallel=True, fastmath=FAST, cache=True)
def row_blur(src, taps, out, stride):
    """`out` [C, H, N]: each row of `src` blurred along itself with zero padding; a pixel's neighbours
    are `stride` elements apart (1 for planar maps, 3 for RGB interleaved along the row)."""
    n_ch, height, width = src.shape
    n_taps = taps.shape[0]
    half = n_taps // 2
    for cy in prange(n_ch * height):
        row = out[cy // height, cy % height]
        s = src[cy // height, cy % height]
        for x in range(np.uint64(width)):
            row[x] = 0.0
        for k in range(n_taps):
            t = taps[k]
            off = stride * (k - half)
            lo = max(0, -off)
            hi = min(width, width - off)
            for x in range(np.uint64(lo), np.uint64(hi)):  # unsigned: no wraparound code, so it vectorises
                row[x] += t * s[np.uint64(np.int64(x) + off)]


@njit(fastmath=FAST, cache=True)
def column_blur_row(src, taps, r, acc):
    """Row `r` of every map of `src` [C, H, N] blurred along the columns (zero padding), into `acc` [C, N]."""
    n_ch, height, width = src.shape
    half = taps.shape[0] // 2
    acc[:] = 0.0
    for k in range(taps.shape[0]):
        yy = r + k - half
        if 0 <= yy < height:
            t = taps[k]
            for m in range(n_ch):
                a = acc[m]
                s = src[m, yy]
                for x in range(np.uint64(width)):
                    a[x] += t * s[x]


@njit(parallel=True, fastmath=FAST, cache=True)
def _column_blur(src, taps, out):
    height = src.shape[1]
    for r in prange(height):
        acc = np.empty((src.shape[0], src.shape[2]), np.float32)
        column_blur_row(src, taps, r, acc)
        for m in range(src.shape[0]):
            out[m, r] = acc[m]


def separable_blur(src: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Blur every channel of a float32 [C, H, W] stack with `taps` along x, then y (zero padding)."""
    src = np.ascontiguousarray(src, dtype=np.float32)
    taps = np.ascontiguousarray(taps, dtype=np.float32)
    rows = np.empty_like(src)
    row_blur(src, taps, rows, 1)
    out = np.empty_like(src)
    _column_blur(rows, taps, out)
    return out
