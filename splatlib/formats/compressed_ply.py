"""PlayCanvas's compressed PLY (`.compressed.ply`, SuperSplat's export), read and written.

Gaussians in chunks of 256 (in a spatial order, so a chunk is small): per chunk, the float bounds
of positions, log-scales and base colours; per Gaussian, four uint32 words: position and
log-scale as 11-10-11-bit fractions of the chunk's bounds, the rotation as its three smallest
components at 10 bits (sign and index of the largest in 2 bits), and the colour (0.5 + SH_C0·DC,
within the chunk's bounds) and opacity (after the sigmoid) at 8 bits each. Higher SH bands, if
any, are one byte each, mapping [-4, 4]. Four to five times smaller than the INRIA PLY.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import FormatError
from .gaussians import Gaussians

CHUNK = 256
SH_C0 = 0.28209479177387814
_CHUNK_PROPS = ["min_x", "min_y", "min_z", "max_x", "max_y", "max_z",
                "min_scale_x", "min_scale_y", "min_scale_z", "max_scale_x", "max_scale_y", "max_scale_z",
                "min_r", "min_g", "min_b", "max_r", "max_g", "max_b"]
_VERTEX_PROPS = ["packed_position", "packed_rotation", "packed_scale", "packed_color"]
_SQRT1_2 = np.sqrt(0.5)


def is_compressed_ply(path: Path) -> bool:
    """Whether `path` is a PLY whose header declares the compressed layout's `chunk` element."""
    with open(path, "rb") as f:
        head = f.read(4096)
    return head.startswith(b"ply") and b"\nelement chunk " in head


