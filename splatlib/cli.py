"""The `splatlib` command line: thin over the pipeline and the library."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

from .errors import InputError, SplatError
from .gs.device import select_device
from .library import LocalStore, Scene, SQLiteCatalog, Status, validate_scene_id
from .layout import CLEAN, HOLDOUT, SceneKeys
from .options import BY_NAME, OPTIONS
from .pipeline import STAGES, Pipeline, PipelineOptions, seconds_left
from .scene_api import ApiError, SceneService, capture_cameras
from .synthetic import DEMO_OPTIONS, DEMO_VIDEO
from .threads import default_concurrency

EXIT_FAILED = 1
EXIT_USAGE = 2


def library_home(arg: str | None) -> Path:
    """`--library`, else $SPLATLIB_HOME, else ~/.splatlib."""
    return Path(arg or os.environ.get("SPLATLIB_HOME") or Path.home() / ".splatlib").expanduser().resolve()


def open_library(home: Path) -> tuple[SQLiteCatalog, LocalStore]:
    return SQLiteCatalog(home / "catalog.sqlite"), LocalStore(home / "store")


class ProgressBars:
    """One tqdm bar per stage on stderr."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.stage: str | None = None
        self.bar = None
        self.started = 0.0

    def __call__(self, stage: str, fraction: float, message: str) -> None:
        if not self.enabled:
            return
        from tqdm import tqdm

        if stage != self.stage:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=1000, desc=f"{stage:<8}", file=sys.stderr, leave=True,
                            bar_format="{desc} {bar} {percentage:3.0f}% {elapsed} {postfix}")
            self.started = time.perf_counter()
        self.bar.n = int(fraction * 1000)
        left = seconds_left(time.perf_counter() - self.started, fraction) if fraction < 1 else None
        eta = f" · {int(left // 60)}:{int(left % 60):02d} left" if left is not None else ""
        self.bar.set_postfix_str(message[:60] + eta, refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
            self.stage = None


def summary(scene: Scene, store: LocalStore) -> dict:
    """The machine-readable result of a run: absolute paths, null where absent."""
    def path_of(key: str | None) -> str | None:
        return str(store.path(key)) if key and store.exists(key) else None

    m = scene.metrics
    sparse = f"{SceneKeys(scene.id).sfm}/sparse"
    return {
        "id": scene.id, "title": scene.title, "status": scene.status.value, "stage": scene.stage,
        "error": scene.error,
        "splat": path_of(scene.splat_key), "ply": path_of(scene.ply_key), "thumbnail": path_of(scene.thumbnail_key),
        "sfm": path_of(sparse), "upload": path_of(scene.input_key),
        "metrics": {
            "psnr": m.get("psnr"), "ssim": m.get("ssim"), "total_frames": m.get("total_frames"),
            "registered_frames": m.get("registered_frames"), "num_gaussians": m.get("num_gaussians"),
            "seconds": m.get("seconds", {}),
        },
    }


def print_summary(s: dict) -> None:
    m = s["metrics"]
    total = sum(m["seconds"].values()) if m["seconds"] else 0.0
    head = {"completed": "completed", "failed": "FAILED"}
    print(f"Scene {s['id']} ({s['title']}) {head.get(s['status'], s['status'])} after {total:.1f} s")
    if s["error"]:
        print(f"  error      {s['error']}")
    if m["total_frames"] is not None:
        placed = f", {m['registered_frames']} placed by COLMAP" if m["registered_frames"] is not None else ""
        print(f"  frames     {m['total_frames']}{placed}")
    if m["num_gaussians"] is not None:
        quality = f" · held-out PSNR {m['psnr']:.2f} dB · SSIM {m['ssim']:.3f}" if m["psnr"] is not None else ""
        print(f"  Gaussians  {m['num_gaussians']:,}{quality}")
    if m["seconds"]:
        print("  seconds    " + " · ".join(f"{k} {v:.1f}" for k, v in m["seconds"].items()))
    for key in ("splat", "ply", "thumbnail", "sfm"):
        if s[key]:
            print(f"  {key:<10} {s[key]}")


def _pipeline_options(args) -> PipelineOptions:
    select_device(args.device)  # a GPU asked for where there is none: say so now, not after SfM
    try:
        return PipelineOptions(**{o.name: getattr(args, o.name) for o in OPTIONS})
    except ValueError as exc:
        raise InputError(str(exc)) from None


def _finish(scene: Scene, store: LocalStore, as_json: bool) -> int:
    s = summary(scene, store)
    if as_json:
        print(json.dumps(s))
    else:
        print_summary(s)
        if scene.status == Status.COMPLETED:
            print(f"\nView it: splatlib serve --library {store.root.parent}  (then open http://127.0.0.1:8000/),\n"
                  f"or open {s['splat']} in any 3DGS web viewer;\n"
                  f"compare a held-out view with its render in {Path(s['splat']).parent / HOLDOUT}.")
        elif scene.status == Status.FAILED:
            print(f"\nThe upload is kept. Fix the cause, then: splatlib scenes retry {scene.id}")
        elif scene.status == Status.STOPPED:
            print(f"\nContinue with: splatlib scenes retry {scene.id}")
    return 0 if scene.status in (Status.COMPLETED, Status.STOPPED) else EXIT_FAILED


def cmd_run(args) -> int:
    source = Path(args.input)
    if not source.exists():
        print(f"splatlib run: {source}: no such file or folder", file=sys.stderr)
        return EXIT_USAGE
    catalog, store = open_library(library_home(args.library))
    bars = ProgressBars(not args.quiet)
    pipeline = Pipeline(catalog, store, bars)
    scene = pipeline.create_scene(source, args.title, _pipeline_options(args))
    if not args.json:
        print(f"Scene {scene.id}: {source} → {store.root}", file=sys.stderr)
    try:
        scene = pipeline.run(scene.id, until=args.until)
    finally:
        bars.close()
    return _finish(scene, store, args.json)


def cmd_demo(args) -> int:
    from .synthetic import make_orbit_video

    with tempfile.TemporaryDirectory() as tmp:
        video = Path(tmp) / "demo-orbit.mp4"
        if not args.json:
            print("Rendering a synthetic orbit video of a textured scene…", file=sys.stderr)
        make_orbit_video(video, seconds=args.seconds, fps=DEMO_VIDEO["fps"])
        args.input = str(video)
        args.title = args.title or "Demo orbit"
        return cmd_run(args)


def cmd_scenes(args) -> int:
    catalog, store = open_library(library_home(args.library))
    if args.action == "list":
        scenes = catalog.list(Status(args.status) if args.status else None, limit=args.limit)
        if args.json:
            print(json.dumps([summary(s, store) for s in scenes]))
        else:
            if not scenes:
                print("no scenes yet: splatlib run VIDEO_OR_PHOTO_FOLDER")
            for s in scenes:
                when = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.created_at))
                state = s.status.value + (f" ({s.stage})" if s.status != Status.COMPLETED and s.stage else "")
                psnr = f"{s.metrics['psnr']:.1f} dB" if s.metrics.get("psnr") is not None else ""
                print(f"{s.id}  {when}  {state:<22} {psnr:>8}  {s.title}")
        return 0
    if not args.id:
        print(f"splatlib scenes {args.action}: a scene id is required", file=sys.stderr)
        return EXIT_USAGE
    scene_id = validate_scene_id(args.id)
    if args.action == "show":
        scene = catalog.get(scene_id)
        if args.json:
            print(json.dumps(summary(scene, store) | {"record": scene.to_dict()}))
        else:
            print_summary(summary(scene, store))
        return 0
    if args.action == "delete":
        SceneService(catalog, store, Pipeline(catalog, store), lambda *_: "").delete(scene_id)
        print(json.dumps({"id": scene_id, "deleted": True}) if args.json else f"deleted {scene_id}")
        return 0
    bars = ProgressBars(not args.quiet)
    try:
        scene = Pipeline(catalog, store, bars).retry(scene_id, until=args.until)
    finally:
        bars.close()
    return _finish(scene, store, args.json)


