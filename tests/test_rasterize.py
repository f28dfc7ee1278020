"""The numba compositing kernels against the dense PyTorch reference, image and gradients."""

import math

import pytest
import torch

from splatlib.gs.metrics import psnr
from splatlib.gs.optim import GaussianAdam
from splatlib.gs.rasterize import project, rasterize, render
from splatlib.gs.reference import rasterize_dense


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
