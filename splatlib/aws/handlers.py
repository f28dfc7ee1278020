"""Lambda handlers of the Step Functions pipeline: ExtractFrames, ConvertAndNotify, HandleFailure.

Each is a thin adapter: it validates the event, runs one stage through `Pipeline.run_stage`
(which records progress, timing and any failure in the scene record), and raises
`StageFailed` so that Step Functions' Catch routes the execution to HandleFailure.
"""

from __future__ import annotations

import logging

from ..errors import SceneNotFound
from ..library import Status, validate_scene_id
from . import runtime
from .failures import describe_failure

log = logging.getLogger(__name__)


class StageFailed(Exception):
    """A stage failed with a message for the user; the scene record already holds it."""


def run_stage(stage: str, event: dict) -> dict:
    """Run `stage` for the scene in `event`; the Step Functions output on success."""
    scene_id = validate_scene_id(event.get("sceneId"))
    with runtime.pipeline() as pipeline:
        scene = pipeline.run_stage(scene_id, stage)
    if scene.status == Status.FAILED:
        raise StageFailed(scene.error)
    return {"sceneId": scene_id, "stage": stage, "status": scene.status.value,
            "frameCount": scene.metrics.get("total_frames"), "splatKey": scene.splat_key}


def extract_frames(event: dict, context=None) -> dict:
    """ExtractFrames: the upload -> `frames/{id}/frame_%04d.jpg` and the frames manifest."""
    return run_stage("frames", event)


def convert(event: dict, context=None) -> dict:
    """ConvertAndNotify: trained PLY -> .splat, .spz, thumbnail, metrics; marks the scene completed."""
    return run_stage("convert", event)


def handle_failure(event: dict, context=None) -> dict:
    """HandleFailure: mark the scene failed with a readable message (kept if the stage wrote one)."""
    scene_id = validate_scene_id(event.get("sceneId"))
    stage = str(event.get("stage") or "pipeline")
    catalog = runtime.catalog()
    try:
        scene = catalog.get(scene_id)
    except SceneNotFound:
        log.warning("scene %s was deleted while it ran", scene_id)
        return {"sceneId": scene_id, "status": "deleted"}
    if not (scene.status == Status.FAILED and scene.error_stage == stage and scene.error):
        scene = catalog.update(scene_id, status=Status.FAILED, error=describe_failure(stage, event.get("error")),
                               error_stage=stage, worker=None, lease_until=None)
    log.info("scene %s failed: %s", scene_id, scene.error)
    return {"sceneId": scene_id, "status": scene.status.value, "error": scene.error}
