"""Training tricks against the papers' definitions and hand-computed values."""
from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

import gankit
from gankit.api import build_recipe
from gankit.config import resolve
from gankit.errors import ConfigError
from gankit.nn.batch import MinibatchDiscrimination, VirtualBatchNormG, minibatch_stddev, pack
from gankit.recipes.ensemble import aggregate
from gankit.tricks import TRICKS, DiffAugment, HistoricalAveraging, InstanceNoise
from gankit.types import Batch, DataInfo
from gankit.distributed import batch_randn
from tests.conftest import seed_all

POINTS = DataInfo("ring8", (2,), 8, "points")
IMAGES = DataInfo("digits", (1, 16, 16), 10, "image")
SMALL_MLP = ["model.arch=mlp", "model.g_width=16", "model.d_width=16", "model.z_dim=4", "model.d_norm=null", "device=cpu"]


def recipe_for(preset: str, data: DataInfo, overrides: list[str]):  # noqa: ANN201
    cfg = resolve(preset, data.name, overrides)
    return build_recipe(cfg, data, torch.device("cpu")), cfg


# --- packing and minibatch layers change output shapes as the papers say ---------------------------
def test_pack_concatenates_m_samples() -> None:
    x = torch.arange(24.0).view(6, 2, 2)  # six 2x2 "samples"
    packed = pack(x, 3)
    assert packed.shape == (2, 6, 2)
    torch.testing.assert_close(packed[0], torch.cat([x[0], x[1], x[2]]))
    with pytest.raises(ValueError, match="divisible by 4"):
        pack(x, 4)


@pytest.mark.parametrize(("data", "extra"), [(POINTS, SMALL_MLP), (IMAGES, ["model.g_width=8", "model.d_width=8", "device=cpu"])])
def test_packed_discriminator_scores_one_value_per_pack(data: DataInfo, extra: list[str]) -> None:
    recipe, _ = recipe_for("dcgan", data, extra + ["tricks=[{name: pack, m: 4}]", "train.batch_size=8"])
    first = next(m for m in recipe.D.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d)))
    assert (first.in_features if isinstance(first, torch.nn.Linear) else first.in_channels) == 4 * data.sample_shape[0]
    out = recipe.D(torch.randn(8, *data.sample_shape))
    assert out.logit.shape == (2,)


def test_pack_refuses_a_batch_it_cannot_split() -> None:
    with pytest.raises(ConfigError, match="multiple of 3"):
        recipe_for("gan", POINTS, SMALL_MLP + ["tricks=[{name: pack, m: 3}]", "train.batch_size=100"])


def test_minibatch_discrimination_adds_kernels_and_measures_closeness() -> None:
    layer = MinibatchDiscrimination(in_features=6, kernels=5, kernel_dim=3)
    same = torch.ones(4, 6)
    torch.testing.assert_close(layer(same), torch.full((4, 5), 3.0))  # exp(0) from each of the 3 others
    far = torch.eye(4, 6) * 1e4
    assert layer(far).abs().max() < 1e-6  # nothing close
    recipe, _ = recipe_for("gan", POINTS, SMALL_MLP + ["tricks=[{name: minibatch_discrimination, kernels: 7}]"])
    out = recipe.D(torch.randn(10, 2))
    assert out.features.shape == (10, 16 + 7) and out.logit.shape == (10,)


def test_minibatch_stddev_matches_hand_computation() -> None:
    features = torch.tensor([[0.0, 2.0], [1.0, 1.0], [2.0, 0.0], [3.0, 3.0]])
    # group size 2: groups are samples {0, 2} and {1, 3} (sample i in group i mod 2)
    std02 = (torch.tensor([1.0, 1.0]) + 1e-8).sqrt().mean()  # |0-2|/2 = 1 and |2-0|/2 = 1
    std13 = (torch.tensor([1.0, 1.0]) + 1e-8).sqrt().mean()
    out = minibatch_stddev(features, group_size=2)
    torch.testing.assert_close(out, torch.stack([std02, std13, std02, std13])[:, None])
    torch.testing.assert_close(minibatch_stddev(torch.ones(6, 3), 4), torch.full((6, 1), 1e-4))  # group 3 divides 6
    recipe, _ = recipe_for("gan", POINTS, SMALL_MLP + ["tricks=[minibatch_stddev]"])
    assert recipe.D(torch.randn(8, 2)).features.shape == (8, 17)


