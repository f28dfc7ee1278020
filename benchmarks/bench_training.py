"""Training options and training code compared on one SfM model per scene: an A/B without SfM noise.

The quality ledger (`bench_quality.py`) runs SfM anew for every variant, and SfM on several threads
is not deterministic: a scene moves by about 1 dB between runs of the same code. Training on one
SfM model is deterministic (the same model trained twice gives the same PSNR to 15 digits), so here
each scene's frames and SfM run once, with the current code's defaults, and every variant trains
on that same model, one after another, alone.

Per scene and variant it prints the train stage's seconds, Gaussians, held-out PSNR/SSIM at the
training size and at EVAL_SIZE px long side (never above the frames' own size; comparable across
`image_size` variants), the training PSNR, and the held-out curve. Held-out protocol: every 8th
frame, as the ledger.

    .venv/bin/python benchmarks/bench_training.py --scenes fountain,lund \\
        --variant 1000:iterations=1000 --variant 2000:iterations=2000
    .venv/bin/python benchmarks/bench_training.py --scenes fountain --baseline HEAD   # training code before/after

Variants are `TrainOptions` fields (iterations, max_gaussians, image_size, sh_degree, seed, coarse_until).

Training is chaotic: a change that only rounds differently moved fountain_p11 by 1.4 dB on one model,
and seeds spread it over about 1.5 dB (README, "Training is chaotic"). `--seeds 0,1,2` trains every
variant with each seed (variants alternate within a seed, so a slow spell of the machine hits all)
and ends each scene with every variant's mean and standard deviation over the seeds:

    .venv/bin/python benchmarks/bench_training.py --scenes fountain --seeds 0,1,2 --baseline HEAD

Run alone on the machine (parallel CPU work slows the kernels).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_quality import ROOT, SCENES, baseline_tree, cpu_model, held_out_at, parse_variant, run_child, scene_inputs

EVAL_SIZE = 512
TRAIN_OPTIONS = ("iterations", "max_gaussians", "image_size", "sh_degree", "seed")  # what a scene sets for training


def map_scene(name: str, source: Path, options: dict, library: Path) -> Path:
    """Frames and SfM of one ledger scene in a library under `library`; the undistorted model's folder."""
    from splatlib.library import LocalStore, SQLiteCatalog
    from splatlib.pipeline import Pipeline, PipelineOptions

    store = LocalStore(library / "store")
    pipeline = Pipeline(SQLiteCatalog(library / "catalog.sqlite"), store)
    scene = pipeline.create_scene(source, name, PipelineOptions.from_dict(options))
    scene = pipeline.run(scene.id, until="sfm")
    if scene.error:
        raise SystemExit(f"{name}: SfM failed: {scene.error}")
    return store.path(f"sfm/{scene.id}")


def train_once(sfm_dir: Path, options: dict) -> dict:
    """One training on `sfm_dir` with `options`; the figures this benchmark prints."""
    from splatlib.stages.train import TrainOptions, train_gaussians

    with tempfile.TemporaryDirectory(prefix="bench-training-") as out:
        report = train_gaussians(sfm_dir, Path(out), TrainOptions(**options))
        eval_size, psnr_eval, ssim_eval = held_out_at(sfm_dir, Path(out) / report["ply"], report["sh_degree"],
                                                      EVAL_SIZE)
    return {"seconds": report["train_seconds"], "steps": report["iterations"], "gaussians": report["num_gaussians"],
            "size": report["image_size"], "psnr": report["psnr"], "ssim": report["ssim"], "eval_size": eval_size,
            "psnr_eval": psnr_eval, "ssim_eval": ssim_eval, "train_psnr": report["train_psnr"],
            "curve": [[c["seconds"], c["psnr"]] for c in report["psnr_curve"]]}


