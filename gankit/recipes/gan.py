"""The generic GAN: any networks, any adversarial loss, any penalties, any auxiliary terms.

DCGAN, LSGAN, WGAN, WGAN-GP, SNGAN, SAGAN, cGAN and AC-GAN are presets of this one
recipe (see gankit/configs); none of them needs code of its own.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.losses import PENALTIES, Penalty, get_loss
from gankit.nets import NetSpec, build_nets
from gankit.recipes.base import Latent, LossTerms, Phase, Recipe, check_recipe_args, register_recipe
from gankit.recipes.terms import TERMS, Context, Term
from gankit.registry import Registry
from gankit.types import Batch


def build_items(registry: Registry, specs: Sequence, field: str) -> dict:
    """{name: object} from config entries: a name ("gp") or a mapping ({name: gp, weight: 5})."""
    items = {}
    for i, spec in enumerate(specs):
        spec = dict(spec) if not isinstance(spec, str) else {"name": spec}
        if "name" not in spec:
            raise ConfigError(f"{field}[{i}] needs a 'name' (one of {', '.join(registry.names())}), got {spec}")
        name = spec.pop("name")
        cls = registry.get(name)
        if name in items:
            raise ConfigError(f"{field}: {name!r} is listed twice")
        try:
            items[name] = cls(**spec)
        except TypeError as e:
            raise ConfigError(f"{field}[{i}] ({name}): {e}") from None
    return items


@register_recipe("gan")
class GAN(Recipe):
    """Goodfellow et al. 2014, and every variant that differs only in nets, loss, penalties and terms."""

    paper = "Goodfellow et al. 2014, Generative Adversarial Nets"

    def __init__(self, G: nn.Module, D: nn.Module, *, z_dim: int, loss: str = "nonsat",
                 penalties: Mapping[str, Penalty] | None = None, terms: Mapping[str, Term] | None = None, n_critic: int = 1,
                 num_classes: int = 0) -> None:
        super().__init__()
        self.G, self.D = G, D
        self.z_dim, self.num_classes, self.n_critic = z_dim, num_classes, n_critic
        self.loss_name = loss
        self.adv = get_loss(loss)
        self.penalties, self.terms = dict(penalties or {}), dict(terms or {})

    @classmethod
    def from_config(cls, cfg, data) -> "GAN":  # noqa: ANN001
        check_recipe_args(cfg.recipe_args, (), "gan")
        terms = build_items(TERMS, cfg.terms, "terms")
        num_classes = _classes_needed(cfg, data, terms)
        spec = NetSpec(
            sample_shape=data.sample_shape,
            z_dim=cfg.model.z_dim,
            g_classes=num_classes,
            d_classes=data.num_classes if cfg.model.label_input else 0,
            aux_dim=sum(t.aux_dim(data.num_classes) for t in terms.values()),
        )
        G, D = build_nets(spec, cfg.model)
        return cls(G, D, z_dim=cfg.model.z_dim, loss=cfg.loss, penalties=build_items(PENALTIES, cfg.penalties, "penalties"),
                   terms=terms, n_critic=cfg.n_critic, num_classes=num_classes)

    def phases(self) -> list[Phase]:
        return [Phase("D", self.d_step, trains="D", repeats=self.n_critic, after=self._constrain),
                Phase("G", self.g_step, trains="G", new_batch=False)]

    def label_classes(self) -> int:
        return self.num_classes

    def sample_latent(self, n: int, *, labels: Tensor | None = None, generator: torch.Generator | None = None) -> Latent:
        device = next(self.G.parameters()).device
        z = torch.randn(n, self.z_dim, device=device, generator=generator)
        if self.num_classes == 0:
            return Latent(z)
        if labels is None:
            labels = torch.randint(0, self.num_classes, (n,), device=device, generator=generator)
        return Latent(z, labels.to(device))

    def _fake(self, batch: Batch) -> tuple[Tensor, Latent]:
        latent = self.sample_latent(len(batch))
        return self.G(latent.z, latent.y), latent

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        fake, latent = self._fake(batch)
        fake = fake.detach()
        d_real, d_fake = self.D(batch.x, batch.y), self.D(fake, latent.y)
        out = {"adv": self.adv.d(real=d_real.logit, fake=d_fake.logit)}
        ctx = Context(z=latent.z, y_real=batch.y, y_fake=latent.y, d_real=d_real, d_fake=d_fake)
        out.update(_named(self.terms, lambda t: t.d(ctx)))
        critic_real = lambda x: self.D(x, batch.y).logit  # noqa: E731  (labels of the real batch)
        out.update(_named(self.penalties, lambda p: p.loss(critic=critic_real, real=batch.x, fake=fake, step=step)))
        self.record(d_real=d_real.logit.detach().mean(), d_fake=d_fake.logit.detach().mean(),
                    d_acc=ranking_accuracy(real=d_real.logit.detach(), fake=d_fake.logit.detach()))
        return out

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        fake, latent = self._fake(batch)
        d_fake = self.D(fake, latent.y)
        out = {"adv": self.adv.g(fake=d_fake.logit)}
        ctx = Context(z=latent.z, y_real=batch.y, y_fake=latent.y, d_real=None, d_fake=d_fake)
        out.update(_named(self.terms, lambda t: t.g(ctx)))
        return out

    def _constrain(self) -> None:
        for p in self.penalties.values():
            p.constrain(self.D)


def ranking_accuracy(*, real: Tensor, fake: Tensor) -> Tensor:
    """Fraction of (real, fake) pairs D scores in the right order, ties one half (the AUC of its scores).

    Means the same for every adversarial loss: a sign threshold would not for Wasserstein or hinge critics.
    """
    real, fake = real.reshape(-1, 1).float(), fake.reshape(1, -1).float()  # (B, 1), (1, B'): every pair
    return (real > fake).float().mean() + 0.5 * (real == fake).float().mean()


def _named(items: Mapping[str, object], fn: Callable) -> LossTerms:
    """{name: fn(item)} for the items whose contribution is not None (a lazy penalty may skip a step)."""
    out: LossTerms = {}
    for name, item in items.items():
        value = fn(item)
        if value is not None:
            out[name] = value
    return out


def _classes_needed(cfg, data, terms: Mapping[str, Term]) -> int:  # noqa: ANN001
    """Number of classes G is conditioned on (0 = unconditional), with a clear error for unlabelled data."""
    g_conditional = cfg.conditional or any(t.needs_labels() for t in terms.values())
    if (g_conditional or cfg.model.label_input is not None) and data.num_classes < 1:
        raise ConfigError(
            f"preset {cfg.preset!r} is class-conditional but data set {data.name!r} has no labels; "
            "use a labelled data set (digits, mnist, an image folder with class sub-folders) or conditional=false."
        )
    return data.num_classes if g_conditional else 0
