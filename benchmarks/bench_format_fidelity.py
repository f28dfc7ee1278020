"""What each compressed format costs a trained scene: held-out PSNR rendered from each file.

Run: .venv/bin/python benchmarks/bench_format_fidelity.py LIBRARY SCENE_ID [LIBRARY SCENE_ID ...]
     [--splat-transform]
For each completed scene (LIBRARY: a `splatlib` library folder), writes its trained PLY as
`.compressed.ply`, `.spz` (version 3), `.sog` (ours) and, with `--splat-transform`, `.sog` by
PlayCanvas splat-transform 2.7.1 on the CPU (`-g cpu`, the baseline; it is slow, minutes at 75k
Gaussians), reads each back with our readers, renders the scene's held-out views (every 8th,
at the training size) and prints PSNR, file size and write time against the PLY's.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from splatlib.formats.compressed_ply import write_compressed_ply  # noqa: E402
from splatlib.formats.convert import read_any  # noqa: E402
from splatlib.formats.ply import read_ply  # noqa: E402
from splatlib.formats.sog import write_sog  # noqa: E402
from splatlib.formats.spz import write_spz  # noqa: E402
from splatlib.layout import SceneKeys  # noqa: E402
from splatlib.stages.clean import judging_views, views_psnr  # noqa: E402
from splatlib.stages.export import latest_ply  # noqa: E402
from timing import median_seconds  # noqa: E402

TOOL = ROOT / "node_modules" / ".bin" / "splat-transform"
OURS = {"compressed.ply": write_compressed_ply, "spz": write_spz, "sog": write_sog}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenes", nargs="+", help="pairs: LIBRARY SCENE_ID")
    ap.add_argument("--splat-transform", action="store_true", help="also splat-transform's SOG (-g cpu)")
    args = ap.parse_args()
    if len(args.scenes) % 2:
        ap.error("give LIBRARY SCENE_ID pairs")
    for library, scene_id in zip(args.scenes[::2], args.scenes[1::2]):
        keys = SceneKeys(scene_id)
        store = Path(library) / "store"
        outputs, sfm = store / keys.outputs, store / keys.sfm
        ply = latest_ply(outputs)
        g = read_ply(ply)
        _, _, views, judged_on = judging_views(outputs, sfm)
        print(f"{scene_id} ({library}): {len(g):,} Gaussians, SH degree {g.sh_degree}, {len(views)} {judged_on}")
        print(f"  {'file':<24} {'MB':>7} {'write s':>8} {'PSNR dB':>8} {'vs PLY':>7}")
        base = views_psnr(g, views)
        print(f"  {'ply':<24} {ply.stat().st_size / 1e6:>7.2f} {'':>8} {base:>8.3f}")
        with tempfile.TemporaryDirectory() as tmp:
            files = {}
            for name, write in OURS.items():
                path = Path(tmp) / f"scene.{name}"
                files[name] = (path, median_seconds(write, path, g, repeat=1))
            if args.splat_transform:
                out = Path(tmp) / "theirs.sog"
                command = [str(TOOL), "-q", "-w", "-g", "cpu", str(ply), str(out)]
                seconds = median_seconds(lambda: subprocess.run(command, check=True, capture_output=True), repeat=1)
                files["sog by splat-transform"] = (out, seconds)
            for name, (path, seconds) in files.items():
                psnr = views_psnr(read_any(path), views)
                print(f"  {name:<24} {path.stat().st_size / 1e6:>7.2f} {seconds:>8.2f} {psnr:>8.3f} "
                      f"{psnr - base:>+7.3f}")


if __name__ == "__main__":
    main()