def write_compressed_ply(path: Path, g: Gaussians) -> None:
    """Write `g` as a compressed PLY (reordered along a Morton curve)."""
    n = len(g)
    if n == 0:
        raise FormatError("a compressed PLY needs at least one Gaussian")
    if not np.isfinite(g.means).all():
        raise FormatError("positions are not finite")
    order = morton_order(g.means)
    chunks = -(-n // CHUNK)
    padded = np.concatenate([order, np.full(chunks * CHUNK - n, order[-1])])  # the last repeats, as theirs

    def by_chunk(a: np.ndarray) -> np.ndarray:
        return a[padded].astype(np.float64).reshape(chunks, CHUNK, -1)

    means = by_chunk(g.means)
    scales = np.clip(by_chunk(g.scales), -20, 20)
    colours = by_chunk(g.sh0) * SH_C0 + 0.5
    bounds, words = [], []
    for values, bits in ((means, (11, 10, 11)), (scales, (11, 10, 11)), (colours, (8, 8, 8))):
        low, high = values.min(axis=1, keepdims=True), values.max(axis=1, keepdims=True)
        span = high - low
        t = np.where(span < 1e-5, 0.0, (values - low) / np.where(span < 1e-5, 1.0, span))
        bounds += [low[:, 0], high[:, 0]]
        words.append(t)
    position = _pack(words[0], (11, 10, 11))
    scale = _pack(words[1], (11, 10, 11))
    alpha = 1 / (1 + np.exp(-by_chunk(g.opacities[:, None])))
    colour = _pack(np.concatenate([words[2], alpha], axis=2), (8, 8, 8, 8))
    rotation = _pack_rotation(by_chunk(g.quats))
    chunk_table = np.concatenate(bounds, axis=1).astype("<f4")
    vertex = np.stack([position, rotation, scale, colour], axis=2).reshape(-1, 4)[:n].astype("<u4")
    bands = g.shN.shape[1]
    header = ["ply", "format binary_little_endian 1.0", "comment written by splatlib",
              f"element chunk {chunks}", *(f"property float {p}" for p in _CHUNK_PROPS),
              f"element vertex {n}", *(f"property uint {p}" for p in _VERTEX_PROPS)]
    if bands:
        header += [f"element sh {n}", *(f"property uchar f_rest_{i}" for i in range(3 * bands))]
    with open(path, "wb") as f:
        f.write(("\n".join(header) + "\nend_header\n").encode("ascii"))
        f.write(chunk_table.tobytes())
        f.write(vertex.tobytes())
        if bands:  # f_rest in the INRIA order: channel by channel, bands within
            rest = g.shN[order].transpose(0, 2, 1).reshape(n, 3 * bands).astype(np.float64)
            f.write(np.clip(np.trunc((rest / 8 + 0.5) * 256), 0, 255).astype(np.uint8).tobytes())


def read_compressed_ply(path: Path) -> Gaussians:
    """Read a compressed PLY; FormatError if it is not one."""
    path = Path(path)
    with open(path, "rb") as f:
        elements, fmt = [], None
        while True:
            line = f.readline()
            if not line:
                raise FormatError(f"{path.name}: the PLY header has no end_header")
            words = line.decode("ascii", "replace").split()
            if not words or words[0] == "comment":
                continue
            if words[0] == "end_header":
                break
            try:
                if words[0] == "format":
                    fmt = words[1]
                elif words[0] == "element":
                    elements.append((words[1], int(words[2]), []))
                elif words[0] == "property" and elements:
                    elements[-1][2].append((words[2], words[1]))
            except (IndexError, ValueError):
                raise FormatError(f"{path.name}: malformed PLY header line {line[:80]!r}") from None
        start = f.tell()
    if fmt != "binary_little_endian":
        raise FormatError(f"{path.name}: only binary_little_endian PLY is supported, not {fmt}")
    found = {name: (count, props) for name, count, props in elements}
    chunk, vertex = found.get("chunk"), found.get("vertex")
    if chunk is None or vertex is None or [p for p, _ in vertex[1]] != _VERTEX_PROPS \
            or [p for p, _ in chunk[1]][:12] != _CHUNK_PROPS[:12] or len(chunk[1]) not in (12, 18):
        raise FormatError(f"{path.name} is not a compressed PLY (chunk and packed vertex elements)")
    n, chunks = vertex[0], chunk[0]
    if chunks != -(-n // CHUNK):
        raise FormatError(f"{path.name}: {chunks} chunks do not hold {n} Gaussians")
    bands = len(found["sh"][1]) // 3 if "sh" in found else 0
    if bands not in (0, 3, 8, 15):
        raise FormatError(f"{path.name}: {3 * bands} SH coefficients do not match a degree 0-3")
    sizes = [chunks * len(chunk[1]) * 4, n * 16, n * 3 * bands]
    raw = path.read_bytes()[start:]
    if len(raw) < sum(sizes):
        raise FormatError(f"{path.name} is truncated")
    table = np.frombuffer(raw, "<f4", chunks * len(chunk[1])).reshape(chunks, -1).astype(np.float64)
    words = np.frombuffer(raw, "<u4", n * 4, sizes[0]).reshape(n, 4)
    c = np.arange(n) // CHUNK

    def lerp(packed: np.ndarray, first: int, bits: tuple[int, ...]) -> np.ndarray:
        t = _unpack(packed, bits)
        low, high = table[c, first:first + 3], table[c, first + 3:first + 6]
        return low * (1 - t) + high * t

    means = lerp(words[:, 0], 0, (11, 10, 11))
    scales = lerp(words[:, 2], 6, (11, 10, 11))
    rgba = _unpack(words[:, 3], (8, 8, 8, 8))
    colours = lerp(words[:, 3] >> 8, 12, (8, 8, 8)) if len(chunk[1]) == 18 else rgba[:, :3]
    alpha = np.clip(rgba[:, 3], 1e-6, 1 - 1e-6)
    shN = np.zeros((n, bands, 3), np.float32)
    if bands:
        q = np.frombuffer(raw, np.uint8, n * 3 * bands, sizes[0] + sizes[1]).reshape(n, 3, bands).astype(np.float64)
        unit = np.where(q == 0, 0.0, np.where(q == 255, 1.0, (q + 0.5) / 256))
        shN = ((unit - 0.5) * 8).transpose(0, 2, 1).astype(np.float32)
    return Gaussians(means=means.astype(np.float32), scales=scales.astype(np.float32),
                     quats=_unpack_rotation(words[:, 1]).astype(np.float32),
                     opacities=np.log(alpha / (1 - alpha)).astype(np.float32),
                     sh0=((colours - 0.5) / SH_C0).astype(np.float32), shN=shN)


def _pack(t: np.ndarray, bits: tuple[int, ...]) -> np.ndarray:
    """Fractions [..., k] in [0, 1] packed into uint32, the first in the highest bits."""
    word = np.zeros(t.shape[:-1], np.uint64)
    for i, b in enumerate(bits):
        top = (1 << b) - 1
        word = (word << np.uint64(b)) | np.clip(np.floor(t[..., i] * top + 0.5), 0, top).astype(np.uint64)
    return word.astype(np.uint32)


def _unpack(word: np.ndarray, bits: tuple[int, ...]) -> np.ndarray:
    """Inverse of `_pack` for the low sum(bits) bits of `word`: fractions [..., k]."""
    out, shift = [], sum(bits)
    for b in bits:
        shift -= b
        out.append(((word.astype(np.uint64) >> np.uint64(shift)) & np.uint64((1 << b) - 1)) / ((1 << b) - 1))
    return np.stack(out, axis=-1)


def _pack_rotation(quats: np.ndarray) -> np.ndarray:
    """Unit quaternions (the PLY's rot_0..3 order) [..., 4]: the index of the largest component in
    the top 2 bits, the other three (the largest made positive) at 10 bits each."""
    q = quats / np.linalg.norm(quats, axis=-1, keepdims=True)
    largest = np.abs(q).argmax(axis=-1)
    q = q * np.where(np.take_along_axis(q, largest[..., None], -1) < 0, -1.0, 1.0)
    others = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])[largest]
    small = np.take_along_axis(q, others, -1) * _SQRT1_2 + 0.5
    return (_pack(small, (10, 10, 10)).astype(np.uint64) | (largest.astype(np.uint64) << np.uint64(30))).astype(np.uint32)


def _unpack_rotation(word: np.ndarray) -> np.ndarray:
    small = (_unpack(word, (10, 10, 10)) - 0.5) / _SQRT1_2
    largest = (word >> 30).astype(np.int64)
    big = np.sqrt(np.maximum(0.0, 1 - (small ** 2).sum(axis=1)))
    q = np.empty((len(word), 4))
    others = np.array([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])[largest]
    np.put_along_axis(q, others, small, axis=1)
    np.put_along_axis(q, largest[:, None], big[:, None], axis=1)
    return q


def morton_order(means: np.ndarray) -> np.ndarray:
    """Indices sorting the positions along a 3D Morton (Z-order) curve at 10 bits per axis."""
    low, high = means.min(axis=0), means.max(axis=0)
    cells = np.clip((means - low) / np.maximum(high - low, 1e-12) * 1023, 0, 1023).astype(np.uint64)
    code = np.zeros(len(means), np.uint64)
    for bit in range(10):
        for axis in range(3):
            code |= ((cells[:, axis] >> np.uint64(bit)) & np.uint64(1)) << np.uint64(3 * bit + (2 - axis))
    return np.argsort(code, kind="stable")
