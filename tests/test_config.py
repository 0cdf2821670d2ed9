"""Config resolution: presets, data-set layers, overrides and the errors users see for bad input."""
from __future__ import annotations

import pytest

from gankit.config import Config, list_presets, parse_overrides, resolve, valid_keys
from gankit.errors import ConfigError

PRESETS = ["3dgan", "aae", "aae-labelled", "acgan", "ali", "began", "bicogan", "bigan", "biggan", "bpr", "cgan",
           "context-encoder", "context-encoder-l2", "crnngan", "cyclegan", "d2gan", "dcgan", "deligan", "dropoutgan",
           "ebgan", "gan", "glo", "gman", "icgan", "infogan", "irgan", "lapgan", "lsgan", "madgan", "markovian-gan",
           "maskgan", "mgan", "mle", "mocogan", "pacdcgan", "pacgan", "pix2pix", "pix2pix-l1", "progan", "psgan",
           "r3gan", "relgan", "sagan", "seqgan", "sgan", "sngan", "srgan", "ssgan", "stackgan", "stargan", "stylegan",
           "stylegan2", "triplegan", "unrolled", "vae", "vaegan", "vgan", "wgan", "wgan-gp"]


def test_list_presets() -> None:
    assert list_presets() == PRESETS


def test_overrides_apply() -> None:
    cfg = resolve("dcgan", "digits", ["train.steps=10", "loss=hinge"])
    assert isinstance(cfg, Config)
    assert (cfg.train.steps, cfg.loss, cfg.preset, cfg.data.name) == (10, "hinge", "dcgan", "digits")
    # untouched values come from the preset YAML and the dataclass defaults
    assert (cfg.model.arch, cfg.train.batch_size, cfg.optim.lr, cfg.optim.beta1, cfg.ema) == ("dcgan", 64, 2e-4, 0.5, 0.999)


def test_override_types_are_parsed() -> None:
    cfg = resolve("dcgan", "digits", ["optim.lr=1e-3", "ema=null", "model.d_norm=null", "train.progress=false",
                                      "model.attention=8", "optim.groups.D.lr=4.0e-4", "seed=7"])
    assert cfg.optim.lr == 1e-3 and cfg.optim.settings("D").lr == 4e-4 and cfg.optim.settings("G").lr == 1e-3
    assert cfg.ema is None and cfg.model.d_norm is None and cfg.train.progress is False
    assert cfg.model.attention == 8 and cfg.seed == 7


def test_later_overrides_win() -> None:
    assert resolve("dcgan", "digits", ["train.steps=10", "train.steps=20"]).train.steps == 20


# preset -> (default data, arch, loss, n_critic, penalties)
EXPECTED = {
    "acgan": ("digits", "dcgan", "nonsat", 1, []),
    "cgan": ("digits", "dcgan", "nonsat", 1, []),
    "dcgan": ("digits", "dcgan", "nonsat", 1, []),
    "gan": ("ring8", "mlp", "nonsat", 1, []),
    "infogan": ("digits", "dcgan", "nonsat", 1, []),
    "lsgan": ("digits", "dcgan", "lsgan", 1, []),
    "sagan": ("digits", "dcgan", "hinge", 1, []),
    "sngan": ("digits", "dcgan", "hinge", 1, []),
    "wgan": ("digits", "dcgan", "wasserstein", 5, [{"name": "clip", "clip": 0.01}]),
    "wgan-gp": ("digits", "dcgan", "wasserstein", 5, [{"name": "gp", "weight": 10.0}]),
}


@pytest.mark.parametrize("preset", sorted(EXPECTED))
def test_core_presets_resolve_with_default_data(preset: str) -> None:
    cfg = resolve(preset)
    data, arch, loss, n_critic, penalties = EXPECTED[preset]
    assert (cfg.preset, cfg.data.name, cfg.model.arch, cfg.loss, cfg.n_critic, cfg.penalties) == (
        preset, data, arch, loss, n_critic, penalties)


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_resolves_and_names_its_paper(preset: str) -> None:
    cfg = resolve(preset)
    assert cfg.preset == preset and cfg.paper


def test_preset_specific_values() -> None:
    assert resolve("acgan").terms == ["classification"]
    assert resolve("cgan").conditional is True and resolve("cgan").model.label_input == "concat"
    info = resolve("infogan")
    assert info.recipe == "infogan" and info.recipe_args == {"cat_dims": [10], "n_cont": 2, "info_weight": 1.0,
                                                            "cont_weight": 0.1}
    assert (info.optim.lr, info.optim.settings("G").lr) == (2e-4, 1e-3)
    sagan = resolve("sagan")
    assert (sagan.optim.settings("G").lr, sagan.optim.settings("D").lr, sagan.optim.settings("D").betas) == (1e-4, 4e-4, (0.0, 0.9))
    assert sagan.model.g_spectral_norm and sagan.model.d_spectral_norm and sagan.model.attention == 8
    wgan = resolve("wgan")
    assert (wgan.optim.name, wgan.optim.lr) == ("rmsprop", 5e-5)


