"""ProGAN (issue 13): the growth schedule by hand, the growing networks' fade-in, exact resume across a fade-in,
a sample grid at the end of every stage, and a learning check (domain FID and classes against the untrained G).
"""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import gankit
from gankit.api import build_recipe
from gankit.config import resolve
from gankit.types import DataInfo
from gankit.bench import learning_scores
from gankit.errors import ConfigError
from gankit.losses.penalties import Drift, LabelledCritic
from gankit.nets import ModelConfig, NetSpec, build_nets
from gankit.nets.progan import fade_reals, level_and_alpha
from gankit.recipes.progan import growth_at
from gankit.report import write_report
from gankit.train.checkpoint import load_checkpoint
from gankit.train.rundir import RunDir
from tests.conftest import seed_all
from tests.test_resume import assert_same

pytestmark = pytest.mark.usefixtures("evaluator_cache")

PRO = ModelConfig(arch="progan", z_dim=16, g_width=8, d_width=8, g_norm=None, d_norm=None)


def test_growth_follows_the_schedule() -> None:
    """stable 10 at the base, then per level: fade 20 (p rises linearly), stable 10 (p stays); capped at levels."""
    at = [growth_at(i, levels=2, fade=20, stable=10) for i in (0, 9, 10, 15, 25, 30, 39, 40, 50, 60, 1000)]
    assert at == [0, 0, 0, 0.25, 0.75, 1, 1, 1, 1.5, 2, 2]
    assert level_and_alpha(0.25) == (1, 0.25) and level_and_alpha(1.0) == (1, 1.0) and level_and_alpha(0.0) == (0, 1.0)
    # train.minutes prices a run by its first fully grown step: the digits preset (4 + 4 kimg, batch 64) at step 126
    recipe = build_recipe(resolve("progan", "digits", ["device=cpu"]), DataInfo("digits", (1, 8, 8), 10, "image"),
                          torch.device("cpu"))
    assert recipe.representative_step() == 126 and recipe.growth(126) == 1 > recipe.growth(125)
    assert [recipe.stage(s) for s in (63, 64, 125, 126)] == ["4px", "8px fade-in", "8px fade-in", "8px"]


def test_growing_networks_fade_in_and_train_only_what_has_grown() -> None:
    seed_all(0)
    G, D = build_nets(NetSpec((1, 28, 28), 16), PRO)
    assert G.levels == 2 and G.p == 2  # 7 -> 14 -> 28, fully grown until a recipe grows it
    z = torch.randn(4, 16)
    G.grow_to(0)
    base = G(z)
    assert base.shape == (4, 1, 28, 28)
    assert torch.equal(base, F.interpolate(base[:, :, ::4, ::4], scale_factor=4))  # a 7x7 image, upsampled
    G.grow_to(1)
    full = G(z)
    G.grow_to(0.25)  # fading in 14 px: a quarter of the new image, three quarters of the coarse one upsampled
    coarse = F.interpolate(G.to_images[0](_first_features(G, z))[:, :, :, :], scale_factor=4)
    torch.testing.assert_close(G(z), 0.25 * full + 0.75 * coarse)
    D.grow_to(0)
    D(torch.randn(4, 1, 28, 28)).logit.sum().backward()
    grads = {name.split(".")[0] + "." + name.split(".")[1]: p.grad for name, p in D.named_parameters()
             if name.startswith(("blocks", "from_images"))}
    assert grads["from_images.0"] is not None and grads["blocks.0"] is None and grads["from_images.2"] is None
    x = torch.rand(4, 1, 28, 28) * 2 - 1
    for p in (0.0, 1.0):  # D sees the reals at the current stage: its pooling undoes the upsampling exactly
        D.grow_to(p)
        torch.testing.assert_close(D(x).logit, D(fade_reals(x, p, 2)).logit)
    assert torch.equal(fade_reals(x, 2.0, 2), x)  # fully grown: the reals themselves
    with pytest.raises(ConfigError, match="model.arch=progan"):
        gankit.train("progan", "digits", overrides=["model.arch=dcgan", "train.steps=1", "device=cpu"])


