"""Stage I's FID in a two-stage text-to-image generator (StackGAN, Zhang et al. 2017).

``stage1_fid`` scores the stage-I images of the same latents the evaluation's ``fid`` scores at stage II, each
brought to the feature network's input size the same way (the domain evaluator resizes bilinearly), so the two
numbers say whether stage II improves on the image it refines (the paper's Table 3: stage I alone is worse).
"""
from __future__ import annotations

import numpy as np

from gankit.errors import ConfigError
from gankit.metrics.base import Inputs, Metric, Need, Setting, register_metric
from gankit.metrics.fid import fid_from_stats


@register_metric("stage1_fid")
class StageOneFID(Metric):
    """FID of a two-stage generator's stage-I images, upsampled (StackGAN; compare with fid, stage II)."""

    scores = {"stage1_fid": False}
    needs = frozenset({Need.MOMENTS, Need.PAIRS})

    def check(self, setting: Setting) -> None:
        if not callable(getattr(setting.recipe, "stage_images", None)):
            raise ConfigError("stage1_fid scores the first stage of a two-stage generator (stackgan); this recipe "
                              f"({type(setting.recipe).__name__}) has one stage: drop stage1_fid from eval.metrics")

    def score(self, inputs: Inputs) -> dict[str, float]:
        low, _ = inputs.setting.recipe.stage_images(inputs.latent)  # (n, C, S1, S1)
        rows, _ = inputs.extractor.extract(low.clamp(-1, 1), inputs.batch_size)  # (n, D)
        rows = rows.double().numpy()
        real = inputs.real.stats
        return {"stage1_fid": fid_from_stats(real.mean(), real.cov(), rows.mean(axis=0), np.cov(rows, rowvar=False))}


__all__ = ["StageOneFID"]
