"""The quality ledger: the default `splatlib run` on fixed scenes, end to end, held-out quality and time.

Per scene it prints wall time per stage, frames placed, Gaussians, held-out PSNR/SSIM at the
training size and at up to 1024 px long side (what a full-screen viewer shows; never above the
frames' own size), the held-out PSNR curve over time, and the change against the last committed
results (`benchmarks/results/quality.json`). Held-out protocol: every 8th frame (0, 8, 16, …),
the same for every variant.

Scenes (fixed; the shared photo sets are skipped when ../shared/data is absent):
- demo: `splatlib demo`'s synthetic orbit video with the demo's settings
- fountain, fountain-video: fountain_p11's 11 photos, and the same encoded as a 2 fps video
- fountain-posed: the same photos with their ground-truth cameras as a transforms.json (no mapping)
- lund, lund-video: lund's 29 photos, and the same as a video
- sacre_coeur: 10 unordered Flickr photos from different cameras
- fox, fox-video: 50 frames of a handheld phone video (1080×1920, portrait) of a mounted fox head on a
  papered wall, from NVIDIA's instant-ngp repository (`data/nerf/fox`; its licence is non-commercial, so
  it is not shipped): as photos, and encoded back into a 2 fps video. `benchmarks/get_fox.sh`
  fetches them into ../shared/data/fox; `SPLATLIB_FOX=DIR` names another folder of its images

Variants compare options in the same run on the same machine:
    --variant fine:sfm_features=fine --variant coarse:sfm_features=coarse
`--baseline REF` adds the code of a git revision (a worktree of REF, same scenes, same options) as
the variant `REF`, for before/after figures of a change. `--update` rewrites the results file with
the first variant's figures and the machine they came from.

Run alone on the machine (parallel CPU work slows the kernels): e.g.
    .venv/bin/python benchmarks/bench_quality.py --scenes demo,fountain --baseline HEAD~1
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "quality.json"
SCENES = ("demo", "fountain", "fountain-video", "fountain-posed", "lund", "lund-video", "sacre_coeur", "fox",
          "fox-video")
VIEWER_SIZE = 1024


def cpu_model() -> str:
    """The CPU named by lscpu, and whether it has AVX-512 (16 float lanes) or only AVX2 (8)."""
    try:
        info = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return platform.processor() or "unknown CPU"
    fields = dict(line.split(":", 1) for line in info.splitlines() if ":" in line)
    flags = fields.get("Flags", "")
    lanes = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
    return f"{fields.get('Model name', '?').strip()}, {os.cpu_count()} CPUs, {lanes}"


def scene_input(name: str, tmp: Path) -> tuple[Path, dict]:
    """The input file or folder of a ledger scene and the options it runs with beyond the defaults
    (made once per scene, so every variant runs on the same bytes)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_sfm import DATA, encode

    if name == "demo":
        from splatlib.synthetic import DEMO_OPTIONS, DEMO_VIDEO, make_orbit_video
        return make_orbit_video(tmp / "demo-orbit.mp4", **DEMO_VIDEO), dict(DEMO_OPTIONS)
    if name == "fountain-posed":
        return fountain_with_true_cameras(DATA / "fountain_p11", tmp / "fountain-posed"), {}
    if name in ("fountain", "fountain-video"):
        photos = DATA / "fountain_p11" / "images"
    elif name in ("lund", "lund-video"):
        photos = DATA / "lund"
    elif name == "sacre_coeur":
        photos = DATA / "sacre_coeur"
    elif name in ("fox", "fox-video"):
        photos = fox_images(DATA)
    else:
        raise SystemExit(f"unknown scene {name!r}; choose from {', '.join(SCENES)}")
    if not photos.exists():
        raise FileNotFoundError(photos)
    if name.endswith("-video"):
        return encode(str(photos / "*.jpg"), tmp / f"{name}.mp4"), {}
    return photos, {}


