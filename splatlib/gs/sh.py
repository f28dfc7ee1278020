"""Real spherical harmonics up to degree 3, in the convention of the 3DGS reference code."""

from __future__ import annotations

import torch

C0 = 0.28209479177387814
C1 = 0.4886025119029199
C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792,
      0.5462742152960396)
C3 = (-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154,
      -0.4570457994644658, 1.445305721320277, -0.5900435899266435)


def num_sh_bases(degree: int) -> int:
    """Number of SH coefficients per colour channel for a degree."""
    return (degree + 1) ** 2


def sh_to_color(coeffs: torch.Tensor, dirs: torch.Tensor, degree: int) -> torch.Tensor:
    """Evaluate SH `coeffs` [N, B, 3] along unit `dirs` [N, 3] up to `degree`; returns RGB [N, 3].

    The 0.5 offset of the reference code is included and the result is clamped at 0.
    """
    out = C0 * coeffs[:, 0]
    if degree > 0:
        x, y, z = dirs[:, 0:1], dirs[:, 1:2], dirs[:, 2:3]
        out = out - C1 * y * coeffs[:, 1] + C1 * z * coeffs[:, 2] - C1 * x * coeffs[:, 3]
        if degree > 1:
            xx, yy, zz, xy, yz, xz = x * x, y * y, z * z, x * y, y * z, x * z
            out = (out + C2[0] * xy * coeffs[:, 4] + C2[1] * yz * coeffs[:, 5]
                   + C2[2] * (2 * zz - xx - yy) * coeffs[:, 6] + C2[3] * xz * coeffs[:, 7]
                   + C2[4] * (xx - yy) * coeffs[:, 8])
            if degree > 2:
                out = (out + C3[0] * y * (3 * xx - yy) * coeffs[:, 9] + C3[1] * xy * z * coeffs[:, 10]
                       + C3[2] * y * (4 * zz - xx - yy) * coeffs[:, 11]
                       + C3[3] * z * (2 * zz - 3 * xx - 3 * yy) * coeffs[:, 12]
                       + C3[4] * x * (4 * zz - xx - yy) * coeffs[:, 13]
                       + C3[5] * z * (xx - yy) * coeffs[:, 14]
                       + C3[6] * x * (xx - 3 * yy) * coeffs[:, 15])
    return torch.clamp_min(out + 0.5, 0.0)
