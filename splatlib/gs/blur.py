"""Separable 11-tap blur of image stacks in numba, zero padded.

Each blurred value is one written-out sum of its 11 neighbours (`along`, `down`), so the loop over a
row vectorises with the sum in a register: a loop over the taps around it kept the sums in memory
and spent its time loading and storing them (the training loss and its gradient at 640×480: 15 ms
against 8 ms). The column pass reads the rows above and below without testing for the edges: the
row pass writes into a stack with `HALF` zero rows above and below (`padded_rows`).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

FAST = {"nsz", "arcp", "contract", "afn", "reassoc"}  # fast maths that keeps NaN and inf (a bad render must show)
TAPS = 11  # the window `along` and `down` are written out for
HALF = TAPS // 2


def tap_tuple(taps: np.ndarray) -> tuple:
    """The 11 taps as the float32 tuple the kernels take."""
    if len(taps) != TAPS:
        raise ValueError(f"the blur takes {TAPS} taps, not {len(taps)}")
    return tuple(np.float32(t) for t in taps)


@njit(inline="always", fastmath=FAST)
def along(p, i, step, t):
    """Σₖ t[k]·p[i + k·step], k < 11: the blur at i + 5·step of a row `p` whose neighbours are `step` apart."""
    return (t[0] * p[i] + t[1] * p[i + step] + t[2] * p[i + 2 * step] + t[3] * p[i + 3 * step]
            + t[4] * p[i + 4 * step] + t[5] * p[i + 5 * step] + t[6] * p[i + 6 * step]
            + t[7] * p[i + 7 * step] + t[8] * p[i + 8 * step] + t[9] * p[i + 9 * step] + t[10] * p[i + 10 * step])


@njit(inline="always", fastmath=FAST)
def down(plane, r, x, t):
    """Σₖ t[k]·plane[r + k, x], k < 11: the column blur at row r + 5 of a padded map."""
    return (t[0] * plane[r, x] + t[1] * plane[r + 1, x] + t[2] * plane[r + 2, x] + t[3] * plane[r + 3, x]
            + t[4] * plane[r + 4, x] + t[5] * plane[r + 5, x] + t[6] * plane[r + 6, x]
            + t[7] * plane[r + 7, x] + t[8] * plane[r + 8, x] + t[9] * plane[r + 9, x] + t[10] * plane[r + 10, x])


def padded_rows(n_maps: int, height: int, width: int) -> np.ndarray:
    """A [C, H + 10, W] stack for a row pass to write into at rows 5…H + 4, its pad rows zero."""
    out = np.empty((n_maps, height + 2 * HALF, width), np.float32)
    out[:, :HALF] = 0.0
    out[:, height + HALF:] = 0.0
    return out


@njit(parallel=True, fastmath=FAST, cache=True)
def row_blur(src, t, out, stride):
    """`out` [C, H + 10, N] (`padded_rows`): each row of `src` [C, H, N] blurred along itself, into
    out's row y + 5; a pixel's neighbours are `stride` elements apart: 1 for planar maps, 3 for RGB
    interleaved along the row (the only two: each has its own loop, so that LLVM sees the step as a
    constant and vectorises it)."""
    n_ch, height, width = src.shape
    for cy in prange(n_ch * height):
        c, y = cy // height, cy % height
        pad = stride * HALF
        p = np.zeros(width + 2 * pad, np.float32)
        s = src[c, y]
        for x in range(np.uint64(width)):
            p[x + np.uint64(pad)] = s[x]
        row = out[c, y + HALF]
        if stride == 3:
            for x in range(np.uint64(width)):
                row[x] = along(p, x, np.uint64(3), t)
        else:
            for x in range(np.uint64(width)):
                row[x] = along(p, x, np.uint64(1), t)


@njit(parallel=True, fastmath=FAST, cache=True)
def _column_blur(src, t, out):
    n_ch, height, width = out.shape
    for cy in prange(n_ch * height):
        c, y = cy // height, cy % height
        plane, row = src[c], out[c, y]
        for x in range(np.uint64(width)):
            row[x] = down(plane, y, x, t)


def separable_blur(src: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Blur every channel of a float32 [C, H, W] stack with 11 `taps` along x, then y (zero padding)."""
    src = np.ascontiguousarray(src, dtype=np.float32)
    t = tap_tuple(taps)
    rows = padded_rows(*src.shape)
    row_blur(src, t, rows, 1)
    out = np.empty_like(src)
    _column_blur(rows, t, out)
    return out
