"""Semi-supervised accuracy: how well a semi-supervised recipe's classifier labels held-out images.

For the semi-supervised recipes (gankit/recipes/semi_supervised.py: ssgan's D class head, triplegan's C),
``ssl_acc`` is the share of eval.n images of eval.split (all of MNIST's test split with eval.n=10000) that
the classifier puts in their class. Its baseline, the same classifier trained on the labelled examples alone,
is ``gankit.bench.supervised_only``.
"""
from __future__ import annotations

from typing import Any

from gankit.errors import ConfigError
from gankit.metrics.base import Inputs, Metric, Setting, register_metric

SSL_SEED = 0  # the fixed random subset of eval.split when it holds more than eval.n images


@register_metric("ssl_acc")
class SSLAccuracy(Metric):
    """Test accuracy of a semi-supervised recipe's classifier (ssgan: D's class head; triplegan: C)."""

    scores = {"ssl_acc": True}

    def check(self, setting: Setting) -> None:
        from gankit.recipes.semi_supervised import SemiSupervised  # here: gankit.metrics loads without the recipes

        if not isinstance(setting.recipe, SemiSupervised):
            raise ConfigError(f"ssl_acc scores a semi-supervised recipe's classifier, and recipe "
                              f"{setting.recipe.__class__.__name__} has none: use it with ssgan or triplegan runs")

    def score(self, inputs: Inputs) -> dict[str, float]:
        from gankit.recipes.semi_supervised import classifier_accuracy

        setting = inputs.setting
        return {"ssl_acc": classifier_accuracy(setting.recipe, setting.data_cfg, split=setting.cfg.split,
                                         limit=setting.cfg.n, seed=SSL_SEED)}

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        return {"ssl_acc": f"the classifier's argmax on up to eval.n images of eval.split (seed {SSL_SEED}); "
                           f"{len(inputs.setting.recipe.labelled.y)} labelled training examples"}


__all__ = ["SSLAccuracy"]
