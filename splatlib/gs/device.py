"""Choice of the training back end: gsplat's CUDA kernels on a GPU, the numba kernels on a CPU.

gsplat compiles its CUDA kernels the first time it is imported. On a machine with a CUDA
compiler but no GPU that build fails (or runs for minutes for nothing), so nothing here imports
gsplat unless torch sees a GPU.
"""

from __future__ import annotations

import importlib.util
import logging
from typing import TYPE_CHECKING

from ..errors import ConfigError
from ..options import DEVICES

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)


CUDA_MIN_DRIVER = {12: 525, 13: 580}
"""The oldest NVIDIA driver series that runs each CUDA major version (NVIDIA's compatibility
table; 12.x through minor-version compatibility). One place: the message below and the test that
the GPU hosts' AMI is new enough for the training image read it."""


def gsplat_installed() -> bool:
    """Whether gsplat can be imported (checked without importing it)."""
    return importlib.util.find_spec("gsplat") is not None


def select_device(requested: str = "auto") -> torch.device:
    """The device to train on: "auto" takes CUDA when torch sees a GPU and gsplat is installed.

    Asking for "cuda" where it cannot work raises a ConfigError that says what is missing.
    """
    import torch  # here: the commands that never train start without it

    if requested not in DEVICES:
        raise ConfigError(f"unknown device {requested!r}; choose one of {', '.join(DEVICES)}")
    if requested == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        if requested == "cuda":
            built = torch.version.cuda
            need = CUDA_MIN_DRIVER.get(int(built.split(".")[0])) if built else None
            driver = f"; torch {torch.__version__} is built for CUDA {built}, which needs an NVIDIA driver " \
                     f"{need} or newer" if need else f" (torch {torch.__version__} is a CPU build)"
            raise ConfigError(f"--device cuda: torch sees no CUDA GPU on this machine{driver}; "
                              "use --device cpu or auto")
        return torch.device("cpu")
    if not gsplat_installed():
        if requested == "cuda":
            raise ConfigError("--device cuda needs gsplat: pip install 'splatlib[cuda]'")
        log.warning("a CUDA GPU is present but gsplat is not installed; training on the CPU "
                    "(pip install 'splatlib[cuda]' to use the GPU)")
        return torch.device("cpu")
    return torch.device("cuda")


def describe(device: torch.device) -> str:
    """Human-readable back end, e.g. "cuda (NVIDIA H100 80GB HBM3), gsplat 1.5.3"."""
    import torch

    if device.type == "cuda":
        from importlib.metadata import version
        return f"cuda ({torch.cuda.get_device_name(device)}), gsplat {version('gsplat')}"
    return f"cpu ({torch.get_num_threads()} threads), numba kernels"
