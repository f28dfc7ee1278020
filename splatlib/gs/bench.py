"""Timing of one full training step on a random scene (`splatlib bench train-step`)."""

from __future__ import annotations

import math
import resource
import statistics
import time
from typing import Callable

import torch

from ..threads import CpuShare
from .device import describe
from .metrics import photometric_loss
from .model import on_device
from .optim import GaussianAdam
from .reference import project
from .render import render
from .sh import sh_to_color

Rasterizer = Callable[..., torch.Tensor]


def random_scene(n: int, width: int, height: int, seed: int = 0) -> tuple[dict, torch.Tensor, torch.Tensor]:
    """`n` Gaussians filling the view of a camera at the origin looking down +z, and its intrinsics."""
    g = torch.Generator().manual_seed(seed)
    focal = 0.8 * width
    depth = 2.0 + 3.0 * torch.rand(n, generator=g)
    xy = (torch.rand(n, 2, generator=g) - 0.5) * torch.tensor([width, height]) / focal * depth[:, None] * 1.1
    # one pixel-spacing sigma: each pixel sees a few dozen overlapping Gaussians, as in a trained model
    pixel_area = width * height / n
    scale = math.sqrt(pixel_area) / focal
    params = {
        "means": torch.cat([xy, depth[:, None]], 1),
        "scales": torch.log(scale * depth[:, None] * torch.exp(0.3 * torch.randn(n, 3, generator=g))),
        "quats": torch.randn(n, 4, generator=g),
        "opacities": torch.randn(n, generator=g),
        "sh0": torch.randn(n, 1, 3, generator=g) * 0.5,
        "shN": torch.randn(n, 15, 3, generator=g) * 0.05,
    }
    K = torch.tensor([[focal, 0, width / 2], [0, focal, height / 2], [0, 0, 1]], dtype=torch.float32)
    return {k: v.contiguous().requires_grad_() for k, v in params.items()}, torch.eye(4), K


View = tuple[torch.Tensor, torch.Tensor, int, int, torch.Tensor]  # viewmat, K, width, height, target image
Draw = Callable[[dict, torch.Tensor, torch.Tensor, int, int], torch.Tensor]  # params, viewmat, K, width, height -> image


def time_steps(optim: GaussianAdam, views: list[View], steps: int, warmup: int, draw: Draw | None = None) -> dict:
    """Median and mean milliseconds of `steps` training steps (render, loss, backward, Adam) after
    `warmup` untimed ones, cycling through `views`; `draw` replaces `render` (for baselines)."""
    device = optim.params["means"].device
    sync = torch.cuda.synchronize if device.type == "cuda" else lambda: None
    draw = draw or (lambda p, viewmat, K, width, height: render(p, viewmat, K, width, height, 3)[0])
    times = []
    with CpuShare(active=device.type == "cpu") as share:  # as the trainer does
        for i in range(warmup + steps):
            viewmat, K, width, height, target = views[i % len(views)]
            share.update()
            sync()
            t0 = time.perf_counter()
            photometric_loss(draw(optim.params, viewmat, K, width, height), target).backward()
            optim.step()
            sync()
            if i >= warmup:
                times.append(time.perf_counter() - t0)
    return {"ms_per_step": round(1000 * statistics.median(times), 2), "ms_mean": round(1000 * statistics.fmean(times), 3)}


def time_train_step(n: int, width: int, height: int, steps: int = 10, warmup: int = 3,
                    rasterizer: Rasterizer | None = None, device: torch.device = torch.device("cpu")) -> dict:
    """Median milliseconds of projection + rasterization + loss + backward + Adam step.

    `rasterizer` replaces the compositing of the CPU back end (for baselines); `device` "cuda"
    times the gsplat back end.
    """
    params, viewmat, K = random_scene(n, width, height)
    params = on_device(params, device)
    viewmat, K = viewmat.to(device), K.to(device)
    target = torch.rand(height, width, 3, generator=torch.Generator().manual_seed(1)).to(device)
    optim = GaussianAdam(params, {"means": 1e-4, "scales": 5e-3, "quats": 1e-3, "opacities": 5e-2,
                                  "sh0": 2.5e-3, "shN": 1.25e-4})
    draw = None
    if rasterizer is not None:
        def draw(p, viewmat, K, width, height):
            proj = project(p["means"], p["quats"], torch.exp(p["scales"]), viewmat, K, width, height)
            dirs = torch.nn.functional.normalize(p["means"].detach(), dim=-1)  # the camera sits at the origin
            colors = sh_to_color(torch.cat([p["sh0"], p["shN"]], 1), dirs, 3)
            return rasterizer(proj, colors, torch.sigmoid(p["opacities"]), width, height)
    timing = time_steps(optim, [(viewmat, K, width, height, target)], steps, warmup, draw)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result = {"gaussians": n, "width": width, "height": height, **timing, "steps": steps,
              "peak_rss_mb": round(peak_mb, 1), "threads": torch.get_num_threads(),
              "backend": "torch baseline" if rasterizer is not None else describe(device)}
    if device.type == "cuda":
        result["peak_gpu_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return result
