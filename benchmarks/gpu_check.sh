#!/usr/bin/env bash
# The CUDA path on a lent GPU machine: the back-end tests, then benchmarks/bench_cuda.py.
# Carry .gpu/whl (see gpu_env.sh) and .gpu/fountain_sfm, an undistorted COLMAP model made beforehand:
# `splatlib run ../shared/data/fountain_p11/images --until sfm`. Results land in $OUT (default /tmp/gpu_check).
set -u
source "$(dirname "$0")/gpu_env.sh"
timeout 300 python3 -m pytest --noconftest -q -p no:cacheprovider -rs tests/test_backends.py 2>&1 | tee "$OUT/pytest.log" | tail -n 15
timeout 480 python3 benchmarks/bench_cuda.py --sfm .gpu/fountain_sfm --out "$OUT/bench_cuda.json" "$@" 2>&1 | tee "$OUT/bench.log" | tail -n 25