# --- label smoothing and instance noise change the loss as computed by hand ------------------------
@pytest.mark.parametrize("loss", ["nonsat", "lsgan"])
def test_label_smoothing_is_the_smoothed_target_loss(loss: str) -> None:
    recipe, _ = recipe_for("gan", POINTS, SMALL_MLP + [f"loss={loss}", "tricks=[{name: label_smoothing, real: 0.9}]"])
    batch = Batch(torch.randn(6, 2))
    seed_all(3)
    terms = recipe.d_step(batch, step=1)
    seed_all(3)
    fake = recipe.G(batch_randn(6, recipe.z_dim))
    r, f = recipe.D(batch.x).logit, recipe.D(fake).logit
    if loss == "nonsat":  # cross-entropy with target 0.9 for real, 0 for fake
        expected = -(0.9 * F.logsigmoid(r) + 0.1 * F.logsigmoid(-r)).mean() - F.logsigmoid(-f).mean()
    else:  # least squares with target 0.9 for real
        expected = 0.5 * ((r - 0.9) ** 2).mean() + 0.5 * (f**2).mean()
    torch.testing.assert_close(terms["adv"] + terms["label_smoothing"], expected)


def test_label_smoothing_refuses_losses_without_a_target() -> None:
    with pytest.raises(ConfigError, match="label_smoothing"):
        recipe_for("wgan-gp", IMAGES, ["model.g_width=8", "model.d_width=8", "device=cpu", "tricks=[label_smoothing]"])


def test_instance_noise_is_annealed_and_enters_the_loss() -> None:
    noise = InstanceNoise(sigma=0.2, anneal_steps=100)
    assert [noise.sigma_at(s) for s in (0, 50, 100, 150)] == pytest.approx([0.2, 0.1, 0.0, 0.0])
    recipe, _ = recipe_for("gan", POINTS, SMALL_MLP + ["tricks=[{name: instance_noise, sigma: 0.5, anneal_steps: 100}]"])
    batch = Batch(torch.randn(6, 2))
    seed_all(5)
    terms = recipe.d_step(batch, step=20)
    seed_all(5)
    fake = recipe.G(batch_randn(6, recipe.z_dim))
    real_seen = batch.x + 0.4 * torch.randn_like(batch.x)  # sigma 0.5 * (1 - 20/100)
    fake_seen = fake + 0.4 * torch.randn_like(fake)
    expected = F.softplus(-recipe.D(real_seen).logit).mean() + F.softplus(recipe.D(fake_seen).logit).mean()
    torch.testing.assert_close(terms["adv"], expected)
    assert resolve("gan", "ring8", ["tricks=[instance_noise]", "train.steps=700"]).train.steps == 700
    noise.configure(resolve("gan", "ring8", ["train.steps=700"]), "gan")
    assert noise.anneal_steps == 100  # an explicit schedule is kept


# --- historical averaging, feature matching, virtual batch norm ------------------------------------
def test_historical_averaging_penalty_value() -> None:
    trick = HistoricalAveraging(weight=0.5)
    theta = torch.nn.Parameter(torch.tensor([1.0, 2.0]))

    class Holder:
        def param_groups(self):  # noqa: ANN202
            return {"G": [theta]}

    trick.attach(Holder())
    assert float(trick.penalty("G", [theta]).detach()) == 0.0  # the mean of one value is itself
    with torch.no_grad():
        theta.copy_(torch.tensor([3.0, 6.0]))
    # mean (2, 4): 0.5 * ((3-2)^2 + (6-4)^2) = 2.5
    torch.testing.assert_close(trick.penalty("G", [theta]), torch.tensor(2.5))
    with torch.no_grad():
        theta.copy_(torch.tensor([2.0, 1.0]))
    # mean of (1,2), (3,6), (2,1) is (2, 3): 0.5 * (0 + 4) = 2
    penalty = trick.penalty("G", [theta])
    torch.testing.assert_close(penalty, torch.tensor(2.0))
    penalty.backward()
    torch.testing.assert_close(theta.grad, torch.tensor([0.0, -2.0]))  # 0.5 * 2 * (theta - mean)


