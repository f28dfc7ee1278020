"""The ordered stages and the runner that moves a scene through them against a catalog and a store.

The runner records each stage as it starts and ends, its progress, its timing, and any failure
(a readable message naming the stage). Finished stages are not redone on retry.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from . import heap
from .errors import DiskFull, InputError, LeaseLost, SceneBusy, SceneNotFound, SplatError
from .library import BlobStore, Catalog, Owner, Scene, Status, new_scene_id
from .layout import METRICS, PREVIEW, SOG, SPLAT, SPZ, THUMBNAIL, SceneKeys
from .library.catalog import lease_lost
from .library.store import local_bytes
from .space import disk_full, ensure_room, is_disk_full
from .stages.frames import FrameOptions, extract_frames, input_kind, photo_files
from .options import OPTIONS, default
from .stages.posed import PROJECT, PROJECT_KINDS, import_project, project_files, project_images
from .stages.sfm import FEATURES, SfmOptions, run_sfm

if TYPE_CHECKING:
    from .stages.clean import CleanOptions

log = logging.getLogger(__name__)

STAGES = ("frames", "sfm", "train", "convert")
"""The pipeline, in order; the Step Functions definition must name the same sequence."""

Listener = Callable[[str, float, str], None]
"""Called with (stage, fraction done, message) as a scene advances."""


@dataclass
class PipelineOptions:
    """What a user tunes; stored with the scene so a retry runs with the same settings."""

    fps: float = default("fps")
    max_frames: int = default("max_frames")
    sfm_max_size: int = default("sfm_max_size")
    matching: str = default("matching")
    sfm_features: str = default("sfm_features")
    iterations: int = default("iterations")
    max_gaussians: int = default("max_gaussians")
    image_size: int = default("image_size")
    sh_degree: int = default("sh_degree")
    device: str = default("device")
    minutes: float | None = default("minutes")
    """One field per entry of `options.OPTIONS`, in its order (a test keeps them in step)."""

    def __post_init__(self) -> None:
        """Reject a choice no stage knows or a value out of bounds, whether it came from the CLI, the
        web app or the API (a request must not hold a GPU for hours)."""
        for option in OPTIONS:
            option.check(getattr(self, option.name))

    def train_seconds(self, spent: float) -> float | None:
        """Seconds the train stage may take under the time budget, after `spent` seconds of earlier
        stages (None without a budget); the convert stage's few seconds are kept back."""
        if self.minutes is None:
            return None
        return self.minutes * 60 - spent - CONVERT_RESERVE_S

    @classmethod
    def from_dict(cls, d: dict) -> "PipelineOptions":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


CONVERT_RESERVE_S = 5.0


def safe_filename(name: str) -> str:
    """A harmless file name derived from user text: letters, digits, '-', '_', '.'; no leading dot;
    the extension kept (a name in another script becomes 'upload' with its extension)."""
    path = Path(name)
    ext = re.sub(r"[^A-Za-z0-9]+", "", path.suffix)[:10]
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", path.stem if ext else path.name).lstrip("._")
    stem = (stem if stem.strip("_") else "upload")[:100 - len(ext) - 1]
    return f"{stem}.{ext}" if ext else stem


def unique_filename(name: str, taken: set[str]) -> str:
    """`safe_filename(name)`, with -2, -3, … before the extension while the name (in any case) is in
    `taken`; the result is added to `taken`. Names that clean up alike never overwrite each other."""
    safe = safe_filename(name)
    stem, ext = (safe.rsplit(".", 1)[0], "." + safe.rsplit(".", 1)[1]) if "." in safe else (safe, "")
    candidate, n = safe, 2
    while candidate.lower() in taken:
        candidate, n = f"{stem}-{n}{ext}", n + 1
    taken.add(candidate.lower())
    return candidate


NAMES = "names.json"
"""Beside an upload: the user's own file names, by stored name (written when any differ)."""