def fox_images(data: Path) -> Path:
    """The fox capture's images: $SPLATLIB_FOX, else `data`/fox/images (benchmarks/get_fox.sh)."""
    folder = Path(os.environ.get("SPLATLIB_FOX") or data / "fox" / "images")
    if not folder.exists():
        raise FileNotFoundError(f"{folder} (benchmarks/get_fox.sh fetches it)")
    return folder


def fountain_with_true_cameras(data: Path, folder: Path) -> Path:
    """fountain_p11's photos and a transforms.json of its ground-truth cameras (Strecha's files: K,
    distortion, R (camera to world, OpenCV axes), centre, full size; the photos are half that size)."""
    import numpy as np

    if not data.exists():
        raise FileNotFoundError(data)
    (folder / "images").mkdir(parents=True)
    frames = []
    for photo in sorted((data / "images").glob("*.jpg")):
        shutil.copyfile(photo, folder / "images" / photo.name)
        rows = [[float(x) for x in line.split()] for line in (data / "gt_cameras" / f"{photo.name}.camera").read_text().splitlines() if line.strip()]
        K, R, centre, (width, height) = np.array(rows[0:3]) * 0.5, np.array(rows[4:7]), np.array(rows[7]), rows[8]
        c2w = np.eye(4)
        c2w[:3, :3], c2w[:3, 3] = R, centre
        frames.append({"file_path": f"images/{photo.name}", "fl_x": K[0, 0], "fl_y": K[1, 1], "cx": K[0, 2],
                       "cy": K[1, 2], "w": int(width) // 2, "h": int(height) // 2,
                       "transform_matrix": (c2w @ np.diag([1.0, -1.0, -1.0, 1.0])).tolist()})
    (folder / "transforms.json").write_text(json.dumps({"camera_model": "OPENCV", "frames": frames}, indent=1))
    return folder


def run_in_library(library: Path, name: str, source: Path, options: dict) -> tuple[dict, "LocalStore", "Scene"]:
    """One pipeline run of `source` in the library under `library`; the ledger's figures from the
    scene's metrics, the store and the scene."""
    from splatlib.layout import SFM_REPORT
    from splatlib.library import LocalStore, SQLiteCatalog
    from splatlib.pipeline import Pipeline, PipelineOptions

    store = LocalStore(library / "store")
    pipeline = Pipeline(SQLiteCatalog(library / "catalog.sqlite"), store)
    scene = pipeline.create_scene(source, name, PipelineOptions.from_dict(options))
    t0 = time.perf_counter()
    scene = pipeline.run(scene.id)
    wall = time.perf_counter() - t0
    m = scene.metrics
    row = {"status": scene.status.value, "error": scene.error, "wall_s": round(wall, 1),
           "seconds": m.get("seconds", {}), "frames": m.get("total_frames"),
           "placed": m.get("registered_frames"), "gaussians": m.get("num_gaussians"),
           "psnr": m.get("psnr"), "ssim": m.get("ssim")}
    report = store.path(f"sfm/{scene.id}") / SFM_REPORT
    if report.exists():  # SfM's sub-steps and how many mappings it ran (a video maps until two agree)
        sfm = json.loads(report.read_text())
        row["mappings"], row["sfm_seconds"] = sfm.get("remaps", 0) + 1, sfm["seconds"]
    return row, store, scene


def run_scene(name: str, source: Path, options: dict) -> dict:
    """One pipeline run of a ledger scene's `source` in a fresh library; the figures of the ledger."""
    with tempfile.TemporaryDirectory(prefix="ledger-") as tmp:
        row, store, scene = run_in_library(Path(tmp) / "lib", name, source, options)
        if scene.status.value != "completed":
            return row
        train = json.loads((store.path(f"outputs/{scene.id}") / "train.json").read_text())
        row["curve"] = [[c["seconds"], c["psnr"]] for c in train.get("psnr_curve", [])]
        viewer = held_out_at(store.path(f"sfm/{scene.id}"), store.path(scene.ply_key), train.get("sh_degree", 3),
                             VIEWER_SIZE)
        if viewer is not None:
            row["viewer_size"], row["psnr_viewer"], row["ssim_viewer"] = viewer
        return row


