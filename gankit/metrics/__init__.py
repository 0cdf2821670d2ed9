"""Metrics. The 2D mode-coverage metric lives here; FID/KID/IS follow in the evaluation work."""
from gankit.metrics.modes import modes_2d

__all__ = ["modes_2d"]
