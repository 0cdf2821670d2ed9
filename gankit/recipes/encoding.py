"""The encoder family's base: recipes that map a sample back to G's inputs (BiGAN/ALI, AAE, VAE, VAE-GAN, IcGAN, GLO).

A recipe of this family implements ``encode(x) -> Latent``: the inputs with which its generator
reproduces x (the posterior mean for a stochastic encoder; IcGAN's (z, y)). From it the family gets,
with no code of its own:

- ``reconstruct(x)``: G(encode(x)), from the sampling generator (the EMA one when enabled);
- sample grids with reconstructions: ``fixed_latent`` keeps real images beside the fixed noise, and
  ``show`` draws the samples, then rows of input | reconstruction pairs (training snapshots, the
  report, ``gankit sample``);
- ``walk_between(a, b, steps)``: a latent walk between the codes of real images
  (``gankit interpolate RUN --from a.png --to b.png``).

Run.encode / Run.reconstruct and ``gankit encode`` check that a run's recipe is one of these.
``Editing`` recipes (IcGAN, BiCoGAN) also encode the class of a conditional G, and so edit real samples.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

from gankit.recipes.base import Latent, eval_mode


class Encoding:
    """Mixin for Recipe subclasses with an encoder: ``class BiGAN(Encoding, GAN)``."""

    RECONSTRUCTIONS = 32  # at most this many real images are shown with their reconstructions in sample grids

    def encode(self, x: Tensor) -> Latent:
        """G's inputs that reproduce the samples ``x`` (B, *sample_shape); called in eval mode without gradients."""
        raise NotImplementedError

    @torch.no_grad()
    def encode_all(self, x: Tensor, batch_size: int = 256) -> Latent:
        """``encode`` over ``x`` in chunks and in eval mode (the recipe's mode is restored)."""
        with eval_mode(self):
            parts = [self.encode(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        ys = [p.y for p in parts]
        return Latent(torch.cat([p.z for p in parts]), None if ys[0] is None else torch.cat(ys))

    def reconstruct(self, x: Tensor, batch_size: int = 256) -> Tensor:
        """G(encode(x)) by the sampling generator (the EMA one when enabled), in eval mode."""
        return self.generate(self.encode_all(x, batch_size), batch_size)

    def fixed_latent(self, n: int, *, labels: Tensor | None = None, data=None,  # noqa: ANN001  (Dataset)
                     generator: torch.Generator | None = None) -> Latent:
        """The fixed noise of the sample grid, and (image data) up to RECONSTRUCTIONS real images in ``target``,
        drawn from ``data`` in an order from ``generator``, whose reconstructions the grid shows below."""
        latent = self.sample_latent(n, labels=labels, generator=generator)
        if data is None or data.kind != "image":
            return latent
        device = generator.device if generator is not None else torch.device("cpu")
        order = torch.randperm(len(data.x), generator=generator, device=device)[:min(n, self.RECONSTRUCTIONS)]
        latent.target = data.x[order.to(data.x.device)].to(latent.z.device)
        return latent

    def show(self, latent: Latent, output: Tensor) -> tuple[Tensor, int | None]:
        """The samples, then rows of input | reconstruction pairs (inputs in the odd columns)."""
        if latent.target is None:
            return output, None
        nrow = max(2, 2 * math.ceil(math.sqrt(len(output)) / 2))  # even: a pair never wraps
        real = latent.target
        pairs = torch.stack([real, self.reconstruct(real).to(real.device)], dim=1).flatten(0, 1)  # (2N, C, H, W)
        gap = (-len(output)) % nrow  # the reconstructions start on a fresh row
        filler = torch.full((gap, *output.shape[1:]), -1.0, device=output.device, dtype=output.dtype)
        return torch.cat([output, filler, pairs.to(output.device, output.dtype)]), nrow

    def walk_between(self, a: Tensor, b: Tensor, steps: int) -> Latent:
        """G's inputs for ``steps`` points on the straight line from encode(a) to encode(b), per pair of rows of
        a and b (N, *sample_shape): (N * steps) latents, row-major. Labels (IcGAN) switch half way."""
        start, end = self.encode_all(a), self.encode_all(b)
        t = torch.linspace(0, 1, steps, device=start.z.device)[None, :, None]  # (1, S, 1)
        z = (start.z[:, None] * (1 - t) + end.z[:, None] * t).flatten(0, 1)  # (N * S, Z)
        y = None
        if start.y is not None:
            y = torch.where(t.flatten() < 0.5, start.y[:, None], end.y[:, None]).flatten()
        return Latent(z, y)


class Editing(Encoding):
    """An encoder of the class as well as of z, for a class-conditional G (IcGAN, BiCoGAN): E's output holds z and
    then the class logits, ``encode`` gives (z, y), and ``edit`` changes the class of real samples (``Run.edit``,
    ``gankit edit``, the ``edit`` metric)."""

    def split_code(self, code: Tensor) -> tuple[Tensor, Tensor]:
        """E's output (B, Z + K) as (z (B, Z), class logits (B, K))."""
        return code[:, :self.z_dim], code[:, self.z_dim:]

    def encode(self, x: Tensor) -> Latent:
        z, logits = self.split_code(self.E(x).mean)
        return Latent(z, logits.argmax(1))

    @torch.no_grad()
    def edit(self, x: Tensor, y: Tensor, batch_size: int = 256) -> Tensor:
        """G(E_z(x), y): the samples x (B, *sample_shape) given class y (B,), by the sampling generator."""
        latent = self.encode_all(x, batch_size)
        return self.generate(Latent(latent.z, y.to(latent.z.device)), batch_size)


__all__ = ["Editing", "Encoding"]
