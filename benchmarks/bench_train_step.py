"""Milliseconds per full training step (projection, rasterization, loss, backward, Adam):
splatlib's numba rasterizer against a vectorised PyTorch autograd rasterizer, same scenes, same run.

Run: .venv/bin/python benchmarks/bench_train_step.py [--sizes 10000x256x256 ...] [--steps 10]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from splatlib.gs.bench import time_train_step  # noqa: E402
from torch_rasterizer import rasterize_torch  # noqa: E402

DEFAULT_SIZES = ["10000x256x256", "50000x256x256", "200000x256x256",
                 "10000x640x480", "50000x640x480", "200000x640x480"]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", nargs="+", default=DEFAULT_SIZES, help="GAUSSIANSxWIDTHxHEIGHT")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--baseline-steps", type=int, default=3)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args()
    print(f"{'gaussians':>9} {'size':>9} {'splatlib ms':>12} {'torch ms':>9} {'speed-up':>9}")
    for spec in args.sizes:
        n, w, h = (int(x) for x in spec.split("x"))
        ours = time_train_step(n, w, h, steps=args.steps)
        line = f"{n:>9} {f'{w}x{h}':>9} {ours['ms_per_step']:>12.1f}"
        if not args.no_baseline:
            base = time_train_step(n, w, h, steps=args.baseline_steps, warmup=1, rasterizer=rasterize_torch)
            line += f" {base['ms_per_step']:>9.1f} {base['ms_per_step'] / ours['ms_per_step']:>8.1f}×"
        print(line, flush=True)
    print(f"medians over {args.steps} steps (baseline {args.baseline_steps}) after warm-up; baseline: "
          "benchmarks/torch_rasterizer.py, same projection and binning, compositing by tensor ops + autograd")


if __name__ == "__main__":
    main()
