"""The Objective: every recipe x every trick, penalty and term it accepts trains; the rest is refused by name.

Two real optimiser steps of each pair on tiny networks: finite losses in both phases, every trained
network changed, and the item's own loss term (where it has one) in the logged terms. The refusals
name the recipe and the item. The unrolled recipe honours the configured terms and G-side tricks.
"""
from __future__ import annotations

import functools
import math

import pytest
import torch

from gankit.api import build_recipe
from gankit.config import resolve
from gankit.data import InMemoryLoader, load_dataset
from gankit.errors import ConfigError
from gankit.losses import LOSSES, PENALTIES
from gankit.losses.terms import TERMS
from gankit.objective import Objective
from gankit.recipes import RECIPES
from gankit.train.rundir import RunDir
from gankit.train.trainer import Trainer
from gankit.tricks import TRICKS, LabelSmoothing
from gankit.types import Batch, DataInfo
from tests.conftest import TINY, seed_all

KINDS = {"tricks": TRICKS, "penalties": PENALTIES, "terms": TERMS}
TRICK_ARGS = {"pack": "{name: pack, m: 2}", "minibatch_discrimination": "{name: minibatch_discrimination, kernels: 4}",
              "d_steps": "{name: d_steps, k: 2}"}
# the loss term an item adds, by phase (items that change networks or views add none)
OWN_TERMS = {"gp": ("D",), "r1": ("D",), "r2": ("D",), "classification": ("D", "G"), "label_smoothing": ("D",),
             "feature_matching": ("G",), "historical_averaging": ("D", "G")}
NOISE_SETUP = ["data.image_size=16", "data.name=digits"]
TRANSLATION_SETUP = {  # each translation recipe's preset, tiny, on offline data (PAIRED: a .npz made once)
    "pix2pix": ["recipe_args.n_layers=1", "data.name=PAIRED"],
    "cyclegan": ["recipe_args.n_layers=1", "recipe_args.n_blocks=1", "data.name=digits", "data.domains=[3, 8]",
                 "data.image_size=16"],
    "stargan": ["recipe_args.n_blocks=1", "recipe_args.n_layers=2", "data.name=digits", "n_critic=1",
                "data.image_size=16"],
    "srgan": ["recipe_args.n_blocks=1", "recipe_args.scale=2", "recipe_args.content=mse", "recipe_args.pretrain=0",
              "data.name=digits", "data.image_size=16"],
}


def base(recipe: str) -> tuple[str, list[str]]:
    """The preset and overrides a recipe trains with here: its own preset for translation, else dcgan's networks."""
    if recipe in TRANSLATION_SETUP:
        return recipe, TINY + ["symptoms.enabled=false"] + TRANSLATION_SETUP[recipe]
    batch = ["train.batch_size=8"] if recipe in ("madgan", "mgan") else []  # two samples per generator (batch norm)
    from tests.test_conformance import RECIPE_NEEDS  # what a recipe needs of dcgan's config (IcGAN: a conditional G)

    return "dcgan", TINY + ["symptoms.enabled=false", f"recipe={recipe}"] + NOISE_SETUP + batch + RECIPE_NEEDS.get(recipe, [])


def accepted(recipe: str, kind: str) -> list[str]:
    allowed = getattr(RECIPES.get(recipe).accepts, kind)
    return [n for n in KINDS[kind].names() if allowed is None or n in allowed]


def refused(recipe: str, kind: str) -> list[str]:
    return [n for n in KINDS[kind].names() if n not in accepted(recipe, kind)]


def item_override(recipe: str, kind: str, name: str) -> list[str]:
    out = [f"{kind}=[{TRICK_ARGS.get(name, name) if kind == 'tricks' else name}]"]
    preset, overrides = base(recipe)
    if name == "label_smoothing" and resolve(preset, None, [o for o in overrides if "PAIRED" not in o]).loss \
            not in LabelSmoothing.LOSSES:
        out.append("loss=nonsat")  # smoothing needs a target probability
    if kind == "terms" and name in accepted(recipe, kind):  # a refused term must be refused by name, not for G
        out.append("conditional=true")
    return out


# the recipes these tests build on images (dcgan's config, the translation presets); the recipes for text,
# sequences and interactions accept no items (gankit.recipes.text.NOTHING) or are presets of the generic GAN
# (stackgan needs captioned images, which these tests' data sets do not have: its preset's conformance case covers it)
IMAGE_RECIPES = [r for r in RECIPES.names() if "image" in RECIPES.get(r).data_kinds
                 and not getattr(RECIPES.get(r), "needs_captions", False)]


def pairs() -> list[tuple[str, str, str]]:
    return [(r, k, n) for r in IMAGE_RECIPES for k in KINDS for n in accepted(r, k)]


@functools.lru_cache(maxsize=None)
def dataset(name: str, size: int | None, limit: int | None, pairing: str | None, domains: tuple | None):  # noqa: ANN201
    """Each tiny data set loaded once (the loader never writes into it)."""
    return load_dataset(name, image_size=size, limit=limit, pairing=pairing, domains=None if domains is None else list(domains))


