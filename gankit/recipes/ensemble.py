"""Several discriminators against one generator: GMAN, Dropout-GAN and D2GAN.

``D`` is a ModuleList; every discriminator is trained in D's phase on the same batch, and
G's adversarial loss combines what each of them says.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.objective import Accepts, Scorer
from gankit.recipes.base import LossTerms, check_recipe_args, register_recipe
from gankit.recipes.gan import GAN, View
from gankit.tricks import TRICKS
from gankit.types import Batch, DOut

AGGREGATES = ("mean", "max", "soft", "dropout")


def build_ensemble(cls, cfg, data, objective, n: int) -> tuple[nn.Module, nn.ModuleList]:  # noqa: ANN001
    """One generator and ``n`` discriminators, each initialised independently (and wrapped by the tricks)."""
    if n < 2:
        raise ConfigError(f"recipe_args.discriminators={n}: an ensemble needs at least 2 discriminators")
    spec = cls.spec(cfg, data, objective)
    G, D = cls.build(cfg, data, objective, spec)
    return G, nn.ModuleList([D] + [cls.build(cfg, data, objective, spec)[1] for _ in range(n - 1)])


class Ensemble(GAN):
    """Several discriminators in ``D`` (a ModuleList), each its own network, all in group D."""

    D: nn.ModuleList

    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, **{f"D.{i}": D for i, D in enumerate(self.D)}}

    def groups(self) -> dict[str, list[str]]:
        return {"G": ["G"], "D": [f"D.{i}" for i in range(len(self.D))]}

    def discriminators(self) -> list[nn.Module]:
        return list(self.D)


def aggregate(values: Tensor, how: str, *, lam: float = 1.0, dropout: float = 0.5) -> Tensor:
    """G's loss from the per-discriminator losses V (N,).

    mean, max; soft (GMAN): sum softmax(lam V) V, the mean at lam = 0 and the max as lam grows;
    dropout (Dropout-GAN): the mean over the discriminators kept, each dropped with probability ``dropout``
    for this batch (at least one is kept).
    """
    if how == "mean":
        return values.mean()
    if how == "max":
        return values.max()
    if how == "soft":
        return (torch.softmax(lam * values, dim=0) * values).sum()
    if how == "dropout":
        keep = torch.rand(values.shape[0], device=values.device) >= dropout
        if not bool(keep.any()):
            keep[torch.randint(0, values.shape[0], (1,), device=values.device)] = True
        return values[keep].mean()
    raise ConfigError(f"recipe_args.aggregate={how!r}: choose one of {', '.join(AGGREGATES)}")


@register_recipe("gman")
class GMAN(Ensemble):
    """Durugkar et al. 2017, GMAN: N discriminators; G's loss is their mean, max or soft-max (lambda) aggregate."""

    paper = "Durugkar et al. 2017, Generative Multi-Adversarial Networks"
    default_aggregate = "soft"

    def __init__(self, G: nn.Module, D: nn.ModuleList, *, aggregate: str | None = None, lam: float = 1.0,
                 dropout: float = 0.5, **gan_kwargs) -> None:
        super().__init__(G, D, **gan_kwargs)
        self.how = aggregate or self.default_aggregate
        if self.how not in AGGREGATES:
            raise ConfigError(f"recipe_args.aggregate={self.how!r}: choose one of {', '.join(AGGREGATES)}")
        if not 0 <= dropout < 1:
            raise ConfigError(f"recipe_args.dropout={dropout}: a probability in [0, 1)")
        self.lam, self.dropout = lam, dropout

    @classmethod
    def from_config(cls, cfg, data) -> "GMAN":  # noqa: ANN001
        args = dict(cfg.recipe_args)
        check_recipe_args(args, ("discriminators", "aggregate", "lam", "dropout"), cfg.recipe)
        objective = cls.objective_for(cfg)
        G, D = build_ensemble(cls, cfg, data, objective, int(args.pop("discriminators", 3)))
        return cls(G, D, **cls.common_args(cfg, data, objective), **args)

    def views(self, batch: Batch, fake: Tensor) -> dict[str, View]:
        """Every discriminator judges the same real and generated samples; its terms carry its index."""
        return {str(i): (D, batch.x, fake) for i, D in enumerate(self.D)}

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        fake, latent = self._fake(batch)
        return self.judge_views(self.views(batch, fake), batch, latent, step)

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        fake, latent = self._fake(batch)
        out = self.fool_views(self.views(batch, fake), batch, latent, step)
        adv = [out.pop(f"adv{i}") for i in range(len(self.D)) if f"adv{i}" in out]
        if adv:
            out["adv"] = aggregate(torch.stack(adv), self.how, lam=self.lam, dropout=self.dropout)
        return out


