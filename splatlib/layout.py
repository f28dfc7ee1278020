"""Where a scene's files live (DESIGN.md §3): every store key and output file name, in one place.

    uploads/{id}/<the user's file or photos>
    frames/{id}/frame_0001.jpg … manifest.json
    sfm/{id}/images/ sparse/ report.json
    outputs/{id}/point_cloud/iteration_{N}/point_cloud.ply, cameras.json, train.json, holdout.jpg,
                 checkpoint.pt (while training), scene.splat, scene.spz, scene.sog, thumbnail.jpg, preview.mp4, video.mp4,
                 metrics.json, clean/{point_cloud.ply, scene.splat, scene.spz, clean.json}
"""

from __future__ import annotations

from dataclasses import dataclass

SFM_REPORT = "report.json"
CAMERAS = "cameras.json"
TRAIN_REPORT = "train.json"
HOLDOUT = "holdout.jpg"
CHECKPOINT = "checkpoint.pt"
SPLAT = "scene.splat"
SPZ = "scene.spz"
SOG = "scene.sog"  # PlayCanvas SOG, bundled
THUMBNAIL = "thumbnail.jpg"
PREVIEW = "preview.mp4"
VIDEO = "video.mp4"  # made on request from the web (`POST /api/scenes/{id}/video`)
METRICS = "metrics.json"
PLY_GLOB = "point_cloud/iteration_*/point_cloud.ply"
CLEAN = "clean"  # outputs/{id}/clean/: a cleaned copy (`splatlib clean`), beside the original
CLEAN_PLY = f"{CLEAN}/point_cloud.ply"
CLEAN_SPLAT = f"{CLEAN}/{SPLAT}"
CLEAN_SPZ = f"{CLEAN}/{SPZ}"
CLEAN_REPORT = f"{CLEAN}/clean.json"


def ply_name(iterations: int) -> str:
    """The trained model's path under the outputs folder (INRIA's layout)."""
    return f"point_cloud/iteration_{iterations}/point_cloud.ply"


@dataclass(frozen=True)
class SceneKeys:
    """The store keys of one scene."""

    scene_id: str

    @property
    def uploads(self) -> str:
        return f"uploads/{self.scene_id}"

    @property
    def frames(self) -> str:
        return f"frames/{self.scene_id}"

    @property
    def sfm(self) -> str:
        return f"sfm/{self.scene_id}"

    @property
    def outputs(self) -> str:
        return f"outputs/{self.scene_id}"

    def prefixes(self) -> tuple[str, str, str, str]:
        """Every folder of the scene, in pipeline order."""
        return self.uploads, self.frames, self.sfm, self.outputs

    def upload(self, filename: str) -> str:
        return f"{self.uploads}/{filename}"

    def output(self, name: str) -> str:
        """An output file's key, e.g. `output(SPLAT)`; `name` is relative, e.g. `ply_name(2000)`."""
        return f"outputs/{self.scene_id}/{name}"
