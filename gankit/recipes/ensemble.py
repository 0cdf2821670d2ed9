"""Several discriminators against one generator: GMAN, Dropout-GAN and D2GAN.

``D`` is a ModuleList; every discriminator is trained in D's phase on the same batch, and
G's adversarial loss combines what each of them says.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.recipes.base import LossTerms, check_recipe_args, register_recipe
from gankit.recipes.gan import GAN
from gankit.types import Batch

AGGREGATES = ("mean", "max", "soft", "dropout")


def build_ensemble(cls, cfg, data, n: int) -> tuple[nn.Module, nn.ModuleList]:  # noqa: ANN001
    """One generator and ``n`` discriminators, each initialised independently (and wrapped by the tricks)."""
    if n < 2:
        raise ConfigError(f"recipe_args.discriminators={n}: an ensemble needs at least 2 discriminators")
    spec = cls.spec(cfg, data)
    G, D = cls.build(cfg, data, spec)
    return G, nn.ModuleList([D] + [cls.build(cfg, data, spec)[1] for _ in range(n - 1)])


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
class GMAN(GAN):
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
        G, D = build_ensemble(cls, cfg, data, int(args.pop("discriminators", 3)))
        return cls(G, D, **cls.common_args(cfg, data), **args)

    def discriminators(self) -> list[nn.Module]:
        return list(self.D)

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        fake, latent = self._fake(batch)
        out: LossTerms = {}
        scores = []
        for i, D in enumerate(self.D):
            terms, d_real, d_fake = self.judge_d(D, batch, fake.detach(), latent, step, suffix=str(i))
            out.update(terms)
            scores.append((d_real.logit, d_fake.logit))
        self.record_d(d_real=torch.cat([r for r, _ in scores]), d_fake=torch.cat([f for _, f in scores]))
        return out

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        fake, latent = self._fake(batch)
        out: LossTerms = {}
        for i, D in enumerate(self.D):
            out.update(self.judge_g(D, batch, fake, latent, step, suffix=str(i)))
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
class D2GAN(GAN):
    """Nguyen et al. 2017, D2GAN: D1 rewards real data (a KL term), D2 rewards fakes (a reverse-KL term).

    Both output positive scores (softplus). D1, D2 maximise alpha E log D1(x) - E D1(G(z)) - E D2(x)
    + beta E log D2(G(z)); G minimises -E D1(G(z)) + beta E log D2(G(z)).
    """

    paper = "Nguyen et al. 2017, Dual Discriminator Generative Adversarial Nets"
    scored_by_loss = False

    def __init__(self, G: nn.Module, D: nn.ModuleList, *, alpha: float = 0.2, beta: float = 0.1, **gan_kwargs) -> None:
        super().__init__(G, D, **gan_kwargs)
        if alpha <= 0 or beta <= 0:
            raise ConfigError(f"recipe_args: D2GAN needs alpha > 0 and beta > 0, got alpha={alpha}, beta={beta}")
        self.alpha, self.beta = alpha, beta

    @classmethod
    def from_config(cls, cfg, data) -> "D2GAN":  # noqa: ANN001
        args = dict(cfg.recipe_args)
        check_recipe_args(args, ("alpha", "beta"), "d2gan")
        if cfg.penalties:
            raise ConfigError("d2gan has its own objective for its two discriminators; penalties=[] is required")
        G, D = build_ensemble(cls, cfg, data, 2)
        return cls(G, D, **cls.common_args(cfg, data), **args)

    def discriminators(self) -> list[nn.Module]:
        return list(self.D)

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        fake, latent = self._fake(batch)
        fake = fake.detach()
        real_in, fake_in = self.d_view(batch.x, step), self.d_view(fake, step)
        (d1_real, d1r), (d1_fake, d1f) = _positive(self.D[0](real_in, batch.y)), _positive(self.D[0](fake_in, latent.y))
        (_, d2r), (_, d2f) = _positive(self.D[1](real_in, batch.y)), _positive(self.D[1](fake_in, latent.y))
        out = {"d1": -self.alpha * _log(d1r).mean() + d1f.mean(), "d2": d2r.mean() - self.beta * _log(d2f).mean()}
        out.update(self.trick_terms("D", step=step, d_real=d1_real, d_fake=d1_fake))
        self.record_d(d_real=d1r, d_fake=d1f)
        return out

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        fake, latent = self._fake(batch)
        fake_in = self.d_view(fake, step)
        d1_fake, d1f = _positive(self.D[0](fake_in, latent.y))
        _, d2f = _positive(self.D[1](fake_in, latent.y))
        d1_real = self.D[0](self.d_view(batch.x, step), batch.y) if self.wants_real_in_g() else None
        out = {} if self.replaces_g_adv() else {"adv": -d1f.mean() + self.beta * _log(d2f).mean()}
        out.update(self.trick_terms("G", step=step, d_real=d1_real, d_fake=d1_fake))
        return out


def _positive(out):  # noqa: ANN001, ANN202
    """(D's output, its positive score softplus(logit))."""
    return out, F.softplus(out.logit)


def _log(x: Tensor) -> Tensor:
    return torch.log(x + 1e-8)


__all__ = ["GMAN", "DropoutGAN", "D2GAN", "aggregate", "AGGREGATES"]