def cmd_serve(args) -> int:
    import ipaddress

    import uvicorn

    from .web.app import Settings, create_app

    token = args.token or os.environ.get("SPLATLIB_TOKEN")
    try:
        loopback = ipaddress.ip_address(args.host).is_loopback
    except ValueError:
        loopback = args.host == "localhost"
    if not loopback and not token:
        print(f"splatlib serve: binding to {args.host} exposes the library to the network; set an API token "
              "with --token or SPLATLIB_TOKEN (clients send 'Authorization: Bearer TOKEN' for changes)",
              file=sys.stderr)
        return EXIT_USAGE
    if args.private and not token:
        print("splatlib serve: --private needs a token (--token or SPLATLIB_TOKEN) for reads to ask for",
              file=sys.stderr)
        return EXIT_USAGE
    if args.concurrency < 1:
        print("splatlib serve: --concurrency must be 1 or more (scenes run at once)", file=sys.stderr)
        return EXIT_USAGE
    home = library_home(args.library)
    settings = Settings(home=home, host=args.host, allowed_hosts=tuple(args.allowed_host), token=token,
                        private=args.private,
                        max_upload_bytes=int(args.max_upload_mb * 1024 ** 2),
                        concurrency=args.concurrency, options=_pipeline_options(args))
    print(f"Splat Library at http://{args.host}:{args.port}/  (library: {home}; {args.concurrency} "
          f"scene{'s' if args.concurrency > 1 else ''} at once)", file=sys.stderr)
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_bench(args) -> int:
    from .gs.bench import time_train_step

    result = time_train_step(args.gaussians, args.width, args.height, steps=args.steps,
                             device=select_device(args.device))
    if args.json:
        print(json.dumps(result))
    else:
        print(f"train step: {result['ms_per_step']:.1f} ms median over {args.steps} steps "
              f"({args.gaussians:,} Gaussians, {args.width}×{args.height}, {result['backend']}, "
              f"peak RSS {result['peak_rss_mb']:.0f} MB)")
    return 0