def fmt(row: dict) -> str:
    (w, h), (ew, eh) = row["size"], row["eval_size"]
    return (f"{row['seconds']:6.1f} s, {row['steps']} steps, {row['gaussians']:,} G | held-out at {w}x{h} "
            f"{row['psnr']:.2f} dB SSIM {row['ssim']:.3f} | at {ew}x{eh} {row['psnr_eval']:.2f} dB "
            f"SSIM {row['ssim_eval']:.3f} | train {row['train_psnr']:.1f} dB")


def summary(rows: list[dict]) -> str:
    """Mean ± standard deviation over seeds of one variant's figures."""
    def spread(key: str, digits: int) -> str:
        values = [r[key] for r in rows]
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return f"{statistics.mean(values):.{digits}f} ± {sd:.{digits}f}"
    return (f"{len(rows)} seeds: train {spread('seconds', 1)} s | held-out {spread('psnr', 2)} dB "
            f"SSIM {spread('ssim', 3)} | at eval size {spread('psnr_eval', 2)} dB")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", default="fountain,lund", help="comma-separated subset of " + ", ".join(SCENES))
    ap.add_argument("--variant", action="append", default=[], metavar="LABEL:KEY=VALUE,…",
                    help="training options (default: one variant, the defaults)")
    ap.add_argument("--baseline", metavar="GIT_REF", help="also train with the code of this revision, same models")
    ap.add_argument("--seeds", help="comma-separated seeds: every variant once per seed, then mean ± sd")
    ap.add_argument("--map", nargs=3, help=argparse.SUPPRESS)  # child: scene, source, options -> sfm folder
    ap.add_argument("--train", nargs=2, help=argparse.SUPPRESS)  # child: sfm folder, options -> figures
    args = ap.parse_args()
    if args.map:
        import pycolmap
        pycolmap.logging.minloglevel = 2
        name, source, options = args.map
        library = Path(tempfile.mkdtemp(prefix="bench-training-lib-"))
        print(json.dumps({"sfm": str(map_scene(name, Path(source), json.loads(options), library)),
                          "library": str(library)}))
        return
    if args.train:
        print(json.dumps(train_once(Path(args.train[0]), json.loads(args.train[1]))))
        return

    variants = [parse_variant(v) for v in args.variant] or [("default", {})]
    seeds: list[int | None] = [int(x) for x in args.seeds.split(",")] if args.seeds else [None]
    print(f"training on fixed SfM models, {time.strftime('%Y-%m-%d %H:%M')}, {cpu_model()}")
    with baseline_tree(args.baseline) as worktree:
        runs = [(label, opts, ROOT) for label, opts in variants]
        if worktree is not None:
            runs += [(f"{args.baseline}:{label}", opts, worktree) for label, opts in variants]
        for scene, source, extra in scene_inputs(args.scenes.split(",")):
            mapped = run_child(__file__, ["--map", scene, str(source), json.dumps(extra)], ROOT)
            done: dict[str, list[dict]] = {label: [] for label, _, _ in runs}
            try:
                for seed in seeds:
                    for label, opts, code in runs:
                        train_opts = {k: v for k, v in extra.items() if k in TRAIN_OPTIONS} | opts
                        name = label
                        if seed is not None:
                            train_opts["seed"], name = seed, f"{label}/s{seed}"
                        try:
                            row = run_child(__file__, ["--train", mapped["sfm"], json.dumps(train_opts)], code)
                        except RuntimeError as exc:
                            print(f"{scene:<15} {name:<16} failed: {exc}", flush=True)
                            continue
                        done[label].append(row)
                        print(f"{scene:<15} {name:<16} {fmt(row)}", flush=True)
                        print(f"{'':<15} {'':<16} curve (s, dB): "
                              + " ".join(f"{s:.0f}:{p:.2f}" for s, p in row["curve"]), flush=True)
                if len(seeds) > 1:
                    for label, rows in done.items():
                        if rows:
                            print(f"{scene:<15} {label:<16} {summary(rows)}", flush=True)
            finally:
                shutil.rmtree(mapped["library"], ignore_errors=True)


if __name__ == "__main__":
    main()