def _first_features(G, z: torch.Tensor) -> torch.Tensor:  # noqa: ANN001
    from gankit.nets.progan import act
    from gankit.nn.layers import pixel_norm

    h = act(G.dense(pixel_norm(z)).view(len(z), -1, G.base, G.base), norm=True)
    return act(G.conv0(h), norm=True)


def test_drift_penalty_by_hand() -> None:
    """0.001 * E[D(x)^2] of the real scores already computed for the loss (no second pass through D)."""
    scores = torch.tensor([1.0, 2.0, 3.0])
    never = LabelledCritic(lambda x: 1 / 0, lambda x: 1 / 0, real_score=scores)
    assert float(Drift().loss(critic=never, real=torch.zeros(3, 1), fake=torch.zeros(3, 1), step=1)) == \
        pytest.approx(0.001 * 14 / 3)


TINY_GROWTH = ["model.g_width=8", "model.d_width=8", "model.z_dim=8", "train.batch_size=8", "data.limit=200",
               "recipe_args.stable_kimg=0.024", "recipe_args.fade_kimg=0.04",  # 4 px to step 4, 8 px fading in to 8
               "train.checkpoint_every=3", "train.sample_every=100", "train.log_every=1", "train.deterministic=true",
               "train.progress=false", "device=cpu"]


def test_a_run_killed_mid_fade_in_resumes_bitwise_equal(tmp_path: Path) -> None:
    straight = gankit.train("progan", "digits", out=tmp_path / "straight", overrides=TINY_GROWTH + ["train.steps=12"])
    first = gankit.train("progan", "digits", out=tmp_path / "resumed", overrides=TINY_GROWTH + ["train.steps=6"])
    assert first.recipe.G.p == pytest.approx(0.4)  # stopped during the fade-in of 8 px (steps 5-8)
    loaded = gankit.load(first.path)  # the checkpoint carries the stage: a loaded G samples where training stood
    assert loaded.recipe.sampler().p == loaded.recipe.G.p == first.recipe.G.p
    resumed = gankit.resume(first.path, ["train.steps=12"])
    a, b = (load_checkpoint(run.path / "checkpoints" / "latest.pt") for run in (straight, resumed))
    for key in ("recipe", "optimizers", "loader", "rng", "fixed"):
        assert_same(a[key], b[key], key)
    alphas = [row["D/alpha"] for row in RunDir(straight.path).rows() if "D/alpha" in row]
    assert alphas == pytest.approx([1, 1, 1, 1, 0.2, 0.4, 0.6, 0.8, 1, 1, 1, 1])  # rising linearly while 8 px fades in
    stages = sorted(p.name for p in (straight.path / "samples").glob("stage_*.png"))
    assert stages == ["stage_0000004_4px.png", "stage_0000008_8px-fade-in.png", "stage_0000012_8px.png"]


def test_progan_learns_and_the_report_shows_every_stage(tmp_path: Path) -> None:
    """The digits preset (4 px until step 63, 8 px fading in until step 125), 250 steps, 500 samples: seeds 0 / 1
    measured domain FID 66.2 / 80.6 against 206.7 / 390.2 untrained, class entropy .985 / .989 against .724 / .759."""
    run = gankit.train("progan", "digits", out=tmp_path / "run", overrides=[
        "train.steps=250", "train.sample_every=100000", "train.checkpoint_every=100000", "train.progress=false",
        "device=cpu"])
    trained, untrained = learning_scores(run, n=500)
    assert trained["fid"] < 0.5 * untrained["fid"] and trained["class_entropy"] > untrained["class_entropy"] + 0.1
    html = write_report(run.path).read_text()
    assert "Samples at the end of each training stage" in html
    assert "<figcaption>4px (step 63)" in html and "<figcaption>8px-fade-in (step 125)" in html
    assert "<figcaption>8px (step 250)" in html
