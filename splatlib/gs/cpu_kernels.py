"""Numba kernels for tile-based Gaussian compositing on the CPU, forward and backward.

One parallel task per 16×16 tile; inside a tile the loop runs over the tile's depth-sorted
Gaussians and, innermost, over its 256 pixels, so the pixel loop vectorises. The backward pass
walks each tile back to front and writes one gradient row per (tile, Gaussian) pair; the caller
sums the rows per Gaussian, so no two threads ever write the same memory.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

TILE = 16
NPIX = TILE * TILE
ALPHA_MIN = np.float32(1.0 / 255.0)
ALPHA_MAX = np.float32(0.99)
T_MIN = np.float32(1e-4)
GRAD_COLS = 9  # mean2d x, y; conic a, b, c; opacity; colour r, g, b


@njit(inline="always", fastmath=True, cache=True)
def _footprint(mx, my, ca, cb, cc, op, ox, oy):
    """Pixel rectangle of a tile (local coordinates) where a Gaussian's alpha can reach 1/255.

    The ellipse {d : dᵀ·conic·d ≤ 2·ln(255·opacity)} bounds every pixel with alpha ≥ 1/255, so
    skipping the pixels outside its bounding box changes nothing in the result.
    """
    level = 2.0 * math.log(max(op * 255.0, 1.0))
    det = ca * cc - cb * cb
    if level <= 0.0 or det <= 0.0:
        return 0, 0, 0, 0
    hx = math.sqrt(level * cc / det)
    hy = math.sqrt(level * ca / det)
    x0 = max(0, int(math.floor(mx - hx - 0.5)) - ox)
    x1 = min(TILE, int(math.ceil(mx + hx - 0.5)) + 1 - ox)
    y0 = max(0, int(math.floor(my - hy - 0.5)) - oy)
    y1 = min(TILE, int(math.ceil(my + hy - 0.5)) + 1 - oy)
    return x0, max(x0, x1), y0, max(y0, y1)


@njit(parallel=True, fastmath=True, cache=True)
def composite_forward(tile_start, pair_gauss, means2d, conics, colors, opacities, background,
                      width, height, tiles_x, image, final_t, last):
    """Fill `image` [H, W, 3], `final_t` [H, W] and `last` [H, W] (1 + index of the last pair used)."""
    n_tiles = tile_start.shape[0] - 1
    for t in prange(n_tiles):
        ox = (t % tiles_x) * TILE
        oy = (t // tiles_x) * TILE
        px = np.empty(NPIX, np.float32)
        py = np.empty(NPIX, np.float32)
        trans = np.ones(NPIX, np.float32)
        alive = np.zeros(NPIX, np.bool_)
        acc = np.zeros((3, NPIX), np.float32)
        used = np.zeros(NPIX, np.int64)
        n_alive = 0
        for p in range(NPIX):
            x = ox + p % TILE
            y = oy + p // TILE
            px[p] = x + 0.5
            py[p] = y + 0.5
            if x < width and y < height:
                alive[p] = True
                n_alive += 1
        for j in range(tile_start[t], tile_start[t + 1]):
            if n_alive == 0:
                break
            g = pair_gauss[j]
            mx = means2d[g, 0]
            my = means2d[g, 1]
            ca = conics[g, 0]
            cb = conics[g, 1]
            cc = conics[g, 2]
            op = opacities[g]
            cr = colors[g, 0]
            cg = colors[g, 1]
            cbl = colors[g, 2]
            x0, x1, y0, y1 = _footprint(mx, my, ca, cb, cc, op, ox, oy)
            for ly in range(y0, y1):
                for lx in range(x0, x1):
                    p = ly * TILE + lx
                    dx = px[p] - mx
                    dy = py[p] - my
                    power = -0.5 * (ca * dx * dx + cc * dy * dy) - cb * dx * dy
                    alpha = min(ALPHA_MAX, op * math.exp(min(power, 0.0)))
                    if alive[p] and power <= 0.0 and alpha >= ALPHA_MIN:
                        nt = trans[p] * (1.0 - alpha)
                        if nt <= T_MIN:
                            alive[p] = False
                            n_alive -= 1
                        else:
                            w = alpha * trans[p]
                            acc[0, p] += w * cr
                            acc[1, p] += w * cg
                            acc[2, p] += w * cbl
                            trans[p] = nt
                            used[p] = j + 1
        for p in range(NPIX):
            x = ox + p % TILE
            y = oy + p // TILE
            if x < width and y < height:
                for ch in range(3):
                    image[y, x, ch] = acc[ch, p] + trans[p] * background[ch]
                final_t[y, x] = trans[p]
                last[y, x] = used[p]


@njit(parallel=True, fastmath=True, cache=True)
def composite_backward(tile_start, pair_gauss, means2d, conics, colors, opacities, background,
                       width, height, tiles_x, final_t, last, grad_image, pair_grads):
    """Write d(loss)/d(per-pair inputs) into `pair_grads` [M, 9] given d(loss)/d(image)."""
    n_tiles = tile_start.shape[0] - 1
    for t in prange(n_tiles):
        ox = (t % tiles_x) * TILE
        oy = (t // tiles_x) * TILE
        px = np.empty(NPIX, np.float32)
        py = np.empty(NPIX, np.float32)
        trans = np.ones(NPIX, np.float32)
        stop = np.zeros(NPIX, np.int64)
        gi = np.zeros((3, NPIX), np.float32)
        behind = np.zeros((3, NPIX), np.float32)
        max_last = tile_start[t]
        for p in range(NPIX):
            x = ox + p % TILE
            y = oy + p // TILE
            px[p] = x + 0.5
            py[p] = y + 0.5
            if x < width and y < height:
                trans[p] = final_t[y, x]
                stop[p] = last[y, x]
                max_last = max(max_last, stop[p])
                for ch in range(3):
                    gi[ch, p] = grad_image[y, x, ch]
                    behind[ch, p] = background[ch]
        for j in range(max_last - 1, tile_start[t] - 1, -1):
            g = pair_gauss[j]
            mx = means2d[g, 0]
            my = means2d[g, 1]
            ca = conics[g, 0]
            cb = conics[g, 1]
            cc = conics[g, 2]
            op = opacities[g]
            cr = colors[g, 0]
            cg = colors[g, 1]
            cbl = colors[g, 2]
            g_mx = 0.0
            g_my = 0.0
            g_a = 0.0
            g_b = 0.0
            g_c = 0.0
            g_op = 0.0
            g_r = 0.0
            g_g = 0.0
            g_bl = 0.0
            x0, x1, y0, y1 = _footprint(mx, my, ca, cb, cc, op, ox, oy)
            for ly in range(y0, y1):
                for lx in range(x0, x1):
                    p = ly * TILE + lx
                    dx = px[p] - mx
                    dy = py[p] - my
                    power = -0.5 * (ca * dx * dx + cc * dy * dy) - cb * dx * dy
                    gauss = math.exp(min(power, 0.0))
                    raw = op * gauss
                    alpha = min(ALPHA_MAX, raw)
                    if j < stop[p] and power <= 0.0 and alpha >= ALPHA_MIN:
                        t_before = trans[p] / (1.0 - alpha)
                        w = alpha * t_before
                        g_r += w * gi[0, p]
                        g_g += w * gi[1, p]
                        g_bl += w * gi[2, p]
                        d_alpha = t_before * (gi[0, p] * (cr - behind[0, p]) + gi[1, p] * (cg - behind[1, p])
                                              + gi[2, p] * (cbl - behind[2, p]))
                        behind[0, p] = alpha * cr + (1.0 - alpha) * behind[0, p]
                        behind[1, p] = alpha * cg + (1.0 - alpha) * behind[1, p]
                        behind[2, p] = alpha * cbl + (1.0 - alpha) * behind[2, p]
                        trans[p] = t_before
                        if raw < ALPHA_MAX:
                            d_power = d_alpha * alpha
                            g_op += d_alpha * gauss
                            g_a += -0.5 * d_power * dx * dx
                            g_b += -d_power * dx * dy
                            g_c += -0.5 * d_power * dy * dy
                            g_mx += d_power * (ca * dx + cb * dy)
                            g_my += d_power * (cb * dx + cc * dy)
            pair_grads[j, 0] = g_mx
            pair_grads[j, 1] = g_my
            pair_grads[j, 2] = g_a
            pair_grads[j, 3] = g_b
            pair_grads[j, 4] = g_c
            pair_grads[j, 5] = g_op
            pair_grads[j, 6] = g_r
            pair_grads[j, 7] = g_g
            pair_grads[j, 8] = g_bl
