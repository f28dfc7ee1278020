"""PlayCanvas SOG: our writer and reader, their quantisation, and bad files."""

import json
import zipfile

import numpy as np
import pytest

from splatlib.errors import FormatError
from splatlib.formats import Gaussians
from splatlib.formats.compressed_ply import morton_order
from splatlib.formats.ply import write_ply
from splatlib.formats.sog import codebook, encode_sog, palette_size, read_sog, sh_palette, write_sog

from .helpers import quat_angle_deg, random_gaussians


def few_values(n: int, degree: int, seed: int = 0) -> Gaussians:
    """Random Gaussians whose log-scales and colours take at most 256 values, so codebooks hold them."""
    g = random_gaussians(n, degree, seed)
    rng = np.random.default_rng(seed + 1)
    g.scales = rng.choice(np.linspace(-7, 1, 200), size=g.scales.shape).astype(np.float32)
    g.sh0 = rng.choice(np.linspace(-2, 2, 256), size=g.sh0.shape).astype(np.float32)
    return g


def assert_within_sog_steps(back: Gaussians, g: Gaussians) -> None:
    """`back` against `g` (same order): positions to a 16-bit step of their log range, the exact
    codebook values, rotations to the 8-bit steps of the smallest three, opacity to 1/255."""
    logs = np.sign(g.means) * np.log1p(np.abs(g.means))
    step = np.ptp(logs, axis=0) / 65535
    back_logs = np.sign(back.means) * np.log1p(np.abs(back.means))
    assert (np.abs(back_logs - logs) <= step * 0.5 + 1e-6).all()
    np.testing.assert_allclose(back.scales, g.scales, atol=1e-6)
    np.testing.assert_allclose(back.sh0, g.sh0, atol=1e-6)
    assert quat_angle_deg(back.quats, g.quats).max() < 0.9
    sig = lambda x: 1 / (1 + np.exp(-x.astype(np.float64)))  # noqa: E731
    assert np.abs(sig(back.opacities) - sig(g.opacities)).max() <= 0.5 / 255 + 1e-6


@pytest.mark.parametrize("degree", [0, 1, 3])
def test_round_trip_within_the_formats_steps(tmp_path, degree):
    g = few_values(512, degree)  # 512 Gaussians: a palette entry each, so SH only loses its codebook step
    size = write_sog(tmp_path / "a.sog", g)
    assert size == (tmp_path / "a.sog").stat().st_size and zipfile.is_zipfile(tmp_path / "a.sog")
    back = read_sog(tmp_path / "a.sog")
    order = morton_order(g.means)
    same = Gaussians(*(a[order] for a in (g.means, g.scales, g.quats, g.opacities, g.sh0, g.shN)))
    assert len(back) == 512 and back.sh_degree == degree
    assert_within_sog_steps(back, same)
    if degree:
        book = np.array(json.loads(zipfile.ZipFile(tmp_path / "a.sog").read("meta.json"))["shN"]["codebook"])
        nearest = book[np.abs(same.shN[..., None] - book).argmin(axis=-1)]
        np.testing.assert_allclose(back.shN, nearest, atol=1e-6)


def test_the_folder_form_reads_like_the_bundle(tmp_path):
    g = few_values(300, 2)
    write_sog(tmp_path / "a.sog", g)
    folder = tmp_path / "folder"
    zipfile.ZipFile(tmp_path / "a.sog").extractall(folder)
    a, b = read_sog(tmp_path / "a.sog"), read_sog(folder / "meta.json")
    for name in ("means", "scales", "quats", "opacities", "sh0", "shN"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))


def test_images_are_a_multiple_of_four_and_hold_every_gaussian():
    from io import BytesIO

    from PIL import Image

    for n in (1, 17, 1000, 4097):
        files = encode_sog(random_gaussians(n, 0))
        w, h = Image.open(BytesIO(files["means_l.webp"])).size
        assert w % 4 == 0 and h % 4 == 0 and w * h >= n and json.loads(files["meta.json"])["count"] == n


