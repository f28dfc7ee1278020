# One image for every Lambda function; Terraform sets each function's handler (image_config.command):
# splatlib.aws.handlers.{extract_frames,convert,handle_failure}, splatlib.aws.api.{api,upload_landed}.
# Build from the repository root:  docker build -f docker/lambda.Dockerfile -t REPO:TAG .
# (A container image rather than a .zip: ffmpeg, PyAV, numpy and torch exceed the 250 MB zip limit.)
FROM public.ecr.aws/lambda/python:3.13

ENV PIP_NO_CACHE_DIR=1 NUMBA_CACHE_DIR=/tmp/numba
COPY pyproject.toml README.md /build/
COPY splatlib /build/splatlib
# One resolve, so that the CPU build of torch (+cpu) satisfies the project's torch==2.13.0 pin.
RUN pip install --target "${LAMBDA_TASK_ROOT}" --extra-index-url https://download.pytorch.org/whl/cpu \
        'torch==2.13.0+cpu' '/build[aws]' && rm -rf /build \
    && PYTHONPATH="${LAMBDA_TASK_ROOT}" python -c "import splatlib.aws.handlers, splatlib.aws.api"

CMD ["splatlib.aws.handlers.extract_frames"]
