"""The command line, in-process and as a real process (kill -9, then retry)."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from splatlib.cli import main

FAST_ARGS = ["--fps", "3", "--iterations", "150", "--image-size", "160", "--max-gaussians", "4000",
             "--sfm-max-size", "480", "-q"]


def run_cli(capsys, *args) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def test_missing_input_is_a_usage_error_before_any_scene(tmp_path, capsys):
    code = main(["run", str(tmp_path / "nope.mp4"), "--library", str(tmp_path / "lib")])
    assert code == 2
    assert "no such file" in capsys.readouterr().err
    code, out = run_cli(capsys, "scenes", "list", "--library", str(tmp_path / "lib"), "--json")
    assert json.loads(out) == []


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the message on a machine without a GPU")
def test_a_gpu_asked_for_on_a_cpu_machine_is_a_usage_error_before_any_scene(tmp_path, capsys, orbit_video):
    code = main(["run", str(orbit_video), "--device", "cuda", "--library", str(tmp_path / "lib")])
    assert code == 2
    assert "torch sees no CUDA GPU" in capsys.readouterr().err
    code, out = run_cli(capsys, "scenes", "list", "--library", str(tmp_path / "lib"), "--json")
    assert json.loads(out) == []


def test_run_until_sfm_then_retry_json(tmp_path, capsys, orbit_video):
    lib = str(tmp_path / "lib")
    code, out = run_cli(capsys, "run", str(orbit_video), "--library", lib, "--until", "sfm", "--json", *FAST_ARGS)
    first = json.loads(out)
    assert code == 0 and first["status"] == "stopped" and first["sfm"].endswith("sparse")
    assert os.path.isabs(first["sfm"]) and first["splat"] is None and first["metrics"]["psnr"] is None
    assert first["metrics"]["registered_frames"] >= 16

    code, out = run_cli(capsys, "scenes", "retry", first["id"], "--library", lib, "--json", "-q")
    s = json.loads(out)
    assert code == 0 and s["status"] == "completed" and s["error"] is None
    for key in ("splat", "ply", "thumbnail", "sfm"):
        assert os.path.isfile(s[key]) or os.path.isdir(s[key]), key
    m = s["metrics"]
    assert m["total_frames"] == 18 and m["num_gaussians"] > 0 and m["psnr"] > 0 and 0 < m["ssim"] <= 1
    assert set(m["seconds"]) == {"frames", "sfm", "train", "convert"}

    code, out = run_cli(capsys, "scenes", "list", "--library", lib)
    assert first["id"] in out and "completed" in out
    code, out = run_cli(capsys, "scenes", "show", first["id"], "--library", lib, "--json")
    assert json.loads(out)["record"]["splatKey"].endswith("scene.splat")
    code, out = run_cli(capsys, "scenes", "delete", first["id"], "--library", lib, "--json")
    assert json.loads(out) == {"id": first["id"], "deleted": True}
    assert not os.path.exists(s["splat"])


def test_failed_run_exit_code_and_message(tmp_path, capsys):
    bad = tmp_path / "clip.mov"
    bad.write_bytes(b"")
    code, out = run_cli(capsys, "run", str(bad), "--library", str(tmp_path / "lib"))
    assert code == 1
    assert "frames failed: clip.mov is empty (0 bytes)" in out and "retry" in out


def test_hostile_scene_id(tmp_path, capsys):
    assert main(["scenes", "show", "../../etc", "--library", str(tmp_path)]) == 2
    assert "not a valid scene id" in capsys.readouterr().err


def _scene_state(lib):
    path = os.path.join(lib, "catalog.sqlite")
    if not os.path.exists(path):
        return None
    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT id, stage, status FROM scenes").fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        db.close()


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT])
def test_killed_run_can_be_retried(tmp_path, orbit_video, sig):
    lib = str(tmp_path / "lib")
    cmd = [sys.executable, "-m", "splatlib.cli", "run", str(orbit_video), "--library", lib, *FAST_ARGS]
    cmd[cmd.index("150")] = "3000"  # long enough to be caught in training (600 steps could end within the second)
    # as a terminal's Ctrl-C finds it: a shell's background job (as CI may run the suite) ignores SIGINT
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline:
        state = _scene_state(lib)
        if state and state[1] == "train":
            break
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(sig)
    proc.wait(timeout=120)
    scene_id, stage, status = _scene_state(lib)
    assert stage == "train"
    assert status == ("processing" if sig == signal.SIGKILL else "failed")
    retry = subprocess.run([sys.executable, "-m", "splatlib.cli", "scenes", "retry", scene_id, "--library", lib,
                            "--json", "-q"], capture_output=True, text=True, timeout=900)
    assert json.loads(retry.stdout)["status"] == "completed", retry.stderr


def test_serve_refuses_the_network_without_a_token(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SPLATLIB_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0", "--library", str(tmp_path)]) == 2
    assert "API token" in capsys.readouterr().err
    assert main(["serve", "--private", "--library", str(tmp_path)]) == 2  # private with nothing to ask for
    assert "--private needs a token" in capsys.readouterr().err
    assert main(["serve", "--concurrency", "0", "--library", str(tmp_path)]) == 2  # no worker would ever run a scene
    assert "--concurrency must be 1 or more" in capsys.readouterr().err


def test_bench_train_step_json(capsys):
    code, out = run_cli(capsys, "bench", "train-step", "--gaussians", "500", "--width", "64", "--height", "48",
                        "--steps", "2", "--json")
    result = json.loads(out)
    assert code == 0 and result["ms_per_step"] > 0 and result["gaussians"] == 500


def test_scene_id_required(tmp_path, capsys):
    assert main(["scenes", "show", "--library", str(tmp_path)]) == 2
    assert "scene id is required" in capsys.readouterr().err


@pytest.mark.slow
def test_minutes_budget_end_to_end(tmp_path, capsys, orbit_video):
    code, out = run_cli(capsys, "run", str(orbit_video), "--library", str(tmp_path / "lib"), "--json",
                        "--minutes", "0.75", "--fps", "3", "--sfm-max-size", "480", "--image-size", "160",
                        "--max-gaussians", "4000", "-q")
    s = json.loads(out)
    assert code == 0 and s["status"] == "completed", s["error"]
    assert sum(s["metrics"]["seconds"].values()) < 0.75 * 60 * 1.15  # about the budget, not the 2000 steps
    train = json.loads((Path(s["ply"]).parents[2] / "train.json").read_text())
    assert train["planned"]["seconds"] < 45 and train["iterations"] > 100 and s["metrics"]["psnr"] > 14


def test_bad_minutes_is_a_usage_error_before_any_scene(tmp_path, capsys, orbit_video):
    assert main(["run", str(orbit_video), "--minutes", "0", "--library", str(tmp_path / "lib")]) == 2
    assert "minutes must be a number from 0.5 to 1440" in capsys.readouterr().err


def test_convert_errors_are_messages_not_tracebacks(tmp_path, capsys):
    bad = tmp_path / "bad.ply"
    bad.write_bytes(b"ply\nformat binary_little_endian 1.0\nelement vertex\nend_header\n")
    assert main(["convert", str(bad), str(tmp_path / "out.splat")]) == 2
    assert "malformed PLY header line 'element vertex'" in capsys.readouterr().err
    assert main(["convert", str(bad), str(tmp_path / "missing" / "out.splat")]) == 2
    assert "does not exist" in capsys.readouterr().err
