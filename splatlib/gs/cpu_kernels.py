"""Numba kernels for tile-based Gaussian compositing on the CPU, forward and backward.

One parallel task per 16×16 tile; inside a tile the loop runs over the tile's depth-sorted
Gaussians and, innermost, over the pixels of the rows that Gaussian can reach. That innermost
loop is written so that LLVM vectorises it (16 float32 lanes on AVX-512): no branches (conditions
become selects), exp as a polynomial, per-pixel state in float32 rows of one array, and unsigned
indices (numba's negative-index wraparound on signed ones stops the vectoriser). The backward pass walks each tile back
to front and writes one gradient row per (tile, Gaussian) pair; the caller sums the rows per
Gaussian, so no two threads ever write the same memory.
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
_BIN_CHUNKS = 16  # parallel tasks of the binning's counting sort (its result is the same for any number)

_POWER_FLOOR = np.float32(-12.0)  # exp(-12)·opacity < 1/255: below this nothing is drawn
_F0 = np.float32(0.0)
_F1 = np.float32(1.0)
_HALF = np.float32(0.5)
_C = [np.float32(1.0 / math.factorial(k)) for k in range(8)]
_C2, _C3, _C4, _C5, _C6, _C7 = _C[2:]
_SCALE = np.float32(1.0 / 32.0)


@njit(inline="always", fastmath=True, cache=True)
def exp_neg(x):
    """exp(x) for x in [-12, 0] to about 4e-6 relative error, in plain arithmetic so it vectorises:
    a degree-7 Taylor polynomial of exp(x/32), squared five times."""
    y = x * _SCALE
    p = _F1 + y * (_F1 + y * (_C2 + y * (_C3 + y * (_C4 + y * (_C5 + y * (_C6 + y * _C7))))))
    p = p * p
    p = p * p
    p = p * p
    p = p * p
    return p * p


@njit(inline="always", cache=True)
def _alpha_level(op):
    """2·ln(255·opacity): alpha reaches 1/255 where dᵀ·conic·d is at most this (≤ 0: nowhere)."""
    return 2.0 * math.log(max(op * 255.0, 1.0))


@njit(inline="always", fastmath=True, cache=True)
def _rows(my, ca, cb, cc, op, oy):
    """Rows of a tile (local coordinates) where a Gaussian's alpha can reach 1/255.

    The ellipse {d : dᵀ·conic·d ≤ 2·ln(255·opacity)} bounds every pixel with alpha ≥ 1/255, so
    skipping the rows outside its bounding box changes nothing in the result.
    """
    level = _alpha_level(op)
    det = ca * cc - cb * cb
    if level <= 0.0 or det <= 0.0:
        return 0, 0
    hy = math.sqrt(level * ca / det)
    y0 = max(0, int(math.floor(my - hy - 0.5)) - oy)
    y1 = min(TILE, int(math.ceil(my + hy - 0.5)) + 1 - oy)
    return y0, max(y0, y1)


@njit(parallel=True, fastmath=True, cache=True)
def composite_forward(tile_start, pair_gauss, means2d, conics, colors, opacities, background,
                      width, height, tiles_x, image, final_t, last):
    """Fill `image` [H, W, 3], `final_t` [H, W] and `last` [H, W] (1 + index of the last pair used)."""
    n_tiles = tile_start.shape[0] - 1
    for t in prange(n_tiles):
        ox = (t % tiles_x) * TILE
        oy = (t // tiles_x) * TILE
        st = np.zeros((8, NPIX), np.float32)  # per-pixel state, one row per quantity
        px = st[0]
        py = st[1]
        trans = st[2]
        alive = st[3]
        acc_r = st[4]
        acc_g = st[5]
        acc_b = st[6]
        used = st[7]  # pairs used, counted from the tile's first
        trans[:] = 1.0
        n_alive = 0
        for p in range(NPIX):
            x = ox + p % TILE
            y = oy + p // TILE
            px[p] = x + 0.5
            py[p] = y + 0.5
            if x < width and y < height:
                alive[p] = 1.0
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
            y0, y1 = _rows(my, ca, cb, cc, op, oy)
            step = np.float32(j - tile_start[t] + 1)
            dead = _F0
            for p in range(np.uint64(y0 * TILE), np.uint64(y1 * TILE)):
                dx = px[p] - mx
                dy = py[p] - my
                power = -_HALF * (ca * dx * dx + cc * dy * dy) - cb * dx * dy
                alpha = min(ALPHA_MAX, op * exp_neg(max(power, _POWER_FLOOR)))
                alpha = alpha if power <= _F0 else _F0
                alpha = alpha if alpha >= ALPHA_MIN else _F0
                alpha = alpha * alive[p]  # 0 once the pixel has stopped
                tr = trans[p]
                nt = tr * (_F1 - alpha)
                stops = nt <= T_MIN  # the ray stops here, before this Gaussian adds anything
                alive[p] = _F0 if stops else alive[p]
                alpha = _F0 if stops else alpha
                w = alpha * tr
                acc_r[p] += w * cr
                acc_g[p] += w * cg
                acc_b[p] += w * cbl
                trans[p] = tr if stops else nt
                used[p] = max(used[p], step if alpha > _F0 else _F0)
                dead += _F1 if stops else _F0
            n_alive -= int(dead)
        for p in range(NPIX):
            x = ox + p % TILE
            y = oy + p // TILE
            if x < width and y < height:
                image[y, x, 0] = acc_r[p] + trans[p] * background[0]
                image[y, x, 1] = acc_g[p] + trans[p] * background[1]
                image[y, x, 2] = acc_b[p] + trans[p] * background[2]
                final_t[y, x] = trans[p]
                last[y, x] = tile_start[t] + np.int64(used[p])


@njit(parallel=True, fastmath=True, cache=True)
def composite_backward(tile_start, pair_gauss, means2d, conics, colors, opacities, background,
                       width, height, tiles_x, final_t, last, grad_image, pair_grads):
    """Write d(loss)/d(per-pair inputs) into every row of `pair_grads` [M, 9] given d(loss)/d(image)
    (zeros for a tile's pairs behind its pixels' last: the caller need not clear the array)."""
    n_tiles = tile_start.shape[0] - 1
    for t in prange(n_tiles):
        ox = (t % tiles_x) * TILE
        oy = (t // tiles_x) * TILE
        px = np.empty(NPIX, np.float32)
        py = np.empty(NPIX, np.float32)
        trans = np.ones(NPIX, np.float32)
        stop = np.zeros(NPIX, np.float32)  # pairs used by each pixel, counted from the tile's first
        gi_r = np.zeros(NPIX, np.float32)
        gi_g = np.zeros(NPIX, np.float32)
        gi_b = np.zeros(NPIX, np.float32)
        bh_r = np.zeros(NPIX, np.float32)
        bh_g = np.zeros(NPIX, np.float32)
        bh_b = np.zeros(NPIX, np.float32)
        max_last = tile_start[t]
        for p in range(NPIX):
            x = ox + p % TILE
            y = oy + p // TILE
            px[p] = x + 0.5
            py[p] = y + 0.5
            if x < width and y < height:
                trans[p] = final_t[y, x]
                stop[p] = np.float32(last[y, x] - tile_start[t])
                max_last = max(max_last, last[y, x])
                gi_r[p] = grad_image[y, x, 0]
                gi_g[p] = grad_image[y, x, 1]
                gi_b[p] = grad_image[y, x, 2]
                bh_r[p] = background[0]
                bh_g[p] = background[1]
                bh_b[p] = background[2]
        for j in range(max_last, tile_start[t + 1]):
            for c in range(GRAD_COLS):
                pair_grads[j, c] = _F0
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
            g_mx = _F0
            g_my = _F0
            g_a = _F0
            g_b = _F0
            g_c = _F0
            g_op = _F0
            g_r = _F0
            g_g = _F0
            g_bl = _F0
            inv_op = _F1 / op
            jj = np.float32(j - tile_start[t])
            y0, y1 = _rows(my, ca, cb, cc, op, oy)
            for p in range(np.uint64(y0 * TILE), np.uint64(y1 * TILE)):
                dx = px[p] - mx
                dy = py[p] - my
                power = -_HALF * (ca * dx * dx + cc * dy * dy) - cb * dx * dy
                gauss = exp_neg(max(power, _POWER_FLOOR))
                raw = op * gauss
                alpha = min(ALPHA_MAX, raw)
                a = alpha if jj < stop[p] else _F0
                a = a if power <= _F0 else _F0
                a = a if alpha >= ALPHA_MIN else _F0
                t_before = trans[p] / (_F1 - a)
                w = a * t_before
                g_r += w * gi_r[p]
                g_g += w * gi_g[p]
                g_bl += w * gi_b[p]
                d_alpha = t_before * (gi_r[p] * (cr - bh_r[p]) + gi_g[p] * (cg - bh_g[p])
                                      + gi_b[p] * (cbl - bh_b[p]))
                bh_r[p] = a * cr + (_F1 - a) * bh_r[p]
                bh_g[p] = a * cg + (_F1 - a) * bh_g[p]
                bh_b[p] = a * cbl + (_F1 - a) * bh_b[p]
                trans[p] = t_before
                d_power = d_alpha * a if raw < ALPHA_MAX else _F0  # no gradient where alpha is capped
                g_op += d_power * inv_op
                g_a += -_HALF * d_power * dx * dx
                g_b += -d_power * dx * dy
                g_c += -_HALF * d_power * dy * dy
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


@njit(cache=True)
def _argsort_positive(values, ids):
    """`ids` ordered by their positive float32 `values`, stably: an LSD radix sort on the values'
    bits (which order positive floats as their values), 3× faster than numba's argsort here."""
    n = ids.shape[0]
    bits = values.view(np.uint32)
    keys = np.empty(n, np.uint32)
    for i in range(n):
        keys[i] = bits[ids[i]]
    ids = ids.copy()
    ids_out, keys_out = np.empty_like(ids), np.empty_like(keys)
    for shift in (0, 11, 22):
        count = np.zeros(2049, np.int64)
        for i in range(n):
            count[((keys[i] >> shift) & 2047) + 1] += 1
        for b in range(2048):
            count[b + 1] += count[b]
        for i in range(n):
            b = (keys[i] >> shift) & 2047
            ids_out[count[b]] = ids[i]
            keys_out[count[b]] = keys[i]
            count[b] += 1
        ids, ids_out = ids_out, ids
        keys, keys_out = keys_out, keys
    return ids


