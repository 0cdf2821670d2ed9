"""The Objective: a run's adversarial loss, penalties, auxiliary terms and tricks, built once from the config.

A recipe describes the data flow (which network sees which inputs); for each discriminator it
asks the Objective for D's or G's loss terms:

    terms, real_score, fake_score = objective.d_loss(D, real=x, fake=fake, step=step)
    terms = objective.g_loss(D, real=x, fake=fake, step=step)

The Objective applies the views of D's inputs (instance noise, DiffAugment), scores D's outputs
with the adversarial loss (or with a recipe's own ``Scorer``), adds the auxiliary terms, the
penalties and the tricks' terms, and wraps the networks for the tricks that change them (packing,
minibatch features, virtual batch norm). A recipe declares what it ``Accepts``; anything else in
the config is refused once, when the Objective is built, naming the recipe and the item.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from torch import Tensor, nn

from gankit.errors import ConfigError
from gankit.losses import PENALTIES, get_loss
from gankit.losses.penalties import LabelledCritic
from gankit.losses.terms import TERMS, Context, Term
from gankit.registry import Registry, build_items, item_specs
from gankit.tricks import TRICKS, Trick, TrickContext
from gankit.types import DOut

LossTerms = dict[str, Tensor]
Judge = Callable[[Tensor, "Tensor | None"], DOut]  # a discriminator: (inputs, labels) -> DOut


@dataclass(frozen=True)
class Accepts:
    """The config items a recipe takes: names of tricks, penalties and terms (None: every registered one)."""

    tricks: frozenset[str] | None = None
    penalties: frozenset[str] | None = None
    terms: frozenset[str] | None = None
    why: str = ""  # one line the refusal adds, e.g. "its generators are told apart by index, not class"


ACCEPTS_ALL = Accepts()


@dataclass
class Judgement:
    """What one discriminator said in one phase: the loss terms, its outputs and its scores (B,) of both sides."""

    terms: LossTerms
    real: DOut | None  # None in G's phase unless a trick shows D the real batch
    fake: DOut
    real_score: Tensor | None
    fake_score: Tensor


@dataclass
class Scorer:
    """How a recipe with its own objective scores a discriminator's outputs (MAD-GAN, D2GAN).

    d: D's adversarial loss from its outputs on real and fake; g: G's from its output on fake;
    score: the critic value (B,) the penalties differentiate and the statistics record."""

    d: Callable[[DOut, DOut], Tensor]
    g: Callable[[DOut], Tensor]
    score: Callable[[DOut], Tensor]


class Objective(nn.Module):
    """Loss terms for one discriminator at a time, from the config's loss, penalties, terms and tricks."""

    def __init__(self, *, loss: str = "nonsat", penalties: Mapping | None = None, terms: Mapping[str, Term] | None = None,
                 tricks: Sequence[Trick] = ()) -> None:
        super().__init__()
        self.loss_name, self.adv = loss, get_loss(loss)
        self.penalties = dict(penalties or {})
        self.terms = dict(terms or {})
        self.tricks = nn.ModuleList(tricks)
        self.wants_real_in_g = any(t.wants_real_in_g for t in tricks)  # G's phase also shows D the real batch
        self.replaces_g_adv = any(t.replaces_g_adv for t in tricks)  # G's adversarial term is dropped

    @classmethod
    def from_config(cls, cfg, *, recipe: str, accepts: Accepts = ACCEPTS_ALL,  # noqa: ANN001  (Config)
                    extra_terms: Mapping[str, Term] | None = None) -> "Objective":
        """Build the config's items once, refusing those the recipe does not accept; ``extra_terms`` are the
        recipe's own (InfoGAN's mutual information, MGAN's generator classifier)."""
        items = {}
        for field, registry in (("tricks", TRICKS), ("penalties", PENALTIES), ("terms", TERMS)):
            names = [name for name, _ in item_specs(registry, getattr(cfg, field), field)]
            refuse(names, getattr(accepts, field), field=field, registry=registry, recipe=recipe, why=accepts.why)
            items[field] = build_items(registry, getattr(cfg, field), field)
        for trick in items["tricks"].values():
            trick.configure(cfg, recipe)
        return cls(loss=cfg.loss, penalties=items["penalties"], terms={**items["terms"], **(extra_terms or {})},
                   tricks=list(items["tricks"].values()))

    # --- the networks -------------------------------------------------------------------------
    def d_input_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The input shape D is built for (packing concatenates m samples)."""
        for trick in self.tricks:
            shape = trick.d_shape(shape)
        return shape

    def wrap_d(self, D: nn.Module, spec) -> nn.Module:  # noqa: ANN001  (NetSpec)
        """D wrapped by the tricks; those that change its input shape first, so later ones see plain samples."""
        reshaping = [t for t in self.tricks if t.d_shape(spec.sample_shape) != spec.sample_shape]
        for trick in reshaping + [t for t in self.tricks if t not in reshaping]:
            D = trick.wrap_d(D, spec)
        return D

    def wrap_g(self, G: nn.Module, recipe) -> nn.Module:  # noqa: ANN001  (Recipe)
        for trick in self.tricks:
            G = trick.wrap_g(G, recipe)
        return G

    def attach(self, recipe) -> None:  # noqa: ANN001
        """Let the tricks keep state that follows the finished networks (historical averaging)."""
        for trick in self.tricks:
            trick.attach(recipe)

    def constrain(self, D: nn.Module) -> None:
        """After each update of D: the penalties' constraints (WGAN's weight clipping)."""
        for penalty in self.penalties.values():
            penalty.constrain(D)

    # --- the loss terms ---------------------------------------------------------------------------
    def view(self, x: Tensor, step: int) -> Tensor:
        """What D sees of a real or generated batch (instance noise, DiffAugment)."""
        for trick in self.tricks:
            x = trick.d_input(x, step)
        return x

    def d_loss(self, D: Judge, *, real: Tensor, fake: Tensor, step: int, y_real: Tensor | None = None,
               y_fake: Tensor | None = None, z: Tensor | None = None, scorer: Scorer | None = None,
               adv_weight: float = 1.0, suffix: str = "") -> Judgement:
        """D's loss terms named ``<term><suffix>`` (``fake`` is detached here), with D's outputs and scores."""
        fake = fake.detach()
        self._pairs(real, fake, scorer)
        d_real, d_fake = D(self.view(real, step), y_real), D(self.view(fake, step), y_fake)
        adv = scorer.d(d_real, d_fake) if scorer else self.adv.d(real=d_real.logit, fake=d_fake.logit)
        out = {"adv": adv_weight * adv}
        ctx = Context(z=z, y_real=y_real, y_fake=y_fake, d_real=d_real, d_fake=d_fake)
        out.update(_named(self.terms, lambda t: t.d(ctx)))
        score = scorer.score if scorer else _logit
        critic = LabelledCritic(lambda x: score(D(x, y_real)), lambda x: score(D(x, y_fake)),  # each side's labels
                                real_score=score(d_real))
        out.update(_named(self.penalties, lambda p: p.loss(critic=critic, real=real, fake=fake, step=step)))
        trick_ctx = TrickContext(step=step, loss=self.loss_name, d_real=d_real, d_fake=d_fake)
        for trick in self.tricks:
            out.update(trick.d_terms(trick_ctx))
        return Judgement(_suffixed(out, suffix), d_real, d_fake, score(d_real), score(d_fake))

    def g_loss(self, D: Judge, *, real: Tensor, fake: Tensor, step: int, y_real: Tensor | None = None,
               y_fake: Tensor | None = None, z: Tensor | None = None, scorer: Scorer | None = None,
               adv_weight: float = 1.0, suffix: str = "") -> Judgement:
        """G's loss terms against one discriminator, named ``<term><suffix>``, with D's outputs and scores."""
        d_fake = D(self.view(fake, step), y_fake)
        pairs = self._pairs(real, fake, scorer)
        d_real = D(self.view(real, step), y_real) if self.wants_real_in_g or pairs else None
        out: LossTerms = {}
        if not self.replaces_g_adv:
            if scorer:
                out["adv"] = adv_weight * scorer.g(d_fake)
            elif pairs:
                out["adv"] = adv_weight * self.adv.g(fake=d_fake.logit, real=d_real.logit.detach())
            else:
                out["adv"] = adv_weight * self.adv.g(fake=d_fake.logit)
        ctx = Context(z=z, y_real=y_real, y_fake=y_fake, d_real=None, d_fake=d_fake)
        out.update(_named(self.terms, lambda t: t.g(ctx)))
        trick_ctx = TrickContext(step=step, loss=self.loss_name, d_real=d_real, d_fake=d_fake)
        for trick in self.tricks:
            out.update(trick.g_terms(trick_ctx))
        score = scorer.score if scorer else _logit
        return Judgement(_suffixed(out, suffix), d_real, d_fake, None if d_real is None else score(d_real), score(d_fake))

    def _pairs(self, real: Tensor, fake: Tensor, scorer: Scorer | None) -> bool:
        """Whether the pairing loss scores this call (a recipe's own Scorer replaces the config's loss): then each
        generated sample needs a real one."""
        if not self.adv.pairs or scorer is not None:
            return False
        if len(real) != len(fake):
            raise ConfigError(f"loss={self.loss_name!r} pairs each generated sample with a real one, and this recipe "
                              f"shows D {len(real)} real and {len(fake)} generated samples; use another loss "
                              "(e.g. nonsat or hinge) with this recipe")
        return True

    def group_terms(self, group: str, params: list[nn.Parameter]) -> LossTerms:
        """Terms on a parameter group's weights, once per update of that group (historical averaging)."""
        out: LossTerms = {}
        for trick in self.tricks:
            out.update(trick.group_terms(group, params))
        return out


