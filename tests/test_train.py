"""Training: checkpoints resume exactly where an interrupted run stopped."""

from pathlib import Path

import numpy as np
import pycolmap
import pytest
import torch

from splatlib.errors import ReconstructionError
from splatlib.gs.cameras import Camera, halved, load_colmap, split_holdout
from splatlib.gs.model import init_from_points, spread_sample
from splatlib.gs.optim import GaussianAdam
from splatlib.gs.trainer import TrainConfig, train
from splatlib.stages.train import (COARSE_UNTIL, TrainOptions, coarse_fraction, gaussian_budget, gaussians_per_view,
                                   train_gaussians)


class Interrupt(Exception):
    pass


def test_resume_from_checkpoint_matches_an_uninterrupted_run(completed_scene, tmp_path):
    scene, catalog, store = completed_scene
    cams, xyz, rgb = load_colmap(store.path(f"sfm/{scene.id}"), 96)
    train_cams, test_cams = split_holdout(cams, 8)
    config = TrainConfig(iterations=60, max_gaussians=3000, sh_degree=1)

    straight = train(init_from_points(xyz, rgb, 3000, 1), train_cams, test_cams, config)

    def stop_at_30(fraction, message):
        if "step 30/" in message:
            raise Interrupt()
    ckpt = tmp_path / "ckpt.pt"
    try:
        train(init_from_points(xyz, rgb, 3000, 1), train_cams, test_cams, config, stop_at_30,
              checkpoint=ckpt, checkpoint_every=0.0)
    except Interrupt:
        pass
    assert ckpt.exists() and torch.load(ckpt, weights_only=False)["step"] == 29
    resumed = train(init_from_points(xyz, rgb, 3000, 1), train_cams, test_cams, config, checkpoint=ckpt)
    assert len(resumed.params["means"]) == len(straight.params["means"])
    for k in straight.params:
        torch.testing.assert_close(resumed.params[k], straight.params[k], rtol=1e-4, atol=1e-5)


def test_checkpoint_for_other_settings_is_ignored(completed_scene, tmp_path):
    scene, catalog, store = completed_scene
    cams, xyz, rgb = load_colmap(store.path(f"sfm/{scene.id}"), 64)
    train_cams, test_cams = split_holdout(cams, 8)
    ckpt = tmp_path / "ckpt.pt"
    train(init_from_points(xyz, rgb, 2000, 0), train_cams, test_cams, TrainConfig(iterations=12, sh_degree=0),
          checkpoint=ckpt, checkpoint_every=0.0)
    assert torch.load(ckpt, weights_only=False)["step"] == 11
    messages = []
    other = train(init_from_points(xyz, rgb, 2000, 0), train_cams, test_cams,
                  TrainConfig(iterations=15, sh_degree=0), lambda fraction, message: messages.append(message),
                  checkpoint=ckpt)
    assert other.curve[-1]["step"] == 15
    assert messages[0].startswith("step 10/15")  # started afresh: a resumed run would begin after step 11


def test_a_start_over_half_the_budget_keeps_the_sparse_regions_points():
    """A dense cluster of 9000 points and 1000 spread thinly: a uniform sample of 2000 would keep about
    200 of the thin ones; weighted by spacing, nearly all of them stay."""
    gen = np.random.default_rng(0)
    xyz = np.concatenate([gen.normal(0, 0.1, (9000, 3)), gen.uniform(-5, 5, (1000, 3))]).astype(np.float32)
    rgb = np.zeros_like(xyz)
    params = init_from_points(xyz, rgb, 4000, 0, seed=1)
    kept = params["means"].detach().numpy()
    assert len(kept) == 2000 and len(np.unique(kept, axis=0)) == 2000
    thin = np.abs(kept).max(axis=1) > 1.0  # the dense cluster's sd is 0.1
    assert thin.sum() > 900
    pick = spread_sample(xyz, 2000, np.random.default_rng(1))
    np.testing.assert_array_equal(pick, spread_sample(xyz, 2000, np.random.default_rng(1)))  # same seed, same start
    assert not np.array_equal(pick, spread_sample(xyz, 2000, np.random.default_rng(2)))
    assert list(pick) == sorted(set(pick))


def test_spacing_is_measured_against_a_subset_of_a_large_model(monkeypatch):
    from splatlib.gs import model
    monkeypatch.setattr(model, "SPACING_REFERENCE", 500)
    gen = np.random.default_rng(0)
    xyz = np.concatenate([gen.normal(0, 0.1, (4500, 3)), gen.uniform(-5, 5, (500, 3))]).astype(np.float32)
    pick = model.spread_sample(xyz, 1000, np.random.default_rng(3))
    assert len(set(pick)) == 1000 and (pick >= 4500).sum() > 400


