"""AWS Batch entrypoint: `python -m splatlib.aws.batch sfm|train` with $SCENE_ID set.

Downloads the scene's inputs from S3, runs the stage, uploads its outputs. Under
`batch:submitJob.sync` Step Functions waits for the job itself, so no task token or
heartbeat is needed. Exit codes: 0 done, 3 the stage failed (the record says why; Batch
must not retry), anything else a crash (HandleFailure records it). While training, the
checkpoint is uploaded every few minutes so that a job retried after a Spot reclaim resumes.

`SPLATLIB_DEVICE` (the GPU job sets `cuda`) overrides the scene's training device, so a GPU job
whose GPU torch cannot see fails with a message saying why instead of training on the CPU.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

from ..library import Status, validate_scene_id
from ..layout import CHECKPOINT, SceneKeys
from . import runtime

EXIT_STAGE_FAILED = 3
JOB_STAGES = ("sfm", "train")
CHECKPOINT_UPLOAD_SECONDS = float(os.environ.get("CHECKPOINT_UPLOAD_SECONDS", 300))

log = logging.getLogger("splatlib.aws.batch")


def _upload_checkpoints(store, scene_id: str, stop: threading.Event) -> None:
    key = SceneKeys(scene_id).output(CHECKPOINT)
    path, last = store.path(key), None
    while not stop.wait(CHECKPOINT_UPLOAD_SECONDS):
        if path.is_file() and path.stat().st_mtime != last:
            last = path.stat().st_mtime
            store.put_file(key, path)
            log.info("uploaded checkpoint of %s", scene_id)


def run(stage: str, scene_id: str) -> int:
    """Run one Batch stage of one scene; returns the process exit code."""
    with runtime.pipeline() as pipeline:
        stop = threading.Event()
        uploader = threading.Thread(target=_upload_checkpoints, args=(pipeline.store, scene_id, stop), daemon=True)
        if stage == "train":
            uploader.start()
        try:
            device = os.environ.get("SPLATLIB_DEVICE")
            scene = pipeline.run_stage(scene_id, stage, {"device": device} if device else None)
        finally:
            stop.set()
        if stage == "train" and scene.status != Status.FAILED:
            pipeline.store.delete_prefix(SceneKeys(scene_id).output(CHECKPOINT))
    if scene.status == Status.FAILED:
        log.error("%s", scene.error)
        return EXIT_STAGE_FAILED
    log.info("scene %s: %s done", scene_id, stage)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry of the Batch images."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in JOB_STAGES:
        print(f"usage: python -m splatlib.aws.batch {{{'|'.join(JOB_STAGES)}}}  (with SCENE_ID set)", file=sys.stderr)
        return 2
    return run(argv[0], validate_scene_id(runtime.env("SCENE_ID")))


if __name__ == "__main__":
    sys.exit(main())