def test_codebook_is_exact_for_few_values_and_beats_even_steps_for_many():
    values = np.repeat(np.linspace(-3, 2, 256), 7).astype(np.float32)
    book, idx = codebook(values)
    np.testing.assert_allclose(book[idx], values, atol=1e-6)
    normal = np.random.default_rng(0).normal(size=200_000).astype(np.float32)
    book, idx = codebook(normal)
    assert idx.dtype == np.uint8 and idx.shape == normal.shape and (np.diff(book) >= 0).all()
    even = np.linspace(normal.min(), normal.max(), 256)
    even_idx = np.clip(np.rint((normal - normal.min()) / np.ptp(normal) * 255), 0, 255).astype(int)
    even_err = ((even[even_idx] - normal) ** 2).mean()
    assert ((book[idx] - normal) ** 2).mean() < 0.75 * even_err


def test_sh_palette_finds_clusters_and_keeps_labels_in_range():
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(64, 9)).astype(np.float32)
    x = centres[rng.integers(0, 64, 20_000)] + rng.normal(scale=1e-3, size=(20_000, 9)).astype(np.float32)
    palette, labels = sh_palette(x, 256)
    assert len(palette) <= 256 and labels.dtype == np.uint16 and labels.max() < len(palette)
    assert np.abs(palette[labels] - x).max() < 0.05
    assert [palette_size(n) for n in (1_000_000, 3000, 512, 100)] == [65536, 2048, 512, 64]


def test_bad_sogs_are_format_errors(tmp_path):
    with pytest.raises(FormatError, match="at least one"):
        write_sog(tmp_path / "x.sog", random_gaussians(0, 0))
    g = random_gaussians(50, 1)
    g.means[3, 1] = np.nan
    with pytest.raises(FormatError, match="means are not finite"):
        write_sog(tmp_path / "x.sog", g)
    files = encode_sog(random_gaussians(200, 1))

    def bundle(name: str, **changes) -> str:
        with zipfile.ZipFile(tmp_path / name, "w") as z:
            for member, data in {**files, **changes}.items():
                if data is not None:
                    z.writestr(member, data)
        return str(tmp_path / name)

    meta = json.loads(files["meta.json"])
    cases = [
        (bundle("a.sog", **{"quats.webp": None}), "has no quats.webp"),
        (bundle("b.sog", **{"scales.webp": b"not an image"}), "scales.webp is not a readable image"),
        (bundle("c.sog", **{"meta.json": json.dumps({**meta, "version": 3})}), "version 3 is not supported"),
        (bundle("d.sog", **{"meta.json": json.dumps({**meta, "count": 10 ** 6})}), "fewer than"),
        (bundle("e.sog", **{"meta.json": json.dumps({**meta, "shN": {**meta["shN"], "count": 2}})}),
         "point past"),
        (bundle("f.sog", **{"meta.json": b"{"}), "not a valid SOG"),
        (bundle("g.sog", **{"meta.json": json.dumps({**meta, "sh0": {"files": ["sh0.webp"]}})}), "not a valid SOG"),
    ]
    for path, message in cases:
        with pytest.raises(FormatError, match=message):
            read_sog(path)
    (tmp_path / "meta.json").write_text(json.dumps({**meta, "means": {**meta["means"], "files": ["../x", "y"]}}))
    with pytest.raises(FormatError, match="is not beside it"):
        read_sog(tmp_path / "meta.json")


def test_sog_from_the_cli_and_back(tmp_path):
    from splatlib.cli import main
    from splatlib.formats.convert import read_any

    g = random_gaussians(3000, 3)
    write_ply(tmp_path / "a.ply", g)
    assert main(["convert", str(tmp_path / "a.ply"), str(tmp_path / "b.sog")]) == 0
    assert (tmp_path / "b.sog").stat().st_size < (tmp_path / "a.ply").stat().st_size / 4
    assert main(["convert", str(tmp_path / "b.sog"), str(tmp_path / "c.ply")]) == 0
    back = read_any(tmp_path / "c.ply")
    assert len(back) == 3000 and back.sh_degree == 3
    assert np.abs(np.sort(back.means, axis=0) - np.sort(g.means, axis=0)).max() < 1e-3
