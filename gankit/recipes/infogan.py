"""Chen et al. 2016 (InfoGAN): interpretable latent codes by maximising mutual information.

G's input is [noise, one-hot categorical codes, continuous codes]. Q is an auxiliary
head on D's trunk that predicts the codes; G and Q both minimise the variational
bound L_I (cross-entropy for categorical codes, a unit-variance Gaussian NLL for
continuous ones). Q's head is trained in D's phase on detached fakes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit import distributed as noise
from gankit.errors import ConfigError
from gankit.nets import NetSpec
from gankit.objective import Accepts
from gankit.recipes.base import Latent, check_recipe_args, register_recipe
from gankit.recipes.gan import GAN
from gankit.tricks import TRICKS
from gankit.losses.terms import Context, Term


@dataclass
class CodeLayout:
    """Where the codes sit in G's input vector: [noise | cat_0 | cat_1 ... | cont_0 ...]."""

    noise_dim: int
    cat_dims: tuple[int, ...]
    n_cont: int

    @property
    def total(self) -> int:
        return self.noise_dim + sum(self.cat_dims) + self.n_cont

    def cat_slices(self) -> list[slice]:
        start, out = self.noise_dim, []
        for k in self.cat_dims:
            out.append(slice(start, start + k))
            start += k
        return out

    def cont_slice(self) -> slice:
        return slice(self.total - self.n_cont, self.total)

    def names(self) -> list[str]:
        return [f"cat{i}" for i in range(len(self.cat_dims))] + [f"cont{i}" for i in range(self.n_cont)]


@dataclass
class MutualInformation(Term):
    """L_I: Q recovers the codes of generated samples; minimised by both G and Q."""

    layout: CodeLayout
    weight: float = 1.0
    cont_weight: float = 0.1

    def loss(self, z: Tensor, q: Tensor | None) -> Tensor:
        assert q is not None, "InfoGAN needs D's auxiliary (Q) head"
        q_start = self.layout.noise_dim
        total = z.new_zeros(())
        for sl in self.layout.cat_slices():  # q's outputs line up with z's code positions, shifted by noise_dim
            target = z[:, sl].argmax(dim=1)
            total = total + F.cross_entropy(q[:, sl.start - q_start:sl.stop - q_start], target)
        if self.layout.n_cont:
            cs = self.layout.cont_slice()
            total = total + self.cont_weight * 0.5 * ((q[:, cs.start - q_start:] - z[:, cs]) ** 2).sum(1).mean()
        return self.weight * total

    def d(self, ctx: Context) -> Tensor | None:
        return self.loss(ctx.z, ctx.d_fake.aux)

    def g(self, ctx: Context) -> Tensor | None:
        return self.loss(ctx.z, ctx.d_fake.aux)


