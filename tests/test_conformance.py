"""DESIGN.md's conformance test: every preset and every registered recipe, tiny, two CPU steps.

Finite losses, parameters changed, checkpoint round trip, same seed -> same result.
A new preset or recipe is covered by existing: nothing to add here.
"""
from __future__ import annotations

import functools
import json
import math

import pytest
import torch

import gankit
import gankit.types
from gankit.config import list_presets
from gankit.data import default_image_size
from gankit.recipes import RECIPES
from gankit.recipes.translation import Translation
from gankit.tricks import TRICKS
from gankit.train.checkpoint import load_checkpoint
from tests.conftest import SHARED_DATA, TINY, shared_file


def tiny_overrides(preset: str) -> list[str]:
    return list(_tiny_overrides(preset))  # a fresh list: callers add to it


@functools.lru_cache(maxsize=None)
def _tiny_overrides(preset: str) -> tuple[str, ...]:
    """Each preset resolved once per process (the parametrisations below and other test modules ask again)."""
    cfg = gankit.config.resolve(preset)
    extra = ["model.attention=8"] if cfg.model.attention else []
    image = ["data.image_size=16"] if default_image_size(cfg.data.name) is not None else []  # not points, text, ...
    if "generators" in cfg.recipe_args:  # a mixture: every generator gets two samples (batch norm)
        extra.append(f"train.batch_size={2 * cfg.recipe_args['generators']}")
    if cfg.recipe == "progan":
        extra += GROW_IN_TWO_STEPS
    if cfg.data.name == "stacked-mnist":  # its 1000 classes need all of MNIST; tiny runs use 3-channel digits
        image += ["data.name=digits", "data.channels=3"]
    if cfg.data.name in SHARED_TEXT or cfg.data.name.endswith("mnist-captions"):  # in ../shared/data (else: skip)
        extra.append(f"data.root={SHARED_DATA}")
    if cfg.data.name == "moving-mnist":  # built from ../shared/data's mnist.npz: 16 px frames, 8 of them
        extra += [f"data.root={SHARED_DATA}", "data.image_size=16", "data.frames=8"]
    return tuple(TINY + extra + image + TRANSLATION.get(cfg.recipe, []) + TEXTURE.get(cfg.recipe, []))


SHARED_TEXT = ("coco-captions", "emnlp-news")


# translation recipes at tiny size on offline data: paired pix2pix on a small .npz made once (see
# paired_npz), unpaired CycleGAN on two digit classes, StarGAN across the ten digit classes, SRGAN x2
SMALL_PATCH = ["recipe_args.n_layers=1", "data.augment=true"]
TRANSLATION = {
    "pix2pix": SMALL_PATCH + ["data.name=PAIRED_NPZ"],
    "cyclegan": SMALL_PATCH + ["recipe_args.n_blocks=1", "data.name=digits", "data.domains=[3, 8]"],
    "stargan": ["recipe_args.n_blocks=1", "recipe_args.n_layers=2", "data.name=digits", "n_critic=2"],
    "srgan": ["recipe_args.n_blocks=1", "recipe_args.scale=2", "recipe_args.content=mse", "data.name=digits"],
    "context-encoder": ["data.name=digits"],  # the central 8x8 hole of 16 px digits, D on that patch
}


# texture recipes: 16 px crops (3 up-sampling steps from 2x2 noise) cut afresh from 32 px brick walls
TEXTURE_TINY = ["data.image_size=32", "recipe_args.crop=16", "recipe_args.layers=3", "recipe_args.crops=4"]
TEXTURE = {"psgan": TEXTURE_TINY, "markovian-gan": TEXTURE_TINY}


# ProGAN's networks at 16 px have three levels (4, 8, 16 px): step 1 trains the 4 px level (p = 0), step 2 the
# fade-in of 16 px (p = 1.5: both its output layers and the 8 px blocks), so every layer trains in two steps of 4
GROW_IN_TWO_STEPS = ["recipe_args.stable_kimg=0", f"recipe_args.fade_kimg={8 / 3 / 1000}"]

# what a recipe needs of the dcgan preset's config: IcGAN and BiCoGAN edit classes, so their G is conditional;
# stylegan's path-length regulariser needs a style G, progan networks that grow
RECIPE_NEEDS = {"icgan": ["conditional=true"], "bicogan": ["conditional=true"],
                "stylegan": ["model.arch=stylegan2", "model.g_norm=null", "model.d_norm=null"],  # a style G
                "psgan": TEXTURE_TINY, "markovian-gan": TEXTURE_TINY,  # crops of digits at 32 px
                "progan": ["model.arch=progan", "model.g_norm=null", "model.d_norm=null", "train.batch_size=4",
                           *GROW_IN_TWO_STEPS]}

# a trick's arguments where its defaults do not fit the tiny runs
TRICK_ARGS = {"pack": "{name: pack, m: 2}", "minibatch_discrimination": "{name: minibatch_discrimination, kernels: 4}"}


def cases() -> list[tuple[str, list[str]]]:
    out = [(p, tiny_overrides(p)) for p in list_presets()]
    # every registered noise-GAN recipe class, also one no preset uses yet, on the dcgan preset's networks
    # (translation recipes build their own networks and need their kind of data, as do the recipes for text,
    # sequences and interactions: their presets cover them)
    out += [(f"dcgan+recipe={r}", tiny_overrides("dcgan") + [f"recipe={r}", "train.batch_size=8"] + RECIPE_NEEDS.get(r, []))
            for r in RECIPES.names() if not issubclass(RECIPES.get(r), Translation) and "image" in RECIPES.get(r).data_kinds
            and not getattr(RECIPES.get(r), "needs_captions", False)]  # text-to-image: its preset's captioned data
    # every trick, on the dcgan preset
    out += [(f"dcgan+tricks={t}", tiny_overrides("dcgan") + [f"tricks=[{TRICK_ARGS.get(t, t)}]"]) for t in TRICKS.names()]
    return out


