"""Mean L1 error inside the hole of an inpainting run (Pathak et al. 2016, Table 1)."""
from __future__ import annotations

from gankit.metrics.base import register_metric
from gankit.metrics.hole import HoleScore, hole_l1


@register_metric("hole_l1")
class HoleL1(HoleScore):
    """Mean |fill - original| over the hole, in [0, 1] units (context-encoder)."""

    scores = {"hole_l1": False}
    compare = staticmethod(hole_l1)
