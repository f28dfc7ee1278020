"""Numba kernels for the per-Gaussian half of a CPU training step, forward and backward.

`project_forward` does for every Gaussian what `reference.project` and `sh.sh_to_color` do with
tensor ops: EWA projection into one pinhole camera (mean, conic, depth, radius) and the colour of
its spherical harmonics seen from that camera. `project_backward` is its hand-written gradient,
one Gaussian per iteration, so autograd never builds a graph of per-slice ops (whose backward
zero-filled a full-size tensor for every slice). `adam_update` is Adam over one parameter tensor
in a single pass. The tests compare all three with autograd and torch.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from .blur import FAST as _FAST  # fast maths that still sees NaN and inf
from .sh import C0, C1, C2, C3

EPS2D = 0.3  # px² low-pass added to the 2D covariance, as gsplat
NEAR = 0.01
_GUARD = 0.3  # the Jacobian is taken at most 30% of the half field of view outside the image, as gsplat
_CHUNK = 512  # Gaussians per parallel task; scratch arrays are allocated once per task
# The per-Gaussian bodies are inlined into the parallel loops: called once per Gaussian with their
# twenty array arguments, the forward and backward took 25-40% longer (200k Gaussians, 2026-12-04).


@njit(inline="always", fastmath=_FAST, cache=True)
def _rotmat(qw, qx, qy, qz):
    """Rotation matrix of a unit quaternion, row-major as nine numbers."""
    return (1 - 2 * (qy * qy + qz * qz), 2 * (qx * qy - qw * qz), 2 * (qx * qz + qw * qy),
            2 * (qx * qy + qw * qz), 1 - 2 * (qx * qx + qz * qz), 2 * (qy * qz - qw * qx),
            2 * (qx * qz - qw * qy), 2 * (qy * qz + qw * qx), 1 - 2 * (qx * qx + qy * qy))


@njit(inline="always", fastmath=_FAST, cache=True)
def _sh_basis(x, y, z, degree, out):
    """The real SH basis of the 3DGS reference along the unit (x, y, z), up to `degree`, into `out`."""
    out[0] = C0
    if degree > 0:
        out[1] = -C1 * y
        out[2] = C1 * z
        out[3] = -C1 * x
        if degree > 1:
            xx, yy, zz = x * x, y * y, z * z
            out[4] = C2[0] * x * y
            out[5] = C2[1] * y * z
            out[6] = C2[2] * (2 * zz - xx - yy)
            out[7] = C2[3] * x * z
            out[8] = C2[4] * (xx - yy)
            if degree > 2:
                out[9] = C3[0] * y * (3 * xx - yy)
                out[10] = C3[1] * x * y * z
                out[11] = C3[2] * y * (4 * zz - xx - yy)
                out[12] = C3[3] * z * (2 * zz - 3 * xx - 3 * yy)
                out[13] = C3[4] * x * (4 * zz - xx - yy)
                out[14] = C3[5] * z * (xx - yy)
                out[15] = C3[6] * x * (xx - 3 * yy)


@njit(inline="always", fastmath=_FAST, cache=True)
def _centre(view):
    """The camera centre of a world-to-camera 4×4: -Rᵀ t."""
    return (-(view[0, 0] * view[0, 3] + view[1, 0] * view[1, 3] + view[2, 0] * view[2, 3]),
            -(view[0, 1] * view[0, 3] + view[1, 1] * view[1, 3] + view[2, 1] * view[2, 3]),
            -(view[0, 2] * view[0, 3] + view[1, 2] * view[1, 3] + view[2, 2] * view[2, 3]))


@njit(inline="always", fastmath=_FAST, cache=True)
def _view_direction(means, i, centre, degree, basis):
    """SH basis along the unit direction from the camera centre to Gaussian `i`."""
    dx, dy, dz = means[i, 0] - centre[0], means[i, 1] - centre[1], means[i, 2] - centre[2]
    dn = 1.0 / max(math.sqrt(dx * dx + dy * dy + dz * dz), 1e-12)
    _sh_basis(dx * dn, dy * dn, dz * dn, degree, basis)


@njit(inline="always", fastmath=_FAST, cache=True)
def _camera_point(means, i, view):
    x = view[0, 0] * means[i, 0] + view[0, 1] * means[i, 1] + view[0, 2] * means[i, 2] + view[0, 3]
    y = view[1, 0] * means[i, 0] + view[1, 1] * means[i, 1] + view[1, 2] * means[i, 2] + view[1, 3]
    z = view[2, 0] * means[i, 0] + view[2, 1] * means[i, 1] + view[2, 2] * means[i, 2] + view[2, 3]
    return x, y, z


@njit(inline="always", fastmath=_FAST, cache=True)
def _jacobian_point(x, y, z, fx, fy, cx, cy, width, height):
    """x and y where the projection's Jacobian is taken (x/z, y/z clamped to the guarded view), the
    clamped ratios, and whether each was clamped (then its gradient goes to z, not to x or y)."""
    lim_x = _GUARD * 0.5 * width / fx
    lim_y = _GUARD * 0.5 * height / fy
    u, v = x / z, y / z
    cu = min(max(u, -(cx / fx + lim_x)), (width - cx) / fx + lim_x)
    cv = min(max(v, -(cy / fy + lim_y)), (height - cy) / fy + lim_y)
    return z * cu, z * cv, cu, cv, cu != u, cv != v


@njit(inline="always", fastmath=_FAST, cache=True)
def _wr_and_t(view, quats, scales, i, j00, j02, j11, j12, wr, t, s):
    """W·Rq into `wr` (3×3 row-major; W the view rotation, Rq the Gaussian's), the scales into `s`,
    and T = J·W·Rq·diag(s) into `t` (2×3 row-major); returns the normalised quaternion and its length."""
    qw, qx, qy, qz = quats[i, 0], quats[i, 1], quats[i, 2], quats[i, 3]
    qlen = max(math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz), 1e-12)
    uw, ux, uy, uz = qw / qlen, qx / qlen, qy / qlen, qz / qlen
    r = _rotmat(uw, ux, uy, uz)
    for k in range(3):
        s[k] = scales[i, k]
        for row in range(3):
            wr[3 * row + k] = view[row, 0] * r[k] + view[row, 1] * r[3 + k] + view[row, 2] * r[6 + k]
        t[k] = (j00 * wr[k] + j02 * wr[6 + k]) * s[k]
        t[3 + k] = (j11 * wr[3 + k] + j12 * wr[6 + k]) * s[k]
    return uw, ux, uy, uz, qlen


_MEAN, _QUAT, _SCALE = 0, 3, 7  # rows of a chunk's inputs in the forward's one state array
_UV, _DEPTH, _RADIUS, _CONIC = 10, 12, 13, 14  # rows of its outputs
_STATE_ROWS = 17


@njit(parallel=True, fastmath=_FAST, cache=True)
def project_forward(means, quats, scales, sh0, shN, view, fx, fy, cx, cy, width, height, degree,
                    means2d, conics, depths, radii, colors):
    """Project N Gaussians into one camera (`view`: world-to-camera 4×4) and evaluate their colours.

    Writes `means2d` [N, 2], `conics` [N, 3], `depths` [N], `radii` [N] (0: not drawn) and
    `colors` [N, 3] (0 where not drawn): SH up to `degree` along the camera-to-Gaussian direction,
    +0.5, clamped at 0. `scales` are the exp of the model's raw log scales (vectorised by the caller:
    numba has no SIMD exp here).

    Per chunk of Gaussians the inputs are copied into rows of one array, the projection runs over
    them without branches (a culled Gaussian is masked, not skipped), reading and writing that
    array alone, and the results are copied out: with one array LLVM needs no aliasing checks to
    run the projection in SIMD lanes, as in the compositing kernels.
    """
    n = means.shape[0]
    centre = _centre(view)
    v00, v01, v02, v03 = view[0, 0], view[0, 1], view[0, 2], view[0, 3]
    v10, v11, v12, v13 = view[1, 0], view[1, 1], view[1, 2], view[1, 3]
    v20, v21, v22, v23 = view[2, 0], view[2, 1], view[2, 2], view[2, 3]
    lim_x, lim_y = _GUARD * 0.5 * width / fx, _GUARD * 0.5 * height / fy
    u_lo, u_hi = -(cx / fx + lim_x), (width - cx) / fx + lim_x
    v_lo, v_hi = -(cy / fy + lim_y), (height - cy) / fy + lim_y
    bands = (degree + 1) * (degree + 1)
    for task in prange((n + _CHUNK - 1) // _CHUNK):
        lo = task * _CHUNK
        m = min(n, lo + _CHUNK) - lo
        st = np.empty((_STATE_ROWS, _CHUNK), np.float64)
        basis = np.empty(16, np.float64)
        for k in range(m):
            for c in range(3):
                st[_MEAN + c, k] = means[lo + k, c]
                st[_SCALE + c, k] = scales[lo + k, c]
            for c in range(4):
                st[_QUAT + c, k] = quats[lo + k, c]
        for k in range(np.uint64(m)):
            px, py, pz = st[_MEAN, k], st[_MEAN + 1, k], st[_MEAN + 2, k]
            x = v00 * px + v01 * py + v02 * pz + v03
            y = v10 * px + v11 * py + v12 * pz + v13
            z = v20 * px + v21 * py + v22 * pz + v23
            iz = 1.0 / max(z, NEAR)
            mx, my = fx * x * iz + cx, fy * y * iz + cy
            j00, j11 = fx * iz, fy * iz
            j02 = -j00 * min(max(x * iz, u_lo), u_hi)  # the Jacobian at the clamped x/z, y/z (`_jacobian_point`)
            j12 = -j11 * min(max(y * iz, v_lo), v_hi)
            qw, qx, qy, qz = st[_QUAT, k], st[_QUAT + 1, k], st[_QUAT + 2, k], st[_QUAT + 3, k]
            iq = 1.0 / max(math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz), 1e-12)
            r = _rotmat(qw * iq, qx * iq, qy * iq, qz * iq)
            s0, s1, s2 = st[_SCALE, k], st[_SCALE + 1, k], st[_SCALE + 2, k]
            # T = J·W·Rq·diag(s): row 0 of J meets rows 0 and 2 of W·Rq, row 1 rows 1 and 2
            w20, w21, w22 = (v20 * r[0] + v21 * r[3] + v22 * r[6], v20 * r[1] + v21 * r[4] + v22 * r[7],
                             v20 * r[2] + v21 * r[5] + v22 * r[8])
            t0 = (j00 * (v00 * r[0] + v01 * r[3] + v02 * r[6]) + j02 * w20) * s0
            t1 = (j00 * (v00 * r[1] + v01 * r[4] + v02 * r[7]) + j02 * w21) * s1
            t2 = (j00 * (v00 * r[2] + v01 * r[5] + v02 * r[8]) + j02 * w22) * s2
            t3 = (j11 * (v10 * r[0] + v11 * r[3] + v12 * r[6]) + j12 * w20) * s0
            t4 = (j11 * (v10 * r[1] + v11 * r[4] + v12 * r[7]) + j12 * w21) * s1
            t5 = (j11 * (v10 * r[2] + v11 * r[5] + v12 * r[8]) + j12 * w22) * s2
            ca = t0 * t0 + t1 * t1 + t2 * t2 + EPS2D
            cb = t0 * t3 + t1 * t4 + t2 * t5
            cc = t3 * t3 + t4 * t4 + t5 * t5 + EPS2D
            det = ca * cc - cb * cb
            mid = 0.5 * (ca + cc)
            rad = math.ceil(3.0 * math.sqrt(mid + math.sqrt(max(mid * mid - det, 0.1))))
            drawn = (z > NEAR) & (det > 0.0) & (mx + rad > 0) & (mx - rad < width) & (my + rad > 0) & (my - rad < height)
            inv = 1.0 / max(det, 1e-12)
            st[_UV, k], st[_UV + 1, k], st[_DEPTH, k] = mx, my, z
            st[_RADIUS, k] = rad if drawn else 0.0
            st[_CONIC, k] = cc * inv if drawn else 0.0
            st[_CONIC + 1, k] = -cb * inv if drawn else 0.0
            st[_CONIC + 2, k] = ca * inv if drawn else 0.0
        for k in range(m):
            i = lo + k
            means2d[i, 0], means2d[i, 1], depths[i] = st[_UV, k], st[_UV + 1, k], st[_DEPTH, k]
            radii[i] = np.int64(st[_RADIUS, k])
            conics[i, 0], conics[i, 1], conics[i, 2] = st[_CONIC, k], st[_CONIC + 1, k], st[_CONIC + 2, k]
            red = green = blue = 0.0
            if radii[i] > 0:
                _view_direction(means, i, centre, degree, basis)
                red = basis[0] * sh0[i, 0, 0] + 0.5
                green = basis[0] * sh0[i, 0, 1] + 0.5
                blue = basis[0] * sh0[i, 0, 2] + 0.5
                for j in range(1, bands):  # three independent sums: no chain of dependent adds
                    red += basis[j] * shN[i, j - 1, 0]
                    green += basis[j] * shN[i, j - 1, 1]
                    blue += basis[j] * shN[i, j - 1, 2]
            colors[i, 0], colors[i, 1], colors[i, 2] = max(red, 0.0), max(green, 0.0), max(blue, 0.0)


@njit(inline="always", fastmath=_FAST, cache=True)
def _backward_one(i, means, quats, scales, view, centre, fx, fy, cx, cy, width, height, degree, radii,
                  colors, v_means2d, v_conics, v_colors, g_means, g_quats, g_log_scales, g_sh0, g_shN, scratch):
    if radii[i] == 0:
        for c in range(3):
            g_sh0[i, 0, c] = 0.0
            for k in range(g_shN.shape[1]):
                g_shN[i, k, c] = 0.0
        for k in range(3):
            g_means[i, k] = 0.0
            g_log_scales[i, k] = 0.0
            g_quats[i, k] = 0.0
        g_quats[i, 3] = 0.0
        return
    wr, t, s, basis, v_r = scratch[0:9], scratch[9:15], scratch[15:18], scratch[18:34], scratch[34:43]
    # colours: the SH coefficients (viewing directions carry no gradient); bands above `degree` get 0
    _view_direction(means, i, centre, degree, basis)
    bands = (degree + 1) * (degree + 1)
    vr = v_colors[i, 0] if colors[i, 0] > 0.0 else 0.0
    vg = v_colors[i, 1] if colors[i, 1] > 0.0 else 0.0
    vb = v_colors[i, 2] if colors[i, 2] > 0.0 else 0.0
    g_sh0[i, 0, 0], g_sh0[i, 0, 1], g_sh0[i, 0, 2] = basis[0] * vr, basis[0] * vg, basis[0] * vb
    for k in range(1, g_shN.shape[1] + 1):
        used = k < bands
        g_shN[i, k - 1, 0] = basis[k] * vr if used else 0.0
        g_shN[i, k - 1, 1] = basis[k] * vg if used else 0.0
        g_shN[i, k - 1, 2] = basis[k] * vb if used else 0.0
    # the forward quantities again
    x, y, z = _camera_point(means, i, view)
    tx, ty, cu, cv, clamped_x, clamped_y = _jacobian_point(x, y, z, fx, fy, cx, cy, width, height)
    iz = 1.0 / z
    j00, j02 = fx * iz, -fx * tx * iz * iz
    j11, j12 = fy * iz, -fy * ty * iz * iz
    uw, ux, uy, uz, qlen = _wr_and_t(view, quats, scales, i, j00, j02, j11, j12, wr, t, s)
    ca = t[0] * t[0] + t[1] * t[1] + t[2] * t[2] + EPS2D
    cb = t[0] * t[3] + t[1] * t[4] + t[2] * t[5]
    cc = t[3] * t[3] + t[4] * t[4] + t[5] * t[5] + EPS2D
    inv = 1.0 / max(ca * cc - cb * cb, 1e-12)
    A, B, C = cc * inv, -cb * inv, ca * inv
    # conic = inverse of [[ca, cb], [cb, cc]]
    vA, vB, vC = v_conics[i, 0], v_conics[i, 1], v_conics[i, 2]
    v_ca = -(vA * A * A + vB * A * B + vC * B * B)
    v_cb = -(2 * vA * A * B + vB * (A * C + B * B) + 2 * vC * B * C)
    v_cc = -(vA * B * B + vB * B * C + vC * C * C)
    # cov2d = T Tᵀ, then T = J · (W Rq diag(s)), column by column
    v_j00 = v_j02 = v_j11 = v_j12 = 0.0
    for k in range(3):
        vt0 = 2 * v_ca * t[k] + v_cb * t[3 + k]
        vt1 = v_cb * t[k] + 2 * v_cc * t[3 + k]
        m0, m1, m2 = wr[k] * s[k], wr[3 + k] * s[k], wr[6 + k] * s[k]
        v_j00 += vt0 * m0
        v_j02 += vt0 * m2
        v_j11 += vt1 * m1
        v_j12 += vt1 * m2
        vm0, vm1, vm2 = j00 * vt0, j11 * vt1, j02 * vt0 + j12 * vt1  # Jᵀ v_T[:, k]
        g_log_scales[i, k] = s[k] * (vm0 * wr[k] + vm1 * wr[3 + k] + vm2 * wr[6 + k])  # × s: the scale is exp
        for row in range(3):  # d/d Rq[row, k] = s_k · (Wᵀ vm)[row]
            v_r[3 * row + k] = s[k] * (view[0, row] * vm0 + view[1, row] * vm1 + view[2, row] * vm2)
    # rotation matrix -> unit quaternion -> the raw quaternion
    gw = 2 * (-uz * v_r[1] + uy * v_r[2] + uz * v_r[3] - ux * v_r[5] - uy * v_r[6] + ux * v_r[7])
    gx = 2 * (uy * v_r[1] + uz * v_r[2] + uy * v_r[3] - 2 * ux * v_r[4] - uw * v_r[5] + uz * v_r[6]
              + uw * v_r[7] - 2 * ux * v_r[8])
    gy = 2 * (-2 * uy * v_r[0] + ux * v_r[1] + uw * v_r[2] + ux * v_r[3] + uz * v_r[5] - uw * v_r[6]
              + uz * v_r[7] - 2 * uy * v_r[8])
    gz = 2 * (-2 * uz * v_r[0] - uw * v_r[1] + ux * v_r[2] + uw * v_r[3] - 2 * uz * v_r[4] + uy * v_r[5]
              + ux * v_r[6] + uy * v_r[7])
    dot = uw * gw + ux * gx + uy * gy + uz * gz
    g_quats[i, 0] = (gw - uw * dot) / qlen
    g_quats[i, 1] = (gx - ux * dot) / qlen
    g_quats[i, 2] = (gy - uy * dot) / qlen
    g_quats[i, 3] = (gz - uz * dot) / qlen
    # the Jacobian's entries and the 2D mean -> the camera-space point
    v_tx = -v_j02 * fx * iz * iz
    v_ty = -v_j12 * fy * iz * iz
    v_z = (-(v_j00 * fx + v_j11 * fy) * iz * iz + 2 * (v_j02 * fx * tx + v_j12 * fy * ty) * iz * iz * iz)
    v_x = 0.0 if clamped_x else v_tx
    v_y = 0.0 if clamped_y else v_ty
    v_z += (v_tx * cu if clamped_x else 0.0) + (v_ty * cv if clamped_y else 0.0)
    vmx, vmy = v_means2d[i, 0], v_means2d[i, 1]
    v_x += vmx * fx * iz
    v_y += vmy * fy * iz
    v_z -= (vmx * fx * x + vmy * fy * y) * iz * iz
    for k in range(3):  # camera space -> world: the transpose of the view's rotation
        g_means[i, k] = view[0, k] * v_x + view[1, k] * v_y + view[2, k] * v_z


@njit(parallel=True, fastmath=_FAST, cache=True)
def project_backward(means, quats, scales, view, fx, fy, cx, cy, width, height, degree, radii, colors,
                     v_means2d, v_conics, v_colors, g_means, g_quats, g_log_scales, g_sh0, g_shN):
    """Gradients of `project_forward`'s outputs with respect to its inputs.

    Takes d(loss)/d(means2d, conics, colors) and writes d(loss)/d(means, quats, log_scales, sh0,
    shN) (`scales` as given to the forward, the exp of the log scales); the rows of a Gaussian that
    is not drawn get zeros, as do the SH bands above `degree`.
    """
    n = means.shape[0]
    centre = _centre(view)
    for task in prange((n + _CHUNK - 1) // _CHUNK):
        scratch = np.empty(43, np.float64)
        for i in range(task * _CHUNK, min(n, (task + 1) * _CHUNK)):
            _backward_one(i, means, quats, scales, view, centre, fx, fy, cx, cy, width, height, degree,
                          radii, colors, v_means2d, v_conics, v_colors, g_means, g_quats, g_log_scales,
                          g_sh0, g_shN, scratch)


@njit(parallel=True, cache=True)
def adam_update(param, grad, m, v, lr, b1, b2, c1, c2, eps):
    """One Adam step over flat float32 arrays, in place; a non-finite gradient entry counts as 0
    (once in the moments it would turn the parameter into NaN for good)."""
    step = lr / c1
    ic2 = 1.0 / c2
    for i in prange(param.shape[0]):
        g = grad[i]
        g = g if math.isfinite(g) else 0.0
        mi = b1 * m[i] + (1 - b1) * g
        vi = b2 * v[i] + (1 - b2) * g * g
        m[i] = mi
        v[i] = vi
        param[i] -= step * mi / (math.sqrt(vi * ic2) + eps)