def cmd_render(args) -> int:
    """A video along a camera path through a finished scene."""
    from .formats.ply import read_ply
    from .gs import camera_path
    from .stages.movie import plan_video, render_movie

    catalog, store = open_library(library_home(args.library))
    scene = catalog.get(validate_scene_id(args.id))
    cameras = capture_cameras(scene, store)
    path, width, height = plan_video(cameras, args.path, args.seconds, args.fps, args.size)
    if args.save_path:
        camera_path.save_path(Path(args.save_path), path)
    bars = ProgressBars(not args.quiet)
    try:
        result = render_movie(read_ply(store.path(scene.ply_key)), path, Path(args.out), width, height, args.fps,
                              lambda fraction, message: bars("render", fraction, message),
                              select_device(args.device))
    finally:
        bars.close()
    print(json.dumps(result) if args.json else
          f"wrote {args.out}: {result['frames']} frames, {width}x{height} at {args.fps:g} fps, "
          f"{result['bytes'] / 1e6:.1f} MB")
    return 0


def cmd_clean(args) -> int:
    """A cleaned copy of a finished scene, beside it."""
    from .pipeline import Pipeline
    from .stages.clean import CleanOptions, parse_crop

    parse_crop(args.crop)  # a usage error before any work
    catalog, store = open_library(library_home(args.library))
    bars = ProgressBars(not args.quiet)
    try:
        report = Pipeline(catalog, store).clean(validate_scene_id(args.id),
                                                CleanOptions(args.crop, not args.keep_floaters, args.max_loss_db),
                                                lambda fraction, message: bars("clean", fraction, message))
    finally:
        bars.close()
    if args.json:
        print(json.dumps(report))
        return 0
    n, b, p = report["gaussians"], report["bytes"], report["psnr"]
    print(f"{n['before'] - n['after']:,} of {n['before']:,} Gaussians removed: "
          + ", ".join(f"{count:,} {rule}" for rule, count in report["removed"].items()))
    for given_up in report["given_up"]:
        print(f"kept what this rule would remove, as it cost too much: {given_up}")
    print(f"{p['judged_on']}: {p['before']:.2f} dB before, {p['after']:.2f} dB after")
    print(f".splat {b['before']['splat'] / 1e6:.2f} MB -> {b['after']['splat'] / 1e6:.2f} MB; written to "
          f"{store.path(SceneKeys(args.id).output(CLEAN))}")
    return 0


