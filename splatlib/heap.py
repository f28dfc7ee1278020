"""Large freed arrays stay in the process heap for the next training step (glibc), set before torch starts.

glibc serves an allocation over its mmap threshold (128 KiB at first, adapting up to 32 MiB) with
fresh pages and unmaps them on free; pages above the trim threshold at the top of the heap go
back to the kernel too. A training step allocates the same large arrays every time (gradients,
per-pair buffers; the SH gradient alone is 36 MB at 200k Gaussians), so each step paid the kernel
to fault in and zero them again: at 200k Gaussians, 640×480, about 900 page faults a step, and
the projection's backward took 49 ms in a step against 29 ms with the heap kept
(`bench_train_step.py --profile`, 2026-12-04). Both thresholds are raised to KEEP_BYTES, so freed
blocks are reused; `give_back` returns the unused heap after a training.

A threshold the user set in the environment (MALLOC_MMAP_THRESHOLD_, GLIBC_TUNABLES) wins; other
C libraries are left alone.
"""

from __future__ import annotations

import ctypes
import os

KEEP_BYTES = 1 << 30  # freed blocks up to 1 GiB are reused, and up to 1 GiB of free heap top is kept
M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, from glibc's malloc.h


def _glibc() -> ctypes.CDLL | None:
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def keep_freed_blocks() -> bool:
    """Raise glibc's mmap and trim thresholds to KEEP_BYTES; False where not applied."""
    tunables = os.environ.get("GLIBC_TUNABLES", "")
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "mmap_threshold" in tunables or "trim_threshold" in tunables:
        return False
    libc = _glibc()
    if libc is None:
        return False
    return bool(libc.mallopt(M_MMAP_THRESHOLD, KEEP_BYTES)) and bool(libc.mallopt(M_TRIM_THRESHOLD, KEEP_BYTES))


def give_back() -> None:
    """Return the heap's free pages to the kernel (after a training, so a server does not hold its peak)."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)
