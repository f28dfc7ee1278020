"""The CUDA back end (gsplat) on a GPU machine, against the CPU kernels on the same machine, same run:

1. how long gsplat's one-time kernel build takes;
2. agreement of image and gradients on a dense random scene (10k Gaussians, 256×256);
3. ms per full training step at 10k/50k/200k Gaussians × 256×256/640×480, both back ends;
4. with --sfm DIR (an undistorted COLMAP model, e.g. fountain_p11 after `splatlib run --until sfm`):
   the train stage with default settings on the GPU (and, with --cpu-train, on this machine's CPU),
   wall time and held-out PSNR/SSIM.

Run: python benchmarks/bench_cuda.py [--sfm DIR] [--out results.json] [--steps 20]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from splatlib.gs.bench import random_scene, time_train_step  # noqa: E402
from splatlib.gs.model import on_device  # noqa: E402
from splatlib.gs.render import render  # noqa: E402

SIZES = [(10_000, 256, 256), (50_000, 256, 256), (200_000, 256, 256),
         (10_000, 640, 480), (50_000, 640, 480), (200_000, 640, 480)]


def build_seconds() -> float:
    """Import gsplat's compiled kernels (building them if this machine has not yet)."""
    t0 = time.perf_counter()
    from gsplat.cuda._backend import _C  # noqa: F401
    return time.perf_counter() - t0


def agreement(n: int = 10_000, width: int = 256, height: int = 256) -> dict:
    """Image difference and relative gradient differences, gsplat against the CPU kernels."""
    params, viewmat, K = random_scene(n, width, height)
    weights = torch.rand(height, width, 3, generator=torch.Generator().manual_seed(5))
    out = {}
    for device in ("cpu", "cuda"):
        p = on_device(params, device)
        img, proj = render(p, viewmat.to(device), K.to(device), width, height, 0)
        proj.retain_screen_grad()
        (img * weights.to(device)).sum().backward()
        grads = {k: v.grad.cpu() for k, v in p.items() if v.grad is not None}
        grads["means2d"] = proj.screen_grad().cpu()
        out[device] = img.detach().cpu(), grads
    (img_c, g_c), (img_g, g_g) = out["cpu"], out["cuda"]
    diff = (img_c - img_g).abs()
    result = {"image_mean_abs": float(diff.mean()), "image_max_abs": float(diff.max()),
              "pixels_over_1e-2": float((diff > 1e-2).float().mean())}
    for k in g_c:
        result[f"grad_rel_{k}"] = float((g_c[k] - g_g[k]).norm() / g_c[k].norm().clamp_min(1e-30))
    return result


def train_run(sfm: Path, device: str, **options) -> dict:
    from splatlib.stages.train import TrainOptions, train_gaussians

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        report = train_gaussians(sfm, Path(tmp), TrainOptions(device=device, **options))
        report["wall_seconds"] = round(time.perf_counter() - t0, 1)
    return report


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sfm", type=Path, help="undistorted COLMAP model to train on")
    parser.add_argument("--cpu-train", action="store_true", help="also train on this machine's CPU")
    parser.add_argument("--long", type=int, nargs=2, metavar=("ITERATIONS", "IMAGE_SIZE"),
                        help="also a longer GPU training at a larger image size")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("skipped: torch sees no CUDA GPU")
        return
    results: dict = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__,
                     "cpu_threads": torch.get_num_threads()}
    results["gsplat_build_seconds"] = round(build_seconds(), 1)
    print(f"{results['gpu']}, torch {results['torch']}, gsplat kernels ready in {results['gsplat_build_seconds']} s", flush=True)
    results["agreement"] = agreement()
    print("agreement (10k Gaussians, 256x256):", json.dumps(results["agreement"]), flush=True)
    rows = []
    for n, w, h in SIZES:
        gpu = time_train_step(n, w, h, steps=args.steps, device=torch.device("cuda"))
        cpu = time_train_step(n, w, h, steps=max(3, args.steps // 4))
        rows.append({"gaussians": n, "size": f"{w}x{h}", "cuda_ms": gpu["ms_per_step"], "cpu_ms": cpu["ms_per_step"],
                     "peak_gpu_mb": gpu["peak_gpu_mb"]})
        print(json.dumps(rows[-1]), flush=True)
    results["train_step"] = rows
    if args.sfm:
        results["train_cuda"] = train_run(args.sfm, "cuda")
        print("train (cuda):", json.dumps({k: v for k, v in results["train_cuda"].items() if k != "psnr_curve"}), flush=True)
        if args.long:
            iterations, size = args.long
            results["train_cuda_long"] = train_run(args.sfm, "cuda", iterations=iterations, image_size=size)
        if args.cpu_train:
            results["train_cpu"] = train_run(args.sfm, "cpu")
            print("train (cpu):", json.dumps({k: v for k, v in results["train_cpu"].items() if k != "psnr_curve"}), flush=True)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    print(f"\n{'gaussians':>9} {'size':>9} {'cuda ms':>8} {'cpu ms':>8} {'speed-up':>8}   ({results['gpu']} vs "
          f"{results['cpu_threads']} CPU threads of the same machine)")
    for r in rows:
        print(f"{r['gaussians']:>9} {r['size']:>9} {r['cuda_ms']:>8.2f} {r['cpu_ms']:>8.1f} {r['cpu_ms'] / r['cuda_ms']:>7.1f}×")
    for key in ("train_cuda", "train_cuda_long", "train_cpu"):
        if key in results:
            t = results[key]
            w, h = t["image_size"]
            print(f"{key}: {t['iterations']} steps at {w}x{h}, {t['wall_seconds']} s wall ({t['train_seconds']} s "
                  f"training), held-out PSNR {t['psnr']:.2f} dB, SSIM {t['ssim']:.3f}, {t['num_gaussians']} Gaussians, "
                  f"{t['device']}")


if __name__ == "__main__":
    main()
