# Batch job "colmap": frames -> COLMAP sparse model and undistorted images (CPU Spot queue).
# Build from the repository root:  docker build -f docker/colmap.Dockerfile -t REPO:TAG .
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 NUMBA_CACHE_DIR=/tmp/numba
WORKDIR /app
COPY pyproject.toml README.md ./
COPY splatlib ./splatlib
# The CPU build of torch (+cpu; PyPI's default is the CUDA build) satisfies the project's torch==2.13.0 pin.
RUN pip install --extra-index-url https://download.pytorch.org/whl/cpu 'torch==2.13.0+cpu' '.[aws]' \
    && python -c "import pycolmap, splatlib.aws.batch"

RUN useradd --create-home splat
USER splat
ENTRYPOINT ["python", "-m", "splatlib.aws.batch"]
CMD ["sfm"]
