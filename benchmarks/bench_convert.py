"""Conversion speed and file sizes: the specification's per-Gaussian loop against our vectorised writers.

Run: .venv/bin/pip install plyfile && .venv/bin/python benchmarks/bench_convert.py [--sizes 100000 1000000]
Prints, per size, the median time of PLY read + .splat write for both, the speed-up, whether the
bytes agree where the spec is right (positions, scales, colours, alpha), and PLY / .splat / .spz sizes.
"""

from __future__ import annotations

import argparse
import struct
import sys
import tempfile
from pathlib import Path

import numpy as np
from plyfile import PlyData  # the specification's reader, for its baseline: pip install plyfile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from splatlib.formats import Gaussians  # noqa: E402
from splatlib.formats.ply import write_ply  # noqa: E402
from splatlib.formats.convert import convert  # noqa: E402
from splatlib.formats.spz import write_spz  # noqa: E402
from timing import median_seconds  # noqa: E402


def spec_convert(ply: Path, out: Path) -> None:
    """The specification's converter, as written there: plyfile, then struct.pack per Gaussian."""
    vertex = PlyData.read(str(ply))["vertex"]
    positions = np.stack([vertex["x"], vertex["y"], vertex["z"]], axis=-1)
    scales = np.stack([vertex["scale_0"], vertex["scale_1"], vertex["scale_2"]], axis=-1)
    rotations = np.stack([vertex["rot_0"], vertex["rot_1"], vertex["rot_2"], vertex["rot_3"]], axis=-1)
    opacity = vertex["opacity"]
    sh_dc = np.stack([vertex["f_dc_0"], vertex["f_dc_1"], vertex["f_dc_2"]], axis=-1)
    order = np.argsort(-np.exp(scales).sum(axis=-1))
    with open(out, "wb") as f:
        for idx in order:
            f.write(struct.pack("fff", *positions[idx]))
            f.write(struct.pack("fff", *np.exp(scales[idx])))
            color = (sh_dc[idx] * 0.28209479177387814 + 0.5).clip(0, 1)
            alpha = 1 / (1 + np.exp(-opacity[idx]))
            f.write(struct.pack("BBBB", int(color[0] * 255), int(color[1] * 255), int(color[2] * 255), int(alpha * 255)))
            rot = rotations[idx] / np.linalg.norm(rotations[idx])
            f.write(struct.pack("BBBB", *[int((r * 0.5 + 0.5) * 255) for r in rot]))


def ours_convert(ply: Path, out: Path) -> None:
    convert(ply, out)


def gaussians(n: int) -> Gaussians:
    rng = np.random.default_rng(0)
    return Gaussians(means=rng.normal(size=(n, 3)).astype(np.float32), scales=rng.normal(-4, 1, (n, 3)).astype(np.float32),
                     quats=rng.normal(size=(n, 4)).astype(np.float32), opacities=rng.normal(size=n).astype(np.float32),
                     sh0=rng.normal(0, 0.5, (n, 3)).astype(np.float32), shN=rng.normal(0, 0.1, (n, 15, 3)).astype(np.float32))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    args = parser.parse_args()
    print(f"{'gaussians':>10} {'spec loop s':>12} {'ours s':>8} {'speed-up':>9} {'ply MB':>8} {'splat MB':>9} {'spz MB':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n in args.sizes:
            g = gaussians(n)
            ply = tmp / "in.ply"
            write_ply(ply, g)
            spec_s = median_seconds(spec_convert, ply, tmp / "spec.splat", repeat=1 if n > 200_000 else 3)
            ours_s = median_seconds(ours_convert, ply, tmp / "ours.splat", repeat=5)
            spz_bytes = write_spz(tmp / "a.spz", g)
            a = np.frombuffer((tmp / "spec.splat").read_bytes(), np.uint8).reshape(-1, 32)
            b = np.frombuffer((tmp / "ours.splat").read_bytes(), np.uint8).reshape(-1, 32)
            same_floats = np.array_equal(np.sort(a[:, :24].view(np.float32)[:, 0]), np.sort(b[:, :24].view(np.float32)[:, 0]))
            print(f"{n:>10} {spec_s:>12.2f} {ours_s:>8.3f} {spec_s / ours_s:>8.0f}× {ply.stat().st_size / 1e6:>8.1f} "
                  f"{b.nbytes / 1e6:>9.1f} {spz_bytes / 1e6:>7.1f}   positions agree: {same_floats}")
    print("baseline: the specification's convert_ply_to_splat loop, same PLY, same machine, same run")


if __name__ == "__main__":
    main()
