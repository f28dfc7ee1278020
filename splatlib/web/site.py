"""The gallery as static files, for hosting without `splatlib serve` (S3 behind CloudFront on AWS).

The same pages and scripts the server serves, in the same paths (`/`, `/static/…`, `/vendor/…`),
marked `data-backend="aws"` so that the scripts find the API and the sign-in in `/config.json`
(which the deployment writes: Terraform's `gallery_config`), read the upload settings from
`/options.json` and link scenes as `/scene.html?id=…` (no server to route `/scenes/{id}`).
It needs neither torch nor numba: it runs where the gallery is deployed from.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..options import table
from ..pipeline import PipelineOptions
from .vendor import FILES, MOUNTS, find_vendor_dir

STATIC = Path(__file__).resolve().parent / "static"
PAGES = ("index.html", "scene.html")
VIEWER = ("/vendor/three", "/vendor/spark")  # the 3D viewer's scripts, in the server's paths (no API docs here)


def build_site(dest: Path, vendor_dir: Path | None = None) -> list[str]:
    """Write the static gallery into `dest` (created; files there are replaced); returns the paths
    written, relative to `dest`. FileNotFoundError when three.js and Spark are nowhere (`npm ci`)."""
    vendor = vendor_dir or find_vendor_dir()
    if vendor is None:
        raise FileNotFoundError("three.js and Spark were not found: run `npm ci` (or install a built wheel)")
    dest = Path(dest)
    written: list[str] = []

    def put(relative: str, data: bytes) -> None:
        target = dest / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        written.append(relative)

    for path in sorted(STATIC.rglob("*")):
        if path.is_file():
            put(f"static/{path.relative_to(STATIC).as_posix()}", path.read_bytes())
    for page in PAGES:
        html = (STATIC / page).read_text()
        if '<html lang="en">' not in html:
            raise ValueError(f"{page}: no <html lang=\"en\"> tag to mark for the static site")
        put(page, html.replace('<html lang="en">', '<html lang="en" data-backend="aws">', 1).encode())
    for url in VIEWER:
        package, folder = MOUNTS[url]
        for name in FILES[package]:
            relative = name.removeprefix(f"{folder}/") if folder else name
            put(f"{url.lstrip('/')}/{relative}", (Path(vendor) / package / name).read_bytes())
    put("options.json", json.dumps(table(PipelineOptions())).encode())
    return written
