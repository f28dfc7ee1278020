"""The heap setting: a training step's large arrays are reused, not faulted in anew every step (glibc)."""

import json
import os
import subprocess
import sys

import pytest

PROBE = """
import ctypes, json, resource, sys
if sys.argv[1] == "splatlib":
    from splatlib import heap  # importing splatlib sets the heap up, as in every entry point
    give_back = heap.give_back
else:
    give_back = lambda: ctypes.CDLL("libc.so.6").malloc_trim(0)
import numpy as np

def rss_mb():
    return int(open("/proc/self/statm").read().split()[1]) * resource.getpagesize() / 2**20

for i in range(6):  # the same 128 MB array every step, as a training step's gradients
    if i == 2:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    a = np.ones(16 * 2**20)
    del a
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 4
held = rss_mb()
give_back()
print(json.dumps({"faults_per_step": faults, "held_mb": held, "after_give_back_mb": rss_mb()}))
"""


def _probe(mode: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_")}
    out = subprocess.run([sys.executable, "-c", PROBE, mode], env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
                    reason="glibc only")
def test_freed_arrays_are_reused_and_given_back():
    kept, plain = _probe("splatlib"), _probe("plain")
    assert plain["faults_per_step"] > 30  # glibc's default: fresh pages (2 MB huge pages or 4 kB) every time
    assert kept["faults_per_step"] < 5, kept
    assert kept["held_mb"] > 120 and kept["after_give_back_mb"] < kept["held_mb"] - 100, kept
