"""Auxiliary loss terms that ride along the adversarial loss in both phases.

A term sees one ``Context`` (the real batch, the fake labels, D's outputs) and
returns its weighted contribution to D's and G's loss, or None.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from gankit.registry import Registry
from gankit.types import DOut

TERMS: Registry[type["Term"]] = Registry("term")


@dataclass
class Context:
    """What a term may look at during one phase."""

    z: Tensor  # (B, Z) G's input (InfoGAN reads its codes from here)
    y_real: Tensor | None  # (B,) labels of the real batch
    y_fake: Tensor | None  # (B,) labels G was asked for
    d_real: DOut | None  # D on real data (D phase only)
    d_fake: DOut  # D on generated data


class Term:
    """Base: no D outputs needed, contributes nothing."""

    weight: float = 1.0

    def aux_dim(self, num_classes: int) -> int:
        """How many outputs of D's auxiliary head this term reads."""
        return 0

    def needs_labels(self) -> bool:
        return False

    def d(self, ctx: Context) -> Tensor | None:
        return None

    def g(self, ctx: Context) -> Tensor | None:
        return None


@TERMS.register("classification")
@dataclass
class Classification(Term):
    """Odena et al. 2017 (AC-GAN): D's auxiliary head classifies real and fake; G wants its class seen."""

    weight: float = 1.0

    def aux_dim(self, num_classes: int) -> int:
        return num_classes

    def needs_labels(self) -> bool:
        return True

    def d(self, ctx: Context) -> Tensor | None:
        assert ctx.d_real is not None and ctx.d_real.aux is not None and ctx.d_fake.aux is not None
        real = F.cross_entropy(ctx.d_real.aux, ctx.y_real)
        fake = F.cross_entropy(ctx.d_fake.aux, ctx.y_fake)
        return self.weight * (real + fake)

    def g(self, ctx: Context) -> Tensor | None:
        assert ctx.d_fake.aux is not None
        return self.weight * F.cross_entropy(ctx.d_fake.aux, ctx.y_fake)
