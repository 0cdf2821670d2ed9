"""Several generators against one discriminator: MAD-GAN and MGAN.

G is a mixture of k generators; a latent's ``y`` says which one makes each sample (chosen
uniformly when sampling; every generator gets an equal share of each training batch).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit import distributed as noise
from gankit.errors import ConfigError
from gankit.objective import Accepts, Scorer
from gankit.recipes.base import Latent, LossTerms, check_recipe_args, register_recipe
from gankit.recipes.gan import GAN
from gankit.tricks import TRICKS
from gankit.losses.terms import Context, Term
from gankit.types import Batch, DOut


class MixtureGenerator(nn.Module):
    """k generators; sample i comes from generator y_i."""

    def __init__(self, generators: list[nn.Module]) -> None:
        super().__init__()
        self.generators = nn.ModuleList(generators)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        if y is None:
            raise ValueError("a mixture generator needs y: the generator of each sample")
        out: Tensor | None = None
        for i, G in enumerate(self.generators):
            rows = (y == i).nonzero().squeeze(1)
            if rows.numel() == 0:
                continue
            part = G(z[rows])  # (n_i, ...)
            if out is None:
                out = part.new_empty(z.shape[0], *part.shape[1:])
            out[rows] = part
        assert out is not None, "no generator index in 0..k-1"
        return out


MIXTURE_ACCEPTS = Accepts(tricks=frozenset(TRICKS.names()) - {"pack"}, terms=frozenset(),
                          why="its generators are told apart by index, not class, and D's head reads each sample")


def mixture_from_config(cls, cfg, data, *, aux_dim: int, allowed: tuple[str, ...], recipe: str,  # noqa: ANN001
                        extra_terms: Callable[[dict], dict] | None = None) -> dict:
    """The networks and arguments shared by the mixture recipes: k generators and one D."""
    args = dict(cfg.recipe_args)
    check_recipe_args(args, ("generators",) + allowed, recipe)
    k = int(args.pop("generators", 4))
    if k < 2:
        raise ConfigError(f"recipe_args.generators={k}: a mixture needs at least 2 generators")
    objective = cls.objective_for(cfg, extra_terms(args) if extra_terms else None)
    if cfg.conditional or cfg.model.label_input:
        raise ConfigError(f"recipe {recipe!r} is unconditional: its generators are told apart by index, not class "
                          "(set conditional=false, model.label_input=null)")
    if cfg.train.batch_size < 2 * k:
        raise ConfigError(f"train.batch_size={cfg.train.batch_size}: each of the {k} generators needs at least 2 "
                          f"samples per batch (batch norm); use a batch size >= {2 * k}")
    spec = cls.spec(cfg, data, objective, aux_dim=aux_dim(k))
    generators, D = [], None
    for _ in range(k):
        G, D_i = cls.build(cfg, data, objective, spec)
        generators.append(G)
        D = D if D is not None else D_i
    return {"G": MixtureGenerator(generators), "D": D, "generators": k, **cls.common_args(cfg, data, objective), **args}


def mixture_latent(recipe: GAN, n: int, labels: Tensor | None, generator: torch.Generator | None) -> Latent:
    """z ~ N(0, I) and a generator index per sample: ``labels`` if given, else uniform."""
    device = next(recipe.G.parameters()).device
    z = noise.randn(n, recipe.z_dim, device=device, generator=generator)
    if labels is None:
        labels = noise.randint(recipe.n_generators, n, device=device, generator=generator)
    return Latent(z, labels.to(device))


class EveryGenerator(nn.Module):
    """A mixture generator as one graph: every generator on every z, each sample's output picked by y. The same
    numbers in eval mode, without the data-dependent routing that tracing would fix to the example's."""

    def __init__(self, mixture: MixtureGenerator) -> None:
        super().__init__()
        self.generators = mixture.generators

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        outs = torch.stack([G(z) for G in self.generators], dim=1)  # (B, k, ...)
        index = y.view(-1, 1, *[1] * (outs.dim() - 2)).expand(-1, 1, *outs.shape[2:])
        return outs.gather(1, index).squeeze(1)  # (B, ...)


def mixture_form(recipe: GAN):  # noqa: ANN201  (gankit.recipes.export_form.ExportForm)
    """Exported: noise ``z`` and the generator ``y`` that draws each sample."""
    from gankit.recipes.export_form import LatentSampler, noise_form

    form = noise_form(recipe, "generator index", classes=recipe.n_generators)
    sampler = recipe.sampler()
    if isinstance(sampler, MixtureGenerator):  # else a trick's wrapper: exported as it is
        form.module = LatentSampler(EveryGenerator(sampler))
    return form


def balanced_fake(recipe: GAN, batch: Batch) -> tuple[Tensor, Latent]:
    """A training batch of fakes with every generator making an equal share (index = row mod k)."""
    n = len(batch)
    index = torch.arange(n, device=batch.x.device) % recipe.n_generators
    latent = mixture_latent(recipe, n, index, None)
    return recipe.G(latent.z, latent.y), latent


