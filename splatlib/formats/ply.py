"""INRIA 3DGS PLY: binary little-endian `vertex` elements with float32 properties."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import FormatError
from .gaussians import Gaussians

_PLY_TYPES = {"float": "f4", "float32": "f4", "double": "f8", "float64": "f8", "uchar": "u1",
              "uint8": "u1", "char": "i1", "int8": "i1", "short": "i2", "int16": "i2", "ushort": "u2",
              "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4"}
_BASE = ["x", "y", "z", "f_dc_0", "f_dc_1", "f_dc_2", "opacity", "scale_0", "scale_1", "scale_2",
         "rot_0", "rot_1", "rot_2", "rot_3"]


def property_names(sh_degree: int) -> list[str]:
    """Property order of the reference implementation for an SH degree."""
    rest = 3 * ((sh_degree + 1) ** 2 - 1)
    return (["x", "y", "z", "nx", "ny", "nz", "f_dc_0", "f_dc_1", "f_dc_2"]
            + [f"f_rest_{i}" for i in range(rest)]
            + ["opacity", "scale_0", "scale_1", "scale_2", "rot_0", "rot_1", "rot_2", "rot_3"])


def write_ply(path: Path, g: Gaussians) -> None:
    """Write `g` as an INRIA PLY file."""
    names = property_names(g.sh_degree)
    n = len(g)
    data = np.zeros((n, len(names)), dtype="<f4")
    data[:, 0:3] = g.means
    data[:, 6:9] = g.sh0
    rest = g.shN.shape[1] * 3
    # f_rest is stored channel-major: all R coefficients, then G, then B
    data[:, 9:9 + rest] = g.shN.transpose(0, 2, 1).reshape(n, rest)
    k = 9 + rest
    data[:, k] = g.opacities
    data[:, k + 1:k + 4] = g.scales
    data[:, k + 4:k + 8] = g.quats
    header = "ply\nformat binary_little_endian 1.0\nelement vertex %d\n" % n
    header += "".join(f"property float {name}\n" for name in names) + "end_header\n"
    with open(path, "wb") as f:
        f.write(header.encode("ascii"))
        f.write(data.tobytes())


def read_ply(path: Path, higher_sh: bool = True) -> Gaussians:
    """Read an INRIA PLY file (SH degree 0–3, any property order); FormatError if unusable.

    `higher_sh=False` skips the f_rest bands (for formats that only keep the base colour).
    """
    path = Path(path)
    with open(path, "rb") as f:
        if f.readline().strip() != b"ply":
            raise FormatError(f"{path.name} is not a PLY file")
        fmt, count, props, in_vertex = None, None, [], False
        while True:
            line = f.readline()
            if not line:
                raise FormatError(f"{path.name}: the PLY header has no end_header")
            words = line.decode("ascii", "replace").split()
            try:
                if not words or words[0] in ("comment", "obj_info"):
                    continue
                if words[0] == "end_header":
                    break
                if words[0] == "format":
                    fmt = words[1]
                elif words[0] == "element":
                    in_vertex = words[1] == "vertex"
                    if in_vertex:
                        count = int(words[2])
                    elif count is None:
                        raise FormatError(f"{path.name}: elements before 'vertex' are not supported")
                elif words[0] == "property" and in_vertex:
                    if words[1] == "list" or words[1] not in _PLY_TYPES:
                        raise FormatError(f"{path.name}: unsupported vertex property type {words[1]}")
                    props.append((words[2], _PLY_TYPES[words[1]]))
            except (IndexError, ValueError):
                text = line.decode("ascii", "replace").strip()[:80]
                raise FormatError(f"{path.name}: malformed PLY header line {text!r}") from None
        if fmt != "binary_little_endian":
            raise FormatError(f"{path.name}: only binary_little_endian PLY is supported, not {fmt}")
        if count is None:
            raise FormatError(f"{path.name} has no vertex element")
        dtype = np.dtype([(name, "<" + t) for name, t in props])
        data_start = f.tell()
    available = path.stat().st_size - data_start
    if available < dtype.itemsize * count:
        raise FormatError(f"{path.name} is truncated: expected {count} vertices, "
                          f"found {available // max(dtype.itemsize, 1)}")
    # mapped, not read: the column copies below are the only pass over the data
    raw = np.memmap(path, dtype=np.uint8, mode="r", offset=data_start, shape=(dtype.itemsize * count,)) \
        if count else np.zeros(0, np.uint8)
    names = [name for name, _ in props]
    missing = [p for p in _BASE if p not in names]
    if missing:
        raise FormatError(f"{path.name} is not a 3D Gaussian splat PLY: missing properties "
                          f"{', '.join(missing)}")
    rest = sorted((p for p in names if p.startswith("f_rest_")), key=lambda p: int(p[7:]))
    if len(rest) not in (0, 9, 24, 45) or rest != [f"f_rest_{i}" for i in range(len(rest))]:
        raise FormatError(f"{path.name}: {len(rest)} f_rest properties do not match an SH degree 0-3")
    if all(t == "f4" for _, t in props):  # the usual case: one float32 matrix, columns picked by index
        table = np.frombuffer(raw, dtype="<f4", count=count * len(props)).reshape(count, len(props))

        def cols(keys: list[str]) -> np.ndarray:
            idx = [names.index(k) for k in keys]
            if not idx:
                return np.zeros((count, 0), np.float32)
            if idx == list(range(idx[0], idx[0] + len(idx))):  # adjacent columns: a slice, far faster
                return np.ascontiguousarray(table[:, idx[0]:idx[0] + len(idx)], dtype=np.float32)
            return np.ascontiguousarray(table[:, idx], dtype=np.float32)
    else:
        v = np.frombuffer(raw, dtype=dtype, count=count)

        def cols(keys: list[str]) -> np.ndarray:
            return np.stack([v[k].astype(np.float32) for k in keys], axis=1) if keys else np.zeros((count, 0), np.float32)

    bands = len(rest) // 3 if higher_sh else 0
    shN = cols(rest[:3 * bands]).reshape(count, 3, bands).transpose(0, 2, 1).copy()
    return Gaussians(
        means=cols(["x", "y", "z"]), scales=cols(["scale_0", "scale_1", "scale_2"]),
        quats=cols(["rot_0", "rot_1", "rot_2", "rot_3"]), opacities=cols(["opacity"])[:, 0].copy(),
        sh0=cols(["f_dc_0", "f_dc_1", "f_dc_2"]), shN=shN)
