"""Milliseconds per full training step (projection, rasterization, loss, backward, Adam):
splatlib's numba rasterizer against a vectorised PyTorch autograd rasterizer, same scenes, same run.

Run: .venv/bin/python benchmarks/bench_train_step.py [--sizes 10000x256x256 ...] [--steps 10]

`--scene ID` times the same steps on a finished scene of the library (its trained Gaussians, its
training views at the training size, cycling through them): real Gaussians are anisotropic and of
every size, which random scenes are not, and a kernel change can move the two differently.
`--profile` also prints where one step's time goes: each numba kernel (timed around its call) and
the rest (PyTorch glue, the L1 loss, conversions), in ms per step and as a share of the step.

Sharing the machine: `--concurrent N` times each size in one process alone, then in N processes at
once (same run), and reports each one's slowdown against alone (ideal: N× on N busy cores or fewer);
`--wait-policy active` runs the children with OpenMP's spinning waits, as before splatlib.threads.
`--threads` runs the N trainings as threads of one process instead, as `splatlib serve --concurrency N`
runs its scenes. `--busy N` times one training alone, then beside N busy processes that are not
trainings (one thread each, pure arithmetic), and reports its slowdown (ideal on 2 cores, N = 1: 2×).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from splatlib.gs.bench import time_train_step  # noqa: E402
from torch_rasterizer import rasterize_torch  # noqa: E402

DEFAULT_SIZES = ["10000x256x256", "50000x256x256", "200000x256x256",
                 "10000x640x480", "50000x640x480", "200000x640x480"]


CHILD = ("import json, sys, threading; from splatlib.gs.bench import time_train_step\n"
         "n, w, h, steps, count = map(int, sys.argv[1:6]); out = [0.0] * count\n"
         "def run(i): out[i] = time_train_step(n, w, h, steps=steps)['ms_per_step']\n"
         "threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]\n"
         "[t.start() for t in threads]; [t.join() for t in threads]; print(json.dumps(out))")


def _children(n: int, w: int, h: int, steps: int, count: int, env: dict, threads: int = 1) -> list[float]:
    """ms per step of `count` processes timing the same step at once, each with `threads` trainings
    as threads of it."""
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(n), str(w), str(h), str(steps), str(threads)],
                              env=env, stdout=subprocess.PIPE, text=True) for _ in range(count)]
    return [ms for p in procs for ms in json.loads(p.communicate()[0].strip().splitlines()[-1])]


BUSY = "x = 0\nwhile True:\n    x = (x * 7 + 1) % 1000003"  # one thread of arithmetic, no OpenMP


def _beside_busy(n: int, w: int, h: int, steps: int, count: int, env: dict) -> list[float]:
    """ms per step of one process timing the step while `count` busy processes run beside it."""
    busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(count)]
    try:
        return _children(n, w, h, steps, 1, env)
    finally:
        for p in busy:
            p.kill()
            p.wait()


def concurrent(sizes: list[str], count: int, steps: int, wait_policy: str | None, repeats: int,
               mode: str = "processes") -> None:
    """Each size alone, then `count` trainings at once (`mode` "processes" or "threads" of one
    process), or one beside `count` busy processes ("busy"), per round."""
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    if wait_policy:
        env["OMP_WAIT_POLICY"] = wait_policy.upper()
    what = {"busy": f"beside {count} busy process{'es' if count > 1 else ''}",
            "threads": f"{count} at once as threads of one process"}.get(mode, f"{count} at once")
    print(f"{'gaussians':>9} {'size':>9} {'alone ms':>9}  {what}: ms each (× alone)")
    for spec in sizes:
        n, w, h = (int(x) for x in spec.split("x"))
        for _ in range(repeats):
            alone = _children(n, w, h, steps, 1, env)[0]
            if mode == "busy":
                together = _beside_busy(n, w, h, steps, count, env)
            elif mode == "threads":
                together = _children(n, w, h, steps, 1, env, threads=count)
            else:
                together = _children(n, w, h, steps, count, env)
            print(f"{n:>9} {f'{w}x{h}':>9} {alone:>9.1f}  " + "  ".join(f"{t:.1f} ({t / alone:.2f}×)" for t in together),
                  flush=True)
    print(f"OMP_WAIT_POLICY={env.get('OMP_WAIT_POLICY', 'PASSIVE (splatlib.threads)')}; medians over {steps} steps")


KERNELS = [("cpu_project", "project_forward", "projection + SH colours"), ("cpu_kernels", "bin_tiles", "tile binning"),
           ("cpu_kernels", "composite_forward", "compositing forward"), ("cpu_loss", "loss_and_gradient", "loss and its gradient"),
           ("cpu_kernels", "composite_backward", "compositing backward"), ("cpu_kernels", "sum_pair_grads", "pair gradient sums"),
           ("cpu_project", "project_backward", "projection + SH backward"), ("optim", "adam_update", "Adam")]


def scene_steps(scene_id: str, home: str | None, image_size: int):
    """A `time_train_step`-like function over scene `scene_id`'s trained model and training views."""
    from splatlib.cli import library_home, open_library
    from splatlib.formats.ply import read_ply
    from splatlib.gs.bench import time_steps
    from splatlib.gs.cameras import load_colmap, split_holdout
    from splatlib.gs.model import from_gaussians
    from splatlib.gs.optim import GaussianAdam
    from splatlib.gs.trainer import TrainConfig
    from splatlib.layout import SceneKeys
    from splatlib.stages.train import TrainOptions

    catalog, store = open_library(library_home(home))
    scene = catalog.get(scene_id)
    if not scene.ply_key:
        sys.exit(f"scene {scene_id} has no trained model ({scene.status.value})")
    params = from_gaussians(read_ply(store.path(scene.ply_key)))
    cams, _, _ = load_colmap(store.path(SceneKeys(scene.id).sfm), image_size)
    cams = split_holdout(cams, TrainOptions().holdout_every)[0]
    views = [(c.viewmat, c.K, c.width, c.height, c.image) for c in cams]
    print(f"scene {scene.id} ({scene.title}): {len(params['means'])} Gaussians, {len(cams)} training views at "
          f"{cams[0].width}x{cams[0].height}")

    def steps(steps: int, warmup: int) -> dict:
        optim = GaussianAdam({k: v.detach().clone().requires_grad_() for k, v in params.items()},
                             TrainConfig().step_lrs(1.0))
        return time_steps(optim, views, steps, warmup)
    return steps


