"""Cleaning a trained scene: crop it to what the cameras looked at and remove floaters, checked on
the held-out views so that the cleaned scene looks the same where it was filmed.

Each way of removing Gaussians is a rule (a boolean mask over them). All rules are applied, the
held-out views are rendered before and after, and while the held-out PSNR has dropped by more
than `max_loss_db`, the rule that costs the most on its own is given up. The result is written
beside the original (never over it): `clean/point_cloud.ply`, `clean/scene.splat`,
`clean/scene.spz` and `clean/clean.json`, the report.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..formats import Gaussians
from ..formats.ply import read_ply, write_ply
from ..formats.splat import write_splat
from ..formats.spz import write_spz
from ..layout import CLEAN, CLEAN_PLY, CLEAN_REPORT, CLEAN_SPLAT, CLEAN_SPZ, SPLAT, SPZ, TRAIN_REPORT
from . import Progress, no_progress
from .export import latest_ply


@dataclass(frozen=True)
class CleanOptions:
    crop: str = "auto"  # "auto" (the region the cameras looked at), "none", or "x,y,z,X,Y,Z" in scene units
    floaters: bool = True  # remove faint and oversized Gaussians
    max_loss_db: float = 0.1  # held-out PSNR the cleaning may cost at most


def parse_crop(text: str) -> tuple[np.ndarray, np.ndarray] | str:
    """"auto", "none", or a box "x,y,z,X,Y,Z" as (low corner, high corner); InputError otherwise."""
    if text in ("auto", "none"):
        return text
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 6 or not np.isfinite(values).all():
        raise InputError(f"--crop must be auto, none or six numbers x,y,z,X,Y,Z, not {text!r}")
    low, high = np.array(values[:3]), np.array(values[3:])
    if (high <= low).any():
        raise InputError(f"--crop {text}: each of X,Y,Z must be larger than x,y,z")
    return low, high


def subset(g: Gaussians, keep: np.ndarray) -> Gaussians:
    """The Gaussians where `keep` is true."""
    return Gaussians(means=g.means[keep], scales=g.scales[keep], quats=g.quats[keep],
                     opacities=g.opacities[keep], sh0=g.sh0[keep], shN=g.shN[keep])


def clean_scene(outputs_dir: Path, sfm_dir: Path, options: CleanOptions = CleanOptions(),
                progress: Progress = no_progress) -> dict:
    """Write the cleaned scene into `outputs_dir/clean/`; returns the report."""
    outputs_dir = Path(outputs_dir)
    crop = parse_crop(options.crop)
    if not 0 <= options.max_loss_db <= 10:
        raise InputError(f"the PSNR the cleaning may cost must be from 0 to 10 dB, not {options.max_loss_db:g}")
    progress(0.05, "reading the scene")
    ply = latest_ply(outputs_dir)
    gaussians = read_ply(ply)
    cams, points, views, judged_on = judging_views(outputs_dir, sfm_dir)

    progress(0.2, "rendering the views as they are")
    before = views_psnr(gaussians, views)
    for margin in CROP_MARGINS:  # the automatic box: the tightest that costs no more than allowed on its own
        rules, box = _rules(gaussians, cams, points, crop, options.floaters, margin)
        if crop != "auto" or margin == CROP_MARGINS[-1]:
            break
        progress(0.25, f"trying a crop box {margin:g}× wider than the points")
        if before - views_psnr(subset(gaussians, ~rules["outside the crop box"]), views) <= options.max_loss_db:
            break
    given_up: list[str] = []
    while True:
        removed = np.zeros(len(gaussians), bool)
        for name, mask in rules.items():
            removed |= mask
        progress(0.3 + 0.1 * len(given_up), f"rendering without {removed.sum():,} Gaussians")
        after = views_psnr(subset(gaussians, ~removed), views)
        if before - after <= options.max_loss_db or not rules:
            break
        costs = {name: before - views_psnr(subset(gaussians, ~mask), views) for name, mask in rules.items()}
        worst = max(costs, key=costs.get)
        given_up.append(f"{worst} (alone {costs[worst]:.2f} dB)")
        del rules[worst]

    progress(0.8, "writing the cleaned scene")
    (outputs_dir / CLEAN).mkdir(exist_ok=True)
    cleaned = subset(gaussians, ~removed)
    write_ply(outputs_dir / CLEAN_PLY, cleaned)
    sizes = {"ply": (outputs_dir / CLEAN_PLY).stat().st_size, "splat": write_splat(outputs_dir / CLEAN_SPLAT, cleaned),
             "spz": write_spz(outputs_dir / CLEAN_SPZ, cleaned)}
    report = {
        "gaussians": {"before": len(gaussians), "after": len(cleaned)},
        "removed": {name: int(mask.sum()) for name, mask in rules.items()},
        "given_up": given_up,
        "crop": options.crop if isinstance(crop, str) else [*crop[0].tolist(), *crop[1].tolist()],
        "crop_box": [round(float(v), 4) for v in (*box[0], *box[1])] if crop != "none" else None,
        "crop_margin": margin if crop == "auto" else None,
        "psnr": {"before": round(before, 3), "after": round(after, 3), "judged_on": judged_on, "views": len(views)},
        "bytes": {"before": {"ply": ply.stat().st_size, "splat": _size(outputs_dir / SPLAT),
                             "spz": _size(outputs_dir / SPZ)}, "after": sizes},
    }
    (outputs_dir / CLEAN_REPORT).write_text(json.dumps(report, indent=1))
    progress(1.0, f"{len(gaussians) - len(cleaned):,} of {len(gaussians):,} Gaussians removed; "
                  f"held-out {before:.2f} → {after:.2f} dB")
    return report


CROP_MARGINS = (0.5, 1.0, 2.0, 4.0)
"""The automatic crop box: the sparse points' 2nd–98th percentiles on each axis, widened on every
side by the first of these fractions of its size whose crop costs no more than allowed (a street
or a room is seen far beyond its points: lund's held-out views lost 1.85 dB to the 0.5 box)."""
FAINT = 1 / 255  # opacity under which a Gaussian cannot change a pixel by one level on its own
HUGE = 0.5  # a Gaussian wider (3σ) than this fraction of the crop box's diagonal


def _rules(g: Gaussians, cams: list, points: np.ndarray, crop, floaters: bool, margin: float
           ) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The masks of Gaussians each rule would remove, and the crop box (low and high corners)."""
    if isinstance(crop, tuple):
        low, high = crop
    else:
        source = points if len(points) >= 10 else g.means
        low, high = np.percentile(source, 2, axis=0), np.percentile(source, 98, axis=0)
        widen = margin * (high - low)
        low, high = low - widen, high + widen
    rules: dict[str, np.ndarray] = {}
    radii = 3 * np.exp(g.scales).max(axis=1, keepdims=True)  # a Gaussian is outside when all of it is
    if crop != "none":
        rules["outside the crop box"] = ((g.means + radii < low) | (g.means - radii > high)).any(axis=1)
    if crop == "auto":
        rules["seen by no camera"] = ~_seen(g.means, radii[:, 0], cams)
    if floaters:
        opacity = 1 / (1 + np.exp(-g.opacities))
        rules["faint (opacity under 1/255)"] = opacity < FAINT
        rules["oversized"] = radii[:, 0] > HUGE * float(np.linalg.norm(high - low))
    return rules, (low, high)


def _seen(means: np.ndarray, radii: np.ndarray, cams: list) -> np.ndarray:
    """Whether each Gaussian (centre, 3σ radius) lies in front of at least one camera and reaches
    into its image (a large one centred outside the frame still colours it)."""
    seen = np.zeros(len(means), bool)
    for cam in cams:
        view = cam.viewmat.numpy().astype(np.float64)
        p = means @ view[:3, :3].T + view[:3, 3]
        K = cam.K.numpy()
        z = np.maximum(p[:, 2], 1e-9)
        u, v = K[0, 0] * p[:, 0] / z + K[0, 2], K[1, 1] * p[:, 1] / z + K[1, 2]
        r = K[0, 0] * radii / z
        seen |= (p[:, 2] + radii > 0) & (u + r >= 0) & (u - r < cam.width) & (v + r >= 0) & (v - r < cam.height)
    return seen


def judging_views(outputs_dir: Path, sfm_dir: Path) -> tuple[list, np.ndarray, list, str]:
    """A trained scene's cameras (at its training size), sparse points, the views it is judged on
    (the held-out ones, every 8th, or all if there are too few) and what those are, in words."""
    from ..gs.cameras import load_colmap, split_holdout

    trained_path = Path(outputs_dir) / TRAIN_REPORT
    trained = json.loads(trained_path.read_text()) if trained_path.exists() else {}
    cams, points, _ = load_colmap(sfm_dir, max(trained.get("image_size") or [512]))
    train, held_out = split_holdout(cams, 8)
    judged_on = "held-out views" if held_out else "training views (the scene has too few views to hold any out)"
    return cams, points, held_out or train, judged_on


def views_psnr(g: Gaussians, views: list) -> float:
    """Mean PSNR of the Gaussians rendered at `views` against their images."""
    import torch

    from ..gs.metrics import psnr
    from ..gs.model import from_gaussians
    from ..gs.render import render

    if len(g) == 0:
        return 0.0
    params = {k: v.detach() for k, v in from_gaussians(g).items()}
    with torch.no_grad():
        return float(np.mean([psnr(render(params, c.viewmat, c.K, c.width, c.height, g.sh_degree)[0].clamp(0, 1),
                                       c.image) for c in views]))


def _size(path: Path) -> int | None:
    return path.stat().st_size if path.exists() else None
