"""The web server under load: p50/p99 latency of list, get and upload with a library of 1,000 scenes.

Run: .venv/bin/python benchmarks/bench_load.py [--scenes 1000] [--clients 1,8] [--requests 200]
Loopback only, and it stops by itself: the server is `splatlib.web.app` under uvicorn in its own
process on 127.0.0.1 (workers off, so uploads are checked and stored but not processed), fed a
library of completed scenes built as `bench_list.py` builds it. For each client count, threads
send a fixed number of requests of each kind:
- list: the whole library, `GET /api/scenes?limit=500` page after page (timed together, up to
  the last byte received; the warm-up checks that every scene came back);
- get: `GET /api/scenes/{id}` of a random scene;
- upload: `POST /api/scenes` of a 2-second synthetic video (checked, copied, recorded);
and the script prints each kind's p50 and p99 in milliseconds. The goal of issue 15: the whole
library listed in under 50 ms at one client. Client and server share this machine's cores, so at
several clients the figures include the clients' own work.
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
from bench_list import build  # noqa: E402
from splatlib.synthetic import make_orbit_video  # noqa: E402

SERVER = """
import sys, uvicorn
from pathlib import Path
from splatlib.web.app import Settings, create_app
uvicorn.run(create_app(Settings(home=Path(sys.argv[1]), run_workers=False)), host="127.0.0.1",
            port=int(sys.argv[2]), log_level="warning")
"""
DEADLINE_S = 600  # the whole run stops here whatever happens


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(base: str, server: subprocess.Popen) -> None:
    until = time.monotonic() + 60
    while time.monotonic() < until:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        try:
            if httpx.get(f"{base}/api/options", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise SystemExit("the server did not start within 60 s")


def percentiles(ms: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(ms, n=100, method="inclusive")
    return statistics.median(ms), cuts[98]


def run_kind(kind: str, clients: int, count: int, base: str, ids: list[str], video: Path,
             total: int, deadline: float, check: bool = False) -> list[float]:
    local = threading.local()

    def client() -> httpx.Client:
        if not hasattr(local, "c"):
            local.c = httpx.Client(base_url=base, headers={"X-Splatlib-Client": "1"}, timeout=60)
        return local.c

    def once(i: int) -> float:
        if time.monotonic() > deadline:
            raise SystemExit(f"stopped: the run passed its {DEADLINE_S} s limit")
        c = client()
        t0 = time.perf_counter()
        if kind == "list":
            pages = [c.get(f"/api/scenes?limit=500&offset={offset}") for offset in range(0, total, 500)]
            for r in pages:
                r.raise_for_status()
            if check:  # parsing is the client's work, left out of the timed requests
                got = sum(len(r.json()["scenes"]) for r in pages)
                assert got >= total, got
        elif kind == "get":
            c.get(f"/api/scenes/{random.choice(ids)}").raise_for_status()
        else:
            with open(video, "rb") as f:
                c.post("/api/scenes", files={"file": ("clip.mp4", f, "video/mp4")},
                       data={"title": f"load {i}"}).raise_for_status()
        return (time.perf_counter() - t0) * 1000

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(once, range(count)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenes", type=int, default=1000)
    ap.add_argument("--clients", default="1,8", help="comma-separated numbers of concurrent clients")
    ap.add_argument("--requests", type=int, default=200, help="get requests per client count")
    args = ap.parse_args()
    deadline = time.monotonic() + DEADLINE_S
    counts = {"list": max(20, args.requests // 10), "get": args.requests, "upload": max(10, args.requests // 20)}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "lib"
        build(home, args.scenes, keep_sizes=True)
        video = make_orbit_video(Path(tmp) / "clip.mp4", seconds=2, fps=5, width=160, height=120)
        from splatlib.library import SQLiteCatalog
        ids = [s.id for s in SQLiteCatalog(home / "catalog.sqlite").list(limit=args.scenes)]
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-c", SERVER, str(home), str(port)], cwd=ROOT,
                                  env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            wait_until_up(base, server)
            print(f"library of {args.scenes} scenes; server: uvicorn on {base}, one process; {os.cpu_count()} CPUs")
            print(f"{'clients':>7} {'request':<40} {'n':>4} {'p50 ms':>8} {'p99 ms':>8}")
            for clients in (int(c) for c in args.clients.split(",")):
                for kind in ("list", "get", "upload"):
                    run_kind(kind, 1, 3, base, ids, video, args.scenes, deadline, check=True)  # warm up
                    ms = run_kind(kind, clients, counts[kind], base, ids, video, args.scenes, deadline)
                    p50, p99 = percentiles(ms)
                    label = {"list": f"list all (GET /api/scenes, {args.scenes} scenes)",
                             "get": "get one (GET /api/scenes/{id})", "upload": "upload a 2 s video (POST)"}[kind]
                    print(f"{clients:>7} {label:<40} {len(ms):>4} {p50:>8.1f} {p99:>8.1f}")
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    main()
