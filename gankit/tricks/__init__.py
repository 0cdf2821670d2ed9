"""Training tricks: switches usable with any recipe, listed in the config as ``tricks=[...]``.

A trick is a small object with hooks, each a no-op by default:

- ``config_changes(**args)`` (a class method) the config values a config-level trick sets while the config
                           is resolved (TTUR's learning rates, k D steps); the config is read-only afterwards;
- ``configure(cfg, recipe)`` checks the resolved config and reads values from it (never writes it);
- ``d_shape(shape)``       the input shape D is built for (packing);
- ``wrap_d(D, spec)``      a discriminator wrapped with a batch-level layer;
- ``wrap_g(G, recipe)``    a generator wrapped (virtual batch norm);
- ``attach(recipe)``       state that follows the finished networks (historical averaging);
- ``d_input(x, step)``     what D sees of a real or a fake batch (instance noise, DiffAugment);
- ``d_terms / g_terms``    extra named loss terms per discriminator (label smoothing, feature matching);
- ``group_terms``          terms on a parameter group's weights, once per update (historical averaging).

gankit.objective.Objective calls the hooks; recipes and the trainer never see a trick.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.nn.batch import MinibatchDiscrimination, VirtualBatchNormG, minibatch_stddev, pack
from gankit.registry import Registry
from gankit.types import DOut

TRICKS: Registry[type["Trick"]] = Registry("trick")


@dataclass
class TrickContext:
    """What a trick's loss terms may look at during one phase of one discriminator."""

    step: int
    loss: str  # the adversarial loss D's logit is scored with (cfg.loss)
    d_real: DOut | None  # D on real data (D phase; G phase when a trick asks for real features)
    d_fake: DOut


class Trick(nn.Module):
    """Base: every hook is a no-op."""

    paper = ""
    example = ""
    wants_real_in_g = False  # G's phase also runs D on the real batch (feature matching)
    replaces_g_adv = False  # G's adversarial loss is dropped (feature matching as Salimans et al. used it)
    needs_adv_logit = False  # reads D's logit as scored by cfg.loss (recipes with their own objective refuse it)

    @classmethod
    def config_changes(cls, **args) -> dict:  # noqa: ANN003
        """Config values this trick sets while the config is resolved (``args``: its config entry), e.g.
        {"n_critic": 5}; a nested dict merged over the config before it is frozen."""
        return {}

    def configure(self, cfg, recipe: str) -> None:  # noqa: ANN001  (Config)
        """Check the resolved config this trick runs with for ``recipe``; read values from it (never write it)."""

    def d_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return shape

    def wrap_d(self, D: nn.Module, spec) -> nn.Module:  # noqa: ANN001  (NetSpec)
        return D

    def wrap_g(self, G: nn.Module, recipe) -> nn.Module:  # noqa: ANN001  (Recipe)
        return G

    def attach(self, recipe) -> None:  # noqa: ANN001  (Recipe)
        """Runs once the recipe's networks exist (state that follows the parameters)."""

    def d_input(self, x: Tensor, step: int) -> Tensor:
        return x

    def d_terms(self, ctx: TrickContext) -> dict[str, Tensor]:
        return {}

    def g_terms(self, ctx: TrickContext) -> dict[str, Tensor]:
        return {}

    def group_terms(self, group: str, params: list[nn.Parameter]) -> dict[str, Tensor]:
        return {}


def _require_images(spec_or_shape, trick: str) -> None:  # noqa: ANN001
    shape = getattr(spec_or_shape, "sample_shape", spec_or_shape)
    if len(shape) != 3:
        raise ConfigError(f"tricks: {trick} works on images; this data has samples of shape {tuple(shape)}")


# --- D's inputs ------------------------------------------------------------------------------------
@TRICKS.register("instance_noise")
class InstanceNoise(Trick):
    """Sonderby et al. 2017 / Arjovsky & Bottou 2017: Gaussian noise on D's real and fake inputs, annealed to zero."""

    paper = "Sonderby et al. 2017, Amortised MAP Inference for Image Super-resolution (instance noise)"
    example = "tricks=[instance_noise]  or  tricks=[{name: instance_noise, sigma: 0.1, anneal_steps: 2000}]"

    def __init__(self, sigma: float = 0.1, anneal_steps: int | None = None) -> None:
        super().__init__()
        if sigma < 0:
            raise ConfigError(f"tricks: instance_noise sigma must be >= 0, got {sigma}")
        self.sigma, self.anneal_steps = float(sigma), anneal_steps

    def configure(self, cfg, recipe: str) -> None:  # noqa: ANN001
        if self.anneal_steps is None:
            self.anneal_steps = cfg.train.steps  # linear decay to zero at the end of training
        if self.anneal_steps < 1:
            raise ConfigError(f"tricks: instance_noise anneal_steps must be >= 1, got {self.anneal_steps}")

    def sigma_at(self, step: int) -> float:
        return self.sigma * max(0.0, 1.0 - step / self.anneal_steps)

    def d_input(self, x: Tensor, step: int) -> Tensor:
        sigma = self.sigma_at(step)
        return x + sigma * torch.randn_like(x) if sigma > 0 else x


