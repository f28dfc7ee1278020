# Sourced by gpu_check.sh and gpu_quality.sh on a lent GPU machine that has PyTorch but no network:
# install the carried wheels, point Python at them and build gsplat's kernels for that GPU.
#
# Bundle, made beforehand on a machine with PyPI (ignored by git):
#   .gpu/whl/   gsplat-1.5.3-py3-none-any.whl, and for the GPU machine's Python: pycolmap 4.2.1,
#               orjson and zstandard (the pipeline's catalog and .spz writer)
OUT=${OUT:-/tmp/gpu_check}
mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpu/whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1 MAX_JOBS=${MAX_JOBS:-$(nproc)}
export TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-$(python3 -c "import torch; print('%d.%d' % torch.cuda.get_device_capability())")}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import sys, torch, numba; print(sys.version.split()[0], 'torch', torch.__version__, 'numba', numba.__version__)"
lscpu | grep -m1 'Model name'
start=$(date +%s)
python3 -c "from gsplat.cuda._backend import _C" 2>&1 | tail -n 3
echo "gsplat kernels built for sm_${TORCH_CUDA_ARCH_LIST} in $(( $(date +%s) - start )) s"