def test_historical_averaging_state_is_checkpointed(tmp_path) -> None:  # noqa: ANN001
    run = gankit.train("gan", "ring8", out=tmp_path / "r", overrides=SMALL_MLP + [
        "tricks=[historical_averaging]", "train.steps=3", "train.progress=false", "train.batch_size=8", "symptoms.enabled=false"])
    state = run.recipe.state_dict()
    assert int(state["objective.tricks.0.count_G"]) == 3 and int(state["objective.tricks.0.count_D"]) == 3
    loaded = gankit.load(run.path, device="cpu").recipe.state_dict()
    torch.testing.assert_close(loaded["objective.tricks.0.mean_D"], state["objective.tricks.0.mean_D"])


def test_feature_matching_replaces_g_loss_with_feature_distance() -> None:
    recipe, _ = recipe_for("gan", POINTS, SMALL_MLP + ["tricks=[feature_matching]"])
    batch = Batch(torch.randn(6, 2))
    seed_all(2)
    terms = recipe.g_step(batch, step=1)
    seed_all(2)
    fake = recipe.G(batch_randn(6, recipe.z_dim))
    expected = ((recipe.D(batch.x).features.mean(0) - recipe.D(fake).features.mean(0)) ** 2).sum()
    assert set(terms) == {"feature_matching"}
    torch.testing.assert_close(terms["feature_matching"], expected)


def test_virtual_batch_norm_makes_samples_independent_of_their_batch() -> None:
    recipe, _ = recipe_for("gan", POINTS, SMALL_MLP + ["tricks=[virtual_batch_norm]"])
    assert isinstance(recipe.G, VirtualBatchNormG)
    recipe.G.train()
    z = batch_randn(8, recipe.z_dim)
    torch.testing.assert_close(recipe.G(z[:3]), recipe.G(z)[:3])  # batch norm would differ here
    plain, _ = recipe_for("gan", POINTS, SMALL_MLP)
    plain.G.train()
    assert not torch.allclose(plain.G(z[:3]), plain.G(z)[:3])
    with pytest.raises(ConfigError, match="g_norm=batch"):
        recipe_for("gan", POINTS, SMALL_MLP + ["tricks=[virtual_batch_norm]", "model.g_norm=null"])


# --- DiffAugment -----------------------------------------------------------------------------------
def test_diffaugment_translation_shifts_with_zero_fill() -> None:
    seed_all(0)
    x = torch.rand(16, 2, 8, 8) + 1  # strictly positive, so zero fill is visible
    out = DiffAugment(policy=["translation"]).d_input(x, 0)
    assert out.shape == x.shape
    for img, src in zip(out, x):  # each image is its source shifted by some (dy, dx) in [-1, 1]^2
        padded = F.pad(src, [1, 1, 1, 1])
        assert any(torch.equal(img, padded[:, 1 + dy:9 + dy, 1 + dx:9 + dx]) for dy in (-1, 0, 1) for dx in (-1, 0, 1))


def test_diffaugment_cutout_and_colour() -> None:
    seed_all(0)
    x = torch.ones(64, 3, 8, 8)
    cut = DiffAugment(policy=["cutout"]).d_input(x, 0)
    zeros = (cut == 0).float().flatten(1).mean(1)  # a 4x4 square, clipped at the border
    assert float(zeros.max()) == 16 / 64 and float(zeros.min()) > 0
    x = torch.rand(8, 3, 8, 8, requires_grad=True)
    DiffAugment(policy=["color"]).d_input(x, 0).sum().backward()  # differentiable: G learns through it
    assert x.grad is not None and torch.isfinite(x.grad).all()
    with pytest.raises(ConfigError, match="images"):
        recipe_for("gan", POINTS, SMALL_MLP + ["tricks=[diffaugment]"])


