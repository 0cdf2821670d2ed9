"""The Recipe contract: networks + math, as named loss terms per training phase.

A recipe never calls backward() or optimizer.step(): each phase returns a dict of
named loss terms that the trainer sums, back-propagates, checks and logs.
"""
from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit.objective import ACCEPTS_ALL, Accepts, Objective
from gankit.registry import Registry
from gankit.types import Batch

RECIPES: Registry[type["Recipe"]] = Registry("recipe")
register_recipe = RECIPES.register
LossTerms = dict[str, Tensor]


@dataclass
class Phase:
    """One optimiser update: ``step(batch, step_index) -> loss terms`` trains param group ``trains``."""

    name: str  # shown in logs and errors, e.g. "D" or "G"
    step: Callable[[Batch, int], LossTerms]
    trains: str  # key of Recipe.param_groups()
    # updates per generator step: a number (n_critic) or a schedule ``step -> number`` of the 1-based generator
    # step (WGAN's 100 critic steps early on; 0 skips the phase, e.g. D during SRGAN's MSE pre-training)
    repeats: int | Callable[[int], int] = 1
    new_batch: bool = True  # draw a fresh real batch for each repeat (False: reuse the last one)
    after: Callable[[], None] | None = None  # runs after each optimiser step (weight clipping)

    def repeats_at(self, step: int) -> int:
        """How many updates this phase makes at generator step ``step``: a pure function of the step, so resumes are exact."""
        n = self.repeats(step) if callable(self.repeats) else self.repeats
        if not isinstance(n, int) or n < 0:
            raise ValueError(f"phase {self.name!r}: repeats at step {step} is {n!r}; it must be an int >= 0")
        return n


@dataclass
class Latent:
    """G's inputs for a batch: noise ``z`` (B, Z) for the noise GANs, or ``source`` images (B, C, H, W) for the
    translation recipes; class (target-domain) labels ``y`` (B,) or None; and the real output paired with each
    input (``target``, paired translation) or None. G is called as G(latent.input, latent.y)."""

    z: Tensor | None = None
    y: Tensor | None = None
    target: Tensor | None = None  # paired translation: the ground truth shown beside and scored against G(source)
    source: Tensor | None = None  # translation: the images G translates
    psi: float | None = None  # the truncation trick in a style G's w space (``GAN.truncate``): G(z, y, psi=psi)
    temperature: float | None = None  # sequence generators: the sampling temperature, G(z, y, temperature=t)

    @property
    def input(self) -> Tensor:
        """What G takes: the source images, else the noise."""
        out = self.source if self.source is not None else self.z
        assert out is not None, "a Latent holds noise z or source images"
        return out

    def __len__(self) -> int:
        return self.input.shape[0]

    def __getitem__(self, part: slice) -> "Latent":
        return Latent(_part(self.z, part), _part(self.y, part), _part(self.target, part), _part(self.source, part),
                      self.psi, self.temperature)

    def options(self) -> dict[str, float]:
        """The keyword arguments G is called with besides (input, y): psi and temperature when set."""
        return {k: v for k, v in (("psi", self.psi), ("temperature", self.temperature)) if v is not None}

    def to_dict(self) -> dict[str, Tensor | None]:
        return {"z": self.z, "y": self.y, "target": self.target, "source": self.source}

    @classmethod
    def from_dict(cls, d: dict, device: torch.device | str) -> "Latent":
        """Reads checkpoints written before ``target`` and ``source`` existed too (their images sat in z)."""
        return cls(_to(d.get("z"), device), _to(d.get("y"), device), _to(d.get("target"), device),
                   _to(d.get("source"), device))


def _part(t: Tensor | None, part: slice) -> Tensor | None:
    return None if t is None else t[part]


def _to(t: Tensor | None, device: torch.device | str) -> Tensor | None:
    return None if t is None else t.to(device)