_BOX_CHUNK = 512  # Gaussians per parallel task of `_tile_boxes`
_BOX_ROWS = 11  # its state rows: mean x, y; conic a, b, c; radius; alpha level; box x0, x1, y0, y1


@njit(parallel=True, cache=True)
def _tile_boxes(means2d, conics, opacities, radii, tiles_x, tiles_y):
    """Per Gaussian [N, 4] int32, the tile columns x0:x1 and rows y0:y1 of the box it can draw in: its
    ellipse of alpha ≥ 1/255 (see `_rows`) within its 3-sigma square, the bound the image is defined
    by (on trained scenes half the tiles the square meets); an empty box where it draws nothing.

    As the projection kernels: each chunk's inputs go into rows of one array (the alpha level's log
    there, one at a time), a branch-free loop over those rows runs in SIMD lanes, and the boxes are
    copied out."""
    n = means2d.shape[0]
    boxes = np.empty((n, 4), np.int32)
    for task in prange((n + _BOX_CHUNK - 1) // _BOX_CHUNK):
        lo = task * _BOX_CHUNK
        m = min(n, lo + _BOX_CHUNK) - lo
        st = np.empty((_BOX_ROWS, _BOX_CHUNK), np.float64)
        for k in range(m):
            g = lo + k
            st[0, k], st[1, k] = means2d[g, 0], means2d[g, 1]
            st[2, k], st[3, k], st[4, k] = conics[g, 0], conics[g, 1], conics[g, 2]
            st[5, k] = radii[g]  # 0: behind the camera or off screen
            st[6, k] = _alpha_level(np.float64(opacities[g]))
        for k in range(np.uint64(m)):
            ca, cb, cc, radius, level = st[2, k], st[3, k], st[4, k], st[5, k], st[6, k]
            det = ca * cc - cb * cb
            drawn = (radius > 0.0) & (level > 0.0) & (det > 0.0)
            safe_det = det if drawn else 1.0
            hx = min(radius, math.sqrt(max(level * cc / safe_det, 0.0)))
            hy = min(radius, math.sqrt(max(level * ca / safe_det, 0.0)))
            mx, my = st[0, k], st[1, k]
            st[7, k] = min(max(math.floor((mx - hx) / TILE), 0.0), tiles_x) if drawn else 0.0
            st[8, k] = min(max(math.floor((mx + hx) / TILE) + 1.0, 0.0), tiles_x) if drawn else 0.0
            st[9, k] = min(max(math.floor((my - hy) / TILE), 0.0), tiles_y) if drawn else 0.0
            st[10, k] = min(max(math.floor((my + hy) / TILE) + 1.0, 0.0), tiles_y) if drawn else 0.0
        for k in range(m):
            for c in range(4):
                boxes[lo + k, c] = np.int32(st[7 + c, k])
    return boxes


@njit(parallel=True, cache=True)
def bin_tiles(means2d, conics, opacities, radii, depths, tiles_x, tiles_y):
    """The (tile, Gaussian) pairs the compositing walks: every drawn Gaussian in each tile its
    box (`_tile_boxes`) touches, grouped by tile and front to back within a tile.

    A counting sort by tile of the Gaussians taken in depth order, so each tile's list comes out
    depth-sorted. Returns `tile_start` [tiles + 1] (tile t's pairs are tile_start[t]:tile_start[t+1]),
    `pair_gauss` [M], and for the backward pass's per-Gaussian sums: `order` (the Gaussians with
    at least one tile, front to back), `rank_start` [len(order) + 1] and `slot_pair` [M] (the pairs of order[r] are
    slot_pair[rank_start[r]:rank_start[r+1]]).
    """
    boxes = _tile_boxes(means2d, conics, opacities, radii, tiles_x, tiles_y)  # in model order
    drawn = np.nonzero((boxes[:, 1] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 2]))[0]
    order = _argsort_positive(depths, drawn)
    n = order.shape[0]
    rects = np.empty((n, 4), np.int32)  # the same in depth order: one gather each, in parallel
    rank_start = np.zeros(n + 1, np.int64)
    for r in prange(n):
        for k in range(4):
            rects[r, k] = boxes[order[r], k]
        rank_start[r + 1] = (rects[r, 1] - rects[r, 0]) * (rects[r, 3] - rects[r, 2])
    for r in range(n):
        rank_start[r + 1] += rank_start[r]
    # A counting sort in parallel: each chunk of the depth order counts its pairs per tile, the
    # chunks' places in each tile follow one another in depth order, and each chunk scatters its own
    # pairs. The result does not depend on the number of chunks.
    n_tiles = tiles_x * tiles_y
    chunks = _BIN_CHUNKS
    per = (n + chunks - 1) // chunks
    cursor = np.zeros((chunks, n_tiles), np.int64)
    for c in prange(chunks):
        for r in range(c * per, min(n, (c + 1) * per)):
            for ty in range(rects[r, 2], rects[r, 3]):
                for tx in range(rects[r, 0], rects[r, 1]):
                    cursor[c, ty * tiles_x + tx] += 1
    tile_start = np.empty(n_tiles + 1, np.int64)
    total = 0
    for t in range(n_tiles):
        tile_start[t] = total
        for c in range(chunks):
            count = cursor[c, t]
            cursor[c, t] = total
            total += count
    tile_start[n_tiles] = total
    pair_gauss = np.empty(total, np.int64)
    slot_pair = np.empty(total, np.int64)
    for c in prange(chunks):
        at = cursor[c]
        for r in range(c * per, min(n, (c + 1) * per)):
            slot = rank_start[r]
            for ty in range(rects[r, 2], rects[r, 3]):
                for tx in range(rects[r, 0], rects[r, 1]):
                    t = ty * tiles_x + tx
                    pair_gauss[at[t]] = order[r]
                    slot_pair[slot] = at[t]
                    at[t] += 1
                    slot += 1
    return tile_start, pair_gauss, order, rank_start, slot_pair


