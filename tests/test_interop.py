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


def _compressed_ply_friendly(n: int, degree: int):
    g = spz_friendly(n, degree)
    g.shN[:] = np.clip(g.shN, -3.9, 3.9)  # the format keeps higher bands within ±4
    return g


def _assert_within_compressed_ply_quantization(back, g):
    """Within the format's steps: positions and log-scales 1/1023 of their chunk's range, colours
    and opacities 1/255 (plus rounding), rotations' small components 1/1023, SH 8/256."""
    span = np.ptp(g.means, axis=0).max()
    assert np.abs(back.means - g.means).max() <= span / 1023 + 1e-4
    assert np.abs(back.scales - g.scales).max() <= np.ptp(g.scales) / 1023 + 1e-4
    assert quat_angle_deg(back.quats, g.quats).max() < 0.3
    sig = lambda x: 1 / (1 + np.exp(-x.astype(np.float64)))  # noqa: E731
    assert np.abs(sig(back.opacities) - sig(g.opacities)).max() <= 0.5 / 255 + 1e-4
    assert np.abs((back.sh0 - g.sh0) * 0.28209479177387814).max() <= 1 / 255
    assert back.shN.shape == g.shN.shape
    assert np.abs(back.shN - g.shN).max(initial=0) <= 8 / 256 + 1e-5


def _nearest(g, means: np.ndarray) -> np.ndarray:
    """For each row of `means`, the index of the Gaussian of `g` at that place (files reorder)."""
    return np.array([int(np.argmin(((g.means - m) ** 2).sum(axis=1))) for m in means])


def test_splat_transform_reads_our_compressed_ply(tmp_path):
    from splatlib.formats.compressed_ply import write_compressed_ply

    g = _compressed_ply_friendly(700, 3)
    write_compressed_ply(tmp_path / "ours.compressed.ply", g)
    splat_transform(str(tmp_path / "ours.compressed.ply"), str(tmp_path / "theirs.ply"))
    back = read_ply(tmp_path / "theirs.ply")
    idx = _nearest(g, back.means)
    assert len(set(idx.tolist())) == len(g)
    _assert_within_compressed_ply_quantization(back, type(g)(*(a[idx] for a in (
        g.means, g.scales, g.quats, g.opacities, g.sh0, g.shN))))


@pytest.mark.parametrize("degree", [0, 3])
def test_we_read_splat_transform_compressed_ply(tmp_path, degree):
    from splatlib.formats.convert import read_any

    g = _compressed_ply_friendly(700, degree)
    write_ply(tmp_path / "in.ply", g)
    splat_transform(str(tmp_path / "in.ply"), str(tmp_path / "theirs.compressed.ply"))
    back = read_any(tmp_path / "theirs.compressed.ply")  # a .ply: told apart by its header
    assert back.sh_degree == degree
    idx = _nearest(g, back.means)
    assert len(set(idx.tolist())) == len(g)
    _assert_within_compressed_ply_quantization(back, type(g)(*(a[idx] for a in (
        g.means, g.scales, g.quats, g.opacities, g.sh0, g.shN))))


def test_splat_transform_reads_our_spz_version_4(tmp_path):
    g = spz_friendly(800, 3)
    write_spz(tmp_path / "ours.spz", g, version=4)
    assert (tmp_path / "ours.spz").read_bytes()[:4] == b"NGSP"  # a plain header, zstd streams after it
    splat_transform(str(tmp_path / "ours.spz"), str(tmp_path / "theirs.ply"))
    assert_within_spz_quantization(read_ply(tmp_path / "theirs.ply"), g, max_rot_deg=0.5)


@pytest.mark.parametrize("degree", [0, 1, 3])
def test_we_read_splat_transform_default_spz_version_4(tmp_path, degree):
    """splat-transform (and SuperSplat) write version 4 by default; older readers fail on it."""
    g = spz_friendly(800, degree)
    write_ply(tmp_path / "in.ply", g)
    splat_transform(str(tmp_path / "in.ply"), str(tmp_path / "theirs.spz"))
    assert (tmp_path / "theirs.spz").read_bytes()[4] == 4  # the version field
    assert_within_spz_quantization(read_spz(tmp_path / "theirs.spz"), g, max_rot_deg=0.5)


def test_splat_transform_reads_our_sog_as_we_do(tmp_path):
    """Both readers decode our bundle to the same numbers, and those are within the format's steps."""
    from splatlib.formats.sog import read_sog, write_sog

    g = spz_friendly(600, 3)
    write_sog(tmp_path / "ours.sog", g)
    splat_transform(str(tmp_path / "ours.sog"), str(tmp_path / "theirs.ply"))
    theirs, ours = read_ply(tmp_path / "theirs.ply"), read_sog(tmp_path / "ours.sog")
    for name in ("means", "scales", "opacities", "sh0", "shN"):
        np.testing.assert_allclose(getattr(theirs, name), getattr(ours, name), atol=1e-5, err_msg=name)
    assert quat_angle_deg(theirs.quats, ours.quats).max() < 0.01
    idx = _nearest(g, ours.means)
    assert len(set(idx.tolist())) == len(g)
    np.testing.assert_allclose(ours.means, g.means[idx], atol=np.ptp(g.means) / 30000)
    assert quat_angle_deg(ours.quats, g.quats[idx]).max() < 0.9


@pytest.mark.parametrize("degree", [0, 2])
def test_we_read_splat_transform_sog(tmp_path, degree):
    from splatlib.formats.sog import read_sog

    g = spz_friendly(300, degree)
    write_ply(tmp_path / "in.ply", g)
    splat_transform("-g", "cpu", str(tmp_path / "in.ply"), str(tmp_path / "theirs.sog"))
    splat_transform(str(tmp_path / "theirs.sog"), str(tmp_path / "their_reading.ply"))
    ours, theirs = read_sog(tmp_path / "theirs.sog"), read_ply(tmp_path / "their_reading.ply")
    assert ours.sh_degree == degree
    for name in ("means", "scales", "opacities", "sh0", "shN"):
        np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), atol=1e-5, err_msg=name)
    assert quat_angle_deg(ours.quats, theirs.quats).max() < 0.01
    idx = _nearest(g, ours.means)
    np.testing.assert_allclose(ours.means, g.means[idx], atol=np.ptp(g.means) / 1000)
