"""The base of the metrics on continuous sequences (N, T, F): a summary statistic of the generated sequences against
the reference split's, as a root-mean-square difference, with the sampling noise of that difference beside it.

A subclass (one file each: ``spectrum.py``, ``autocorr.py``) defines ``statistic``: (N, T, F) float64 -> one
summary for the whole set, e.g. (bins, F). Beside ``<name>`` it reports ``<name>_floor``: the same distance
between the first and the second half of the reference sequences (Need.REAL_SAMPLES), the sampling noise of the
statistic, which a generator cannot be expected to beat (it compares half-size sets, so it is an upper estimate).
"""
from __future__ import annotations

from typing import Any

from torch import Tensor

from gankit.errors import ConfigError
from gankit.metrics.base import Inputs, Metric, Need, Setting
from gankit.metrics.stats import MetricInputError


def rms(difference: Tensor) -> float:
    """Root mean square of every entry."""
    return float(difference.pow(2).mean().sqrt())


def check_sequences(x: Tensor, name: str) -> Tensor:
    """``x`` as float64 (N, T, F) with T >= 2, or MetricInputError naming ``name`` and the shape."""
    if x.dim() != 3 or x.shape[1] < 2:
        raise MetricInputError(f"{name} must be sequences (N, T >= 2, F), got shape {tuple(x.shape)}")
    return x.detach().cpu().double()


class SequenceDistance(Metric):
    """RMS difference of ``statistic`` between generated and reference sequences (lower is better)."""

    needs = frozenset({Need.SAMPLES, Need.REAL_SAMPLES})
    summary: str = ""  # what ``statistic`` is, for the protocol

    def statistic(self, x: Tensor) -> Tensor:  # pragma: no cover - abstract
        """(N, T, F) float64 -> the set's summary."""
        raise NotImplementedError

    def distance(self, fake: Tensor, real: Tensor) -> float:
        """RMS difference of the two sets' statistics; both (N, T, F) with the same T and F."""
        fake, real = check_sequences(fake, "generated sequences"), check_sequences(real, "reference sequences")
        if fake.shape[1:] != real.shape[1:]:
            raise MetricInputError(f"{self.name}: generated sequences {tuple(fake.shape)} and reference sequences "
                                   f"{tuple(real.shape)} differ in (T, F)")
        return rms(self.statistic(fake) - self.statistic(real))

    def check(self, setting: Setting) -> None:
        data = setting.data
        if data.kind != "sequence":
            raise ConfigError(f"metric {self.name!r} compares continuous sequences (N, T, F), but data set "
                              f"{data.name!r} holds {data.kind} data; drop {self.name} from eval.metrics (fid, kid, "
                              "pr ... fit images and points) or use sequence data (sines, an .npz of float (N, T, F))")

    def score(self, inputs: Inputs) -> dict[str, float]:
        real = inputs.real_samples
        out = {self.name: self.distance(inputs.samples, real)}
        half = len(real) // 2
        if half >= 2:
            out[f"{self.name}_floor"] = self.distance(real[:half], real[half:2 * half])
        return out

    def protocol(self, inputs: Inputs) -> dict[str, Any]:
        return {self.name: f"RMS difference of {self.summary}, generated vs reference; {self.name}_floor: the same "
                           "between the reference split's two halves"}
