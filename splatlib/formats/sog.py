"""PlayCanvas SOG version 2 (`.sog`, what SuperSplat and splat-transform trade), read and written.

A SOG is a `meta.json` and lossless WebP images in which pixel i (row-major) holds Gaussian i,
Gaussians in Morton order: `means_l`/`means_u` the low and high bytes of each position's 16-bit
fraction of its axis's range (after sign(x)·ln(1+|x|)); `quats` the three smallest components of
the rotation (×√2, mapped to bytes) and 252 + the index of the largest; `scales` and `sh0`'s RGB
bytes index 256-entry codebooks (log-scales, DC colours), `sh0`'s alpha is the opacity after the
sigmoid; higher SH bands as a palette (`shN_centroids`, each centroid's coefficients as bytes into
a third codebook, 64 centroids per row) and a 16-bit palette index per Gaussian (`shN_labels`).
We write the bundled form, one ZIP holding those files; we read it and the folder form
(a `meta.json` with its images beside it).

The codebooks come from 1D k-means over a fine histogram of the values, and the SH palette from a
two-level k-means (coarse clusters, then each split in proportion to its size) on numpy's BLAS:
a palette as large as splat-transform's (up to 65,536 entries) in seconds for 1M Gaussians
on a CPU (splat-transform's own writer needs a GPU to be quick).
"""

from __future__ import annotations

import io
import json
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from ..threads import usable_cpus

from ..errors import FormatError
from .compressed_ply import morton_order
from .gaussians import Gaussians

VERSION = 2
_FILES = {"means": ["means_l.webp", "means_u.webp"], "scales": ["scales.webp"], "quats": ["quats.webp"],
          "sh0": ["sh0.webp"], "shN": ["shN_centroids.webp", "shN_labels.webp"]}
_SMALLEST = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
_CENTROIDS_PER_ROW = 64
_PALETTE_ITERATIONS = 6
_WEBP_MAX_SIDE = 16383


def palette_size(n: int) -> int:
    """Entries of the SH palette for `n` Gaussians: splat-transform's rule (1,024 × the largest power
    of two up to n / 1,024, at most 64), never more than n."""
    power = 2.0 ** np.floor(np.log2(max(n, 1) / 1024))
    return int(max(1, min(n, min(64.0, power) * 1024)))


