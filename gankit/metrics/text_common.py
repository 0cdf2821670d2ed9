"""What the text metrics share: the run's vocabulary and where the metrics apply."""
from __future__ import annotations

from torch import Tensor

from gankit.data.text import Vocabulary
from gankit.errors import ConfigError
from gankit.metrics.base import Setting


def check_text(setting: Setting, metric: str) -> None:
    """ConfigError unless the run trains on text (its samples are token ids with a vocabulary)."""
    if setting.data.kind != "text":
        raise ConfigError(f"metric {metric!r} scores sentences; data set {setting.data.name!r} is {setting.data.kind} "
                          "data: leave it out of eval.metrics")


def words(setting: Setting, tokens: Tensor) -> list[list[str]]:
    """(N, T) ids -> each row's words up to <eos>, with the run's vocabulary."""
    vocab = Vocabulary(setting.data.tokens)
    return [vocab.words(row) for row in tokens.tolist()]