@TRICKS.register("diffaugment")
class DiffAugment(Trick):
    """Zhao et al. 2020: the same random differentiable augmentations on real and fake images before D."""

    paper = "Zhao et al. 2020, Differentiable Augmentation for Data-Efficient GAN Training"
    example = "tricks=[diffaugment]  or  tricks=[{name: diffaugment, policy: [translation, cutout]}]"
    POLICIES = ("color", "translation", "cutout")

    def __init__(self, policy: Sequence[str] = POLICIES, translation: float = 0.125, cutout: float = 0.5) -> None:
        super().__init__()
        for p in policy:
            if p not in self.POLICIES:
                raise ConfigError(f"tricks: diffaugment policy {p!r} is not one of {', '.join(self.POLICIES)}")
        self.policy, self.translation, self.cutout = tuple(policy), translation, cutout

    def wrap_d(self, D: nn.Module, spec) -> nn.Module:  # noqa: ANN001
        _require_images(spec, "diffaugment")
        return D

    def d_input(self, x: Tensor, step: int) -> Tensor:
        for p in self.policy:
            x = getattr(self, f"_{p}")(x)
        return x

    @staticmethod
    def _color(x: Tensor) -> Tensor:
        """Brightness +-0.5, saturation x[0, 2], contrast x[0.5, 1.5], each per sample."""
        r = lambda: torch.rand(x.shape[0], 1, 1, 1, device=x.device, dtype=x.dtype)  # noqa: E731
        x = x + (r() - 0.5)
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (r() * 2) + mean
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return (x - mean) * (r() + 0.5) + mean

    def _translation(self, x: Tensor) -> Tensor:
        """Shift each image by up to ``translation`` x its size, filling with zeros."""
        b, _, h, w = x.shape
        sy, sx = int(h * self.translation + 0.5), int(w * self.translation + 0.5)
        dy = torch.randint(-sy, sy + 1, (b, 1, 1), device=x.device)
        dx = torch.randint(-sx, sx + 1, (b, 1, 1), device=x.device)
        gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
        gy = (gy[None] + dy + 1).clamp(0, h + 1)  # (B, H, W) rows read from the zero-padded image
        gx = (gx[None] + dx + 1).clamp(0, w + 1)
        padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # (B, H+2, W+2, C)
        batch = torch.arange(b, device=x.device)[:, None, None]
        return padded[batch, gy, gx].permute(0, 3, 1, 2).contiguous()

    def _cutout(self, x: Tensor) -> Tensor:
        """Zero one square of ``cutout`` x the size at a random place in each image."""
        b, _, h, w = x.shape
        ch, cw = int(h * self.cutout + 0.5), int(w * self.cutout + 0.5)
        oy = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), device=x.device) - ch // 2
        ox = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), device=x.device) - cw // 2
        gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
        inside = (gy >= oy) & (gy < oy + ch) & (gx >= ox) & (gx < ox + cw)  # (B, H, W)
        return x * (~inside)[:, None].to(x.dtype)


# --- D's architecture ------------------------------------------------------------------------------
class _PackedD(nn.Module):
    def __init__(self, D: nn.Module, m: int) -> None:
        super().__init__()
        self.net, self.m = D, m

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        return self.net(pack(x, self.m), None)  # (B/m,) scores: one per pack


