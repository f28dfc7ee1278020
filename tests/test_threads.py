"""Thread settings: passive waits and pools sized to the CPUs this process may use, before torch starts."""

import json
import os
import subprocess
import sys

from splatlib.threads import cgroup_cpus, default_concurrency, usable_cpus


def test_cgroup_quota_caps_the_threads(tmp_path):
    (tmp_path / "cpu.max").write_text("150000 100000\n")  # a container limited to 1.5 CPUs
    assert cgroup_cpus(tmp_path) == 1.5 and usable_cpus(tmp_path) == min(2, len(os.sched_getaffinity(0)))
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cgroup_cpus(tmp_path) is None and usable_cpus(tmp_path) == len(os.sched_getaffinity(0))
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("50000")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000")
    assert cgroup_cpus(v1) == 0.5 and usable_cpus(v1) == 1
    assert cgroup_cpus(tmp_path / "none") is None


def test_every_entry_point_gets_passive_waits_before_torch(tmp_path):
    probe = ("import json, os, sys; import {module}; import torch, numba; "
             "print(json.dumps([os.environ['OMP_WAIT_POLICY'], torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS]))")
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS", "NUMBA_NUM_THREADS")}
    cpus = usable_cpus()
    for module in ("splatlib.cli", "splatlib.web.app", "splatlib.aws.handlers", "splatlib.aws.batch"):
        out = subprocess.run([sys.executable, "-c", probe.format(module=module)], env=env, capture_output=True,
                             text=True, check=True).stdout
        assert json.loads(out) == ["PASSIVE", cpus, cpus], module
    mine = dict(env, OMP_WAIT_POLICY="ACTIVE")  # what the user set wins
    out = subprocess.run([sys.executable, "-c", probe.format(module="splatlib.cli")], env=mine, capture_output=True,
                         text=True, check=True).stdout
    assert json.loads(out)[0] == "ACTIVE"


def test_the_server_runs_two_scenes_at_once_where_two_cpus_can_take_them(tmp_path):
    from splatlib.cli import build_parser
    from splatlib.web.app import Settings

    assert [default_concurrency(n) for n in (1, 2, 16)] == [1, 2, 2]
    expected = default_concurrency(usable_cpus())
    assert Settings(home=tmp_path).concurrency == expected
    assert build_parser().parse_args(["serve"]).concurrency == expected
    assert build_parser().parse_args(["serve", "--concurrency", "1"]).concurrency == 1


def test_trainings_split_the_cpus_between_them(tmp_path, monkeypatch):
    import numba
    import torch

    from splatlib import threads
    monkeypatch.setattr(threads, "SHARE_EVERY", 0.0)
    pool, torch_threads = numba.config.NUMBA_NUM_THREADS, torch.get_num_threads()
    with threads.CpuShare(tmp_path, cpus=2 * pool) as one:
        one.update()
        assert one.count() == 1 and one.threads == pool  # alone: the whole pool
        with threads.CpuShare(tmp_path, cpus=2 * pool) as two:
            two.update()
            one.update()
            assert one.count() == two.count() == 2
            assert one.threads == two.threads == pool == numba.get_num_threads() == torch.get_num_threads()
        with threads.CpuShare(tmp_path, cpus=pool) as two, threads.CpuShare(tmp_path, cpus=pool) as three:
            three.update()
            assert three.count() == 3 and three.threads == max(1, pool // 3) == numba.get_num_threads()
        one.update()
        assert one.count() == 1 and one.threads == pool
    assert not list(tmp_path.iterdir())  # each gave its share back
    assert numba.get_num_threads() == pool and torch.get_num_threads() == torch_threads


def test_a_training_in_another_process_counts_and_a_dead_ones_file_does_not(tmp_path):
    from splatlib.threads import CpuShare
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from splatlib.threads import CpuShare; share = CpuShare(Path(sys.argv[1])); "
                               "print('held', flush=True); time.sleep(120)", str(tmp_path)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with CpuShare(tmp_path, cpus=2) as mine:
            assert mine.count() == 2
            holder.kill()  # as when a training is killed: its file stays, its lock goes
            holder.wait()
            assert len(list(tmp_path.iterdir())) == 2
            assert mine.count() == 1 and [p.name for p in tmp_path.iterdir()] == [mine.path.name]
    finally:
        holder.kill()
        holder.wait()


def test_without_its_folder_a_share_keeps_the_pools_and_training_goes_on(tmp_path):
    from splatlib.threads import CpuShare
    (tmp_path / "file").write_text("")
    share = CpuShare(tmp_path / "file" / "share", cpus=2)  # a file where the folder would be
    share.update()
    assert share.threads is None and share.path is None
    share.close()
    with CpuShare(tmp_path / "gpu", cpus=2, active=False) as inactive:  # a training on a GPU takes no share
        inactive.update()
        assert inactive.threads is None and not (tmp_path / "gpu").exists()
    with CpuShare(tmp_path / "share", cpus=2) as share:
        for path in (tmp_path / "share").iterdir():  # a cleaner removes the folder while it trains
            path.unlink()
        (tmp_path / "share").rmdir()
        assert share.count() == 1