def cmd_share(args) -> int:
    """One HTML file of a finished scene that opens from disk, viewer included."""
    from .web.share import scene_share_html

    catalog, store = open_library(library_home(args.library))
    html = scene_share_html(catalog.get(validate_scene_id(args.id)), store, args.clean)
    out = Path(args.out)
    if not out.parent.is_dir():
        raise InputError(f"{out.parent} is not a folder")
    out.write_text(html)
    print(f"wrote {out} ({len(html.encode()) / 1e6:.1f} MB): open it in a browser, or send it; it needs no network")
    return 0


def cmd_site(args) -> int:
    """The gallery as static files for S3 + CloudFront."""
    from .web.site import build_site

    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise InputError(f"{out} is not empty: give a new or empty folder")
    try:
        written = build_site(out)
    except FileNotFoundError as exc:
        raise InputError(str(exc)) from None
    print(f"wrote the gallery's {len(written)} files to {out}; upload them with "
          f"`aws s3 sync {out} s3://SITE_BUCKET` (Terraform writes its config.json)")
    return 0


def cmd_convert(args) -> int:
    from .formats.convert import convert

    n = convert(Path(args.src), Path(args.dst), args.spz_version)
    print(f"wrote {args.dst} ({n:,} Gaussians)")
    return 0


def _add_library(p: argparse.ArgumentParser) -> None:
    p.add_argument("--library", help="library folder (default: $SPLATLIB_HOME or ~/.splatlib)")


def _add_pipeline_options(p: argparse.ArgumentParser) -> None:
    """One flag per `options.OPTIONS` entry; values are checked by PipelineOptions."""
    _add_library(p)
    for o in OPTIONS:
        shown = "none" if o.default is None else f"{o.default:g}" if isinstance(o.default, float) else o.default
        kind = {"choices": o.choices} if o.choices else {"type": o.kind}
        p.add_argument(o.flag, default=o.default, help=f"{o.help} (default {shown})", **kind)


def _add_device(p: argparse.ArgumentParser) -> None:
    o = BY_NAME["device"]
    p.add_argument(o.flag, choices=o.choices, default=o.default, help=f"{o.help} (default {o.default})")