@TRICKS.register("pack")
class Pack(Trick):
    """Lin et al. 2018 (PacGAN): D judges m samples at once, concatenated, all real or all generated."""

    paper = "Lin et al. 2018, PacGAN: The Power of Two Samples in Generative Adversarial Networks"
    example = "tricks=[{name: pack, m: 2}]  (train.batch_size counts samples; D sees batch_size/m packs)"

    def __init__(self, m: int = 2) -> None:
        super().__init__()
        if m < 1:
            raise ConfigError(f"tricks: pack m must be >= 1, got {m}")
        self.m = m

    def configure(self, cfg, recipe: str) -> None:  # noqa: ANN001
        if cfg.train.batch_size % self.m:
            raise ConfigError(f"train.batch_size={cfg.train.batch_size}: packing m={self.m} samples needs a multiple of {self.m}")

    def d_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (shape[0] * self.m, *shape[1:])

    def wrap_d(self, D: nn.Module, spec) -> nn.Module:  # noqa: ANN001
        if spec.d_classes or spec.aux_dim:
            raise ConfigError("tricks: pack scores m samples at once, so D cannot read per-sample labels or codes "
                              "(label_input, classification or InfoGAN codes); use an unconditional recipe")
        return _PackedD(D, self.m)


def feature_dim(D: nn.Module, shape: tuple[int, ...], classes: int) -> int:
    """Length of D's features for inputs of ``shape``, from one forward pass in eval mode."""
    n = 2 * math.prod(m.m for m in D.modules() if isinstance(m, _PackedD))  # whole packs
    was = D.training
    D.eval()
    with torch.no_grad():
        y = torch.zeros(n, dtype=torch.long) if classes else None
        out = D(torch.zeros(n, *shape), y)
    D.train(was)
    return out.features.shape[1]


class _BatchFeatureD(nn.Module):
    """D whose features gain batch statistics; the logit gains a linear read of them (as a final layer on
    the concatenation [features, statistics] would)."""

    def __init__(self, D: nn.Module, layer: nn.Module, stat_dim: int) -> None:
        super().__init__()
        self.net, self.layer = D, layer
        # Starts at zero, so D learns which way the statistics point. nn.Linear's default init gives the one
        # stddev statistic a weight of random sign up to +-1; when negative, D rewarded low-diversity batches and
        # pushed G to collapse until Adam flipped it (still -0.55 after 400 steps at lr 1e-3 in
        # tests/test_trick_effects.py's collapse-prone setting, seed 3).
        self.read = nn.Linear(stat_dim, 1)
        nn.init.zeros_(self.read.weight)
        nn.init.zeros_(self.read.bias)

    def forward(self, x: Tensor, y: Tensor | None = None) -> DOut:
        out = self.net(x, y)
        stats = self.layer(out.features)  # (B, S)
        return DOut(logit=out.logit + self.read(stats).squeeze(1), features=torch.cat([out.features, stats], 1), aux=out.aux)


class _StdDev(nn.Module):
    def __init__(self, group_size: int) -> None:
        super().__init__()
        self.group_size = group_size

    def forward(self, features: Tensor) -> Tensor:
        return minibatch_stddev(features, self.group_size)


@TRICKS.register("minibatch_discrimination")
class MinibatchDiscriminationTrick(Trick):
    """Salimans et al. 2016: D sees how close each sample is to the others in its batch (the tensor T layer)."""

    paper = "Salimans et al. 2016, Improved Techniques for Training GANs"
    example = "tricks=[minibatch_discrimination]  or  tricks=[{name: minibatch_discrimination, kernels: 50}]"

    def __init__(self, kernels: int = 100, kernel_dim: int = 5) -> None:
        super().__init__()
        self.kernels, self.kernel_dim = kernels, kernel_dim

    def wrap_d(self, D: nn.Module, spec) -> nn.Module:  # noqa: ANN001
        features = feature_dim(D, spec.sample_shape, spec.d_classes)
        return _BatchFeatureD(D, MinibatchDiscrimination(features, self.kernels, self.kernel_dim), self.kernels)


@TRICKS.register("minibatch_stddev")
class MinibatchStdDev(Trick):
    """Karras et al. 2018 (ProGAN): D's last features gain their standard deviation over a group of samples."""

    paper = "Karras et al. 2018, Progressive Growing of GANs for Improved Quality, Stability, and Variation"
    example = "tricks=[minibatch_stddev]  or  tricks=[{name: minibatch_stddev, group_size: 4}]"

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        self.group_size = group_size

    def wrap_d(self, D: nn.Module, spec) -> nn.Module:  # noqa: ANN001
        return _BatchFeatureD(D, _StdDev(self.group_size), 1)


