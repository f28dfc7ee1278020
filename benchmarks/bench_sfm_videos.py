"""The SfM stage on the ledger's videos, this code against a git revision, run after run in turn.

Per scene, the frames are extracted once (this code, default options); then each round runs
`run_sfm` on them with this code and with the baseline's (a worktree of `--baseline`), in child
processes, one after the other. Per run it prints the SfM seconds, the mapping seconds, how many
mappings ran, which fallback placed the frames, frames placed, 3D points and each mapping's
(points, focal px, largest step over the median); then each side's range per scene.

Run alone on the machine (mapping threads share the CPUs), e.g.
    .venv/bin/python benchmarks/bench_sfm_videos.py --baseline HEAD~1 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # not the project root: a child's PYTHONPATH picks the code
from bench_quality import ROOT, baseline_tree, cpu_model, run_child, scene_input  # noqa: E402

VIDEOS = ("demo", "fountain-video", "lund-video")


def one(frames: Path) -> dict:
    """SfM of `frames` as a video with the code on sys.path; the figures compared."""
    import pycolmap

    from splatlib.stages.sfm import run_sfm

    pycolmap.logging.minloglevel = 2
    t0 = time.perf_counter()
    report = run_sfm(frames, Path(tempfile.mkdtemp(prefix="bench-sfm-videos-")) / "sfm", "video")
    return {"sfm_s": round(time.perf_counter() - t0, 1), "mapping_s": round(report["seconds"]["mapping"], 1),
            "mappings": report["remaps"] + 1, "fallback": report["fallback"],
            "placed": f"{report['registered_frames']}/{report['total_frames']}", "points": report["points3D"],
            "each": [(m["points3D"], m["focal_px"], m["max_step_ratio"]) for m in report.get("mappings", [])]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenes", default=",".join(VIDEOS), help=f"comma-separated subset of {', '.join(VIDEOS)}")
    parser.add_argument("--baseline", metavar="GIT_REF", help="the revision to compare with (required)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--one", type=Path, help=argparse.SUPPRESS)  # child: one run on these frames
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one)))
        return
    if not args.baseline:
        parser.error("--baseline GIT_REF is required")
    from splatlib.stages.frames import FrameOptions, extract_frames

    print(f"SfM of videos, {time.strftime('%Y-%m-%d %H:%M')}, {cpu_model()}; this code against {args.baseline}")
    tmp = Path(tempfile.mkdtemp(prefix="bench-sfm-videos-"))
    frames = {}
    for scene in args.scenes.split(","):
        source, _ = scene_input(scene, tmp)
        frames[scene] = tmp / f"frames-{scene}"
        extract_frames(source, frames[scene], FrameOptions())
    rows: dict[tuple[str, str], list[dict]] = {}
    with baseline_tree(args.baseline) as worktree:
        for round_ in range(1, args.rounds + 1):
            for scene, folder in frames.items():
                for label, code in (("this code", ROOT), (args.baseline, worktree)):
                    row = run_child(__file__, ["--one", str(folder)], code)
                    rows.setdefault((scene, label), []).append(row)
                    print(f"round {round_}, {scene}, {label}: {json.dumps(row)}", flush=True)
    print("\nscene, code: SfM s, mapping s, mappings (min-max over rounds)")
    for (scene, label), runs in rows.items():
        def span(key: str) -> str:
            values = [r[key] for r in runs]
            return f"{min(values)}-{max(values)}"
        print(f"{scene}, {label}: SfM {span('sfm_s')} s, mapping {span('mapping_s')} s, {span('mappings')} mappings")


if __name__ == "__main__":
    main()
