"""Conversion between splat files, chosen by extension."""

from __future__ import annotations

from pathlib import Path

from ..errors import FormatError
from .gaussians import Gaussians
from .ply import read_ply, write_ply
from .splat import read_splat, write_splat
from .spz import read_spz, write_spz

READERS = {".ply": read_ply, ".splat": read_splat, ".spz": read_spz}
WRITERS = {".ply": write_ply, ".splat": write_splat, ".spz": write_spz}


def read_any(path: Path, higher_sh: bool = True) -> Gaussians:
    """Read a splat file by its extension (`higher_sh=False`: the base colour is enough)."""
    reader = READERS.get(Path(path).suffix.lower())
    if reader is None:
        raise FormatError(f"cannot read {Path(path).name}: known formats are {', '.join(READERS)}")
    if not Path(path).is_file():
        raise FormatError(f"{path}: no such file")
    return read_ply(path, higher_sh) if reader is read_ply else reader(path)


def convert(src: Path, dst: Path) -> int:
    """Convert `src` to `dst` (formats by extension); returns the number of Gaussians."""
    writer = WRITERS.get(Path(dst).suffix.lower())
    if writer is None:
        raise FormatError(f"cannot write {Path(dst).name}: known formats are {', '.join(WRITERS)}")
    if not Path(dst).resolve().parent.is_dir():
        raise FormatError(f"cannot write {dst}: the folder {Path(dst).resolve().parent} does not exist")
    g = read_any(src, higher_sh=writer is not write_splat)  # .splat keeps no higher SH bands
    writer(dst, g)
    return len(g)
