"""Self-BLEU-2..5: each generated sentence against all the others (Zhu et al. 2018): high means little diversity."""
from __future__ import annotations

from typing import Any

from gankit.metrics.base import Inputs, Metric, Need, Setting, register_metric
from gankit.metrics.ngram import TEXYGEN_ORDERS, self_bleu
from gankit.metrics.text_common import check_text, words


@register_metric("self_bleu")
class SelfBLEU(Metric):
    """Self-BLEU-2..5: BLEU of each sample against the other samples (lower: more diverse; Texygen)."""

    scores = {f"self_bleu{n}": False for n in TEXYGEN_ORDERS}
    needs = frozenset({Need.SAMPLES})

    def check(self, setting: Setting) -> None:
        check_text(setting, "self_bleu")

    def score(self, inputs: Inputs) -> dict[str, float]:
        return {f"self_bleu{n}": value for n, value in self_bleu(words(inputs.setting, inputs.samples)).items()}

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        return {"self_bleu": f"sentence BLEU (smoothing method1) of each of the {inputs.n_fake} samples against the "
                             "other samples, averaged (Texygen)"}