def _stage_writes(k: SceneKeys, stage: str) -> list[str]:
    """The store keys a stage writes, removed when it fails for want of space."""
    if stage == "convert":
        return [k.output(name) for name in (SPLAT, SPZ, SOG, THUMBNAIL, PREVIEW, METRICS)]
    return [{"frames": k.frames, "sfm": k.sfm, "train": k.outputs}[stage]]


def seconds_left(elapsed: float, fraction: float) -> float | None:
    """Estimated seconds left of a stage from its pace so far; None until it is under way."""
    if fraction < 0.02 or elapsed < 2.0:
        return None
    return elapsed * (1.0 - fraction) / fraction


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


LEASE_SECONDS = 60.0
"""A running scene's owner renews its lease this often ×3; an expired lease frees the scene."""


def worker_alive(worker: str | None) -> bool:
    """Whether the process that claimed a scene still runs (known only on the same host)."""
    if not worker:
        return False
    host, _, pid = worker.rpartition(":")
    if host != socket.gethostname():
        return True
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except (PermissionError, ValueError):
        return True
    return True


def is_stale(scene: Scene) -> bool:
    """A `processing` scene whose owner is gone: its process died or its lease ran out."""
    if scene.status != Status.PROCESSING:
        return False
    expired = scene.lease_until is None or scene.lease_until < time.time()
    return expired or not worker_alive(scene.worker)


def is_running(scene: Scene) -> bool:
    """Whether a live process runs the scene: `processing`, and its owner is not gone."""
    return scene.status == Status.PROCESSING and not is_stale(scene)


def ensure_not_busy(scene: Scene) -> None:
    """SceneBusy if a live process is running the scene."""
    if is_running(scene):
        raise SceneBusy(f"scene {scene.id} is being processed by {scene.worker}")


@dataclass
class _Lease:
    """This process's claim on a scene while it runs it."""

    owner: Owner
    lost: threading.Event = field(default_factory=threading.Event)


