"""The mode-collapse recipes: unrolled look-ahead, generator mixtures, discriminator ensembles."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gankit.api import build_recipe
from gankit.config import resolve
from gankit.errors import ConfigError
from gankit.recipes.mixture import MixtureGenerator
from gankit.types import Batch, DataInfo
from gankit.distributed import batch_randn
from tests.conftest import seed_all

POINTS = DataInfo("ring8", (2,), 8, "points")
SMALL = ["model.g_width=16", "model.d_width=16", "model.g_layers=2", "model.d_layers=2", "device=cpu", "train.batch_size=8"]


def recipe_for(preset: str, overrides: list[str] = ()):  # noqa: ANN201
    return build_recipe(resolve(preset, "ring8", SMALL + list(overrides)), POINTS, torch.device("cpu"))


@pytest.mark.parametrize("d_norm", ["null", "batch"])
def test_unrolled_look_ahead_restores_d(d_norm: str) -> None:
    recipe = recipe_for("unrolled", [f"model.d_norm={d_norm}"])
    before = {k: v.clone() for k, v in recipe.D.state_dict().items()}
    batch = Batch(torch.randn(8, 2))
    seed_all(0)
    terms = recipe.g_step(batch, step=1)
    terms["adv"].backward()
    for k, v in recipe.D.state_dict().items():  # parameters and batch-norm statistics untouched
        torch.testing.assert_close(v, before[k], rtol=0, atol=0, msg=k)
    assert all(p.grad is None or float(p.grad.abs().sum()) == 0 for p in recipe.D.parameters())  # D gets no update from G's phase
    assert int(recipe.moment_steps) == 1


def test_unrolled_g_loss_is_scored_by_the_look_ahead_d() -> None:
    recipe = recipe_for("unrolled", ["recipe_args={unroll_steps: 3, second_order: true}", "optim.lr=0.05"])
    batch = Batch(torch.randn(8, 2))
    seed_all(1)
    unrolled = recipe.g_step(batch, step=1)["adv"]
    seed_all(1)
    fake = recipe.G(batch_randn(8, recipe.z_dim))
    plain = F.softplus(-recipe.D(fake).logit).mean()  # the same G loss against today's D
    assert float(unrolled) > float(plain) + 1e-3  # three steps of D's training make the fakes look worse

    first = recipe_for("unrolled", ["recipe_args={unroll_steps: 3, second_order: false}", "optim.lr=0.05"])
    first.load_state_dict(recipe.state_dict())
    grads = []
    for r in (recipe, first):
        r.zero_grad()
        seed_all(1)
        r.g_step(batch, step=1)["adv"].backward()
        grads.append(torch.cat([p.grad.flatten() for p in r.G.parameters()]))
    assert not torch.allclose(grads[0], grads[1])  # the second-order path adds D's reaction to G


def test_mixture_generator_routes_each_sample_to_its_generator() -> None:
    gens = [torch.nn.Linear(3, 2) for _ in range(3)]
    mix = MixtureGenerator(gens)
    z, y = torch.randn(7, 3), torch.tensor([2, 0, 1, 1, 0, 2, 2])
    expected = torch.stack([gens[int(i)](zi) for zi, i in zip(z, y)])
    torch.testing.assert_close(mix(z, y), expected)


def test_madgan_discriminator_has_k_plus_one_classes() -> None:
    recipe = recipe_for("madgan", ["recipe_args={generators: 3}"])
    assert len(recipe.G.generators) == 3
    batch = Batch(torch.randn(6, 2))
    assert recipe.D(batch.x).aux.shape == (6, 3) and recipe.class_logits(recipe.D(batch.x)).shape == (6, 4)
    seed_all(0)
    terms = recipe.d_step(batch, step=1)
    seed_all(0)
    z = batch_randn(6, recipe.z_dim)
    index = torch.arange(6) % 3  # every generator makes an equal share
    fake = recipe.G(z, index)
    logits = lambda x: torch.cat([recipe.D(x).aux, recipe.D(x).logit[:, None]], 1)  # noqa: E731  (k generators, real)
    expected = F.cross_entropy(logits(batch.x), torch.full((6,), 3)) + F.cross_entropy(logits(fake), index)
    torch.testing.assert_close(terms["adv"], expected)


def test_mgan_classifier_names_the_generator() -> None:
    recipe = recipe_for("mgan", ["recipe_args={generators: 4, beta: 0.5}"])
    batch = Batch(torch.randn(8, 2))
    seed_all(0)
    terms = recipe.g_step(batch, step=1)
    seed_all(0)
    z = batch_randn(8, recipe.z_dim)
    index = torch.arange(8) % 4
    out = recipe.D(recipe.G(z, index))
    torch.testing.assert_close(terms["which_generator"], 0.5 * F.cross_entropy(out.aux, index))
    torch.testing.assert_close(terms["adv"], F.softplus(-out.logit).mean())


def test_mixtures_refuse_too_small_batches_and_labels() -> None:
    with pytest.raises(ConfigError, match="at least 2"):
        recipe_for("madgan", ["recipe_args={generators: 8}"])
    with pytest.raises(ConfigError, match="unconditional"):
        build_recipe(resolve("mgan", "ring8", SMALL + ["conditional=true"]), POINTS, torch.device("cpu"))


def test_d2gan_objective_matches_the_paper() -> None:
    recipe = recipe_for("d2gan", ["recipe_args={alpha: 0.3, beta: 0.2}"])
    batch = Batch(torch.randn(8, 2))
    seed_all(0)
    d_terms = recipe.d_step(batch, step=1)
    seed_all(0)
    fake = recipe.G(batch_randn(8, recipe.z_dim))
    d1 = lambda x: F.softplus(recipe.D[0](x).logit)  # noqa: E731
    d2 = lambda x: F.softplus(recipe.D[1](x).logit)  # noqa: E731
    torch.testing.assert_close(d_terms["adv1"], -0.3 * torch.log(d1(batch.x) + 1e-8).mean() + d1(fake).mean())
    torch.testing.assert_close(d_terms["adv2"], d2(batch.x).mean() - 0.2 * torch.log(d2(fake) + 1e-8).mean())
    seed_all(0)
    g_terms = recipe.g_step(batch, step=1)
    assert set(g_terms) == {"adv1", "adv2"}  # -D1(G(z)) and beta log D2(G(z)), one term per discriminator
    g = g_terms["adv1"] + g_terms["adv2"]
    torch.testing.assert_close(g, -d1(fake).mean() + 0.2 * torch.log(d2(fake) + 1e-8).mean())


def grad_size(module: torch.nn.Module) -> float:
    """Sum of |grad| over a module's parameters (0 when none has a gradient)."""
    return sum(float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None)


