"""The one timer the benchmarks share."""

from __future__ import annotations

import statistics
import time


def median_seconds(fn, *args, repeat: int = 3) -> float:
    """Median wall time of `repeat` calls of fn(*args)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)