# --- G's architecture ------------------------------------------------------------------------------
@TRICKS.register("virtual_batch_norm")
class VirtualBatchNormTrick(Trick):
    """Salimans et al. 2016: G's batch norm uses a fixed reference batch of latents instead of the current batch."""

    paper = "Salimans et al. 2016, Improved Techniques for Training GANs"
    example = "tricks=[virtual_batch_norm]  (needs model.g_norm=batch)"

    def __init__(self, reference_size: int = 64, seed: int = 12345) -> None:
        super().__init__()
        self.reference_size, self.seed = reference_size, seed

    def configure(self, cfg, recipe: str) -> None:  # noqa: ANN001
        if cfg.model.g_norm != "batch":
            raise ConfigError(f"tricks: virtual_batch_norm replaces G's batch norm; set model.g_norm=batch "
                              f"(it is {cfg.model.g_norm!r})")

    def wrap_g(self, G: nn.Module, recipe) -> nn.Module:  # noqa: ANN001
        gen = torch.Generator().manual_seed(self.seed)
        ref = recipe.sample_latent(self.reference_size, generator=gen)
        return VirtualBatchNormG(G, ref.z, ref.y)


# --- loss terms ------------------------------------------------------------------------------------
@TRICKS.register("label_smoothing")
class LabelSmoothing(Trick):
    """Salimans et al. 2016: one-sided label smoothing, D's target for real data is 0.9 instead of 1.

    Added as the exact difference to D's loss: (1 - t) mean(D(x)) for the cross-entropy losses
    (-t log s(r) - (1-t) log(1 - s(r)) = softplus(-r) + (1-t) r), and (1 - t) mean(D(x)) - (1 - t^2)/2 for LSGAN.
    """

    paper = "Salimans et al. 2016, Improved Techniques for Training GANs"
    example = "tricks=[label_smoothing]  or  tricks=[{name: label_smoothing, real: 0.9}]"
    LOSSES = ("minimax", "nonsat", "lsgan")
    needs_adv_logit = True

    def __init__(self, real: float = 0.9) -> None:
        super().__init__()
        if not 0 < real <= 1:
            raise ConfigError(f"tricks: label_smoothing real must be in (0, 1], got {real}")
        self.real = real

    def configure(self, cfg, recipe: str) -> None:  # noqa: ANN001
        if cfg.loss not in self.LOSSES:
            raise ConfigError(f"tricks: label_smoothing smooths a target probability, so it needs loss= one of "
                              f"{', '.join(self.LOSSES)} (the loss is {cfg.loss!r})")

    def d_terms(self, ctx: TrickContext) -> dict[str, Tensor]:
        assert ctx.d_real is not None
        r, t = ctx.d_real.logit, self.real
        offset = 0.5 * (1 - t * t) if ctx.loss == "lsgan" else 0.0
        return {"label_smoothing": (1 - t) * r.mean() - offset}


@TRICKS.register("feature_matching")
class FeatureMatching(Trick):
    """Salimans et al. 2016: G matches the batch mean of D's penultimate features on real data."""

    paper = "Salimans et al. 2016, Improved Techniques for Training GANs"
    example = "tricks=[feature_matching]  or  tricks=[{name: feature_matching, replace: false, weight: 1}]"
    wants_real_in_g = True

    def __init__(self, weight: float = 1.0, replace: bool = True) -> None:
        super().__init__()
        self.weight = weight
        self.replaces_g_adv = replace  # the paper's G objective is the feature distance alone

    def g_terms(self, ctx: TrickContext) -> dict[str, Tensor]:
        assert ctx.d_real is not None
        real = ctx.d_real.features.detach().mean(0)
        fake = ctx.d_fake.features.mean(0)
        return {"feature_matching": self.weight * ((real - fake) ** 2).sum()}


@TRICKS.register("historical_averaging")
class HistoricalAveraging(Trick):
    """Salimans et al. 2016: each network pays weight * ||theta - mean of its past theta||^2."""

    paper = "Salimans et al. 2016, Improved Techniques for Training GANs"
    example = "tricks=[historical_averaging]  or  tricks=[{name: historical_averaging, weight: 1.0e-3}]"

    def __init__(self, weight: float = 1e-3) -> None:
        super().__init__()
        self.weight = weight

    def attach(self, recipe) -> None:  # noqa: ANN001
        """One running mean per parameter group, as buffers so checkpoints keep them."""
        for name, params in recipe.param_groups().items():
            self.register_buffer(f"mean_{name}", torch.cat([p.detach().flatten() for p in params]).clone())
            self.register_buffer(f"count_{name}", torch.zeros((), dtype=torch.long))

    def penalty(self, group: str, params: list[nn.Parameter]) -> Tensor:
        """Fold the current parameters into the running mean, then the squared distance to it."""
        flat = torch.cat([p.flatten() for p in params])
        mean, count = getattr(self, f"mean_{group}"), getattr(self, f"count_{group}")
        with torch.no_grad():
            mean.mul_(count / (count + 1)).add_(flat.detach() / (count + 1))
            count += 1
        return self.weight * ((flat - mean) ** 2).sum()

    def group_terms(self, group: str, params: list[nn.Parameter]) -> dict[str, Tensor]:
        return {"historical_averaging": self.penalty(group, params)}


