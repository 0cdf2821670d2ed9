"""NLL_test: the generator's negative log-likelihood per token of the reference split (Texygen; Caccia et al. 2020)."""
from __future__ import annotations

from typing import Any

from gankit.metrics.base import Inputs, Metric, Need, Setting, register_metric
from gankit.metrics.text_common import check_text


@register_metric("nll_test")
class NLLTest(Metric):
    """G's mean negative log-likelihood per token (up to <eos>) of the reference split's sentences (lower: better fit)."""

    scores = {"nll_test": False}
    needs = frozenset({Need.REAL_SAMPLES})

    def check(self, setting: Setting) -> None:
        check_text(setting, "nll_test")

    def score(self, inputs: Inputs) -> dict[str, float]:
        return {"nll_test": inputs.setting.recipe.nll(inputs.real_samples)}

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        return {"nll_test": f"nats per token, teacher-forced, over all {len(inputs.real_samples)} sentences of the "
                            "reference split; tokens after <eos> are not counted"}
