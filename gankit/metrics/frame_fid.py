"""``frame_fid``: per-frame domain FID of Moving MNIST clips, on each frame's digit crop (gankit/metrics/video.py)
through the MNIST domain evaluator's features (lower is better)."""
from __future__ import annotations

from typing import Any

from gankit.metrics.base import Inputs, register_metric
from gankit.metrics.fid import fid
from gankit.metrics.video import LABELLER, DigitMetric, check_clips, crop_classes


@register_metric("frame_fid")
class FrameFID(DigitMetric):
    """Per-frame FID of the digit crops of generated vs real clips, in the MNIST evaluator's features."""

    scores = {"frame_fid": False}

    def score(self, inputs: Inputs) -> dict[str, float]:
        evaluator = inputs.labellers[LABELLER]
        real = check_clips(inputs.real_samples, "reference clips")[:inputs.n_real]
        fake = check_clips(inputs.samples, "generated clips")
        real_features, _ = crop_classes(evaluator, real, inputs.batch_size)
        fake_features, _ = crop_classes(evaluator, fake, inputs.batch_size)
        return {"frame_fid": fid(fake_features, real_features)}

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        return {"frame_fid": "FID over every frame's digit crop (a digit-size window at the centre of mass, brought "
                             "to 28 px) in the MNIST domain evaluator's features, generated vs reference clips"}
