"""One self-contained HTML file of a scene: the viewer (three.js, Spark, our viewer.js) and the scene's
`.spz` inlined, so that it opens from disk with no server and no network.

Modules are inlined as `data:` URLs behind an import map. three.module.js imports its core by a
relative path, which a `data:` module cannot resolve, so that import is renamed to a bare name the
map also holds.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

from ..errors import InputError
from .vendor import find_vendor_dir

MAX_BYTES = 200 * 1024 ** 2
"""A share file larger than this is refused: browsers and mail handle it badly."""
VIEWER = Path(__file__).resolve().parent / "static" / "viewer.js"
_THREE_CORE = "three/core"  # the bare name three.module.js's "./three.core.js" becomes


def scene_share_html(scene, store, clean: bool = False) -> str:
    """The page of a completed scene in `store` (its cleaned copy with `clean`), starting where the
    scene's metrics.json says a viewer should. NothingToShare when there is no such copy yet;
    InputError as `share_html`."""
    from ..layout import CLEAN_SPZ, METRICS, SPZ, SceneKeys
    from ..library import Status

    k = SceneKeys(scene.id)
    spz = k.output(CLEAN_SPZ if clean else SPZ)
    if scene.status != Status.COMPLETED or not store.exists(spz):
        raise NothingToShare(f"scene {scene.id} has no {'cleaned ' if clean else ''}scene to share "
                             f"({scene.status.value}{'; run `splatlib clean` first' if clean else ''})")
    metrics = store.path(k.output(METRICS))
    view = json.loads(metrics.read_text()).get("view") if metrics.exists() else None
    return share_html(scene.title, store.path(spz).read_bytes(), view)


class NothingToShare(InputError):
    """The scene has no finished copy of the kind asked for."""


def _module(source: str) -> str:
    return "data:text/javascript;base64," + base64.b64encode(source.encode()).decode()


def share_html(title: str, spz: bytes, view: dict | None) -> str:
    """The page: a full-window viewer of `spz` (a .spz file's bytes) starting at `view` (eye, target,
    up; the scene's metrics.json has it). InputError when the viewer's JavaScript is missing or the
    page would pass MAX_BYTES."""
    vendor = find_vendor_dir()
    if vendor is None:
        raise InputError("the viewer's JavaScript is not installed (run `npm ci` in a checkout)")
    three = vendor / "three"
    module = (three / "build" / "three.module.js").read_text().replace("'./three.core.js'", f"'{_THREE_CORE}'")
    imports = {
        "three": _module(module),
        _THREE_CORE: _module((three / "build" / "three.core.js").read_text()),
        "three/addons/controls/OrbitControls.js": _module(
            (three / "examples" / "jsm" / "controls" / "OrbitControls.js").read_text()),
        "three/addons/postprocessing/Pass.js": _module(
            (three / "examples" / "jsm" / "postprocessing" / "Pass.js").read_text()),
        "@sparkjsdev/spark": _module((vendor / "@sparkjsdev" / "spark" / "dist" / "spark.module.js").read_text()),
        "viewer": _module(VIEWER.read_text()),
    }
    estimate = sum(len(v) for v in imports.values()) + len(spz) * 4 // 3
    if estimate > MAX_BYTES:
        raise InputError(f"the page would take {estimate / 1e6:.0f} MB (the limit is {MAX_BYTES / 1e6:.0f} MB): "
                         "share a cleaned or smaller copy (`splatlib clean`, or train with --max-gaussians)")
    view = view or {}
    options = {k: view[k] for k in ("eye", "target", "up") if k in view}
    safe_title = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{safe_title}</title>
<style>html, body {{ margin: 0; height: 100%; background: #000; color: #ccc; font: 14px sans-serif; }}
canvas {{ width: 100%; height: 100%; display: block; }}
p {{ position: fixed; left: 12px; bottom: 4px; margin: 0; }}</style>
<script type="importmap">{json.dumps({"imports": imports})}</script>
</head>
<body>
<canvas id="view"></canvas>
<p id="note">{safe_title} · drag to orbit, scroll to zoom · made with Splat Library</p>
<script type="module">
import {{ showSplat }} from "viewer";
const bytes = Uint8Array.from(atob(document.getElementById("scene").textContent.trim()), (c) => c.charCodeAt(0));
try {{  // the bytes themselves: Spark's worker cannot fetch a blob: URL of a page opened from disk
  await showSplat(document.getElementById("view"), "scene.spz", {{ ...{json.dumps(options)}, fileType: "spz",
                                                                  fileBytes: bytes }});
  window.viewerReady = true;
}} catch (err) {{
  document.getElementById("note").textContent = `The viewer could not start: ${{err.message}}`;
  window.viewerError = String(err);
}}
</script>
<script type="application/octet-stream" id="scene">
{base64.b64encode(spz).decode()}
</script>
</body>
</html>
"""