def refuse(names: Sequence[str], accepted: frozenset[str] | None, *, field: str, registry: Registry,
           recipe: str, why: str = "") -> None:
    """A clear error for the first item of ``field`` the recipe does not accept (before any is built)."""
    if accepted is None:
        return
    for name in names:
        if name not in accepted:
            takes = ", ".join(sorted(accepted)) if accepted else "none"
            reason = f" ({why})" if why else ""
            raise ConfigError(f"{field}: recipe {recipe!r} does not accept {registry.kind} {name!r}{reason}; "
                              f"it accepts {field}: {takes}. Remove {name!r} from {field}=[...]")


def _logit(out: DOut) -> Tensor:
    """A discriminator's score under the config's loss: its logit."""
    return out.logit


def _suffixed(terms: LossTerms, suffix: str) -> LossTerms:
    return {f"{k}{suffix}": v for k, v in terms.items()} if suffix else terms


def _named(items: Mapping[str, object], fn: Callable) -> LossTerms:
    """{name: fn(item)} for the items whose contribution is not None (a lazy penalty may skip a step)."""
    out: LossTerms = {}
    for name, item in items.items():
        value = fn(item)
        if value is not None:
            out[name] = value
    return out


__all__ = ["Objective", "Accepts", "ACCEPTS_ALL", "Judgement", "Scorer", "Judge", "LossTerms", "refuse"]
