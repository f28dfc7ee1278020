"""Listing scenes through the web API: sizes kept in the records against sizes read from the store.

Run: .venv/bin/python benchmarks/bench_list.py [--scenes 1000] [--repeats 20]
Builds a library of completed scenes (real files of a few bytes, records as the pipeline writes
them), then times `GET /api/scenes?limit=500` over both pages in-process (FastAPI's TestClient:
the app's own time, no network). The baseline is the same library with the recorded sizes removed
from the records, which makes the app stat every download of every scene (as before issue 15).
Prints the median time to list all scenes, for both.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from splatlib.layout import HOLDOUT, METRICS, PREVIEW, SPLAT, SPZ, THUMBNAIL, SceneKeys, ply_name  # noqa: E402
from splatlib.library import LocalStore, Scene, SQLiteCatalog, Status, new_scene_id  # noqa: E402
from splatlib.web.app import Settings, create_app  # noqa: E402


def build(home: Path, n: int, keep_sizes: bool) -> None:
    catalog, store = SQLiteCatalog(home / "catalog.sqlite"), LocalStore(home / "store")
    for i in range(n):
        k = SceneKeys(new_scene_id())
        names = [SPLAT, SPZ, THUMBNAIL, PREVIEW, HOLDOUT, METRICS, ply_name(2000)]
        for name in names:
            path = store.path(k.output(name))
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"x" * (100 + i))
        upload = store.path(k.upload("clip.mp4"))
        upload.parent.mkdir(parents=True, exist_ok=True)
        upload.write_bytes(b"v" * 1000)
        metrics = {"psnr": 23.0}
        if keep_sizes:
            metrics |= {"file_bytes": {k.output(name): 100 + i for name in names}, "upload_bytes": 1000}
        catalog.put(Scene(id=k.scene_id, title=f"scene {i}", status=Status.COMPLETED, input_kind="video",
                          input_key=k.upload("clip.mp4"), splat_key=k.output(SPLAT),
                          thumbnail_key=k.output(THUMBNAIL), ply_key=k.output(ply_name(2000)),
                          created_at=time.time() - i, metrics=metrics))


def time_listing(home: Path, n: int, repeats: int) -> float:
    app = create_app(Settings(home=home, run_workers=False, allowed_hosts=("testserver",)))
    with TestClient(app) as client:
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            got = sum(len(client.get(f"/api/scenes?limit=500&offset={o}").json()["scenes"]) for o in range(0, n, 500))
            times.append(time.perf_counter() - t0)
            assert got == n, got
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        rows = []
        for keep in (False, True):
            home = Path(tmp) / ("kept" if keep else "stat")
            build(home, args.scenes, keep)
            rows.append((keep, time_listing(home, args.scenes, args.repeats)))
    for keep, seconds in rows:
        label = "sizes kept in the records" if keep else "sizes read from the store (baseline)"
        print(f"list {args.scenes} scenes, {label:<38} {seconds * 1000:7.1f} ms (median of {args.repeats})")
    print(f"speed-up {rows[0][1] / rows[1][1]:.1f}x")


if __name__ == "__main__":
    main()