@njit(parallel=True, fastmath=True, cache=True)
def sum_pair_grads(order, rank_start, slot_pair, pair_grads, g_means2d, g_conics, g_opacities, g_colors):
    """Add up each drawn Gaussian's pair gradients (`composite_backward`'s rows) into its own rows of
    the zero-filled outputs; one Gaussian per iteration, so no two threads write the same row."""
    for r in prange(order.shape[0]):
        a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = a8 = np.float32(0.0)  # scalars: an array here was allocated per Gaussian
        for s in range(rank_start[r], rank_start[r + 1]):
            j = slot_pair[s]
            a0 += pair_grads[j, 0]
            a1 += pair_grads[j, 1]
            a2 += pair_grads[j, 2]
            a3 += pair_grads[j, 3]
            a4 += pair_grads[j, 4]
            a5 += pair_grads[j, 5]
            a6 += pair_grads[j, 6]
            a7 += pair_grads[j, 7]
            a8 += pair_grads[j, 8]
        g = order[r]
        g_means2d[g, 0], g_means2d[g, 1] = a0, a1
        g_conics[g, 0], g_conics[g, 1], g_conics[g, 2] = a2, a3, a4
        g_opacities[g] = a5
        g_colors[g, 0], g_colors[g, 1], g_colors[g, 2] = a6, a7, a8