class EMA(nn.Module):
    """An exponential moving average copy of a network (Karras et al. 2018; Yazici et al. 2019).

    The decay ramps up as min(decay, (1 + t) / (10 + t)) so short runs are not
    dominated by the random initialisation. Batch-norm statistics are not averaged: before the
    averaged network samples, ``standing_stats`` measures them for the averaged weights
    (BigGAN's "standing statistics"); the live network's statistics belong to other weights and
    give visibly blurrier samples.
    """

    STANDING_BATCHES, STANDING_BATCH_SIZE, STANDING_SEED = 16, 64, 12345

    def __init__(self, net: nn.Module, decay: float) -> None:
        super().__init__()
        self.decay = decay
        self.net = copy.deepcopy(net).eval().requires_grad_(False)
        self.register_buffer("updates", torch.zeros((), dtype=torch.long))
        self._stats_fresh = False  # batch-norm statistics measured for the current averaged weights

    @torch.no_grad()
    def update(self, net: nn.Module) -> None:
        t = int(self.updates)
        decay = min(self.decay, (1 + t) / (10 + t))
        for avg, cur in zip(self.net.parameters(), net.parameters()):
            avg.lerp_(cur.detach(), 1 - decay)
        for avg, cur in zip(self.net.buffers(), net.buffers()):
            avg.copy_(cur)  # until standing_stats runs: the live network's (and spectral-norm vectors follow it)
        self.updates += 1
        self._stats_fresh = False

    @torch.no_grad()
    def standing_stats(self, make_latent: Callable[[int, torch.Generator], "Latent"]) -> None:
        """Measure the batch-norm statistics of the averaged network on fixed latents (its own generator,
        so the training random state is untouched and the result depends on the weights alone)."""
        norms = [m for m in self.net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
        if self._stats_fresh or not norms:
            return
        momenta = [m.momentum for m in norms]
        for m in norms:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average over the batches below
        device = next(self.net.parameters()).device
        generator = torch.Generator(device=device).manual_seed(self.STANDING_SEED)
        for m in norms:  # only the batch norms measure; spectral norm's power iteration and dropout stay still
            m.train()
        try:
            for _ in range(self.STANDING_BATCHES):
                latent = make_latent(self.STANDING_BATCH_SIZE, generator)
                self.net(latent.z, latent.y)
        finally:
            self.net.eval()
            for m, momentum in zip(norms, momenta):
                m.momentum = momentum
        self._stats_fresh = True

    def _load_from_state_dict(self, *args, **kwargs) -> None:  # noqa: ANN002,ANN003
        self._stats_fresh = False  # loaded weights: measure again before sampling
        super()._load_from_state_dict(*args, **kwargs)


class Recipe(nn.Module):
    """Base of every GAN variant. Subclasses build nets and an Objective in ``from_config`` and define ``phases``.

    A recipe describes the data flow; the losses come from ``self.objective`` (gankit.objective), built once
    from the config. ``accepts`` says which tricks, penalties and terms the recipe takes (the rest is refused
    when the Objective is built); ``networks`` and ``groups`` name the networks and what each optimiser trains.
    """

    paper: str = ""
    accepts: Accepts = ACCEPTS_ALL
    data_kinds: tuple[str, ...] = ("image", "points")  # the data set kinds it trains on (gankit.data.dataset.KINDS)
    G: nn.Module
    D: nn.Module

    def __init__(self) -> None:
        super().__init__()
        self.ema: EMA | None = None
        self.stats: dict[str, float | Tensor] = {}
        self.objective = Objective()

    def use_objective(self, objective: Objective) -> None:
        """Adopt ``objective``; ``build`` fits it to the recipe once every network exists."""
        self.objective = objective

    @classmethod
    def create(cls, cfg, data) -> "Recipe":  # noqa: ANN001  (Config, DataInfo)
        """``from_config``, then the Objective fitted to the finished recipe: it wraps G (virtual batch norm draws its
        reference batch from ``sample_latent``) and attaches state to every network of ``networks()`` (historical
        averaging), so a recipe may add networks (BiGAN's E, Triple-GAN's C) after ``GAN.__init__``."""
        recipe = cls.from_config(cfg, data)
        recipe.G = recipe.objective.wrap_g(recipe.G, recipe)
        recipe.objective.attach(recipe)
        return recipe

    @classmethod
    def from_config(cls, cfg, data) -> "Recipe":  # noqa: ANN001  (Config, Dataset)
        raise NotImplementedError

    @classmethod
    def objective_for(cls, cfg, extra_terms: dict | None = None) -> Objective:  # noqa: ANN001  (Config)
        """The run's Objective, built once, with what this recipe does not accept refused (``extra_terms``: the
        recipe's own, e.g. InfoGAN's mutual information)."""
        return Objective.from_config(cfg, recipe=cfg.recipe, accepts=cls.accepts, extra_terms=extra_terms)

    @classmethod
    def resolve_args(cls, cfg) -> dict:  # noqa: ANN001  (Config)
        """recipe_args this recipe settles while the config is resolved (e.g. SRGAN's content loss for "auto"):
        written into the run's config, which is read-only afterwards."""
        return {}

    def phases(self) -> list[Phase]:
        raise NotImplementedError

    def use_data(self, data) -> None:  # noqa: ANN001  (gankit.data.Dataset)
        """Once the networks exist and before training, the run's training data (on its device): a recipe may keep
        what it needs of it in buffers, so checkpoints hold it (the semi-supervised recipes keep their few labelled
        examples). The trainer's batches stay the only other way data reaches a recipe. Default: nothing."""

    def networks(self) -> dict[str, nn.Module]:
        """The trained networks by role; each key is the network's path in the recipe (``get_submodule``):
        "G", "D", "G_BA", "D.0" for the first of an ensemble's discriminators, ... Default: G and D."""
        return {"G": self.G, "D": self.D}

    def groups(self) -> dict[str, list[str]]:
        """The parameter groups, each trained by one optimiser with its own settings (optim.groups.<name>), and
        the networks (roles of ``networks``) in each; Phase.trains names a group. Default: G and D."""
        return {"G": ["G"], "D": ["D"]}

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """The parameters of each group of ``groups``."""
        nets = self.networks()
        return {group: [p for role in roles for p in nets[role].parameters()] for group, roles in self.groups().items()}

    def discriminators(self) -> list[nn.Module]:
        """Every discriminator (ensembles and CycleGAN have several); penalties constrain each."""
        return [self.D]

    def constrain(self) -> None:
        """After each D update: the penalties' constraints (WGAN's weight clipping) on every discriminator."""
        for D in self.discriminators():
            self.objective.constrain(D)

    def sample_latent(self, n: int, *, labels: Tensor | None = None, generator: torch.Generator | None = None) -> Latent:
        raise NotImplementedError

    # Hooks with a default for noise-driven GANs; translation recipes (gankit/recipes/translation.py) override them.
    def fixed_latent(self, n: int, *, labels: Tensor | None = None, data=None,  # noqa: ANN001  (Dataset)
                     generator: torch.Generator | None = None) -> Latent:
        """G's inputs for the fixed sample grid, for evaluation and for Run.sample: noise here; translation
        recipes take up to n input images from ``data``."""
        return self.sample_latent(n, labels=labels, generator=generator)

    def show(self, latent: Latent, output: Tensor) -> tuple[Tensor, int | None]:
        """What a sample grid shows of G's output on ``latent``, and the grid's row length (None: square)."""
        return output, None

    def describe(self, output: Tensor) -> list[str] | None:
        """G's output as lines of text (the text recipes decode their sentences), or None: the samples are
        pictures (``show``). The trainer then keeps samples/step_N.txt instead of a grid."""
        return None


    def walk(self, rows: int, steps: int, *, code: str | None = None, generator: torch.Generator | None = None) -> Latent:
        """A latent walk: ``rows`` spherical interpolations between two random z, ``steps`` each."""
        if code is not None:
            raise ValueError(f"this recipe has no latent codes (asked for {code!r})")
        a, b = self.sample_latent(rows, generator=generator), self.sample_latent(rows, generator=generator)
        t = torch.linspace(0, 1, steps, device=a.z.device)
        z = torch.stack([slerp(a.z, b.z, float(ti)) for ti in t], dim=1).flatten(0, 1)  # (rows*steps, Z)
        y = a.y.repeat_interleave(steps) if a.y is not None else None
        return Latent(z, y)

    def differentiates_twice(self) -> list[str]:
        """The parts of the loss that hold a gradient of a network (GP, R1: torch.compile cannot train them)."""
        return [name for name, p in self.objective.penalties.items() if p.differentiates_twice]

    def representative_step(self) -> int:
        """A generator step whose cost stands for every step of the run when ``train.minutes`` sizes it (the
        warm-up times steps from there on): 1, except for recipes whose steps grow dearer (ProGAN: its first step
        fully grown, so a budget is never overrun; the steps at lower resolutions then leave time to spare)."""
        return 1

    def stage(self, step: int) -> str | None:
        """The name of the training stage generator step ``step`` belongs to, for recipes that train in stages
        (ProGAN: "16px fade-in"); the trainer keeps a sample grid at the end of each. Default: None, one stage."""
        return None

    def label_classes(self) -> int:
        """How many values ``labels`` may take in ``sample_latent`` (0: this recipe takes no labels)."""
        return 0

    def export_form(self):  # noqa: ANN201  (gankit.recipes.export_form.ExportForm)
        """What ``gankit export`` writes: the sampler as one graph of plain tensor inputs, here noise z (and labels
        y); families override it (translation: an image), or raise ``NotExportable`` saying why they cannot."""
        from gankit.recipes.export_form import noise_form

        return noise_form(self)

    def truncate(self, latent: Latent, psi: float) -> Latent:
        """The truncation trick: ``latent`` moved towards the typical latent by psi in (0, 1] (1: unchanged).
        Recipes whose G reads standard normal noise implement it (``GAN``); the others refuse."""
        from gankit.errors import ConfigError

        raise ConfigError(f"{type(self).__name__} cannot truncate its latent: the truncation trick needs G's input "
                          "to be standard normal noise (the GAN-family recipes); sample without --truncation")

    def at_temperature(self, latent: Latent, temperature: float) -> Latent:
        """``latent`` sampled at a temperature (the text recipes: G's logits divided by it); others refuse."""
        from gankit.errors import ConfigError

        raise ConfigError(f"{type(self).__name__} has no sampling temperature: it applies to the text recipes, whose "
                          "G samples tokens from a softmax; sample without --temperature")

    # --- sampling -------------------------------------------------------------
    def enable_ema(self, decay: float) -> None:
        self.ema = EMA(self.G, decay)

    def update_ema(self) -> None:
        if self.ema is not None:
            self.ema.update(self.G)

    def sampler(self) -> nn.Module:
        """The network used for samples: the EMA generator when enabled, with batch-norm statistics measured
        for its own weights."""
        if self.ema is None:
            return self.G
        self.ema.standing_stats(lambda n, generator: self.sample_latent(n, generator=generator))
        return self.ema.net

    @torch.no_grad()
    def generate(self, latent: Latent, batch_size: int = 256, *, live: bool = False) -> Tensor:
        """Samples from a given latent, in eval mode, in chunks (memory does not grow with n).

        ``live``: from the generator being trained rather than its EMA (training diagnostics).
        """
        return run_generator(self.G if live else self.sampler(), latent, batch_size)

    def sample(self, n: int, labels: Tensor | None = None, *, generator: torch.Generator | None = None) -> Tensor:
        """n new samples (images in [-1, 1]); ``labels`` picks classes for conditional recipes."""
        return self.generate(self.sample_latent(n, labels=labels, generator=generator))

    def record_d(self, *, d_real: Tensor, d_fake: Tensor) -> None:
        """D's mean scores and its ranking accuracy (the d_overpowers symptom reads D/d_acc); a patch
        discriminator's (B, H', W') map counts as one score per image, its mean."""
        d_real = d_real.detach().reshape(len(d_real), -1).mean(1)  # (B,): unchanged for (B,) scores
        d_fake = d_fake.detach().reshape(len(d_fake), -1).mean(1)
        self.record(d_real=d_real.mean(), d_fake=d_fake.mean(), d_acc=ranking_accuracy(real=d_real, fake=d_fake))

    def record(self, **values: float | Tensor) -> None:
        """Statistics (not losses) the trainer logs, e.g. mean D outputs."""
        self.stats.update(values)


CALLED_OUTSIDE_FORWARD = "its networks are called through methods other than forward, which DDP does not synchronise"


def single_process(recipe: str, why: str = CALLED_OUTSIDE_FORWARD) -> None:
    """ConfigError under torchrun for recipes DDP cannot wrap, saying ``why`` (default: networks called through
    methods other than forward, such as sampling and log-likelihoods)."""
    from gankit import distributed
    from gankit.errors import ConfigError

    if distributed.world_size() > 1:
        raise ConfigError(f"recipe {recipe!r} trains in one process ({why}); run it without torchrun")


class GeneratorOnly:
    """For recipes that train G alone (MLE, BPR): one network, one optimiser group, no discriminator. Put it
    before the recipe's base class: ``class MLE(GeneratorOnly, TextRecipe)``."""

    G: nn.Module

    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G}

    def groups(self) -> dict[str, list[str]]:
        return {"G": ["G"]}

    def discriminators(self) -> list[nn.Module]:
        return []


