"""Start-up time of the commands that never train, against the import of the training stack.

Run: .venv/bin/python benchmarks/bench_startup.py [--repeats 7]
Each command runs in a fresh interpreter, `--repeats` times; the median wall time is printed.
Baselines, in the same run: an empty interpreter (the floor) and `import torch, numba, pycolmap`
(what each of these commands paid before they imported the training stack lazily).
Convert runs on a 1M-Gaussian PLY, as issue 16 measured it (about 5 s from the command line then).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from splatlib.formats import Gaussians  # noqa: E402
from splatlib.formats.ply import write_ply  # noqa: E402


def median_seconds(argv: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory() as tmp:
        n = 1_000_000
        rng = np.random.default_rng(0)
        write_ply(Path(tmp) / "big.ply", Gaussians(
            rng.normal(size=(n, 3)).astype(np.float32), rng.normal(-4, 1, (n, 3)).astype(np.float32),
            rng.normal(size=(n, 4)).astype(np.float32), rng.normal(size=n).astype(np.float32),
            rng.normal(size=(n, 3)).astype(np.float32), rng.normal(size=(n, 15, 3)).astype(np.float32)))
        cli = [py, "-m", "splatlib.cli"]
        rows = [
            ("python -c pass (floor)", [py, "-c", "pass"]),
            ("import torch, numba, pycolmap (before)", [py, "-c", "import torch, numba, pycolmap"]),
            ("splatlib --help", cli + ["--help"]),
            ("splatlib scenes list", cli + ["scenes", "list", "--library", tmp]),
            ("splatlib convert 1M .ply -> .splat", cli + ["convert", f"{tmp}/big.ply", f"{tmp}/big.splat"]),
            ("import splatlib.aws.api (Lambda cold start)", [py, "-c", "import splatlib.aws.api"]),
        ]
        print(f"median of {args.repeats} runs, each in a fresh interpreter")
        for label, argv in rows:
            print(f"{label:<46} {median_seconds(argv, args.repeats):6.2f} s", flush=True)


if __name__ == "__main__":
    main()