@register_recipe("dropoutgan")
class DropoutGAN(GMAN):
    """Mordido et al. 2018, Dropout-GAN: each discriminator's feedback to G is dropped with probability d per batch."""

    paper = "Mordido et al. 2018, Dropout-GAN: Learning from a Dynamic Ensemble of Discriminators"
    default_aggregate = "dropout"


@register_recipe("d2gan")
class D2GAN(Ensemble):
    """Nguyen et al. 2017, D2GAN: D1 rewards real data (a KL term), D2 rewards fakes (a reverse-KL term).

    Both output positive scores (softplus). D1, D2 maximise alpha E log D1(x) - E D1(G(z)) - E D2(x)
    + beta E log D2(G(z)); G minimises -E D1(G(z)) + beta E log D2(G(z)). Penalties constrain each
    discriminator's logit.
    """

    paper = "Nguyen et al. 2017, Dual Discriminator Generative Adversarial Nets"
    accepts = Accepts(tricks=frozenset(TRICKS.names()) - {"label_smoothing"}, terms=frozenset(),
                      why="its two discriminators have their own KL and reverse-KL objective, not a real/fake target")

    def __init__(self, G: nn.Module, D: nn.ModuleList, *, alpha: float = 0.2, beta: float = 0.1, **gan_kwargs) -> None:
        super().__init__(G, D, **gan_kwargs)
        if alpha <= 0 or beta <= 0:
            raise ConfigError(f"recipe_args: D2GAN needs alpha > 0 and beta > 0, got alpha={alpha}, beta={beta}")
        self.alpha, self.beta = alpha, beta

    @classmethod
    def from_config(cls, cfg, data) -> "D2GAN":  # noqa: ANN001
        args = dict(cfg.recipe_args)
        check_recipe_args(args, ("alpha", "beta"), "d2gan")
        objective = cls.objective_for(cfg)
        G, D = build_ensemble(cls, cfg, data, objective, 2)
        return cls(G, D, **cls.common_args(cfg, data, objective), **args)

    def scorers(self) -> tuple[Scorer, Scorer]:
        """D1: alpha log D1(x) - D1(G(z)), D2: -D2(x) + beta log D2(G(z)), each maximised; G: the opposite."""
        a, b = self.alpha, self.beta
        d1 = Scorer(d=lambda r, f: -a * _log(_positive(r)).mean() + _positive(f).mean(),
                    g=lambda f: -_positive(f).mean(), score=_positive)
        d2 = Scorer(d=lambda r, f: _positive(r).mean() - b * _log(_positive(f)).mean(),
                    g=lambda f: b * _log(_positive(f)).mean(), score=_positive)
        return d1, d2

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        fake, latent = self._fake(batch)
        out: LossTerms = {}
        for i, (D, scorer) in enumerate(zip(self.D, self.scorers())):
            judged = self.objective.d_loss(D, real=batch.x, fake=fake, step=step, scorer=scorer, suffix=str(i + 1),
                                           **self.sides(batch, latent))
            out.update(judged.terms)
            if i == 0:  # D1 scores real data high, as a usual discriminator does
                self.record_d(d_real=judged.real_score, d_fake=judged.fake_score)
        return out

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        fake, latent = self._fake(batch)
        out: LossTerms = {}
        for i, (D, scorer) in enumerate(zip(self.D, self.scorers())):
            out.update(self.objective.g_loss(D, real=batch.x, fake=fake, step=step, scorer=scorer, suffix=str(i + 1),
                                             **self.sides(batch, latent)).terms)
        return out


def _positive(out: DOut) -> Tensor:
    """A discriminator's positive score softplus(logit)."""
    return F.softplus(out.logit)


def _log(x: Tensor) -> Tensor:
    return torch.log(x + 1e-8)


__all__ = ["Ensemble", "GMAN", "DropoutGAN", "D2GAN", "aggregate", "AGGREGATES"]
