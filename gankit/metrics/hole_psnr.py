"""PSNR inside the hole of an inpainting run (Pathak et al. 2016, Table 1)."""
from __future__ import annotations

from gankit.metrics.base import register_metric
from gankit.metrics.hole import HoleScore, hole_psnr


@register_metric("hole_psnr")
class HolePSNR(HoleScore):
    """PSNR (dB) of the filled hole against the original pixels (context-encoder)."""

    scores = {"hole_psnr": True}
    compare = staticmethod(hole_psnr)
