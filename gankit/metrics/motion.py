"""``motion``: how much clips move, the mean absolute difference of consecutive frames (pixels in [0, 1]), against
the reference clips'. A static video scores motion 0; ``motion_gap`` = |motion - motion_real| (lower is better)."""
from __future__ import annotations

from typing import Any

from torch import Tensor

from gankit.metrics.base import Inputs, register_metric
from gankit.metrics.video import VideoMetric, check_clips


def frame_difference(clips: Tensor) -> float:
    """(N, T, C, H, W) clips in [-1, 1] -> mean |x(t+1) - x(t)| over clips, steps and pixels, in [0, 1] units."""
    clips = check_clips(clips, "clips")
    return float((clips[:, 1:] - clips[:, :-1]).abs().mean() / 2)


@register_metric("motion")
class Motion(VideoMetric):
    """Mean absolute frame difference of generated clips vs real ones (motion_gap; 0 motion = a static video)."""

    scores = {"motion_gap": False}

    def score(self, inputs: Inputs) -> dict[str, float]:
        fake = frame_difference(inputs.samples)
        real = frame_difference(inputs.real_samples[:inputs.n_real])
        return {"motion_gap": abs(fake - real), "motion": fake, "motion_real": real}

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        return {"motion": "mean |x(t+1) - x(t)| of pixels in [0, 1]; motion_gap = |motion - motion_real|"}
