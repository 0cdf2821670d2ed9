"""How evenly generated samples spread over the classes a classifier sees in them.

A G stuck on a few digit classes can still look diverse pixel-wise; the histogram of the
domain evaluator's predicted classes shows it. ``class_entropy`` is the histogram's entropy
over log K (1: every class equally often, 0: one class only); ``class_min_share`` is the
rarest class's share of the samples (1/K when balanced, 0 when a class is missing).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from gankit.errors import ConfigError
from gankit.metrics.base import Inputs, Metric, Need, Setting, register_metric
from gankit.metrics.conditional import Labels, as_labels
from gankit.metrics.stats import MetricInputError


def class_balance(predicted: Labels, num_classes: int | None = None) -> dict[str, float]:
    """{'class_entropy', 'class_min_share'} of (N,) predicted labels or (N, K) logits over K classes."""
    labels, k_logits = as_labels(predicted, "predicted")
    if len(labels) == 0:
        raise MetricInputError("predicted is empty: no samples to score")
    k = max(num_classes or 0, k_logits, int(labels.max()) + 1)
    if k < 2:
        raise MetricInputError(f"class balance needs at least 2 classes, got {k}")
    share = np.bincount(labels, minlength=k) / len(labels)
    nonzero = share[share > 0]
    entropy = float(-(nonzero * np.log(nonzero)).sum() / np.log(k))
    return {"class_entropy": entropy, "class_min_share": float(share.min())}


@register_metric("classes")
class ClassBalance(Metric):
    """Spread of the domain evaluator's predicted classes: normalised entropy, rarest share."""

    scores = {"class_entropy": True, "class_min_share": True}
    needs = frozenset({Need.SAMPLES, Need.LABELLER})

    def check(self, setting: Setting) -> None:
        if setting.data.kind not in ("image", "voxel"):  # the kinds whose domain evaluator labels samples
            raise ConfigError(f"classes counts the classes a classifier sees in generated images or voxel shapes; "
                              f"{setting.data.name!r} holds {setting.data.kind} data (points: use modes)")

    def score(self, inputs: Inputs) -> dict[str, float]:
        name = self.labeller(inputs.setting)
        return class_balance(inputs.classes(name), inputs.labellers[name].num_classes)

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        # K: a balanced G gives every class the share 1/K
        return {"classes": inputs.labellers[self.labeller(inputs.setting)].num_classes}
