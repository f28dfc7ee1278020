"""Baseline for the benchmarks: a vectorised PyTorch rasterizer, differentiated by autograd.

Same projection and tile binning as splatlib's, but the compositing is plain tensor maths over
tiles padded to their largest Gaussian count (in a few groups of similar load), with torch's
autograd for the backward pass. This is what a careful pure-PyTorch CPU trainer looks like.
"""

from __future__ import annotations

import torch

from splatlib.gs.cpu_kernels import ALPHA_MAX, ALPHA_MIN, T_MIN, bin_tiles
from splatlib.gs.rasterize import TILE, Projected


def rasterize_torch(proj: Projected, colors: torch.Tensor, opacities: torch.Tensor, width: int, height: int,
                    groups: int = 4) -> torch.Tensor:
    """Composite with autograd; returns the image [H, W, 3] on a black background."""
    tiles_x, tiles_y = (width + TILE - 1) // TILE, (height + TILE - 1) // TILE
    n_tiles = tiles_x * tiles_y
    tile_start, gauss_of_pair = (torch.from_numpy(a) for a in bin_tiles(
        proj.means2d.detach().numpy(), proj.conics.detach().numpy(), opacities.detach().contiguous().numpy(),
        proj.radii.numpy(), proj.depths.detach().numpy(), tiles_x, tiles_y)[:2])
    counts = tile_start.diff()
    tile_of_pair = torch.repeat_interleave(torch.arange(n_tiles), counts)
    start = torch.cumsum(counts, 0) - counts
    rank = torch.arange(len(tile_of_pair)) - start[tile_of_pair]
    iy, ix = torch.meshgrid(torch.arange(TILE), torch.arange(TILE), indexing="ij")
    tiles = torch.arange(n_tiles)
    px = ((tiles % tiles_x)[:, None] * TILE + ix.reshape(1, -1)).float() + 0.5
    py = ((tiles // tiles_x)[:, None] * TILE + iy.reshape(1, -1)).float() + 0.5
    busy = torch.nonzero(counts > 0).squeeze(1)
    busy = busy[torch.argsort(counts[busy])]
    parts, done = [], []
    for chunk in torch.tensor_split(busy, min(groups, max(len(busy), 1))):
        if len(chunk) == 0:
            continue
        k = int(counts[chunk].max())
        slot = torch.full((n_tiles,), -1, dtype=torch.long)
        slot[chunk] = torch.arange(len(chunk))
        sel = slot[tile_of_pair] >= 0
        gidx = torch.full((len(chunk), k), -1, dtype=torch.long)
        gidx[slot[tile_of_pair[sel]], rank[sel]] = gauss_of_pair[sel]
        valid = gidx >= 0
        g = gidx.clamp_min(0)
        dx = px[chunk][:, None, :] - proj.means2d[g, 0][..., None]
        dy = py[chunk][:, None, :] - proj.means2d[g, 1][..., None]
        a, b, c = (proj.conics[g, i][..., None] for i in range(3))
        power = -0.5 * (a * dx * dx + c * dy * dy) - b * dx * dy
        op = torch.where(valid, opacities[g], torch.zeros(()))[..., None]
        alpha = torch.clamp_max(op * torch.exp(torch.clamp_max(power, 0.0)), float(ALPHA_MAX))
        alpha = torch.where((power <= 0) & (alpha >= float(ALPHA_MIN)), alpha, torch.zeros(()))
        after = torch.cumprod(1 - alpha, dim=1)
        weight = alpha * (after / (1 - alpha)) * (after > float(T_MIN)).float()
        parts.append(torch.einsum("tkp,tkc->tpc", weight, colors[g]))
        done.append(chunk)
    out = torch.zeros(n_tiles, TILE * TILE, 3)
    if done:
        out = out.index_put((torch.cat(done),), torch.cat(parts))
    img = out.reshape(tiles_y, tiles_x, TILE, TILE, 3).permute(0, 2, 1, 3, 4)
    return img.reshape(tiles_y * TILE, tiles_x * TILE, 3)[:height, :width]
