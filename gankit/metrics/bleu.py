"""BLEU-2..5 of generated sentences against the reference split (Papineni et al. 2002), the Texygen protocol."""
from __future__ import annotations

from typing import Any

from gankit.metrics.base import Inputs, Metric, Need, Setting, register_metric
from gankit.metrics.ngram import TEXYGEN_ORDERS, References, bleu
from gankit.metrics.text_common import check_text, words


@register_metric("bleu")
class BLEU(Metric):
    """BLEU-2..5 of each sample against every sentence of the reference split, averaged (quality; Texygen)."""

    scores = {f"bleu{n}": True for n in TEXYGEN_ORDERS}
    needs = frozenset({Need.SAMPLES, Need.REAL_SAMPLES})

    def __init__(self) -> None:
        self._references: tuple[int, References] | None = None  # built once per reference split

    def check(self, setting: Setting) -> None:
        check_text(setting, "bleu")

    def references(self, inputs: Inputs) -> References:
        key = id(inputs.real_samples)
        if self._references is None or self._references[0] != key:
            self._references = (key, References(words(inputs.setting, inputs.real_samples)))
        return self._references[1]

    def score(self, inputs: Inputs) -> dict[str, float]:
        values = bleu(hypotheses=words(inputs.setting, inputs.samples), references=self.references(inputs))
        return {f"bleu{n}": value for n, value in values.items()}

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        return {"bleu": f"sentence BLEU with nltk's smoothing method1 against all {len(inputs.real_samples)} reference "
                        "sentences, averaged over the samples (Texygen); words as gankit tokenises them"}
