"""``content_consistency``: whether a clip keeps its digit, as the MNIST evaluator reads each frame's digit crop
(Tulyakov et al. 2018 measure content consistency of a clip's frames the same way, with a face/action model).

consistency = the mean over clips of the share of frames whose class is the clip's most frequent class (1: every
frame shows the same digit); ``consistent_clips``: the share of clips whose frames all agree; each beside the same
for the reference clips (``_real``), which bounds what the evaluator's own errors allow."""
from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gankit.metrics.base import Inputs, register_metric
from gankit.metrics.video import LABELLER, DigitMetric, check_clips, crop_classes


def agreement(classes: Tensor) -> Tensor:
    """(N, T) classes per frame -> (N,) share of each clip's frames in its most frequent class."""
    mode = torch.mode(classes, dim=1).values  # (N,)
    return (classes == mode[:, None]).float().mean(dim=1)


@register_metric("content_consistency")
class ContentConsistency(DigitMetric):
    """Share of a clip's frames the MNIST evaluator gives the clip's majority digit (generated, and real beside it)."""

    scores = {"consistency": True}

    def score(self, inputs: Inputs) -> dict[str, float]:
        evaluator = inputs.labellers[LABELLER]
        out = {}
        for suffix, clips in (("", inputs.samples), ("_real", inputs.real_samples[:inputs.n_real])):
            _, classes = crop_classes(evaluator, check_clips(clips, "clips"), inputs.batch_size)
            share = agreement(classes)
            out[f"consistency{suffix}"] = float(share.mean())
            out[f"consistent_clips{suffix}"] = float((share == 1).float().mean())
        return out

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        return {"consistency": "mean share of a clip's frames whose digit crop the MNIST evaluator gives the clip's "
                               "majority class; consistent_clips: share of clips with every frame agreeing; _real: "
                               "the reference clips"}