def _add_run_options(p: argparse.ArgumentParser) -> None:
    _add_pipeline_options(p)
    p.add_argument("--title", help="scene title (default: the input's name)")
    p.add_argument("--until", choices=STAGES[:-1], help="stop after this stage (continue later with retry)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="splatlib", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="turn a video or a photo folder into a 3DGS scene")
    p.add_argument("input", help="video file (mp4, mov, webm, mkv) or folder of photos")
    _add_run_options(p)
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("demo", help="render a synthetic orbit video and run it through the pipeline")
    _add_run_options(p)
    p.add_argument("--seconds", type=float, default=DEMO_VIDEO["seconds"], help="length of the synthetic video")
    p.set_defaults(func=cmd_demo, **DEMO_OPTIONS)

    p = sub.add_parser("scenes", help="list, show, retry or delete scenes")
    p.add_argument("action", choices=["list", "show", "retry", "delete"])
    p.add_argument("id", nargs="?", help="scene id (show, retry, delete)")
    _add_library(p)
    p.add_argument("--status", choices=[s.value for s in Status], help="list only scenes with this status")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--until", choices=STAGES[:-1], help="retry: stop after this stage")
    p.add_argument("--json", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_scenes)

    p = sub.add_parser("serve", help="the web gallery: upload, watch progress, view scenes in 3D")
    _add_pipeline_options(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--token", help="API token required for uploads and changes (needed off-loopback)")
    p.add_argument("--private", action="store_true",
                   help="reads need the token too: scripts send it, the gallery asks for it once and keeps a cookie")
    p.add_argument("--allowed-host", action="append", default=[], metavar="NAME",
                   help="another name the server is reached by (Host header); repeatable. Requests naming "
                        "any other host are refused (DNS rebinding)")
    p.add_argument("--max-upload-mb", type=float, default=2048, help="largest accepted upload (default 2048)")
    p.add_argument("--concurrency", type=int, default=default_concurrency(),
                   help="scenes processed at once (default: 2 on 2 CPUs or more, else 1)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("bench", help="time one training step on this machine")
    p.add_argument("what", choices=["train-step"])
    p.add_argument("--gaussians", type=int, default=50_000)
    p.add_argument("--width", type=int, default=256)
    p.add_argument("--height", type=int, default=256)
    p.add_argument("--steps", type=int, default=10)
    _add_device(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser("clean", help="crop a finished scene to what was filmed and remove floaters (a copy beside it)")
    p.add_argument("id", help="scene id")
    p.add_argument("--crop", default="auto", metavar="auto|none|x,y,z,X,Y,Z",
                   help="auto (default): the region the cameras looked at; none; or a box in scene units")
    p.add_argument("--keep-floaters", action="store_true", help="do not remove faint and oversized Gaussians")
    p.add_argument("--max-loss-db", type=float, default=0.1,
                   help="held-out PSNR the cleaning may cost (default 0.1 dB); rules that cost more are given up")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_library(p)
    p.set_defaults(func=cmd_clean)

    p = sub.add_parser("share", help="write one HTML file of a finished scene that opens from disk, viewer included")
    p.add_argument("id", help="scene id")
    p.add_argument("out", help="HTML file to write")
    p.add_argument("--clean", action="store_true", help="share the cleaned copy (`splatlib clean` first)")
    _add_library(p)
    p.set_defaults(func=cmd_share)

    p = sub.add_parser("site", help="write the gallery as static files, for hosting on S3 behind CloudFront (AWS)")
    p.add_argument("out", help="new or empty folder to write")
    p.set_defaults(func=cmd_site)

    p = sub.add_parser("render", help="render a video along a camera path through a finished scene")
    p.add_argument("id", help="scene id")
    p.add_argument("out", help="video file to write (.mp4)")
    p.add_argument("--path", default="capture", metavar="capture|orbit|FILE.json",
                   help="capture: the capture's own path, smoothed (default; it shows what was filmed); "
                        "orbit: one turn around what the capture looked at, at its height and distance; "
                        "or a camera path file (JSON keyframes, as --save-path writes)")
    p.add_argument("--seconds", type=float, default=10.0, help="length of the video (default 10)")
    p.add_argument("--size", help="WIDTHxHEIGHT, even numbers (default: 1280 on the long side at the capture's "
                                  "aspect, so the frame shows no more than the capture saw)")
    p.add_argument("--fps", type=float, default=30.0, help="frames per second (default 30)")
    p.add_argument("--save-path", metavar="FILE.json", help="also write the camera path used, to edit or reuse")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    _add_library(p)
    _add_device(p)
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("convert", help="convert between splat formats (.ply, .compressed.ply, .splat, .spz), "
                                       "chosen by extension")
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--spz-version", type=int, choices=(2, 3, 4), default=3,
                   help="for a .spz: 3 (default; every viewer reads it) or 4 (zstd, SuperSplat's default; any "
                        "version is read)")
    p.set_defaults(func=cmd_convert)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        return args.func(args)
    except (SplatError, ApiError) as exc:
        print(f"splatlib: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("\nsplatlib: interrupted; the scene can be continued with `splatlib scenes retry ID`", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
