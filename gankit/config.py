"""Typed configuration: dataclass defaults <- preset YAML <- data-set preset <- key=value overrides.

The dataclass fields are the only place a hyperparameter is declared. Presets live in
``gankit/configs/<preset>/default.yaml`` with optional ``<data set>.yaml`` files that
override it for one data set.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from gankit.errors import ConfigError, first_line, unknown
from gankit.nets import ModelConfig

PRESET_DIR = Path(__file__).parent / "configs"


@dataclass(frozen=True)
class DataConfig:
    name: str = "digits"  # registered data set, .npz file or image folder
    root: str | None = None  # folder holding mnist.npz etc. (else $GANKIT_DATA, ~/.cache/gankit/data)
    split: str = "train"
    image_size: int | None = None  # null: the data set's natural size
    channels: int | None = None  # null: the data set's own (1 or 3)
    limit: int | None = None  # keep only this many samples (a fixed random subset)
    pairing: str | None = None  # null | paired | unpaired: translation recipes' presets set it
    domains: list[Any] | None = None  # domain A and B (classes or sub-folders): [3, 8], [horses, zebras]; else classes kept
    augment: bool = False  # pix2pix jitter: resize by 286/256, random crop to image_size, random flip (same for a pair)
    vocab_size: int | None = None  # text: at most this many tokens, <pad> <eos> <unk> included (null: every word)
    min_count: int = 1  # text: words seen fewer times in the training split become <unk>
    max_length: int | None = None  # text: tokens per sentence before <eos> (null: the longest training sentence)
    frames: int | None = None  # video: frames per clip (null: 16); for a folder of frame folders, set it to read videos
    digits: int = 1  # moving-mnist: digits per clip (1 or 2)


@dataclass(frozen=True)
class GroupOptim:
    """One parameter group's optimiser settings (``optim.groups.<group>``); null: the ``optim`` default."""

    name: str | None = None  # adam | rmsprop
    lr: float | None = None
    beta1: float | None = None
    beta2: float | None = None


@dataclass(frozen=True)
class Settings:
    """The optimiser of one group as used: its name, learning rate and Adam's betas."""

    name: str
    lr: float
    betas: tuple[float, float]


@dataclass(frozen=True)
class OptimConfig:
    name: str = "adam"  # adam | rmsprop
    lr: float = 2e-4  # every group, unless optim.groups says otherwise
    beta1: float = 0.5
    beta2: float = 0.999
    decay_from: float | None = None  # fraction of train.steps after which the lr decays linearly to 0
    # per parameter group (the recipe's: G, D, ...): {G: {lr: 1.0e-4}, D: {lr: 4.0e-4, beta1: 0.0}} (TTUR)
    groups: dict[str, GroupOptim] = field(default_factory=dict)

    def settings(self, group: str) -> Settings:
        """The defaults with ``groups[group]``'s values over them."""
        own = self.groups.get(group)

        def pick(key: str) -> Any:
            value = getattr(own, key) if own is not None else None
            return getattr(self, key) if value is None else value

        return Settings(pick("name"), pick("lr"), (pick("beta1"), pick("beta2")))