def test_gaussian_budget_grows_with_the_views_within_the_cap():
    assert gaussian_budget(100_000, 7) == 21_000  # fountain_p11: 11 photos, 4 held out
    assert gaussian_budget(100_000, 3) == 20_000  # never below the floor
    assert gaussian_budget(100_000, 150) == 100_000  # a long video: the cap
    assert gaussian_budget(4_000, 150) == 4_000  # a user's smaller cap wins
    assert gaussian_budget(100_000, 7, 6000) == 42_000


def test_a_gpu_gets_twice_the_gaussians_per_view():
    """On a GPU twice the Gaussians cost no step time and held out better on fountain_p11."""
    assert gaussians_per_view(torch.device("cpu")) == 3000
    assert gaussians_per_view(torch.device("cuda")) == 6000


def test_seconds_limit_ends_training_early(completed_scene):
    scene, catalog, store = completed_scene
    cams, xyz, rgb = load_colmap(store.path(f"sfm/{scene.id}"), 64)
    train_cams, test_cams = split_holdout(cams, 8)
    result = train(init_from_points(xyz, rgb, 2000, 0), train_cams, test_cams,
                   TrainConfig(iterations=100_000, sh_degree=0, seconds_limit=1.0))
    assert 0 < result.steps < 100_000 and result.seconds < 5
    assert result.curve[-1]["step"] == result.steps and result.psnr is not None


def test_time_budget_plans_steps_and_shrinks_images_when_steps_would_be_few(completed_scene, tmp_path):
    scene, catalog, store = completed_scene
    sfm_dir = store.path(f"sfm/{scene.id}")
    roomy = train_gaussians(sfm_dir, tmp_path / "a", TrainOptions(image_size=160, max_gaussians=3000, seconds=20))
    plan = roomy["planned"]
    assert plan["image_size"] == 160 and plan["ms_per_step"] > 0  # 160 px is under the smallest size it shrinks to
    assert plan["iterations"] <= 20_000 / plan["ms_per_step"] and roomy["iterations"] <= plan["iterations"]
    assert roomy["train_seconds"] < 20
    tight = train_gaussians(sfm_dir, tmp_path / "b", TrainOptions(image_size=320, max_gaussians=3000, seconds=1.5))
    assert tight["planned"]["image_size"] < 320 and max(tight["image_size"]) == tight["planned"]["image_size"]
    assert (tmp_path / "b" / tight["ply"]).exists()


def test_a_gaussian_gone_non_finite_is_dropped_and_training_goes_on(completed_scene):
    """One NaN colour on a visible Gaussian makes the loss NaN; before the guard, Adam spread it
    to every parameter and the convert stage failed on non-finite positions."""
    scene, catalog, store = completed_scene
    cams, xyz, rgb = load_colmap(store.path(f"sfm/{scene.id}"), 64)
    train_cams, test_cams = split_holdout(cams, 8)
    params = init_from_points(xyz, rgb, 2000, 0)
    n = len(params["means"])
    with torch.no_grad():
        params["sh0"][:50] = float("nan")  # several, so that every view sees some
        params["scales"][50] = float("inf")
    result = train(params, train_cams, test_cams, TrainConfig(iterations=40, sh_degree=0))
    assert all(torch.isfinite(v).all() for v in result.params.values())
    assert len(result.params["means"]) <= n - 51 and result.psnr is not None and result.psnr > 12


def test_adam_ignores_non_finite_gradient_entries():
    p = torch.zeros(3, 2, requires_grad=True)
    optim = GaussianAdam({"means": p}, {"means": 0.1})
    p.grad = torch.tensor([[1.0, float("inf")], [float("nan"), -1.0], [0.0, 0.0]])
    optim.step()
    assert torch.isfinite(optim.params["means"]).all() and torch.isfinite(optim.v["means"]).all()
    assert optim.params["means"][0, 0] < 0 < optim.params["means"][1, 1]