def encode_sog(g: Gaussians, seed: int = 0) -> dict[str, bytes]:
    """The files of a SOG for `g`: `meta.json` and its WebP images, by name."""
    n = len(g)
    if n == 0:
        raise FormatError("a SOG needs at least one Gaussian")
    for name in ("means", "scales", "quats", "opacities", "sh0", "shN"):
        if not np.isfinite(getattr(g, name)).all():
            raise FormatError(f"{name} are not finite")
    order = morton_order(g.means)
    width = -(-int(np.ceil(np.sqrt(n))) // 4) * 4  # both sides multiples of 4, as splat-transform's
    height = -(-n // (width * 4)) * 4
    if width > _WEBP_MAX_SIDE:
        raise FormatError(f"{n:,} Gaussians is more than a SOG's WebP images can hold")

    def image(channels: list[np.ndarray]) -> np.ndarray:
        rgba = np.zeros((width * height, 4), np.uint8)
        for i, c in enumerate(channels):
            rgba[:n, i] = c
        rgba[:n, len(channels):] = 255
        return rgba.reshape(height, width, 4)

    images: dict[str, np.ndarray] = {}
    means = _log_transform(g.means[order].astype(np.float64))
    low, high = means.min(axis=0), means.max(axis=0)
    span = np.where(high - low > 0, high - low, 1.0)
    q = np.clip(np.rint((means - low) / span * 65535), 0, 65535).astype(np.uint16)
    images["means_l.webp"] = image([q[:, i] & 0xFF for i in range(3)])
    images["means_u.webp"] = image([q[:, i] >> 8 for i in range(3)])
    images["quats.webp"] = image(_pack_quats(g.quats[order].astype(np.float64)))
    scale_book, scale_idx = codebook(g.scales[order])
    images["scales.webp"] = image([scale_idx[:, i] for i in range(3)])
    colour_book, colour_idx = codebook(g.sh0[order])
    alpha = np.rint(255 / (1 + np.exp(-g.opacities[order].astype(np.float64))))
    images["sh0.webp"] = image([*(colour_idx[:, i] for i in range(3)), alpha.astype(np.uint8)])
    meta = {"version": VERSION, "asset": {"generator": "splatlib"}, "count": n,
            "means": {"mins": low.tolist(), "maxs": high.tolist(), "files": _FILES["means"]},
            "scales": {"codebook": scale_book.tolist(), "files": _FILES["scales"]},
            "quats": {"files": _FILES["quats"]},
            "sh0": {"codebook": colour_book.tolist(), "files": _FILES["sh0"]}}
    coeffs = g.shN.shape[1]
    if coeffs:
        centroids, labels = sh_palette(g.shN[order].reshape(n, -1), palette_size(n), seed)
        sh_book, sh_idx = codebook(centroids)
        k = len(centroids)
        rows = -(-k // _CENTROIDS_PER_ROW)
        cells = np.zeros((rows * _CENTROIDS_PER_ROW * coeffs, 4), np.uint8)
        cells[:k * coeffs, :3] = sh_idx.reshape(k * coeffs, 3)  # each centroid: its coefficients' RGB, in a run
        cells[:k * coeffs, 3] = 255
        images["shN_centroids.webp"] = cells.reshape(rows, _CENTROIDS_PER_ROW * coeffs, 4)
        images["shN_labels.webp"] = image([labels & 0xFF, labels >> 8, np.zeros(n, np.uint8)])
        meta["shN"] = {"count": k, "bands": g.sh_degree, "codebook": sh_book.tolist(), "files": _FILES["shN"]}
    with ThreadPoolExecutor(usable_cpus()) as pool:  # libwebp lets go of the GIL while it encodes
        files = dict(zip(images, pool.map(_webp, images.values())))
    files["meta.json"] = json.dumps(meta).encode()
    return files


def write_sog(path: Path, g: Gaussians) -> int:
    """Write `g` as a bundled SOG (one ZIP); returns the bytes written."""
    files = encode_sog(g)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:  # WebP is compressed already
        for name, data in files.items():
            z.writestr(name, data)
    Path(path).write_bytes(buf.getvalue())
    return buf.tell()


def read_sog(path: Path) -> Gaussians:
    """Read a bundled `.sog`, or a `meta.json` with its images beside it (Gaussians in file order)."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            members = {Path(name).name: name for name in z.namelist()}

            def load(name: str) -> bytes:
                if name not in members:
                    raise FormatError(f"{path.name}: the SOG has no {name}")
                return z.read(members[name])

            return decode_sog(load)

    def load_beside(name: str) -> bytes:
        if Path(name).name != name or not (path.parent / name).is_file():
            raise FormatError(f"{path.name}: the SOG's {name!r} is not beside it")
        return (path.parent / name).read_bytes()

    return decode_sog(load_beside, meta_bytes=path.read_bytes())


def decode_sog(load, meta_bytes: bytes | None = None) -> Gaussians:
    """Gaussians from a SOG's files, fetched by name through `load`."""
    try:
        meta = json.loads(meta_bytes if meta_bytes is not None else load("meta.json"))
        n = int(meta["count"])
        version = meta.get("version")
        if version != VERSION:
            raise FormatError(f"SOG version {version or 1} is not supported (version {VERSION} is)")

        def pixels(name: str, need: int = n) -> np.ndarray:
            try:
                img = np.asarray(Image.open(io.BytesIO(load(name))).convert("RGBA"))
            except OSError as exc:
                raise FormatError(f"the SOG's {name} is not a readable image: {exc}") from None
            flat = img.reshape(-1, 4)
            if len(flat) < need:
                raise FormatError(f"the SOG's {name} holds {len(flat):,} pixels, fewer than its {need:,} entries")
            return flat

        lo, hi = (pixels(name)[:n, :3].astype(np.uint32) for name in meta["means"]["files"][:2])
        low, high = np.array(meta["means"]["mins"], np.float64), np.array(meta["means"]["maxs"], np.float64)
        span = np.where(high - low != 0, high - low, 1.0)
        means = _inverse_log_transform(low + span * ((lo | hi << 8) / 65535))
        quats = _unpack_quats(pixels(meta["quats"]["files"][0])[:n])
        scales = _lookup(meta["scales"]["codebook"], pixels(meta["scales"]["files"][0])[:n, :3])
        sh0_px = pixels(meta["sh0"]["files"][0])[:n]
        sh0 = _lookup(meta["sh0"]["codebook"], sh0_px[:, :3])
        alpha = np.clip(sh0_px[:, 3] / 255, 1e-6, 1 - 1e-6)
        shN = np.zeros((n, 0, 3), np.float32)
        if meta.get("shN"):
            coeffs = {1: 3, 2: 8, 3: 15}[int(meta["shN"]["bands"])]
            k = int(meta["shN"]["count"])
            cells = pixels(meta["shN"]["files"][0], 0)
            if len(cells) < k * coeffs:
                raise FormatError(f"the SOG's SH palette holds {len(cells) // coeffs:,} entries, not {k:,}")
            palette = _lookup(meta["shN"]["codebook"], cells[:k * coeffs, :3]).reshape(k, coeffs, 3)
            label_px = pixels(meta["shN"]["files"][1])[:n]
            labels = label_px[:, 0].astype(np.int64) | label_px[:, 1].astype(np.int64) << 8
            if labels.max(initial=0) >= k:
                raise FormatError(f"the SOG's SH labels point past its {k:,}-entry palette")
            shN = palette[labels]
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise FormatError(f"not a valid SOG: {type(exc).__name__}: {exc}") from None
    return Gaussians(means=means.astype(np.float32), scales=scales, quats=quats.astype(np.float32),
                     opacities=np.log(alpha / (1 - alpha)).astype(np.float32), sh0=sh0, shN=shN)


def codebook(values: np.ndarray, size: int = 256) -> tuple[np.ndarray, np.ndarray]:
    """A sorted codebook of `size` floats for `values` and each value's nearest entry (uint8, same
    shape), from 1D k-means (Lloyd's) over a 65,536-bin histogram, started where the asymptotically
    best quantiser puts its levels (density ∝ the values' density^(1/3))."""
    v = values.astype(np.float64).ravel()
    low, high = float(v.min()), float(v.max())
    bins = 1 << 16
    cell = np.minimum(((v - low) / max(high - low, 1e-30) * bins).astype(np.int64), bins - 1)
    weight = np.bincount(cell, minlength=bins).astype(np.float64)
    total = np.bincount(cell, weights=v, minlength=bins)
    used = weight > 0
    centre, weight = total[used] / weight[used], weight[used]
    if len(centre) <= size:
        book = centre
    else:
        cdf = np.cumsum(np.cbrt(weight))  # density^(1/3): the spacing that minimises squared error
        book = np.unique(centre[np.searchsorted(cdf, (np.arange(size) + 0.5) / size * cdf[-1])])
        for _ in range(100):
            label = np.searchsorted((book[1:] + book[:-1]) / 2, centre)
            w = np.bincount(label, weights=weight, minlength=len(book))
            s = np.bincount(label, weights=weight * centre, minlength=len(book))
            new = np.where(w > 0, s / np.maximum(w, 1e-300), book)
            if np.abs(new - book).max() <= 1e-7 * max(high - low, 1e-30):
                book = new
                break
            book = new
    book = np.concatenate([book, np.full(size - len(book), book[-1])]).astype(np.float32)
    index = np.searchsorted((book[1:].astype(np.float64) + book[:-1]) / 2, v)
    return book, np.minimum(index, size - 1).astype(np.uint8).reshape(values.shape)


def sh_palette(x: np.ndarray, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """At most `k` centroids for the rows of `x` and each row's label (uint16): k-means into about
    √k coarse clusters (fitted on a sample), then k-means inside each with a share of `k`
    proportional to its size."""
    x = np.ascontiguousarray(x, np.float32)
    n = len(x)
    if n <= k:
        return x.copy(), np.arange(n, dtype=np.uint16)
    rng = np.random.default_rng(seed)
    coarse_k = max(1, int(np.sqrt(k * _PALETTE_ITERATIONS) // 2))  # balances assigning all rows to coarse
    sample = x[rng.choice(n, min(n, 64 * coarse_k), replace=False)]  # centres against the fine passes
    coarse = _kmeans(sample, coarse_k, rng, 10)
    group = _nearest(x, coarse)
    members = np.argsort(group, kind="stable")
    sizes = np.bincount(group, minlength=coarse_k)
    shares = np.where(sizes > 0, np.maximum(1, (k - coarse_k) * sizes // n), 0)
    centroids, labels, start, base = [], np.empty(n, np.uint16), 0, 0
    for size, share in zip(sizes.tolist(), shares.tolist()):
        if size == 0:
            continue
        rows = members[start:start + size]
        start += size
        c = _kmeans(x[rows], min(share, size), rng, _PALETTE_ITERATIONS)
        labels[rows] = base + _nearest(x[rows], c)
        centroids.append(c)
        base += len(c)
    return np.concatenate(centroids), labels


def _kmeans(x: np.ndarray, k: int, rng: np.random.Generator, iterations: int) -> np.ndarray:
    """Lloyd's k-means from `k` distinct random rows; an emptied cluster keeps its centre."""
    c = x[rng.choice(len(x), k, replace=False)].copy()
    for _ in range(iterations):
        label = _nearest(x, c)
        order = np.argsort(label, kind="stable")
        counts = np.bincount(label, minlength=k)
        filled = counts > 0
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[filled]
        c[filled] = np.add.reduceat(x[order], starts, axis=0) / counts[filled, None]
    return c


def _nearest(x: np.ndarray, c: np.ndarray, block: int = 1 << 15) -> np.ndarray:
    """Index of the nearest row of `c` for each row of `x` (squared distance through one GEMM)."""
    norms = (c * c).sum(axis=1)
    out = np.empty(len(x), np.int64)
    for s in range(0, len(x), block):
        d = x[s:s + block] @ c.T
        d *= -2
        d += norms
        out[s:s + block] = d.argmin(axis=1)
    return out


def _log_transform(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


def _inverse_log_transform(v: np.ndarray) -> np.ndarray:
    return np.sign(v) * np.expm1(np.abs(v))


def _pack_quats(q: np.ndarray) -> list[np.ndarray]:
    """Rotations (w x y z) as the three smallest components' bytes and the tag 252 + largest."""
    norm = np.linalg.norm(q, axis=1, keepdims=True)
    q = np.where(norm > 0, q / np.where(norm > 0, norm, 1), [1.0, 0, 0, 0])
    largest = np.abs(q).argmax(axis=1)
    q = q * np.where(np.take_along_axis(q, largest[:, None], 1) < 0, -1.0, 1.0)
    small = np.take_along_axis(q, _SMALLEST[largest], 1) * np.sqrt(2)
    packed = np.clip(np.rint((small * 0.5 + 0.5) * 255), 0, 255).astype(np.uint8)
    return [packed[:, 0], packed[:, 1], packed[:, 2], (252 + largest).astype(np.uint8)]


def _unpack_quats(px: np.ndarray) -> np.ndarray:
    tag = px[:, 3].astype(np.int64)
    valid = (tag >= 252) & (tag <= 255)
    largest = np.where(valid, tag - 252, 0)
    small = (px[:, :3] / 255 * 2 - 1) / np.sqrt(2)
    q = np.zeros((len(px), 4))
    np.put_along_axis(q, _SMALLEST[largest], small, axis=1)
    big = np.sqrt(np.maximum(0.0, 1 - (small ** 2).sum(axis=1)))
    np.put_along_axis(q, largest[:, None], big[:, None], axis=1)
    q[~valid] = [1.0, 0, 0, 0]  # as splat-transform reads a bad tag: no rotation
    return q


def _lookup(book, idx: np.ndarray) -> np.ndarray:
    book = np.asarray(book, np.float32)
    if len(book) != 256:
        raise FormatError(f"a SOG codebook has {len(book)} entries, not 256")
    return book[idx]


def _webp(rgba: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "WEBP", lossless=True, quality=50, method=2, exact=True)
    return buf.getvalue()