@dataclass(frozen=True)
class TrainConfig:
    steps: int = 2000  # generator updates
    minutes: float | None = None  # wall-clock budget of the whole run: sets steps from a measured warm-up (saved in config.yaml)
    batch_size: int = 64
    checkpoint_every: int = 500
    sample_every: int = 250
    log_every: int = 25
    keep_checkpoints: int = 2  # numbered checkpoints kept besides latest.pt
    n_samples: int = 64  # fixed-z grid size
    progress: bool = True
    deterministic: bool = False  # bitwise-reproducible kernels (slower on GPU)
    channels_last: bool = False  # networks in channels_last memory format (faster convolutions on tensor-core GPUs)
    compile: bool = False  # torch.compile every trained network in place (checkpoints unchanged); not with penalties
    # that differentiate D's gradient (gp, r1, r2) or path-length regularisation: torch.compile cannot differentiate twice
    finite_check: str = "auto"  # when the loss is checked for NaN/inf: step (every update), log (log rows, before any
    # file is written; no host sync per update), auto (step on a CPU, log on a GPU)


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation during training (``every`` > 0) and the defaults of ``gankit eval``."""
    every: int = 0  # evaluate every this many steps and keep checkpoints/best.pt; 0: off
    metrics: list[str] = field(default_factory=lambda: ["fid"])  # fid kid is pr dc class_acc code_acc classes modes ...
    n: int = 2000  # generated samples per evaluation (real: as many, capped by the reference split)
    features: str = "auto"  # inception | domain | domain:NAME (another data set's evaluator) | auto (inception when here)
    split: str = "test"  # reference split of the real data
    seed: int = 0  # seed of the generated samples (same z at every evaluation)
    best: str | None = None  # metric that picks best.pt; null: the first of ``metrics``
    truncation: float | None = None  # psi of the truncation trick for the generated samples; null: none


@dataclass(frozen=True)
class SymptomConfig:
    """Detectors of the classic failure symptoms, run on the logged statistics during training."""
    enabled: bool = True
    patience: int = 4  # a symptom begins when its condition held in this many of the last ``window`` log rows ...
    window: int = 6  # ... and ends when it failed in ``patience`` of the last ``window`` rows
    warmup: int = 300  # no symptom is reported before this step (an untrained G is neither diverse nor settled)
    samples: int = 64  # fixed-z samples probed at each log row for sample/diversity and sample/change
    collapse_diversity: float = 0.25  # mode collapse: samples' mean pairwise distance below this fraction of the data's
    overpower_acc: float = 0.99  # D overpowers: D ranks at least this fraction of (real, fake) pairs correctly ...
    overpower_grad: float = 0.05  # ... and G's gradient norm is below this fraction of its largest so far
    nonconv_change: float = 0.5  # non-convergence: fixed-z samples move this much between log rows (x data's spread)
    # class imbalance (partial mode collapse), judged on evaluations whose eval.metrics include classes:
    class_min_share: float = 0.15  # the rarest class gets less than this fraction of its fair share 1/K of G's samples ...
    class_entropy: float = 0.85  # ... or the entropy of G's class histogram is below this fraction of log K
    class_patience: int = 2  # ... at this many evaluations in a row (and it ends after as many without)


@dataclass(frozen=True)
class Config:
    preset: str = "dcgan"
    paper: str = ""
    recipe: str = "gan"  # registered recipe class
    profile: str | None = None  # a sized variant of the preset: gankit/configs/<preset>/profiles/<profile>.yaml (gpu-128)
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: str = "nonsat"  # minimax | nonsat | lsgan | wasserstein | hinge
    penalties: list[Any] = field(default_factory=list)  # e.g. [gp] or [{name: r1, weight: 5}]
    terms: list[Any] = field(default_factory=list)  # auxiliary losses, e.g. [classification] (AC-GAN)
    tricks: list[Any] = field(default_factory=list)  # training tricks, e.g. [label_smoothing, {name: pack, m: 2}]
    conditional: bool = False  # G is conditioned on class labels (cGAN)
    n_critic: int = 1  # D updates per G update
    recipe_args: dict[str, Any] = field(default_factory=dict)  # extra constructor arguments of the recipe
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    symptoms: SymptomConfig = field(default_factory=SymptomConfig)
    ema: float | None = 0.999  # decay of the generator's moving average; null: off
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    amp: str | None = None  # bf16 (mixed precision) | null


def list_presets() -> list[str]:
    return sorted(p.name for p in PRESET_DIR.iterdir() if (p / "default.yaml").is_file())


def list_profiles(preset: str) -> list[str]:
    """The sized variants of a preset (``profile=NAME``), e.g. gpu-64, gpu-128, gpu-256."""
    return sorted(p.stem for p in (PRESET_DIR / preset / "profiles").glob("*.yaml"))


def profile_path(preset: str, profile: str) -> Path:
    """The file of ``profile`` of ``preset``, with a clear error when the preset has no such profile."""
    path = PRESET_DIR / preset / "profiles" / f"{profile}.yaml"
    if not path.is_file():
        have = list_profiles(preset)
        raise ConfigError(f"profile={profile!r}: preset {preset!r} has " + (
            f"the profiles {', '.join(have)}" if have else "no profiles") + " (gankit list shows them)")
    return path


def preset_paper(name: str) -> str:
    return str(OmegaConf.load(PRESET_DIR / name / "default.yaml").get("paper", ""))


def valid_keys(cls: type = Config, prefix: str = "") -> list[str]:
    """Every dotted key the config accepts, e.g. 'train.steps'."""
    keys = []
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(f.default_factory if f.default_factory is not dataclasses.MISSING else None):
            keys += valid_keys(f.default_factory, prefix + f.name + ".")
        else:
            keys.append(prefix + f.name)
    return keys


def _check_keys(node: Any, prefix: str, source: str) -> None:
    """Reject unknown keys with the nearest valid full keys (recipe_args is free-form)."""
    if not isinstance(node, (dict, DictConfig)):
        return
    keys = valid_keys()
    for k, v in node.items():
        full = f"{prefix}{k}"
        section = [key for key in keys if key.startswith(full + ".")]
        if full == "recipe_args" or full in keys:
            continue
        if section and isinstance(v, (dict, DictConfig)):
            _check_keys(v, full + ".", source)
        elif section:
            raise ConfigError(f"{source}: {full} is a section, not a value; set one of its keys, "
                              f"e.g. {section[0]}=... (all: {', '.join(section)})")
        else:
            leaf = full + "." + ".".join(_first_leaf(v)) if isinstance(v, (dict, DictConfig)) else full
            raise ConfigError(f"{source}: {unknown('config key', leaf.rstrip('.'), keys)}")


def _first_leaf(node: Any) -> list[str]:
    """The dotted path of the first leaf in a nested mapping, e.g. {z_dim: 5} -> ['z_dim']."""
    path = []
    while isinstance(node, (dict, DictConfig)) and node:
        k = next(iter(node))
        path.append(str(k))
        node = node[k]
    return path


def parse_overrides(overrides: list[str]) -> DictConfig:
    """`key=value` strings -> a nested config; values parsed as YAML (numbers, lists, null)."""
    for item in overrides:
        if "=" not in item or item.startswith("="):
            raise ConfigError(f"override {item!r} is not of the form key=value (e.g. train.steps=500)")
    try:
        node = _legacy(OmegaConf.from_dotlist(list(overrides)))
    except OmegaConfBaseException as e:
        raise ConfigError(f"cannot parse overrides {overrides}: {e}") from None
    _check_keys(OmegaConf.to_container(node), "", "override")
    return node


def resolve(preset: str, data: str | None = None, overrides: list[str] | None = None,
            extra: dict[str, Any] | None = None) -> Config:
    """The full config for ``preset`` on ``data`` with overrides applied and validated."""
    if preset not in list_presets():
        raise ConfigError(unknown("preset", preset, list_presets()))
    layers = [OmegaConf.structured(Config), _load_yaml(PRESET_DIR / preset / "default.yaml"), {"preset": preset}]
    data_name = data or OmegaConf.select(layers[1], "data.name") or DataConfig.name
    data_preset = PRESET_DIR / preset / f"{Path(str(data_name)).stem}.yaml"
    if data_preset.is_file():
        layers.append(_load_yaml(data_preset))
    if extra:
        extra = OmegaConf.to_container(_legacy(OmegaConf.create(extra)))
        _check_keys(extra, "", "argument")
    user = parse_overrides(overrides or [])
    profile = OmegaConf.select(user, "profile") or (extra or {}).get("profile")
    if profile is not None:
        layers.append(_load_yaml(profile_path(preset, str(profile))))
    if data is not None:
        layers.append({"data": {"name": data}})
    if extra:
        layers.append(extra)
    layers.append(user)
    if _sets_steps_only(extra or {}, user):
        layers.append({"train": {"minutes": None}})  # the user's train.steps beats a preset's wall-clock budget
    return validate(settle(merge(layers)))


def settle(cfg: Config) -> Config:
    """Apply what the config's own choices set: config-level tricks (TTUR's learning rates, k D steps) and the
    recipe's resolved arguments (e.g. SRGAN's content loss for "auto"). After this the config is only read."""
    from gankit.recipes import RECIPES
    from gankit.registry import call_item, item_specs
    from gankit.tricks import TRICKS

    changes = [call_item("tricks", i, name, TRICKS.get(name).config_changes, args)
               for i, (name, args) in enumerate(item_specs(TRICKS, cfg.tricks, "tricks"))]
    resolved = RECIPES.get(cfg.recipe).resolve_args(cfg)
    if resolved:
        changes.append({"recipe_args": resolved})
    changes = [c for c in changes if c]
    return merge([OmegaConf.structured(cfg), *changes]) if changes else cfg


def _sets_steps_only(extra: dict, user: DictConfig) -> bool:
    """Whether the caller gave train.steps but no train.minutes (a data-set preset may set a budget)."""
    given = [OmegaConf.create(extra), user]
    return any(OmegaConf.select(g, "train.steps") is not None for g in given) and \
        not any("minutes" in (OmegaConf.select(g, "train") or {}) for g in given)


def replace(cfg: Config, **sections: Any) -> Config:
    """A new, validated config with some values changed, e.g. ``replace(cfg, train={"steps": 500})``;
    ``cfg`` itself is never changed."""
    _check_keys(sections, "", "replace")
    return validate(merge([OmegaConf.structured(cfg), sections]))


def from_yaml(path: Path) -> Config:
    """A config saved in a run directory (saved after ``settle``: it is used as it is)."""
    return from_dict(_load_yaml(path))


def from_dict(values: Any) -> Config:
    """A saved, settled config given as a mapping (a published folder's config.json, an exported file's metadata),
    validated as it is."""
    return validate(merge([OmegaConf.structured(Config), OmegaConf.create(values)]))


def to_yaml(cfg: Config) -> str:
    return OmegaConf.to_yaml(OmegaConf.structured(cfg))


def _load_yaml(path: Path) -> DictConfig:
    node = _legacy(OmegaConf.load(path))
    _check_keys(OmegaConf.to_container(node), "", str(path))
    return node


LEGACY_GROUP_LR = {"lr_g": "G", "lr_d": "D"}  # optim.lr_g / optim.lr_d before optim.groups existed


def _legacy(node: DictConfig) -> DictConfig:
    """optim.lr_g / optim.lr_d (configs and runs written before optim.groups) -> optim.groups.G.lr / D.lr."""
    optim = node.get("optim") if isinstance(node, DictConfig) else None
    if not isinstance(optim, DictConfig) or not any(k in optim for k in LEGACY_GROUP_LR):
        return node
    tree = OmegaConf.to_container(node)
    for key, group in LEGACY_GROUP_LR.items():
        value = tree["optim"].pop(key, None)
        if value is not None:
            tree["optim"].setdefault("groups", {}).setdefault(group, {})["lr"] = value
    return OmegaConf.create(tree)


def merge(layers: list) -> Config:
    try:
        return OmegaConf.to_object(OmegaConf.merge(*layers))  # type: ignore[return-value]
    except OmegaConfBaseException as e:
        key = getattr(e, "full_key", None) or "?"
        raise ConfigError(f"bad value for {key}: {first_line(e)}") from None


def _require(ok: bool, key: str, rule: str, value: Any) -> None:
    if not ok:
        raise ConfigError(f"{key}={value!r}: {rule}")


def _check_data_domains(data: DataConfig) -> None:
    """data.pairing is null, paired or unpaired; data.domains lists distinct classes (two when paired/unpaired)."""
    _require(data.pairing in (None, "paired", "unpaired"), "data.pairing", "must be paired, unpaired or null", data.pairing)
    if data.domains is None:
        return
    domains = data.domains
    _require(len(domains) == len({str(d) for d in domains}), "data.domains", "entries must be distinct", domains)
    if data.pairing is not None:
        _require(len(domains) == 2, "data.domains", f"with data.pairing={data.pairing} it names [A, B]", domains)
    else:
        _require(len(domains) >= 1, "data.domains", "lists the classes kept, e.g. [1, 7, 9]; or null for all", domains)


def validate(cfg: Config) -> Config:
    """Value rules a type check cannot express; each error names the key and the rule."""
    t, o = cfg.train, cfg.optim
    for key, value in [("train.steps", t.steps), ("train.batch_size", t.batch_size), ("train.checkpoint_every", t.checkpoint_every),
                       ("train.sample_every", t.sample_every), ("train.log_every", t.log_every), ("train.n_samples", t.n_samples),
                       ("n_critic", cfg.n_critic), ("model.z_dim", cfg.model.z_dim), ("model.g_width", cfg.model.g_width),
                       ("model.d_width", cfg.model.d_width), ("model.blocks", cfg.model.blocks),
                       ("model.embed_dim", cfg.model.embed_dim), ("model.mapping_layers", cfg.model.mapping_layers)]:
        _require(value >= 1, key, "must be >= 1", value)
    _require(t.minutes is None or (t.minutes > 0 and math.isfinite(t.minutes)), "train.minutes",
             "a wall-clock budget must be a number of minutes > 0 (e.g. train.minutes=5), or null for train.steps", t.minutes)
    _require(t.finite_check in ("auto", "step", "log"), "train.finite_check", "must be auto, step or log",
             t.finite_check)
    _require(t.keep_checkpoints >= 0, "train.keep_checkpoints", "must be >= 0", t.keep_checkpoints)
    for prefix, g in [("optim", o), *((f"optim.groups.{k}", v) for k, v in o.groups.items())]:
        _require(g.lr is None or (g.lr > 0 and math.isfinite(g.lr)), f"{prefix}.lr", "learning rate must be > 0", g.lr)
        for beta in ("beta1", "beta2"):
            value = getattr(g, beta)
            _require(value is None or 0 <= value < 1, f"{prefix}.{beta}", "must be in [0, 1)", value)
        _require(g.name in ("adam", "rmsprop") or (g.name is None and g is not o), f"{prefix}.name",
                 "must be adam or rmsprop", g.name)
    _require(o.decay_from is None or 0 <= o.decay_from < 1, "optim.decay_from", "must be a fraction in [0, 1), or null", o.decay_from)
    tr = cfg.eval.truncation
    _require(tr is None or 0 < tr <= 1, "eval.truncation", "psi of the truncation trick is in (0, 1], or null", tr)
    _require(cfg.ema is None or 0 < cfg.ema < 1, "ema", "decay must be in (0, 1), or null for off", cfg.ema)
    _require(cfg.amp in (None, "bf16"), "amp", "must be bf16 or null", cfg.amp)
    _require(cfg.data.image_size is None or cfg.data.image_size >= 4, "data.image_size", "must be >= 4", cfg.data.image_size)
    _require(cfg.data.channels in (None, 1, 3), "data.channels", "must be 1 or 3", cfg.data.channels)
    _check_data_domains(cfg.data)
    sy = cfg.symptoms
    _require(1 <= sy.patience <= sy.window, "symptoms.patience", f"must be in [1, symptoms.window={sy.window}]", sy.patience)
    _require(sy.warmup >= 0, "symptoms.warmup", "must be >= 0", sy.warmup)
    _require(sy.samples >= 2, "symptoms.samples", "must be >= 2 (diversity needs pairs)", sy.samples)
    for key, value in [("symptoms.collapse_diversity", sy.collapse_diversity), ("symptoms.overpower_acc", sy.overpower_acc),
                       ("symptoms.overpower_grad", sy.overpower_grad), ("symptoms.nonconv_change", sy.nonconv_change)]:
        _require(value > 0 and math.isfinite(value), key, "must be > 0", value)
    for key, value in [("symptoms.class_min_share", sy.class_min_share), ("symptoms.class_entropy", sy.class_entropy)]:
        _require(0 < value <= 1, key, "must be a fraction in (0, 1]", value)
    _require(sy.class_patience >= 1, "symptoms.class_patience", "must be >= 1", sy.class_patience)
    from gankit.losses import LOSSES, PENALTIES
    from gankit.losses.terms import TERMS
    from gankit.recipes import RECIPES
    from gankit.registry import item_specs
    from gankit.tricks import TRICKS

    LOSSES.get(cfg.loss)
    RECIPES.get(cfg.recipe)
    for field, registry in (("tricks", TRICKS), ("penalties", PENALTIES), ("terms", TERMS)):
        item_specs(registry, getattr(cfg, field), field)  # unknown names fail now; built once, by the recipe's Objective
    return cfg
