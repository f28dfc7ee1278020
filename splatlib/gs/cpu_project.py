"""Numba kernels for the per-Gaussian half of a CPU training step, forward and backward.

`project_forward` does for every Gaussian what `reference.project` and `sh.sh_to_color` do with
tensor ops: EWA projection into one pinhole camera (mean, conic, depth, radius) and the colour of
its spherical harmonics seen from that camera. `project_backward` is its hand-written gradient,
in the same kernel layout (`_camera_jacobian` and `_covariance_terms` shared), so autograd never
builds a graph of per-slice ops (whose backward zero-filled a full-size tensor for every slice).
`adam_update` is Adam over one parameter tensor in a single pass. The tests compare all three with
autograd and torch.
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
_CHUNK = 512  # Gaussians per parallel task; its state array is allocated once per task
# The helpers are inlined into the parallel loops (numba's inline="always"): called once per Gaussian
# with their array arguments, the earlier scalar kernels took 25-40% longer (200k Gaussians, 2026-12-04).


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
def _camera_constants(view, fx, fy, cx, cy, width, height):
    """The view's top three rows as scalars (loop constants, not loads from an array that might alias
    an output), then the bounds of x/z and y/z where the Jacobian is taken (the guarded view)."""
    lim_x, lim_y = _GUARD * 0.5 * width / fx, _GUARD * 0.5 * height / fy
    return (view[0, 0], view[0, 1], view[0, 2], view[0, 3], view[1, 0], view[1, 1], view[1, 2], view[1, 3],
            view[2, 0], view[2, 1], view[2, 2], view[2, 3],
            -(cx / fx + lim_x), (width - cx) / fx + lim_x, -(cy / fy + lim_y), (height - cy) / fy + lim_y)


@njit(inline="always", fastmath=_FAST, cache=True)
def _camera_jacobian(px, py, pz, cam, fx, fy):
    """The camera-space point, 1/z (z at least NEAR), x/z and y/z, the same clamped to the guarded
    view (where the projection's Jacobian is taken), and the Jacobian's entries J00, J02, J11, J12.
    `cam`: `_camera_constants`."""
    x = cam[0] * px + cam[1] * py + cam[2] * pz + cam[3]
    y = cam[4] * px + cam[5] * py + cam[6] * pz + cam[7]
    z = cam[8] * px + cam[9] * py + cam[10] * pz + cam[11]
    iz = 1.0 / max(z, NEAR)
    u, v = x * iz, y * iz
    cu, cv = min(max(u, cam[12]), cam[13]), min(max(v, cam[14]), cam[15])
    return x, y, z, iz, u, v, cu, cv, fx * iz, -fx * cu * iz, fy * iz, -fy * cv * iz


@njit(inline="always", fastmath=_FAST, cache=True)
def _covariance_terms(qw, qx, qy, qz, s0, s1, s2, cam, j00, j02, j11, j12):
    """From a raw quaternion, the scales and the Jacobian: the unit quaternion and 1/its length, W·Rq
    (3×3 row-major; W the view rotation, Rq the Gaussian's), T = J·W·Rq·diag(s) (2×3 row-major) and
    the 2D covariance T·Tᵀ with the low-pass (a, b, c), as one flat tuple of 23."""
    iq = 1.0 / max(math.sqrt(qw * qw + qx * qx + qy * qy + qz * qz), 1e-12)
    uw, ux, uy, uz = qw * iq, qx * iq, qy * iq, qz * iq
    r = _rotmat(uw, ux, uy, uz)
    wr0, wr1, wr2 = (cam[0] * r[0] + cam[1] * r[3] + cam[2] * r[6], cam[0] * r[1] + cam[1] * r[4] + cam[2] * r[7],
                     cam[0] * r[2] + cam[1] * r[5] + cam[2] * r[8])
    wr3, wr4, wr5 = (cam[4] * r[0] + cam[5] * r[3] + cam[6] * r[6], cam[4] * r[1] + cam[5] * r[4] + cam[6] * r[7],
                     cam[4] * r[2] + cam[5] * r[5] + cam[6] * r[8])
    wr6, wr7, wr8 = (cam[8] * r[0] + cam[9] * r[3] + cam[10] * r[6], cam[8] * r[1] + cam[9] * r[4] + cam[10] * r[7],
                     cam[8] * r[2] + cam[9] * r[5] + cam[10] * r[8])
    t0, t1, t2 = (j00 * wr0 + j02 * wr6) * s0, (j00 * wr1 + j02 * wr7) * s1, (j00 * wr2 + j02 * wr8) * s2
    t3, t4, t5 = (j11 * wr3 + j12 * wr6) * s0, (j11 * wr4 + j12 * wr7) * s1, (j11 * wr5 + j12 * wr8) * s2
    return (uw, ux, uy, uz, iq, wr0, wr1, wr2, wr3, wr4, wr5, wr6, wr7, wr8, t0, t1, t2, t3, t4, t5,
            t0 * t0 + t1 * t1 + t2 * t2 + EPS2D, t0 * t3 + t1 * t4 + t2 * t5, t3 * t3 + t4 * t4 + t5 * t5 + EPS2D)


_MEAN, _QUAT, _SCALE = 0, 3, 7  # rows of a chunk's inputs in the kernels' one state array
_UV, _DEPTH, _RADIUS, _CONIC = 10, 12, 13, 14  # rows of the forward's outputs
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
    cam = _camera_constants(view, fx, fy, cx, cy, width, height)
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
            x, y, z, iz, _u, _v, _cu, _cv, j00, j02, j11, j12 = _camera_jacobian(
                st[_MEAN, k], st[_MEAN + 1, k], st[_MEAN + 2, k], cam, fx, fy)
            mx, my = fx * x * iz + cx, fy * y * iz + cy
            terms = _covariance_terms(st[_QUAT, k], st[_QUAT + 1, k], st[_QUAT + 2, k], st[_QUAT + 3, k],
                                      st[_SCALE, k], st[_SCALE + 1, k], st[_SCALE + 2, k], cam, j00, j02, j11, j12)
            ca, cb, cc = terms[20], terms[21], terms[22]
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
def _t_column_grads(t_k, t_3k, wr_k, wr_3k, wr_6k, s_k, v_ca, v_cb, v_cc, j00, j02, j11, j12, w0, w1, w2):
    """Column k of T = J·(W·Rq·diag(s)) back to J's entries, to the log scale s_k, and to column k
    of Rq's gradient (`w0`, `w1`, `w2`: the view rotation's columns 0, 1, 2, as tuples)."""
    vt0 = 2 * v_ca * t_k + v_cb * t_3k
    vt1 = v_cb * t_k + 2 * v_cc * t_3k
    vm0, vm1, vm2 = j00 * vt0, j11 * vt1, j02 * vt0 + j12 * vt1  # Jᵀ v_T[:, k]
    return (vt0 * wr_k * s_k, vt0 * wr_6k * s_k, vt1 * wr_3k * s_k, vt1 * wr_6k * s_k,  # d J00, J02, J11, J12
            s_k * (vm0 * wr_k + vm1 * wr_3k + vm2 * wr_6k),  # d log s_k (× s: the scale is exp)
            s_k * (w0[0] * vm0 + w0[1] * vm1 + w0[2] * vm2),  # d Rq[0, k] = s_k · (Wᵀ vm)[0]
            s_k * (w1[0] * vm0 + w1[1] * vm1 + w1[2] * vm2),
            s_k * (w2[0] * vm0 + w2[1] * vm1 + w2[2] * vm2))


_V_UV, _V_CONIC, _DRAWN = 10, 12, 15  # the backward's further input rows (0-9 as the forward's)
_G_MEAN, _G_QUAT, _G_SCALE = 16, 19, 23  # and its output rows
_BACK_ROWS = 26


@njit(parallel=True, fastmath=_FAST, cache=True)
def project_backward(means, quats, scales, view, fx, fy, cx, cy, width, height, degree, radii, colors,
                     v_means2d, v_conics, v_colors, g_means, g_quats, g_log_scales, g_sh0, g_shN):
    """Gradients of `project_forward`'s outputs with respect to its inputs.

    Takes d(loss)/d(means2d, conics, colors) and writes d(loss)/d(means, quats, log_scales, sh0,
    shN) (`scales` as given to the forward, the exp of the log scales); the rows of a Gaussian that
    is not drawn get zeros, as do the SH bands above `degree`. Laid out as the forward: the SH
    gradients per Gaussian, then the projection's gradients in SIMD lanes over one array's rows.
    """
    n = means.shape[0]
    centre = _centre(view)
    cam = _camera_constants(view, fx, fy, cx, cy, width, height)
    col0, col1, col2 = (cam[0], cam[4], cam[8]), (cam[1], cam[5], cam[9]), (cam[2], cam[6], cam[10])  # W's columns
    bands = (degree + 1) * (degree + 1)
    for task in prange((n + _CHUNK - 1) // _CHUNK):
        lo = task * _CHUNK
        m = min(n, lo + _CHUNK) - lo
        st = np.empty((_BACK_ROWS, _CHUNK), np.float64)
        basis = np.empty(16, np.float64)
        for k in range(m):
            i = lo + k
            for c in range(3):
                st[_MEAN + c, k] = means[i, c]
                st[_SCALE + c, k] = scales[i, c]
                st[_V_CONIC + c, k] = v_conics[i, c]
            for c in range(4):
                st[_QUAT + c, k] = quats[i, c]
            st[_V_UV, k], st[_V_UV + 1, k] = v_means2d[i, 0], v_means2d[i, 1]
            drawn = radii[i] > 0
            st[_DRAWN, k] = 1.0 if drawn else 0.0
            # colours: the SH coefficients (viewing directions carry no gradient); bands above `degree`
            # and Gaussians not drawn get 0
            vr = vg = vb = 0.0
            if drawn:
                _view_direction(means, i, centre, degree, basis)
                vr = v_colors[i, 0] if colors[i, 0] > 0.0 else 0.0
                vg = v_colors[i, 1] if colors[i, 1] > 0.0 else 0.0
                vb = v_colors[i, 2] if colors[i, 2] > 0.0 else 0.0
            g_sh0[i, 0, 0] = basis[0] * vr if drawn else 0.0
            g_sh0[i, 0, 1] = basis[0] * vg if drawn else 0.0
            g_sh0[i, 0, 2] = basis[0] * vb if drawn else 0.0
            for j in range(1, g_shN.shape[1] + 1):
                used = j < bands and drawn
                g_shN[i, j - 1, 0] = basis[j] * vr if used else 0.0
                g_shN[i, j - 1, 1] = basis[j] * vg if used else 0.0
                g_shN[i, j - 1, 2] = basis[j] * vb if used else 0.0
        for k in range(np.uint64(m)):
            # the forward quantities again
            x, y, z, iz, u, v, cu, cv, j00, j02, j11, j12 = _camera_jacobian(
                st[_MEAN, k], st[_MEAN + 1, k], st[_MEAN + 2, k], cam, fx, fy)  # a drawn Gaussian is beyond NEAR
            (uw, ux, uy, uz, iq, wr0, wr1, wr2, wr3, wr4, wr5, wr6, wr7, wr8, t0, t1, t2, t3, t4, t5,
             ca, cb, cc) = _covariance_terms(st[_QUAT, k], st[_QUAT + 1, k], st[_QUAT + 2, k], st[_QUAT + 3, k],
                                             st[_SCALE, k], st[_SCALE + 1, k], st[_SCALE + 2, k], cam,
                                             j00, j02, j11, j12)
            s0, s1, s2 = st[_SCALE, k], st[_SCALE + 1, k], st[_SCALE + 2, k]
            inv = 1.0 / max(ca * cc - cb * cb, 1e-12)
            A, B, C = cc * inv, -cb * inv, ca * inv
            # conic = inverse of [[ca, cb], [cb, cc]]
            vA, vB, vC = st[_V_CONIC, k], st[_V_CONIC + 1, k], st[_V_CONIC + 2, k]
            v_ca = -(vA * A * A + vB * A * B + vC * B * B)
            v_cb = -(2 * vA * A * B + vB * (A * C + B * B) + 2 * vC * B * C)
            v_cc = -(vA * B * B + vB * B * C + vC * C * C)
            # cov2d = T Tᵀ, then T = J · (W Rq diag(s)), column by column
            c0 = _t_column_grads(t0, t3, wr0, wr3, wr6, s0, v_ca, v_cb, v_cc, j00, j02, j11, j12, col0, col1, col2)
            c1 = _t_column_grads(t1, t4, wr1, wr4, wr7, s1, v_ca, v_cb, v_cc, j00, j02, j11, j12, col0, col1, col2)
            c2 = _t_column_grads(t2, t5, wr2, wr5, wr8, s2, v_ca, v_cb, v_cc, j00, j02, j11, j12, col0, col1, col2)
            v_j00, v_j02, v_j11, v_j12 = c0[0] + c1[0] + c2[0], c0[1] + c1[1] + c2[1], c0[2] + c1[2] + c2[2], c0[3] + c1[3] + c2[3]
            # d Rq, row-major: [row, k] is column k's entry `5 + row`
            dr0, dr1, dr2, dr3, dr4, dr5, dr6, dr7, dr8 = c0[5], c1[5], c2[5], c0[6], c1[6], c2[6], c0[7], c1[7], c2[7]
            # rotation matrix -> unit quaternion -> the raw quaternion
            gw = 2 * (-uz * dr1 + uy * dr2 + uz * dr3 - ux * dr5 - uy * dr6 + ux * dr7)
            gx = 2 * (uy * dr1 + uz * dr2 + uy * dr3 - 2 * ux * dr4 - uw * dr5 + uz * dr6 + uw * dr7 - 2 * ux * dr8)
            gy = 2 * (-2 * uy * dr0 + ux * dr1 + uw * dr2 + ux * dr3 + uz * dr5 - uw * dr6 + uz * dr7 - 2 * uy * dr8)
            gz = 2 * (-2 * uz * dr0 - uw * dr1 + ux * dr2 + uw * dr3 - 2 * uz * dr4 + uy * dr5 + ux * dr6 + uy * dr7)
            dot = uw * gw + ux * gx + uy * gy + uz * gz
            # the Jacobian's entries and the 2D mean -> the camera-space point; a clamped ratio's
            # gradient goes to z, not to x or y
            v_tx = -v_j02 * fx * iz * iz
            v_ty = -v_j12 * fy * iz * iz
            v_z = -(v_j00 * fx + v_j11 * fy) * iz * iz + 2 * (v_j02 * fx * cu + v_j12 * fy * cv) * iz * iz
            clamped_x, clamped_y = cu != u, cv != v
            v_x = 0.0 if clamped_x else v_tx
            v_y = 0.0 if clamped_y else v_ty
            v_z += (v_tx * cu if clamped_x else 0.0) + (v_ty * cv if clamped_y else 0.0)
            vmx, vmy = st[_V_UV, k], st[_V_UV + 1, k]
            v_x += vmx * fx * iz
            v_y += vmy * fy * iz
            v_z -= (vmx * fx * x + vmy * fy * y) * iz * iz
            drawn = st[_DRAWN, k] > 0.0
            st[_G_MEAN, k] = col0[0] * v_x + col0[1] * v_y + col0[2] * v_z if drawn else 0.0  # camera -> world: Wᵀ
            st[_G_MEAN + 1, k] = col1[0] * v_x + col1[1] * v_y + col1[2] * v_z if drawn else 0.0
            st[_G_MEAN + 2, k] = col2[0] * v_x + col2[1] * v_y + col2[2] * v_z if drawn else 0.0
            st[_G_QUAT, k] = (gw - uw * dot) * iq if drawn else 0.0
            st[_G_QUAT + 1, k] = (gx - ux * dot) * iq if drawn else 0.0
            st[_G_QUAT + 2, k] = (gy - uy * dot) * iq if drawn else 0.0
            st[_G_QUAT + 3, k] = (gz - uz * dot) * iq if drawn else 0.0
            st[_G_SCALE, k] = c0[4] if drawn else 0.0
            st[_G_SCALE + 1, k] = c1[4] if drawn else 0.0
            st[_G_SCALE + 2, k] = c2[4] if drawn else 0.0
        for k in range(m):
            i = lo + k
            for c in range(3):
                g_means[i, c] = st[_G_MEAN + c, k]
                g_log_scales[i, c] = st[_G_SCALE + c, k]
            for c in range(4):
                g_quats[i, c] = st[_G_QUAT + c, k]


@njit(parallel=True, cache=True)
def adam_update(param, grad, m, v, lr, b1, b2, c1, c2, eps):
    """One Adam step over flat float32 arrays, in place, in float32 arithmetic as torch's Adam on
    float32 tensors (in float64 the square roots and divisions took 16-wide SIMD down to 8: 1.55 →
    1.26 ms over 50k Gaussians' 2.95M parameters); a non-finite gradient entry counts as 0 (once in
    the moments it would turn the parameter into NaN for good)."""
    step, ic2 = np.float32(lr / c1), np.float32(1.0 / c2)
    keep_m, keep_v = np.float32(b1), np.float32(b2)
    take_m, take_v = np.float32(1.0 - b1), np.float32(1.0 - b2)
    f_eps, zero = np.float32(eps), np.float32(0.0)
    for i in prange(param.shape[0]):
        g = grad[i]
        g = g if math.isfinite(g) else zero
        mi = keep_m * m[i] + take_m * g
        vi = keep_v * v[i] + take_v * g * g
        m[i] = mi
        v[i] = vi
        param[i] -= step * mi / (math.sqrt(vi * ic2) + f_eps)