def build(recipe: str, extra: list[str], paired: str, tmp_path) -> Trainer:  # noqa: ANN001
    preset, overrides = base(recipe)
    cfg = resolve(preset, None, [o.replace("PAIRED", paired) for o in overrides + extra])
    d = cfg.data
    data = dataset(d.name, d.image_size, d.limit, d.pairing, None if d.domains is None else tuple(d.domains))
    info = DataInfo(data.name, data.sample_shape, data.num_classes, data.kind, data.class_names,
                    source_shape=data.source_shape, pairing=data.pairing, size=len(data.x))
    model = build_recipe(cfg, info, torch.device("cpu"))
    model.use_data(data)  # as gankit.train does: the semi-supervised recipes keep their labelled examples
    loader = InMemoryLoader(data, cfg.train.batch_size, seed=cfg.seed, augment=d.augment)
    return Trainer(model, loader, cfg, RunDir(tmp_path / "run"), torch.device("cpu"), info)


@pytest.mark.parametrize(("recipe", "kind", "name"), pairs(), ids=[f"{r}-{n}" for r, _, n in pairs()])
def test_recipe_trains_with_every_item_it_accepts(recipe: str, kind: str, name: str, paired_npz, tmp_path) -> None:  # noqa: ANN001
    seed_all(0)
    trainer = build(recipe, item_override(recipe, kind, name), paired_npz, tmp_path)
    nets = trainer.recipe.networks()
    before = {role: [p.detach().clone() for p in net.parameters()] for role, net in nets.items()}
    phases = trainer.recipe.phases()
    logs: dict[str, torch.Tensor] = {}
    for _ in range(2):
        trainer.step += 1
        logs.update(trainer.train_step(phases))
    assert any(k.startswith("D/") for k in logs) and any(k.startswith("G/") for k in logs), sorted(logs)
    assert all(math.isfinite(float(v)) for v in logs.values()), logs
    unchanged = [role for role, net in nets.items()
                 if all(torch.equal(a, b) for a, b in zip(before[role], net.parameters()))]
    assert unchanged == [], f"{recipe} with {name}: networks {unchanged} did not train"
    for phase in OWN_TERMS.get(name, ()):
        assert any(k.startswith(f"{phase}/{name}") for k in logs), f"{recipe} with {name}: no {phase}/{name} in {sorted(logs)}"
    if name == "clip":
        for D in trainer.recipe.discriminators():
            assert all(float(p.detach().abs().max()) <= 0.01 + 1e-7 for p in D.parameters())


@pytest.mark.parametrize("recipe", IMAGE_RECIPES)
def test_every_recipe_trains_with_the_pairing_loss_or_refuses_it_when_built(recipe: str, paired_npz, tmp_path) -> None:  # noqa: ANN001
    """loss=relativistic (R3GAN's) compares each generated sample's score with a real one's: a recipe either
    trains with it (finite losses, G's adversarial term logged) or refuses it by name before training starts."""
    seed_all(0)
    try:
        trainer = build(recipe, ["loss=relativistic"], paired_npz, tmp_path)
    except ConfigError as error:
        assert "relativistic" in str(error) and recipe in PAIRING_REFUSED, str(error)
        return
    assert recipe not in PAIRING_REFUSED
    logs: dict[str, torch.Tensor] = {}
    for _ in range(2):
        trainer.step += 1
        logs.update(trainer.train_step(trainer.recipe.phases()))
    assert all(math.isfinite(float(v)) for v in logs.values()), logs


PAIRING_REFUSED = {"triplegan", "ssgan"}  # C's expectation scores each image alone; ssgan's D is a probability


REFUSALS = [(r, k, n) for r in IMAGE_RECIPES for k in KINDS for n in refused(r, k)]


@pytest.mark.parametrize(("recipe", "kind", "name"), REFUSALS, ids=[f"{r}-{n}" for r, _, n in REFUSALS])
def test_refusal_names_the_recipe_and_the_item(recipe: str, kind: str, name: str, paired_npz, tmp_path) -> None:  # noqa: ANN001
    with pytest.raises(ConfigError) as error:
        build(recipe, item_override(recipe, kind, name), paired_npz, tmp_path)
    message = str(error.value)
    assert f"recipe {recipe!r}" in message and repr(name) in message and kind in message, message


def test_every_recipe_refuses_something_or_takes_everything() -> None:
    """The translation recipes refuse the network-changing tricks; the noise GAN takes every item."""
    assert REFUSALS, "no recipe refuses anything: the refusal test is empty"
    assert all(not refused("gan", k) for k in KINDS)
    assert {"pack", "virtual_batch_norm", "minibatch_discrimination"} <= set(refused("pix2pix", "tricks"))
    assert {"diffaugment", "instance_noise", "label_smoothing"} <= set(accepted("cyclegan", "tricks"))


