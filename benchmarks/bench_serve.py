"""Scenes through the server's background workers: the same queue run with `--concurrency` 1 and 2
(and any others given), one after another in the same run, each in a fresh library.

Per setting it prints the makespan (all scenes queued at once until the last one ends), each scene's
wall time from queueing to completion, and held-out PSNR (same inputs, so quality must not move
beyond SfM's spread). `splatlib serve --concurrency N` runs its N scenes as threads of one process,
as here.

    .venv/bin/python benchmarks/bench_serve.py                       # 2 demo scenes, concurrency 1 and 2
    .venv/bin/python benchmarks/bench_serve.py --scene fountain --copies 2 --concurrency 1 2

Run alone on the machine.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_quality import SCENES, cpu_model, scene_input  # noqa: E402


def run_queue(source: Path, options: dict, copies: int, concurrency: int) -> dict:
    """Queue `copies` scenes of `source` in a fresh library and let `concurrency` workers run them."""
    from splatlib.library import LocalStore, SQLiteCatalog, Status
    from splatlib.pipeline import Pipeline, PipelineOptions
    from splatlib.web.worker import Workers

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        catalog, store = SQLiteCatalog(Path(tmp) / "catalog.sqlite"), LocalStore(Path(tmp) / "store")
        pipeline = Pipeline(catalog, store)
        ids = [pipeline.create_scene(source, f"copy {i}", PipelineOptions.from_dict(options)).id
               for i in range(copies)]
        workers = Workers(lambda: Pipeline(SQLiteCatalog(Path(tmp) / "catalog.sqlite"), store), concurrency,
                          poll_seconds=0.2)
        t0, start = time.perf_counter(), time.time()
        workers.start()
        while any(catalog.get(i).status not in (Status.COMPLETED, Status.FAILED) for i in ids):
            time.sleep(0.5)
        makespan = time.perf_counter() - t0
        workers.shutdown()
        scenes = [catalog.get(i) for i in ids]
    failed = [s.error for s in scenes if s.status is Status.FAILED]
    if failed:
        raise SystemExit(f"concurrency {concurrency}: {len(failed)} scene(s) failed: {failed[0]}")
    return {"makespan": makespan, "walls": [s.completed_at - start for s in scenes],
            "psnr": [s.metrics.get("psnr") for s in scenes]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scene", default="demo", choices=SCENES)
    parser.add_argument("--copies", type=int, default=2, help="scenes queued at once")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    print(f"CPU: {cpu_model()}; {args.copies} copies of {args.scene} queued at once")
    with tempfile.TemporaryDirectory(prefix="bench-serve-input-") as tmp:
        source, options = scene_input(args.scene, Path(tmp))
        run_queue(source, options, 1, 1)  # compiles the kernels outside the count
        results = {n: run_queue(source, options, args.copies, n) for n in args.concurrency}
    base = results[args.concurrency[0]]
    for n, r in results.items():
        print(f"concurrency {n}: all done in {r['makespan']:.1f} s ({base['makespan'] / r['makespan']:.2f}× the "
              f"throughput of concurrency {args.concurrency[0]}); each scene done after "
              + ", ".join(f"{w:.1f}" for w in sorted(r["walls"]))
              + f" s (mean {statistics.fmean(r['walls']):.1f} s); held-out PSNR "
              + ", ".join(f"{p:.2f}" for p in r["psnr"]) + " dB")


if __name__ == "__main__":
    main()