# --- config-level tricks ---------------------------------------------------------------------------
def test_ttur_and_d_steps_set_the_config() -> None:
    cfg = resolve("dcgan", "digits", ["tricks=[ttur, {name: d_steps, k: 3}]"])
    assert (cfg.optim.settings("G").lr, cfg.optim.settings("D").lr, cfg.n_critic) == (1e-4, 4e-4, 3)
    with pytest.raises(ConfigError, match="nearest|one of|unknown"):
        resolve("dcgan", "digits", ["tricks=[label_smothing]"])


# tiny DCGAN runs on digits, two steps: a trick as its own `example` spells it, against the same run without it
TINY_DCGAN = ["model.g_width=8", "model.d_width=8", "model.z_dim=8", "data.image_size=16", "data.limit=64",
              "train.batch_size=4", "train.steps=2", "train.sample_every=2", "train.checkpoint_every=2",
              "train.n_samples=4", "train.progress=false", "train.deterministic=true", "symptoms.enabled=false",
              "device=cpu"]


CONFIG_TRICKS = {"ttur": ["optim"], "d_steps": ["n_critic"]}  # tricks that set config values (checked above)


@pytest.fixture(scope="module")
def plain_dcgan(tmp_path_factory):  # noqa: ANN001, ANN201
    return gankit.train("dcgan", "digits", out=tmp_path_factory.mktemp("plain") / "run", overrides=TINY_DCGAN)


@pytest.mark.parametrize("name", TRICKS.names())
def test_every_trick_example_changes_training(name: str, plain_dcgan, tmp_path) -> None:  # noqa: ANN001
    """Each trick's documented example resolves, is recorded in the config and changes what two training steps
    compute: the config (TTUR, k D steps) or the trained generator's samples."""
    cls = TRICKS.get(name)
    assert cls.paper, name
    example = cls.example.split("  ")[0]  # "tricks=[...]", before any "  or  ..." and "  (note)"
    run = gankit.train("dcgan", "digits", out=tmp_path / "run", overrides=TINY_DCGAN + [example])
    assert [t if isinstance(t, str) else t["name"] for t in run.config.tricks] == [name]
    config, plain_config = dataclasses.asdict(run.config), dataclasses.asdict(plain_dcgan.config)
    changed = sorted(k for k in config if k != "tricks" and config[k] != plain_config[k])
    assert changed == CONFIG_TRICKS.get(name, []), changed
    if name in CONFIG_TRICKS:
        return
    # training is bitwise deterministic (tests/test_conformance.py), so any difference is the trick's; historical
    # averaging's default weight 1e-3 moves the samples least, by about 6e-7 after two steps
    difference = (run.sample(8, seed=0) - plain_dcgan.sample(8, seed=0)).abs().max()
    assert difference > 1e-7, (name, float(difference))


# --- multi-discriminator aggregation ---------------------------------------------------------------
def test_gman_aggregates() -> None:
    v = torch.tensor([1.0, 2.0, 4.0])
    torch.testing.assert_close(aggregate(v, "mean"), torch.tensor(7 / 3))
    torch.testing.assert_close(aggregate(v, "max"), torch.tensor(4.0))
    w = torch.tensor([math.e**1, math.e**2, math.e**4])
    torch.testing.assert_close(aggregate(v, "soft", lam=1.0), (w * v).sum() / w.sum())
    torch.testing.assert_close(aggregate(v, "soft", lam=0.0), torch.tensor(7 / 3))
    seed_all(0)
    kept = {round(float(aggregate(v, "dropout", dropout=0.5)), 4) for _ in range(200)}
    assert kept <= {1.0, 2.0, 4.0, 1.5, 2.5, 3.0, 2.3333} and len(kept) > 3  # a mean of a non-empty subset
    torch.testing.assert_close(aggregate(v, "dropout", dropout=0.0), torch.tensor(7 / 3))