def test_dataset_preset_layer() -> None:
    assert resolve("sagan", "mnist").model.attention == 14
    assert resolve("sagan", "fashion-mnist").model.attention == 14
    assert resolve("sagan", "cifar10").model.attention == 16
    assert resolve("sagan", "digits").model.attention == 8  # no digits.yaml: the preset default
    ring = resolve("gan", "ring8")
    assert (ring.model.z_dim, ring.model.g_width, ring.model.g_layers, ring.model.d_width) == (2, 400, 4, 200)
    assert (ring.optim.lr, ring.train.batch_size, ring.train.sample_every) == (1e-4, 100, 500)
    assert resolve("gan", "grid25").model.z_dim == 2
    assert resolve("gan").model.z_dim == 2  # default data ring8 picks up ring8.yaml too


def test_overrides_beat_dataset_layer() -> None:
    assert resolve("sagan", "mnist", ["model.attention=7"]).model.attention == 7
    assert resolve("gan", "ring8", ["model.z_dim=5"]).model.z_dim == 5


def test_dataset_layer_by_file_stem() -> None:
    """A data path like /somewhere/mnist.npz picks up mnist.yaml."""
    cfg = resolve("sagan", "/data/mnist.npz")
    assert cfg.data.name == "/data/mnist.npz" and cfg.model.attention == 14


def test_penalties_override() -> None:
    assert resolve("dcgan", "digits", ["penalties=[gp]"]).penalties == ["gp"]
    assert resolve("dcgan", "digits", ["penalties=[{name: r1, weight: 5}]"]).penalties == [{"name": "r1", "weight": 5}]
    assert resolve("wgan-gp", "digits", ["penalties=[]"]).penalties == []
    both = resolve("dcgan", "digits", ["penalties=[gp, {name: r1, every: 4}]"]).penalties
    assert both == ["gp", {"name": "r1", "every": 4}]


def test_extra_argument_layer() -> None:
    cfg = resolve("dcgan", "digits", ["train.steps=3"], extra={"train": {"batch_size": 8}, "loss": "lsgan"})
    assert (cfg.train.steps, cfg.train.batch_size, cfg.loss) == (3, 8, "lsgan")
    with pytest.raises(ConfigError, match="argument: unknown config key 'train.batchsize'"):
        resolve("dcgan", "digits", extra={"train": {"batchsize": 8}})


# ---------------------------------------------------------------- errors


def message(overrides: list[str], preset: str = "dcgan") -> str:
    with pytest.raises(ConfigError) as err:
        resolve(preset, "digits", overrides)
    return str(err.value)


def test_unknown_key_suggests_nearest() -> None:
    msg = message(["train.stepz=5"])
    assert "unknown config key 'train.stepz'" in msg
    assert "Did you mean 'train.steps'" in msg  # the nearest name comes first
    # a misspelt section is reported with the full key, and the right full key comes first
    msg = message(["modle.z_dim=5"])
    assert "unknown config key 'modle.z_dim'. Did you mean 'model.z_dim'" in msg
    # a section given a value names the section and its keys
    assert message(["train=5"]).startswith("override: train is a section, not a value; set one of its keys")


def test_unknown_preset_suggests_nearest() -> None:
    with pytest.raises(ConfigError, match="unknown preset 'dcgna'. Did you mean 'dcgan'"):
        resolve("dcgna")


def test_unknown_loss_suggests_nearest() -> None:
    msg = message(["loss=hinj"])
    assert "unknown loss 'hinj'" in msg and "Did you mean 'hinge'" in msg


def test_unknown_recipe() -> None:
    assert "Did you mean 'infogan'" in message(["recipe=infogna"])


@pytest.mark.parametrize(("item", "key"), [
    ("optim.lr=-1", "optim.lr"), ("optim.lr=0", "optim.lr"), ("optim.lr=nan", "optim.lr"),
    ("optim.groups.G.lr=-0.1", "optim.groups.G.lr"), ("optim.lr_d=0", "optim.groups.D.lr"),
    ("train.batch_size=0", "train.batch_size"), ("train.steps=0", "train.steps"), ("n_critic=0", "n_critic"),
    ("model.z_dim=-3", "model.z_dim"), ("train.keep_checkpoints=-1", "train.keep_checkpoints"),
    ("train.steps=abc", "train.steps"), ("train.steps=1.5", "train.steps"), ("optim.lr=fast", "optim.lr"),
    ("ema=1.5", "ema"), ("ema=0", "ema"), ("optim.beta1=1", "optim.beta1"), ("optim.name=sgd", "optim.name"),
    ("amp=fp16", "amp"), ("data.channels=2", "data.channels"), ("data.image_size=2", "data.image_size"),
    ("optim.decay_from=1.5", "optim.decay_from"), ("optim.decay_start=0.5", "optim.decay_start"),
])
def test_bad_value_names_the_key(item: str, key: str) -> None:
    assert key in message([item])


