"""Our .ply, .splat, .spz, .sog and .compressed.ply files in a real viewer: Spark (three.js) in headless Chromium."""

import functools
import shutil
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from splatlib.formats import Gaussians
from splatlib.formats.compressed_ply import write_compressed_ply
from splatlib.formats.ply import write_ply
from splatlib.formats.sog import write_sog
from splatlib.formats.splat import write_splat
from splatlib.formats.spz import write_spz

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("node") is None or not (ROOT / "node_modules" / "playwright-core").exists()
                       or not CHROMIUM.exists(), reason="needs node, `npm ci` and Debian's chromium"),
]


class _Handler(SimpleHTTPRequestHandler):
    files: Path

    def translate_path(self, path: str) -> str:
        if path.startswith("/files/"):
            return str(self.files / Path(path.split("?")[0]).name)
        return super().translate_path(path)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server(tmp_path):
    handler = type("Handler", (_Handler,), {"files": tmp_path})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(ROOT)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", tmp_path
    httpd.shutdown()


def colourful_ball(n: int = 3000) -> Gaussians:
    """Gaussians on a sphere, coloured by position so a mirrored or flipped view looks different."""
    rng = np.random.default_rng(0)
    d = rng.normal(size=(n, 3))
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    means = (d * np.array([1.0, 0.7, 1.0])).astype(np.float32)
    means[: n // 6] = rng.normal(scale=0.15, size=(n // 6, 3)) + np.array([0.6, -0.9, 0.0])  # off-centre blob
    rgb = np.clip(0.5 + 0.5 * means, 0, 1)
    return Gaussians(means=means, scales=np.full((n, 3), np.log(0.04), np.float32),
                     quats=np.tile(np.array([1, 0, 0, 0], np.float32), (n, 1)),
                     opacities=np.full(n, 3.0, np.float32), sh0=((rgb - 0.5) / 0.28209479177387814).astype(np.float32),
                     shN=np.zeros((n, 0, 3), np.float32))


def screenshot(base: str, name: str, out: Path) -> np.ndarray:
    url = f"{base}/tests/js/view.html?file=/files/{name}&eye=0,0,-4"
    subprocess.run(["node", str(ROOT / "tests" / "js" / "screenshot.mjs"), url, str(out)], check=True,
                   capture_output=True, text=True, timeout=180)
    return np.asarray(Image.open(out).convert("RGB"), dtype=np.float32)


def test_spark_renders_our_formats_alike(server):
    base, files = server
    g = colourful_ball()
    write_ply(files / "ball.ply", g)
    write_splat(files / "ball.splat", g)
    write_spz(files / "ball.spz", g)
    write_sog(files / "ball.sog", g)
    write_compressed_ply(files / "ball.compressed.ply", g)
    kinds = ("ply", "splat", "spz", "sog", "compressed.ply")
    shots = {ext: screenshot(base, f"ball.{ext}", files / f"{ext}.png") for ext in kinds}
    for ext, img in shots.items():
        lit = (img.max(axis=2) > 30).mean()
        assert 0.05 < lit < 0.9, f"{ext}: {lit:.0%} of the pixels are lit"
    for a, b in (("ply", kind) for kind in kinds[1:]):
        diff = np.abs(shots[a] - shots[b]).mean()
        assert diff < 2.0, f"{a} and {b} render differently (mean abs diff {diff:.1f})"
    # a mirrored or upside-down view is far from the original, so the comparison can fail
    assert np.abs(shots["ply"] - shots["ply"][:, ::-1]).mean() > 8.0
    assert np.abs(shots["ply"] - shots["ply"][::-1]).mean() > 8.0
