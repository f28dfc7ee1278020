"""Thread settings for the compute libraries, made before torch and numba start (`splatlib/__init__`).

Both torch and numba run OpenMP thread pools here, and OpenMP threads spin while they wait: two
trainings on two cores then starve each other (measured 2.9× to 14× slower each instead of 2×).
Waiting threads sleep instead (OMP_WAIT_POLICY=PASSIVE), and the pools are sized to the CPUs this
process may really use (its affinity and its cgroup's CPU quota, as in a container: os.cpu_count()
there is the host's). A value the user set in the environment wins. While several trainings run,
`CpuShare` splits the CPUs between them.
"""

from __future__ import annotations

import fcntl
import logging
import math
import os
import tempfile
import time
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

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


SHARE_EVERY = 1.0  # seconds between looks at how many trainings share the CPUs


def share_folder() -> Path:
    """Where this user's trainings on this machine announce themselves (see CpuShare)."""
    return Path(tempfile.gettempdir()) / f"splatlib-trainings-{os.getuid()}"


class CpuShare:
    """One training's share of the CPUs while others run beside it, in this process or another.

    Each training holds a lock on a file of its own in `share_folder()`; every SHARE_EVERY seconds
    (`update`) it counts the files locked and sizes its numba and torch thread pools to the usable
    CPUs over that count (at least 1, at most the pools' size). With passive waits alone, three
    trainings on 2 CPUs ran two threads each, and in 6 of 15 rounds one of them ran 3.4-3.8x its
    time alone; with shares 1.9-3.3x in 15 of 15 (`bench_train_step.py --concurrent 3`, rounds
    alternated, 2026-12-05). A file left by a training that died is unlocked, and removed by the next
    count. Where the folder cannot be written, or `active` is false (a training on a GPU), the pools
    keep their size and `update` does nothing.
    """

    def __init__(self, folder: Path | None = None, cpus: int | None = None, active: bool = True):
        self.folder = folder or share_folder()
        self.cpus = cpus or usable_cpus()
        self.threads: int | None = None  # the pools' size as last set; None: not set yet
        self.path: Path | None = None
        self._last = -math.inf
        self._file = None
        self._torch_threads = 0  # torch's pool before the first change, given back by close()
        if not active:
            return
        try:
            self.folder.mkdir(mode=0o700, exist_ok=True)
            name = f"{os.getpid()}-{uuid.uuid4().hex}"
            opening = self.folder / f".{name}"  # locked before it gets a name that counts
            self._file = open(opening, "w")
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
            self.path = opening.rename(self.folder / name)
        except OSError as error:
            log.debug("CPU share off (%s): the thread pools keep their size", error)
            self.close()

    def count(self) -> int:
        """Trainings holding a share now, this one included; removes the files of ended ones."""
        count = 0
        try:
            paths = list(self.folder.iterdir())
        except OSError:  # the folder was removed meanwhile (a temporary-files cleaner): count this one
            return 1
        for path in paths:
            if path.name.startswith("."):
                continue
            if path == self.path:
                count += 1
                continue
            try:
                with open(path) as other:
                    fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    path.unlink(missing_ok=True)  # no one holds it: its training ended without removing it
            except BlockingIOError:
                count += 1
            except OSError:
                pass  # removed meanwhile
        return count

    def update(self) -> None:
        """Size the thread pools to this training's share, if SHARE_EVERY has passed since the last look."""
        if self._file is None or time.monotonic() - self._last < SHARE_EVERY:
            return
        import numba
        import torch

        self._last = time.monotonic()
        threads = max(1, min(self.cpus // self.count(), numba.config.NUMBA_NUM_THREADS))
        if threads != self.threads:
            self._torch_threads = self._torch_threads or torch.get_num_threads()
            numba.set_num_threads(threads)  # numba's count is this thread's own
            torch.set_num_threads(threads)
            self.threads = threads

    def close(self) -> None:
        """Give the share back: the file is removed, the lock released."""
        if self._file is not None:
            (self.path or Path(self._file.name)).unlink(missing_ok=True)
            self._file.close()
            self._file = None
        if self.threads is not None:  # what runs after the training gets the pools' full size again
            import numba
            import torch

            numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
            torch.set_num_threads(self._torch_threads)
            self.threads = None

    def __enter__(self) -> "CpuShare":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
