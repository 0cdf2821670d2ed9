"""Fill-in: how well a recipe that fills blanks (MaskGAN) restores the masked tokens of the reference split."""
from __future__ import annotations

from typing import Any

from gankit.errors import ConfigError
from gankit.metrics.base import Inputs, Metric, Need, Setting, register_metric
from gankit.metrics.text_common import check_text


@register_metric("fill_in")
class FillIn(Metric):
    """fill_nll: G's NLL per blank token of the reference sentences; fill_acc: share of blanks its fill restores."""

    scores = {"fill_nll": False, "fill_acc": True}
    needs = frozenset({Need.REAL_SAMPLES})

    def check(self, setting: Setting) -> None:
        check_text(setting, "fill_in")
        if not callable(getattr(setting.recipe, "fill_scores", None)):
            raise ConfigError(f"metric 'fill_in' scores a generator that fills blanks in sentences (maskgan); recipe "
                              f"{type(setting.recipe).__name__} writes whole sentences: use nll_test instead")

    def score(self, inputs: Inputs) -> dict[str, float]:
        return inputs.setting.recipe.fill_scores(inputs.real_samples, seed=inputs.setting.cfg.seed)

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        return {"fill_in": f"each of the {len(inputs.real_samples)} reference sentences masked as in training (the "
                           "recipe's mask_rate, blanks drawn from eval.seed); fill_nll teacher-forced nats per blank "
                           "token, fill_acc the share of blank tokens a sampled fill (temperature 1) gets right"}