def test_halved_view_is_the_2x2_mean_with_the_intrinsics_halved():
    image = torch.rand(7, 9, 3)
    K = torch.tensor([[10.0, 0.0, 4.5], [0.0, 12.0, 3.5], [0.0, 0.0, 1.0]])
    half = halved(Camera("a", torch.eye(4), K, 9, 7, image))
    assert (half.width, half.height) == (4, 3) and half.image.shape == (3, 4, 3)
    torch.testing.assert_close(half.image[1, 2], image[2:4, 4:6].mean(dim=(0, 1)))
    torch.testing.assert_close(half.K, torch.tensor([[5.0, 0.0, 2.25], [0.0, 6.0, 1.75], [0.0, 0.0, 1.0]]))
    # a point's pixel in the half view is its pixel in the full view, halved
    point = torch.tensor([0.3, -0.2, 2.0])
    full_px, half_px = (K @ point)[:2] / 2.0, (half.K @ point)[:2] / 2.0
    torch.testing.assert_close(half_px, full_px / 2)


def test_the_first_steps_train_on_half_size_views(completed_scene, monkeypatch):
    from splatlib.gs import trainer

    scene, catalog, store = completed_scene
    cams, xyz, rgb = load_colmap(store.path(f"sfm/{scene.id}"), 64)
    train_cams, test_cams = split_holdout(cams, 8)
    widths = []
    real_render = trainer.render

    def render(params, viewmat, K, width, height, *rest):
        widths.append(width)
        return real_render(params, viewmat, K, width, height, *rest)
    monkeypatch.setattr(trainer, "render", render)
    result = train(init_from_points(xyz, rgb, 2000, 0), train_cams, test_cams,
                   TrainConfig(iterations=20, sh_degree=0, coarse_until=0.5))
    full = train_cams[0].width
    assert widths[:10] == [full // 2] * 10 and widths[10:20] == [full] * 10  # steps; then held-out views
    assert result.steps == 20 and result.psnr is not None and result.psnr > 10


def test_the_cpu_trains_half_its_steps_on_half_size_views_and_a_gpu_none():
    """Half-size steps cost a third of a full one on the CPU; gsplat's steps are launch-bound."""
    assert coarse_fraction(torch.device("cpu")) == COARSE_UNTIL == 0.5
    assert coarse_fraction(torch.device("cuda")) == 0.0


def test_the_cpu_trainer_takes_its_share_of_the_cpus(completed_scene, tmp_path, monkeypatch):
    """Another training holds a share: this one's thread pools are halved while both run (see CpuShare)."""
    import numba

    from splatlib import threads
    from splatlib.gs import trainer
    scene, catalog, store = completed_scene
    cams, xyz, rgb = load_colmap(store.path(f"sfm/{scene.id}"), 64)
    train_cams, test_cams = split_holdout(cams, 8)
    seen = []

    class Recorded(threads.CpuShare):
        def update(self):
            super().update()
            seen.append(numba.get_num_threads())
    monkeypatch.setattr(threads, "SHARE_EVERY", 0.0)
    monkeypatch.setattr(trainer, "CpuShare", lambda active: Recorded(tmp_path, cpus=2, active=active))
    with threads.CpuShare(tmp_path, cpus=2):
        train(init_from_points(xyz, rgb, 2000, 0), train_cams, test_cams, TrainConfig(iterations=4, sh_degree=0))
    assert seen == [1] * 4 and not [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert numba.get_num_threads() == numba.config.NUMBA_NUM_THREADS


def test_a_distortion_model_with_zero_terms_loads_as_a_pinhole(completed_scene, tmp_path):
    """COLMAP's undistortion leaves a camera whose distortion terms are all 0 as it is: training
    takes it as the pinhole it is, and still refuses one with distortion left."""
    scene, catalog, store = completed_scene
    sfm = store.path(f"sfm/{scene.id}")
    cams, _, _ = load_colmap(sfm, 96, load_images=False)

    def with_radial(k: float) -> Path:
        """The scene's model with its pinhole cameras rewritten as SIMPLE_RADIAL with radial term `k`."""
        rec = pycolmap.Reconstruction(str(sfm / "sparse"))
        for cam in rec.cameras.values():
            fx, fy, cx, cy = cam.params
            rec.cameras[cam.camera_id] = pycolmap.Camera(model="SIMPLE_RADIAL", width=cam.width, height=cam.height,
                                                         params=[(fx + fy) / 2, cx, cy, k], camera_id=cam.camera_id)
        out = tmp_path / f"k{k}"
        (out / "sparse").mkdir(parents=True)
        rec.write(str(out / "sparse"))
        return out

    radial_cams, _, _ = load_colmap(with_radial(0.0), 96, load_images=False)
    assert [c.name for c in radial_cams] == [c.name for c in cams]
    assert torch.allclose(radial_cams[0].K, cams[0].K, rtol=1e-3)
    with pytest.raises(ReconstructionError, match="SIMPLE_RADIAL is not undistorted"):
        load_colmap(with_radial(0.05), 96, load_images=False)
