"""Quality per second on a GPU: `splatlib run` end to end with the CUDA back end, then training
variants on that run's SfM model (the GPU makes larger images and budgets cost about the same step time).

1. `--photos DIR` runs the whole pipeline (frames, SfM on this machine's CPU cores, training on the
   GPU, convert) `--runs` times in one library: wall time per stage and held-out PSNR/SSIM. The first
   run also pays one-time costs (numba's kernel cache for the thumbnail and the metrics).
2. Every `--variant LABEL:KEY=VALUE,…` trains on the last run's SfM model (TrainOptions fields, plus
   `per_view`: the Gaussian budget per training view, in place of `stages.train.gaussians_per_view`) once per
   `--seeds` seed, and reports held-out PSNR at the training size and at 512 px long side (the same
   pixels for every variant, as `bench_training.py`).

Run on a GPU machine (see gpu_check.sh for the carried wheels):

    python benchmarks/bench_cuda_quality.py --photos .gpu/fountain_images --runs 2 \\
        --variant default: --variant 1024:image_size=1024 --seeds 0,1 --out results.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_quality import parse_variant, run_in_library  # noqa: E402
from bench_training import fmt, train_once  # noqa: E402


def pipeline_run(library: Path, photos: Path, device: str) -> tuple[dict, Path]:
    """One `splatlib run` of `photos` in `library`; its figures (the ledger's, SfM's steps, the back
    end) and its SfM model's folder."""
    row, store, scene = run_in_library(library, photos.name, photos, {"device": device})
    train = store.path(f"outputs/{scene.id}") / "train.json"
    if train.is_file():
        row["device"] = json.loads(train.read_text()).get("device")
    return row, store.path(f"sfm/{scene.id}")


def train_variant(sfm: Path, options: dict) -> dict:
    """`bench_training.train_once` with `per_view` applied to the budget rule for this training only."""
    from splatlib.stages import train

    options = dict(options)
    per_view = options.pop("per_view", None)
    saved = train.gaussians_per_view
    if per_view is not None:
        train.gaussians_per_view = lambda device: int(per_view)
    try:
        return train_once(sfm, options)
    finally:
        train.gaussians_per_view = saved


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--photos", type=Path, required=True, help="photo folder to run end to end")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--library", type=Path, default=Path("/tmp/bench-cuda-quality"))
    ap.add_argument("--variant", action="append", default=[], metavar="LABEL:KEY=VALUE,…")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    results: dict = {"runs": [], "variants": {}}

    def save() -> None:
        if args.out:
            args.out.write_text(json.dumps(results, indent=1))

    sfm = None
    for i in range(args.runs):
        row, sfm = pipeline_run(args.library, args.photos, args.device)
        results["runs"].append(row)
        save()
        print(f"run {i + 1}: {row['status']} {row['error'] or ''} wall {row['wall_s']} s, stages "
              f"{json.dumps(row['seconds'])} (SfM {json.dumps(row.get('sfm_seconds'))}), "
              f"{row['placed']}/{row['frames']} placed, {row['gaussians']} G, "
              f"held-out {row['psnr']} dB SSIM {row['ssim']}, {row.get('device')}", flush=True)
    if sfm is None or not args.variant:
        return
    variants = [parse_variant(v) for v in args.variant]
    for seed in [int(s) for s in args.seeds.split(",")]:
        for label, options in variants:  # variants alternate within a seed
            row = train_variant(sfm, {"device": args.device, "seed": seed, **options})
            results["variants"].setdefault(label, []).append(row)
            save()
            print(f"{label:>16} seed {seed}: {fmt(row)}", flush=True)
    print()
    for label, rows in results["variants"].items():
        mean = {k: statistics.mean(r[k] for r in rows) for k in ("seconds", "psnr", "psnr_eval", "ssim_eval")}
        print(f"{label:>16}: {len(rows)} seeds, train {mean['seconds']:.1f} s, held-out {mean['psnr']:.2f} dB at the "
              f"training size, {mean['psnr_eval']:.2f} dB SSIM {mean['ssim_eval']:.3f} at 512 px")


if __name__ == "__main__":
    main()