@register_recipe("madgan")
class MADGAN(GAN):
    """Ghosh et al. 2018, MAD-GAN: k generators; D has k+1 classes (one per generator, one for real data).

    D: cross-entropy with real -> class k, a sample of generator i -> class i. G_i: -log D_real(G_i(z))
    (the non-saturating form: each generator wants its samples called real). D's k+1 logits are its
    auxiliary head's k (one per generator) and its real/fake logit (real); penalties see the log-odds of
    "real" as the critic.
    """

    paper = "Ghosh et al. 2018, Multi-Agent Diverse Generative Adversarial Networks"
    accepts = Accepts(tricks=frozenset(TRICKS.names()) - {"label_smoothing", "pack"}, terms=frozenset(),
                      why="D's k+1-way classification of each sample is its own objective, with no real/fake target")

    def __init__(self, G: nn.Module, D: nn.Module, *, generators: int, **gan_kwargs) -> None:
        self.n_generators = generators
        super().__init__(G, D, **gan_kwargs)

    @classmethod
    def from_config(cls, cfg, data) -> "MADGAN":  # noqa: ANN001
        args = mixture_from_config(cls, cfg, data, aux_dim=lambda k: k, allowed=(), recipe="madgan")
        return cls(args.pop("G"), args.pop("D"), **args)

    def sample_latent(self, n: int, *, labels: Tensor | None = None, generator: torch.Generator | None = None) -> Latent:
        return mixture_latent(self, n, labels, generator)

    def export_form(self):  # noqa: ANN201
        return mixture_form(self)

    def _fake(self, batch: Batch) -> tuple[Tensor, Latent]:
        return balanced_fake(self, batch)

    @staticmethod
    def class_logits(out: DOut) -> Tensor:
        """D's k+1 logits (B, k+1): generator 0..k-1 from its auxiliary head, real (class k) from its logit."""
        return torch.cat([out.aux, out.logit[:, None]], dim=1)

    def real_score(self, logits: Tensor) -> Tensor:
        """log p(real) - log p(some generator): the critic value penalties and statistics read. (B,)"""
        return logits[:, -1] - torch.logsumexp(logits[:, :-1], dim=1)

    def scorer(self, batch: Batch, latent: Latent) -> Scorer:
        """D: real -> class k, a sample of generator i -> class i; G: its samples called real."""
        real, classes = self._real_class(batch), self.class_logits
        return Scorer(d=lambda r, f: F.cross_entropy(classes(r), real) + F.cross_entropy(classes(f), latent.y),
                      g=lambda f: F.cross_entropy(classes(f), real), score=lambda out: self.real_score(classes(out)))

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        fake, latent = self._fake(batch)
        judged = self.objective.d_loss(self.D, real=batch.x, fake=fake, step=step, scorer=self.scorer(batch, latent),
                                       z=latent.z)
        self.record_d(d_real=judged.real_score, d_fake=judged.fake_score)
        return judged.terms

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        fake, latent = self._fake(batch)
        return self.objective.g_loss(self.D, real=batch.x, fake=fake, step=step, scorer=self.scorer(batch, latent),
                                     z=latent.z).terms

    def _real_class(self, batch: Batch) -> Tensor:
        return torch.full((len(batch),), self.n_generators, device=batch.x.device)


@register_recipe("mgan")
class MGAN(GAN):
    """Hoang et al. 2018, MGAN: k generators, D, and a classifier on D's trunk that names the generator.

    The classifier (D's auxiliary head) learns which generator made each fake in D's phase; every generator
    pays beta * its cross-entropy in G's phase, so the generators spread over different modes.
    """

    paper = "Hoang et al. 2018, MGAN: Training Generative Adversarial Nets with Multiple Generators"
    accepts = MIXTURE_ACCEPTS

    def __init__(self, G: nn.Module, D: nn.Module, *, generators: int, beta: float = 0.01, **gan_kwargs) -> None:
        self.n_generators, self.beta = generators, beta
        super().__init__(G, D, **gan_kwargs)

    @classmethod
    def from_config(cls, cfg, data) -> "MGAN":  # noqa: ANN001
        args = mixture_from_config(cls, cfg, data, aux_dim=lambda k: k, allowed=("beta",), recipe="mgan",
                                   extra_terms=lambda args: {"which_generator": WhichGenerator(args.get("beta", 0.01))})
        return cls(args.pop("G"), args.pop("D"), **args)

    def sample_latent(self, n: int, *, labels: Tensor | None = None, generator: torch.Generator | None = None) -> Latent:
        return mixture_latent(self, n, labels, generator)

    def export_form(self):  # noqa: ANN201
        return mixture_form(self)

    def _fake(self, batch: Batch) -> tuple[Tensor, Latent]:
        return balanced_fake(self, batch)


class WhichGenerator(Term):
    """MGAN's classifier term: cross-entropy of D's auxiliary head against the generator index of each fake."""

    def __init__(self, weight: float) -> None:
        self.weight = weight

    def d(self, ctx: Context) -> Tensor | None:
        assert ctx.d_fake.aux is not None and ctx.y_fake is not None
        return F.cross_entropy(ctx.d_fake.aux, ctx.y_fake)  # the classifier itself is trained at full weight

    def g(self, ctx: Context) -> Tensor | None:
        assert ctx.d_fake.aux is not None and ctx.y_fake is not None
        return self.weight * F.cross_entropy(ctx.d_fake.aux, ctx.y_fake)


__all__ = ["MixtureGenerator", "MADGAN", "MGAN", "WhichGenerator"]
