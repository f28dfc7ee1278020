"""Train: an undistorted COLMAP model in, trained Gaussians (INRIA PLY) and quality metrics out.

Output layout in `out_dir`: `point_cloud/iteration_{N}/point_cloud.ply`, `cameras.json`,
`train.json` (metrics) and `holdout.jpg` (ground truth | render of a held-out view).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ..errors import ReconstructionError
from ..formats.ply import write_ply
from ..gs.cameras import load_colmap, split_holdout
from ..gs.bench import time_train_step
from ..gs.device import describe, select_device
from ..gs.model import init_from_points, on_device, to_gaussians
from ..gs.trainer import TrainConfig, render_camera, sh_degree_at, train
from ..layout import CAMERAS, CHECKPOINT, HOLDOUT, TRAIN_REPORT, ply_name
from ..options import default
from . import Progress, no_progress

log = logging.getLogger(__name__)



@dataclass(frozen=True)
class TrainOptions:
    iterations: int = default("iterations")
    max_gaussians: int = default("max_gaussians")
    image_size: int = default("image_size")  # long side of training images, pixels
    sh_degree: int = default("sh_degree")
    holdout_every: int = 8
    seed: int = 0
    device: str = default("device")  # see options.DEVICES
    coarse_until: float | None = None  # fraction of the steps on half-size views; None: coarse_fraction(device)
    seconds: float | None = None  # time budget: plan steps and image size to end in about this long


MIN_PLANNED_STEPS = 300
"""Under a time budget, fewer steps than this at the asked image size: train smaller images instead
(a 320 px demo scene reaches 16 dB held-out at 180 steps and 22 dB at 600)."""
MIN_IMAGE_SIZE = 192
PLAN_OVERHEAD = 1.15  # held-out evaluations, densification and progress beside the timed steps


GAUSSIANS_PER_VIEW = 3000
"""Budget per training view on the CPU: more Gaussians than the views constrain only fit the training
images better (on fountain_p11's 10 views, 100k Gaussians end 2.5 dB below 30k on the held-out view).
6000 per view was measured on 2026-12-04 and not adopted: +0.8 to +1.1 dB on two fixed fountain_p11
SfM models over four seeds, but end to end −3.8 dB with its true cameras, −0.7 dB as a video and
−0.2 dB on lund (README, "A larger Gaussian budget"), and each step costs more. Measured again after
the start became spacing-weighted (2026-12-05, one fountain_p11 model, seeds 0-3): 25.52 against
25.48 dB, in 1.35× the train time; the weighted start keeps what the larger budget bought."""
GAUSSIANS_PER_VIEW_CUDA = 6000
"""Budget per training view on a GPU, where twice the Gaussians cost no step time (gsplat's steps are
launch-bound: 5 ms from 10k to 200k Gaussians on an H200). fountain_p11 on an H200, 2026-12-04
(`benchmarks/gpu_quality.sh`, same SfM model per set, 10-12 s of training either way): mapped, 24.62
→ 25.33 dB (2 seeds) and 24.63 → 25.14 dB (3 seeds, another mapping), SSIM 0.864 → 0.889; with its
true cameras 23.29 → 23.46 dB, SSIM 0.837 → 0.857 (3 seeds). 9000 and 12000 per view: 24.98 and
25.37 dB, no better beyond the seeds' spread."""
MIN_BUDGET = 20_000


def gaussian_budget(max_gaussians: int, train_views: int, per_view: int = GAUSSIANS_PER_VIEW) -> int:
    """Densification budget: `per_view` Gaussians per training view, at least MIN_BUDGET, at most `max_gaussians`."""
    return min(max_gaussians, max(MIN_BUDGET, per_view * train_views))


def gaussians_per_view(device: torch.device) -> int:
    """GAUSSIANS_PER_VIEW_CUDA on a GPU, else GAUSSIANS_PER_VIEW."""
    return GAUSSIANS_PER_VIEW_CUDA if device.type == "cuda" else GAUSSIANS_PER_VIEW


COARSE_UNTIL = 0.5
"""Fraction of the steps trained on half-size views (a quarter of the pixels) on the CPU, where such a
step costs about a third of a full one. On fixed SfM models, seed-paired against full-size views
throughout (`bench_training.py --variant default: --variant c5:coarse_until=0.5`, 2026-12-04, raw
output in `benchmarks/results/training-coarse-to-fine-2026-12-04.txt`): fountain_p11 +0.15, −0.32,
+0.49 dB held-out on one model and +0.35 dB on another, in 23–24% less train time, SSIM −0.004 to
−0.006; the demo +0.13, +0.21 dB in 16% less; lund +0.19, −0.48, +0.38, +0.10 and −0.43 dB on three
models, in 19–21% less: +0.07 dB on average over the eleven pairs. 0.3 saved only 6–11%. Not applied
on a GPU, where gsplat's steps are launch-bound and a smaller image saves nothing."""


def coarse_fraction(device: torch.device) -> float:
    """COARSE_UNTIL on the CPU; 0 on a GPU."""
    return 0.0 if device.type == "cuda" else COARSE_UNTIL


def ply_path(out_dir: Path, iterations: int) -> Path:
    """Where the INRIA layout puts the trained model."""
    return Path(out_dir) / ply_name(iterations)


def plan_steps(seconds: float, width: int, height: int, gaussians: int, device, coarse: float = 0.0
               ) -> tuple[int, float]:
    """Steps that fit in `seconds` at this image size, and the measured mean milliseconds per step.

    A few steps of a random scene with 3/4 of the Gaussian budget are timed on this machine (as
    `splatlib bench train-step`); the model grows towards the budget while it trains. With a
    `coarse` fraction of the steps on half-size views, those are timed too and the mean weighs both.
    """
    n = max(1000, gaussians * 3 // 4)
    ms = time_train_step(n, width, height, steps=3, warmup=1, device=device)["ms_per_step"]
    if coarse > 0:
        half = time_train_step(n, max(1, width // 2), max(1, height // 2), steps=3, warmup=1, device=device)
        ms = (1 - coarse) * ms + coarse * half["ms_per_step"]
    return max(0, int(seconds * 1000 / (ms * PLAN_OVERHEAD))), round(ms, 2)


def _load(sfm_dir: Path, options: TrainOptions, image_size: int, device: torch.device):
    cams, xyz, rgb = load_colmap(sfm_dir, image_size)
    if len(xyz) < 10:
        raise ReconstructionError(f"the sparse model has only {len(xyz)} 3D points; too few to start training")
    train_cams, test_cams = split_holdout(cams, options.holdout_every)
    budget = gaussian_budget(options.max_gaussians, len(train_cams), gaussians_per_view(device))
    return cams, xyz, rgb, train_cams, test_cams, budget


def train_gaussians(sfm_dir: Path, out_dir: Path, options: TrainOptions = TrainOptions(),
                    progress: Progress = no_progress) -> dict:
    """Train on the model in `sfm_dir`, write the results into `out_dir`, return the metrics.

    With `options.seconds`, the steps (and, if they would be too few, the image size) are planned
    to end in about that time, and training stops at the limit whatever step it reached.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    device = select_device(options.device)
    progress(0.0, "loading images")
    image_size, iterations, plan = options.image_size, options.iterations, None
    coarse = coarse_fraction(device) if options.coarse_until is None else options.coarse_until
    cams, xyz, rgb, train_cams, test_cams, budget = _load(sfm_dir, options, image_size, device)
    if options.seconds is not None:
        progress(0.0, "timing training steps on this machine")
        while True:
            left = options.seconds - (time.perf_counter() - started)
            iterations, ms = plan_steps(left, cams[0].width, cams[0].height, budget, device, coarse)
            smaller = max(min(MIN_IMAGE_SIZE, image_size), int(image_size * 0.75))
            if iterations >= MIN_PLANNED_STEPS or smaller == image_size:
                break
            image_size = smaller
            cams, xyz, rgb, train_cams, test_cams, budget = _load(sfm_dir, options, image_size, device)
        iterations = min(30_000, max(iterations, 50))
        plan = {"seconds": round(options.seconds, 1), "ms_per_step": ms, "iterations": iterations,
                "image_size": image_size}
        log.info("time budget %.0f s: %d steps at %d px (%.0f ms per step measured)", options.seconds,
                 iterations, image_size, ms)
    params = on_device(init_from_points(xyz, rgb, budget, options.sh_degree, options.seed), device)
    backend = describe(device)
    log.info("training on %s", backend)
    config = TrainConfig(iterations=iterations, max_gaussians=budget, sh_degree=options.sh_degree,
                         seed=options.seed, coarse_until=coarse, eval_every=max(50, iterations // 10),
                         seconds_limit=None if options.seconds is None
                         else max(1.0, options.seconds - (time.perf_counter() - started)))
    checkpoint = out_dir / CHECKPOINT
    result = train(params, train_cams, test_cams, config, progress, checkpoint=checkpoint)
    progress(1.0, "writing the model")
    gaussians = to_gaussians(result.params)
    ply = ply_path(out_dir, result.steps)
    ply.parent.mkdir(parents=True, exist_ok=True)
    write_ply(ply, gaussians)
    _write_cameras(out_dir / CAMERAS, cams, {c.name for c in test_cams})
    if test_cams:
        _save_side_by_side(out_dir / HOLDOUT, result.params, test_cams[len(test_cams) // 2],
                           sh_degree_at(config, result.steps))
    report = {
        "iterations": result.steps,
        "planned": plan,
        "coarse_until": coarse,
        "num_gaussians": len(gaussians),
        "gaussian_budget": budget,
        "sh_degree": sh_degree_at(config, result.steps),
        "train_views": len(train_cams),
        "test_views": len(test_cams),
        "image_size": [cams[0].width, cams[0].height],
        "psnr": result.psnr,
        "ssim": result.ssim,
        "train_psnr": result.train_psnr,
        "psnr_curve": result.curve,
        "train_seconds": round(result.seconds, 2),
        "device": backend,
        "ply": str(ply.relative_to(out_dir)),
    }
    (out_dir / TRAIN_REPORT).write_text(json.dumps(report, indent=1))
    checkpoint.unlink(missing_ok=True)
    return report


def _write_cameras(path: Path, cams, test_names: set[str]) -> None:
    """INRIA-style cameras.json: camera-to-world position and rotation, focal lengths."""
    entries = []
    for i, cam in enumerate(cams):
        c2w = torch.linalg.inv(cam.viewmat)
        entries.append({
            "id": i, "img_name": cam.name, "width": cam.width, "height": cam.height,
            "position": c2w[:3, 3].tolist(), "rotation": c2w[:3, :3].tolist(),
            "fx": float(cam.K[0, 0]), "fy": float(cam.K[1, 1]),
            "cx": float(cam.K[0, 2]), "cy": float(cam.K[1, 2]), "held_out": cam.name in test_names,
        })
    path.write_text(json.dumps(entries, indent=1))


@torch.no_grad()
def _save_side_by_side(path: Path, params, cam, sh_degree: int) -> None:
    img = render_camera(params, cam, sh_degree).clamp(0, 1).cpu()
    both = torch.cat([cam.image, img], dim=1).numpy()
    Image.fromarray((both * 255 + 0.5).astype(np.uint8)).save(path, quality=92)