def test_bad_value_messages() -> None:
    assert message(["optim.lr=-1"]) == "optim.lr=-1.0: learning rate must be > 0"
    assert message(["train.batch_size=0"]) == "train.batch_size=0: must be >= 1"
    assert message(["ema=1.5"]) == "ema=1.5: decay must be in (0, 1), or null for off"
    assert message(["train.steps=abc"]).startswith("bad value for train.steps:")


@pytest.mark.parametrize("item", ["trainsteps", "train.steps", "=5", ""])
def test_item_without_equals(item: str) -> None:
    msg = message([item])
    assert f"override {item!r} is not of the form key=value" in msg


def test_parse_overrides_nested() -> None:
    node = parse_overrides(["train.steps=3", "model.g_norm=null", "recipe_args.anything=1"])
    assert node.train.steps == 3 and node.model.g_norm is None and node.recipe_args.anything == 1


def test_valid_keys() -> None:
    keys = valid_keys()
    assert {"train.steps", "optim.lr", "model.attention", "data.name", "loss", "penalties", "recipe_args", "profile"} <= set(keys)
    assert "train" not in keys and "model" not in keys  # sections are not leaf keys
    assert len(keys) == len(set(keys)) == 85  # 77, then profile, train.channels_last, train.compile, data.vocab_size,
    # data.min_count, data.max_length, data.frames, data.digits


# --- a frozen config; per-group optimiser settings -------------------------------------------------
def test_the_resolved_config_is_read_only_and_saved_as_is(tmp_path) -> None:  # noqa: ANN001
    import dataclasses

    from gankit.config import from_yaml, to_yaml

    cfg = resolve("dcgan", "digits", ["tricks=[ttur, {name: d_steps, k: 3}]"])
    for section, key in [(cfg, "n_critic"), (cfg.train, "steps"), (cfg.optim, "lr"), (cfg.model, "z_dim")]:
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(section, key, 1)
    # what the tricks set is in the config itself, before training: the saved file holds it
    assert (cfg.optim.settings("G").lr, cfg.optim.settings("D").lr, cfg.n_critic) == (1e-4, 4e-4, 3)
    path = tmp_path / "config.yaml"
    path.write_text(to_yaml(cfg))
    assert from_yaml(path) == cfg


def test_legacy_lr_g_and_lr_d_become_groups(tmp_path) -> None:  # noqa: ANN001
    """Runs and commands written before optim.groups still load: optim.lr_g/lr_d are G's and D's group lr."""
    from gankit.config import from_yaml

    cfg = resolve("dcgan", "digits", ["optim.lr_g=3e-4", "optim.lr_d=5e-4"])
    assert (cfg.optim.settings("G").lr, cfg.optim.settings("D").lr) == (3e-4, 5e-4)
    old = tmp_path / "config.yaml"
    old.write_text("preset: dcgan\noptim: {lr: 1.0e-4, lr_g: 2.0e-3}\n")
    assert from_yaml(old).optim.settings("G").lr == 2e-3 and from_yaml(old).optim.settings("D").lr == 1e-4


def test_each_group_gets_its_own_optimiser_settings() -> None:
    """optim.groups sets lr, betas and the optimiser per group; a group the recipe lacks is refused by name."""
    import torch

    from gankit.api import build_recipe
    from gankit.train.optim import make_optimizers
    from gankit.types import DataInfo

    data = DataInfo("digits", (1, 16, 16), 10, "image")
    cfg = resolve("dcgan", "digits", ["model.g_width=8", "model.d_width=8", "device=cpu", "optim.lr=3e-4",
                                      "optim.groups={G: {lr: 1.0e-3, beta1: 0.0}, D: {name: rmsprop}}"])
    optimizers = make_optimizers(build_recipe(cfg, data, torch.device("cpu")), cfg)
    g, d = optimizers["G"], optimizers["D"]
    assert isinstance(g, torch.optim.Adam) and g.param_groups[0]["lr"] == 1e-3 and g.param_groups[0]["betas"] == (0.0, 0.999)
    assert isinstance(d, torch.optim.RMSprop) and d.param_groups[0]["lr"] == 3e-4
    bad = resolve("dcgan", "digits", ["model.g_width=8", "model.d_width=8", "device=cpu", "optim.groups={E: {lr: 1.0e-3}}"])
    with pytest.raises(ConfigError, match=r"optim.groups.E: recipe 'gan' has no parameter group 'E'; its groups are G, D"):
        make_optimizers(build_recipe(bad, data, torch.device("cpu")), bad)
    with pytest.raises(ConfigError, match="optim.groups.D.beta1"):
        resolve("dcgan", "digits", ["optim.groups={D: {beta1: 1.5}}"])
