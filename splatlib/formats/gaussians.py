"""The in-memory form every format reads into and writes from."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Gaussians:
    """Raw 3DGS parameters as stored in INRIA PLY files (float32 numpy arrays).

    means [N, 3]; scales [N, 3] as log; quats [N, 4] w x y z, unnormalised;
    opacities [N] as logit; sh0 [N, 3] DC coefficients; shN [N, B, 3] higher bands (B = 0, 3, 8 or 15).
    """

    means: np.ndarray
    scales: np.ndarray
    quats: np.ndarray
    opacities: np.ndarray
    sh0: np.ndarray
    shN: np.ndarray

    def __len__(self) -> int:
        return self.means.shape[0]

    @property
    def sh_degree(self) -> int:
        return {0: 0, 3: 1, 8: 2, 15: 3}[self.shN.shape[1]]
