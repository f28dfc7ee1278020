"""The JavaScript our pages load from npm packages (three.js and Spark for the 3D viewer, Swagger UI
for the API docs): which files, and where they are found.

A built wheel carries them in `splatlib/web/vendor/` (setup.py copies them in from `node_modules`),
so an installed package serves the viewer with no npm; a checkout serves its `node_modules`.
Only the standard library here: setup.py loads this file on its own.
"""

from __future__ import annotations

import shutil
from pathlib import Path

FILES = {  # npm package -> the files the pages load (the import map and the docs page name them), its licence
    "three": ["build/three.module.js", "build/three.core.js", "examples/jsm/controls/OrbitControls.js",
              "examples/jsm/postprocessing/Pass.js", "LICENSE"],
    "@sparkjsdev/spark": ["dist/spark.module.js", "LICENSE"],
    "swagger-ui-dist": ["swagger-ui-bundle.js", "swagger-ui.css", "LICENSE", "NOTICE"],
}
MOUNTS = {  # URL prefix the pages load from -> (npm package, its folder served there)
    "/vendor/three": ("three", ""),
    "/vendor/spark": ("@sparkjsdev/spark", "dist"),
    "/vendor/swagger": ("swagger-ui-dist", ""),
}
PACKAGED = Path(__file__).resolve().parent / "vendor"


def complete(folder: Path) -> bool:
    """Whether `folder` (laid out as node_modules) holds every file the pages load."""
    return all((folder / package / name).is_file() for package, names in FILES.items() for name in names)


def copy_vendor(node_modules: Path, dest: Path) -> int:
    """Copy the pages' files from `node_modules` into `dest`, in the same layout; returns the bytes
    copied. FileNotFoundError naming the first missing file (run `npm ci`)."""
    total = 0
    for package, names in FILES.items():
        for name in names:
            src = Path(node_modules) / package / name
            if not src.is_file():
                raise FileNotFoundError(f"{src} is missing: run `npm ci` before building")
            target = Path(dest) / package / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, target)
            total += src.stat().st_size
    return total


def find_vendor_dir() -> Path | None:
    """The package's own copy when complete, else the checkout's node_modules (npm ci), else None."""
    if complete(PACKAGED):
        return PACKAGED
    for parent in PACKAGED.parents:
        candidate = parent / "node_modules"
        if complete(candidate):
            return candidate
    return None
