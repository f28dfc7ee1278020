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
