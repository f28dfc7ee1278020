"""Conversion between splat files, chosen by extension."""

from __future__ import annotations

from pathlib import Path

from ..errors import FormatError
from .compressed_ply import is_compressed_ply, read_compressed_ply, write_compressed_ply
from .gaussians import Gaussians
from .ply import read_ply, write_ply
from .sog import read_sog, write_sog
from .splat import read_splat, write_splat
from .spz import read_spz, write_spz

READERS = {".ply": read_ply, ".splat": read_splat, ".spz": read_spz, ".sog": read_sog, ".json": read_sog}
WRITERS = {".ply": write_ply, ".compressed.ply": write_compressed_ply, ".splat": write_splat, ".spz": write_spz,
           ".sog": write_sog}


def _kind(path: Path) -> str:
    name = Path(path).name.lower()
    return ".compressed.ply" if name.endswith(".compressed.ply") else Path(name).suffix


def read_any(path: Path, higher_sh: bool = True) -> Gaussians:
    """Read a splat file by its extension (`higher_sh=False`: the base colour is enough); a PLY
    in PlayCanvas's compressed layout is read as one, whatever its name, and a `meta.json` as a SOG
    folder."""
    reader = READERS.get(Path(path).suffix.lower())
    if reader is None:
        raise FormatError(f"cannot read {Path(path).name}: known formats are {', '.join(WRITERS)}")
    if not Path(path).is_file():
        raise FormatError(f"{path}: no such file")
    if reader is read_ply:
        return read_compressed_ply(path) if is_compressed_ply(path) else read_ply(path, higher_sh)
    return reader(path)


def convert(src: Path, dst: Path, spz_version: int = 3) -> int:
    """Convert `src` to `dst` (formats by extension; a `.spz` as `spz_version`, 3 by default, which
    every viewer reads); returns the number of Gaussians."""
    writer = WRITERS.get(_kind(dst))
    if writer is None:
        raise FormatError(f"cannot write {Path(dst).name}: known formats are {', '.join(WRITERS)}")
    if not Path(dst).resolve().parent.is_dir():
        raise FormatError(f"cannot write {dst}: the folder {Path(dst).resolve().parent} does not exist")
    g = read_any(src, higher_sh=writer is not write_splat)  # .splat keeps no higher SH bands
    if writer is write_spz:
        write_spz(dst, g, spz_version)
    else:
        writer(dst, g)
    return len(g)
