"""Structure from motion with COLMAP (pycolmap): frames in, an undistorted PINHOLE model out.

Output layout in `out_dir`: `sparse/{cameras,images,points3D}.bin` and `images/` (undistorted),
plus `report.json` with the registration figures.
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from ..errors import ReconstructionError
from ..layout import SFM_REPORT
from ..options import default
from ..space import ensure_room
from ..threads import usable_cpus
from . import Progress, no_progress

if TYPE_CHECKING:
    import pycolmap

log = logging.getLogger(__name__)

COARSE, FINE = 0, -1  # SIFT's first octave: the image as it is, or upsampled 2× (COLMAP's default)


@dataclass(frozen=True)
class SfmOptions:
    matching: str = default("matching")  # one of options.MATCHINGS
    sfm_max_size: int = default("sfm_max_size")
    max_features: int = 8192
    first_octave: int = FINE  # SIFT's first octave: FINE (-1, COLMAP's default) or COARSE (0); see FEATURES
    sequential_overlap: int = 5  # video: each frame is matched with the next 5, nothing further (see below)
    min_registered_fraction: float = 0.5
    num_threads: int = -1  # -1: the CPUs this process may use; 1: the same model every run (COLMAP is not
    # deterministic on several threads: the demo's 3 runs on 2 gave 3 models, on 1 the same one 3 times)


def _choose_matching(options: SfmOptions, kind: str, count: int) -> str:
    if options.matching != "auto":
        return options.matching
    return "exhaustive" if kind == "photos" and count <= 60 else "sequential"


FEATURES = {"auto": FINE, "fine": FINE, "coarse": COARSE}  # user-facing names of `SfmOptions.first_octave`
"""`auto` is the fine features for every input. Coarse ones (3× faster to extract, half the points)
cost held-out quality downstream: 1.3 dB on the 50-frame benchmark video after a brief training,
and on the demo video from 15.0 to 19.5 dB in an outside measurement (a sparse start that
sometimes misplaces held-out views) — for 2 s saved of a one-minute run. `coarse` stays a choice."""


@dataclass(frozen=True)
class _Trial:
    """One way of mapping: which matches, whether EXIF focal lengths are trusted, and how strict."""

    label: str | None  # None: the default; otherwise what the report names as the fallback
    matching: str
    focal_prior: bool
    relaxed: bool


def _trials(matching: str) -> list[_Trial]:
    """The default, then fallbacks in order, each tried only while the trials so far place under 90%.

    Mapping takes seconds once features are matched, so the fallbacks reuse the matches: relaxed
    thresholds for the initial pair and for adding frames (forward walks and short baselines fail
    COLMAP's defaults: on lund, 2–6 of 29 frames placed, 29 of 29 relaxed), then also without the
    EXIF focal length (often wrong on edited or cropped photos). Then a video's frames are matched
    across the pieces its next-5 pairs left unlinked (`_Colmap.pieces`; fox as a video: 589 pairs
    instead of every one of 1,225, 285.8 against 297.5 s end to end at 31.63 dB both, 2026-12-05),
    and only then every pair. `run_sfm` skips a trial whose matches cannot place more than the best.
    """
    other = "exhaustive" if matching == "sequential" else "sequential"
    across = [_Trial("pairs across the pieces next-5 matching left apart, relaxed thresholds, focal length "
                     "estimated", "across", False, True)] if matching == "sequential" else []
    return [_Trial(None, matching, True, False),
            _Trial("relaxed mapper thresholds", matching, True, True),
            _Trial("relaxed thresholds, focal length estimated (EXIF ignored)", matching, False, True),
            *across,
            _Trial(f"{other} matching, relaxed thresholds, focal length estimated", other, False, True)]


ENOUGH_PLACED = 0.9


def run_sfm(frames_dir: Path, out_dir: Path, kind: str = "video", options: SfmOptions = SfmOptions(),
            progress: Progress = no_progress) -> dict:
    """Register the frames in `frames_dir` and write the undistorted model to `out_dir`.

    While fewer than 90% of the frames are placed, fallbacks run (see `_trials`); the model with
    the most frames is kept and the report names the fallback that made it. Raises
    ReconstructionError when too few frames can be placed.
    """
    import pycolmap  # here, not at the top: the CLI and the API start without it

    pycolmap.logging.minloglevel = 0 if log.isEnabledFor(logging.INFO) else 2  # COLMAP's own log follows ours
    frames_dir, out_dir = Path(frames_dir), Path(out_dir)
    names = sorted(p.name for p in frames_dir.glob("frame_*.jpg"))
    total = len(names)
    seconds: dict[str, float] = {}
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    with tempfile.TemporaryDirectory(prefix="splatlib-sfm-") as tmp:
        colmap = _Colmap(frames_dir, names, kind, options, seconds, progress, Path(tmp))
        best = models = chosen = None
        runs: list[dict] = []
        seeds = PAIR if kind == "video" else (0,)  # a video is mapped twice at once (see REMAPS, PAIR)
        tried: set[tuple] = set()
        for i, trial in enumerate(_trials(_choose_matching(options, kind, total))):
            same_as = (colmap.database(trial.matching), trial.focal_prior and colmap.has_focal_prior(trial.matching),
                       trial.relaxed)
            if same_as in tried:
                continue  # e.g. "ignore the EXIF focal length" when there is none
            if best is not None and colmap.reachable(trial.matching) <= best.num_reg_images():
                log.info("skipping %s: its matches link at most the %d frames placed already",
                         trial.label, best.num_reg_images())
                continue
            if trial.label:
                log.info("placed %s of %d frames; trying: %s", best.num_reg_images() if best else 0, total,
                         trial.label)
            tried.add(same_as)
            trial_runs = [r for r in colmap.map(trial, Path(tmp) / f"trial-{i}", seeds) if r]
            top = max(trial_runs, key=lambda r: _largest(r).num_reg_images(), default=None)
            if top is not None and (best is None or _largest(top).num_reg_images() > best.num_reg_images()):
                runs, models, best, chosen = trial_runs, top, _largest(top), trial
            if best is not None and best.num_reg_images() >= ENOUGH_PLACED * total:
                break
        registered = best.num_reg_images() if best is not None else 0
        if registered < max(3, options.min_registered_fraction * total):
            raise ReconstructionError(_placement_message(registered, total))
        remaps, kept, mappings = 0, None, None
        if kind == "video":
            models, best, remaps, kept, mappings = _map_again(colmap, chosen, runs, Path(tmp))
            registered = best.num_reg_images()

        progress(0.95, "undistorting images")
        frame_bytes = sum(f.stat().st_size for f in frames_dir.iterdir() if f.is_file())
        seconds["undistort"] = write_undistorted(best, frames_dir, frame_bytes, out_dir, Path(tmp))
    report = {
        "features": "SIFT from the 2x upsampled frame" if options.first_octave == FINE else "SIFT at frame resolution",
        "matching": chosen.matching,
        "fallback": chosen.label,
        "total_frames": total,
        "registered_frames": registered,
        "models": len(models),
        "remaps": remaps,
        **model_figures(best),
        "seconds": {k: round(v, 3) for k, v in seconds.items()},
    }
    if kept is not None:
        ratio = report["max_step_ratio"] = kept["max_step_ratio"]
        report["mappings"] = mappings
        if ratio > JUMPY and any(_same(kept, m) for m in mappings if m is not kept):
            log.info("the camera path has a step %.1f× the median, and two mappings found it alike: frames "
                     "missing from the clip, or a fast move", ratio)
        elif ratio > JUMPY:
            log.warning("the camera path jumps (largest step %.1f× the median): some frames may be misplaced", ratio)
    (out_dir / SFM_REPORT).write_text(json.dumps(report, indent=1))
    progress(1.0, f"placed {registered} of {total} frames")
    return report


JUMPY = 4.0
"""A video's camera moves smoothly: a step between consecutive placed frames this many times the
median step means a frame placed on the wrong part of the path (seen on the demo video with
long-range matching: 5.6×, 7× and 240000×; 1.4× once matching kept to near neighbours), unless two
mappings found the same model (see SAME_FOCAL)."""


REMAPS = 5
"""A video is mapped at least twice (two seeds at once, see PAIR), and again, two more seeds at a
time, while no smooth model has another mapping that agrees with it (`_agree`) and no two mappings
found the same model (`_same`), at most this many times beyond the first; the model kept is ranked
by `_rank`. Three runs of 40 mappings of the demo's frames (`benchmarks/bench_mappings.py`,
2026-12-04): 6, 10 and 6 were poor, most with fewer 3D points than every good one (1,371-2,970 against 3,259-3,534); most jumped, but 1, 4 and 1 had a smooth
path (largest step 1.4-4.0× the median, as good ones have) and an off camera (focal 341-412 px
against 430-431). Trained the same way, poor models held out 14.0 and 14.6 dB where good ones held
out 23.8 and 24.3 dB (the poor ones' training views reached only 15-18 dB: the poses disagree); the
ledger met one once in 15 demo runs (16.7 dB). Nothing in one model gives it away, and a pipeline
run once kept a smooth model at focal 409 px with 3,512 points; but good mappings agree with each
other, and poor ones rarely do. A mapping is 1.8-3 s of the demo's 5-10 s of SfM."""

PAIR = (0, 1)
"""A video's mappings run two at a time, each in its own thread with half the CPUs (pycolmap releases
the GIL; a mapping keeps about one core busy). `benchmarks/bench_sfm_videos.py --rounds 3` on 2 CPUs,
2026-12-04, against one mapping after another: fountain_p11 as a video 10.4-12.3 s of mapping
against 18.3-20.9 s; the demo 1.5-6.0 against 2.3-9.5 s; lund as a video 20.2-31.1 against 31.7-36.1 s.
A mapping's result does not depend on what runs beside it: on one thread, each of 30 seeds gave the
same model alone and in a pair. On the same matches, mappings two at once (one thread each) were
poor no more often than one at a time on two threads: 8 and 6 of 30 against 7 and 16
(`benchmarks/bench_mappings.py --at-once 1,2`)."""

AGREE_FOCAL = 0.02  # good mappings of the demo: focal 430.1-431.3 px; poor ones 120-425 (two jumpy ones 430-431)
AGREE_POINTS = 0.10  # good: 3,259-3,534 points; poor: 1,371-2,970 (and the one above, 3,512)

SAME_FOCAL, SAME_POINTS, SAME_PATH = 0.001, 0.002, 0.05
"""Two mappings this close in focal length, 3D points and largest step (`max_step_ratio`) found the
same model (`_same`). A path with a long step is mapped again (see JUMPY), but a real capture can
have one: the fox capture's 50 phone frames (`bench_quality.py --scenes fox-video`, 2026-12-05) step
9.9x the median where 17 frames of the clip are missing, and all six of its mappings found one model
(24,303-24,305 points, focal 1154.5-1154.6 px, the same step): 115 s of mapping where the first two
took about 40 s. Poor mappings differ from each other: of the demo's 28 poor ones in
`benchmarks/results/demo-mappings-2026-12-04.txt` and `demo-mappings-2026-12-05.txt` (120 mappings),
the closest to another mapping were 0.38% apart in focal length, 0.16% in points and 6.6x against
22.1x in largest step; and 0.31%, 1.6%, 19.0x against 2.7x."""


def _near(x: float, y: float, tolerance: float) -> bool:
    return max(x, y) <= (1 + tolerance) * min(x, y)


def _agree(a: dict, b: dict, focal: float = AGREE_FOCAL, points: float = AGREE_POINTS) -> bool:
    """Whether two mappings' figures (`_mapping_figures`) describe the same solution: as many frames,
    focal lengths within `focal` of each other and 3D points within `points`."""
    return (a["registered_frames"] == b["registered_frames"] and _near(a["focal_px"], b["focal_px"], focal)
            and _near(a["points3D"], b["points3D"], points))


def _same(a: dict, b: dict) -> bool:
    """Whether two mappings found the same model (see SAME_FOCAL), whatever its path."""
    return _agree(a, b, SAME_FOCAL, SAME_POINTS) and _near(a["max_step_ratio"], b["max_step_ratio"], SAME_PATH)


def _rank(figures: dict, others: list[dict]) -> tuple:
    """How a video's mapping ranks among `others` (higher is better): frames placed; a smooth path
    (see JUMPY); another mapping agreeing with it (see REMAPS); 3D points; a smoother path."""
    return (figures["registered_frames"], figures["max_step_ratio"] <= JUMPY,
            any(_agree(figures, other) for other in others), figures["points3D"], -figures["max_step_ratio"])


def _map_again(colmap: "_Colmap", trial: "_Trial", runs: list[dict],
               tmp: Path) -> tuple[dict, object, int, dict, list[dict]]:
    """Map a video again, two seeds at a time, until a smooth model has another mapping that agrees
    with it (see REMAPS), or another mapping found the same model (`_same`) whatever its path; `runs`
    are the mappings so far. Returns (models, the model kept, how many mappings ran beyond the first,
    that model's figures, and each mapping's figures in seed order, the kept one among them)."""
    def mapping(models: dict) -> tuple:
        model = _largest(models)
        return models, model, _mapping_figures(model, max_step_ratio(model))

    done = [mapping(models) for models in runs]
    seeds = len(PAIR)  # the trial mapped these seeds; mappings that placed nothing are not in `runs`
    while True:
        kept = max(done, key=lambda run: _rank(run[2], [r[2] for r in done if r is not run]))
        ratio = kept[2]["max_step_ratio"]
        others = [r[2] for r in done if r is not kept]
        if (ratio <= JUMPY and any(_agree(kept[2], o) for o in others)) or any(_same(kept[2], o) for o in others) \
                or seeds > REMAPS:
            break
        batch = tuple(range(seeds, min(seeds + len(PAIR), REMAPS + 1)))
        if ratio > JUMPY:
            log.warning("the camera path jumps (largest step %.1f× the median): mapping again (%d of %d)",
                        ratio, batch[-1], REMAPS)
        else:
            log.info("no two mappings agree yet: mapping again (%d of %d)", batch[-1], REMAPS)
        done += [mapping(models) for models in colmap.map(trial, tmp / f"remap-{seeds}", batch) if models]
        seeds += len(batch)
    return kept[0], kept[1], seeds - 1, kept[2], [r[2] for r in done]


def _mapping_figures(model: "pycolmap.Reconstruction", ratio: float) -> dict:
    """One mapping's figures for the report: frames placed, points, path smoothness, focal length."""
    camera = next(iter(model.cameras.values()))
    return {"registered_frames": model.num_reg_images(), "points3D": model.num_points3D(),
            "max_step_ratio": ratio, "focal_px": round(float(camera.mean_focal_length()), 1)}


def max_step_ratio(model: "pycolmap.Reconstruction") -> float:
    """Largest distance between the centres of consecutive placed frames, over the median distance."""
    images = sorted(model.images.values(), key=lambda im: im.name)
    if len(images) < 3:
        return 1.0
    centres = np.array([im.projection_center() for im in images])
    steps = np.linalg.norm(np.diff(centres, axis=0), axis=1)
    return round(float(steps.max() / max(float(np.median(steps)), 1e-9)), 2)


def _largest(models: dict) -> "pycolmap.Reconstruction | None":
    return max(models.values(), key=lambda r: r.num_reg_images()) if models else None


class _Colmap:
    """COLMAP over one set of frames: features once, matches once per strategy, then mapping trials."""

    def __init__(self, frames_dir: Path, names: list[str], kind: str, options: SfmOptions,
                 seconds: dict[str, float], progress: Progress, workdir: Path):
        self.frames_dir, self.names, self.kind = frames_dir, names, kind
        self.options, self.seconds, self.progress, self.workdir = options, seconds, progress, workdir
        self.threads = options.num_threads if options.num_threads > 0 else usable_cpus()
        self._features: Path | None = None  # database with features
        self._matched: dict[str, tuple[Path, bool]] = {}  # matching -> (database, had a focal prior)
        self._pieces: dict[str, list[list[str]]] = {}  # matching -> its pieces (a database, once made, stays)

    def _timed(self, step: str, t0: float) -> None:
        self.seconds[step] = self.seconds.get(step, 0.0) + time.perf_counter() - t0

    def _extract(self) -> Path:
        import pycolmap  # here, not at the top: the CLI and the API start without it
        if self._features is None:
            t0 = time.perf_counter()
            self.progress(0.02, "extracting features")
            db = self._features = self.workdir / "features.db"
            extraction = pycolmap.FeatureExtractionOptions()
            extraction.max_image_size = self.options.sfm_max_size
            extraction.num_threads = self.threads
            extraction.sift.max_num_features = self.options.max_features
            extraction.sift.first_octave = self.options.first_octave
            reader = pycolmap.ImageReaderOptions()
            reader.camera_model = "SIMPLE_RADIAL"
            groups = camera_groups(self.frames_dir, self.names) if self.kind == "photos" else [self.names]
            for group in groups:  # one shared camera per group
                pycolmap.extract_features(db, self.frames_dir, image_names=group,
                                          camera_mode=pycolmap.CameraMode.SINGLE, reader_options=reader,
                                          extraction_options=extraction, device=pycolmap.Device.cpu)
            self._timed("features", t0)
        return self._features

    def database(self, matching: str) -> Path:
        """The database with features and `matching` matches, made once (see `_database`)."""
        return self._database(matching)[0]

    def _database(self, matching: str) -> tuple[Path, bool]:
        """The database with features and `matching` matches (made once), and whether it has a focal prior.

        `across` is the next-5 matches and every pair of frames they leave in different pieces
        (`pieces`), or the next-5 database itself where they link every frame.
        """
        import pycolmap  # here, not at the top: the CLI and the API start without it
        if matching in self._matched:
            return self._matched[matching]
        if matching == "across" and len(self.pieces("sequential")) == 1:
            self._matched[matching] = self._matched["sequential"]
            return self._matched[matching]
        db = self.workdir / f"{matching}.db"
        # COLMAP skips the pairs a database has matched already, and a video's next-5 pairs are
        # among all pairs: fox as a video matched every pair in 60 s from them, 70 s afresh
        # (2026-12-05); so do the pairs across pieces. Not the other way: a photo set falls back to
        # next-5 pairs to leave out the look-alike pairs that matching all brought in.
        start = None
        if matching == "across":
            start = self._matched["sequential"][0]
        elif matching == "exhaustive":
            start = next((self._matched[m][0] for m in ("across", "sequential") if m in self._matched), None)
        shutil.copyfile(start or self._extract(), db)
        t0 = time.perf_counter()
        self.progress(0.25, "matching across the pieces" if matching == "across" else f"{matching} matching")
        match_opts = pycolmap.FeatureMatchingOptions()
        match_opts.num_threads = self.threads
        if matching == "sequential":
            pairing = pycolmap.SequentialPairingOptions()
            pairing.overlap = self.options.sequential_overlap
            # Only near neighbours in time. With 10 neighbours and COLMAP's quadratic overlap (frames
            # 2^k apart too), the demo video matched frames seconds apart that see look-alike
            # textures, and 3 of 3 runs placed some frames on the wrong part of the orbit (largest
            # step between consecutive frames 5.6×, 7× and 240000× the median; training then
            # fitted contradictory views: 15-16 dB held-out in 2 of 5 pipeline runs). With the
            # next 5 frames only: 3 of 3 smooth (largest step 1.4× the median), and more points.
            pairing.quadratic_overlap = False
            pairing.loop_detection = False  # needs a vocabulary download; never offline
            pycolmap.match_sequential(db, matching_options=match_opts, pairing_options=pairing,
                                      device=pycolmap.Device.cpu)
        elif matching == "across":
            pieces = self.pieces("sequential")
            listed = self.workdir / "across-pairs.txt"
            listed.write_text("".join(f"{a} {b}\n" for k, piece in enumerate(pieces) for other in pieces[k + 1:]
                                      for a in piece for b in other))
            pairing = pycolmap.ImportedPairingOptions()
            pairing.match_list_path = listed
            pycolmap.match_image_pairs(db, matching_options=match_opts, pairing_options=pairing,
                                       device=pycolmap.Device.cpu)
        else:
            pycolmap.match_exhaustive(db, matching_options=match_opts, device=pycolmap.Device.cpu)
        self._timed("matching", t0)
        self._matched[matching] = (db, _drop_focal_priors(db, keep=True))
        return self._matched[matching]

    def pieces(self, matching: str) -> list[list[str]]:
        """The frames `matching`'s verified pairs link, as sets of names, largest first: no mapping of
        these matches can place more than the largest, whatever its thresholds. The fox capture as a
        video (50 frames, 17 of the clip's missing after the 31st) is two pieces under next-5
        matching, 31 | 19 frames: relaxed thresholds cannot join them, pairs across them can."""
        if matching not in self._pieces:
            self._pieces[matching] = self._linked(self.database(matching))
        return self._pieces[matching]

    @staticmethod
    def _linked(db_path: Path) -> list[list[str]]:
        """The frames of a database linked by its verified pairs, as sets of names, largest first."""
        import pycolmap  # here, not at the top: the CLI and the API start without it
        db = pycolmap.Database.open(str(db_path))
        try:
            pair_ids, inliers = db.read_two_view_geometry_num_inliers()
            names = {image.image_id: image.name for image in db.read_all_images()}
        finally:
            db.close()
        parent = {i: i for i in names}

        def root(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i
        for pair_id, count in zip(pair_ids, inliers):
            if count:
                a, b = pycolmap.pair_id_to_image_pair(pair_id)
                parent[root(a)] = root(b)
        pieces: dict[int, list[str]] = {}
        for i in sorted(names, key=names.get):
            pieces.setdefault(root(i), []).append(names[i])
        return sorted(pieces.values(), key=len, reverse=True)

    def reachable(self, matching: str) -> int:
        """The most frames one mapping of `matching`'s matches can place (see `pieces`)."""
        pieces = self.pieces(matching)
        return len(pieces[0]) if pieces else 0

    def has_focal_prior(self, matching: str) -> bool:
        """Whether any camera of the frames has an EXIF focal length."""
        return self._database(matching)[1]

    def map(self, trial: _Trial, out: Path, seeds: tuple[int, ...] = (0,)) -> list[dict]:
        """Incremental mapping for one trial, once per seed, the seeds at once in threads; returns each
        seed's models. Each mapping reads its own copy of the database: two COLMAP mappings opening one
        database at once failed to open it once in two tries here."""
        import pycolmap  # here, not at the top: the CLI and the API start without it
        db, _ = self._database(trial.matching)
        t0 = time.perf_counter()
        self.progress(0.5, "mapping" if trial.label is None else f"mapping ({trial.label})")

        def mapper(seed: int) -> "pycolmap.IncrementalPipelineOptions":
            options = pycolmap.IncrementalPipelineOptions()
            options.num_threads = max(1, self.threads // len(seeds))
            options.random_seed = seed
            # keep points seen in only two frames (COLMAP drops them by default): training starts from
            # these points, and regions that only two views see get a start too. On one fountain_p11
            # feature database, 13,976 -> 23,081 points and held-out PSNR 21.79 -> 25.19 dB after the
            # same training; lund 5,010 points where a run without had 1,799 (the README's ledger)
            options.triangulation.ignore_two_view_tracks = False
            if trial.relaxed:
                options.mapper.init_min_num_inliers = 50  # default 100
                options.mapper.abs_pose_min_num_inliers = 15  # default 30
            return options

        placed = [0]
        expected = len(self.names) * len(seeds)
        lock = threading.Lock()

        def on_next_image() -> None:
            with lock:
                placed[0] += 1
                self.progress(0.5 + 0.4 * min(1.0, placed[0] / max(expected, 1)),
                              f"placing frames ({placed[0]} tried)")

        def one(seed: int) -> dict:
            where = out / f"seed-{seed}"
            where.mkdir(parents=True)
            copy = where / "database.db"
            shutil.copyfile(db, copy)
            try:
                if not trial.focal_prior:
                    _drop_focal_priors(copy, keep=False)
                return pycolmap.incremental_mapping(copy, self.frames_dir, where, options=mapper(seed),
                                                    next_image_callback=on_next_image)
            finally:
                copy.unlink()  # up to 6 copies of a large scene's matches would otherwise stay until the end

        if len(seeds) == 1:
            models = [one(seeds[0])]
        else:
            with ThreadPoolExecutor(len(seeds)) as pool:
                models = list(pool.map(one, seeds))
        self._timed("mapping", t0)
        return models


def _drop_focal_priors(db_path: Path, keep: bool) -> bool:
    """Whether any camera had an EXIF focal prior; unless `keep`, reset those to 1.2 × the long side."""
    import pycolmap  # here, not at the top: the CLI and the API start without it
    db = pycolmap.Database.open(str(db_path))
    try:
        cameras = db.read_all_cameras()
        had_prior = any(c.has_prior_focal_length for c in cameras)
        if not keep:
            for cam in cameras:
                if cam.has_prior_focal_length:
                    cam.params = [1.2 * max(cam.width, cam.height), cam.width / 2, cam.height / 2, 0.0]
                    cam.has_prior_focal_length = False
                    db.update_camera(cam)
    finally:
        db.close()
    return had_prior


def camera_groups(frames_dir: Path, names: list[str]) -> list[list[str]]:
    """Photos grouped by what makes a distinct camera: image size, EXIF camera model and focal length."""
    groups: dict[tuple, list[str]] = {}
    for name in names:
        with Image.open(Path(frames_dir) / name) as im:
            exif = im.getexif()
            focal = exif.get_ifd(0x8769).get(0x920A)  # Exif IFD: FocalLength
            key = (im.size, exif.get(0x0110), str(focal))  # 0x0110: Model
        groups.setdefault(key, []).append(name)
    return list(groups.values())


def write_undistorted(model: "pycolmap.Reconstruction", images_dir: Path, image_bytes: int, out_dir: Path,
                      work: Path) -> float:
    """Undistort `model`'s images (in `images_dir`, `image_bytes` in all) into `out_dir` as `sparse/`
    and `images/`, without COLMAP's stereo folder and scripts; `work` is a scratch folder. Returns
    the seconds taken."""
    import pycolmap

    t0 = time.perf_counter()
    model_dir = work / "undistort-input"
    model_dir.mkdir()
    model.write(model_dir)
    # COLMAP's JPEG writer ends the whole process when the disk fills (libjpeg's exit()), so the
    # room is checked first: undistorted images take about twice the images' bytes
    ensure_room(out_dir, 3 * image_bytes, "the undistorted images")
    pycolmap.undistort_images(out_dir, model_dir, images_dir, output_type="COLMAP")
    nested = out_dir / "sparse" / "0"  # COLMAP may write sparse/0/: normalise to sparse/
    if nested.is_dir():
        for f in nested.iterdir():
            f.rename(out_dir / "sparse" / f.name)
        nested.rmdir()
    for junk in ("stereo", "run-colmap-geometric.sh", "run-colmap-photometric.sh"):
        path = out_dir / junk
        shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
    return time.perf_counter() - t0


def model_figures(model: "pycolmap.Reconstruction") -> dict:
    """The report's figures of a sparse model: points, mean reprojection error, mean track length."""
    return {"points3D": model.num_points3D(),
            "mean_reprojection_error": float(model.compute_mean_reprojection_error()),
            "mean_track_length": float(model.compute_mean_track_length())}


def _placement_message(registered: int, total: int) -> str:
    return (f"only {registered} of {total} frames could be placed; the camera must move around the "
            "scene and the frames must overlap (move slowly, avoid blank walls and motion blur)")
