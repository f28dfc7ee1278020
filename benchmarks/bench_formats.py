"""Sizes and conversion times of the splat formats at 1M Gaussians, against splat-transform's writer.

Run: .venv/bin/python benchmarks/bench_formats.py [--gaussians 1000000]
Writes one INRIA PLY of random Gaussians (SH degree 3), then times, per format, our write from
memory and our read back (median of 3), and prints each file's size. Baseline, same machine and
run: PlayCanvas splat-transform 2.7.1 (node, `npm ci`) converting the same PLY to
`.compressed.ply`, whole process, once; and its SOG writer on the CPU (`-g cpu`; it has no faster
path without a GPU) on the first `--sog-baseline` (10,000) of those Gaussians, once.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from splatlib.formats.compressed_ply import read_compressed_ply, write_compressed_ply  # noqa: E402
from splatlib.formats.ply import read_ply, write_ply  # noqa: E402
from splatlib.formats.sog import read_sog, write_sog  # noqa: E402
from splatlib.formats.splat import read_splat, write_splat  # noqa: E402
from splatlib.formats.spz import read_spz, write_spz  # noqa: E402
from tests.helpers import random_gaussians  # noqa: E402
from timing import median_seconds  # noqa: E402

FORMATS = {"ply": (write_ply, read_ply), "compressed.ply": (write_compressed_ply, read_compressed_ply),
           "splat": (write_splat, read_splat), "spz": (write_spz, read_spz),
           "v4.spz": (lambda path, g: write_spz(path, g, version=4), read_spz), "sog": (write_sog, read_sog)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gaussians", type=int, default=1_000_000)
    ap.add_argument("--sog-baseline", type=int, default=10_000, help="Gaussians for splat-transform's SOG writer")
    args = ap.parse_args()
    n = args.gaussians
    g = random_gaussians(n, 3)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print(f"{n:,} Gaussians, SH degree 3")
        print(f"{'format':<16} {'MB':>8} {'write s':>8} {'read s':>7}")
        for name, (write, read) in FORMATS.items():
            path = tmp / f"scene.{name}"
            w = median_seconds(write, path, g)
            r = median_seconds(read, path)
            print(f"{name:<16} {path.stat().st_size / 1e6:>8.1f} {w:>8.2f} {r:>7.2f}")
        tool = ROOT / "node_modules" / ".bin" / "splat-transform"
        if shutil.which("node") and tool.exists():
            t0 = time.perf_counter()
            subprocess.run([str(tool), "-q", "-w", str(tmp / "scene.ply"), str(tmp / "theirs.compressed.ply")],
                           check=True, capture_output=True)
            print(f"baseline: splat-transform 2.7.1, PLY to .compressed.ply (read, sort, write; whole process): "
                  f"{time.perf_counter() - t0:.2f} s, {(tmp / 'theirs.compressed.ply').stat().st_size / 1e6:.1f} MB")
            few = random_gaussians(args.sog_baseline, 3)
            write_ply(tmp / "few.ply", few)
            t0 = time.perf_counter()
            subprocess.run([str(tool), "-q", "-w", "-g", "cpu", str(tmp / "few.ply"), str(tmp / "theirs.sog")],
                           check=True, capture_output=True)
            theirs = time.perf_counter() - t0
            ours = median_seconds(write_sog, tmp / "few.sog", few)
            print(f"baseline: splat-transform 2.7.1, PLY of {len(few):,} to .sog on the CPU (whole process): "
                  f"{theirs:.2f} s, {(tmp / 'theirs.sog').stat().st_size / 1e6:.2f} MB; ours from memory "
                  f"{ours:.2f} s, {(tmp / 'few.sog').stat().st_size / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
