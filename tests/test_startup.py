"""The commands and handlers that never train start without torch, numba or pycolmap.

Importing those takes 2–3 s (torch alone about 1.7 s on the development machine), which every
`splatlib --help`, `scenes list` and `convert`, and every cold start of the AWS API Lambda, paid.
Each case runs in a fresh interpreter and reads `sys.modules` after the work is done.
"""

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "numba", "pycolmap", "gsplat")

CASES = {
    "help": "from splatlib.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n",
    "scenes list": "from splatlib.cli import main\nmain(['scenes', 'list', '--library', LIB])\n",
    "convert": ("import numpy as np\nfrom splatlib.formats import Gaussians\nfrom splatlib.formats.ply import write_ply\n"
                "from splatlib.cli import main\n"
                "n = 100\nwrite_ply(LIB + '/in.ply', Gaussians(np.zeros((n, 3), np.float32), np.zeros((n, 3), np.float32),\n"
                "    np.tile(np.float32([1, 0, 0, 0]), (n, 1)), np.zeros(n, np.float32), np.zeros((n, 3), np.float32),\n"
                "    np.zeros((n, 0, 3), np.float32)))\n"
                "assert main(['convert', LIB + '/in.ply', LIB + '/out.splat']) == 0\n"),
    "web app": "from splatlib.web.app import Settings, create_app\n",
    "aws api handler": "import splatlib.aws.api\n",
    "aws lambda handlers": "import splatlib.aws.handlers\n",
}


@pytest.mark.parametrize("case", CASES)
def test_entry_point_starts_without_the_training_stack(case, tmp_path):
    code = f"import sys\nLIB = {str(tmp_path)!r}\n{CASES[case]}\nimport json\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_training_still_finds_its_modules():
    """The other side of the lazy imports: the stage functions import what they use."""
    code = ("import sys\nfrom splatlib.pipeline import Pipeline\nfrom splatlib.stages.sfm import run_sfm\n"
            "import splatlib.stages.train, splatlib.stages.export\nprint('torch' in sys.modules, 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]