def test_the_objective_is_built_once_per_recipe(monkeypatch, paired_npz, tmp_path) -> None:  # noqa: ANN001
    """One Objective per recipe build, holding every configured item once."""
    built = []
    original = Objective.from_config.__func__

    def counting(cls, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        built.append(1)
        return original(cls, *args, **kwargs)

    monkeypatch.setattr(Objective, "from_config", classmethod(counting))
    trainer = build("gman", ["tricks=[historical_averaging, label_smoothing]", "penalties=[r1]"], paired_npz, tmp_path)
    assert len(built) == 1
    objective = trainer.recipe.objective
    assert [type(t).__name__ for t in objective.tricks] == ["HistoricalAveraging", "LabelSmoothing"]
    assert list(objective.penalties) == ["r1"]


# --- the unrolled recipe honours terms and G-side tricks ----------------------------------------------
def unrolled_g_terms(extra: list[str], paired: str, tmp_path) -> tuple[dict, torch.nn.Module]:  # noqa: ANN001
    trainer = build("unrolled", extra + ["recipe_args.unroll_steps=2"], paired, tmp_path)
    recipe = trainer.recipe
    batch = trainer.loader.next()
    recipe.G.zero_grad(set_to_none=True)
    terms = recipe.g_step(batch, 1)
    sum(terms.values()).backward()
    return terms, recipe


def test_unrolled_honours_feature_matching(paired_npz, tmp_path) -> None:  # noqa: ANN001
    """G's objective is the feature distance alone (Salimans et al.), measured on the look-ahead D."""
    terms, recipe = unrolled_g_terms(["tricks=[feature_matching]"], paired_npz, tmp_path)
    assert set(terms) == {"feature_matching"}
    assert float(terms["feature_matching"].detach()) > 0
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in recipe.G.parameters())


def test_unrolled_honours_auxiliary_terms(paired_npz, tmp_path) -> None:  # noqa: ANN001
    """AC-GAN's classification term reaches G through the look-ahead D, next to the adversarial term."""
    terms, _ = unrolled_g_terms(["terms=[classification]", "conditional=true"], paired_npz, tmp_path)
    assert set(terms) == {"adv", "classification"}
    assert float(terms["classification"].detach()) > 0


def test_translation_tricks_act_on_what_d_sees(paired_npz, tmp_path) -> None:  # noqa: ANN001
    """DiffAugment on pix2pix augments the (input, output) pair D judges, the same transform for both halves."""
    trainer = build("pix2pix", ["tricks=[{name: diffaugment, policy: [translation]}]"], paired_npz, tmp_path)
    objective = trainer.recipe.objective
    pair = torch.rand(4, 6, 16, 16) + 1
    pair[:, 3:] = pair[:, :3]  # b = a: any shift applied to the pair keeps the halves equal
    seen = objective.view(pair, step=1)
    assert not torch.equal(seen, pair)
    torch.testing.assert_close(seen[:, :3], seen[:, 3:])


def test_group_terms_run_once_per_update(paired_npz, tmp_path) -> None:  # noqa: ANN001
    """Historical averaging folds each group's weights in once per update, also with three discriminators."""
    trainer = build("gman", ["tricks=[historical_averaging]", "recipe_args.discriminators=3"], paired_npz, tmp_path)
    trainer.step = 1
    trainer.train_step(trainer.recipe.phases())
    trick = trainer.recipe.objective.tricks[0]
    assert int(trick.count_D) == 1 and int(trick.count_G) == 1


def test_batch_of_noise_recipes_is_unchanged_by_the_objective() -> None:
    """Smoke check of the data flow: GAN.d_step scores the real batch and one fake batch with the loss."""
    cfg = resolve("gan", "ring8", ["model.arch=mlp", "model.g_width=8", "model.d_width=8", "model.z_dim=4",
                                   "model.d_norm=null", "device=cpu"])
    recipe = build_recipe(cfg, DataInfo("ring8", (2,), 8, "points"), torch.device("cpu"))
    batch = Batch(torch.randn(6, 2))
    seed_all(1)
    terms = recipe.d_step(batch, step=1)
    seed_all(1)
    from gankit.distributed import batch_randn

    fake = recipe.G(batch_randn(6, recipe.z_dim))
    expected = torch.nn.functional.softplus(-recipe.D(batch.x).logit).mean() + \
        torch.nn.functional.softplus(recipe.D(fake).logit).mean()
    torch.testing.assert_close(terms["adv"], expected)


@pytest.mark.parametrize("loss", LOSSES.names())
def test_every_adversarial_loss_trains_the_gan_recipe(loss: str, paired_npz, tmp_path) -> None:  # noqa: ANN001
    """Every loss= choice (the f-GAN divergences included) trains two steps with finite, changing losses."""
    trainer = build("gan", [f"loss={loss}"], paired_npz, tmp_path)
    logs = {}
    for _ in range(2):
        trainer.step += 1
        logs.update(trainer.train_step(trainer.recipe.phases()))
    assert {"D/adv", "G/adv"} <= set(logs) and all(math.isfinite(float(v)) for v in logs.values()), logs
