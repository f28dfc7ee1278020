"""The `.splat` format (antimatter15 layout) read by web viewers: 32 bytes per Gaussian, no header.

position 3×float32 | exp(scale) 3×float32 | RGBA 4×uint8 | rotation w x y z 4×uint8 as q/|q|·128+128.
Bytes are rounded to nearest (truncation would cost up to 1.5° of rotation).
Rows are sorted by exp(s0+s1+s2)·sigmoid(opacity), largest first (ties in input order, so output is deterministic).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import FormatError
from .gaussians import Gaussians

SH_C0 = 0.28209479177387814
ROW = np.dtype([("pos", "<f4", 3), ("scale", "<f4", 3), ("rgba", "u1", 4), ("rot", "u1", 4)])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def sort_order(g: Gaussians) -> np.ndarray:
    """Row order of `.splat`: exp(s0+s1+s2)·sigmoid(opacity) descending, the key rounded to float32,
    ties in input order. One sort of unique uint64 values (key bits above the row index) is about
    twice as fast as a stable argsort, and gives the same order."""
    key = (-(np.exp(g.scales.astype(np.float64).sum(1)) * _sigmoid(g.opacities.astype(np.float64)))).astype(np.float32)
    bits = key.view(np.uint32)
    bits = np.where(bits & 0x80000000, ~bits, bits | 0x80000000)  # float order -> unsigned integer order
    packed = (bits.astype(np.uint64) << 32) | np.arange(len(key), dtype=np.uint64)
    packed.sort()
    return (packed & 0xFFFFFFFF).astype(np.intp)


def encode_splat(g: Gaussians) -> bytes:
    """Encode Gaussians into `.splat` bytes (vectorised): rows in input order, then one gather of 32-byte rows."""
    n = len(g)
    rows = np.empty((n, 8), "<f4")  # 6 floats, then 8 bytes seen through the same memory
    rows[:, 0:3] = g.means
    rows[:, 3:6] = np.exp(g.scales.astype(np.float64))
    raw = rows.view(np.uint8)
    raw[:, 24:27] = np.clip(np.rint((0.5 + SH_C0 * g.sh0.astype(np.float64)) * 255), 0, 255)
    raw[:, 27] = np.clip(np.rint(_sigmoid(g.opacities.astype(np.float64)) * 255), 0, 255)
    q = g.quats.astype(np.float64)
    q *= 128 / np.maximum(np.sqrt(np.einsum("ij,ij->i", q, q)), 1e-12)[:, None]
    q += 128
    raw[:, 28:32] = np.clip(np.rint(q, out=q), 0, 255)
    if n > 2 ** 32 - 1:
        raise FormatError(f"{n} Gaussians are more than a .splat writer can sort")
    return np.take(rows.view(np.uint64), sort_order(g), axis=0).tobytes()


def write_splat(path: Path, g: Gaussians) -> int:
    """Write `g` as `.splat`; returns the number of bytes written."""
    data = encode_splat(g)
    Path(path).write_bytes(data)
    return len(data)


def read_splat(path: Path) -> Gaussians:
    """Read a `.splat` file back into raw parameters (SH degree 0)."""
    raw = Path(path).read_bytes()
    if len(raw) % ROW.itemsize:
        raise FormatError(f"{Path(path).name}: size {len(raw)} is not a multiple of 32 bytes")
    rows = np.frombuffer(raw, dtype=ROW)
    alpha = np.clip(rows["rgba"][:, 3].astype(np.float64) / 255, 1e-6, 1 - 1e-6)
    return Gaussians(
        means=rows["pos"].astype(np.float32),
        scales=np.log(np.maximum(rows["scale"].astype(np.float64), 1e-30)).astype(np.float32),
        quats=((rows["rot"].astype(np.float32) - 128) / 128),
        opacities=np.log(alpha / (1 - alpha)).astype(np.float32),
        sh0=((rows["rgba"][:, :3].astype(np.float32) / 255 - 0.5) / SH_C0),
        shN=np.zeros((len(rows), 0, 3), np.float32))
