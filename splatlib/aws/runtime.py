"""What every handler and job needs, built from its environment.

- `ASSETS_BUCKET`: the S3 bucket with the keys of DESIGN.md §3
- `SCENES_TABLE`: the DynamoDB table of scene records
- `STATE_MACHINE_ARN`: the pipeline (API handlers only)
- `WORK_DIR`: where stages keep their working copy, in a fresh folder removed afterwards (default: /tmp)
- `MAX_UPLOAD_MB`: largest accepted upload (API handlers only; default 2048)
"""

from __future__ import annotations

import logging
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..pipeline import Pipeline
from .dynamodb import DynamoDBCatalog
from .s3 import S3Store, workdir_from_env

logging.getLogger().setLevel(logging.INFO)  # Lambda's root handler drops INFO otherwise


def env(name: str) -> str:
    """A required environment variable, with a clear error if the deployment forgot it."""
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} is not set; the deployment must provide it")
    return value


def catalog() -> DynamoDBCatalog:
    """The scene table named by $SCENES_TABLE."""
    return DynamoDBCatalog(env("SCENES_TABLE"))


@contextmanager
def pipeline() -> Iterator[Pipeline]:
    """A pipeline over DynamoDB + S3 with a fresh working folder, removed afterwards
    (Lambda keeps /tmp between invocations)."""
    workdir: Path = workdir_from_env()
    try:
        yield Pipeline(catalog(), S3Store(env("ASSETS_BUCKET"), workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
