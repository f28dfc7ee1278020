# Batch job "train": COLMAP model -> 3D Gaussians (GPU Spot queue, one NVIDIA GPU).
# Build from the repository root:  docker build -f docker/train.Dockerfile -t REPO:TAG .
# A CUDA devel base for nvcc: gsplat's kernels are compiled at build time (below), so a job does not
# spend minutes compiling them. Its CUDA major version must match torch's: PyPI's torch 2.13.0 is
# built with CUDA 13 (its wheel requires the nvidia-*-cu13 packages).
FROM nvidia/cuda:13.0.2-devel-ubuntu24.04

# compute capabilities of the queue's instance types (g4dn T4 7.5, g5 A10G 8.6, g6 L4 8.9), and PTX for newer GPUs (p4, p5)
ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    NUMBA_CACHE_DIR=/tmp/numba CUDA_HOME=/usr/local/cuda TORCH_CUDA_ARCH_LIST="7.5;8.6;8.9+PTX" \
    TORCH_EXTENSIONS_DIR=/opt/torch_extensions
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-dev build-essential \
    && rm -rf /var/lib/apt/lists/* && python3 -m venv /opt/venv && useradd --create-home splat
ENV PATH=/opt/venv/bin:$PATH

# torch from PyPI is the CUDA build. Building gsplat's extension needs nvcc and the arch list, not a GPU.
RUN pip install torch==2.13.0 packaging ninja gsplat==1.5.3 \
    && MAX_JOBS=4 python -c "from gsplat.cuda._backend import _C" \
    && chown -R splat /opt/torch_extensions  # the job's user may take torch's build lock there

WORKDIR /app
COPY pyproject.toml README.md ./
COPY splatlib ./splatlib
RUN pip install '.[aws,cuda]' && python -c "import splatlib.aws.batch"

USER splat
ENTRYPOINT ["python", "-m", "splatlib.aws.batch"]
CMD ["train"]
