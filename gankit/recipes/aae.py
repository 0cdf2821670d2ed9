"""Makhzani et al. 2016, Adversarial Autoencoders (AAE): an auto-encoder whose codes are made to follow a prior
by a GAN played on the codes.

An encoder E maps x to a code, the decoder (G, built as the generic GAN builds G) maps it back, and a
discriminator D on codes (an MLP) tells samples of the prior p(z) from codes E(x). Each training step runs
the paper's two phases (Sec. 2) on one batch:

- reconstruction (phase ``recon``): E and G minimise || G(E(x)) - x || (mean squared or absolute pixel error);
- regularisation: D learns to tell prior samples from codes (phase ``D``), then E, the generator of the code
  game, learns to fool D (phase ``G``). Both ask ``self.objective`` for D's and G's terms, so the run's
  ``loss=`` and ``penalties=`` apply to the code game.

E and G form one parameter group (``G``, one optimiser: the trainer's groups are disjoint); D is group ``D``.
Since the codes follow the prior, G decodes prior samples into data: ``sample_latent`` draws from the prior, so
``gankit sample`` decodes prior samples, and ``encode(x)`` returns E's code.

Priors (``recipe_args.prior``):

- ``gaussian``: N(0, I) (Sec. 2, Fig. 2A);
- ``mixture``: ``components`` elongated 2-D Gaussians around the origin, as drawn in Figs. 2B and 4, in the
  code's first two entries and N(0, I) in the rest (``MixturePrior``);
- ``labelled-mixture`` (Sec. 2.3, Figs. 3 and 4A): D also reads the label as a one-hot vector, and the prior
  sample shown with label k comes from component k, so E puts class k on component k; G then draws class k
  from component k (``sample(labels=k)``). Every training label is used (the paper's extra "unlabelled" class
  of Fig. 4B is not implemented);
- ``categorical`` (Sec. 5, Fig. 8, semi-supervised): E has a categorical head, the code is [softmax(y logits),
  z] and G decodes it; two code games, D_y on y against one-hot samples of a uniform categorical and D on z
  against N(0, I); a third phase (``classify``) minimises the cross-entropy of E's y head on a batch of the
  ``labels`` labelled training examples (``LabelledSet`` of gankit/recipes/semi_supervised.py: balanced over
  the classes, chosen by the run's seed; the trainer's batches are used without their labels).

D's networks: an MLP on codes (gankit/nets/mlp.py) of ``model.d_layers`` layers of ``model.d_width`` units with
``model.d_norm`` and ``model.d_spectral_norm``. E mirrors the decoder: ``model.g_width`` and ``model.g_norm``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit import distributed as noise
from gankit.errors import ConfigError, unknown
from gankit.losses.auxiliary import l1_loss, pixel_mse
from gankit.nets import NetSpec, build_nets
from gankit.nets.encoder import Encoder
from gankit.nets.mlp import MLPDiscriminator
from gankit.objective import Accepts, Objective
from gankit.recipes.base import Latent, LossTerms, Phase, check_recipe_args, register_recipe
from gankit.recipes.encoding import Encoding
from gankit.recipes.gan import GAN
from gankit.recipes.semi_supervised import LabelledSet
from gankit.types import Batch

RECONSTRUCTION = {"mse": pixel_mse, "l1": l1_loss}  # pixel losses of the reconstruction phase
PRIORS = ("gaussian", "mixture", "labelled-mixture", "categorical")


# --- priors ---------------------------------------------------------------------------------------
class Prior:
    """A distribution over codes of ``dim`` entries; ``classes`` > 0: it can be drawn for a chosen class."""

    dim: int
    classes: int = 0

    def sample(self, n: int, *, labels: Tensor | None = None, device: torch.device | str = "cpu",
               generator: torch.Generator | None = None) -> Tensor:
        """(n, dim) codes; ``labels`` (n,) picks the class (component) of each when ``classes`` > 0."""
        raise NotImplementedError

    def _labels(self, n: int, labels: Tensor | None, device: torch.device | str,
                generator: torch.Generator | None) -> Tensor:
        """The given labels on ``device``, else a uniform draw over the classes."""
        if labels is None:
            return noise.randint(self.classes, n, device=device, generator=generator)
        return labels.to(device)


class GaussianPrior(Prior):
    """N(0, I) over ``dim`` entries (Makhzani et al. 2016, Fig. 2A)."""

    def __init__(self, dim: int) -> None:
        self.dim = dim

    def sample(self, n: int, *, labels: Tensor | None = None, device: torch.device | str = "cpu",
               generator: torch.Generator | None = None) -> Tensor:
        return noise.randn(n, self.dim, device=device, generator=generator)


class MixturePrior(Prior):
    """Makhzani et al. 2016, Figs. 2B and 4: ``components`` elongated 2-D Gaussians placed around the origin.

    Component k is N((radius, 0), diag(radial_std^2, tangential_std^2)) rotated by 2 pi k / components; the
    constants are those of public reimplementations of the paper's sampler, which draw its figure. Codes of more
    than 2 entries hold the mixture in their first two and N(0, I) in the rest (room for the style of a class).
    """

    def __init__(self, dim: int, components: int = 10, *, radius: float = 1.4, radial_std: float = 0.5,
                 tangential_std: float = 0.05) -> None:
        if dim < 2:
            raise ConfigError(f"model.z_dim={dim}: the mixture prior's components are 2-D; use a code of 2 or more")
        self.dim, self.classes = dim, components
        self.radius, self.radial_std, self.tangential_std = radius, radial_std, tangential_std

    def sample(self, n: int, *, labels: Tensor | None = None, device: torch.device | str = "cpu",
               generator: torch.Generator | None = None) -> Tensor:
        k = self._labels(n, labels, device, generator)
        eps = noise.randn(n, self.dim, device=device, generator=generator)  # (n, dim)
        along, across = self.radius + self.radial_std * eps[:, 0], self.tangential_std * eps[:, 1]
        angle = (2 * math.pi / self.classes) * k.to(eps.dtype)  # (n,)
        plane = torch.stack([angle.cos() * along - angle.sin() * across,  # (n, 2): rotated to component k
                             angle.sin() * along + angle.cos() * across], 1)
        return torch.cat([plane, eps[:, 2:]], 1)


class CategoricalPrior(Prior):
    """Makhzani et al. 2016, Sec. 5: [one-hot y, z], y ~ Cat(classes) uniform, z ~ N(0, I) (dim = classes + z_dim)."""

    def __init__(self, classes: int, z_dim: int) -> None:
        self.classes, self.z_dim, self.dim = classes, z_dim, classes + z_dim

    def sample(self, n: int, *, labels: Tensor | None = None, device: torch.device | str = "cpu",
               generator: torch.Generator | None = None) -> Tensor:
        y = F.one_hot(self._labels(n, labels, device, generator), self.classes).float()  # (n, K)
        return torch.cat([y, noise.randn(n, self.z_dim, device=device, generator=generator)], 1)


# --- the recipe's arguments -----------------------------------------------------------------------
@dataclass(frozen=True)
class AAEArgs:
    """recipe_args of aae."""

    prior: str = "gaussian"  # gaussian | mixture | labelled-mixture | categorical (semi-supervised)
    recon: str = "mse"  # the reconstruction phase's pixel loss: mse | l1
    components: int = 10  # the mixture priors' Gaussians (labelled-mixture: the data's classes, which must agree)
    labels: int = 100  # categorical: labelled training examples (balanced over the classes) for the classify phase

    @classmethod
    def from_config(cls, args: dict, data) -> "AAEArgs":  # noqa: ANN001  (DataInfo)
        check_recipe_args(args, tuple(cls.__dataclass_fields__), "aae")
        if "labels" in args and args.get("prior") != "categorical":
            raise ConfigError("recipe_args.labels counts the labelled examples of the semi-supervised AAE: set "
                              "recipe_args.prior=categorical, or drop labels (labelled-mixture uses every label)")
        out = cls(**args)
        if out.prior not in PRIORS:
            raise ConfigError(f"recipe_args.prior: {unknown('prior', out.prior, PRIORS)}")
        if out.recon not in RECONSTRUCTION:
            raise ConfigError(f"recipe_args.recon: {unknown('reconstruction loss', out.recon, RECONSTRUCTION)}")
        if not isinstance(out.components, int) or out.components < 2:
            raise ConfigError(f"recipe_args.components={out.components!r}: a mixture needs an int >= 2")
        if out.prior in ("labelled-mixture", "categorical") and data.num_classes < 2:
            raise ConfigError(f"recipe_args.prior={out.prior}: the codes are tied to class labels, and data set "
                              f"{data.name!r} has none; use a labelled data set (digits, mnist, an image folder with "
                              "class sub-folders) or prior=gaussian / mixture")
        if out.prior == "labelled-mixture" and "components" in args and out.components != data.num_classes:
            raise ConfigError(f"recipe_args.components={out.components}: with prior=labelled-mixture each of the "
                              f"{data.num_classes} classes of {data.name!r} has its component; drop components")
        return out

    def make_prior(self, z_dim: int, num_classes: int) -> Prior:
        if self.prior == "gaussian":
            return GaussianPrior(z_dim)
        if self.prior == "categorical":
            return CategoricalPrior(num_classes, z_dim)
        return MixturePrior(z_dim, num_classes if self.prior == "labelled-mixture" else self.components)


def code_discriminator(model, objective: Objective, dim: int, classes: int = 0) -> nn.Module:  # noqa: ANN001
    """D on codes (B, dim): the mlp discriminator with the model.d_* settings (``model``: the ModelConfig), wrapped
    by the run's tricks; ``classes`` > 0: it also reads a one-hot label concatenated to the code (Makhzani et al.
    2016, Fig. 3)."""
    spec = NetSpec(sample_shape=(dim,), z_dim=dim, d_classes=classes)
    D = MLPDiscriminator(spec, replace(model, arch="mlp", label_input="concat" if classes else None))
    return objective.wrap_d(D, spec)


@register_recipe("aae")
class AAE(Encoding, GAN):
    """Auto-encoder (E, G) trained on pixels; a GAN on codes makes E(x) follow the prior G samples from."""

    paper = "Makhzani et al. 2016, Adversarial Autoencoders"
    standard_normal_z = False  # no truncation trick: G decodes draws of the chosen prior (a mixture, a categorical)
    accepts = Accepts(
        tricks=frozenset({"d_steps", "feature_matching", "historical_averaging", "instance_noise", "label_smoothing",
                          "ttur"}),
        terms=frozenset(),
        why="D judges codes, not images: image augmentations and G-side batch norm do not apply, batch-level layers "
            "(packing, minibatch features) would mix codes of different labels, and the decoder has no class input",
    )

    def __init__(self, G: nn.Module, E: Encoder, D: nn.Module, *, prior: Prior,
                 D_y: nn.Module | None = None, labelled: LabelledSet | None = None, recon: str = "mse",
                 seed: int = 0, labelled_d: bool = False, **common) -> None:  # noqa: ANN003
        super().__init__(G, D, z_dim=prior.dim, **common)
        self.E, self.D_y, self.labelled = E, D_y, labelled
        self.prior, self.recon_loss, self.seed = prior, RECONSTRUCTION[recon], seed
        self.labelled_d = labelled_d  # D reads the class label with the code (labelled-mixture)
        self.head = prior.classes if D_y is not None else 0  # E's categorical head: the code's first entries
        # the code columns each discriminator judges: all of it, or z for D and the categorical part for D_y
        self.parts = {"D": slice(self.head, None), **({"D_y": slice(0, self.head)} if D_y is not None else {})}

    @classmethod
    def from_config(cls, cfg, data) -> "AAE":  # noqa: ANN001
        args = AAEArgs.from_config(dict(cfg.recipe_args), data)
        m = cfg.model
        if cfg.conditional or m.label_input is not None:
            raise ConfigError("recipe 'aae' decodes codes alone and its code discriminator reads labels only with "
                              "recipe_args.prior=labelled-mixture: set conditional=false and model.label_input=null")
        objective = cls.objective_for(cfg)
        prior = args.make_prior(m.z_dim, data.num_classes)
        G, _ = build_nets(NetSpec(sample_shape=data.sample_shape, z_dim=prior.dim), m)
        E = Encoder(data.sample_shape, prior.dim, width=m.g_width, norm=m.g_norm, field="model.g_norm")
        labelled_d = args.prior == "labelled-mixture"
        D = code_discriminator(m, objective, m.z_dim, data.num_classes if labelled_d else 0)
        common = {"n_critic": cfg.n_critic, "objective": objective, "prior": prior, "recon": args.recon,
                  "seed": cfg.seed, "labelled_d": labelled_d}
        if args.prior == "categorical":
            common |= {"D_y": code_discriminator(m, objective, data.num_classes),
                       "labelled": LabelledSet(args.labels, data.sample_shape, data.num_classes)}
        return cls(G, E, D, **common)

    # --- networks and phases --------------------------------------------------------------------
    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, "E": self.E, **{name: getattr(self, name) for name in self.parts}}

    def groups(self) -> dict[str, list[str]]:
        return {"G": ["G", "E"], "D": list(self.parts)}

    def discriminators(self) -> list[nn.Module]:
        return [getattr(self, name) for name in self.parts]

    def phases(self) -> list[Phase]:
        """The reconstruction phase, then the regularisation phase (D, then E), "executed on each mini-batch" (Sec. 2):
        D's n_critic updates reuse the batch with fresh prior draws; the semi-supervised AAE adds its
        classification phase on a labelled batch (Sec. 5)."""
        phases = [Phase("recon", self.recon_step, trains="G"),
                  Phase("D", self.d_step, trains="D", repeats=self.n_critic, new_batch=False, after=self.constrain),
                  Phase("G", self.g_step, trains="G", new_batch=False)]
        if self.labelled is not None:
            phases.append(Phase("classify", self.classify_step, trains="G", new_batch=False))
        return phases

    def use_data(self, data) -> None:  # noqa: ANN001  (gankit.data.Dataset)
        if self.labelled is not None:
            self.labelled.choose(data, self.seed)

    # --- codes ------------------------------------------------------------------------------------
    def code(self, x: Tensor) -> Tensor:
        """E(x) in the prior's space (B, dim): the code, or [softmax(y logits), z] with a categorical head."""
        h = self.E(x).mean
        if not self.head:
            return h
        return torch.cat([h[:, :self.head].softmax(1), h[:, self.head:]], 1)

    def classify(self, x: Tensor) -> Tensor:
        """The categorical head's class logits (B, K) (semi-supervised AAE)."""
        assert self.head, "only the categorical prior gives E a class head"
        return self.E(x).mean[:, :self.head]

    def _prior_side(self, batch: Batch) -> tuple[Tensor, Tensor | None]:
        """Prior samples for a batch, and the labels D reads with codes (labelled-mixture: the batch's, and each
        prior sample comes from its label's component)."""
        labels = batch.y if self.labelled_d else None
        return self.prior.sample(len(batch), labels=labels, device=batch.x.device), labels

    # --- the phases ---------------------------------------------------------------------------------
    def recon_step(self, batch: Batch, step: int) -> LossTerms:
        return {"recon": self.recon_loss(output=self.G(self.code(batch.x)), target=batch.x)}

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        with torch.no_grad():
            code = self.code(batch.x)
        prior, labels = self._prior_side(batch)
        terms: LossTerms = {}
        for name, part in self.parts.items():
            judged = self.objective.d_loss(getattr(self, name), real=prior[:, part], fake=code[:, part], step=step,
                                           y_real=labels, y_fake=labels, suffix=name.removeprefix("D"))
            terms |= judged.terms
            if name == "D":
                self.record_d(d_real=judged.real_score, d_fake=judged.fake_score)
        return terms

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        code = self.code(batch.x)
        prior, labels = self._prior_side(batch)
        terms: LossTerms = {}
        for name, part in self.parts.items():
            terms |= self.objective.g_loss(getattr(self, name), real=prior[:, part], fake=code[:, part], step=step,
                                           y_real=labels, y_fake=labels, suffix=name.removeprefix("D")).terms
        return terms

    def classify_step(self, batch: Batch, step: int) -> LossTerms:
        assert self.labelled is not None
        x, y = self.labelled.batch(len(batch))
        return {"supervised": F.cross_entropy(self.classify(x), y)}

    # --- sampling and encoding ------------------------------------------------------------------------
    def label_classes(self) -> int:
        """Classes ``sample_latent`` can be asked for: the labelled priors' (a mixture's components are not classes)."""
        return self.prior.classes if self.labelled_d or self.head else 0

    def sample_latent(self, n: int, *, labels: Tensor | None = None,
                      generator: torch.Generator | None = None) -> Latent:
        """Draws of the prior (class ``labels`` for the labelled priors): what G decodes into samples."""
        device = next(self.G.parameters()).device
        return Latent(self.prior.sample(n, labels=labels, device=device, generator=generator))

    def encode(self, x: Tensor) -> Latent:
        return Latent(self.code(x))


__all__ = ["AAE", "AAEArgs", "Prior", "GaussianPrior", "MixturePrior", "CategoricalPrior", "code_discriminator"]
