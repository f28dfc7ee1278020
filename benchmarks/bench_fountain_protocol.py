"""Training quality on the CPU peer's protocol: fountain_p11, 10 training views at 384×256,
image 0005 held out, 2000 iterations; held-out PSNR over time.

The peer, OpenSplat 1.1.5 in CPU mode, was measured on this kind of machine by the project (DESIGN.md §6):
25.3 dB after 300 iterations in 2.8 min, 28.35 dB after 2000 iterations in 22 min. OpenSplat is not
installed here, so those figures are quoted, not re-measured in this run.

Run: .venv/bin/python benchmarks/bench_fountain_protocol.py [--iterations 2000] [--max-gaussians 100000]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import pycolmap

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from splatlib.gs.cameras import load_colmap  # noqa: E402
from splatlib.gs.model import init_from_points  # noqa: E402
from splatlib.gs.trainer import TrainConfig, train  # noqa: E402
from splatlib.stages.frames import extract_frames  # noqa: E402
from splatlib.stages.sfm import run_sfm  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "fountain_p11"
PEER = {"name": "OpenSplat 1.1.5 (CPU)", 300: (25.3, 2.8 * 60), 2000: (28.35, 22 * 60)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=2000)
    parser.add_argument("--max-gaussians", type=int, default=100_000)
    args = parser.parse_args()
    if not DATA.exists():
        print(f"skipped: {DATA} is absent")
        return
    pycolmap.logging.minloglevel = 2
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        manifest = extract_frames(DATA / "images", tmp / "frames")
        run_sfm(tmp / "frames", tmp / "sfm", "photos")
        held_out = next(f["name"] for f in manifest["frames"] if f["source"].startswith("0005"))
        cams, xyz, rgb = load_colmap(tmp / "sfm", 384)
    train_cams = [c for c in cams if c.name != held_out]
    test_cams = [c for c in cams if c.name == held_out]
    params = init_from_points(xyz, rgb, args.max_gaussians, 3, 0)
    config = TrainConfig(iterations=args.iterations, max_gaussians=args.max_gaussians, eval_every=100)
    t0 = time.perf_counter()
    result = train(params, train_cams, test_cams, config)
    seconds = time.perf_counter() - t0
    print(f"fountain_p11, {len(train_cams)} training views at {cams[0].width}×{cams[0].height}, "
          f"held out {held_out} (source 0005): {len(result.params['means'])} Gaussians")
    print(f"{'step':>5} {'seconds':>8} {'held-out PSNR':>14}")
    for point in result.curve:
        print(f"{point['step']:>5} {point['seconds']:>8.1f} {point['psnr']:>14.2f}")
    print(f"final: {result.psnr:.2f} dB, SSIM {result.ssim:.3f}, {seconds / 60:.1f} min")
    for step in (300, 2000):
        psnr, secs = PEER[step]
        print(f"peer {PEER['name']} after {step} iterations: {psnr} dB in {secs / 60:.1f} min (DESIGN.md §6)")
    print(json.dumps({"curve": result.curve, "psnr": result.psnr, "ssim": result.ssim, "seconds": round(seconds, 1)}))


if __name__ == "__main__":
    main()