@TRICKS.register("orthogonal_reg")
class OrthogonalRegularisation(Trick):
    """Brock et al. 2019 (BigGAN): weight * sum_W ||W W^T * (1 - I)||_F^2 over the generator's weight matrices
    (a conv's kernel read as out_channels x (in_channels k k)), pulling their rows towards orthogonal without
    constraining their norms; embeddings and biases are left out, as in the authors' code. Makes G amenable to
    the truncation trick."""

    paper = "Brock et al. 2019, Large Scale GAN Training for High Fidelity Natural Image Synthesis"
    example = "tricks=[orthogonal_reg]  or  tricks=[{name: orthogonal_reg, weight: 1.0e-4}]"

    def __init__(self, weight: float = 1e-4, group: str = "G") -> None:
        super().__init__()
        if not weight > 0:
            raise ConfigError(f"tricks: orthogonal_reg weight must be > 0, got {weight}")
        self.weight, self.group = weight, group
        self.regularised: set[int] = set()

    def attach(self, recipe) -> None:  # noqa: ANN001
        groups = recipe.param_groups()
        if self.group not in groups:
            raise ConfigError(f"tricks: orthogonal_reg group={self.group!r} is not a parameter group of this recipe "
                              f"(it has {', '.join(groups)})")
        embeddings = {id(m.weight) for m in recipe.modules() if isinstance(m, nn.Embedding)}
        self.regularised = {id(p) for p in groups[self.group] if p.dim() >= 2 and id(p) not in embeddings}

    def group_terms(self, group: str, params: list[nn.Parameter]) -> dict[str, Tensor]:
        if group != self.group:
            return {}
        return {"orthogonal_reg": self.weight * sum(off_diagonal_gram(p) for p in params if id(p) in self.regularised)}


def off_diagonal_gram(weight: Tensor) -> Tensor:
    """||W W^T * (1 - I)||_F^2 of a weight read as a (rows, -1) matrix: the squared dot products between
    different rows."""
    w = weight.flatten(1)
    gram = w @ w.T
    return (gram - torch.diag_embed(torch.diagonal(gram))).pow(2).sum()


# --- config-level tricks ---------------------------------------------------------------------------
@TRICKS.register("ttur")
class TTUR(Trick):
    """Heusel et al. 2017: the two time-scale update rule, D learns faster than G (sets optim.groups.G.lr / D.lr)."""

    paper = "Heusel et al. 2017, GANs Trained by a Two Time-Scale Update Rule Converge to a Local Nash Equilibrium"
    example = "tricks=[ttur]  or  tricks=[{name: ttur, lr_g: 1.0e-4, lr_d: 4.0e-4}]"

    def __init__(self, lr_g: float = 1e-4, lr_d: float = 4e-4) -> None:
        super().__init__()
        if not (lr_g > 0 and lr_d > 0):
            raise ConfigError(f"tricks: ttur learning rates must be > 0, got lr_g={lr_g}, lr_d={lr_d}")
        self.lr_g, self.lr_d = lr_g, lr_d

    @classmethod
    def config_changes(cls, **args) -> dict:  # noqa: ANN003
        trick = cls(**args)
        return {"optim": {"groups": {"G": {"lr": trick.lr_g}, "D": {"lr": trick.lr_d}}}}


@TRICKS.register("d_steps")
class DSteps(Trick):
    """Arjovsky et al. 2017 / Goodfellow et al. 2014: k discriminator updates per generator update (sets n_critic)."""

    paper = "Goodfellow et al. 2014 (Algorithm 1, k steps of D); Arjovsky et al. 2017 (n_critic = 5)"
    example = "tricks=[{name: d_steps, k: 5}]  (the same as n_critic=5)"

    def __init__(self, k: int = 5) -> None:
        super().__init__()
        if k < 1:
            raise ConfigError(f"tricks: d_steps k must be >= 1, got {k}")
        self.k = k

    @classmethod
    def config_changes(cls, **args) -> dict:  # noqa: ANN003
        return {"n_critic": cls(**args).k}


__all__ = ["TRICKS", "Trick", "TrickContext", "feature_dim"]
