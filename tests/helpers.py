"""Helpers the test modules share (imported, not collected): stage fault injection, the fast
pipeline settings, generated Gaussians, the Terraform provider mirror."""

from __future__ import annotations

import importlib
import os
import socket
import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np

from splatlib.formats import Gaussians
from splatlib.media import ffmpeg_exe
from splatlib.pipeline import PipelineOptions

ROOT = Path(__file__).resolve().parents[1]
INFRA = ROOT / "infra"

FAST = PipelineOptions(fps=3.0, iterations=150, image_size=160, max_gaussians=4000, sfm_max_size=480)
"""Settings for the end-to-end tests: seconds per scene, not quality."""

HELD_OUT_PSNR_FLOOR = 12.5  # dB after 150 steps at 160 px on the synthetic orbit (untrained: ~11)


class Boom(RuntimeError):
    pass


STAGE_FUNCTIONS = {"frames": ("splatlib.pipeline", "extract_frames"), "sfm": ("splatlib.pipeline", "run_sfm"),
                   "train": ("splatlib.stages.train", "train_gaussians"),
                   "convert": ("splatlib.stages.export", "export_scene")}
"""Where the runner finds each stage's function (train and convert are imported when they run)."""


def count_stage_calls(monkeypatch) -> dict[str, int]:
    """Wrap each stage function the runner calls; the dict counts the calls by stage."""
    calls = dict.fromkeys(STAGE_FUNCTIONS, 0)
    for stage, (module, name) in STAGE_FUNCTIONS.items():
        real = getattr(importlib.import_module(module), name)

        def counting(*args, _real=real, _stage=stage, **kwargs):
            calls[_stage] += 1
            return _real(*args, **kwargs)
        monkeypatch.setattr(importlib.import_module(module), name, counting)
    return calls


def explode(*args, **kwargs):
    """A stage function that fails the way a bug would."""
    raise Boom("disk on fire")


def make_stage_fail(monkeypatch, stage: str) -> None:
    """Make `stage` raise Boom when the runner calls it."""
    module, name = STAGE_FUNCTIONS[stage]
    monkeypatch.setattr(importlib.import_module(module), name, explode)


def random_gaussians(n: int, degree: int, seed: int = 0) -> Gaussians:
    rng = np.random.default_rng(seed)
    bands = (degree + 1) ** 2 - 1
    return Gaussians(means=rng.normal(size=(n, 3)).astype(np.float32),
                     scales=rng.normal(-3, 1, size=(n, 3)).astype(np.float32),
                     quats=rng.normal(size=(n, 4)).astype(np.float32),
                     opacities=rng.normal(size=n).astype(np.float32),
                     sh0=rng.normal(size=(n, 3)).astype(np.float32),
                     shN=rng.normal(size=(n, bands, 3)).astype(np.float32))


def quat_angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return np.degrees(2 * np.arccos(np.clip(np.abs((a * b).sum(1)), 0, 1)))


def assert_within_spz_quantization(back: Gaussians, g: Gaussians, max_rot_deg: float) -> None:
    np.testing.assert_allclose(back.means, g.means, atol=0.5 / 4096 + 1e-6)
    np.testing.assert_allclose(back.scales, g.scales, atol=0.5 / 16 + 1e-6)
    np.testing.assert_allclose(back.sh0, g.sh0, atol=0.5 / (0.15 * 255) + 1e-5)
    sig = 1 / (1 + np.exp(-g.opacities))
    sig_back = 1 / (1 + np.exp(-back.opacities))
    np.testing.assert_allclose(sig_back, sig, atol=0.5 / 255 + 1e-5)
    assert quat_angle_deg(back.quats, g.quats).max() < max_rot_deg
    np.testing.assert_allclose(back.shN, g.shN, atol=8.5 / 128 + 1e-6)  # 4-bit buckets of rounded bytes


def spz_friendly(n: int, degree: int) -> Gaussians:
    g = random_gaussians(n, degree, seed=5)
    g.sh0 *= 0.5  # inside the representable colour range
    g.shN = np.clip(g.shN * 0.3, -0.9, 0.9)
    return g


@lru_cache(maxsize=1)
def provider_mirror() -> Path | None:
    """The local Terraform provider mirror: $TF_PLUGIN_MIRROR, else found as the developers' guide says."""
    if os.environ.get("TF_PLUGIN_MIRROR"):
        return Path(os.environ["TF_PLUGIN_MIRROR"])
    found = subprocess.run(["find", "/", "-name", "terraform-provider-aws*", "-not", "-path", "/proc/*"],
                           capture_output=True, text=True).stdout.split()
    for binary in map(Path, found):  # <root>/registry.terraform.io/hashicorp/aws/<version>/<os_arch>/<binary>
        if len(binary.parents) > 5 and binary.parents[4].name == "registry.terraform.io":
            return binary.parents[5]
    return None


def ffmpeg(*args: str) -> None:
    """Run the bundled ffmpeg quietly (to make odd test inputs)."""
    subprocess.run([ffmpeg_exe(), "-y", "-loglevel", "error", *args], check=True)


def free_port() -> int:
    """A loopback port free now, for a server a test starts."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
