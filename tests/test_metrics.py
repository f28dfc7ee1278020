import numpy as np
import pytest
import torch
import torch.nn.functional as F

from splatlib.gs.blur import separable_blur
from splatlib.gs.metrics import photometric_loss, psnr, ssim


def ssim_2d_reference(a, b):
    """SSIM with a full 2D 11×11 window, written out directly."""
    x = torch.arange(11, dtype=torch.float64) - 5
    g = torch.exp(-x * x / (2 * 1.5 ** 2))
    g /= g.sum()
    win = (g[:, None] * g[None, :]).expand(3, 1, 11, 11)
    x, y = a.double().permute(2, 0, 1)[None], b.double().permute(2, 0, 1)[None]
    blur = lambda t: F.conv2d(t, win, padding=5, groups=3)  # noqa: E731
    mx, my = blur(x), blur(y)
    sxx, syy, sxy = blur(x * x) - mx ** 2, blur(y * y) - my ** 2, blur(x * y) - mx * my
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    return (((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx ** 2 + my ** 2 + c1) * (sxx + syy + c2))).mean()


def test_separable_ssim_matches_the_2d_window():
    g = torch.Generator().manual_seed(0)
    a = torch.rand(37, 53, 3, generator=g)
    b = (a + 0.1 * torch.randn(37, 53, 3, generator=g)).clamp(0, 1)
    assert abs(float(ssim(a, b)) - float(ssim_2d_reference(a, b))) < 1e-5
    assert abs(float(ssim(a, a)) - 1.0) < 1e-5


def test_psnr():
    a = torch.zeros(4, 4, 3)
    assert abs(psnr(a + 0.1, a) - 20.0) < 1e-4


def test_ssim_gradient_matches_autograd_of_the_2d_window():
    g = torch.Generator().manual_seed(1)
    a = torch.rand(29, 41, 3, generator=g)
    b = (a + 0.2 * torch.randn(29, 41, 3, generator=g)).clamp(0, 1)
    ours = a.clone().requires_grad_()
    ssim(ours, b).backward()
    ref = a.double().clone().requires_grad_()
    ssim_2d_reference(ref, b.double()).backward()
    rel = float((ours.grad.double() - ref.grad).norm() / ref.grad.norm())
    assert rel < 1e-4, rel


def test_the_cpu_loss_and_its_gradient_match_the_tensor_version():
    """`photometric_loss` on the CPU (numba, loss and gradient at once) against the same formula in
    tensor ops, whose SSIM gradient is checked against autograd above."""
    g = torch.Generator().manual_seed(2)
    target = torch.rand(45, 67, 3, generator=g)
    render = (target + 0.15 * torch.randn(45, 67, 3, generator=g)).clamp(0, 1)
    render[3, 4] = target[3, 4]  # a pixel where |x − y| has no slope
    for lam in (0.2, 0.0, 1.0):
        ours = render.clone().requires_grad_()
        loss = photometric_loss(ours, target, lam)
        (3.0 * loss).backward()
        ref = render.clone().requires_grad_()
        expected = (1 - lam) * (ref - target).abs().mean() + lam * (1 - ssim(ref, target))
        (3.0 * expected).backward()
        assert abs(loss.item() - expected.item()) < 1e-6, lam
        rel = float((ours.grad - ref.grad).norm() / ref.grad.norm())
        assert rel < 1e-5, (lam, rel)


@pytest.mark.parametrize("height, width", [(4, 7), (12, 5), (1, 1)])
def test_the_blurs_handle_images_smaller_than_the_window(height, width):
    """Zero padding on both sides of a row or column shorter than the 11 taps: SSIM and the CPU
    loss's gradient against the 2D window written out."""
    g = torch.Generator().manual_seed(3)
    target = torch.rand(height, width, 3, generator=g)
    render = (target + 0.2 * torch.randn(height, width, 3, generator=g)).clamp(0, 1)
    assert abs(float(ssim(render, target)) - float(ssim_2d_reference(render, target))) < 1e-5
    ours = render.clone().requires_grad_()
    photometric_loss(ours, target, 1.0).backward()
    ref = render.double().clone().requires_grad_()
    (1 - ssim_2d_reference(ref, target.double())).backward()
    rel = float((ours.grad.double() - ref.grad).norm() / ref.grad.norm())
    assert rel < 1e-4, rel


def test_the_blur_takes_eleven_taps():
    with pytest.raises(ValueError, match="11 taps"):
        separable_blur(np.zeros((1, 4, 4), np.float32), np.ones(7, np.float32) / 7)