def held_out_at(sfm_dir: Path, ply: Path, sh_degree: int, size: int) -> tuple[list[int], float, float] | None:
    """The held-out views' size, mean PSNR and SSIM of the model in `ply`, rendered at `size` px long
    side (never above the frames' own size); None when no view is held out."""
    from splatlib.gs.trainer import evaluate

    params, held_out = held_out_views(sfm_dir, ply, size)
    if not held_out:
        return None
    return [held_out[0].width, held_out[0].height], *evaluate(params, held_out, sh_degree)


def held_out_views(sfm_dir: Path, ply: Path, size: int) -> tuple[dict, list]:
    """The Gaussians in `ply` as render parameters, and the held-out cameras (every 8th frame) of
    the model in `sfm_dir` with their images at `size` px long side (never above the frames' own)."""
    from splatlib.formats.ply import read_ply
    from splatlib.gs.cameras import load_colmap, split_holdout
    from splatlib.gs.model import from_gaussians

    cams, _, _ = load_colmap(sfm_dir, size)
    _, held_out = split_holdout(cams, 8)
    return {k: v.detach() for k, v in from_gaussians(read_ply(ply)).items()}, held_out


def run_child(script: str, args: list[str], code_root: Path) -> dict:
    """Run `script` with `args` in a child process on the code under `code_root` (so a baseline uses
    its own code); its last JSON line, or RuntimeError with the last line of its errors."""
    out = subprocess.run([sys.executable, script, *args], env=dict(os.environ, PYTHONPATH=str(code_root)),
                         capture_output=True, text=True, cwd=code_root, check=False)
    if out.returncode != 0:
        raise RuntimeError(out.stderr.strip().splitlines()[-1] if out.stderr.strip() else "?")
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_variant(name: str, source: Path, options: dict, code_root: Path) -> dict:
    """Run `name` in a child process on the code under `code_root`; a failed child gives an error row."""
    try:
        return run_child(__file__, ["--one", name, "--source", str(source), "--options", json.dumps(options)],
                         code_root)
    except RuntimeError as exc:
        return {"status": "error", "error": str(exc)}


WARM_UP = ("import torch; from splatlib.gs.bench import time_train_step; from splatlib.gs.metrics import ssim; "
           "time_train_step(2000, 64, 48, steps=1, warmup=1); ssim(torch.rand(48, 64, 3), torch.rand(48, 64, 3))")


def warm_up(code_root: Path) -> None:
    """Compile a code tree's numba kernels (cached beside its sources: a training step's, and the
    held-out SSIM's blur) before anything is timed: a baseline's fresh worktree otherwise spends
    10-25 s of its first scene compiling. Best effort: an old revision without these just starts cold."""
    subprocess.run([sys.executable, "-c", WARM_UP], env=dict(os.environ, PYTHONPATH=str(code_root)), cwd=code_root,
                   capture_output=True, check=False)


@contextmanager
def baseline_tree(ref: str | None) -> Iterator[Path | None]:
    """A temporary git worktree of `ref` (None without one), removed afterwards; this tree and it
    are warmed up (`warm_up`) before the caller times anything."""
    worktree = None
    try:
        if ref:
            worktree = Path(tempfile.mkdtemp(prefix="ledger-baseline-"))
            subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(worktree), ref],
                           check=True, capture_output=True)
        for root in filter(None, (ROOT, worktree)):
            warm_up(root)
        yield worktree
    finally:
        if worktree is not None:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(worktree)], check=False)


def scene_inputs(scenes: list[str]) -> Iterator[tuple[str, Path, dict]]:
    """(name, input, options beyond the defaults) of each of `scenes` whose data is here, made in a
    temporary folder removed afterwards; a scene whose photo set is absent is reported and skipped."""
    inputs = Path(tempfile.mkdtemp(prefix="ledger-inputs-"))
    try:
        for scene in scenes:
            try:
                source, extra = scene_input(scene, inputs)
            except FileNotFoundError as exc:
                print(f"{scene}: skipped ({exc} is absent)")
                continue
            yield scene, source, extra
    finally:
        shutil.rmtree(inputs, ignore_errors=True)


