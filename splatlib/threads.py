"""Thread settings for the compute libraries, made before torch and numba start (`splatlib/__init__`).

Both torch and numba run OpenMP thread pools here, and OpenMP threads spin while they wait: two
trainings on two cores then starve each other (measured 2.9× to 14× slower each instead of 2×).
Waiting threads sleep instead (OMP_WAIT_POLICY=PASSIVE), and the pools are sized to the CPUs this
process may really use (its affinity and its cgroup's CPU quota, as in a container: os.cpu_count()
there is the host's). A value the user set in the environment wins.
"""

from __future__ import annotations

import math
import os
from pathlib import Path


CGROUP = Path("/sys/fs/cgroup")


def cgroup_cpus(root: Path = CGROUP) -> float | None:
    """The CPU quota of this process's cgroup (v2 cpu.max, else v1 cfs quota), in CPUs; None if unlimited."""
    try:
        quota, period = (root / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:
        quota = int((root / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((root / "cpu" / "cpu.cfs_period_us").read_text())
        return None if quota <= 0 else quota / period
    except (OSError, ValueError):
        return None


def usable_cpus(root: Path = CGROUP) -> int:
    """CPUs this process may run on: its affinity, capped by the cgroup quota (rounded up), at least 1."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    quota = cgroup_cpus(root)
    if quota is not None:
        cpus = min(cpus, math.ceil(quota))
    return max(1, cpus)


def default_concurrency(cpus: int | None = None) -> int:
    """Scenes the server runs at once unless told: 2 where this process may use 2 CPUs or more, else 1.

    One scene leaves CPUs idle in its serial parts (frame extraction, parts of SfM, the Python
    between kernels) and a second fills them. `benchmarks/bench_serve.py` on 2 CPUs, 2026-12-04,
    two scenes queued at once, concurrency 1 against 2: the demo's both done in 66.1 against 44.6 s
    (1.48× the throughput), fountain_p11's in 279 against 233 s (1.19×), at the same held-out PSNR.
    The price: the first scene of a queue ends later (fountain 136 against 232 s).
    """
    return 2 if (cpus if cpus is not None else usable_cpus()) >= 2 else 1


def configure() -> None:
    """Set the thread environment for torch (OpenMP) and numba unless the user already did."""
    cpus = str(usable_cpus())
    for name, value in (("OMP_WAIT_POLICY", "PASSIVE"), ("OMP_NUM_THREADS", cpus), ("NUMBA_NUM_THREADS", cpus),
                        ("MKL_NUM_THREADS", cpus)):
        os.environ.setdefault(name, value)
