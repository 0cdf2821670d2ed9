"""DESIGN.md's conformance test: every preset and every registered recipe, tiny, two CPU steps.

Finite losses, parameters changed, checkpoint round trip, same seed -> same result.
A new preset or recipe is covered by existing: nothing to add here.
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import gankit
from gankit.config import list_presets
from gankit.recipes import RECIPES
from gankit.recipes.translation import Translation
from gankit.tricks import TRICKS
from gankit.train.checkpoint import load_checkpoint
from tests.conftest import TINY


def tiny_overrides(preset: str) -> list[str]:
    cfg = gankit.config.resolve(preset)
    extra = ["model.attention=8"] if cfg.model.attention else []
    image = [] if cfg.data.name in ("ring8", "grid25") else ["data.image_size=16"]
    if "generators" in cfg.recipe_args:  # a mixture: every generator gets two samples (batch norm)
        extra.append(f"train.batch_size={2 * cfg.recipe_args['generators']}")
    if cfg.data.name == "stacked-mnist":  # its 1000 classes need all of MNIST; tiny runs use 3-channel digits
        image += ["data.name=digits", "data.channels=3"]
    return TINY + extra + image + TRANSLATION.get(cfg.recipe, [])


# translation recipes at tiny size on offline data: paired pix2pix on a small .npz made once (see
# paired_npz), unpaired CycleGAN on two digit classes, StarGAN across the ten digit classes, SRGAN x2
SMALL_PATCH = ["recipe_args.n_layers=1", "data.augment=true"]
TRANSLATION = {
    "pix2pix": SMALL_PATCH + ["data.name=PAIRED_NPZ"],
    "cyclegan": SMALL_PATCH + ["recipe_args.n_blocks=1", "data.name=digits", "data.domains=[3, 8]"],
    "stargan": ["recipe_args.n_blocks=1", "recipe_args.n_layers=2", "data.name=digits", "n_critic=2"],
    "srgan": ["recipe_args.n_blocks=1", "recipe_args.scale=2", "recipe_args.content=mse", "data.name=digits"],
}


# a trick's arguments where its defaults do not fit the tiny runs
TRICK_ARGS = {"pack": "{name: pack, m: 2}", "minibatch_discrimination": "{name: minibatch_discrimination, kernels: 4}"}


def cases() -> list[tuple[str, list[str]]]:
    out = [(p, tiny_overrides(p)) for p in list_presets()]
    # every registered noise-GAN recipe class, also one no preset uses yet, on the dcgan preset's networks
    # (translation recipes build their own networks and need their kind of data: their presets cover them)
    out += [(f"dcgan+recipe={r}", tiny_overrides("dcgan") + [f"recipe={r}", "train.batch_size=8"]) for r in RECIPES.names()
            if not issubclass(RECIPES.get(r), Translation)]
    # every trick, on the dcgan preset
    out += [(f"dcgan+tricks={t}", tiny_overrides("dcgan") + [f"tricks=[{TRICK_ARGS.get(t, t)}]"]) for t in TRICKS.names()]
    return out


@pytest.fixture(scope="module")
def paired_npz(tmp_path_factory) -> str:  # noqa: ANN001
    """A small paired data set (b = a mirrored), written once."""
    path = tmp_path_factory.mktemp("paired") / "pairs.npz"
    a = np.random.default_rng(0).integers(0, 256, size=(16, 16, 16, 3), dtype=np.uint8)
    np.savez(path, a_train=a, b_train=a[:, :, ::-1].copy(), a_test=a[:4], b_test=a[:4, :, ::-1].copy())
    return str(path)


def train_tiny(preset: str, overrides: list[str], out, paired: str = ""):  # noqa: ANN001
    name = preset.split("+")[0]
    return gankit.train(name, out=out, overrides=[o.replace("PAIRED_NPZ", paired) for o in overrides])


@pytest.mark.parametrize(("preset", "overrides"), cases(), ids=[c[0] for c in cases()])
def test_recipe_conforms(preset: str, overrides: list[str], tmp_path, paired_npz) -> None:  # noqa: ANN001
    torch.manual_seed(0)
    run = train_tiny(preset, overrides, tmp_path / "a", paired_npz)
    initial = gankit.api.build_recipe(run.config, run.data, torch.device("cpu")).state_dict()

    # finite losses, logged every step
    rows = [json.loads(line) for line in (run.path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2]
    losses = {k: v for r in rows for k, v in r.items() if "/" in k}
    assert any(k.startswith("D/") for k in losses) and any(k.startswith("G/") for k in losses)
    assert all(math.isfinite(v) for v in losses.values()), losses

    # both networks changed
    final = run.recipe.state_dict()
    for net in ("G.", "D."):
        changed = [k for k in final if k.startswith(net) and final[k].is_floating_point() and not torch.equal(final[k], initial[k])]
        assert changed, f"no parameter of {net[:-1]} changed"

    # checkpoint round trip: the loaded run holds exactly the trained weights and samples the same
    loaded = gankit.load(run.path, device="cpu")
    assert loaded.step == 2
    for k, v in final.items():
        torch.testing.assert_close(loaded.recipe.state_dict()[k], v, rtol=0, atol=0, msg=k)
    torch.testing.assert_close(loaded.sample(4, seed=3), run.sample(4, seed=3), rtol=0, atol=0)
    assert (run.path / "samples" / "step_0000002.png").is_file() and (run.path / "report.html").is_file()

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
