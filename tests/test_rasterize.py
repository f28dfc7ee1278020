"""The numba kernels (projection and SH colours, compositing, Adam) against the PyTorch reference,
values and gradients."""

import math

import numpy as np
import pytest
import torch

from splatlib.gs import cpu_kernels as kernels
from splatlib.gs.metrics import psnr
from splatlib.gs.optim import GaussianAdam
from splatlib.gs.rasterize import _ProjectColor, quat_to_rotmat, rasterize, render
from splatlib.gs.reference import project, rasterize_dense
from splatlib.gs.sh import sh_to_color


def random_scene(n: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    means = torch.rand(n, 3, generator=g) * torch.tensor([4.0, 3.0, 5.0]) - torch.tensor([2.0, 1.5, 3.0])
    scales = torch.exp(torch.randn(n, 3, generator=g) * 0.6 + math.log(0.08))
    scales[:5, 0] = 1e-5  # nearly degenerate (flat) Gaussians
    quats = torch.randn(n, 4, generator=g)
    opac = torch.rand(n, generator=g)
    opac[5:15] = 0.999  # saturate alpha at 0.99
    colors = torch.rand(n, 3, generator=g)
    return [t.requires_grad_() for t in (means, scales, quats, opac, colors)]


def grads_of(fn, tensors, target):
    for t in tensors:
        t.grad = None
    img = fn()
    ((img - target) ** 2).sum().backward()
    return img.detach(), [t.grad.clone() for t in tensors]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_kernels_match_dense_reference(seed):
    w, h = 61, 47  # not a multiple of the tile size
    means, scales, quats, opac, colors = tensors = random_scene(400, seed)
    viewmat = torch.eye(4)
    viewmat[2, 3] = 2.0  # some Gaussians end up behind the camera, some off-screen
    K = torch.tensor([[50.0, 0, 30], [0, 52.0, 24], [0, 0, 1]])
    bg = torch.tensor([0.2, 0.1, 0.3])
    target = torch.rand(h, w, 3, generator=torch.Generator().manual_seed(9))

    def fast():
        proj = project(means, quats, scales, viewmat, K, w, h)
        return rasterize(proj, colors, opac, w, h, bg)[0]

    def dense():
        proj = project(means, quats, scales, viewmat, K, w, h)
        return rasterize_dense(proj, colors, opac, w, h, bg)

    proj = project(means, quats, scales, viewmat, K, w, h)
    assert (proj.depths < 0).any() and (proj.radii == 0).any() and (proj.radii > 0).sum() > 100
    img_fast, g_fast = grads_of(fast, tensors, target)
    img_ref, g_ref = grads_of(dense, tensors, target)
    assert (img_fast - img_ref).abs().max() < 1e-4
    assert img_ref.std() > 0.05  # the scene is not empty
    for name, a, b in zip(["means", "scales", "quats", "opacities", "colors"], g_fast, g_ref):
        rel = float((a - b).norm() / b.norm())
        assert rel < 1e-3, f"{name}: relative gradient error {rel:.2e}"


def test_compositing_backward_writes_every_pair_row():
    """The caller hands `composite_backward` an uninitialised array: the rows of pairs behind a
    pixel's last (opaque Gaussians in front stop every ray early here) must be written as zeros."""
    w, h = 61, 47
    means, scales, quats, opac, colors = random_scene(2000, 4)
    viewmat = torch.eye(4)
    viewmat[2, 3] = 2.0
    K = torch.tensor([[50.0, 0, 30], [0, 52.0, 24], [0, 0, 1]])
    proj = project(means, quats, 3 * scales, viewmat, K, w, h)
    opaque = torch.full_like(opac, 0.999)
    arrays = [x.detach().contiguous().numpy() for x in (proj.means2d, proj.conics, colors, opaque, torch.zeros(3))]
    tiles_x, tiles_y = (w + kernels.TILE - 1) // kernels.TILE, (h + kernels.TILE - 1) // kernels.TILE
    tile_start, pair_gauss = kernels.bin_tiles(arrays[0], arrays[1], arrays[3], proj.radii.numpy(),
                                               proj.depths.detach().numpy(), tiles_x, tiles_y)[:2]
    image, final_t, last = np.zeros((h, w, 3), np.float32), np.zeros((h, w), np.float32), np.zeros((h, w), np.int64)
    kernels.composite_forward(tile_start, pair_gauss, *arrays, w, h, tiles_x, image, final_t, last)
    grad_image = np.random.default_rng(0).standard_normal((h, w, 3)).astype(np.float32)
    rows = {}
    for fill in (0.0, np.nan):
        rows[fill] = np.full((len(pair_gauss), kernels.GRAD_COLS), fill, np.float32)
        kernels.composite_backward(tile_start, pair_gauss, *arrays, w, h, tiles_x, final_t, last, grad_image, rows[fill])
    tile_last = [last[ty * kernels.TILE:(ty + 1) * kernels.TILE, tx * kernels.TILE:(tx + 1) * kernels.TILE].max() for ty in range(tiles_y) for tx in range(tiles_x)]
    assert sum(int(end - lst) for end, lst in zip(tile_start[1:], tile_last)) > 100  # pairs behind every pixel's last
    np.testing.assert_array_equal(rows[np.nan], rows[0.0])


def test_tiles_follow_each_gaussians_ellipse_not_its_square():
    """Thin and faint Gaussians are binned to the tiles their alpha ≥ 1/255 ellipse can reach: far
    fewer pairs than their 3-sigma squares, and the image the dense reference (squares) gives."""
    w, h = 96, 80
    n = 300
    g = torch.Generator().manual_seed(3)
    means = torch.cat([torch.rand(n, 2, generator=g) * 3 - 1.5, torch.full((n, 1), 3.0)], 1).requires_grad_()
    scales = torch.exp(torch.tensor([math.log(0.3), math.log(0.004), math.log(0.004)]).repeat(n, 1))  # needles
    quats = torch.randn(n, 4, generator=g)
    opac = 0.02 + torch.rand(n, generator=g) * 0.1  # faint: their ellipse is well inside 3 sigma
    colors = torch.rand(n, 3, generator=g)
    K = torch.tensor([[60.0, 0, w / 2], [0, 60.0, h / 2], [0, 0, 1]])
    proj = project(means, quats, scales, torch.eye(4), K, w, h)
    tiles_x, tiles_y = (w + kernels.TILE - 1) // kernels.TILE, (h + kernels.TILE - 1) // kernels.TILE
    arrays = [x.detach().contiguous().numpy() for x in (proj.means2d, proj.conics, opac, proj.radii, proj.depths)]
    pairs = len(kernels.bin_tiles(*arrays, tiles_x, tiles_y)[1])
    m, r = proj.means2d.detach(), proj.radii.double()
    span = [(torch.clamp(torch.floor((m[:, i] + r) / kernels.TILE) + 1, 0, t) - torch.clamp(torch.floor((m[:, i] - r) / kernels.TILE), 0, t))
            for i, t in ((0, tiles_x), (1, tiles_y))]
    squares = int((span[0] * span[1])[proj.radii > 0].sum())
    assert pairs < 0.5 * squares, (pairs, squares)
    img = rasterize(proj, colors, opac, w, h)[0]
    ref = rasterize_dense(proj, colors, opac, w, h, torch.zeros(3))
    assert (img - ref).abs().max() < 1e-4 and ref.std() > 0.02


def test_fit_a_synthetic_image():
    """A few thousand Gaussians fitted to one image reach a high PSNR in a few hundred steps."""
    w, h = 64, 48
    ys, xs = torch.meshgrid(torch.linspace(0, 1, h), torch.linspace(0, 1, w), indexing="ij")
    target = torch.stack([0.5 + 0.4 * torch.sin(6 * xs), 0.5 + 0.4 * torch.cos(5 * ys), xs * ys], -1)
    n = 2000
    g = torch.Generator().manual_seed(0)
    K = torch.tensor([[60.0, 0, w / 2], [0, 60.0, h / 2], [0, 0, 1]])
    depth = 2.0
    px = torch.rand(n, 2, generator=g) * torch.tensor([w, h])
    means = torch.cat([(px - torch.tensor([w / 2, h / 2])) / 60.0 * depth, torch.full((n, 1), depth)], 1)
    params = {"means": means, "scales": torch.full((n, 3), math.log(0.03)), "quats": torch.tensor([1.0, 0, 0, 0]).repeat(n, 1),
              "opacities": torch.zeros(n), "sh0": torch.zeros(n, 1, 3), "shN": torch.zeros(n, 0, 3)}
    params = {k: v.requires_grad_() for k, v in params.items()}
    optim = GaussianAdam(params, {"means": 1e-3, "scales": 1e-2, "quats": 1e-3, "opacities": 5e-2, "sh0": 2e-2, "shN": 0.0})
    viewmat = torch.eye(4)
    for _ in range(300):
        img, _ = render(optim.params, viewmat, K, w, h, 0)
        (img - target).abs().mean().backward()
        optim.step()
    img, _ = render(optim.params, viewmat, K, w, h, 0)
    assert psnr(img.detach(), target) > 28.0


def _rotated_camera(seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q = torch.nn.functional.normalize(torch.randn(1, 4, generator=g), dim=-1)
    viewmat = torch.eye(4)
    viewmat[:3, :3] = quat_to_rotmat(q)[0]
    viewmat[:3, 3] = torch.tensor([0.1, -0.2, 2.0]) + 0.3 * torch.randn(3, generator=g)
    return viewmat


@pytest.mark.parametrize("seed,degree", [(0, 3), (1, 1), (2, 0), (3, 2)])
def test_projection_kernels_match_autograd(seed, degree):
    """`render`'s numba projection + SH colours: the same outputs as the tensor-op reference, and its
    hand-written backward the same gradients as autograd through it, for every parameter."""
    n, w, h = 500, 61, 47
    means, scales, quats, _, _ = random_scene(n, seed)
    g = torch.Generator().manual_seed(seed + 100)
    means = (means.detach() * torch.tensor([2.0, 2.0, 1.0])).requires_grad_()  # many beyond the view's guard band
    log_scales = torch.log(scales.detach()).requires_grad_()
    sh0 = (torch.randn(n, 1, 3, generator=g) * 0.5).requires_grad_()
    shN = (torch.randn(n, 15, 3, generator=g) * 0.2).requires_grad_()
    quats = quats.detach().requires_grad_()
    viewmat = _rotated_camera(seed)
    K = torch.tensor([[50.0, 0, 30], [0, 52.0, 24], [0, 0, 1]])
    leaves = [means, log_scales, quats, sh0, shN]
    w2, wc, wk = (torch.randn(n, k, generator=g) for k in (2, 3, 3))  # a loss that weighs every output

    out = _ProjectColor.apply(means, quats, log_scales, sh0, shN, viewmat, K, w, h, degree)
    m2d, conics, colors, depths, radii = out
    drawn = radii > 0
    ((m2d * w2 * drawn[:, None]).sum() + (conics * wc)[drawn].sum() + (colors * wk)[drawn].sum()).backward()
    ours = [t.grad.clone() for t in leaves]
    for t in leaves:
        t.grad = None

    ref = project(means, quats, torch.exp(log_scales), viewmat, K, w, h)
    centre = -viewmat[:3, :3].T @ viewmat[:3, 3]
    dirs = torch.nn.functional.normalize(means.detach() - centre, dim=-1)
    ref_colors = sh_to_color(torch.cat([sh0, shN], 1), dirs, degree)
    assert torch.equal(radii, ref.radii)
    assert 50 < int(drawn.sum()) < n - 50  # some drawn, some culled (behind, outside)
    assert torch.allclose(m2d[drawn], ref.means2d[drawn], rtol=1e-5, atol=1e-3)
    assert torch.allclose(depths, ref.depths.detach(), rtol=1e-5, atol=1e-5)
    assert torch.allclose(conics[drawn], ref.conics[drawn], rtol=1e-4, atol=1e-6)
    assert torch.allclose(colors[drawn], ref_colors[drawn], rtol=1e-5, atol=1e-5)
    # only drawn Gaussians get gradients, as from the compositing
    ((ref.means2d * w2 * drawn[:, None]).sum() + (ref.conics * wc)[drawn].sum()
     + (ref_colors * wk)[drawn].sum()).backward()
    for name, a, t in zip(["means", "log_scales", "quats", "sh0", "shN"], ours, leaves):
        b = t.grad
        rel = float((a - b).norm() / b.norm().clamp_min(1e-12))
        assert rel < 1e-4, f"{name}: relative gradient error {rel:.2e}"
        assert torch.all(a[~drawn] == 0), name


def test_fused_adam_matches_torch():
    """The numba Adam step gives torch's Adam maths, non-finite gradients counted as zero."""
    g = torch.Generator().manual_seed(0)
    params = {k: torch.randn(200, 3, generator=g).requires_grad_() for k in ("means", "scales")}
    ref = {k: v.detach().clone() for k, v in params.items()}
    optim = GaussianAdam(params, {"means": 1e-2, "scales": 3e-2})
    m = {k: torch.zeros_like(v) for k, v in ref.items()}
    v2 = {k: torch.zeros_like(v) for k, v in ref.items()}
    for step in range(1, 4):
        for k, p in optim.params.items():
            grad = torch.randn(200, 3, generator=g)
            grad[step] = float("nan")
            p.grad = grad.clone()
            gr = torch.nan_to_num(grad, nan=0.0)
            m[k] = 0.9 * m[k] + 0.1 * gr
            v2[k] = 0.999 * v2[k] + 0.001 * gr * gr
            lr = optim.lrs[k]
            ref[k] -= lr / (1 - 0.9 ** step) * m[k] / ((v2[k] / (1 - 0.999 ** step)).sqrt() + 1e-15)
        optim.step()
        for k, p in optim.params.items():
            assert p.grad is None
            assert torch.allclose(p.detach(), ref[k], rtol=1e-5, atol=1e-6), k
