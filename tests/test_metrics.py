import torch
import torch.nn.functional as F

from splatlib.gs.metrics import psnr, ssim


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