def profile(runs: list, steps: int) -> None:
    """ms per step in each kernel, timed by wrapping the module attribute each caller looks up;
    `runs`: (label, function(steps, warmup) -> time_train_step's result)."""
    import importlib

    spent: dict[str, float] = defaultdict(float)

    def timed(fn, label):
        def call(*args):
            t0 = time.perf_counter()
            out = fn(*args)
            spent[label] += time.perf_counter() - t0
            return out
        return call

    for module, name, label in KERNELS:
        owner = importlib.import_module(f"splatlib.gs.{module}")
        setattr(owner, name, timed(getattr(owner, name), label))
    for label, run in runs:
        run(1, 2)  # compiles and warms up outside the count
        spent.clear()
        total = run(steps, 0)["ms_mean"] / 1000  # the steps alone, not the scene's set-up
        print(f"{label}: {1000 * total:.1f} ms per step (mean of {steps})")
        for _, _, label in KERNELS:
            print(f"  {label:<28} {1000 * spent[label] / steps:7.1f} ms {100 * spent[label] / steps / total:5.1f}%")
        rest = total - sum(spent.values()) / steps
        print(f"  {'rest (torch glue, copies)':<28} {1000 * rest:7.1f} ms {100 * rest / total:5.1f}%")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", nargs="+", default=DEFAULT_SIZES, help="GAUSSIANSxWIDTHxHEIGHT")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--baseline-steps", type=int, default=3)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--concurrent", type=int, default=0, metavar="N", help="also time N processes at once")
    parser.add_argument("--threads", action="store_true",
                        help="--concurrent: the N trainings as threads of one process (as serve --concurrency N)")
    parser.add_argument("--busy", type=int, default=0, metavar="N",
                        help="also time one training beside N busy processes that are not trainings")
    parser.add_argument("--wait-policy", choices=["active", "passive"],
                        help="OMP_WAIT_POLICY for --concurrent and --busy")
    parser.add_argument("--repeats", type=int, default=3, help="--concurrent, --busy: alone/together rounds per size")
    parser.add_argument("--profile", action="store_true", help="where one step's time goes, kernel by kernel")
    parser.add_argument("--scene", metavar="ID", help="time steps on this finished scene of the library instead")
    parser.add_argument("--library", help="the library's folder (default: as the splatlib command)")
    parser.add_argument("--image-size", type=int, default=512, help="--scene: long side of the training views")
    args = parser.parse_args()
    if args.scene:
        run = scene_steps(args.scene, args.library, args.image_size)
        if args.profile:
            profile([(f"scene {args.scene}", run)], args.steps)
        else:
            run(1, 2)
            print(f"scene {args.scene}: {run(args.steps, 0)['ms_per_step']:.1f} ms per step (median of {args.steps})")
        return
    if args.profile:
        profile([(f"{n} Gaussians at {w}x{h}", lambda steps, warmup, n=n, w=w, h=h:
                  time_train_step(n, w, h, steps=steps, warmup=warmup))
                 for n, w, h in ((int(x) for x in spec.split("x")) for spec in args.sizes)], args.steps)
        return
    if args.concurrent:
        concurrent(args.sizes, args.concurrent, args.steps, args.wait_policy, args.repeats,
                   "threads" if args.threads else "processes")
    if args.busy:
        concurrent(args.sizes, args.busy, args.steps, args.wait_policy, args.repeats, "busy")
    if args.concurrent or args.busy:
        return
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
