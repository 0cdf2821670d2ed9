"""3D-GAN (Wu et al. 2016): voxel shapes from a volumetric G, judged by a mirrored 3D-convolutional D.

The networks are ``model.arch=volume`` (gankit/nets/volume.py); the data are voxel grids (kind "voxel": shapes3d,
modelnet10, a voxel .npz). What the paper adds to the GAN's data flow is its adaptive training: "we only update the
discriminator if its accuracy in the last batch is not higher than 80%", so D, which learns far faster on voxels,
does not overpower G. D's accuracy is measured on the batch each G step trains on (real judged real, logit > 0;
fake judged fake, logit < 0: the sign is the decision of the logistic and hinge losses) and kept in a buffer, so
the gate is in every checkpoint and a resumed run skips the same D updates.
"""
from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor, nn

from gankit import distributed
from gankit.errors import ConfigError
from gankit.recipes.base import LossTerms, Phase, check_recipe_args, register_recipe
from gankit.recipes.gan import GAN
from gankit.types import Batch

SIGN_LOSSES = ("nonsat", "minimax", "hinge")  # losses whose D decides real / fake by the sign of its logit


@register_recipe("3dgan")
class VoxelGAN(GAN):
    """Wu et al. 2016 (3D-GAN): volumetric G and D on voxels; D trains only while its last-batch accuracy <= 80%."""

    paper = ("Wu et al. 2016, Learning a Probabilistic Latent Space of Object Shapes via 3D Generative-Adversarial "
             "Modeling")
    data_kinds = ("voxel",)

    def __init__(self, G: nn.Module, D: nn.Module, *, d_accuracy_limit: float | None = 0.8, **common) -> None:  # noqa: ANN003
        super().__init__(G, D, **common)
        self.d_accuracy_limit = d_accuracy_limit  # None: D trains every step
        # D's accuracy on the batch of the last G step; float64, so an accuracy of exactly the limit is not above it
        self.register_buffer("d_accuracy", torch.zeros((), dtype=torch.float64))

    @classmethod
    def from_config(cls, cfg, data) -> "VoxelGAN":  # noqa: ANN001
        check_recipe_args(cfg.recipe_args, ("d_accuracy_limit",), "3dgan")
        own = {key: cfg.recipe_args[key] for key in ("d_accuracy_limit",) if key in cfg.recipe_args}
        limit = own.get("d_accuracy_limit")
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not 0.5 <= limit <= 1:
                raise ConfigError(f"recipe_args.d_accuracy_limit={limit!r}: D's accuracy above which its update is "
                                  "skipped, in [0.5, 1] (the paper: 0.8), or null to update D every step")
        if own.get("d_accuracy_limit", 0.8) is not None and cfg.loss not in SIGN_LOSSES:
            raise ConfigError(f"recipe_args.d_accuracy_limit reads D's accuracy from the sign of its logit, which "
                              f"decides real / fake for the losses {', '.join(SIGN_LOSSES)}, not for loss={cfg.loss!r}; "
                              "use one of them, or recipe_args.d_accuracy_limit=null")
        objective = cls.objective_for(cfg)
        return cls(*cls.build(cfg, data, objective), **own, **cls.common_args(cfg, data, objective))

    def phases(self) -> list[Phase]:
        d_phase, g_phase = super().phases()
        return [replace(d_phase, repeats=self.d_updates), g_phase]

    def d_updates(self, step: int) -> int:
        """D's updates at generator step ``step``: none while its accuracy on the last batch is above the limit."""
        n = self.n_critic(step) if callable(self.n_critic) else self.n_critic
        if self.d_accuracy_limit is not None and float(self.d_accuracy) > self.d_accuracy_limit:
            return 0
        return n

    def g_step(self, batch: Batch, step: int) -> LossTerms:
        fake, latent = self._fake(batch)
        judged = self.objective.g_loss(self.D, real=batch.x, fake=fake, step=step, **self.sides(batch, latent))
        self.measure_d(batch, judged.fake_score, step)
        return judged.terms

    @torch.no_grad()
    def measure_d(self, batch: Batch, fake_score: Tensor, step: int) -> None:
        """D's classification accuracy on this batch (real and fake alike), averaged over ranks, into the buffer."""
        real_score = self.D(self.objective.view(batch.x, step), batch.y).logit
        accuracy = ((real_score > 0).double().mean() + (fake_score.detach() < 0).double().mean()) / 2
        self.d_accuracy.copy_(distributed.all_reduce_mean(accuracy.reshape(1))[0])
        gated = self.d_accuracy_limit is not None and bool(self.d_accuracy > self.d_accuracy_limit)
        self.record(d_accuracy=self.d_accuracy.clone(), d_skips_next=float(gated))

    def show(self, latent, output: Tensor) -> tuple[Tensor, int | None]:  # noqa: ANN001  (Latent)
        """Voxels are shown as shaded views (gankit/voxelviz.py), one per sample."""
        from gankit.voxelviz import render_voxels

        return render_voxels(output), None
