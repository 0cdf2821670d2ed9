"""NLL_oracle: the oracle LSTM's negative log-likelihood of generated sequences (Yu et al. 2017, section 5)."""
from __future__ import annotations

from typing import Any

from gankit.errors import ConfigError
from gankit.metrics.base import Inputs, Metric, Need, Setting, register_metric


@register_metric("nll_oracle")
class NLLOracle(Metric):
    """The oracle's mean negative log-likelihood per token of the samples (data set oracle only; lower: more real)."""

    scores = {"nll_oracle": False}
    needs = frozenset({Need.SAMPLES})

    def check(self, setting: Setting) -> None:
        if setting.data.name != "oracle":
            raise ConfigError(f"metric 'nll_oracle' needs the oracle that made the data (data set 'oracle'); "
                              f"{setting.data.name!r} has none: use nll_test, bleu or self_bleu")

    def score(self, inputs: Inputs) -> dict[str, float]:
        from gankit.data.oracle import oracle_nll

        return {"nll_oracle": oracle_nll(inputs.samples)}

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        from gankit.data import oracle

        return {"nll_oracle": f"nats per token under SeqGAN's oracle (random LSTM, vocabulary {oracle.VOCAB}, "
                              f"length {oracle.LENGTH}, weight seed {oracle.WEIGHT_SEED}) of {inputs.n_fake} samples"}