def fmt(row: dict) -> str:
    if row.get("status") != "completed":
        return f"{row.get('status')}: {row.get('error')}"
    s = row["seconds"]
    stages = " ".join(f"{k} {v:.0f}" for k, v in s.items())
    if "mappings" in row:
        stages += f", {row['mappings']} mappings in {row['sfm_seconds'].get('mapping', 0.0):.0f} s"
    viewer = (f" | {row['viewer_size'][0]}x{row['viewer_size'][1]}: {row['psnr_viewer']:.2f} dB "
              f"SSIM {row['ssim_viewer']:.3f}") if "psnr_viewer" in row else ""
    return (f"{row['wall_s']:6.1f} s ({stages}) | {row['placed']}/{row['frames']} placed | "
            f"{row['gaussians']:,} G | held-out {row['psnr']:.2f} dB SSIM {row['ssim']:.3f}{viewer}")


def parse_variant(text: str) -> tuple[str, dict]:
    label, _, assignments = text.partition(":")
    options = {}
    for item in filter(None, assignments.split(",")):
        key, _, value = item.partition("=")
        options[key] = json.loads(value) if value[:1].isdigit() or value in ("true", "false") else value
    return label, options


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenes", default=",".join(SCENES), help="comma-separated subset of " + ", ".join(SCENES))
    ap.add_argument("--variant", action="append", default=[], metavar="LABEL:KEY=VALUE,…",
                    help="options to run the scenes with (default: one variant, the defaults)")
    ap.add_argument("--baseline", metavar="GIT_REF", help="also run the code of this revision, same scenes and options")
    ap.add_argument("--update", action="store_true", help=f"write the first variant's figures to {RESULTS.name}")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    ap.add_argument("--source", help=argparse.SUPPRESS)
    ap.add_argument("--options", default="{}", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:  # child process: one scene, one JSON line
        import pycolmap
        pycolmap.logging.minloglevel = 2
        print(json.dumps(run_scene(args.one, Path(args.source), json.loads(args.options))))
        return

    variants = [parse_variant(v) for v in args.variant] or [("default", {})]
    committed = json.loads(RESULTS.read_text()) if RESULTS.exists() else {"scenes": {}}
    print(f"quality ledger, {time.strftime('%Y-%m-%d %H:%M')}, {cpu_model()}")
    if committed.get("machine"):
        print(f"committed results: {committed.get('date')} on {committed['machine']}")
    results: dict[str, dict[str, dict]] = {}
    with baseline_tree(args.baseline) as worktree:
        runs = [(label, opts, ROOT) for label, opts in variants]
        if worktree is not None:
            runs.append((args.baseline, variants[0][1], worktree))
        for scene, source, extra in scene_inputs(args.scenes.split(",")):
            for label, opts, code in runs:
                row = run_variant(scene, source, extra | opts, code)
                results.setdefault(label, {})[scene] = row
                before = committed["scenes"].get(scene)
                delta = ""
                if before and row.get("psnr") is not None and before.get("psnr") is not None:
                    delta = (f" | vs committed: {row['psnr'] - before['psnr']:+.2f} dB, "
                             f"{row['wall_s'] - before['wall_s']:+.0f} s")
                print(f"{scene:<15} {label:<10} {fmt(row)}{delta}", flush=True)
                if row.get("curve"):
                    print(f"{'':<15} {'':<10} curve (s, dB): " + " ".join(f"{s:.0f}:{p:.1f}" for s, p in row["curve"]))
            if args.update:  # after every scene, so an interrupted ledger keeps what it measured
                committed = {"date": time.strftime("%Y-%m-%d"), "machine": cpu_model(), "options": variants[0][1],
                             "scenes": committed.get("scenes", {}) | {scene: results[variants[0][0]][scene]}}
                RESULTS.parent.mkdir(exist_ok=True)
                RESULTS.write_text(json.dumps(committed, indent=1) + "\n")


if __name__ == "__main__":
    main()