class Pipeline:
    """Creates scenes and runs them through STAGES."""

    def __init__(self, catalog: Catalog, store: BlobStore, listener: Listener | None = None,
                 sfm_threads: int = -1):
        """`sfm_threads`: COLMAP's threads (-1: every usable CPU; 1 makes SfM repeatable, a little slower)."""
        self.catalog = catalog
        self.store = store
        self.listener = listener
        self.sfm_threads = sfm_threads

    # ---- creating and removing scenes -------------------------------------------------
    def create_scene(self, source: Path, title: str | None = None, options: PipelineOptions | None = None,
                     original_names: dict[str, str] | None = None) -> Scene:
        """Copy a video file or photo folder into `uploads/{id}/` and record a queued scene.

        Every file is kept under a unique safe name; the user's names (`original_names` by file name
        in `source`, else the names there) are kept in `uploads/{id}/names.json` where they differ."""
        source = Path(source)
        kind = input_kind(source)
        original_names = original_names or {}
        scene = Scene(id=new_scene_id(), title=title or Path(original_names.get(source.name, source.name)).stem
                      or source.name, input_kind=kind, options=asdict(options or PipelineOptions()))
        prefix = SceneKeys(scene.id).uploads
        taken: set[str] = set()
        if kind in PROJECT_KINDS:  # kept as laid out: the model names its images by their paths
            relative = project_files(source, kind)
            files = [source / name for name in relative]
        else:
            files = [source] if kind == "video" else photo_files(source)
        folder = {"video": prefix, "photos": f"{prefix}/photos"}.get(kind, f"{prefix}/{PROJECT}")
        names = {}  # stored name -> the user's name
        size = scene.metrics["upload_bytes"] = sum(path.stat().st_size for path in files)  # listing never walks uploads
        try:
            ensure_room(self.store.local_dir(prefix), size, "the upload")
            if kind in PROJECT_KINDS:
                for name, path in zip(relative, files):
                    self.store.put_file(f"{folder}/{name}", path)
            else:
                for path in files:
                    users = original_names.get(path.name, path.name)
                    stored = unique_filename(users, taken)
                    self.store.put_file(f"{folder}/{stored}", path)
                    names[stored] = users
            scene.input_key = f"{folder}/{next(iter(names))}" if kind == "video" else folder
            if any(stored != users for stored, users in names.items()):
                (self.store.local_dir(prefix) / NAMES).write_text(json.dumps(names, ensure_ascii=False, indent=1))
                self.store.save_dir(prefix)
            self.catalog.put(scene)
        except Exception as exc:  # no half-copied upload is left behind: the user still has the original
            self.store.delete_prefix(prefix)
            if is_disk_full(exc):
                raise disk_full(self.store.path(prefix), size, "the upload") from None
            raise
        log.info("created scene %s from %s", scene.id, source)
        return scene

    # ---- running ----------------------------------------------------------------------
    def retry(self, scene_id: str, until: str | None = None) -> Scene:
        """Run a failed, stopped or interrupted scene again from its first unfinished stage."""
        return self.run(scene_id, until)

    def running(self, scene: Scene) -> bool:
        """Whether a live process runs the scene (`scene_api.Runner`)."""
        return is_running(scene)

    def start(self, scene: Scene) -> Scene:
        """Put a failed, stopped or abandoned scene back in the queue for a worker (`scene_api.Runner`;
        see `run_next`)."""
        return self.catalog.update(scene.id, status=Status.QUEUED, worker=None, lease_until=None,
                                   error=None, error_stage=None, message="queued")

    def clean(self, scene_id: str, options: "CleanOptions", progress=None) -> dict:
        """Write a cleaned copy of a completed scene beside it (`outputs/{id}/clean/`, see
        `stages.clean`); returns the report, whose summary the record keeps."""
        from .stages.clean import clean_scene  # renders with torch

        scene = self.catalog.get(scene_id)
        if scene.status != Status.COMPLETED:
            raise InputError(f"scene {scene.id} is {scene.status.value}: only a completed scene can be cleaned")
        k = SceneKeys(scene.id)
        report = clean_scene(self.store.local_dir(k.outputs), self.store.local_dir(k.sfm), options,
                             progress or (lambda fraction, message: None))
        self.store.save_dir(k.outputs)
        self.record_outputs(scene.id, clean={
            "gaussians": report["gaussians"]["after"], "psnr_before": report["psnr"]["before"],
            "psnr_after": report["psnr"]["after"], "crop": report["crop"], "crop_box": report["crop_box"],
            "removed": report["removed"]})
        return report

    def record_outputs(self, scene_id: str, **metrics) -> Scene:
        """After files were added to a finished scene's outputs: its record keeps their sizes (a listing
        reads no files) and `metrics`, merged into the record's as it is now."""
        current = self.catalog.get(scene_id)
        return self.catalog.update(scene_id, metrics={**current.metrics, **metrics,
                                                      "file_bytes": self._file_bytes(SceneKeys(scene_id))})

    def run_next(self) -> Scene | None:
        """Claim and run the oldest queued (or abandoned) scene; None when there is nothing to do."""
        candidates = (self.catalog.list(Status.QUEUED, limit=10_000)
                      + [s for s in self.catalog.list(Status.PROCESSING, limit=10_000) if is_stale(s)])
        for scene in sorted(candidates, key=lambda s: s.created_at):
            try:
                return self.run(scene.id)
            except SceneBusy:
                continue  # another process took it first
        return None

    def run(self, scene_id: str, until: str | None = None) -> Scene:
        """Claim the scene and run its unfinished stages (up to and including `until`).

        Raises SceneBusy if a live process owns it. Returns the final record.
        """
        if until is not None and until not in STAGES:
            raise InputError(f"unknown stage {until!r}; choose one of {', '.join(STAGES)}")
        scene = self.catalog.get(scene_id)
        if scene.status == Status.COMPLETED:
            return scene
        ensure_not_busy(scene)
        me = worker_id()
        try:
            claimed = self.catalog.claim(scene_id, scene, me, time.time() + LEASE_SECONDS)
        except Exception as exc:
            if is_disk_full(exc):
                raise disk_full(self.store.path(SceneKeys(scene_id).uploads), 0, "recording the scene's progress") from None
            raise
        if not claimed:
            raise SceneBusy(f"scene {scene_id} was just claimed by another process")
        lease = _Lease((me, scene.generation + 1))
        scene = self.catalog.get(scene_id)
        options = PipelineOptions.from_dict(scene.options)
        stop = threading.Event()
        heartbeat = threading.Thread(target=self._renew_lease, args=(scene_id, lease, stop), daemon=True)
        heartbeat.start()
        try:
            for stage in STAGES:
                if stage in scene.stages_done:
                    continue
                scene = self._run_stage(scene, stage, options, lease)
                if scene.status == Status.FAILED:
                    return scene
                if stage == until and stage != STAGES[-1]:
                    return self.catalog.update(scene_id, lease.owner, status=Status.STOPPED, worker=None,
                                               lease_until=None, message=f"stopped after {stage}")
            return scene
        finally:
            stop.set()
            heartbeat.join()

    def run_stage(self, scene_id: str, stage: str, overrides: dict | None = None) -> Scene:
        """Run one stage of a scene whose order someone else keeps (Step Functions on AWS).

        A stage already done is skipped, so a retried execution resumes where the last one
        stopped. `overrides` replace scene options where the runner knows better (the GPU job's
        device). Returns the record: `failed` with a readable error if the stage failed.
        """
        if stage not in STAGES:
            raise InputError(f"unknown stage {stage!r}; choose one of {', '.join(STAGES)}")
        scene = self.catalog.get(scene_id)
        if stage in scene.stages_done:
            return scene
        missing = [s for s in STAGES[:STAGES.index(stage)] if s not in scene.stages_done]
        if missing:
            return self._fail(scene, stage, f"the earlier stage(s) {', '.join(missing)} have not run")
        scene = self.catalog.update(scene_id, status=Status.PROCESSING, error=None, error_stage=None)
        return self._run_stage(scene, stage, PipelineOptions.from_dict(scene.options | (overrides or {})))

    def _renew_lease(self, scene_id: str, lease: "_Lease", stop: threading.Event) -> None:
        """Extend the lease while this process still owns the scene; once it does not, flag it (the
        stage stops at its next progress report)."""
        while not stop.wait(LEASE_SECONDS / 3):
            try:
                self.catalog.update(scene_id, lease.owner, lease_until=time.time() + LEASE_SECONDS)
            except (LeaseLost, SceneNotFound) as exc:
                log.warning("%s", exc)
                lease.lost.set()
                return
            except Exception as exc:
                if not is_disk_full(exc):
                    raise
                log.warning("scene %s: could not renew its lease, the disk is full; trying again", scene_id)

    def _run_stage(self, scene: Scene, stage: str, options: PipelineOptions, lease: "_Lease | None" = None) -> Scene:
        """Run one stage and record it. With `lease`, every write is fenced by it: a process that lost
        the scene to another raises LeaseLost at its next progress report, before saving outputs."""
        owner = lease.owner if lease else None
        last_write = [0.0]
        started = time.perf_counter()

        def progress(fraction: float, message: str) -> None:
            if lease and lease.lost.is_set():
                raise lease_lost(scene.id, lease.owner)
            self._notify(stage, fraction, message)
            now = time.monotonic()
            if now - last_write[0] > 0.5 or fraction >= 1.0:
                last_write[0] = now
                eta = seconds_left(time.perf_counter() - started, fraction)
                self.catalog.update(scene.id, owner, progress=round(float(fraction), 4), message=message,
                                    eta_seconds=None if eta is None else round(eta))

        try:
            scene = self.catalog.update(scene.id, owner, stage=stage, progress=0.0, message="starting")
            self._notify(stage, 0.0, "starting")
            updates = getattr(self, f"_stage_{stage}")(scene, options, progress)
        except KeyboardInterrupt:
            self._fail(scene, stage, "interrupted by the user; run `splatlib scenes retry` to continue", owner)
            raise
        except LeaseLost:
            raise
        except DiskFull as exc:  # a stage's own check of the room it needs
            return self._out_of_space(scene, stage, owner, exc)
        except SplatError as exc:
            return self._fail(scene, stage, str(exc), owner)
        except Exception as exc:  # a bug or an environment problem: keep the traceback in the log
            if is_disk_full(exc):
                return self._out_of_space(scene, stage, owner)
            log.exception("stage %s of scene %s failed", stage, scene.id)
            return self._fail(scene, stage, f"{type(exc).__name__}: {exc}", owner)
        metrics = dict(scene.metrics)
        metrics.update(updates.pop("metrics", {}))
        metrics.setdefault("seconds", {})[stage] = round(time.perf_counter() - started, 2)
        try:
            scene = self.catalog.update(scene.id, owner, stages_done=scene.stages_done + [stage], progress=1.0,
                                        message="done", eta_seconds=None, metrics=metrics, **updates)
        except Exception as exc:
            if is_disk_full(exc):  # the catalog's own write
                return self._out_of_space(scene, stage, owner)
            raise
        self._notify(stage, 1.0, "done")
        return scene

    def _fail(self, scene: Scene, stage: str, message: str, owner: Owner | None = None) -> Scene:
        log.warning("scene %s failed in %s: %s", scene.id, stage, message)
        try:
            return self.catalog.update(scene.id, owner, status=Status.FAILED, error=f"{stage} failed: {message}",
                                       error_stage=stage, worker=None, lease_until=None)
        except Exception as exc:
            if is_disk_full(exc):  # not even the failure fits: say it here; the scene can be retried once this process ends
                raise DiskFull(f"{message} (the disk is too full to record that scene {scene.id} failed)") from None
            raise

    def _out_of_space(self, scene: Scene, stage: str, owner: Owner | None, error: DiskFull | None = None) -> Scene:
        """A stage filled the disk: what it had written is removed (it starts again on retry), which
        also leaves room to record the failure, and the scene fails saying how much room it needs."""
        written = 0
        for key in _stage_writes(SceneKeys(scene.id), stage):
            local = self.store.path(key)
            written += local_bytes(local)  # the working copy: a remote store has not saved it yet
            self.store.delete_prefix(key)
            if local.is_dir():  # a remote store's working copy
                shutil.rmtree(local, ignore_errors=True)
            elif local.exists():
                local.unlink()
        error = error or disk_full(self.store.path(SceneKeys(scene.id).uploads), written, f"the {stage} stage")
        log.warning("scene %s: %s", scene.id, error)
        return self._fail(scene, stage, f"{error}; free some space, then retry the scene", owner)

    def _save(self, prefix: str, progress) -> None:
        """Save a stage's outputs; the progress report before it is a fenced write, so a process that
        lost the scene raises there instead of overwriting the new owner's files."""
        progress(1.0, "saving")
        self.store.save_dir(prefix)

    def _notify(self, stage: str, fraction: float, message: str) -> None:
        if self.listener:
            self.listener(stage, fraction, message)

    # ---- the stages, as adapters from the library to local folders ----------------------
    def _stage_frames(self, scene: Scene, options: PipelineOptions, progress) -> dict:
        k = SceneKeys(scene.id)
        source = self.store.local_dir(k.uploads) / Path(scene.input_key).relative_to(k.uploads)
        if scene.input_kind in PROJECT_KINDS:  # its images are the frames; this checks they are all there
            count = len(project_images(source, scene.input_kind))
            progress(1.0, f"{count} images with their cameras: nothing to extract")
            return {"metrics": {"total_frames": count}}
        frames_dir = self.store.local_dir(k.frames)
        manifest = extract_frames(source, frames_dir, FrameOptions(options.fps, options.max_frames,
                                                                   options.sfm_max_size), progress)
        self._save(k.frames, progress)
        return {"metrics": {"total_frames": manifest["count"]}}

    def _stage_sfm(self, scene: Scene, options: PipelineOptions, progress) -> dict:
        k = SceneKeys(scene.id)
        sfm_dir = self.store.local_dir(k.sfm)
        if scene.input_kind in PROJECT_KINDS:
            project = self.store.local_dir(k.uploads) / Path(scene.input_key).relative_to(k.uploads)
            report = import_project(project, sfm_dir, scene.input_kind, options.sfm_max_size, progress)
        else:
            report = run_sfm(self.store.local_dir(k.frames), sfm_dir, scene.input_kind,
                             SfmOptions(matching=options.matching, sfm_max_size=options.sfm_max_size,
                                        first_octave=FEATURES[options.sfm_features],
                                        num_threads=self.sfm_threads), progress)
        self._save(k.sfm, progress)
        return {"metrics": {"total_frames": report["total_frames"],
                            "registered_frames": report["registered_frames"],
                            "points3D": report["points3D"],
                            "mean_reprojection_error": report["mean_reprojection_error"],
                            **({"max_step_ratio": report["max_step_ratio"]} if "max_step_ratio" in report else {})}}

    def _stage_train(self, scene: Scene, options: PipelineOptions, progress) -> dict:
        from .stages.train import TrainOptions, train_gaussians  # torch and numba: only where a stage trains

        k = SceneKeys(scene.id)
        out = self.store.local_dir(k.outputs)
        stale = out / "point_cloud"
        if stale.exists():
            shutil.rmtree(stale)
        spent = sum(scene.metrics.get("seconds", {}).values())
        try:
            report = train_gaussians(self.store.local_dir(k.sfm), out,
                                     TrainOptions(iterations=options.iterations, max_gaussians=options.max_gaussians,
                                                  image_size=options.image_size, sh_degree=options.sh_degree,
                                                  device=options.device, seconds=options.train_seconds(spent)),
                                     progress)
        finally:
            heap.give_back()  # the steps' arrays stayed in the heap for reuse (splatlib.heap)
        self._save(k.outputs, progress)
        ply_key = k.output(report["ply"])
        return {"ply_key": ply_key,
                "metrics": {"psnr": report["psnr"], "ssim": report["ssim"], "file_bytes": self._file_bytes(k),
                            "num_gaussians": report["num_gaussians"], "train_psnr": report["train_psnr"]}}

    def _stage_convert(self, scene: Scene, options: PipelineOptions, progress) -> dict:
        from .stages.export import export_scene  # renders the thumbnail with torch

        k = SceneKeys(scene.id)
        metrics = export_scene(self.store.local_dir(k.outputs), self.store.local_dir(k.sfm),
                               self.store.local_dir(k.frames), progress)
        self._save(k.outputs, progress)
        return {"status": Status.COMPLETED, "completed_at": time.time(), "worker": None, "lease_until": None,
                "splat_key": k.output(SPLAT), "thumbnail_key": k.output(THUMBNAIL),
                "metrics": {"sizes": metrics["sizes"], "file_bytes": self._file_bytes(k)}}

    def _file_bytes(self, k: SceneKeys) -> dict[str, int]:
        """Bytes of each output file by store key, kept in the record so that listing scenes reads no files."""
        out = self.store.local_dir(k.outputs)
        return {k.output(str(f.relative_to(out))): f.stat().st_size for f in sorted(out.rglob("*")) if f.is_file()}
