"""Zhang et al. 2017 (StackGAN): text-to-image synthesis in two stages, on image + caption pairs.

Data flow (gankit/nets/stackgan.py for the networks):
- A caption (token ids) -> the text encoder -> embedding e. Conditioning augmentation draws c ~ N(mu(e), sigma(e))
  and G's loss adds kl_weight x KL(N(mu, sigma) || N(0, I)) (the paper's lambda = 1; its released configs use 2).
- Stage I (the first ``stage_one_share`` of train.steps): G1([z, c1]) makes a low-resolution image (the data's
  size / ``upscale``); D1 is matching-aware: real image + its caption is real, real image + a mismatching caption
  (the next image's in the batch) and G1's image + its caption are fake, the two fakes weighted 1/2 each.
- Stage II (the rest): stage I and the text encoder are frozen (the paper trains stage II on a fixed stage-I
  G); G2(G1's image, c2) makes the full-resolution image, judged by D2 at that size the same way.
- The text encoder: the paper's is Reed et al. 2016's char-CNN-RNN, pre-trained on a matching objective. Offline
  there are no such weights, so a word-embedding GRU is trained jointly with D1 (it is in D's parameter group): the
  matching-aware loss is the matching objective, so the embedding learns what tells captions apart; G reads it
  detached, so G cannot move the embedding to fool D.

Each batch's captions are looked up by ``Batch.index`` in a buffer holding the training captions (checkpoints keep
them, so a loaded run can draw captions of a class for ``gankit sample --class`` and the evaluation's class_acc).
Sample grids show stage I | stage II pairs.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit import distributed as noise
from gankit.errors import ConfigError
from gankit.nets.common import resolution_plan
from gankit.nets.stackgan import MatchingDiscriminator, StackGenerator, stage_one_config
from gankit.objective import Accepts
from gankit.recipes.base import (Latent, LossTerms, Phase, Recipe, check_recipe_args, eval_mode, register_recipe,
                                 single_process)
from gankit.recipes.srgan import downsample
from gankit.types import Batch


@dataclass(frozen=True)
class StackArgs:
    """recipe_args of stackgan."""

    upscale: int = 2  # stage II size / stage I size (the paper: 4, 64 -> 256 px)
    stage_one_share: float = 0.5  # share of train.steps training stage I; stage II trains the rest on it, frozen
    kl_weight: float = 1.0  # lambda of the conditioning augmentation's KL term (the paper: 1)
    condition_dim: int = 128  # N_c, the dimension of c (the paper: 128)
    residual_blocks: int = 2  # stage II's residual blocks (the paper: 4)

    def __post_init__(self) -> None:
        if not isinstance(self.upscale, int) or self.upscale < 2 or self.upscale & (self.upscale - 1):
            raise ConfigError(f"recipe_args.upscale={self.upscale!r}: stage II must enlarge stage I by a power of two "
                              ">= 2 (the paper: 4)")
        if not 0 < self.stage_one_share < 1:
            raise ConfigError(f"recipe_args.stage_one_share={self.stage_one_share!r}: the share of train.steps "
                              "that trains stage I must be in (0, 1); stage II trains the rest")
        if self.kl_weight < 0 or self.condition_dim < 1 or self.residual_blocks < 0:
            raise ConfigError("recipe_args: kl_weight must be >= 0, condition_dim >= 1 and residual_blocks >= 0; got "
                              f"{self.kl_weight}, {self.condition_dim}, {self.residual_blocks}")


@register_recipe("stackgan")
class StackGAN(Recipe):
    """Zhang et al. 2017: text encoder + conditioning augmentation, stage-I G/D at low resolution, stage-II G/D."""

    paper = "Zhang et al. 2017, StackGAN: Text to Photo-realistic Image Synthesis with Stacked Generative Adversarial Networks"
    accepts = Accepts(tricks=frozenset({"instance_noise", "diffaugment", "label_smoothing"}), penalties=frozenset(),
                      terms=frozenset(), why="its discriminators score (image, caption) pairs, with the mismatching "
                                             "captions as a third set of fakes")
    data_kinds = ("image",)
    needs_captions = True  # image data with captions (Dataset.captions); the conformance test's digits have none
    G: StackGenerator
    D: nn.ModuleList  # [stage-I D, stage-II D]

    def __init__(self, G: StackGenerator, D: nn.ModuleList, *, upscale: int, stage_one_steps: int, kl_weight: float,
                 num_classes: int, size: int) -> None:
        super().__init__()
        self.G, self.D, self.upscale = G, D, upscale
        self.stage_one_steps, self.kl_weight, self.num_classes = stage_one_steps, kl_weight, num_classes
        self.register_buffer("captions", torch.zeros(size, 1, dtype=torch.long))  # (N, T): use_data fills it
        self.register_buffer("caption_labels", torch.zeros(size, dtype=torch.long))  # (N,) the class each names

    @classmethod
    def from_config(cls, cfg, data) -> "StackGAN":  # noqa: ANN001  (Config, DataInfo)
        single_process("stackgan", "its text encoder lives in G but trains in D's phase and not at all in stage II, "
                                   "which DDP's gradient synchronisation does not allow")
        check_recipe_args(cfg.recipe_args, tuple(StackArgs.__dataclass_fields__), "stackgan")
        args = StackArgs(**cfg.recipe_args)
        if data.kind != "image" or not data.tokens:
            raise ConfigError(f"recipe stackgan trains on image + caption pairs; data set {data.name!r} has no captions. "
                              "Use mnist-captions, fashion-mnist-captions, cub, or a folder with captions.txt "
                              "('<image><TAB><caption>' a line)")
        channels, size = data.sample_shape[0], data.sample_shape[-1]
        low = size // args.upscale
        if size % args.upscale:
            raise ConfigError(f"stackgan: data.image_size={size} must be a multiple of recipe_args.upscale={args.upscale}")
        resolution_plan(low, "stackgan stage I")  # a clear error for a stage-I size the DCGAN G cannot make
        tokens = data.tokens
        G = StackGenerator(vocab=len(tokens), eos=tokens.index("<eos>"), pad=tokens.index("<pad>"),
                           shape=(channels, size, size), low=low, z_dim=cfg.model.z_dim, text_dim=cfg.model.embed_dim,
                           condition_dim=args.condition_dim, blocks=args.residual_blocks, cfg=stage_one_config(cfg.model))
        objective = cls.objective_for(cfg)
        D = nn.ModuleList([MatchingDiscriminator((channels, s, s), cfg.model.embed_dim, width=cfg.model.d_width,
                                                 norm=cfg.model.d_norm, spectral=cfg.model.d_spectral_norm)
                           for s in (low, size)])
        recipe = cls(G, D, upscale=args.upscale, stage_one_steps=max(1, int(args.stage_one_share * cfg.train.steps)),
                     kl_weight=args.kl_weight, num_classes=data.num_classes, size=data.size or 0)
        recipe.use_objective(objective)
        return recipe

    # --- networks and data ------------------------------------------------------------------------------------
    def networks(self) -> dict[str, nn.Module]:
        parts = {f"G.{name}": getattr(self.G, name) for name in ("text", "ca1", "stage1", "ca2", "stage2")}
        return {**parts, "D.0": self.D[0], "D.1": self.D[1]}

    def groups(self) -> dict[str, list[str]]:
        """The text encoder trains with the discriminators (the matching objective), never with G."""
        return {"G": ["G.ca1", "G.stage1", "G.ca2", "G.stage2"], "D": ["G.text", "D.0", "D.1"]}

    def discriminators(self) -> list[nn.Module]:
        return list(self.D)

    def use_data(self, data) -> None:  # noqa: ANN001  (gankit.data.Dataset)
        """Keep the training captions (and the class each names) for batches, sample grids and class sampling."""
        if data.captions is None or len(data.captions) != len(self.captions):
            raise ConfigError(f"recipe stackgan was built for {len(self.captions)} captioned images; data set "
                              f"{data.name!r} has {'no captions' if data.captions is None else len(data.captions)}")
        self.captions = data.captions.to(self.captions.device).clone()
        labels = data.y if data.y is not None else torch.zeros(len(data), dtype=torch.long)
        self.caption_labels = labels.to(self.captions.device).clone()

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:  # noqa: ANN001,ANN002,ANN003
        """The caption buffer takes the saved captions' length (it is built (N, 1) before the data is seen)."""
        saved = state_dict.get(prefix + "captions")
        if saved is not None:
            self.captions = torch.zeros_like(saved, device=self.captions.device)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    # --- stages -------------------------------------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        return [Phase("D", self.d_step, trains="D", after=self.constrain),
                Phase("G", self.g_step, trains="G", new_batch=False)]

    def in_stage_two(self, step: int) -> bool:
        return step > self.stage_one_steps

    def stage(self, step: int) -> str | None:
        """Stage I at the low resolution, then stage II: the trainer keeps a sample grid at the end of each."""
        return "stage II" if self.in_stage_two(step) else "stage I"

    def representative_step(self) -> int:
        """A stage-II step (stage I forward, stage II forward and backward): the dearer kind sizes train.minutes."""
        return self.stage_one_steps + 1

    def export_form(self):  # noqa: ANN201
        from gankit.recipes.export_form import PYTHON_BATCH_SIZE, NotExportable

        raise NotExportable(f"{PYTHON_BATCH_SIZE} (its caption encoder)")

    def label_classes(self) -> int:
        return self.num_classes

    # --- training ----------------------------------------------------------------------------------------------
    def _batch(self, batch: Batch) -> tuple[Tensor, Tensor]:
        """(the batch's captions (B, T), G's noise (B, Z + 2 Nc))."""
        if batch.index is None:
            raise ConfigError("stackgan looks up each image's caption by Batch.index; this batch has no index")
        return self.captions[batch.index], self.sample_latent(len(batch)).z

    def _stage_one_frozen(self, z: Tensor, captions: Tensor) -> tuple[Tensor, Tensor]:
        """(text embedding, stage-I images) from the frozen encoder and stage I (stage II's steps)."""
        with torch.no_grad(), eval_mode(self.G.text), eval_mode(self.G.ca1), eval_mode(self.G.stage1):
            text = self.G.text(captions)
            return text, self.G.stage_one(z, text)[0]

    def _judge(self, D: nn.Module, *, real: Tensor, fake: Tensor, text: Tensor, step: int) -> LossTerms:
        """Matching-aware D: (real, text) real; (fake, text) and (real, mismatching text) fake, 1/2 each."""
        mismatching = text.roll(1, dims=0)  # each image with the next image's caption
        judged = self.objective.d_loss(D, real=real, fake=torch.cat([fake, real]), step=step, y_real=text,
                                       y_fake=torch.cat([text, mismatching]))
        n = len(real)
        self.record_d(d_real=judged.real_score, d_fake=judged.fake_score[:n])
        self.record(d_mismatch=judged.fake_score[n:].mean())
        return judged.terms

    def d_step(self, batch: Batch, step: int) -> LossTerms:
        captions, z = self._batch(batch)
        if self.in_stage_two(step):
            text, low = self._stage_one_frozen(z, captions)
            with torch.no_grad():
                fake = self.G.stage_two(z, text, low)[0]
            return self._judge(self.D[1], real=batch.x, fake=fake, text=text, step=step)
        text = self.G.text(captions)  # (B, E): D's loss trains the encoder
        with torch.no_grad():
            fake = self.G.stage_one(z, text)[0]
        return self._judge(self.D[0], real=self.low_resolution(batch.x), fake=fake, text=text, step=step)

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        captions, z = self._batch(batch)
        if self.in_stage_two(step):
            text, low = self._stage_one_frozen(z, captions)
            fake, posterior = self.G.stage_two(z, text, low)
            D, real = self.D[1], batch.x
        else:
            text = self.G.text(captions).detach()
            fake, posterior = self.G.stage_one(z, text)
            D, real = self.D[0], self.low_resolution(batch.x)
        terms = self.objective.g_loss(D, real=real, fake=fake, step=step, y_real=text, y_fake=text).terms
        return {**terms, "kl": self.kl_weight * posterior.kl_to_standard_normal().mean()}

    def low_resolution(self, images: Tensor) -> Tensor:
        """Real images at stage I's size (bicubic, antialiased)."""
        return downsample(images, self.upscale)

    # --- sampling ----------------------------------------------------------------------------------------------
    def sample_latent(self, n: int, *, labels: Tensor | None = None, generator: torch.Generator | None = None) -> Latent:
        """Noise and n training captions: random ones, or ones naming class ``labels`` (B,)."""
        device = self.captions.device
        z = noise.randn(n, self.G.noise_dim, device=device, generator=generator)
        if labels is None:
            rows = noise.randint(len(self.captions), n, device=device, generator=generator)
        else:
            rows = self._rows_of(labels.to(device), noise.rand(n, device=device, generator=generator))
        return Latent(z, self.captions[rows])

    def _rows_of(self, labels: Tensor, uniform: Tensor) -> Tensor:
        """(n,) rows of the caption buffer, each a uniform pick among the captions of its label."""
        order = torch.argsort(self.caption_labels, stable=True)
        counts = torch.bincount(self.caption_labels, minlength=max(self.num_classes, 1))
        if bool((counts[labels] == 0).any()):
            raise ConfigError(f"stackgan has no training caption of class(es) "
                              f"{sorted(set(labels[counts[labels] == 0].tolist()))}")
        starts = counts.cumsum(0) - counts
        return order[starts[labels] + (uniform * counts[labels]).long().clamp(max=counts[labels] - 1)]

    def text_latent(self, captions: Tensor, n: int, generator: torch.Generator | None = None) -> Latent:
        """n samples for each caption (K, T) of token ids: (K n) latents, caption-major."""
        device = self.captions.device
        z = noise.randn(len(captions) * n, self.G.noise_dim, device=device, generator=generator)
        return Latent(z, captions.to(device).repeat_interleave(n, dim=0))

    @torch.no_grad()
    def stage_images(self, latent: Latent, batch_size: int = 256) -> tuple[Tensor, Tensor]:
        """(stage-I images (n, C, S1, S1), stage-II images (n, C, S2, S2)) of the sampler for ``latent``."""
        with eval_mode(self.sampler()) as net:
            parts = [net.stages(part.z, part.y) for part in (latent[i:i + batch_size]
                                                            for i in range(0, len(latent), batch_size))]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    def show(self, latent: Latent, output: Tensor, per_row: int = 4) -> tuple[Tensor, int | None]:
        """Stage I (upsampled, nearest) | stage II pairs, ``per_row`` pairs a row."""
        low, high = self.stage_images(latent)
        low = F.interpolate(low, size=high.shape[-2:], mode="nearest")
        return torch.stack([low, high], dim=1).flatten(0, 1), 2 * per_row  # (2n, C, S2, S2)


__all__ = ["StackGAN", "StackArgs"]
