"""Losses as pure functions; penalties as small objects."""
from gankit.losses.adversarial import LOSSES, AdversarialLoss, get_loss
from gankit.losses.penalties import PENALTIES, GradientPenalty, Penalty, R1, R2, WeightClip

__all__ = ["LOSSES", "AdversarialLoss", "get_loss", "PENALTIES", "Penalty", "GradientPenalty", "R1", "R2", "WeightClip"]
