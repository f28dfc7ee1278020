#!/usr/bin/env bash
# The CUDA path on a lent GPU machine that has PyTorch but no network: install carried wheels,
# build gsplat's kernels for that GPU, run the back-end tests, then benchmarks/bench_cuda.py.
#
# Bundle, made beforehand on a machine with PyPI (ignored by git):
#   .gpu/whl/     gsplat-1.5.3-py3-none-any.whl and pycolmap-4.2.1 for the GPU machine's Python
#   .gpu/fountain_sfm/   an undistorted COLMAP model: `splatlib run ../shared/data/fountain_p11/images --until sfm`
# Results land in $OUT (default /tmp/gpu_check).
set -u
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 MAX_JOBS=${MAX_JOBS:-$(nproc)}
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-$(python3 -c "import torch; print('%d.%d' % torch.cuda.get_device_capability())")}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import sys, torch, numba; print(sys.version.split()[0], 'torch', torch.__version__, 'numba', numba.__version__)"
start=$(date +%s)
python3 -c "from gsplat.cuda._backend import _C" 2>&1 | tail -n 3
echo "gsplat kernels built for sm_${TORCH_CUDA_ARCH_LIST} in $(( $(date +%s) - start )) s"
timeout 300 python3 -m pytest --noconftest -q -p no:cacheprovider -rs tests/test_backends.py 2>&1 | tee "$OUT/pytest.log" | tail -n 15
timeout 480 python3 benchmarks/bench_cuda.py --sfm .gpu/fountain_sfm --out "$OUT/bench_cuda.json" "$@" 2>&1 | tee "$OUT/bench.log" | tail -n 25