def train_tiny(preset: str, overrides: list[str], out, paired: str = ""):  # noqa: ANN001
    name = preset.split("+")[0]
    return gankit.train(name, out=out, overrides=[o.replace("PAIRED_NPZ", paired) for o in overrides])


def trained_networks(recipe: torch.nn.Module) -> dict[str, torch.nn.Module]:
    """Each network an optimiser trains (a parameter in ``param_groups()``), by its name in the recipe: the
    recipe's children, and each member of a ModuleList down to two levels (an ensemble's discriminators, a
    mixture's generators), since one member left untrained is as wrong as a whole network."""
    trained = {id(p) for params in recipe.param_groups().values() for p in params}
    networks = {}
    for name, module in recipe.named_modules():
        parent = name.rpartition(".")[0]
        is_child = name != "" and "." not in name
        in_list = 0 < name.count(".") <= 2 and isinstance(recipe.get_submodule(parent), torch.nn.ModuleList)
        if (is_child or in_list) and not isinstance(module, torch.nn.ModuleList):
            if any(id(p) in trained for p in module.parameters()):
                networks[name] = module
    return networks


def unchanged_networks(initial: torch.nn.Module, final: torch.nn.Module) -> list[str]:
    """The trained networks of ``final`` none of whose parameters differ from ``initial``'s."""
    return sorted(name for name, net in trained_networks(final).items()
                  if all(torch.equal(p, initial.get_submodule(name).get_parameter(key))
                         for key, p in net.named_parameters()))


def test_unchanged_network_is_reported() -> None:
    """The 'parameters changed' check names a network that kept its weights, also one member of an ensemble."""
    cfg = gankit.config.resolve("gman", "ring8", ["model.g_width=8", "model.d_width=8", "device=cpu",
                                                  "recipe_args.discriminators=3"])
    data = gankit.types.DataInfo("ring8", (2,), 8, "points")
    initial, final = (gankit.api.build_recipe(cfg, data, torch.device("cpu")) for _ in range(2))
    assert sorted(trained_networks(final)) == ["D.0", "D.1", "D.2", "G"]
    assert unchanged_networks(initial, final) == ["D.0", "D.1", "D.2", "G"]  # the same seed: the same weights
    with torch.no_grad():
        for net in (final.G, final.D[0], final.D[2]):
            next(net.parameters()).add_(1.0)
    assert unchanged_networks(initial, final) == ["D.1"]


CASES = cases()


@pytest.mark.parametrize(("preset", "overrides"), CASES, ids=[c[0] for c in CASES])
def test_recipe_conforms(preset: str, overrides: list[str], tmp_path, paired_npz) -> None:  # noqa: ANN001
    if f"data.root={SHARED_DATA}" in overrides:  # skips with the reason when ../shared/data is absent
        shared_file("mnist.npz" if "data.frames=8" in overrides else "coco_captions_train.txt")
    torch.manual_seed(0)
    run = train_tiny(preset, overrides, tmp_path / "a", paired_npz)
    initial_recipe = gankit.api.build_recipe(run.config, run.data, torch.device("cpu"))  # the run's seed: its start

    # finite losses, logged every step
    rows = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    losses = {k: v for r in rows for k, v in r.items() if "/" in k}
    ran = {p.name for p in run.recipe.phases() if p.repeats_at(1) + p.repeats_at(2) > 0}  # each phase that updated
    assert "G" in ran and ran <= {k.split("/")[0] for k in losses}, (sorted(ran), sorted(losses))
    assert all(math.isfinite(v) for v in losses.values()), losses

    # every trained network changed: G, every network of groups() (CycleGAN's G_BA and D_A, each discriminator of
    # an ensemble, BiGAN's E ...) and every discriminator (a recipe without one, the VAE, has none)
    networks = trained_networks(run.recipe)
    roles = {"G"} | {role for group in run.recipe.groups().values() for role in group}
    assert {r.split(".")[0] for r in roles} <= {name.split(".")[0] for name in networks}, (sorted(roles), sorted(networks))
    assert all(any(D is net for net in networks.values()) for D in run.recipe.discriminators()), sorted(networks)
    assert unchanged_networks(initial_recipe, run.recipe) == [], sorted(networks)
    final = run.recipe.state_dict()

    # checkpoint round trip: the loaded run holds exactly the trained weights and samples the same
    loaded = gankit.load(run.path, device="cpu")
    assert loaded.step == 2
    for k, v in final.items():
        torch.testing.assert_close(loaded.recipe.state_dict()[k], v, rtol=0, atol=0, msg=k)
    torch.testing.assert_close(loaded.sample(4, seed=3), run.sample(4, seed=3), rtol=0, atol=0)
    assert [f.name for f in (run.path / "samples").glob("step_0000002.*")] in (["step_0000002.png"], ["step_0000002.txt"])
    assert (run.path / "report.html").is_file()

    # same seed -> bitwise the same result
    again = train_tiny(preset, overrides, tmp_path / "b", paired_npz)
    a = load_checkpoint(run.path / "checkpoints" / "latest.pt")["recipe"]
    b = load_checkpoint(again.path / "checkpoints" / "latest.pt")["recipe"]
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=0, msg=k)


def test_every_recipe_has_a_preset() -> None:
    used = {gankit.config.resolve(p).recipe for p in list_presets()}
    assert used == set(RECIPES.names())
