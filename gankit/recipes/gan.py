"""The generic GAN: any networks, any adversarial loss, any penalties, any auxiliary terms.

DCGAN, LSGAN, WGAN, WGAN-GP, SNGAN, SAGAN, cGAN and AC-GAN are presets of this one
recipe (see gankit/configs); none of them needs code of its own.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

import torch
from torch import Tensor, nn

from gankit import distributed as noise
from gankit.errors import ConfigError, unknown
from gankit.losses.terms import Term
from gankit.nets import NetSpec, build_nets
from gankit.nets.stylegan import is_style_generator
from gankit.objective import Objective
from gankit.recipes.base import Latent, LossTerms, Phase, Recipe, check_recipe_args, register_recipe
from gankit.types import Batch

View = tuple[nn.Module, Tensor, Tensor]  # a discriminator, the real and the generated samples it judges


@dataclass(frozen=True)
class CriticSchedule:
    """Arjovsky et al. 2017 (the reference code's Diters): ``boosted`` critic updates for the first ``boost_first``
    generator steps and every ``boost_every``-th one, ``n_critic`` otherwise, so G learns from a near-optimal critic."""

    n_critic: int = 5
    boosted: int = 100
    boost_first: int = 25
    boost_every: int = 500

    def __post_init__(self) -> None:
        for name in ("n_critic", "boosted", "boost_first", "boost_every"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < (0 if name == "boost_first" else 1):
                raise ConfigError(f"recipe_args.critic_schedule.{name}={getattr(self, name)!r}: must be an int >= "
                                  f"{0 if name == 'boost_first' else 1}")

    def __call__(self, step: int) -> int:
        done = step - 1  # generator steps done before this one: the reference code's gen_iterations
        return self.boosted if done < self.boost_first or done % self.boost_every == 0 else self.n_critic


@register_recipe("gan")
class GAN(Recipe):
    """Goodfellow et al. 2014, and every variant that differs only in nets, loss, penalties and terms."""

    paper = "Goodfellow et al. 2014, Generative Adversarial Nets"
    data_kinds = ("image", "points", "sequence")  # sequences: with a sequence architecture (model.arch=crnn)
    standard_normal_z = True  # G's input is N(0, I) noise (and labels): the truncation trick applies

    def __init__(self, G: nn.Module, D: nn.Module, *, z_dim: int, objective: Objective | None = None,
                 n_critic: int | Callable[[int], int] = 1, num_classes: int = 0) -> None:
        super().__init__()
        self.G, self.D = G, D
        self.z_dim, self.num_classes, self.n_critic = z_dim, num_classes, n_critic
        self.use_objective(objective or Objective())

    @classmethod
    def from_config(cls, cfg, data) -> "GAN":  # noqa: ANN001
        check_recipe_args(cfg.recipe_args, ("critic_schedule",), "gan")
        objective = cls.objective_for(cfg)
        common = cls.common_args(cfg, data, objective)
        schedule = cfg.recipe_args.get("critic_schedule")
        if schedule is not None:  # n_critic stays the count between the boosts
            if not isinstance(schedule, Mapping):
                raise ConfigError(f"recipe_args.critic_schedule={schedule!r}: a mapping such as "
                                  "{boosted: 100, boost_first: 25, boost_every: 500}, or null for a constant n_critic")
            fields = ("boosted", "boost_first", "boost_every")
            for key in schedule:
                if key not in fields:
                    raise ConfigError(f"recipe_args.critic_schedule: {unknown('key', key, fields)}")
            common["n_critic"] = CriticSchedule(n_critic=cfg.n_critic, **schedule)
        return cls(*cls.build(cfg, data, objective), **common)

    @classmethod
    def common_args(cls, cfg, data, objective: Objective) -> dict:  # noqa: ANN001
        """Constructor arguments every GAN-derived recipe reads from the config the same way."""
        return {"z_dim": cfg.model.z_dim, "objective": objective, "n_critic": cfg.n_critic,
                "num_classes": _classes_needed(cfg, data, objective.terms)}

    @classmethod
    def spec(cls, cfg, data, objective: Objective, *, aux_dim: int = 0) -> NetSpec:  # noqa: ANN001
        """What G and D are built for: the data's samples, G's classes, D's labels and auxiliary outputs."""
        return NetSpec(
            sample_shape=data.sample_shape,
            z_dim=cfg.model.z_dim,
            g_classes=_classes_needed(cfg, data, objective.terms),
            d_classes=data.num_classes if cfg.model.label_input else 0,
            aux_dim=aux_dim + sum(t.aux_dim(data.num_classes) for t in objective.terms.values()),
        )

    @classmethod
    def build(cls, cfg, data, objective: Objective, spec: NetSpec | None = None) -> tuple[nn.Module, nn.Module]:  # noqa: ANN001
        """(G, D) for ``spec`` (default: ``cls.spec``); D is built for the input shape the tricks give it
        (packing) and wrapped by them."""
        spec = spec or cls.spec(cfg, data, objective)
        G, D = build_nets(spec, cfg.model, d_shape=objective.d_input_shape(spec.sample_shape))
        return G, objective.wrap_d(D, spec)

    def phases(self) -> list[Phase]:
        return [Phase("D", self.d_step, trains="D", repeats=self.n_critic, after=self.constrain),
                Phase("G", self.g_step, trains="G", new_batch=False)]

    def label_classes(self) -> int:
        return self.num_classes

    def sample_latent(self, n: int, *, labels: Tensor | None = None, generator: torch.Generator | None = None) -> Latent:
        device = next(self.G.parameters()).device
        z = noise.randn(n, self.z_dim, device=device, generator=generator)
        if self.num_classes == 0:
            return Latent(z)
        if labels is None:
            labels = noise.randint(self.num_classes, n, device=device, generator=generator)
        return Latent(z, labels.to(device))

    def truncate(self, latent: Latent, psi: float) -> Latent:
        """A style G (StyleGAN) truncates in w: w_avg + psi (w - w_avg), inside G. Any other G: Brock et al.
        2019's truncated normal, as a map of the drawn z: each entry u = Phi(z), uniform, goes to
        Phi^-1((1 - psi) / 2 + psi u), so z follows the standard normal cut to its central mass psi (|z| <
        Phi^-1((1 + psi) / 2): 0.67 at psi 0.5) and the same seed gives the same sample, nearer the mean z = 0."""
        if not self.standard_normal_z:
            return super().truncate(latent, psi)
        if not 0 < psi <= 1:
            raise ConfigError(f"truncation={psi}: psi is the share of the normal's mass kept (a style G: the "
                              "weight of w against the average w), in (0, 1] (1: none; 0.7 is common)")
        if is_style_generator(self.G):
            return replace(latent, psi=psi)
        z = torch.special.ndtri((1 - psi) / 2 + psi * torch.special.ndtr(latent.z.double())).to(latent.z.dtype)
        return replace(latent, z=z)

    def _fake(self, batch: Batch) -> tuple[Tensor, Latent]:
        latent = self.sample_latent(len(batch))
        return self.G(latent.z, latent.y), latent

    @staticmethod
    def sides(batch: Batch, latent: Latent) -> dict:
        """What the Objective's terms read besides D's outputs: the labels of both sides and G's input."""
        return {"y_real": batch.y, "y_fake": latent.y, "z": latent.z}

    def judge_views(self, views: dict[str, View], batch: Batch, latent: Latent, step: int) -> LossTerms:
        """D's terms of several discriminators, each judging its own view {suffix: (D, real, fake)} (GMAN's ensemble,
        MoCoGAN's image and video D); every term is suffixed, the scores of all are recorded together."""
        out: LossTerms = {}
        scores = []
        for suffix, (D, real, fake) in views.items():
            judged = self.objective.d_loss(D, real=real, fake=fake, step=step, suffix=suffix, **self.sides(batch, latent))
            out.update(judged.terms)
            scores.append((judged.real_score, judged.fake_score))
        self.record_d(d_real=torch.cat([r for r, _ in scores]), d_fake=torch.cat([f for _, f in scores]))
        return out

    def fool_views(self, views: dict[str, View], batch: Batch, latent: Latent, step: int) -> LossTerms:
        """G's terms against every view of ``judge_views``, suffixed the same way."""
        out: LossTerms = {}
        for suffix, (D, real, fake) in views.items():
            out.update(self.objective.g_loss(D, real=real, fake=fake, step=step, suffix=suffix,
                                             **self.sides(batch, latent)).terms)
        return out

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        fake, latent = self._fake(batch)
        judged = self.objective.d_loss(self.D, real=batch.x, fake=fake, step=step, **self.sides(batch, latent))
        self.record_d(d_real=judged.real_score, d_fake=judged.fake_score)
        return judged.terms

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        fake, latent = self._fake(batch)
        return self.objective.g_loss(self.D, real=batch.x, fake=fake, step=step, **self.sides(batch, latent)).terms


def _classes_needed(cfg, data, terms: Mapping[str, Term]) -> int:  # noqa: ANN001
    """Number of classes G is conditioned on (0 = unconditional), with a clear error for unlabelled data."""
    g_conditional = cfg.conditional or any(t.needs_labels() for t in terms.values())
    if (g_conditional or cfg.model.label_input is not None) and data.num_classes < 1:
        raise ConfigError(
            f"preset {cfg.preset!r} is class-conditional but data set {data.name!r} has no labels; "
            "use a labelled data set (digits, mnist, an image folder with class sub-folders) or conditional=false."
        )
    return data.num_classes if g_conditional else 0