@contextlib.contextmanager
def eval_mode(net: nn.Module) -> Iterator[nn.Module]:
    """``net`` in eval mode, its own mode restored after (also when the body raises)."""
    was_training = net.training
    net.eval()
    try:
        yield net
    finally:
        net.train(was_training)


@torch.no_grad()
def run_generator(net: nn.Module, latent: Latent, batch_size: int = 256) -> Tensor:
    """net(z, y) over ``latent`` in chunks and in eval mode (memory does not grow with n); restores net's mode."""
    with eval_mode(net):
        outs = []
        for start in range(0, len(latent), batch_size):
            part = latent[start:start + batch_size]
            outs.append(net(part.input, part.y, **part.options()))
        return torch.cat(outs)


def ranking_accuracy(*, real: Tensor, fake: Tensor) -> Tensor:
    """Fraction of (real, fake) pairs D scores in the right order, ties one half (the AUC of its scores).

    Means the same for every adversarial loss: a sign threshold would not for Wasserstein or hinge critics.
    """
    real, fake = real.reshape(-1, 1).float(), fake.reshape(1, -1).float()  # (B, 1), (1, B'): every pair
    return (real > fake).float().mean() + 0.5 * (real == fake).float().mean()


def check_recipe_args(args: dict, allowed: tuple[str, ...], recipe: str) -> None:
    """Refuse recipe_args the recipe does not take, naming the nearest valid ones."""
    from gankit.errors import ConfigError, unknown

    for key in args:
        if key not in allowed:
            if not allowed:
                raise ConfigError(f"recipe_args.{key}: recipe {recipe!r} takes no recipe_args")
            raise ConfigError(f"recipe_args: {unknown(f'argument of recipe {recipe!r}', key, allowed)}")


def slerp(a: Tensor, b: Tensor, t: float) -> Tensor:
    """Spherical interpolation between rows of a and b (White 2016), linear when they are parallel."""
    a_n, b_n = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    omega = torch.acos((a_n * b_n).sum(1).clamp(-1 + 1e-7, 1 - 1e-7))[:, None]
    so = torch.sin(omega)
    if float(so.abs().min()) < 1e-6:
        return (1 - t) * a + t * b
    return torch.sin((1 - t) * omega) / so * a + torch.sin(t * omega) / so * b


__all__ = ["RECIPES", "register_recipe", "Recipe", "GeneratorOnly", "single_process", "Phase", "Latent", "EMA", "LossTerms", "slerp", "check_recipe_args",
           "eval_mode", "run_generator", "ranking_accuracy"]
