"""Bojanowski et al. 2018 (GLO, Generative Latent Optimization): a generator without a discriminator.

Each training image x_i has a code z_i of its own, a row of a learnt table (``codes``, (N, Z)). G and the
codes are optimised together to reconstruct the images under the Laplacian-pyramid L1 loss
(gankit/losses/pyramid.py), min over G, z_1..z_N of sum_i Lap1(G(z_i), x_i), and after every step each
code is projected back onto the unit sphere (the paper's constraint on the latent space). The batch says
which rows it holds (``Batch.index``), so each image finds its code.

- Initial codes (``recipe_args.init``): "pca", the paper's better choice, the whitened principal components
  of the images (computed once from the training data, ``use_data``) projected on the sphere; or "random":
  Gaussian draws on the sphere.
- Sampling: a full-covariance Gaussian fitted to the learnt codes (the paper's sampling), recomputed from
  the table whenever samples are drawn, so it is always the current codes' and checkpoints hold it.
- Encoding a new image: GLO has no encoder; the paper infers a code by optimisation for a fixed G. ``encode``
  starts each image at the learnt code (of at most ENCODE_CANDIDATES) whose image is nearest under Lap1,
  then takes ``encode_steps`` Adam steps on the code under Lap1, projected on the sphere after each. Cost:
  ENCODE_CANDIDATES generations plus encode_steps forward and backward passes of G per batch (on the 8x8
  digits with the preset's G, 0.25 s of one CPU core for a sample grid's 32 images, 0.8 s for the 297 test
  images, at the default 100 steps), so sample grids show reconstructions by inferred codes too.
- Optimiser: the run's (optim.*) on G and the codes together, one parameter group "G" (a phase trains one
  group), so optim.groups cannot give the codes a learning rate of their own.
- G trains on the batch's codes alone: the tricks, penalties and terms that act through a discriminator do
  not apply, and ``loss=`` (the adversarial loss) is not read.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from gankit import distributed as noise
from gankit.errors import ConfigError
from gankit.losses.pyramid import lap1_features, lap1_loss
from gankit.nets import NetSpec, build_nets
from gankit.objective import Accepts, Objective
from gankit.recipes.base import Latent, LossTerms, Phase, Recipe, check_recipe_args, register_recipe, run_generator
from gankit.recipes.encoding import Encoding
from gankit.types import Batch

INITS = ("pca", "random")
PCA_ROWS = 5_000  # the principal components of at most this many training images (an evenly spaced subset)
ENCODE_CANDIDATES = 256  # learnt codes (evenly spaced rows) whose images are the starting points of encode
ENCODE_SEED = 20180  # the fixed draws that are the starting points of a recipe without learnt codes
COVARIANCE_JITTER = 1e-6  # added to the codes' covariance: codes that span fewer than Z directions still factor


@dataclass(frozen=True)
class GLOArgs:
    """recipe_args of glo."""

    levels: int = 3  # levels of the Laplacian pyramid of the loss (image sides divisible by 2^(levels-1))
    init: str = "pca"  # the codes' start: "pca" (whitened principal components of the images) or "random"
    encode_steps: int = 100  # Adam steps of the inference by optimisation that encodes a new image
    encode_lr: float = 0.05  # their learning rate

    @classmethod
    def from_config(cls, args: dict) -> "GLOArgs":
        check_recipe_args(args, tuple(cls.__dataclass_fields__), "glo")
        out = cls(**args)
        for name in ("levels", "encode_steps"):
            value = getattr(out, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < (1 if name == "levels" else 0):
                raise ConfigError(f"recipe_args.{name}={value!r}: an int >= {1 if name == 'levels' else 0}")
        if out.init not in INITS:
            raise ConfigError(f"recipe_args.init={out.init!r}: one of {', '.join(INITS)}")
        if not isinstance(out.encode_lr, (int, float)) or out.encode_lr <= 0:
            raise ConfigError(f"recipe_args.encode_lr={out.encode_lr!r}: a learning rate > 0")
        return out


def to_sphere(z: Tensor) -> Tensor:
    """Each row of z (B, Z) divided by its Euclidean norm: the nearest point of the unit sphere."""
    return z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)


def whitened_pca(x: Tensor, dims: int) -> Tensor:
    """The first ``dims`` principal components of the rows of x (N, D), each scaled to unit variance (N, dims);
    at most the data's rank of them (fewer columns when dims exceeds it). Fitted on at most PCA_ROWS rows."""
    rows = x.flatten(1)  # (N, D)
    fit = rows[torch.linspace(0, len(rows) - 1, min(len(rows), PCA_ROWS), device=x.device).round().long()]
    fit = fit.double().cpu()
    mean = fit.mean(0)
    variance, directions = torch.linalg.eigh(torch.cov(fit.T))  # ascending; the D x D covariance: cheaper than an
    variance, directions = variance.flip(0), directions.flip(1)  # SVD of the rows when N >> D (MNIST: 10,000 x 784)
    keep = min(dims, int((variance > variance[0] * 1e-10).sum()))
    whiten = directions[:, :keep] / variance[:keep].sqrt()  # (D, keep)
    return (rows - mean.to(rows)) @ whiten.to(rows)  # (N, keep), on x's device