@register_recipe("infogan")
class InfoGAN(GAN):
    """Chen et al. 2016, InfoGAN: categorical + continuous codes, Q head sharing D's trunk."""

    paper = "Chen et al. 2016, InfoGAN: Interpretable Representation Learning by Information Maximizing GANs"
    standard_normal_z = False  # no truncation trick: G's input holds the categorical and uniform codes
    accepts = Accepts(tricks=frozenset(TRICKS.names()) - {"pack"}, terms=frozenset(),
                      why="its categorical codes take the place of class labels, and D's Q head reads each sample")

    def __init__(self, G: nn.Module, D: nn.Module, *, layout: CodeLayout, **gan_kwargs) -> None:
        self.layout = layout  # before the Objective wraps G: virtual batch norm samples a reference batch
        super().__init__(G, D, z_dim=layout.total, **gan_kwargs)

    @classmethod
    def from_config(cls, cfg, data) -> "InfoGAN":  # noqa: ANN001
        args = dict(cfg.recipe_args)
        check_recipe_args(args, ("cat_dims", "n_cont", "info_weight", "cont_weight"), "infogan")
        cat_dims = tuple(args.pop("cat_dims", (10,)))
        n_cont = int(args.pop("n_cont", 2))
        if any(k < 2 for k in cat_dims) or n_cont < 0 or (not cat_dims and n_cont == 0):
            raise ConfigError(f"recipe_args: InfoGAN needs cat_dims >= 2 each and n_cont >= 0, and at least one code; "
                              f"got cat_dims={list(cat_dims)}, n_cont={n_cont}")
        layout = CodeLayout(cfg.model.z_dim, cat_dims, n_cont)
        spec = NetSpec(sample_shape=data.sample_shape, z_dim=layout.total, aux_dim=sum(cat_dims) + n_cont)
        info = MutualInformation(layout, args.pop("info_weight", 1.0), args.pop("cont_weight", 0.1))
        objective = cls.objective_for(cfg, extra_terms={"info": info})
        common = cls.common_args(cfg, data, objective)
        del common["z_dim"]  # G's input is the noise plus the codes
        return cls(*cls.build(cfg, data, objective, spec), layout=layout, **common, **args)

    def code_names(self) -> list[str]:
        return self.layout.names()

    def export_form(self):  # noqa: ANN201
        """Exported G takes the whole vector z = [noise | one-hot cat codes | continuous codes]; the file's
        metadata ``z_layout`` says where each code sits (``sample_latent`` draws them)."""
        from gankit.recipes.export_form import noise_form

        form = noise_form(self)
        parts = [f"noise {0}:{self.layout.noise_dim} N(0, 1)"]
        parts += [f"{name} {sl.start}:{sl.stop} one-hot of {sl.stop - sl.start}"
                  for name, sl in zip(self.code_names(), self.layout.cat_slices())]
        start = self.layout.cont_slice().start
        parts += [f"cont{i} {start + i} U(-1, 1)" for i in range(self.layout.n_cont)]
        form.notes["z_layout"] = " | ".join(parts)
        return form

    def label_classes(self) -> int:
        """``labels`` set the first categorical code."""
        return self.layout.cat_dims[0] if self.layout.cat_dims else 0

    def sample_latent(self, n: int, *, labels: Tensor | None = None, generator: torch.Generator | None = None) -> Latent:
        """Noise ~ N(0, I), categorical codes uniform, continuous codes ~ U(-1, 1); ``labels`` fixes cat0."""
        device = next(self.G.parameters()).device
        parts = [noise.randn(n, self.layout.noise_dim, device=device, generator=generator)]
        for i, k in enumerate(self.layout.cat_dims):
            idx = noise.randint(k, n, device=device, generator=generator)
            if i == 0 and labels is not None:
                idx = labels.to(device)
            parts.append(F.one_hot(idx, k).float())
        parts.append(noise.rand(n, self.layout.n_cont, device=device, generator=generator) * 2 - 1)
        return Latent(torch.cat(parts, dim=1))

    def walk(self, rows: int, steps: int, *, code: str | None = None, generator: torch.Generator | None = None) -> Latent:
        """Vary one code along each row (cat: its categories; cont: -2..2), everything else fixed per row."""
        if code is None:
            return super().walk(rows, steps, generator=generator)
        names = self.code_names()
        if code not in names:
            raise ConfigError(f"unknown code {code!r}; this InfoGAN has {', '.join(names)}")
        z = self.sample_latent(rows, generator=generator).z.repeat_interleave(steps, dim=0)  # (rows*steps, Z)
        col = torch.arange(z.shape[0], device=z.device) % steps  # column of each row-major sample
        if code.startswith("cat"):
            sl = self.layout.cat_slices()[int(code[3:])]
            k = sl.stop - sl.start
            z[:, sl] = F.one_hot(col % k, k).float()
        else:
            values = torch.linspace(-2, 2, steps, device=z.device)
            z[:, self.layout.cont_slice().start + int(code[4:])] = values[col]
        return Latent(z)


__all__ = ["InfoGAN", "CodeLayout", "MutualInformation"]