@pytest.mark.parametrize(("preset", "aggregate"), [("gman", "max"), ("gman", "soft"), ("dropoutgan", "dropout")])
def test_ensembles_train_every_discriminator(preset: str, aggregate: str) -> None:
    recipe = recipe_for(preset, [f"recipe_args={{discriminators: 4, aggregate: {aggregate}}}"])
    assert len(recipe.D) == 4 and recipe.how == aggregate
    # D's phase: each discriminator has its own loss and gets a gradient from it, whatever G's aggregate
    terms = recipe.d_step(Batch(torch.randn(8, 2)), step=1)
    assert sorted(terms) == ["adv0", "adv1", "adv2", "adv3"]
    sum(terms.values()).backward()
    assert all(grad_size(D) > 0 for D in recipe.D)
    # G's phase: the aggregate of the discriminators G hears from this batch; only they pass back a gradient
    batch, heard = Batch(torch.randn(8, 2)), torch.zeros(4)
    for seed in range(8):
        recipe.zero_grad(set_to_none=True)
        seed_all(seed)
        g = recipe.g_step(batch, step=1)
        seed_all(seed)
        fake = recipe.G(batch_randn(8, recipe.z_dim))
        per_d = torch.stack([F.softplus(-D(fake).logit).mean() for D in recipe.D])
        if aggregate == "dropout":  # Dropout-GAN's mask, drawn right after the latent: each kept with p = 1 - dropout
            keep = torch.rand(4) >= recipe.dropout
            if not keep.any():
                keep[torch.randint(0, 4, (1,))] = True
            torch.testing.assert_close(g["adv"], per_d[keep].mean())
        elif aggregate == "max":
            keep = per_d == per_d.max()
            torch.testing.assert_close(g["adv"], per_d.max())
        else:  # soft: softmax(lam V) . V, every discriminator weighted
            keep = torch.ones(4, dtype=torch.bool)
            torch.testing.assert_close(g["adv"], (torch.softmax(recipe.lam * per_d, 0) * per_d).sum())
        g["adv"].backward()
        assert [grad_size(D) > 0 for D in recipe.D] == keep.tolist(), (seed, keep)
        heard += keep
    if aggregate == "dropout":  # over eight batches every discriminator is both heard and dropped
        assert heard.min() > 0 and heard.max() < 8, heard
