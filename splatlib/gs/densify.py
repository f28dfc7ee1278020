"""Adaptive density control of the 3DGS paper under a Gaussian budget.

Clone small Gaussians and split large ones whose view-space gradient is high, prune
transparent and oversized ones, reset opacities periodically. When growth would exceed
`max_gaussians`, only the candidates with the largest gradients grow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .optim import GaussianAdam
from .rasterize import Projected, quat_to_rotmat


@dataclass
class DensifyConfig:
    max_gaussians: int  # the caller's budget (stages.train.gaussian_budget)
    start: int = 500
    stop: int = 15_000
    every: int = 100
    reset_every: int = 3000
    grad_threshold: float = 0.0002  # in NDC units, as gsplat's default strategy
    grow_scale: float = 0.01  # × scene extent: clone below, split above
    prune_opacity: float = 0.005
    prune_scale: float = 0.1  # × scene extent, applied after the first reset

    @classmethod
    def for_iterations(cls, iterations: int, max_gaussians: int) -> "DensifyConfig":
        """Paper schedule (30k steps) compressed for shorter runs."""
        if iterations >= 30_000:
            return cls(max_gaussians=max_gaussians)
        return cls(max_gaussians=max_gaussians, start=max(50, min(500, iterations // 10)),
                   stop=int(iterations * 0.6), every=max(50, min(100, iterations // 30)),
                   reset_every=max(3000, iterations + 1) if iterations < 6000 else 3000)


class Densifier:
    """Accumulates gradient statistics after each backward pass and edits the model on schedule."""

    def __init__(self, config: DensifyConfig, extent: float):
        self.cfg = config
        self.extent = extent
        self.grad_sum: torch.Tensor | None = None
        self.count: torch.Tensor | None = None

    def state_dict(self) -> dict:
        """The gradient statistics gathered since the last densification."""
        return {"grad_sum": self.grad_sum, "count": self.count}

    def load_state_dict(self, state: dict, device: torch.device) -> None:
        self.grad_sum, self.count = (None, None) if state["grad_sum"] is None else \
            (state["grad_sum"].to(device), state["count"].to(device))

    def forget(self) -> None:
        """Drop the statistics (after rows were removed outside densification)."""
        self.grad_sum = self.count = None

    def observe(self, proj: Projected, width: int, height: int, n: int) -> None:
        """Record the screen-space gradient of visible Gaussians (call after backward)."""
        device = proj.radii.device
        if self.grad_sum is None or len(self.grad_sum) != n:
            self.grad_sum = torch.zeros(n, device=device)
            self.count = torch.zeros(n, device=device)
        grad = proj.screen_grad()
        if grad is None:
            return
        visible = proj.radii > 0
        g = grad.clone()
        g[:, 0] *= width / 2
        g[:, 1] *= height / 2
        self.grad_sum[visible] += g[visible].norm(dim=1)
        self.count[visible] += 1

    @torch.no_grad()
    def step(self, step: int, optim: GaussianAdam) -> None:
        """Densify / prune / reset at the scheduled steps."""
        cfg = self.cfg
        if step >= cfg.start and step < cfg.stop and step % cfg.every == 0:
            self._grow_and_prune(step, optim)
            self.grad_sum = None
        if step < cfg.stop and step % cfg.reset_every == 0:
            p = optim.params["opacities"]
            p.clamp_(max=math.log(0.01 / 0.99))
            optim.reset_moments("opacities")

    def _grow_and_prune(self, step: int, optim: GaussianAdam) -> None:
        cfg = self.cfg
        params = {k: v.detach() for k, v in optim.params.items()}
        n = len(params["means"])
        device = params["means"].device
        avg = self.grad_sum / self.count.clamp_min(1) if self.grad_sum is not None else torch.zeros(n, device=device)
        max_scale = params["scales"].exp().max(dim=1).values
        candidates = avg > cfg.grad_threshold
        room = max(0, cfg.max_gaussians - n)
        if int(candidates.sum()) > room:
            top = torch.topk(torch.where(candidates, avg, torch.full_like(avg, -1.0)), room).indices
            candidates = torch.zeros(n, dtype=torch.bool, device=device)
            candidates[top] = True
        small = max_scale <= cfg.grow_scale * self.extent
        clone = candidates & small
        split = candidates & ~small

        # split: two samples inside the parent, each 1/1.6 the size; the parent is removed
        sidx = torch.nonzero(split).squeeze(1)
        scale = params["scales"][sidx].exp()
        rot = quat_to_rotmat(params["quats"][sidx])
        offsets = (rot @ (torch.randn(2, len(sidx), 3, device=device) * scale)[..., None]).squeeze(-1)
        new_split = {k: v[sidx].repeat(2, *([1] * (v.dim() - 1))) for k, v in params.items()}
        new_split["means"] = (params["means"][sidx][None] + offsets).reshape(-1, 3)
        new_split["scales"] = torch.log(scale / 1.6).repeat(2, 1)
        new_clone = {k: v[clone] for k, v in params.items()}

        opacity = torch.sigmoid(params["opacities"])
        prune = (opacity < cfg.prune_opacity) | split
        if step > cfg.reset_every:
            prune |= max_scale > cfg.prune_scale * self.extent
        keep = ~prune
        added = int(clone.sum()) + 2 * len(sidx)
        new_values = {k: torch.cat([v[keep], new_clone[k], new_split[k]]) for k, v in params.items()}
        optim.replace(new_values, keep, added)