@register_recipe("glo")
class GLO(Encoding, Recipe):
    """G(z_i) reconstructs training image x_i from its learnt code z_i on the unit sphere; no discriminator."""

    paper = "Bojanowski et al. 2018, Optimizing the Latent Space of Generative Networks (GLO)"
    accepts = Accepts(tricks=frozenset(), penalties=frozenset(), terms=frozenset(),
                      why="GLO has no discriminator: G learns by reconstructing each training image from its code")

    def __init__(self, G: nn.Module, *, z_dim: int, size: int, args: GLOArgs = GLOArgs(),
                 objective: Objective | None = None) -> None:
        super().__init__()
        self.G, self.z_dim, self.args = G, z_dim, args
        self.codes = nn.Embedding(size, z_dim)  # row i: the code of training image i (N(0, 1) draws ...)
        self.project_codes()  # ... on the sphere: the "random" init
        self.use_objective(objective or Objective())

    @classmethod
    def from_config(cls, cfg, data) -> "GLO":  # noqa: ANN001
        args = GLOArgs.from_config(dict(cfg.recipe_args))
        if data.kind != "image":
            raise ConfigError(f"recipe 'glo' reconstructs images under a Laplacian-pyramid loss; data set "
                              f"{data.name!r} holds {data.kind}: use image data (digits, mnist, an image folder)")
        if cfg.conditional or cfg.model.label_input is not None:
            raise ConfigError("recipe 'glo' is unconditional (each image's code stands for it, labels and all): "
                              "set conditional=false and model.label_input=null")
        factor = 2 ** (args.levels - 1)
        if any(side % factor for side in data.sample_shape[1:]):
            raise ConfigError(f"recipe_args.levels={args.levels}: a pyramid of {args.levels} levels halves the image "
                              f"{args.levels - 1} times, and {data.sample_shape[1]}x{data.sample_shape[2]} images do "
                              f"not divide by {factor}; use fewer levels or data.image_size divisible by {factor}")
        objective = cls.objective_for(cfg)
        G, _ = build_nets(NetSpec(sample_shape=data.sample_shape, z_dim=cfg.model.z_dim), cfg.model)
        # a recipe built without its training data (data.size unknown) has no codes: it samples from the codes'
        # initial spread and encodes by optimisation alone
        return cls(G, z_dim=cfg.model.z_dim, size=data.size or 0, args=args, objective=objective)

    def use_data(self, data) -> None:  # noqa: ANN001  (gankit.data.Dataset)
        """Check the table has a code per training image; with init "pca", start the codes at the images'
        whitened principal components (the dimensions beyond the data's rank keep their random start)."""
        if len(data) != self.codes.num_embeddings:
            raise ConfigError(f"recipe 'glo' was built with {self.codes.num_embeddings} codes but data set "
                              f"{data.name!r} has {len(data)} training images; build it with DataInfo.size="
                              f"{len(data)} (gankit.train does)")
        if self.args.init == "pca":
            with torch.no_grad():
                pca = whitened_pca(data.x, self.z_dim).to(self.codes.weight.device)
                self.codes.weight[:, :pca.shape[1]] = pca
            self.project_codes()

    # --- networks and training ----------------------------------------------------------------------
    def networks(self) -> dict[str, nn.Module]:
        return {"G": self.G, "codes": self.codes}

    def groups(self) -> dict[str, list[str]]:
        return {"G": ["G", "codes"]}  # one optimiser: G and the codes descend the same loss together

    def discriminators(self) -> list[nn.Module]:
        return []

    def phases(self) -> list[Phase]:
        return [Phase("G", self.g_step, trains="G", after=self.project_codes)]

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        if batch.index is None:
            raise ValueError("recipe 'glo' looks up each image's code by its row in the training data: the batch "
                             "needs Batch.index (InMemoryLoader fills it)")
        reconstruction = self.G(self.codes(batch.index))  # (B, C, H, W)
        return {"lap1": lap1_loss(output=reconstruction, target=batch.x, levels=self.args.levels).mean()}

    @torch.no_grad()
    def project_codes(self) -> None:
        """After each step: every code back onto the unit sphere. Through ``parameters()``: under torchrun the
        hook runs inside the training phase, where ``self.codes`` is the table's DDP wrapper."""
        for table in self.codes.parameters():  # the one (N, Z) weight
            table.copy_(to_sphere(table))

    # --- sampling -----------------------------------------------------------------------------------
    def export_form(self):  # noqa: ANN201
        from gankit.recipes.export_form import NotExportable

        raise NotExportable("its samples' codes come from a Gaussian fitted to the learnt table of per-image codes, "
                            "which lives outside G (an exported G alone would not say what to feed it)")

    def code_gaussian(self) -> tuple[Tensor, Tensor]:
        """Mean (Z,) and Cholesky factor (Z, Z) of the full-covariance Gaussian fitted to the learnt codes, in
        float64; without codes, the spread they start from (N(0, I / Z): a random point of the sphere, nearly)."""
        codes = self.codes.weight.detach().double()
        if len(codes) < 2:
            eye = torch.eye(self.z_dim, dtype=torch.float64, device=codes.device)
            return torch.zeros(self.z_dim, dtype=torch.float64, device=codes.device), eye / self.z_dim**0.5
        covariance = torch.cov(codes.T) + COVARIANCE_JITTER * torch.eye(self.z_dim, dtype=torch.float64,
                                                                        device=codes.device)
        return codes.mean(0), torch.linalg.cholesky(covariance)

    def sample_latent(self, n: int, *, labels: Tensor | None = None, generator: torch.Generator | None = None) -> Latent:
        device = self.codes.weight.device
        mean, chol = self.code_gaussian()
        eps = noise.randn(n, self.z_dim, device=device, generator=generator)  # (n, Z)
        return Latent((mean + eps.double() @ chol.T).to(eps.dtype))

    # --- encoding: inference by optimisation ------------------------------------------------------
    def encode(self, x: Tensor) -> Latent:
        """The code whose image under the sampling generator is nearest x under Lap1: from the best learnt
        code, ``encode_steps`` Adam steps on each image's code, projected on the sphere after each (the paper's
        inference for a fixed G). Each image's code is optimised alone, so the result does not depend on the
        batch it comes in."""
        G = self.sampler()
        z = self._starting_codes(G, x).requires_grad_(True)
        optimizer = torch.optim.Adam([z], lr=self.args.encode_lr)
        with torch.enable_grad():
            for _ in range(self.args.encode_steps):
                loss = lap1_loss(output=G(z), target=x, levels=self.args.levels).sum()  # a sum: codes apart
                (z.grad,) = torch.autograd.grad(loss, [z])  # G's own gradients stay untouched
                optimizer.step()
                with torch.no_grad():
                    z.copy_(to_sphere(z))
        return Latent(z.detach())

    @torch.no_grad()
    def _starting_codes(self, G: nn.Module, x: Tensor) -> Tensor:
        """For each image of x (B, ...), of ENCODE_CANDIDATES codes the one whose image is nearest under Lap1
        (B, Z): evenly spaced learnt codes, or fixed draws of ``sample_latent`` for a recipe without codes."""
        table = self.codes.weight.detach()
        if len(table):
            candidates = table[torch.linspace(0, len(table) - 1, min(len(table), ENCODE_CANDIDATES),
                                              device=table.device).round().long()]
        else:
            generator = torch.Generator(device=table.device).manual_seed(ENCODE_SEED)
            candidates = to_sphere(self.sample_latent(ENCODE_CANDIDATES, generator=generator).z)
        images = run_generator(G, Latent(candidates)).to(x.dtype)
        levels = self.args.levels
        distance = torch.cdist(lap1_features(x, levels), lap1_features(images, levels), p=1)  # (B, K)
        return candidates[distance.argmin(1)].clone()


__all__ = ["GLO", "GLOArgs", "to_sphere", "whitened_pca"]
