"""How often COLMAP's mapping of one video goes wrong, and what a wrong mapping costs in training.

Features and matches are made once (as `splatlib run` does), then the incremental mapping runs
`--mappings` times with seeds 0, 1, …; each line gives the model's frames placed, focal length,
radial distortion, largest step over the median step (`max_step_ratio`), 3D points, reprojection
error and track length. `--train` then undistorts the models with the most and the fewest points
(the one a video keeps of two mappings, and the poorest; mappings differ from run to run, so the
seeds are picked here) and trains each with the video's own settings (the demo's for the demo),
giving held-out PSNR as bench_training.py does.

    .venv/bin/python benchmarks/bench_mappings.py --mappings 40 --train
    .venv/bin/python benchmarks/bench_mappings.py --mappings 30 --at-once 1,2   # 2: as a pipeline run maps
    taskset -c 0 .venv/bin/python benchmarks/bench_mappings.py --mappings 30 --at-once 1,2   # one thread each

Without `--frames` or `--video`, the demo video is rendered and its frames extracted (DEMO_OPTIONS);
`--video clip.mp4` extracts a video's frames at the default 2 fps and trains with the defaults.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pycolmap

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_training import fmt, train_once  # noqa: E402


def video_frames(tmp: Path, video: Path | None) -> tuple[Path, dict]:
    """A video's frames (the demo's when `video` is None), extracted as the pipeline does, and the
    training options it runs with beyond the defaults."""
    from splatlib.stages.frames import FrameOptions, extract_frames
    from splatlib.synthetic import DEMO_OPTIONS, DEMO_VIDEO, make_orbit_video

    train = {}
    if video is None:
        video = make_orbit_video(tmp / "demo-orbit.mp4", **DEMO_VIDEO)
        train = {k: DEMO_OPTIONS[k] for k in ("iterations", "image_size", "max_gaussians") if k in DEMO_OPTIONS}
    extract_frames(video, tmp / "frames", FrameOptions())
    return tmp / "frames", train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=Path, help="a video's extracted frames (frame_*.jpg); default: the demo's")
    ap.add_argument("--video", type=Path, help="a video file whose frames to extract")
    ap.add_argument("--mappings", type=int, default=20)
    ap.add_argument("--train", action="store_true", help="train the models with the most and the fewest points")
    ap.add_argument("--at-once", default="1", metavar="K[,K…]",
                    help="map K seeds at once, each with 1/K of the CPUs (a video's pipeline run maps 2: sfm.PAIR); "
                         "several values map the same seeds again from the same matches, once per value")
    args = ap.parse_args()
    from splatlib.stages.sfm import SfmOptions, _agree, _Colmap, _largest, _trials, _mapping_figures, \
        max_step_ratio, model_figures, write_undistorted

    pycolmap.logging.minloglevel = 2
    tmp = Path(tempfile.mkdtemp(prefix="bench-mappings-"))
    frames, train_options = (args.frames, {}) if args.frames else video_frames(tmp, args.video)
    names = sorted(p.name for p in frames.glob("frame_*.jpg"))
    colmap = _Colmap(frames, names, "video", SfmOptions(matching="sequential"), {}, lambda *a: None, tmp)
    trial = _trials("sequential")[0]
    figures_by = {}
    for at_once in (int(k) for k in args.at_once.split(",")):
        models, mapped = {}, figures_by.setdefault(at_once, {})
        print(f"{len(names)} frames, {at_once} at once; seed: placed, focal px, k, max_step_ratio, points, "
              "reprojection px, track length")
        batches = [tuple(range(first, min(first + at_once, args.mappings)))
                   for first in range(0, args.mappings, at_once)]
        for seed, seed_models in ((seed, m) for batch in batches for seed, m in
                                  zip(batch, colmap.map(trial, tmp / f"map-{at_once}-{batch[0]}", batch))):
            model = _largest(seed_models)
            if model is None:
                print(f"{seed:3d}: no model", flush=True)
                continue
            models[seed] = model
            camera = next(iter(model.cameras.values()))
            figures = model_figures(model)
            ratio = max_step_ratio(model)
            mapped[seed] = _mapping_figures(model, ratio)
            print(f"{seed:3d}: {model.num_reg_images()}/{len(names)}, f {camera.params[0]:.1f}, "
                  f"k {camera.params[-1]:+.4f}, step {ratio:.2f}, {figures['points3D']} points, "
                  f"{figures['mean_reprojection_error']:.3f} px, {figures['mean_track_length']:.2f}", flush=True)
    # the usual model: the mapping that most others agree with (sfm._agree); poor: not agreeing with it
    everything = [f for figures in figures_by.values() for f in figures.values()]
    usual = max(everything, key=lambda f: sum(_agree(f, other) for other in everything))
    first = next(iter(figures_by.values()))
    for at_once, figures in figures_by.items():
        poor = args.mappings - sum(f is usual or _agree(f, usual) for f in figures.values())  # no model: poor too
        same = sum(figures.get(seed) == f for seed, f in first.items())
        print(f"{at_once} at once: {poor} of {args.mappings} mappings poor (not agreeing with the usual model: "
              f"{usual['points3D']} points, focal {usual['focal_px']} px); the same model as the first "
              f"batching's for {same} of {args.mappings} seeds")
    by_points = sorted(models, key=lambda seed: models[seed].num_points3D())
    for seed in (by_points[-1], by_points[0]) if args.train and models else ():
        out = tmp / f"undistorted-{seed}"
        work = tmp / f"work-{seed}"
        work.mkdir()
        write_undistorted(models[seed], frames, sum(f.stat().st_size for f in frames.iterdir()), out, work)
        print(f"train seed {seed} ({models[seed].num_points3D()} points): {fmt(train_once(out, train_options))}",
              flush=True)


if __name__ == "__main__":
    main()
