"""Our files read by an independent implementation: PlayCanvas splat-transform (npm)."""

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from splatlib.formats.ply import read_ply, write_ply
from splatlib.formats.splat import write_splat
from splatlib.formats.spz import read_spz, write_spz
from tests.helpers import assert_within_spz_quantization, quat_angle_deg, spz_friendly

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "node_modules" / ".bin" / "splat-transform"

pytestmark = pytest.mark.skipif(shutil.which("node") is None or not TOOL.exists(),
                                reason="node or @playcanvas/splat-transform missing: run `npm ci`")


def splat_transform(*args: str) -> None:
    subprocess.run([str(TOOL), "-q", "-w", *args], check=True, capture_output=True, timeout=120)


def sort_like_splat(g):
    sig = 1 / (1 + np.exp(-g.opacities.astype(np.float64)))
    return np.argsort(-(np.exp(g.scales.astype(np.float64).sum(1)) * sig), kind="stable")


def test_splat_transform_reads_our_spz(tmp_path):
    g = spz_friendly(800, 3)
    write_spz(tmp_path / "ours.spz", g)
    splat_transform(str(tmp_path / "ours.spz"), str(tmp_path / "theirs.ply"))
    assert_within_spz_quantization(read_ply(tmp_path / "theirs.ply"), g, max_rot_deg=0.5)


def test_splat_transform_honours_fewer_fractional_bits(tmp_path):
    g = spz_friendly(200, 0)
    g.means[0] = [5000.0, -3.0, 7.5]  # beyond ±2048: written with 10 fractional bits
    write_spz(tmp_path / "far.spz", g)
    splat_transform(str(tmp_path / "far.spz"), str(tmp_path / "theirs.ply"))
    assert np.abs(read_ply(tmp_path / "theirs.ply").means - g.means).max() <= 0.5 / 1024 + 2.5e-4


def test_we_read_splat_transform_spz(tmp_path):
    g = spz_friendly(800, 3)
    write_ply(tmp_path / "in.ply", g)
    splat_transform(str(tmp_path / "in.ply"), str(tmp_path / "theirs.spz"), "--spz-version", "3")
    assert_within_spz_quantization(read_spz(tmp_path / "theirs.spz"), g, max_rot_deg=0.5)


def test_splat_transform_reads_our_splat(tmp_path):
    g = spz_friendly(800, 0)
    write_splat(tmp_path / "ours.splat", g)
    splat_transform(str(tmp_path / "ours.splat"), str(tmp_path / "theirs.ply"))
    back = read_ply(tmp_path / "theirs.ply")
    order = sort_like_splat(g)
    np.testing.assert_allclose(back.means, g.means[order], atol=1e-6)
    np.testing.assert_allclose(back.scales, g.scales[order], atol=1e-4)
    np.testing.assert_allclose(back.sh0, g.sh0[order], atol=0.6 / (255 * 0.28209479177387814))
    sig = 1 / (1 + np.exp(-g.opacities[order]))
    np.testing.assert_allclose(1 / (1 + np.exp(-back.opacities)), sig, atol=0.6 / 255)
    # our own decoder, (u - 128) / 128 as web viewers do, is within 1° (test_formats); splat-transform
    # decodes the rotation bytes its own way and lands up to ~1.5° away
    assert quat_angle_deg(back.quats, g.quats[order]).max() < 2.0
