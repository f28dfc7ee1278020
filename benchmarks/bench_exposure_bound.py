"""How much held-out PSNR a per-view colour correction could recover at most, on a trained scene.

Per held-out view (every 8th frame, as the ledger), the scene's PLY is rendered and a gain and a bias
per colour channel are fitted by least squares to the held-out photo itself: an oracle no real
exposure compensation can beat, since a real one must not see the held-out pixels. If the bound is
small, the held-out gap is geometry and appearance the model lacks, not the cameras' exposure.

    .venv/bin/python benchmarks/bench_exposure_bound.py ~/.splatlib/store/sfm/ID ~/.splatlib/store/outputs/ID --size 512
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_quality import held_out_views  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sfm", type=Path, help="the scene's SfM folder (sparse/, images/)")
    parser.add_argument("output", type=Path, help="the scene's output folder (point_cloud/…/*.ply)")
    parser.add_argument("--size", type=int, default=512, help="long side to render and compare at, pixels")
    parser.add_argument("--sh-degree", type=int, default=3)
    args = parser.parse_args()
    from splatlib.gs.metrics import psnr
    from splatlib.gs.trainer import render_camera

    params, held_out = held_out_views(args.sfm, next(args.output.glob("point_cloud/**/*.ply")), args.size)
    before, after = [], []
    for cam in held_out:
        image = render_camera(params, cam, args.sh_degree).clamp(0, 1)
        x, y = image.reshape(-1, 3), cam.image.reshape(-1, 3)
        design = torch.stack([x, torch.ones_like(x)], dim=-1).permute(1, 0, 2)  # channel, pixel, (value, 1)
        gain_bias = torch.linalg.lstsq(design, y.T.unsqueeze(-1)).solution  # channel, 2, 1
        corrected = (design @ gain_bias).squeeze(-1).T.clamp(0, 1).reshape(image.shape)
        before.append(psnr(image, cam.image))
        after.append(psnr(corrected, cam.image))
        print(f"{cam.name}: {before[-1]:.2f} dB, {after[-1]:.2f} dB with the oracle gain and bias "
              f"(gain, bias per channel): {[(round(float(g), 3), round(float(b), 3)) for g, b in gain_bias.squeeze(-1)]}")
    print(f"held-out mean at {held_out[0].width}x{held_out[0].height}: {sum(before) / len(before):.2f} dB; "
          f"with each view's oracle colour correction {sum(after) / len(after):.2f} dB")


if __name__ == "__main__":
    main()
