#!/usr/bin/env bash
# Quality per second on a lent GPU machine: benchmarks/bench_cuda_quality.py on fountain_p11's photos.
# Carry .gpu/whl (see gpu_env.sh) and .gpu/fountain_images (a copy of ../shared/data/fountain_p11/images).
# Arguments go to bench_cuda_quality.py (variants, seeds); results land in $OUT.
set -u
source "$(dirname "$0")/gpu_env.sh"
timeout ${QUALITY_TIMEOUT:-470} python3 benchmarks/bench_cuda_quality.py --photos .gpu/fountain_images --out "$OUT/cuda_quality.json" "$@" 2>&1 | tee "$OUT/quality.log"
