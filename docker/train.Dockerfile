# Batch job "train": COLMAP model -> 3D Gaussians (GPU Spot queue, one NVIDIA GPU).
# Build from the repository root:  docker build -f docker/train.Dockerfile -t REPO:TAG .
# A CUDA devel base, so that gsplat can compile its kernels for the instance's GPU.
FROM nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04

ENV DEBIAN_FRONTEND=noninteractive PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    NUMBA_CACHE_DIR=/tmp/numba CUDA_HOME=/usr/local/cuda TORCH_CUDA_ARCH_LIST="7.5;8.6;8.9"
RUN apt-get update && apt-get install -y --no-install-recommends python3 python3-venv python3-dev build-essential \
    && rm -rf /var/lib/apt/lists/* && python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

# torch from PyPI is the CUDA build; gsplat needs `packaging` and CUDA_HOME for its kernels. The trainer's
# gsplat backend is issue #4: until it lands, this job trains with the CPU kernels on the instance's vCPUs.
RUN pip install torch==2.13.0 packaging ninja && pip install gsplat==1.5.3

WORKDIR /app
COPY pyproject.toml README.md ./
COPY splatlib ./splatlib
RUN pip install '.[aws]' && python -c "import splatlib.aws.batch"

RUN useradd --create-home splat
USER splat
ENTRYPOINT ["python", "-m", "splatlib.aws.batch"]
CMD ["train"]
