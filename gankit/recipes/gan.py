"""The generic GAN: any networks, any adversarial loss, any penalties, any auxiliary terms.

DCGAN, LSGAN, WGAN, WGAN-GP, SNGAN, SAGAN, cGAN and AC-GAN are presets of this one
recipe (see gankit/configs); none of them needs code of its own.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit.errors import ConfigError, unknown
from gankit.losses import PENALTIES, Penalty, get_loss
from gankit.nets import ModelConfig, NetSpec, build_nets
from gankit.recipes.base import (Latent, LossTerms, Phase, Recipe, check_recipe_args, ranking_accuracy,  # noqa: F401
                                 register_recipe)
from gankit.recipes.terms import TERMS, Context, Term
from gankit.registry import Registry
from gankit.tricks import Trick, build_tricks, d_input_shape
from gankit.types import Batch, DOut


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

    def __init__(self, G: nn.Module, D: nn.Module, *, z_dim: int, loss: str = "nonsat",
                 penalties: Mapping[str, Penalty] | None = None, terms: Mapping[str, Term] | None = None,
                 n_critic: int | Callable[[int], int] = 1, num_classes: int = 0, tricks: Sequence[Trick] = ()) -> None:
        super().__init__()
        self.G, self.D = G, D
        self.z_dim, self.num_classes, self.n_critic = z_dim, num_classes, n_critic
        self.loss_name = loss
        self.adv = get_loss(loss)
        self.penalties, self.terms = dict(penalties or {}), dict(terms or {})
        self.install_tricks(tricks)

    @classmethod
    def from_config(cls, cfg, data) -> "GAN":  # noqa: ANN001
        check_recipe_args(cfg.recipe_args, ("critic_schedule",), "gan")
        common = cls.common_args(cfg, data)
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
        return cls(*cls.build(cfg, data), **common)

    @classmethod
    def common_args(cls, cfg, data) -> dict:  # noqa: ANN001
        """Constructor arguments every GAN-derived recipe reads from the config the same way."""
        terms = build_items(TERMS, cfg.terms, "terms")
        return {"z_dim": cfg.model.z_dim, "loss": cfg.loss, "penalties": build_items(PENALTIES, cfg.penalties, "penalties"),
                "terms": terms, "n_critic": cfg.n_critic, "num_classes": _classes_needed(cfg, data, terms),
                "tricks": build_tricks(cfg)}

    @classmethod
    def spec(cls, cfg, data, *, aux_dim: int = 0) -> NetSpec:  # noqa: ANN001
        """What G and D are built for: the data's samples, G's classes, D's labels and auxiliary outputs."""
        terms = build_items(TERMS, cfg.terms, "terms")
        return NetSpec(
            sample_shape=data.sample_shape,
            z_dim=cfg.model.z_dim,
            g_classes=_classes_needed(cfg, data, terms),
            d_classes=data.num_classes if cfg.model.label_input else 0,
            aux_dim=aux_dim + sum(t.aux_dim(data.num_classes) for t in terms.values()),
        )

    @classmethod
    def build(cls, cfg, data, spec: NetSpec | None = None) -> tuple[nn.Module, nn.Module]:  # noqa: ANN001
        """(G, D) for ``spec`` (default: ``cls.spec``), D shaped and wrapped by the config's tricks."""
        return build_gan_nets(spec or cls.spec(cfg, data), cfg.model, build_tricks(cfg))

    def phases(self) -> list[Phase]:
        return [Phase("D", self.d_step, trains="D", repeats=self.n_critic, after=self.constrain),
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
        out, d_real, d_fake = self.judge_d(self.D, batch, fake.detach(), latent, step)
        self.record_d(d_real=d_real.logit, d_fake=d_fake.logit)
        return out

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        fake, latent = self._fake(batch)
        return self.judge_g(self.D, batch, fake, latent, step)

    def judge_d(self, D: nn.Module, batch: Batch, fake: Tensor, latent: Latent, step: int,
                suffix: str = "") -> tuple[LossTerms, DOut, DOut]:
        """D's loss terms for one discriminator (named ``<term><suffix>``), and its outputs on real and fake."""
        d_real, d_fake = D(self.d_view(batch.x, step), batch.y), D(self.d_view(fake, step), latent.y)
        out = {"adv": self.adv.d(real=d_real.logit, fake=d_fake.logit)}
        ctx = Context(z=latent.z, y_real=batch.y, y_fake=latent.y, d_real=d_real, d_fake=d_fake)
        out.update(named_terms(self.terms, lambda t: t.d(ctx)))
        critic_real = lambda x: D(x, batch.y).logit  # noqa: E731  (labels of the real batch)
        out.update(named_terms(self.penalties, lambda p: p.loss(critic=critic_real, real=batch.x, fake=fake, step=step)))
        out = {f"{k}{suffix}": v for k, v in out.items()}
        out.update(self.trick_terms("D", step=step, d_real=d_real, d_fake=d_fake, suffix=suffix))
        return out, d_real, d_fake

    def judge_g(self, D: nn.Module, batch: Batch, fake: Tensor, latent: Latent, step: int, suffix: str = "") -> LossTerms:
        """G's loss terms against one discriminator, named ``<term><suffix>``."""
        d_fake = D(self.d_view(fake, step), latent.y)
        d_real = D(self.d_view(batch.x, step), batch.y) if self.wants_real_in_g() else None
        out = {} if self.replaces_g_adv() else {"adv": self.adv.g(fake=d_fake.logit)}
        ctx = Context(z=latent.z, y_real=batch.y, y_fake=latent.y, d_real=None, d_fake=d_fake)
        out.update(named_terms(self.terms, lambda t: t.g(ctx)))
        out = {f"{k}{suffix}": v for k, v in out.items()}
        out.update(self.trick_terms("G", step=step, d_real=d_real, d_fake=d_fake, suffix=suffix))
        return out



def build_gan_nets(spec: NetSpec, model: ModelConfig, tricks: Sequence[Trick]) -> tuple[nn.Module, nn.Module]:
    """(G, D) for ``spec``; D is built for the input shape the tricks give it (packing) and wrapped by them.

    Tricks that change D's input shape wrap first, so every later wrapper sees D take plain samples.
    """
    G, D = build_nets(spec, model, d_shape=d_input_shape(tricks, spec.sample_shape))
    reshaping = [t for t in tricks if t.d_shape(spec.sample_shape) != spec.sample_shape]
    for trick in reshaping + [t for t in tricks if t not in reshaping]:
        D = trick.wrap_d(D, spec)
    return G, D


def named_terms(items: Mapping[str, object], fn: Callable) -> LossTerms:
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
